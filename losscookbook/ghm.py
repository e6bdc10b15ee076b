"""Gradient harmonizing mechanism (GHM): GHM-C for classification, GHM-R for regression.

Chapter: *Focal loss and GHM*. GHM weights each example by the inverse of the *gradient
density*: how many examples of the batch have a gradient norm close to its own. The crowd of
easy examples (gradient norm near 0) and the crowd of outliers (near 1) are both damped.

Everything here is vectorized: the bins are filled with one ``bucketize`` and one
``index_add``, and no value is ever copied to the host in the forward pass (no ``.item()``, no
Python branch on a tensor), so the losses run asynchronously on a GPU and inside
``torch.compile``. Target values are checked like everywhere in the package: eagerly on the
CPU, by a device-side assert elsewhere (see :func:`losscookbook.config.set_value_checks`).

**Distributed training.** The only batch statistic is the vector of per-bin counts, one
(bins,) tensor computed before the moving average. With ``distributed=True``, :class:`GHMCLoss`
and :class:`GHMRLoss` sum those counts over the processes (:mod:`losscookbook.distributed`), so
that every process keeps the same moving average and weighs its examples by the density of the
global batch; "mean" then divides by the global count over the number of processes, so that
DDP's averaged gradient equals the gradient of one process on the whole batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks as C
from .distributed import all_reduce_sum, world_size

__all__ = ["gradient_density", "ghmc_loss", "GHMCLoss", "ghmr_loss", "GHMRLoss"]


# --------------------------------------------------------------------------- helpers
def _check_bins(bins: int) -> int:
    return C.check_int(bins, "bins", low=1)


def _check_momentum(momentum: float) -> float:
    return C.check_number(momentum, "momentum", low=0.0, high=1.0, high_open=True)


def _check_valid(valid: Tensor | None, input: Tensor) -> Tensor | None:
    if valid is None:
        return None
    C.check_tensor(valid, "valid")
    if valid.dtype != torch.bool:
        raise TypeError(f"valid must be a boolean mask, got dtype {valid.dtype}")
    C.check_same_shape(input, valid, ("input", "valid"))
    C.check_same_device(("input", input), ("valid", valid))
    return valid


def _bin_index(g: Tensor, bins: int) -> Tensor:
    """Bin of each gradient norm: bin i holds i/bins <= g < (i+1)/bins; g >= 1 goes to the last.

    The edges are those of the reference implementation, ``torch.arange(bins + 1) / bins`` in
    the dtype of ``g``, so an element exactly on an edge lands in the same bin. ``floor(g *
    bins)`` can be off by one next to an edge (rounding), so it is corrected by comparing with
    the two edges, computed the same way; this is several times faster than ``bucketize`` on a
    CPU. The work is done in place on one temporary: every fresh tensor of the input's size
    costs page faults on a CPU.
    """
    g = C.upcast(g)
    index = torch.mul(g, bins).floor_()  # g <= 1, so at most bins; the last clamp folds bins into bins - 1
    edge = torch.div(index, bins)  # the lower edge of the bin, exactly as the reference computes it
    index.sub_(torch.lt(g, edge, out=edge))
    torch.add(index, 1, out=edge).div_(bins)  # the upper edge
    index.add_(torch.ge(g, edge, out=edge))
    # int32 halves the memory traffic of the index; bin numbers are small
    # (clamped after the conversion: a NaN becomes some bin, never an index out of range; the loss is NaN anyway)
    return index.to(torch.int32).clamp_(0, bins - 1)


def _bin_counts(index: Tensor, bins: int, valid: Tensor | None, dtype: torch.dtype) -> Tensor:
    """Number of valid elements in each bin, a (bins,) tensor on the device of ``index``.

    ``dtype`` is float32 (or float64 for float64 inputs), never half precision: a count above
    65504 would overflow in float16. This tensor is the one batch statistic of GHM: the one to
    all-reduce across processes.
    """
    index = index.flatten()
    if valid is None:
        return torch.bincount(index, minlength=bins).to(dtype)
    return torch.zeros(bins, dtype=dtype, device=index.device).index_add_(0, index, valid.flatten().to(dtype))


def _ema(acc: Tensor, counts: Tensor, momentum: float) -> Tensor:
    """The reference rule: acc = m * acc + (1 - m) * count on non-empty bins, unchanged elsewhere."""
    if momentum == 0:
        return counts
    acc = acc.to(counts.dtype)
    return torch.where(counts > 0, momentum * acc + (1.0 - momentum) * counts, acc)


def _element_weights(index: Tensor, counts: Tensor, density: Tensor) -> Tensor:
    """beta = N / density(bin) / (number of non-empty bins), looked up per element.

    ``N`` is the total count. Empty bins get weight 0; their density is never divided by, and
    a non-empty bin's density is at least ``1 - momentum`` > 0, so nothing is inf or NaN.
    """
    nonempty = counts > 0
    total = counts.sum()
    num_nonempty = nonempty.sum().clamp_min(1).to(counts.dtype)
    safe_density = torch.where(nonempty, density, torch.ones_like(density))
    bin_weight = torch.where(nonempty, total / safe_density, torch.zeros_like(density)) / num_nonempty
    return bin_weight.index_select(0, index.flatten()).view(index.shape)


def _reduce(loss: Tensor, weights: Tensor, valid: Tensor | None, reduction: str, count: Tensor | None = None) -> Tensor:
    """Weighted loss; "mean" divides the weighted sum by ``count`` (default: the number of valid elements)."""
    loss = loss * weights
    if valid is not None:
        loss = torch.where(valid, loss, torch.zeros_like(loss))
    if count is None:
        count = loss.numel() if valid is None else valid.sum()
    return C.reduce_loss(loss, reduction, count)


def gradient_density(g: Tensor, bins: int = 10, *, valid: Tensor | None = None) -> Tensor:
    r"""The gradient density of Li et al. :cite:p:`li2019gradient` on ``bins`` equal bins of [0, 1].

    .. math::

        \mathrm{GD}(g) = \frac{1}{l_\varepsilon(g)} \sum_{k=1}^{N} \delta_\varepsilon(g_k, g)
        \;\approx\; \frac{n_b}{\varepsilon} = n_b \cdot \text{bins}

    for :math:`g` in bin :math:`b`, where :math:`n_b` is the number of gradient norms in that
    bin and :math:`\varepsilon = 1 / \text{bins}` its width: the number of examples per unit
    of gradient norm. For classification :math:`g = |\sigma(x) - y|`; for GHM-R
    :math:`g = |d| / \sqrt{d^2 + \mu^2}`. The paper's weight of an example is
    :math:`\beta = N / \mathrm{GD}(g)`.

    Args:
        g: gradient norms in [0, 1], any shape.
        bins: number of bins (>= 1).
        valid: optional boolean mask of the elements to count.

    Returns:
        A float32 tensor (bins,) of densities, one per bin.

    Example:
        >>> gradient_density(torch.tensor([0.01, 0.02, 0.03, 0.95]), bins=4)
        tensor([12.,  0.,  0.,  4.])
    """
    C.check_floating(g, "g")
    bins = _check_bins(bins)
    valid = _check_valid(valid, g)
    C.check_values_in(g, "g", 0.0, 1.0)
    return _bin_counts(_bin_index(g, bins), bins, valid, torch.float32) * bins


# --------------------------------------------------------------------------- GHM-C
def _ghmc_parts(input: Tensor, target: Tensor, valid: Tensor | None, bins: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Unreduced BCE, its derivative sigmoid(x) - y, the bin index and the per-bin counts.

    Computed without autograd (float32 or float64): :class:`_WeightedBCE` attaches the gradient.
    """
    C.check_float_pair(input, target)
    C.check_values_in(target, "target", 0.0, 1.0)
    with torch.no_grad():
        x = C.upcast(input)
        y = target.to(x.dtype)
        if x.device.type == "cpu" and x.numel() > _CPU_BLOCK and not torch.compiler.is_compiling():
            bce, slope, index = _ghmc_elementwise_blocked(x, y, bins)
        else:
            bce, slope, index = _ghmc_elementwise(x, y, bins)
    return bce, slope, index, _bin_counts(index, bins, valid, bce.dtype)


# On a CPU the elementwise part runs block by block: its temporaries then stay in the cache and
# are reused, instead of being fresh tensors of the input's size (page faults, memory traffic).
# A GPU or a compiled graph gets the plain version (one kernel per step, or one fused kernel).
_CPU_BLOCK = 1 << 16


def _ghmc_elementwise(x: Tensor, y: Tensor, bins: int) -> tuple[Tensor, Tensor, Tensor]:
    bce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    slope = torch.sigmoid(x).sub_(y)  # d BCE / d x; its absolute value is GHM's gradient norm g
    return bce, slope, _bin_index(slope.abs(), bins)


def _ghmc_elementwise_blocked(x: Tensor, y: Tensor, bins: int) -> tuple[Tensor, Tensor, Tensor]:
    flat_x, flat_y = x.reshape(-1), y.reshape(-1)
    bce, slope = torch.empty_like(flat_x), torch.empty_like(flat_x)
    index = torch.empty(flat_x.shape, dtype=torch.int32)
    for start in range(0, flat_x.numel(), _CPU_BLOCK):
        block = slice(start, start + _CPU_BLOCK)
        block_bce, block_slope, block_index = _ghmc_elementwise(flat_x[block], flat_y[block], bins)
        bce[block], slope[block], index[block] = block_bce, block_slope, block_index
    return bce.view(x.shape), slope.view(x.shape), index.view(x.shape)


class _WeightedBCE(torch.autograd.Function):
    """``sum(w * bce)`` (or the elementwise product) whose gradient is ``w * (sigmoid(x) - y)``.

    The weights are constants (GHM detaches them) and the BCE's derivative is already at hand
    from the gradient norms, so the backward pass is one multiplication instead of autograd's
    replay of the BCE and of the weighting.
    """

    @staticmethod
    def forward(ctx, input: Tensor, bce: Tensor, slope: Tensor, weight: Tensor, scale: Tensor, elementwise: bool) -> Tensor:
        # slope is a temporary of _ghmc_parts, free to be overwritten
        ctx.save_for_backward(slope.mul_(weight), scale)
        ctx.input_dtype = input.dtype
        if elementwise:
            return bce * weight
        # bce is a temporary too; torch's sum (cascade summation), not a dot product, whose float32
        # accumulator loses digits over millions of terms
        return bce.mul_(weight).sum() * scale

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        slope, scale = ctx.saved_tensors
        grad_input = slope * (grad * scale).to(slope.dtype)
        return grad_input.to(ctx.input_dtype), None, None, None, None, None


def _weighted_bce(
    input: Tensor, bce: Tensor, slope: Tensor, weights: Tensor, valid: Tensor | None, reduction: str, count: Tensor | None = None
) -> Tensor:
    """GHM-C's reduction: weighted BCE, 0 where not valid; "mean" divides by ``count`` (default: valid elements)."""
    if valid is not None:
        weights = torch.where(valid, weights, torch.zeros_like(weights))
        bce = torch.where(valid, bce, torch.zeros_like(bce))
    scale = torch.ones((), dtype=bce.dtype, device=bce.device)
    if reduction == "none":
        return _WeightedBCE.apply(input, bce, slope, weights, scale, True)
    if reduction == "mean":
        if count is None:
            count = bce.numel() if valid is None else valid.sum()
        scale = C.safe_divide(scale, count)
    return _WeightedBCE.apply(input, bce, slope, weights, scale, False)


def ghmc_loss(
    input: Tensor,
    target: Tensor,
    *,
    bins: int = 10,
    valid: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""GHM-C: binary cross-entropy weighted by the inverse gradient density of the batch.

    With :math:`g_i = |\sigma(x_i) - y_i|` (the size of the BCE gradient with respect to the
    logit), :math:`n_b` the number of the N (valid) elements whose :math:`g` falls in bin
    :math:`b` of ``bins`` equal bins of [0, 1], and :math:`B` the number of non-empty bins,

    .. math::

        \beta_i = \frac{N}{n_{b(i)}\, B}, \qquad
        L = \frac{1}{N} \sum_{i=1}^{N} \beta_i\, \mathrm{BCE}(x_i, y_i)

    :cite:p:`li2019gradient`. This is the paper's :math:`\beta_i = N / \mathrm{GD}(g_i)` with the
    density normalized as in the authors' code (by :math:`B` instead of ``bins``): each
    non-empty bin gets the same total weight :math:`N / B`, the weights sum to :math:`N`, and
    with one bin the loss is exactly BCE. The weights are computed without gradient
    (detached). This function has no memory across batches (momentum 0); :class:`GHMCLoss`
    keeps the moving average of the reference implementation.

    Binary and multi-label: every element of ``input`` is one binary problem (all elements of
    the batch share the bins). **"mean"** divides the weighted sum by N, the number of valid
    elements; "sum" returns the weighted sum and "none" the weighted per-element losses (0 where
    not valid). Target values are assumed to be in [0, 1] and are not checked (that would need
    a copy to the host).

    Args:
        input: logits, any shape; half precision is computed in float32.
        target: 0/1 targets of the same shape, floating dtype.
        bins: number of bins M (>= 1); the paper uses 30 for detection.
        valid: optional boolean mask, the shape of ``input``: elements where it is False are
            ignored (not counted, no loss), like the label weights of the reference code.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input, target, valid: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Example:
        >>> x = torch.tensor([4.0, 3.0, 5.0, -2.0])
        >>> y = torch.tensor([1.0, 1.0, 1.0, 1.0])
        >>> ghmc_loss(x, y, bins=1) == torch.nn.functional.binary_cross_entropy_with_logits(x, y)
        tensor(True)
        >>> ghmc_loss(x, y, bins=10, reduction="none")  # the lone hard example is not damped
        tensor([0.0121, 0.0324, 0.0045, 4.2539])
    """
    reduction = C.check_reduction(reduction)
    bins = _check_bins(bins)
    valid = _check_valid(valid, input)
    bce, slope, index, counts = _ghmc_parts(input, target, valid, bins)
    return _weighted_bce(input, bce, slope, _element_weights(index, counts, counts), valid, reduction)


class _GHMBase(nn.Module):
    acc_sum: Tensor

    def __init__(self, bins: int, momentum: float, distributed: bool) -> None:
        super().__init__()
        self.bins = _check_bins(bins)
        self.momentum = _check_momentum(momentum)
        if not isinstance(distributed, bool):
            raise TypeError(f"distributed must be a bool, got {type(distributed).__name__}")
        self.distributed = distributed
        self.register_buffer("acc_sum", torch.zeros(self.bins, dtype=torch.float32))

    def _weights(self, index: Tensor, counts: Tensor) -> tuple[Tensor, Tensor | None]:
        """Per-element weights and the "mean" normaliser (None: the local count)."""
        count = None
        if self.distributed:
            counts = all_reduce_sum(counts)
            count = counts.sum() / world_size()
        return _element_weights(index, counts, self.update_density(counts)), count

    def update_density(self, counts: Tensor) -> Tensor:
        """Fold this batch's per-bin ``counts`` into the moving average and return it.

        ``acc = momentum * acc + (1 - momentum) * counts`` on the non-empty bins (the others
        keep their value), as in the reference implementation; with ``momentum=0`` it is the
        counts themselves. The buffer ``acc_sum`` is written only in training mode, so
        evaluating the loss does not move the average. With ``distributed=True`` the counts
        passed here are already summed over the processes.
        """
        if counts.device != self.acc_sum.device:
            raise ValueError(
                f"the loss module is on {self.acc_sum.device} but the input is on {counts.device}; move it with .to()"
            )
        density = _ema(self.acc_sum, counts, self.momentum)
        if self.training and self.momentum > 0:
            with torch.no_grad():
                self.acc_sum.copy_(density)
        return density

    def extra_repr(self) -> str:
        extra = ", distributed=True" if self.distributed else ""
        return f"bins={self.bins}, momentum={self.momentum}, reduction={self.reduction!r}{extra}"


class GHMCLoss(_GHMBase):
    r"""GHM-C with the moving average of the bin counts, as in the reference implementation.

    Per batch, the counts :math:`n_b` of :func:`ghmc_loss` are replaced by a moving average
    kept in the buffer ``acc_sum`` (so it is saved by ``state_dict`` and moved by ``.to``):

    .. math::

        a_b \leftarrow m\, a_b + (1 - m)\, n_b \quad \text{for every bin with } n_b > 0,
        \qquad \beta_i = \frac{N}{a_{b(i)}\, B}

    with :math:`B` the number of non-empty bins of the batch, and the loss is
    :math:`\frac{1}{N} \sum_i \beta_i\, \mathrm{BCE}_i`. The average starts at 0 and has no
    bias correction (as in the reference code), so during the first steps the weights are larger
    by up to :math:`1 / (1 - m)`. With ``momentum=0`` the module equals :func:`ghmc_loss`.
    The weights are computed in float32 for any input dtype; keep the module itself in float32
    (do not call ``.half()`` on it). ``forward(input, target, valid=None)``; the average is
    updated in training mode only.

    Args:
        bins: number of bins (>= 1).
        momentum: :math:`m \in [0, 1)`; the paper uses 0.75.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.
        distributed: sum the bin counts over the processes of ``torch.distributed`` (see the
            module docstring); a no-op on a single process.

    Example:
        >>> criterion = GHMCLoss(bins=10, momentum=0.75)
        >>> loss = criterion(torch.tensor([2.0, -1.0, 0.3]), torch.tensor([1.0, 0.0, 1.0]))
        >>> criterion.acc_sum.nonzero().flatten().tolist()  # the bins seen so far
        [1, 2, 4]
    """

    def __init__(
        self, *, bins: int = 10, momentum: float = 0.75, reduction: str = "mean", distributed: bool = False
    ) -> None:
        super().__init__(bins, momentum, distributed)
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
        valid = _check_valid(valid, input)
        bce, slope, index, counts = _ghmc_parts(input, target, valid, self.bins)
        weights, count = self._weights(index, counts)
        return _weighted_bce(input, bce, slope, weights, valid, self.reduction, count)


# --------------------------------------------------------------------------- GHM-R
def _check_mu(mu: float) -> float:
    return C.check_number(mu, "mu", low=0.0, low_open=True)


def _ghmr_parts(
    input: Tensor, target: Tensor, valid: Tensor | None, bins: int, mu: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Unreduced ASL1 loss, bin index and per-bin counts."""
    C.check_float_pair(input, target)
    x = C.upcast(input)
    d = x - target.to(x.dtype)
    root = torch.sqrt(d * d + mu * mu)
    asl1 = root - mu
    g = (d / root).detach().abs()
    index = _bin_index(g, bins)
    return asl1, index, _bin_counts(index, bins, valid, x.dtype)


def ghmr_loss(
    input: Tensor,
    target: Tensor,
    *,
    mu: float = 0.02,
    bins: int = 10,
    valid: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""GHM-R: the authentic smooth L1 loss weighted by the inverse gradient density.

    For :math:`d = x - t`, the ASL1 loss and its gradient norm are

    .. math::

        \mathrm{ASL}_1(d) = \sqrt{d^2 + \mu^2} - \mu, \qquad
        g = \left|\frac{d}{\sqrt{d^2 + \mu^2}}\right| \in [0, 1)

    :cite:p:`li2019gradient`; ASL1 is quadratic for :math:`|d| \ll \mu` and linear (slope 1)
    beyond. The weights :math:`\beta_i = N / (n_{b(i)} B)` and the reduction are those of
    :func:`ghmc_loss` (bins of g, B non-empty bins, "mean" divides by the number N of valid
    elements). No memory across batches; :class:`GHMRLoss` keeps the moving average.

    Args:
        input: predictions (e.g. box offsets), any shape; half precision is computed in float32.
        target: regression targets of the same shape.
        mu: :math:`\mu > 0`, the width of the quadratic zone (0.02 in the paper).
        bins: number of bins (>= 1).
        valid: optional boolean mask of the elements that count (e.g. positive anchors).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input, target, valid: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Example:
        >>> x, t = torch.tensor([0.0, 1.0]), torch.tensor([0.0, 0.0])
        >>> ghmr_loss(x, t, mu=0.02, bins=1, reduction="none")
        tensor([0.0000, 0.9802])
    """
    reduction = C.check_reduction(reduction)
    mu = _check_mu(mu)
    bins = _check_bins(bins)
    valid = _check_valid(valid, input)
    asl1, index, counts = _ghmr_parts(input, target, valid, bins, mu)
    return _reduce(asl1, _element_weights(index, counts, counts), valid, reduction)


class GHMRLoss(_GHMBase):
    r"""GHM-R with the moving average of the bin counts (buffer ``acc_sum``).

    :func:`ghmr_loss` with the per-bin counts replaced by the moving average of
    :class:`GHMCLoss` (updated on non-empty bins, in training mode only).
    ``forward(input, target, valid=None)``.

    Args:
        mu: :math:`\mu > 0` of the ASL1 loss (0.02 in the paper).
        bins: number of bins (>= 1); the paper uses 10.
        momentum: :math:`m \in [0, 1)`; the paper uses 0.7.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.
        distributed: sum the bin counts over the processes of ``torch.distributed``.

    Example:
        >>> criterion = GHMRLoss(mu=0.02, bins=10, momentum=0.7)
        >>> criterion(torch.tensor([0.1, -0.5]), torch.tensor([0.0, 0.0])).shape
        torch.Size([])
    """

    def __init__(
        self, *, mu: float = 0.02, bins: int = 10, momentum: float = 0.7, reduction: str = "mean", distributed: bool = False
    ) -> None:
        super().__init__(bins, momentum, distributed)
        self.mu = _check_mu(mu)
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
        valid = _check_valid(valid, input)
        asl1, index, counts = _ghmr_parts(input, target, valid, self.bins, self.mu)
        weights, count = self._weights(index, counts)
        return _reduce(asl1, weights, valid, self.reduction, count)

    def extra_repr(self) -> str:
        return f"mu={self.mu}, " + super().extra_repr()

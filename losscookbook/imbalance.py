"""Class imbalance: per-class weights, the positive-class weight, balanced sampling, balanced BCE.

Chapter: *Class imbalance*. Two ways to stop a rare class from being drowned out by a frequent
one: on the data side, draw the rare class more often (:func:`balanced_sampler`); on the loss
side, weight it more (:func:`class_weights`, :func:`pos_weight_from_counts`,
:func:`balanced_binary_cross_entropy`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import WeightedRandomSampler

from . import _checks as C

__all__ = [
    "class_weights",
    "pos_weight_from_counts",
    "prior_bias",
    "balanced_sampler",
    "balanced_binary_cross_entropy",
    "BalancedBinaryCrossEntropy",
]

_METHODS = ("inverse", "sqrt_inverse", "effective_number")


def _real_tensor(value: object, name: str) -> Tensor:
    """``value`` (a tensor, number or sequence of numbers) as a real tensor, else TypeError."""
    if not isinstance(value, Tensor):
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(
                f"{name} must be a tensor, a number or a sequence of numbers, got {type(value).__name__}"
            ) from None
    if value.is_complex() or value.dtype == torch.bool:
        raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
    return value


def _first_bad(values: Tensor, ok: Tensor) -> float:
    return values[~ok].flatten()[0].item()


def _as_counts(counts: Tensor | Sequence[float], name: str) -> Tensor:
    """Per-class counts as a float64 vector (on the counts' device), all > 0."""
    values = _real_tensor(counts, name).to(torch.float64)
    if values.dim() != 1 or values.numel() == 0:
        raise ValueError(f"{name} must be a non-empty vector of per-class counts (C,), got shape {tuple(values.shape)}")
    ok = (values > 0) & torch.isfinite(values)
    if not bool(ok.all()):
        k = int((~ok).nonzero()[0, 0])
        raise ValueError(
            f"{name} must be positive and finite for every class (a class that never occurs has no "
            f"defined weight), got {values[k].item()} for class {k}"
        )
    return values


def class_weights(
    counts: Tensor | Sequence[float],
    *,
    method: str = "inverse",
    beta: float = 0.999,
    normalize: bool = True,
) -> Tensor:
    r"""Per-class loss weights from per-class sample counts :math:`n_c`.

    .. math::

        w_c \propto \frac{1}{n_c}, \qquad
        w_c \propto \frac{1}{\sqrt{n_c}}, \qquad
        w_c \propto \frac{1 - \beta}{1 - \beta^{n_c}} = \frac{1}{E_{n_c}}

    for ``method`` = ``"inverse"``, ``"sqrt_inverse"`` and ``"effective_number"``.
    The effective number :math:`E_n = (1 - \beta^n) / (1 - \beta)` of Cui et al.
    :cite:p:`cui2019class` grows like :math:`n` for small :math:`n` and saturates at
    :math:`1 / (1 - \beta)`, so ``"effective_number"`` runs from no re-weighting
    (:math:`\beta = 0`) to inverse frequency (:math:`\beta \to 1`). With ``normalize=True`` the
    weights are scaled to sum to the number of classes :math:`C` (their mean is 1, so the size of
    the loss barely changes); that scaling does not change their ratios.

    The result is meant for the ``weight`` argument of ``torch.nn.functional.cross_entropy`` (or
    of :func:`~losscookbook.focal.softmax_focal_loss` as ``alpha``); for one binary output use
    :func:`pos_weight_from_counts`.

    Args:
        counts: per-class counts :math:`n_c > 0`, a (C,) tensor or a sequence, e.g.
            ``torch.bincount(y)``. A class with no samples has no defined weight and raises.
        method: ``"inverse"`` | ``"sqrt_inverse"`` | ``"effective_number"``.
        beta: :math:`\beta \in [0, 1)`, used by ``"effective_number"`` only; the paper tries
            0.9, 0.99, 0.999 and 0.9999.
        normalize: scale the weights to sum to C (else return the raw :math:`w_c`).

    Returns:
        A float32 tensor of shape (C,), on the device of ``counts`` when it is a tensor.

    Example:
        >>> class_weights([900, 100])
        tensor([0.2000, 1.8000])
        >>> w = class_weights([5000, 50], method="effective_number", beta=0.99)
        >>> round(float(w[1] / w[0]), 2)
        2.53
    """
    method = C.check_choice(method, "method", _METHODS)
    beta = C.check_number(beta, "beta", low=0.0, high=1.0, high_open=True)
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize must be a bool, got {type(normalize).__name__}")
    n = _as_counts(counts, "counts")
    if method == "inverse":
        w = 1.0 / n
    elif method == "sqrt_inverse":
        w = n.rsqrt()
    elif beta == 0.0:
        w = torch.ones_like(n)  # E_n = 1: every class counts as one sample
    else:
        # (1 - beta) / (1 - beta^n), with 1 - beta^n = -expm1(n log beta): accurate for beta near 1
        w = (1.0 - beta) / -torch.expm1(n * math.log(beta))
    if normalize:
        w = w * (n.numel() / w.sum())
    return w.to(torch.float32)


def pos_weight_from_counts(num_pos: Tensor | float, num_neg: Tensor | float) -> Tensor:
    r"""The positive-class weight :math:`n_- / n_+` for ``binary_cross_entropy_with_logits``.

    With ``pos_weight`` :math:`= n_- / n_+` the positives' summed loss weight equals the
    negatives', as if the classes were balanced. For multi-label data pass per-label counts
    of shape (C,) and get one weight per label.

    Args:
        num_pos: number of positives :math:`n_+ > 0` (a number or a tensor of per-label counts).
        num_neg: number of negatives :math:`n_- \ge 0`, the same shape as ``num_pos``.

    Returns:
        A float32 tensor: a scalar, or (C,) for per-label counts.

    Example:
        >>> pos_weight_from_counts(10, 990)
        tensor(99.)
    """
    pos = _real_tensor(num_pos, "num_pos").to(torch.float64)
    neg = _real_tensor(num_neg, "num_neg").to(device=pos.device, dtype=torch.float64)
    if pos.shape != neg.shape:
        raise ValueError(f"num_neg must have the shape of num_pos {tuple(pos.shape)}, got {tuple(neg.shape)}")
    ok = (pos > 0) & torch.isfinite(pos)
    if not bool(ok.all()):
        raise ValueError(f"num_pos must be positive and finite, got {_first_bad(pos, ok)}")
    ok = (neg >= 0) & torch.isfinite(neg)
    if not bool(ok.all()):
        raise ValueError(f"num_neg must be non-negative and finite, got {_first_bad(neg, ok)}")
    return (neg / pos).to(torch.float32)


def prior_bias(prior: Tensor | float) -> Tensor:
    r"""The initial bias :math:`b = -\log\frac{1 - \pi}{\pi}` of a sigmoid output.

    With this bias (and small weights) the untrained output predicts :math:`\sigma(b) = \pi`,
    the positive rate, for every sample. Starting from :math:`\pi = 0.5` instead, the many
    negatives produce a large loss and gradient in the first steps, which destabilizes
    training on imbalanced data; RetinaNet uses :math:`\pi = 0.01`, :math:`b = -4.595`
    :cite:p:`lin2017focal`.

    Args:
        prior: the positive rate :math:`\pi \in (0, 1)`: a number, or a tensor of per-label
            rates (from labels: ``target.float().mean(0)``).

    Returns:
        A float32 tensor of the shape of ``prior``.

    Example:
        >>> prior_bias(0.01)
        tensor(-4.5951)
        >>> prior_bias(torch.tensor([0, 0, 0, 1]).float().mean())
        tensor(-1.0986)
    """
    rate = _real_tensor(prior, "prior").to(torch.float64)
    ok = (rate > 0) & (rate < 1)
    if not bool(ok.all()):
        raise ValueError(f"prior must be a rate in (0, 1) (both classes present), got {_first_bad(rate, ok)}")
    return (torch.log(rate) - torch.log1p(-rate)).to(torch.float32)


def balanced_sampler(
    targets: Tensor,
    *,
    num_samples: int | None = None,
    replacement: bool = True,
    generator: torch.Generator | None = None,
) -> WeightedRandomSampler:
    r"""A ``WeightedRandomSampler`` that draws every class equally often (over-sampling).

    Sample :math:`i` of class :math:`y_i` is drawn with probability proportional to
    :math:`1 / n_{y_i}`, so each class makes up :math:`1 / C` of the draws in expectation: the
    rare classes are repeated, the frequent ones are seen less often (with
    ``replacement=True`` and the default ``num_samples``, one epoch has as many draws as the
    data set has samples).

    Args:
        targets: class indices (N,) of the training set, integer dtype.
        num_samples: draws per epoch (default N).
        replacement: draw with replacement (needed to repeat a rare class).
        generator: optional ``torch.Generator`` for reproducible draws.

    Returns:
        A ``torch.utils.data.WeightedRandomSampler`` for a ``DataLoader(sampler=...)`` (or
        ``losscookbook.training.fit(sampler=...)``).

    Example:
        >>> y = torch.tensor([0] * 98 + [1] * 2)
        >>> sampler = balanced_sampler(y, num_samples=10000, generator=torch.Generator().manual_seed(0))
        >>> drawn = y[torch.tensor(list(sampler))]
        >>> 0.45 < drawn.float().mean().item() < 0.55
        True
    """
    targets = C.class_indices(targets, "targets")
    if targets.dim() != 1 or targets.numel() == 0:
        raise ValueError(f"targets must be a non-empty vector of class indices (N,), got shape {tuple(targets.shape)}")
    if bool((targets < 0).any()):
        raise ValueError(f"targets must be class indices >= 0, got {targets.min().item()}")
    if num_samples is None:
        num_samples = targets.numel()
    num_samples = C.check_int(num_samples, "num_samples", low=1)
    if not isinstance(replacement, bool):
        raise TypeError(f"replacement must be a bool, got {type(replacement).__name__}")
    counts = torch.bincount(targets.cpu())
    weights = 1.0 / counts.to(torch.float64)[targets.cpu()]
    return WeightedRandomSampler(weights, num_samples, replacement=replacement, generator=generator)


def _check_alpha(alpha: float | Tensor | None, input: Tensor, *, allow_none: bool) -> float | Tensor | None:
    """A positive-class weight in [0, 1]: a number, or a tensor broadcastable to ``input``."""
    if alpha is None:
        if allow_none:
            return None
        raise TypeError("alpha must be a real number in [0, 1] or a tensor, got NoneType")
    if isinstance(alpha, Tensor) and alpha.numel() != 1:
        C.check_floating(alpha, "alpha")
        C.check_broadcastable(alpha, "alpha", input.shape, "input")
        C.check_same_device(("input", input), ("alpha", alpha))
        C.check_values_in(alpha, "alpha", 0.0, 1.0)
        return alpha
    return C.check_number(alpha, "alpha", low=0.0, high=1.0)


def balanced_binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    *,
    alpha: float | Tensor = 0.5,
    reduction: str = "mean",
) -> Tensor:
    r""":math:`\alpha`-balanced binary cross-entropy on logits.

    .. math::

        \ell = -\big[\alpha\, y \log \sigma(x) + (1 - \alpha)(1 - y) \log(1 - \sigma(x))\big]

    :cite:p:`lin2017focal`. ``alpha`` is the weight of the **positive** class and
    :math:`1 - \alpha` that of the negatives (the convention of
    :func:`~losscookbook.focal.sigmoid_focal_loss`).
    :math:`\alpha = n_- / (n_+ + n_-)`, the fraction of negatives, gives both classes the same
    total weight; it is ``pos_weight_from_counts`` up to the overall factor :math:`1 - \alpha`.
    ``alpha=0.5`` is half of plain BCE. ``"mean"`` divides the sum by the number of elements.
    Computed with ``logsigmoid``, so it is finite for logits of any size.

    Args:
        input: logits, any shape; half precision is computed in float32.
        target: targets in [0, 1] of the same shape (0/1 labels, or soft labels).
        alpha: positive-class weight in [0, 1]; a number, or a tensor broadcastable to
            ``input`` (e.g. one value per label, shape (C,), for multi-label input (N, C)).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input, target: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input, the input's dtype otherwise).

    Example:
        >>> x, y = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1.0, 0.0, 0.0])
        >>> loss = balanced_binary_cross_entropy(x, y, alpha=0.5)
        >>> torch.allclose(2 * loss, torch.nn.functional.binary_cross_entropy_with_logits(x, y))
        True
    """
    reduction = C.check_reduction(reduction)
    C.check_float_pair(input, target)
    alpha = _check_alpha(alpha, input, allow_none=False)
    C.check_values_in(target, "target", 0.0, 1.0)
    x = C.upcast(input)
    y = target.to(x.dtype)
    a = alpha.to(x.dtype) if isinstance(alpha, Tensor) else alpha
    loss = -(a * y * F.logsigmoid(x) + (1.0 - a) * (1.0 - y) * F.logsigmoid(-x))
    return C.reduce_loss(loss, reduction)


class BalancedBinaryCrossEntropy(nn.Module):
    """Module form of :func:`balanced_binary_cross_entropy`; a tensor ``alpha`` is kept in a buffer.

    Example:
        >>> criterion = BalancedBinaryCrossEntropy(alpha=0.75)
        >>> criterion(torch.zeros(2), torch.tensor([1.0, 0.0]))
        tensor(0.3466)
    """

    def __init__(self, *, alpha: float | Tensor = 0.5, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = C.check_reduction(reduction)
        if isinstance(alpha, Tensor) and alpha.numel() != 1:
            self.register_buffer("alpha", C.buffer_copy(alpha, "alpha", 0.0, 1.0))
        else:
            self.alpha = C.check_number(alpha, "alpha", low=0.0, high=1.0)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return balanced_binary_cross_entropy(input, target, alpha=self.alpha, reduction=self.reduction)

    def extra_repr(self) -> str:
        alpha = "tensor" if isinstance(self.alpha, Tensor) else self.alpha
        return f"alpha={alpha}, reduction={self.reduction!r}"

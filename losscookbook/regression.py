"""Regression losses: squared, absolute, Huber, smooth L1, log-cosh, quantile and Gaussian NLL.

Chapter: *Regression losses*. Every function compares a prediction with a target of exactly
the same shape. Unlike ``torch.nn.functional.mse_loss`` and friends, which broadcast a
prediction of shape (N, 1) against a target of shape (N,) into an (N, N) matrix of wrong
residuals (with only a warning), these functions raise and name both shapes.

Each loss takes an optional per-element ``weight`` (non-negative, broadcastable to the
unreduced loss); ``"mean"`` then divides the weighted sum by the summed weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks as C

__all__ = [
    "mse_loss",
    "MeanSquaredErrorLoss",
    "mae_loss",
    "MeanAbsoluteErrorLoss",
    "huber_loss",
    "HuberLoss",
    "smooth_l1_loss",
    "SmoothL1Loss",
    "log_cosh_loss",
    "LogCoshLoss",
    "quantile_loss",
    "QuantileLoss",
    "gaussian_nll_loss",
    "GaussianNLLLoss",
]

_LOG2 = math.log(2.0)


def _residual_inputs(input: Tensor, target: Tensor, reduction: str) -> tuple[Tensor, Tensor]:
    """Validate a prediction/target pair of equal shapes; return both in the compute dtype."""
    C.check_reduction(reduction)
    C.check_floating(input, "input")
    C.check_floating(target, "target")
    try:
        C.check_same_shape(input, target)
    except ValueError as error:
        raise ValueError(
            f"{error}; regression losses do not broadcast (an (N, 1) prediction against an (N,) "
            "target would compare every prediction with every target): reshape one of them, "
            "e.g. input.squeeze(-1) or target.view_as(input)"
        ) from None
    C.check_same_device(("input", input), ("target", target))
    dtype = torch.promote_types(C.compute_dtype(input), C.compute_dtype(target))
    return input.to(dtype), target.to(dtype)


def _check_weight(weight: Tensor | None, shape: torch.Size, input: Tensor) -> None:
    C.check_elementwise_weight(weight, shape, input)


# ---------------------------------------------------------------------------------------- MSE
def mse_loss(input: Tensor, target: Tensor, *, weight: Tensor | None = None, reduction: str = "mean") -> Tensor:
    r"""Squared error, :math:`\ell = (\hat y - y)^2`.

    The negative log-likelihood of a Gaussian with fixed variance, up to constants: its
    minimizer is the conditional mean. The gradient :math:`2(\hat y - y)` shrinks with the
    residual, so plain gradient descent with a fixed (small enough) step converges; but one
    residual ten times larger weighs a hundred times more, so a few outliers dominate the fit.

    Args:
        input: predictions :math:`\hat y`, any shape, floating dtype.
        target: targets :math:`y`, the same shape (no broadcasting).
        weight: optional non-negative per-element weights, broadcastable to ``input``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``; ``"mean"`` divides by the number of
            elements (by the summed weights with ``weight``); 0 for an empty input.

    Shape:
        - input, target: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input, the promoted input/target dtype otherwise).

    Example:
        >>> mse_loss(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 1.0, 1.0]))
        tensor(3.3333)
    """
    x, y = _residual_inputs(input, target, reduction)
    _check_weight(weight, x.shape, input)
    return C.reduce_weighted((x - y).square(), reduction, weight)


class MeanSquaredErrorLoss(nn.Module):
    """Module form of :func:`mse_loss`.

    Example:
        >>> MeanSquaredErrorLoss()(torch.zeros(2), torch.tensor([1.0, 3.0]))
        tensor(5.)
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return mse_loss(input, target, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------- MAE
def mae_loss(input: Tensor, target: Tensor, *, weight: Tensor | None = None, reduction: str = "mean") -> Tensor:
    r"""Absolute error, :math:`\ell = |\hat y - y|`.

    The negative log-likelihood of a Laplace distribution, up to constants: its minimizer is the
    conditional median, which a minority of gross outliers cannot move far. The gradient
    :math:`\operatorname{sign}(\hat y - y)` has the same size for every residual and no
    derivative at 0, so gradient descent with a fixed step ends up oscillating around the
    optimum at a distance of the order of the step (autograd uses the subgradient 0 at 0).

    Args:
        input: predictions, any shape, floating dtype.
        target: targets, the same shape (no broadcasting).
        weight: optional non-negative per-element weights, broadcastable to ``input``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input, target: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Example:
        >>> mae_loss(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 1.0, 1.0]))
        tensor(1.3333)
    """
    x, y = _residual_inputs(input, target, reduction)
    _check_weight(weight, x.shape, input)
    return C.reduce_weighted((x - y).abs(), reduction, weight)


class MeanAbsoluteErrorLoss(nn.Module):
    """Module form of :func:`mae_loss`.

    Example:
        >>> MeanAbsoluteErrorLoss()(torch.zeros(2), torch.tensor([1.0, -3.0]))
        tensor(2.)
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return mae_loss(input, target, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------- Huber
def _check_delta(delta: float) -> float:
    return C.check_number(delta, "delta", low=0.0, low_open=True)


def huber_loss(
    input: Tensor,
    target: Tensor,
    *,
    delta: float = 1.0,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Huber loss: quadratic for small residuals, linear (slope :math:`\delta`) for large ones.

    .. math::

        \ell_\delta(r) =
        \begin{cases}
            \tfrac12 r^2 & |r| \le \delta \\
            \delta\,(|r| - \tfrac12 \delta) & |r| > \delta
        \end{cases}
        \qquad r = \hat y - y

    :cite:p:`huber1964robust`. The loss and its derivative :math:`\operatorname{clip}(r, -\delta,
    \delta)` are continuous, so it is differentiable at 0 (unlike the absolute error) while an
    outlier's gradient is capped at :math:`\delta` (unlike the squared error). It is
    :math:`\delta` times :func:`smooth_l1_loss` with :math:`\beta = \delta`. Limits: as
    :math:`\delta \to \infty` it becomes *half* the squared error :math:`r^2/2`; as
    :math:`\delta \to 0`, :math:`\ell_\delta / \delta \to |r|` while :math:`\ell_\delta` itself
    goes to 0, which is why :math:`\delta = 0` is rejected. :math:`\delta` is in the units of the
    target: rescale it with the target.

    Args:
        input: predictions, any shape, floating dtype.
        target: targets, the same shape (no broadcasting).
        delta: :math:`\delta > 0`, where the quadratic part ends.
        weight: optional non-negative per-element weights, broadcastable to ``input``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input, target: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Example:
        >>> huber_loss(torch.tensor([0.5, 3.0]), torch.zeros(2), delta=1.0, reduction="none")
        tensor([0.1250, 2.5000])
    """
    delta = _check_delta(delta)
    x, y = _residual_inputs(input, target, reduction)
    _check_weight(weight, x.shape, input)
    return C.reduce_weighted(F.huber_loss(x, y, reduction="none", delta=delta), reduction, weight)


class HuberLoss(nn.Module):
    """Module form of :func:`huber_loss`.

    Example:
        >>> HuberLoss(delta=2.0)(torch.tensor([3.0]), torch.zeros(1))
        tensor(4.)
    """

    def __init__(self, *, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.delta = _check_delta(delta)
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return huber_loss(input, target, delta=self.delta, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"delta={self.delta}, reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------- smooth L1
def _check_beta(beta: float) -> float:
    return C.check_number(beta, "beta", low=0.0)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    *,
    beta: float = 1.0,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Smooth L1 loss: the absolute error with its kink rounded off over :math:`|r| < \beta`.

    .. math::

        \ell_\beta(r) =
        \begin{cases}
            \tfrac{1}{2\beta} r^2 & |r| < \beta \\
            |r| - \tfrac12 \beta & |r| \ge \beta
        \end{cases}

    :cite:p:`girshick2015fast`. Its gradient is :math:`\operatorname{clip}(r/\beta, -1, 1)`: of
    size 1 for large residuals whatever :math:`\beta`, whereas the Huber gradient there is
    :math:`\delta`. The two are related by
    :math:`\mathrm{Huber}_\delta = \delta \cdot \mathrm{SmoothL1}_{\beta=\delta}`, so swapping one
    for the other with the same number rescales the gradients (the effective learning rate) by
    :math:`\delta`. ``beta=0`` is allowed and gives exactly the absolute error, the limit
    :math:`\beta \to 0` (torch's convention too); as :math:`\beta \to \infty` the loss goes to 0
    for every fixed residual.

    Args:
        input: predictions, any shape, floating dtype.
        target: targets, the same shape (no broadcasting).
        beta: :math:`\beta \ge 0`, the width of the quadratic zone.
        weight: optional non-negative per-element weights, broadcastable to ``input``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input, target: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Example:
        >>> smooth_l1_loss(torch.tensor([0.5, 3.0]), torch.zeros(2), beta=2.0, reduction="none")
        tensor([0.0625, 2.0000])
    """
    beta = _check_beta(beta)
    x, y = _residual_inputs(input, target, reduction)
    _check_weight(weight, x.shape, input)
    return C.reduce_weighted(F.smooth_l1_loss(x, y, reduction="none", beta=beta), reduction, weight)


class SmoothL1Loss(nn.Module):
    """Module form of :func:`smooth_l1_loss`.

    Example:
        >>> SmoothL1Loss(beta=1.0)(torch.tensor([3.0]), torch.zeros(1))
        tensor(2.5000)
    """

    def __init__(self, *, beta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.beta = _check_beta(beta)
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return smooth_l1_loss(input, target, beta=self.beta, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------- log-cosh
def log_cosh_loss(input: Tensor, target: Tensor, *, weight: Tensor | None = None, reduction: str = "mean") -> Tensor:
    r"""Log-cosh loss, :math:`\ell = \log\cosh(\hat y - y)`, computed without overflow.

    About :math:`r^2/2` for small residuals and :math:`|r| - \log 2` for large ones, smooth
    everywhere, with gradient :math:`\tanh r`. ``torch.cosh`` overflows float32 beyond
    :math:`|r| \approx 89`, so the loss is computed as

    .. math::

        \log\cosh r = |r| + \operatorname{softplus}(-2|r|) - \log 2,

    which is exact and finite for any finite residual (at :math:`|r| = 10^4` it equals
    :math:`|r| - \log 2` to float precision, with gradient :math:`\pm 1`).

    Args:
        input: predictions, any shape, floating dtype.
        target: targets, the same shape (no broadcasting).
        weight: optional non-negative per-element weights, broadcastable to ``input``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input, target: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Example:
        >>> log_cosh_loss(torch.tensor([1e4]), torch.zeros(1))  # |r| - log 2
        tensor(9999.3066)
    """
    x, y = _residual_inputs(input, target, reduction)
    _check_weight(weight, x.shape, input)
    a = (x - y).abs()
    return C.reduce_weighted(a + F.softplus(-2.0 * a) - _LOG2, reduction, weight)


class LogCoshLoss(nn.Module):
    """Module form of :func:`log_cosh_loss`.

    Example:
        >>> LogCoshLoss()(torch.zeros(1), torch.zeros(1))
        tensor(0.)
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return log_cosh_loss(input, target, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------- quantile
def _check_quantiles(quantiles: float | Sequence[float] | Tensor) -> tuple[float | Tensor | None, Tensor | None]:
    """Return (q, None) for one level (a number or a 0-dim tensor), or (None, tensor of Q) for several."""
    if isinstance(quantiles, (int, float)) and not isinstance(quantiles, bool):
        return C.check_number(quantiles, "quantiles", low=0.0, high=1.0, low_open=True, high_open=True), None
    if isinstance(quantiles, Tensor):
        C.check_floating(quantiles, "quantiles")
        q = quantiles.detach()
        if q.dim() > 1 or q.numel() == 0:
            raise ValueError(f"quantiles must be a non-empty 1-D sequence, got shape {tuple(q.shape)}")
        C.check_values_in(q, "quantiles", 0.0, 1.0, low_open=True, high_open=True)
        return (q, None) if q.dim() == 0 else (None, q)
    if isinstance(quantiles, Sequence) and not isinstance(quantiles, str):
        if len(quantiles) == 0:
            raise ValueError("quantiles must be a non-empty 1-D sequence, got shape (0,)")
        values = [
            C.check_number(v, "quantiles", low=0.0, high=1.0, low_open=True, high_open=True) for v in quantiles
        ]
        return None, torch.tensor(values, dtype=torch.float64)
    raise TypeError(f"quantiles must be a number, a sequence of numbers or a 1-D tensor, got {type(quantiles).__name__}")


def quantile_loss(
    input: Tensor,
    target: Tensor,
    *,
    quantiles: float | Sequence[float] | Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Pinball (quantile) loss, for one quantile or several predicted at once.

    With :math:`r = y - \hat y` (target minus prediction) and quantile level :math:`q \in (0, 1)`,

    .. math::

        \ell_q(r) = \max\big(q\, r,\; (q - 1)\, r\big),

    :cite:p:`koenker1978regression`. Under-predicting costs :math:`q` per unit and
    over-predicting :math:`1 - q`, so the minimizer is the :math:`q`-quantile of the target's
    conditional distribution; :math:`q = 0.5` gives half the absolute error.

    Two layouts:

    - ``quantiles`` a number: ``input`` and ``target`` have the same shape.
    - ``quantiles`` a sequence (or 1-D tensor) of Q levels: ``input`` has shape (..., Q), one
      prediction per level along the last dimension, and ``target`` has shape (...) or (..., 1).
      The unreduced loss has shape (..., Q) and ``"mean"`` averages over all of it.

    Args:
        input: predictions, floating dtype.
        target: targets, see the layouts above.
        quantiles: the level(s), each in (0, 1).
        weight: optional non-negative per-element weights, broadcastable to the unreduced loss.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input: (*) for one level, (..., Q) for Q levels
        - target: (*) for one level, (...) or (..., 1) for Q levels
        - output: scalar, or the shape of ``input`` with ``reduction="none"``

    Example:
        >>> pred = torch.tensor([[0.0, 1.0, 2.0]])
        >>> quantile_loss(pred, torch.tensor([1.0]), quantiles=[0.1, 0.5, 0.9], reduction="none")
        tensor([[0.1000, 0.0000, 0.1000]])
    """
    C.check_reduction(reduction)
    level, levels = _check_quantiles(quantiles)
    return _pinball(input, target, level if levels is None else levels, levels is not None, weight, reduction)


def _pinball(
    input: Tensor, target: Tensor, q: float | Tensor, several: bool, weight: Tensor | None, reduction: str
) -> Tensor:
    """The pinball loss for validated level(s) ``q``: a number or 0-dim tensor, or a (Q,) tensor."""
    C.check_floating(input, "input")
    C.check_floating(target, "target")
    if not several:
        x, y = _residual_inputs(input, target, reduction)
    else:
        num = q.numel()  # type: ignore[union-attr]
        C.check_min_ndim(input, "input", 1, f"(..., Q) with Q={num} quantiles")
        if input.shape[-1] != num:
            raise ValueError(
                f"input must have shape (..., Q) with Q={num} quantiles along the last dimension, "
                f"got {tuple(input.shape)}"
            )
        batch = input.shape[:-1]
        if target.shape == batch:
            target = target.unsqueeze(-1)
        elif target.shape != (*batch, 1):
            raise ValueError(
                f"target must have shape (...) = {tuple(batch)} or (..., 1) = {(*batch, 1)} "
                f"for input {tuple(input.shape)}, got {tuple(target.shape)}"
            )
        C.check_same_device(("input", input), ("target", target))
        dtype = torch.promote_types(C.compute_dtype(input), C.compute_dtype(target))
        x, y = input.to(dtype), target.to(dtype)
    if isinstance(q, Tensor):
        q = q.to(device=x.device, dtype=x.dtype)
    _check_weight(weight, x.shape, input)
    r = y - x
    return C.reduce_weighted(torch.maximum(q * r, (q - 1.0) * r), reduction, weight)


class QuantileLoss(nn.Module):
    """Module form of :func:`quantile_loss`; the level(s) are kept in a buffer ``quantiles``.

    Example:
        >>> criterion = QuantileLoss(quantiles=[0.1, 0.9])
        >>> criterion(torch.zeros(4, 2), torch.ones(4))
        tensor(0.5000)
    """

    def __init__(self, *, quantiles: float | Sequence[float] | Tensor, reduction: str = "mean") -> None:
        super().__init__()
        level, levels = _check_quantiles(quantiles)
        self.reduction = C.check_reduction(reduction)
        self.register_buffer(
            "quantiles", torch.as_tensor(level, dtype=torch.float64).clone() if levels is None else levels.clone()
        )

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        # the levels were validated once, here in __init__; no host sync per call
        return _pinball(input, target, self.quantiles, self.quantiles.dim() > 0, weight, self.reduction)

    def extra_repr(self) -> str:
        return f"quantiles={self.quantiles.tolist()}, reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------- Gaussian NLL
def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    *,
    log_var: Tensor,
    full: bool = False,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Gaussian negative log-likelihood with a predicted (per-element) log-variance.

    .. math::

        \ell = \tfrac12\big(s + (y - \mu)^2 e^{-s}\big)\;\big[+\tfrac12\log 2\pi\big],
        \qquad s = \log\sigma^2

    for the predicted mean :math:`\mu` (``input``) and log-variance :math:`s` (``log_var``), the
    heteroscedastic regression loss :cite:p:`kendall2017uncertainties`. Predicting :math:`s` rather than
    :math:`\sigma^2` needs no positivity constraint and no ``eps`` clamp (the variance
    :math:`e^s` is positive for any :math:`s`); ``torch.nn.functional.gaussian_nll_loss`` takes
    the variance itself. ``log_var`` is keyword-only, so code written for torch's signature
    fails loudly instead of passing a variance as a log-variance. With :math:`s = 0` the loss is
    half the squared error.

    Args:
        input: predicted means :math:`\mu`, any shape, floating dtype.
        target: targets, the same shape (no broadcasting).
        log_var: predicted :math:`\log\sigma^2`, the same shape as ``input``.
        full: add the constant :math:`\tfrac12 \log 2\pi`.
        weight: optional non-negative per-element weights, broadcastable to ``input``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input, target, log_var: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Example:
        >>> gaussian_nll_loss(torch.zeros(2), torch.tensor([1.0, 3.0]), log_var=torch.zeros(2))
        tensor(2.5000)
    """
    x, y = _residual_inputs(input, target, reduction)
    C.check_floating(log_var, "log_var")
    C.check_same_shape(input, log_var, ("input", "log_var"))
    C.check_same_device(("input", input), ("log_var", log_var))
    _check_weight(weight, x.shape, input)
    s = log_var.to(x.dtype)
    loss = 0.5 * (s + (y - x).square() * torch.exp(-s))
    if full:
        loss = loss + 0.5 * math.log(2.0 * math.pi)
    return C.reduce_weighted(loss, reduction, weight)


class GaussianNLLLoss(nn.Module):
    """Module form of :func:`gaussian_nll_loss`: ``forward(input, target, *, log_var, weight=None)``.

    Unlike ``torch.nn.GaussianNLLLoss`` it takes the log-variance, as a keyword.

    Example:
        >>> GaussianNLLLoss()(torch.zeros(1), torch.ones(1), log_var=torch.zeros(1))
        tensor(0.5000)
    """

    def __init__(self, *, full: bool = False, reduction: str = "mean") -> None:
        super().__init__()
        self.full = bool(full)
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, *, log_var: Tensor, weight: Tensor | None = None) -> Tensor:
        return gaussian_nll_loss(input, target, log_var=log_var, full=self.full, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"full={self.full}, reduction={self.reduction!r}"

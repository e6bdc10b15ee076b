r"""Focal loss, binary / multi-label (sigmoid) and multi-class (softmax).

Chapter: *Focal loss and GHM*. The focal loss multiplies the cross-entropy of each example by
:math:`(1 - p_t)^\gamma`, which is close to 0 for examples the model already gets right, so the
few hard examples dominate the loss instead of the many easy ones. Everything is computed from
logits in log space: the loss and its gradient are finite for every :math:`\gamma \ge 0`
(:math:`0 < \gamma < 1` included) at logits of any size, and half-precision inputs are computed
in float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx, once_differentiable

from . import _checks as C
from .imbalance import _check_alpha, _check_binary_pair

__all__ = ["sigmoid_focal_loss", "SigmoidFocalLoss", "softmax_focal_loss", "SoftmaxFocalLoss"]


def _check_gamma(gamma: float) -> float:
    return C.check_number(gamma, "gamma", low=0.0)


def _power(base: Tensor, log_base: Tensor, gamma: float) -> Tensor:
    """``base ** gamma`` for ``base`` in [0, 1]: exact multiplications for an integer gamma,
    ``exp(gamma * log_base)`` otherwise (never ``0 ** (gamma - 1)``, so nothing blows up)."""
    if gamma == 0:
        return torch.ones_like(base)
    if float(gamma).is_integer():
        return base.pow(int(gamma))
    return torch.exp(log_base * gamma)


class _SigmoidFocal(torch.autograd.Function):
    """Unreduced sigmoid focal loss with its gradient in closed form.

    With :math:`p = \\sigma(x)`, :math:`q = 1 - p` and the two terms
    :math:`A = -q^\\gamma \\log p` (positive) and :math:`B = -p^\\gamma \\log q` (negative),

    .. math::

        \\frac{dA}{dx} = q^\\gamma (\\gamma\\, p \\log p - q), \\qquad
        \\frac{dB}{dx} = p^\\gamma (p - \\gamma\\, q \\log q).

    Every factor is bounded for any finite logit and any :math:`\\gamma \\ge 0`, which is why
    the gradient is written out instead of left to autograd (autograd of
    :math:`(1 - p_t)^\\gamma` is :math:`\\infty \\cdot 0` at :math:`p_t = 1` when
    :math:`\\gamma < 1`). The gradient is formed in the forward pass from the same
    intermediates, so only one tensor is kept for the backward pass.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, y: Tensor, alpha: float | Tensor | None, gamma: float) -> Tensor:  # type: ignore[override]
        neg_x = torch.neg(x)
        p, q = torch.sigmoid(x), torch.sigmoid(neg_x)
        log_p, log_q = F.logsigmoid(x), F.logsigmoid(neg_x)
        p_gamma, q_gamma = _power(p, log_p, gamma), _power(q, log_q, gamma)
        w_pos, w_neg = (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)
        # y * w_pos * A + (1 - y) * w_neg * B, as a lerp from the negative to the positive term
        loss = torch.lerp(torch.mul(p_gamma, log_q).mul_(-w_neg), torch.mul(q_gamma, log_p).mul_(-w_pos), y)
        if ctx.needs_input_grad[0]:
            d_pos = log_p.mul_(p).mul_(gamma).sub_(q).mul_(q_gamma)
            d_neg = log_q.mul_(q).mul_(-gamma).add_(p).mul_(p_gamma)
            ctx.save_for_backward(torch.lerp(d_neg.mul_(w_neg), d_pos.mul_(w_pos), y))
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_output: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        (grad,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return grad_output * grad, None, None, None


def _check_normalizer(normalizer: float | Tensor | None, reduction: str, input: Tensor) -> float | Tensor | None:
    if normalizer is None:
        return None
    if reduction != "mean":
        raise ValueError(f"normalizer applies to reduction='mean' only, got reduction={reduction!r}")
    if isinstance(normalizer, Tensor):
        if normalizer.numel() != 1 or normalizer.is_complex() or normalizer.dtype == torch.bool:
            raise ValueError(
                f"normalizer must be a positive number or a one-element real tensor, "
                f"got a tensor of shape {tuple(normalizer.shape)} and dtype {normalizer.dtype}"
            )
        C.check_same_device(("input", input), ("normalizer", normalizer))
        return normalizer.reshape(())  # its value is not read here: no host synchronisation
    return C.check_number(normalizer, "normalizer", low=0.0, low_open=True)


def sigmoid_focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    alpha: float | Tensor | None = 0.25,
    gamma: float = 2.0,
    reduction: str = "mean",
    normalizer: float | Tensor | None = None,
) -> Tensor:
    r"""Focal loss on sigmoid logits, for binary and multi-label classification.

    For a logit :math:`x`, :math:`p = \sigma(x)` and a 0/1 target :math:`y`, let :math:`p_t = p`
    if :math:`y = 1` and :math:`1 - p` otherwise, and :math:`\alpha_t = \alpha` if :math:`y = 1`
    and :math:`1 - \alpha` otherwise. Then

    .. math::

        \mathrm{FL}(p_t) = -\alpha_t\, (1 - p_t)^{\gamma} \log p_t

    :cite:p:`lin2017focal`. **Convention:** ``alpha`` is the weight of the *positive* class
    (the paper's; torchvision's), :math:`1 - \alpha` that of the negatives, and ``alpha=None``
    weights both by 1. With ``gamma=0`` and ``alpha=None`` the loss is exactly
    ``binary_cross_entropy_with_logits``, in value and in gradient. Each element of ``input`` is
    an independent binary problem, so a multi-label (N, C) input is C binary problems per
    sample. A soft target :math:`y \in [0, 1]` mixes the two terms linearly,
    :math:`y\,\alpha\,(1-p)^\gamma(-\log p) + (1-y)(1-\alpha)\,p^\gamma(-\log(1-p))`, which is
    the formula above for 0/1 targets.

    **What "mean" divides by:** the number of elements, like torchvision. RetinaNet instead
    sums over all anchors and divides by the number of positive anchors: pass
    ``normalizer=num_pos`` (a number or a one-element tensor; with ``reduction="mean"`` only).
    A normalizer of 0 gives 0; clamp it to at least 1 as RetinaNet does.

    The modulating factor and the logarithms come from ``logsigmoid`` and the gradient is
    written in closed form, so loss and gradient are finite for logits of :math:`\pm 10^4`
    and every :math:`\gamma \ge 0`, including :math:`0 < \gamma < 1` where the usual
    ``(1 - p_t) ** gamma`` gives NaN gradients. The backward pass is not itself
    differentiable (no double backward).

    Args:
        input: logits, any shape (e.g. (N,) binary, (N, C) multi-label, (N, C, H, W) dense).
            Half precision is computed in float32.
        target: targets in [0, 1] with the shape of ``input``, floating dtype.
        alpha: positive-class weight in [0, 1], a tensor of such weights broadcastable to
            ``input`` (e.g. one per label, shape (C,)), or None for no weighting. Default 0.25,
            the paper's best value with gamma = 2.
        gamma: focusing parameter :math:`\gamma \ge 0`; 0 gives (alpha-balanced) BCE.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.
        normalizer: with ``reduction="mean"``, divide the sum by this instead of the number
            of elements (e.g. the number of positives).

    Shape:
        - input, target: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input, the input's dtype otherwise).

    Example:
        >>> x = torch.tensor([3.0, -1.0, 0.5])
        >>> y = torch.tensor([1.0, 0.0, 1.0])
        >>> fl = sigmoid_focal_loss(x, y, alpha=None, gamma=0.0)
        >>> torch.allclose(fl, torch.nn.functional.binary_cross_entropy_with_logits(x, y))
        True
        >>> sigmoid_focal_loss(x, y, reduction="none")  # easy examples are scaled down
        tensor([2.7321e-05, 1.6994e-02, 1.6893e-02])
    """
    reduction = C.check_reduction(reduction)
    gamma = _check_gamma(gamma)
    _check_binary_pair(input, target)
    alpha = _check_alpha(alpha, input, allow_none=True)
    normalizer = _check_normalizer(normalizer, reduction, input)
    C.check_values_in(target, "target", 0.0, 1.0)
    x = C.upcast(input)
    a = alpha.to(x.dtype) if isinstance(alpha, Tensor) else alpha
    loss = _SigmoidFocal.apply(x, target.to(x.dtype), a, gamma)
    return C.reduce_loss(loss, reduction, normalizer)


class SigmoidFocalLoss(nn.Module):
    """Module form of :func:`sigmoid_focal_loss`; a tensor ``alpha`` is kept in a buffer.

    ``forward(input, target, normalizer=None)``.

    Example:
        >>> criterion = SigmoidFocalLoss(alpha=0.25, gamma=2.0, reduction="sum")
        >>> criterion(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]))
        tensor(0.1733)
    """

    def __init__(self, *, alpha: float | Tensor | None = 0.25, gamma: float = 2.0, reduction: str = "mean") -> None:
        super().__init__()
        self.gamma = _check_gamma(gamma)
        self.reduction = C.check_reduction(reduction)
        if isinstance(alpha, Tensor) and alpha.numel() != 1:
            self.register_buffer("alpha", C.check_floating(alpha, "alpha").clone())
        else:
            self.alpha = None if alpha is None else C.check_number(alpha, "alpha", low=0.0, high=1.0)

    def forward(self, input: Tensor, target: Tensor, normalizer: float | Tensor | None = None) -> Tensor:
        return sigmoid_focal_loss(
            input, target, alpha=self.alpha, gamma=self.gamma, reduction=self.reduction, normalizer=normalizer
        )

    def extra_repr(self) -> str:
        alpha = "tensor" if isinstance(self.alpha, Tensor) else self.alpha
        return f"alpha={alpha}, gamma={self.gamma}, reduction={self.reduction!r}"


def softmax_focal_loss(
    input: Tensor,
    target: Tensor,
    *,
    alpha: Tensor | None = None,
    gamma: float = 2.0,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    r"""Focal loss on softmax logits, for multi-class classification with class-index targets.

    With :math:`p = \operatorname{softmax}(x)` and target class :math:`y`, :math:`p_t = p_y` and

    .. math::

        \mathrm{FL} = -\alpha_y\, (1 - p_y)^{\gamma} \log p_y

    :cite:p:`lin2017focal`. **Convention:** ``alpha`` is a per-class weight vector (C,), used
    exactly like the ``weight`` of ``torch.nn.functional.cross_entropy`` (e.g. from
    :func:`class_weights`); None weights every class by 1. **What "mean" divides by:** the sum
    of :math:`\alpha_{y_i}` over the samples that are not ignored (the number of those samples
    when ``alpha`` is None), exactly as ``cross_entropy`` does, so with ``gamma=0`` the loss
    *is* ``cross_entropy(input, target, weight=alpha, ignore_index=ignore_index)``, in value and
    in gradient. A batch that is empty or fully ignored gives 0 with zero gradients.

    :math:`\log p_y` comes from ``log_softmax`` and :math:`\log(1 - p_y)` from the
    log-sum-exp over the *other* classes, so the factor
    :math:`(1 - p_y)^\gamma = \exp(\gamma \log(1 - p_y))` and its gradient are finite even when
    :math:`p_y` rounds to 1, for every :math:`\gamma \ge 0`.

    Args:
        input: logits (N, C) or (N, C, d1, ...), C >= 2. Half precision is computed in float32.
        target: class indices (N,) or (N, d1, ...), integer dtype, in [0, C) or
            ``ignore_index``.
        alpha: optional per-class weights (C,), non-negative.
        gamma: focusing parameter :math:`\gamma \ge 0`.
        ignore_index: target value whose elements contribute nothing and do not count in the
            mean.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input: (N, C) or (N, C, d1, ...)
        - target: (N,) or (N, d1, ...)
        - output: scalar, or (N,) / (N, d1, ...) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input, the input's dtype otherwise).

    Example:
        >>> logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        >>> target = torch.tensor([0, 2])
        >>> fl = softmax_focal_loss(logits, target, gamma=0.0)
        >>> torch.allclose(fl, torch.nn.functional.cross_entropy(logits, target))
        True
        >>> softmax_focal_loss(logits, target, gamma=2.0, reduction="none")
        tensor([4.4923e-05, 9.6350e-01])
    """
    reduction = C.check_reduction(reduction)
    gamma = _check_gamma(gamma)
    C.check_floating(input, "input")
    C.check_min_ndim(input, "input", 2, "(N, C) or (N, C, d1, ...)")
    num_classes = input.shape[1]
    if num_classes < 2:
        raise ValueError(f"input must have at least 2 classes along dimension 1, got shape {tuple(input.shape)}")
    alpha = C.check_class_weight(alpha, num_classes, input, "alpha")
    C.check_class_target(input, target, ignore_index=ignore_index)

    x = C.upcast(input)
    valid = target != ignore_index
    index = torch.where(valid, target, torch.zeros_like(target)).unsqueeze(1)
    log_norm = torch.logsumexp(x, dim=1)
    log_p = x.gather(1, index).squeeze(1) - log_norm
    loss = -log_p
    if gamma != 0:
        others = x.scatter(1, index, float("-inf"))  # the target class removed
        log_not_p = torch.logsumexp(others, dim=1) - log_norm  # log(1 - p_y), finite as p_y -> 1
        loss = loss * torch.exp(log_not_p * gamma)
    if alpha is None:
        weight = valid.to(x.dtype)
    else:
        weight = alpha.to(x.dtype)[index.squeeze(1)] * valid
    loss = torch.where(valid, loss * weight, torch.zeros_like(loss))
    return C.reduce_loss(loss, reduction, weight.sum())


class SoftmaxFocalLoss(nn.Module):
    """Module form of :func:`softmax_focal_loss`; ``alpha`` is kept in a buffer.

    Example:
        >>> criterion = SoftmaxFocalLoss(gamma=2.0)
        >>> criterion(torch.zeros(2, 4), torch.tensor([1, 3]))
        tensor(0.7798)
    """

    def __init__(
        self, *, alpha: Tensor | None = None, gamma: float = 2.0, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.gamma = _check_gamma(gamma)
        self.ignore_index = ignore_index
        self.reduction = C.check_reduction(reduction)
        self.register_buffer("alpha", None if alpha is None else C.check_floating(alpha, "alpha").clone())

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return softmax_focal_loss(
            input, target, alpha=self.alpha, gamma=self.gamma, ignore_index=self.ignore_index, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, ignore_index={self.ignore_index}, reduction={self.reduction!r}"

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
from torch.autograd.function import FunctionCtx

from . import _checks as C
from .imbalance import _check_alpha

__all__ = ["sigmoid_focal_loss", "SigmoidFocalLoss", "softmax_focal_loss", "SoftmaxFocalLoss"]


def _check_gamma(gamma: float) -> float:
    return C.check_number(gamma, "gamma", low=0.0)


def _power(base: Tensor, neg_log_base: Tensor, gamma: float) -> Tensor:
    """``base ** gamma`` for ``base`` in [0, 1] given ``-log(base)``: exact multiplications for
    an integer gamma, ``exp(-gamma * (-log base))`` otherwise (never ``0 ** (gamma - 1)``)."""
    if gamma == 0:
        return torch.ones_like(base)
    if float(gamma).is_integer():
        return base.pow(int(gamma))
    return torch.exp(neg_log_base * -gamma)


def _weights(alpha: float | Tensor | None) -> tuple[float | Tensor, float | Tensor]:
    """Weights of the positive and the negative term."""
    return (1.0, 1.0) if alpha is None else (alpha, 1.0 - alpha)


def _sigmoid_focal_grad(x: Tensor, y: Tensor, alpha: float | Tensor | None, gamma: float) -> Tensor:
    """The closed-form gradient of :class:`_SigmoidFocal`, out of place (so autograd can
    differentiate it again, for double backward)."""
    w_pos, w_neg = _weights(alpha)
    p, q = torch.sigmoid(x), torch.sigmoid(-x)
    log_p, log_q = F.logsigmoid(x), F.logsigmoid(-x)
    d_pos = _power(q, -log_q, gamma) * (gamma * p * log_p - q)
    d_neg = _power(p, -log_p, gamma) * (p - gamma * q * log_q)
    return torch.lerp(w_neg * d_neg, w_pos * d_pos, y)


def _sigmoid_focal_fused(x: Tensor, y: Tensor, alpha: float | Tensor | None, gamma: float) -> tuple[Tensor, Tensor]:
    r"""Loss and closed-form gradient of :class:`_SigmoidFocal` from one ``exp`` and one ``log1p``.

    With :math:`e = e^{-|x|}` and :math:`l = \log(1 + e)`: :math:`-\log p = \max(-x, 0) + l`,
    :math:`-\log q = \max(x, 0) + l`, and :math:`p, q` are :math:`1/(1+e)` and :math:`e/(1+e)`
    in the order given by the sign of :math:`x`; every expression is exact at any logit. Written
    out of place for ``torch.compile``, which fuses it into one pass; in eager mode the in-place
    sequence of :meth:`_SigmoidFocal.forward` is faster.
    """
    e = torch.exp(-torch.abs(x))
    l = torch.log1p(e)
    r = 1.0 / (1.0 + e)
    positive = x >= 0
    p, q = torch.where(positive, r, e * r), torch.where(positive, e * r, r)
    nlog_p, nlog_q = torch.clamp(-x, min=0.0) + l, torch.clamp(x, min=0.0) + l
    a_pos, a_neg = _power(q, nlog_q, gamma), _power(p, nlog_p, gamma)
    if alpha is not None:
        w_pos, w_neg = _weights(alpha)
        a_pos, a_neg = a_pos * w_pos, a_neg * w_neg
    loss = torch.lerp(a_neg * nlog_q, a_pos * nlog_p, y)
    d_pos = -a_pos * (q + gamma * p * nlog_p)  # q^g (g p log p - q)
    d_neg = a_neg * (p + gamma * q * nlog_q)  # p^g (p - g q log q)
    return loss, torch.lerp(d_neg, d_pos, y)


class _SigmoidFocal(torch.autograd.Function):
    r"""Unreduced sigmoid focal loss with its gradient in closed form.

    With :math:`p = \sigma(x)`, :math:`q = 1 - p` and the two terms
    :math:`A = -q^\gamma \log p` (positive) and :math:`B = -p^\gamma \log q` (negative),

    .. math::

        \frac{dA}{dx} = q^\gamma (\gamma\, p \log p - q), \qquad
        \frac{dB}{dx} = p^\gamma (p - \gamma\, q \log q).

    Every factor is bounded for any finite logit and any :math:`\gamma \ge 0`, which is why
    the gradient is written out instead of left to autograd (autograd of
    :math:`(1 - p_t)^\gamma` is :math:`\infty \cdot 0` at :math:`p_t = 1` when
    :math:`\gamma < 1`). The forward pass forms the gradient from the same intermediates, in
    place; a double backward recomputes it with :func:`_sigmoid_focal_grad`.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx, x: Tensor, y: Tensor, alpha: float | Tensor | None, gamma: float
    ) -> Tensor:
        if torch.compiler.is_compiling():  # one fused kernel: fewest transcendental functions
            loss, grad = _sigmoid_focal_fused(x, y, alpha, gamma)
            if ctx.needs_input_grad[0]:
                ctx.save_for_backward(grad, x, y)
                ctx.alpha, ctx.gamma = alpha, gamma
            return loss
        # Eager: few fresh tensors; on a CPU each new large tensor costs about as much as a pass over it.
        p = torch.neg(x)
        q = torch.sigmoid(p)
        nlog_p = F.softplus(p, threshold=50.0)  # -log p; softplus(z) = log(1 + e^z), exact below 50
        p = torch.sigmoid(x, out=p)
        nlog_q = F.softplus(x, threshold=50.0)  # -log(1 - p)
        a_pos, a_neg = _power(q, nlog_q, gamma), _power(p, nlog_p, gamma)  # q^gamma, p^gamma
        if alpha is not None:
            w_pos, w_neg = _weights(alpha)
            a_pos, a_neg = a_pos.mul_(w_pos), a_neg.mul_(w_neg)
        # y * w_pos * A + (1 - y) * w_neg * B, as a lerp from the negative to the positive term
        loss = torch.mul(a_neg, nlog_q).lerp_(torch.mul(a_pos, nlog_p), y)
        if ctx.needs_input_grad[0]:  # in place, in the buffers of -log p and -log(1 - p)
            d_pos = torch.addcmul(q, nlog_p, p, value=gamma, out=nlog_p).mul_(a_pos).neg_()  # q^g (g p log p - q)
            d_neg = torch.addcmul(p, nlog_q, q, value=gamma, out=nlog_q).mul_(a_neg)  # p^g (p - g q log q)
            ctx.save_for_backward(d_neg.lerp_(d_pos, y), x, y)
            ctx.alpha, ctx.gamma = alpha, gamma
        return loss

    @staticmethod
    def backward(ctx: FunctionCtx, grad_output: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        grad, x, y = ctx.saved_tensors  # type: ignore[attr-defined]
        if torch.is_grad_enabled():  # create_graph=True: a gradient that is differentiable again
            grad = _sigmoid_focal_grad(x, y, ctx.alpha, ctx.gamma)  # type: ignore[attr-defined]
        return grad_output * grad, None, None, None


def _softmax_focal_grad(x: Tensor, index: Tensor, weight: Tensor, gamma: float) -> Tensor:
    """The closed-form gradient of :class:`_SoftmaxFocal`, out of place (for double backward)."""
    log_p = F.log_softmax(x, dim=1)
    log_pt = log_p.gather(1, index).squeeze(1)
    not_pt = -torch.expm1(log_pt)
    factor = _power(not_pt, -torch.log(not_pt), gamma)
    tiny = log_pt.clamp(max=-1e-30)
    coef = (weight * factor * (torch.exp(log_pt) * (tiny / -torch.expm1(tiny)) * gamma - 1.0)).unsqueeze(1)
    return coef * (torch.zeros_like(x).scatter_(1, index, 1.0) - torch.exp(log_p))


class _SoftmaxFocal(torch.autograd.Function):
    r"""Unreduced, weighted softmax focal loss with its gradient in closed form.

    With :math:`l = \log p_y` (from ``log_softmax``) and :math:`F = (1 - p_y)^\gamma`, the loss
    :math:`-w F l` has the gradient

    .. math::

        \frac{\partial}{\partial x} = w\, F\, T\, (e_y - p), \qquad
        T = \gamma\, \frac{p_y \log p_y}{1 - p_y} - 1 \in [-1 - \gamma, -1],

    a bounded multiple of the cross-entropy gradient :math:`p - e_y`. Autograd would instead
    multiply :math:`(1 - p_y)^{\gamma - 1}` (infinite at :math:`p_y = 1` for
    :math:`\gamma < 1`) by a zero. :math:`1 - p_y = -\operatorname{expm1}(l)` is accurate
    for :math:`p_y` near 1, and the ratio :math:`\log p_y / (1 - p_y)` tends to -1 there.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx, x: Tensor, index: Tensor, weight: Tensor, gamma: float
    ) -> Tensor:
        log_p = F.log_softmax(x, dim=1)
        log_pt = log_p.gather(1, index).squeeze(1)
        not_pt = -torch.expm1(log_pt)
        factor = _power(not_pt, -torch.log(not_pt), gamma)
        loss = -weight * factor * log_pt
        if ctx.needs_input_grad[0]:
            tiny = log_pt.clamp(max=-1e-30)  # log p_t / (1 - p_t) -> -1 as p_t -> 1
            t = torch.exp(log_pt) * (tiny / -torch.expm1(tiny)) * gamma - 1.0
            coef = (weight * factor * t).unsqueeze(1)
            grad = log_p.exp_().mul_(-coef).scatter_add_(1, index, coef)  # coef * (e_y - p)
            ctx.save_for_backward(grad, x, index, weight)
            ctx.gamma = gamma
        return loss

    @staticmethod
    def backward(ctx: FunctionCtx, grad_output: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        grad, x, index, weight = ctx.saved_tensors  # type: ignore[attr-defined]
        if torch.is_grad_enabled():  # create_graph=True
            grad = _softmax_focal_grad(x, index, weight, ctx.gamma)  # type: ignore[attr-defined]
        return grad_output.unsqueeze(1) * grad, None, None, None


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
    weights both by 1. With ``gamma=0`` and ``alpha=None`` the loss is the binary
    cross-entropy of ``binary_cross_entropy_with_logits``, in value and in gradient, to float
    rounding in absolute terms but not bit for bit: where the loss is tiny (a well-classified
    element, e.g. a logit of -20 with target 0) torch's float32 kernel rounds it to 0, while
    this one keeps a relative error near 1e-6. Each element of ``input`` is
    an independent binary problem, so a multi-label (N, C) input is C binary problems per
    sample. A soft target :math:`y \in [0, 1]` mixes the two terms linearly,
    :math:`y\,\alpha\,(1-p)^\gamma(-\log p) + (1-y)(1-\alpha)\,p^\gamma(-\log(1-p))`, which is
    the formula above for 0/1 targets.

    **What "mean" divides by:** the number of elements, like torchvision. RetinaNet instead
    sums over all anchors and divides by the number of positive anchors: pass
    ``normalizer=num_pos`` (a number > 0, or a one-element tensor whose value is not read on
    the host; with ``reduction="mean"`` only). A normalizer tensor equal to 0 (a batch without
    positives) divides by 1, which is what RetinaNet's clamp of the count to at least 1 does.

    The modulating factor and the logarithms come from ``logsigmoid`` and the gradient is
    written in closed form, so loss and gradient are finite for logits of :math:`\pm 10^4`
    and every :math:`\gamma \ge 0`, including :math:`0 < \gamma < 1` where the usual
    ``(1 - p_t) ** gamma`` gives NaN gradients. Only one extra tensor is kept for the
    backward pass; double backward (``create_graph=True``) is supported.

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
    C.check_float_pair(input, target)
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
            self.register_buffer("alpha", C.buffer_copy(alpha, "alpha", 0.0, 1.0))
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
    :func:`~losscookbook.imbalance.class_weights`); None weights every class by 1. **What "mean"
    divides by:** the sum of :math:`\alpha_{y_i}` over the samples that are not ignored (the number of those samples
    when ``alpha`` is None), exactly as ``cross_entropy`` does, so with ``gamma=0`` the loss
    *is* ``cross_entropy(input, target, weight=alpha, ignore_index=ignore_index)``, in value and
    in gradient. A batch that is empty or fully ignored gives 0 with zero gradients.

    :math:`\log p_y` comes from ``log_softmax``, :math:`1 - p_y` from
    :math:`-\operatorname{expm1}(\log p_y)`, and the gradient is written in closed form (a
    bounded multiple of the cross-entropy gradient), so loss and gradient are finite for
    logits of :math:`\pm 10^4` and every :math:`\gamma \ge 0`, also when :math:`p_y` rounds
    to 1. Double backward (``create_graph=True``) is supported.

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
        >>> logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        >>> target = torch.tensor([0, 2])
        >>> fl = softmax_focal_loss(logits, target, gamma=0.0)
        >>> torch.allclose(fl, torch.nn.functional.cross_entropy(logits, target))
        True
        >>> softmax_focal_loss(logits, target, gamma=2.0, reduction="none")
        tensor([0.0109, 0.9635])
    """
    reduction = C.check_reduction(reduction)
    gamma = _check_gamma(gamma)
    C.check_floating(input, "input")
    C.check_min_ndim(input, "input", 2, "(N, C) or (N, C, d1, ...)")
    num_classes = input.shape[1]
    if num_classes < 2:
        raise ValueError(f"input must have at least 2 classes along dimension 1, got shape {tuple(input.shape)}")
    alpha = C.check_class_weight(alpha, num_classes, input, "alpha")
    target = C.check_class_target(input, target, ignore_index=ignore_index)

    x = C.upcast(input)
    valid = target != ignore_index
    index = torch.where(valid, target, torch.zeros_like(target)).unsqueeze(1)
    if alpha is None:
        weight = valid.to(x.dtype)
    else:
        weight = alpha.to(x.dtype)[index.squeeze(1)] * valid
    loss = _SoftmaxFocal.apply(x, index, weight, gamma)
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
        self.register_buffer("alpha", C.buffer_copy(alpha, "alpha"))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return softmax_focal_loss(
            input, target, alpha=self.alpha, gamma=self.gamma, ignore_index=self.ignore_index, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, ignore_index={self.ignore_index}, reduction={self.reduction!r}"

"""The losses of the classic linear classifiers: hinge (SVM), logistic, exponential (AdaBoost).

Chapter: *A map of loss functions*. Each binary loss is a function of the margin
:math:`m = y f`, the product of the signed label :math:`y \\in \\{-1, 1\\}` and the score
(logit) :math:`f`; :math:`m > 0` means a correct decision. Targets are validated against an
explicit ``labels`` convention instead of being guessed: ``"signed"`` for -1/1 targets (the
default, the natural form of these losses), ``"binary"`` for 0/1 targets, which are mapped to
:math:`y = 2t - 1`. A 0/1 target passed where -1/1 is expected is the classic silent bug (with
``torch.nn.functional.soft_margin_loss`` every negative then contributes the constant
:math:`\\log 2` and no gradient); here it raises.

Every binary loss takes an optional per-element ``weight`` (e.g. boosting's sample weights);
``"mean"`` then divides the weighted sum by the summed weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks as C

__all__ = [
    "hinge_loss",
    "HingeLoss",
    "logistic_loss",
    "LogisticLoss",
    "exponential_loss",
    "ExponentialLoss",
    "multiclass_hinge_loss",
    "MulticlassHingeLoss",
]

LABELS = ("signed", "binary")
VARIANTS = ("weston_watkins", "crammer_singer")


def _check_labels(labels: str) -> str:
    return C.check_choice(labels, "labels", LABELS)


def _check_margin(margin: float) -> float:
    return C.check_number(margin, "margin", low=0.0)


def _margins(input: Tensor, target: Tensor, labels: str, reduction: str, weight: Tensor | None) -> Tensor:
    """Validate a binary score/label pair and return the margins y * f in the compute dtype."""
    C.check_reduction(reduction)
    labels = _check_labels(labels)
    C.check_floating(input, "input")
    C.check_tensor(target, "target")
    if target.is_complex():
        raise TypeError(f"target must be a real tensor, got dtype {target.dtype}")
    C.check_same_shape(input, target)
    C.check_same_device(("input", input), ("target", target))
    if labels == "signed":
        C.check_values_among(target, "target", (-1, 1), hint=" (labels='signed'; pass labels='binary' for 0/1 targets)")
    else:
        C.check_values_among(target, "target", (0, 1), hint=" (labels='binary'; pass labels='signed' for -1/1 targets)")
    C.check_elementwise_weight(weight, input.shape, input)
    f = C.upcast(input)
    y = target.to(f.dtype)
    if labels == "binary":
        y = 2.0 * y - 1.0
    return y * f


# ---------------------------------------------------------------------------------------- hinge
def hinge_loss(
    input: Tensor,
    target: Tensor,
    *,
    margin: float = 1.0,
    squared: bool = False,
    labels: str = "signed",
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Hinge loss of a binary classifier, the loss of the (linear) support vector machine.

    .. math::

        \ell = \max(0,\; \mu - y f) \qquad \text{or, squared,} \qquad \ell = \max(0,\; \mu - y f)^2

    with signed label :math:`y \in \{-1, 1\}`, score :math:`f` and margin :math:`\mu`
    :cite:p:`cortes1995support`. Samples beyond the margin (:math:`y f \ge \mu`) cost nothing
    and give no gradient: the fitted model depends only on the others, the support vectors.
    With :math:`\mu = 1` the hinge is a convex upper bound of the 0-1 loss :math:`[y f \le 0]`
    that still charges correct decisions made with a margin below 1; :math:`\mu = 0` gives the
    perceptron criterion. The squared hinge is differentiable everywhere.

    It equals ``torch.nn.functional.hinge_embedding_loss(y * f, -1, margin)`` (that function is
    meant for distances and reads its input differently) and, for two classes, twice
    ``multi_margin_loss`` on the scores :math:`(-f/2, f/2)`.

    Args:
        input: scores (logits) :math:`f`, any shape, floating dtype.
        target: labels of the shape of ``input``, -1/1 (``labels="signed"``) or 0/1
            (``labels="binary"``), any real dtype.
        margin: :math:`\mu \ge 0`.
        squared: square the hinge.
        labels: ``"signed"`` | ``"binary"``, the convention of ``target``; checked.
        weight: optional non-negative per-element weights, broadcastable to ``input``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input, target: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Example:
        >>> hinge_loss(torch.tensor([2.0, 0.5, -1.0]), torch.tensor([1, 1, 1]), reduction="none")
        tensor([0.0000, 0.5000, 2.0000])
    """
    margin = _check_margin(margin)
    m = _margins(input, target, labels, reduction, weight)
    loss = F.relu(margin - m)
    if squared:
        loss = loss.square()
    return C.reduce_weighted(loss, reduction, weight)


class HingeLoss(nn.Module):
    """Module form of :func:`hinge_loss`.

    Example:
        >>> HingeLoss(labels="binary")(torch.tensor([0.0, 0.0]), torch.tensor([0, 1]))
        tensor(1.)
    """

    def __init__(
        self, *, margin: float = 1.0, squared: bool = False, labels: str = "signed", reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.margin = _check_margin(margin)
        self.squared = bool(squared)
        self.labels = _check_labels(labels)
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return hinge_loss(
            input, target, margin=self.margin, squared=self.squared, labels=self.labels,
            weight=weight, reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return f"margin={self.margin}, squared={self.squared}, labels={self.labels!r}, reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------- logistic
def logistic_loss(
    input: Tensor,
    target: Tensor,
    *,
    labels: str = "signed",
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Logistic loss, the loss of logistic regression, in nats.

    .. math::

        \ell = \log\big(1 + e^{-y f}\big) = \operatorname{softplus}(-y f)
             = -\log \sigma(y f)

    It is binary cross-entropy on logits written with signed labels: for :math:`t = (y+1)/2`
    it equals ``binary_cross_entropy_with_logits(f, t)``, and it equals
    ``torch.nn.functional.soft_margin_loss(f, y)``. Computed as ``logaddexp(0, -y f)``: exact
    and finite for any finite score, with gradient :math:`-y\,\sigma(-y f)` of size at most 1.
    Divide by :math:`\log 2` for bits (the scale on which the loss is 1 at the margin 0, like
    the 0-1 loss it bounds).

    Args:
        input: scores (logits) :math:`f`, any shape, floating dtype.
        target: labels of the shape of ``input``, -1/1 (``labels="signed"``) or 0/1
            (``labels="binary"``).
        labels: ``"signed"`` | ``"binary"``, the convention of ``target``; checked.
        weight: optional non-negative per-element weights, broadcastable to ``input``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input, target: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Example:
        >>> logistic_loss(torch.tensor([0.0, 1e4, -1e4]), torch.tensor([1, 1, 1]), reduction="none")
        tensor([6.9315e-01, 0.0000e+00, 1.0000e+04])
    """
    m = _margins(input, target, labels, reduction, weight)
    loss = torch.logaddexp(torch.zeros_like(m), -m)
    return C.reduce_weighted(loss, reduction, weight)


class LogisticLoss(nn.Module):
    """Module form of :func:`logistic_loss`.

    Example:
        >>> LogisticLoss()(torch.zeros(2), torch.tensor([1, -1]))
        tensor(0.6931)
    """

    def __init__(self, *, labels: str = "signed", reduction: str = "mean") -> None:
        super().__init__()
        self.labels = _check_labels(labels)
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return logistic_loss(input, target, labels=self.labels, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"labels={self.labels!r}, reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------- exponential
def _check_max_exponent(max_exponent: float | None) -> float | None:
    if max_exponent is None:
        return None
    return C.check_number(max_exponent, "max_exponent")


def exponential_loss(
    input: Tensor,
    target: Tensor,
    *,
    labels: str = "signed",
    max_exponent: float | None = 50.0,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Exponential loss, the loss that AdaBoost minimizes stage by stage.

    .. math::

        \ell = e^{-y f}

    :cite:p:`freund1997decision,friedman2000additive`. Its minimizer over :math:`f` for
    :math:`P(y = 1) = p` is :math:`\tfrac12 \log\frac{p}{1-p}`, half the logit, and it grows
    exponentially with a wrong margin, which makes it sensitive to mislabeled points.

    **Overflow guard.** :math:`e^{z}` overflows float32 beyond :math:`z \approx 88.7` (float16
    inputs are computed in float32), after which the loss and the gradient are ``inf`` and the
    next step is NaN. With ``max_exponent`` :math:`= a` (default 50, :math:`e^{50} \approx
    5 \cdot 10^{21}`) the loss is exactly :math:`e^{z}` for :math:`z = -y f \le a` and continues
    beyond :math:`a` along its tangent line,

    .. math::

        \ell = e^{a}\,(1 + z - a) \qquad (z > a),

    so loss and gradient stay finite, positive, increasing and continuous; nothing is clamped
    to a constant and no sample loses its gradient. ``max_exponent=None`` computes the plain
    exponential, which may overflow.

    Args:
        input: scores :math:`f`, any shape, floating dtype.
        target: labels of the shape of ``input``, -1/1 (``labels="signed"``) or 0/1
            (``labels="binary"``).
        labels: ``"signed"`` | ``"binary"``, the convention of ``target``; checked.
        max_exponent: the exponent :math:`a` beyond which the loss is linear, or None.
        weight: optional non-negative per-element weights, broadcastable to ``input``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input, target: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Example:
        >>> exponential_loss(torch.tensor([0.0, 2.0, -100.0]), torch.tensor([1, 1, 1]), reduction="none")
        tensor([1.0000e+00, 1.3534e-01, 2.6442e+23])
    """
    max_exponent = _check_max_exponent(max_exponent)
    m = _margins(input, target, labels, reduction, weight)
    z = -m
    if max_exponent is None:
        loss = torch.exp(z)
    else:
        clipped = z.clamp(max=max_exponent)
        loss = torch.exp(clipped) * (1.0 + (z - clipped))
    return C.reduce_weighted(loss, reduction, weight)


class ExponentialLoss(nn.Module):
    """Module form of :func:`exponential_loss`.

    Example:
        >>> ExponentialLoss()(torch.zeros(3), torch.tensor([1, -1, 1]))
        tensor(1.)
    """

    def __init__(self, *, labels: str = "signed", max_exponent: float | None = 50.0, reduction: str = "mean") -> None:
        super().__init__()
        self.labels = _check_labels(labels)
        self.max_exponent = _check_max_exponent(max_exponent)
        self.reduction = C.check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return exponential_loss(
            input, target, labels=self.labels, max_exponent=self.max_exponent, weight=weight, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"labels={self.labels!r}, max_exponent={self.max_exponent}, reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------- multi-class hinge
def _check_variant(variant: str) -> str:
    return C.check_choice(variant, "variant", VARIANTS)


def multiclass_hinge_loss(
    input: Tensor,
    target: Tensor,
    *,
    margin: float = 1.0,
    variant: str = "weston_watkins",
    squared: bool = False,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    r"""Multi-class hinge loss on class scores, in the Weston-Watkins or Crammer-Singer form.

    For scores :math:`x` and true class :math:`y`:

    .. math::

        \ell_{\mathrm{WW}} = \sum_{j \ne y} \max(0,\; \mu - x_y + x_j),
        \qquad
        \ell_{\mathrm{CS}} = \max\big(0,\; \mu - x_y + \max_{j \ne y} x_j\big)

    :cite:p:`weston1999support,crammer2001algorithmic`. Weston-Watkins charges every class that
    comes within the margin :math:`\mu` of the true one; Crammer-Singer only the strongest
    rival. With ``squared`` each hinge is squared. ``torch.nn.functional.multi_margin_loss`` is
    the Weston-Watkins form *divided by the number of classes C*: ``C * multi_margin_loss``
    equals ``variant="weston_watkins"`` here.

    Per-class ``weight`` multiplies each sample's loss by :math:`w_y`; ``"mean"`` divides by the
    summed :math:`w_y` of the samples that are not ignored, the convention of ``cross_entropy``
    (``multi_margin_loss`` divides by N instead). A batch that is empty or fully ignored gives 0.

    Args:
        input: scores of shape (N, C) or (N, C, d1, ...), C >= 2.
        target: class indices (N,) or (N, d1, ...), integer dtype.
        margin: :math:`\mu \ge 0`.
        variant: ``"weston_watkins"`` | ``"crammer_singer"``.
        squared: square each hinge.
        weight: optional non-negative per-class weights of shape (C,).
        ignore_index: target value whose samples contribute nothing.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input: (N, C) or (N, C, d1, ...)
        - target: (N,) or (N, d1, ...)
        - output: scalar, or (N, d1, ...) with ``reduction="none"``

    Example:
        >>> scores = torch.tensor([[2.0, 1.5, 0.0]])
        >>> multiclass_hinge_loss(scores, torch.tensor([0]), variant="weston_watkins")
        tensor(0.5000)
        >>> multiclass_hinge_loss(scores, torch.tensor([2]), variant="crammer_singer")
        tensor(3.)
    """
    reduction = C.check_reduction(reduction)
    margin = _check_margin(margin)
    variant = _check_variant(variant)
    C.check_floating(input, "input")
    C.check_min_ndim(input, "input", 2, "(N, C) or (N, C, d1, ...)")
    num_classes = input.shape[1]
    if num_classes < 2:
        raise ValueError(f"input must have at least 2 classes along dimension 1, got shape {tuple(input.shape)}")
    target = C.check_class_target(input, target, ignore_index=ignore_index)
    C.check_same_device(("input", input), ("target", target))
    weight = C.check_class_weight(weight, num_classes, input)

    x = C.upcast(input)
    valid = target != ignore_index
    safe_target = torch.where(valid, target, torch.zeros_like(target)).unsqueeze(1)
    x_true = x.gather(1, safe_target)
    is_true = torch.zeros_like(x, dtype=torch.bool).scatter_(1, safe_target, True)
    if variant == "weston_watkins":
        hinge = F.relu(margin - x_true + x)
        if squared:
            hinge = hinge.square()
        loss = hinge.masked_fill(is_true, 0.0).sum(dim=1)
    else:
        rival = x.masked_fill(is_true, float("-inf")).amax(dim=1)
        loss = F.relu(margin - x_true.squeeze(1) + rival)
        if squared:
            loss = loss.square()
    if weight is None:
        sample_weight = valid.to(x.dtype)
    else:
        sample_weight = weight.to(x.dtype)[safe_target.squeeze(1)] * valid
    loss = torch.where(valid, loss * sample_weight, torch.zeros_like(loss))
    return C.reduce_loss(loss, reduction, sample_weight.sum())


class MulticlassHingeLoss(nn.Module):
    """Module form of :func:`multiclass_hinge_loss`; ``weight`` is kept in a buffer.

    Example:
        >>> MulticlassHingeLoss(variant="crammer_singer")(torch.zeros(2, 3), torch.tensor([0, 1]))
        tensor(1.)
    """

    def __init__(
        self,
        *,
        margin: float = 1.0,
        variant: str = "weston_watkins",
        squared: bool = False,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.margin = _check_margin(margin)
        self.variant = _check_variant(variant)
        self.squared = bool(squared)
        self.ignore_index = ignore_index
        self.reduction = C.check_reduction(reduction)
        self.register_buffer("weight", C.buffer_copy(weight, "weight"))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return multiclass_hinge_loss(
            input,
            target,
            margin=self.margin,
            variant=self.variant,
            squared=self.squared,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"margin={self.margin}, variant={self.variant!r}, squared={self.squared}, "
            f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"
        )

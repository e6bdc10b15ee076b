"""Label smoothing and knowledge distillation.

Chapter: *Label smoothing*. Soft targets for multi-class and binary classification, and the
temperature-softened distillation loss that label smoothing interacts with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks as C

__all__ = [
    "smooth_labels",
    "label_smoothing_cross_entropy",
    "LabelSmoothingCrossEntropy",
    "binary_cross_entropy_with_smoothing",
    "BinaryCrossEntropyWithSmoothing",
    "distillation_loss",
    "DistillationLoss",
]


def _check_smoothing(smoothing: float) -> float:
    return C.check_number(smoothing, "smoothing", low=0.0, high=1.0, high_open=True)


def smooth_labels(target: Tensor, num_classes: int, smoothing: float) -> Tensor:
    r"""Turn class indices (or a class distribution) into a label-smoothed distribution.

    .. math::

        q'_k = (1 - \varepsilon)\, q_k + \frac{\varepsilon}{K}

    where :math:`q` is the one-hot encoding of the class index (or the given distribution),
    :math:`K` = ``num_classes`` and :math:`\varepsilon` = ``smoothing``
    :cite:p:`szegedy2016rethinking`. This is the form used by
    ``torch.nn.functional.cross_entropy(..., label_smoothing=eps)``.

    Args:
        target: class indices of shape (N, d1, ...), integer dtype, values in [0, K); or
            a distribution of shape (N, K, d1, ...), floating dtype, values in [0, 1].
        num_classes: K, the number of classes (>= 1).
        smoothing: :math:`\varepsilon` in [0, 1).

    Shape:
        - target: (N, d1, ...) indices or (N, K, d1, ...) probabilities.
        - output: (N, K, d1, ...), class dimension 1, like the input of ``cross_entropy``.

    Returns:
        The smoothed distribution (float32 for index targets, the target's dtype otherwise).
        Each slice along dimension 1 sums to 1 when the input distribution does.

    Example:
        >>> smooth_labels(torch.tensor([0, 2]), num_classes=3, smoothing=0.3)
        tensor([[0.8000, 0.1000, 0.1000],
                [0.1000, 0.1000, 0.8000]])
    """
    C.check_tensor(target, "target")
    num_classes = C.check_int(num_classes, "num_classes", low=1)
    smoothing = _check_smoothing(smoothing)
    if target.is_floating_point():
        C.check_min_ndim(target, "target", 2, "(N, K, d1, ...)")
        if target.shape[1] != num_classes:
            raise ValueError(
                f"target distribution must have num_classes={num_classes} entries along dimension 1, "
                f"got shape {tuple(target.shape)}"
            )
        C.check_values_in(target, "target", 0.0, 1.0)
        return target * (1.0 - smoothing) + smoothing / num_classes
    target = C.class_indices(target, "target")
    C.check_min_ndim(target, "target", 1, "(N, d1, ...)")
    C.check_values_in(target, "target", 0, num_classes - 1)
    one_hot = F.one_hot(target, num_classes).movedim(-1, 1).to(torch.float32)
    return one_hot * (1.0 - smoothing) + smoothing / num_classes


def label_smoothing_cross_entropy(
    input: Tensor,
    target: Tensor,
    *,
    smoothing: float = 0.1,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    r"""Cross-entropy against label-smoothed targets, computed from logits in log space.

    For a class-index target :math:`y` and per-class weights :math:`w` (all ones by default),
    the loss of one sample is

    .. math::

        \ell = (1 - \varepsilon)\, w_y\, (-\log p_y)
               + \frac{\varepsilon}{K} \sum_{k=1}^{K} w_k\, (-\log p_k),
        \qquad p = \operatorname{softmax}(x),

    :cite:p:`szegedy2016rethinking,muller2019does`. ``"mean"`` divides the sum by
    :math:`\sum_i w_{y_i}` over the samples that are not ignored, exactly as
    ``torch.nn.functional.cross_entropy(..., label_smoothing=smoothing)`` does, so the two agree
    for every combination of ``weight``, ``ignore_index`` and ``reduction``. Unlike torch, a
    batch that is empty or fully ignored gives a loss of 0 (with zero gradients), not NaN.

    For probability targets :math:`q` the loss is :math:`-\sum_k w_k q'_k \log p_k` with
    :math:`q'` from :func:`smooth_labels`, and ``"mean"`` divides by the number of samples
    (again as torch does); ``ignore_index`` does not apply to them.

    Args:
        input: logits of shape (N, C) or (N, C, d1, ...). Half precision is computed in float32.
        target: class indices (N,) / (N, d1, ...) of integer dtype, or probabilities with the
            shape of ``input``.
        smoothing: :math:`\varepsilon` in [0, 1); 0 gives plain cross-entropy.
        weight: optional per-class weights of shape (C,), non-negative.
        ignore_index: class-index value whose samples contribute nothing (and do not count in
            the mean).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - input: (N, C) or (N, C, d1, ...)
        - target: (N,) or (N, d1, ...) indices; or the shape of input for probabilities
        - output: scalar, or (N, d1, ...) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input, the input's dtype otherwise).

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> target = torch.tensor([0, 2])
        >>> loss = label_smoothing_cross_entropy(logits, target, smoothing=0.1)
        >>> torch.allclose(loss, torch.nn.functional.cross_entropy(logits, target, label_smoothing=0.1))
        True
    """
    reduction = C.check_reduction(reduction)
    smoothing = _check_smoothing(smoothing)
    C.check_floating(input, "input")
    C.check_tensor(target, "target")
    C.check_min_ndim(input, "input", 2, "(N, C) or (N, C, d1, ...)")
    num_classes = input.shape[1]
    weight = C.check_class_weight(weight, num_classes, input)
    class_shape = (1, num_classes) + (1,) * (input.dim() - 2)

    if target.is_floating_point():
        C.check_same_shape(input, target)
        soft = smooth_labels(target, num_classes, smoothing)
        log_p = F.log_softmax(C.upcast(input), dim=1)
        terms = soft.to(log_p.dtype) * log_p
        if weight is not None:
            terms = terms * weight.to(log_p.dtype).view(class_shape)
        loss = -terms.sum(dim=1)
        return C.reduce_loss(loss, reduction)

    target = C.check_class_target(input, target, ignore_index=ignore_index)
    log_p = F.log_softmax(C.upcast(input), dim=1)
    valid = target != ignore_index
    safe_target = torch.where(valid, target, torch.zeros_like(target))
    nll = -log_p.gather(1, safe_target.unsqueeze(1)).squeeze(1)
    if weight is None:
        target_weight = valid.to(log_p.dtype)
        uniform = -log_p.sum(dim=1)
    else:
        w = weight.to(log_p.dtype)
        target_weight = w[safe_target] * valid
        uniform = -(log_p * w.view(class_shape)).sum(dim=1)
    loss = (1.0 - smoothing) * target_weight * nll + (smoothing / num_classes) * uniform
    loss = torch.where(valid, loss, torch.zeros_like(loss))
    return C.reduce_loss(loss, reduction, target_weight.sum())


class LabelSmoothingCrossEntropy(nn.Module):
    """Module form of :func:`label_smoothing_cross_entropy`; ``weight`` is kept in a buffer.

    Example:
        >>> criterion = LabelSmoothingCrossEntropy(smoothing=0.1)
        >>> criterion(torch.zeros(4, 10), torch.tensor([1, 2, 3, 4]))
        tensor(2.3026)
    """

    def __init__(
        self,
        *,
        smoothing: float = 0.1,
        weight: Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.smoothing = _check_smoothing(smoothing)
        self.ignore_index = ignore_index
        self.reduction = C.check_reduction(reduction)
        self.register_buffer("weight", C.buffer_copy(weight, "weight"))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return label_smoothing_cross_entropy(
            input,
            target,
            smoothing=self.smoothing,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return f"smoothing={self.smoothing}, ignore_index={self.ignore_index}, reduction={self.reduction!r}"


def binary_cross_entropy_with_smoothing(
    input: Tensor,
    target: Tensor,
    *,
    smoothing: float = 0.1,
    pos_weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Binary cross-entropy on logits with smoothed targets.

    Targets :math:`y \in [0, 1]` become

    .. math::

        y' = y\,(1 - \varepsilon) + \frac{\varepsilon}{2},

    so :math:`\varepsilon = 0.2` turns the hard targets 1 / 0 into 0.9 / 0.1 (the binary case of
    :func:`smooth_labels` with two classes). The loss is then
    :math:`-[\,w_+\, y' \log\sigma(x) + (1 - y') \log(1 - \sigma(x))\,]`, computed from the
    logits with ``binary_cross_entropy_with_logits``; it stays finite for logits of any size.

    Args:
        input: logits, any shape.
        target: targets in [0, 1], the shape of ``input``.
        smoothing: :math:`\varepsilon` in [0, 1).
        pos_weight: optional weight :math:`w_+` of the positive term, broadcastable to
            ``input`` (one value per class for multi-label input of shape (N, C)).
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``; ``"mean"`` divides by the number of
            elements (0 for an empty input).

    Shape:
        - input, target: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Example:
        >>> x = torch.tensor([3.0, -3.0])
        >>> y = torch.tensor([1.0, 0.0])
        >>> loss = binary_cross_entropy_with_smoothing(x, y, smoothing=0.2)
        >>> torch.allclose(loss, torch.nn.functional.binary_cross_entropy_with_logits(x, torch.tensor([0.9, 0.1])))
        True
    """
    reduction = C.check_reduction(reduction)
    smoothing = _check_smoothing(smoothing)
    C.check_floating(input, "input")
    C.check_floating(target, "target")
    C.check_same_shape(input, target)
    C.check_values_in(target, "target", 0.0, 1.0)
    if pos_weight is not None:
        C.check_floating(pos_weight, "pos_weight")
        C.check_broadcastable(pos_weight, "pos_weight", input.shape, "input")
        C.check_values_in(pos_weight, "pos_weight", 0.0, float("inf"))
    x = C.upcast(input)
    soft = target.to(x.dtype) * (1.0 - smoothing) + smoothing / 2.0
    loss = F.binary_cross_entropy_with_logits(
        x, soft, pos_weight=None if pos_weight is None else pos_weight.to(x.dtype), reduction="none"
    )
    return C.reduce_loss(loss, reduction)


class BinaryCrossEntropyWithSmoothing(nn.Module):
    """Module form of :func:`binary_cross_entropy_with_smoothing`; ``pos_weight`` is a buffer.

    Example:
        >>> criterion = BinaryCrossEntropyWithSmoothing(smoothing=0.2)
        >>> criterion(torch.zeros(3), torch.ones(3))
        tensor(0.6931)
    """

    def __init__(self, *, smoothing: float = 0.1, pos_weight: Tensor | None = None, reduction: str = "mean") -> None:
        super().__init__()
        self.smoothing = _check_smoothing(smoothing)
        self.reduction = C.check_reduction(reduction)
        self.register_buffer(
            "pos_weight", C.buffer_copy(pos_weight, "pos_weight")
        )

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_smoothing(
            input, target, smoothing=self.smoothing, pos_weight=self.pos_weight, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"smoothing={self.smoothing}, reduction={self.reduction!r}"


def _check_kd_reduction(reduction: str) -> str:
    if reduction == "mean":
        raise ValueError(
            "reduction must be one of ('none', 'batchmean', 'sum'), got 'mean': averaging over the "
            "classes too shrinks the KL term by 1/C; use 'batchmean'"
        )
    return C.check_reduction(reduction, ("none", "batchmean", "sum"))


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    *,
    temperature: float = 4.0,
    target: Tensor | None = None,
    hard_weight: float = 0.5,
    reduction: str = "batchmean",
) -> Tensor:
    r"""Knowledge-distillation loss: KL divergence between temperature-softened distributions.

    .. math::

        \ell_{\text{soft}} = T^2\, \mathrm{KL}\big(\operatorname{softmax}(t / T)\;\big\|\;
        \operatorname{softmax}(s / T)\big)

    with student logits :math:`s`, teacher logits :math:`t` and temperature :math:`T`
    :cite:p:`hinton2015distilling`. The factor :math:`T^2` keeps the size of the soft-target
    gradients roughly independent of :math:`T`. When ``target`` (class indices) is given, the
    hard-label cross-entropy of the student (at temperature 1) is mixed in:

    .. math::

        \ell = (1 - \lambda)\, \ell_{\text{soft}} + \lambda\, \mathrm{CE}(s, y),
        \qquad \lambda = \texttt{hard\_weight}.

    The KL is computed from log-probabilities on both sides (``log_target=True``), so it stays
    finite for saturated teachers. Gradients flow into ``teacher_logits`` too if it requires
    them; compute the teacher under ``torch.no_grad()`` for the usual one-way distillation.

    ``reduction="batchmean"`` averages the per-distribution loss over the N (times d1, ...)
    distributions, which for (N, C) inputs is torch's ``kl_div(..., reduction="batchmean")``.
    There is deliberately no ``"mean"``: averaging over the classes as well shrinks the loss by
    1/C, a common bug.

    Args:
        student_logits: logits of shape (N, C) or (N, C, d1, ...).
        teacher_logits: logits of the same shape.
        temperature: :math:`T > 0`.
        target: optional class indices (N,) / (N, d1, ...) for the hard-label term.
        hard_weight: :math:`\lambda \in [0, 1]`, used only with ``target``.
        reduction: ``"none"`` | ``"batchmean"`` | ``"sum"``.

    Shape:
        - student_logits, teacher_logits: (N, C) or (N, C, d1, ...)
        - output: scalar, or (N, d1, ...) with ``reduction="none"``

    Example:
        >>> s = torch.tensor([[1.0, 0.0, -1.0]])
        >>> distillation_loss(s, s.clone(), temperature=2.0)
        tensor(0.)
    """
    reduction = _check_kd_reduction(reduction)
    temperature = C.check_number(temperature, "temperature", low=0.0, low_open=True)
    C.check_floating(student_logits, "student_logits")
    C.check_floating(teacher_logits, "teacher_logits")
    C.check_min_ndim(student_logits, "student_logits", 2, "(N, C) or (N, C, d1, ...)")
    C.check_same_shape(student_logits, teacher_logits, ("student_logits", "teacher_logits"))
    if target is not None:
        hard_weight = C.check_number(hard_weight, "hard_weight", low=0.0, high=1.0)
        target = C.check_class_target(student_logits, target)

    s = C.upcast(student_logits)
    t = teacher_logits.to(s.dtype)
    log_p_student = F.log_softmax(s / temperature, dim=1)
    log_p_teacher = F.log_softmax(t / temperature, dim=1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="none", log_target=True).sum(dim=1)
    loss = temperature**2 * kl
    if target is not None:
        ce = F.cross_entropy(s, target, reduction="none")
        loss = (1.0 - hard_weight) * loss + hard_weight * ce
    return C.reduce_loss(loss, "mean" if reduction == "batchmean" else reduction)


class DistillationLoss(nn.Module):
    """Module form of :func:`distillation_loss`.

    ``forward(student_logits, teacher_logits, target=None)``.

    Example:
        >>> criterion = DistillationLoss(temperature=4.0)
        >>> criterion(torch.zeros(2, 5), torch.zeros(2, 5))
        tensor(0.)
    """

    def __init__(self, *, temperature: float = 4.0, hard_weight: float = 0.5, reduction: str = "batchmean") -> None:
        super().__init__()
        self.temperature = C.check_number(temperature, "temperature", low=0.0, low_open=True)
        self.hard_weight = C.check_number(hard_weight, "hard_weight", low=0.0, high=1.0)
        self.reduction = _check_kd_reduction(reduction)

    def forward(self, student_logits: Tensor, teacher_logits: Tensor, target: Tensor | None = None) -> Tensor:
        return distillation_loss(
            student_logits,
            teacher_logits,
            temperature=self.temperature,
            target=target,
            hard_weight=self.hard_weight,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, hard_weight={self.hard_weight}, reduction={self.reduction!r}"

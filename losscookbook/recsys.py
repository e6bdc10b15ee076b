r"""Multi-task losses of recommender systems: ESMM and DIEN's auxiliary loss.

Chapter: *Multi-task recommendation: ESMM and DIEN*.

**ESMM** (entire space multi-task model) estimates the post-click conversion rate
:math:`p_{CVR} = P(\text{conversion} \mid \text{click}, x)` without training on clicked
impressions only. It models :math:`p_{CTCVR} = p_{CTR}\, p_{CVR}` and trains on two labels that
exist for *every* impression, the click and the conversion (which implies a click); the CVR
tower gets no loss of its own. Here both probabilities are handled as logarithms, so that the
loss and its gradients stay finite for logits of any size.

**DIEN**'s auxiliary loss supervises every hidden state :math:`h_t` of the interest-extractor
GRU with the item the user clicked next, against a sampled item the user did not click, instead
of leaving the early steps to the gradient that trickles back from the final prediction.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks as C

__all__ = [
    "ESMMProbabilities",
    "esmm_probabilities",
    "ESMMParts",
    "esmm_loss_parts",
    "esmm_loss",
    "ESMMLoss",
    "dien_auxiliary_loss",
    "DIENAuxiliaryLoss",
]

DIEN_REDUCTIONS = ("none", "mean", "sum", "batchmean")


# --------------------------------------------------------------------------- ESMM
class ESMMProbabilities(NamedTuple):
    """The three rates of ESMM for each impression, from :func:`esmm_probabilities`."""

    ctr: Tensor  # P(click | x)
    cvr: Tensor  # P(conversion | click, x)
    ctcvr: Tensor  # P(click and conversion | x) = ctr * cvr


class ESMMParts(NamedTuple):
    """The two terms of the ESMM objective, each reduced, from :func:`esmm_loss_parts`."""

    ctr: Tensor  # BCE(click, pCTR)
    ctcvr: Tensor  # BCE(click & conversion, pCTCVR)


def _check_logits(ctr_logit: Tensor, cvr_logit: Tensor) -> None:
    C.check_floating(ctr_logit, "ctr_logit")
    C.check_floating(cvr_logit, "cvr_logit")
    C.check_same_shape(ctr_logit, cvr_logit, ("ctr_logit", "cvr_logit"))
    C.check_same_device(("ctr_logit", ctr_logit), ("cvr_logit", cvr_logit))


def _log_rates(ctr_logit: Tensor, cvr_logit: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``log pCTR``, ``log(1 - pCTR)``, ``log pCTCVR`` and ``log(1 - pCTCVR)``, in the compute dtype.

    ``1 - pq = (1 - p) + p (1 - q)``, so ``log(1 - pq)`` is a ``logaddexp`` of two log-sigmoids:
    exact everywhere, with no ``log(0)`` even when both probabilities round to 1.
    """
    a = C.upcast(ctr_logit)
    b = cvr_logit.to(a.dtype)
    log_ctr, log_not_ctr = F.logsigmoid(a), F.logsigmoid(-a)
    log_ctcvr = log_ctr + F.logsigmoid(b)
    log_not_ctcvr = torch.logaddexp(log_not_ctr, log_ctr + F.logsigmoid(-b))
    return log_ctr, log_not_ctr, log_ctcvr, log_not_ctcvr


def esmm_probabilities(ctr_logit: Tensor, cvr_logit: Tensor) -> ESMMProbabilities:
    r"""pCTR, pCVR and pCTCVR of ESMM from the logits of its two towers.

    .. math::

        p_{CTR} = \sigma(a), \qquad p_{CVR} = \sigma(b), \qquad
        p_{CTCVR} = p_{CTR}\, p_{CVR}

    :cite:p:`ma2018entire`. By construction every rate is in [0, 1] and
    :math:`p_{CTCVR} \le p_{CTR}` (also after rounding). These are for prediction; the loss
    works with their logarithms (see :func:`esmm_loss`). Compare the DIVISION baseline, which estimates pCVR as the
    ratio of two separately trained models and can exceed 1.

    Args:
        ctr_logit: logit :math:`a` of the CTR tower, any shape.
        cvr_logit: logit :math:`b` of the CVR tower, the same shape.

    Returns:
        ``ESMMProbabilities(ctr, cvr, ctcvr)``, each of the logits' shape (float32 for
        half-precision logits).

    Example:
        >>> p = esmm_probabilities(torch.tensor([0.0]), torch.tensor([2.0]))
        >>> [round(float(v), 4) for v in p]
        [0.5, 0.8808, 0.4404]
    """
    _check_logits(ctr_logit, cvr_logit)
    a = C.upcast(ctr_logit)
    b = cvr_logit.to(a.dtype)
    ctr, cvr = torch.sigmoid(a), torch.sigmoid(b)
    return ESMMProbabilities(ctr, cvr, ctr * cvr)  # a rounded product of numbers in [0, 1] never exceeds either


def _esmm_terms(ctr_logit: Tensor, cvr_logit: Tensor, click: Tensor, conversion: Tensor) -> tuple[Tensor, Tensor]:
    C.check_tensor(click, "click")
    C.check_tensor(conversion, "conversion")
    C.check_same_shape(ctr_logit, click, ("ctr_logit", "click"))
    C.check_same_shape(ctr_logit, conversion, ("ctr_logit", "conversion"))
    C.check_same_device(("ctr_logit", ctr_logit), ("click", click), ("conversion", conversion))
    C.check_nested_labels(click, conversion, ("click", "conversion"))
    log_ctr, log_not_ctr, log_ctcvr, log_not_ctcvr = _log_rates(ctr_logit, cvr_logit)
    y = click.to(log_ctr.dtype)
    z = conversion.to(log_ctr.dtype) * y  # the CTCVR label: clicked and converted
    ctr = -(y * log_ctr + (1.0 - y) * log_not_ctr)
    ctcvr = -(z * log_ctcvr + (1.0 - z) * log_not_ctcvr)
    return ctr, ctcvr


def esmm_loss_parts(
    ctr_logit: Tensor, cvr_logit: Tensor, click: Tensor, conversion: Tensor, *, reduction: str = "mean"
) -> ESMMParts:
    r"""The two terms of :func:`esmm_loss`, reduced separately (for logging).

    Args and Shape as in :func:`esmm_loss`.

    Returns:
        ``ESMMParts(ctr, ctcvr)``: the binary cross-entropy of the click under pCTR and of
        click-and-conversion under pCTCVR.

    Example:
        >>> parts = esmm_loss_parts(torch.zeros(2), torch.zeros(2), torch.tensor([1, 0]), torch.tensor([0, 0]))
        >>> round(float(parts.ctr), 4), round(float(parts.ctcvr), 4)
        (0.6931, 0.2877)
    """
    reduction = C.check_reduction(reduction)
    _check_logits(ctr_logit, cvr_logit)
    ctr, ctcvr = _esmm_terms(ctr_logit, cvr_logit, click, conversion)
    return ESMMParts(C.reduce_loss(ctr, reduction), C.reduce_loss(ctcvr, reduction))


def esmm_loss(
    ctr_logit: Tensor,
    cvr_logit: Tensor,
    click: Tensor,
    conversion: Tensor,
    *,
    ctr_weight: float = 1.0,
    reduction: str = "mean",
) -> Tensor:
    r"""The ESMM objective over all impressions, from the two towers' logits, in log space.

    With click :math:`y`, conversion :math:`z` (observed only after a click, so
    :math:`z \le y`), :math:`p_{CTR} = \sigma(a)` and :math:`p_{CTCVR} = \sigma(a)\,\sigma(b)`,
    the loss of one impression is

    .. math::

        \ell = w\, \mathrm{BCE}(y, p_{CTR}) + \mathrm{BCE}(y z, p_{CTCVR}),
        \qquad \mathrm{BCE}(t, p) = -t \log p - (1 - t) \log(1 - p),

    :cite:p:`ma2018entire` (:math:`w` = ``ctr_weight``, 1 in the paper). There is no loss on
    pCVR itself: the CVR tower learns only through the product, from impressions whose labels
    are all observed, so it is never trained on the clicked subset alone.

    Both terms are computed from log-probabilities: :math:`\log p_{CTCVR} = \log\sigma(a) +
    \log\sigma(b)` and :math:`\log(1 - p_{CTCVR}) = \operatorname{logaddexp}(\log\sigma(-a),\,
    \log\sigma(a) + \log\sigma(-b))` (from :math:`1 - pq = (1 - p) + p(1 - q)`). The loss and its
    gradients are finite for logits of any finite size, where ``BCE(sigmoid(a) * sigmoid(b))``
    takes ``log(0)`` as soon as the product rounds to 0 or 1.

    Args:
        ctr_logit: logit :math:`a` of the CTR tower, any shape (half precision is computed in
            float32).
        cvr_logit: logit :math:`b` of the CVR tower, the same shape.
        click: 0/1 click labels, the same shape (float, integer or bool).
        conversion: 0/1 conversion labels, the same shape; 1 only where ``click`` is 1
            (a conversion without a click raises ValueError; checked eagerly, skipped under
            ``torch.compile``).
        ctr_weight: weight :math:`w \ge 0` of the CTR term.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``; ``"mean"`` averages over impressions
            (0 for an empty batch).

    Shape:
        - ctr_logit, cvr_logit, click, conversion: (*), the same shape, usually (N,)
        - output: scalar, or (*) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision logits). :func:`esmm_loss_parts` gives the two
        terms separately.

    Example:
        >>> a, b = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([0.0, 1.0, -3.0])
        >>> y, z = torch.tensor([1, 0, 1]), torch.tensor([1, 0, 0])
        >>> p = torch.sigmoid(a) * torch.sigmoid(b)
        >>> reference = (torch.nn.functional.binary_cross_entropy_with_logits(a, y.float())
        ...              + torch.nn.functional.binary_cross_entropy(p, (y * z).float()))
        >>> torch.allclose(esmm_loss(a, b, y, z), reference)
        True
    """
    reduction = C.check_reduction(reduction)
    ctr_weight = C.check_number(ctr_weight, "ctr_weight", low=0.0)
    _check_logits(ctr_logit, cvr_logit)
    ctr, ctcvr = _esmm_terms(ctr_logit, cvr_logit, click, conversion)
    return C.reduce_loss(ctr_weight * ctr + ctcvr, reduction)


class ESMMLoss(nn.Module):
    """Module form of :func:`esmm_loss`: ``forward(ctr_logit, cvr_logit, click, conversion)``.

    Example:
        >>> criterion = ESMMLoss()
        >>> criterion(torch.zeros(2), torch.zeros(2), torch.tensor([1, 0]), torch.tensor([0, 0]))
        tensor(0.9808)
    """

    def __init__(self, *, ctr_weight: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.ctr_weight = C.check_number(ctr_weight, "ctr_weight", low=0.0)
        self.reduction = C.check_reduction(reduction)

    def forward(self, ctr_logit: Tensor, cvr_logit: Tensor, click: Tensor, conversion: Tensor) -> Tensor:
        return esmm_loss(
            ctr_logit, cvr_logit, click, conversion, ctr_weight=self.ctr_weight, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"ctr_weight={self.ctr_weight}, reduction={self.reduction!r}"


# --------------------------------------------------------------------------- DIEN
def dien_auxiliary_loss(
    hidden: Tensor,
    clicked: Tensor,
    negative: Tensor,
    *,
    mask: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""DIEN's auxiliary loss: each interest state should score the next click above a non-click.

    For a sequence of interest states :math:`h_t` (the outputs of the interest-extractor GRU),
    the embedding :math:`e_{t+1}` of the behaviour that followed step :math:`t` and the
    embedding :math:`\hat e_{t+1}` of an item sampled from those the user did not click,

    .. math::

        \ell_t = -\big[\log\sigma(\langle h_t, e_{t+1}\rangle)
                 + \log\big(1 - \sigma(\langle h_t, \hat e_{t+1}\rangle)\big)\big]

    :cite:p:`zhou2019deep`, computed as ``-(logsigmoid(s) + logsigmoid(-s_hat))`` from the
    inner products, so it is finite for scores of any size. The model is trained on
    :math:`L = L_{target} + \alpha L_{aux}`.

    **Alignment: the caller shifts.** The three tensors are paired index by index: ``clicked[:,
    t]`` must already be the embedding of the item clicked *after* the step that produced
    ``hidden[:, t]``. For GRU outputs ``h`` of a behaviour sequence with embeddings ``e`` (both
    (N, T, D)), sampled negatives ``e_neg`` and a validity mask ``m``, call
    ``dien_auxiliary_loss(h[:, :-1], e[:, 1:], e_neg[:, 1:], mask=m[:, 1:])``: the last state
    has no next click, and ``m[:, 1:]`` marks the pairs whose next step exists.

    Args:
        hidden: interest states :math:`h_t`, (N, T, D) (half precision is computed in float32).
        clicked: embeddings :math:`e_{t+1}` of the next clicked items, (N, T, D).
        negative: embeddings :math:`\hat e_{t+1}` of sampled non-clicked items, (N, T, D).
        mask: optional bool (N, T), True at the steps that count (padding is False). Padded
            steps contribute exactly 0 to the loss and receive zero gradients.
        reduction: ``"mean"`` averages over the valid steps; ``"batchmean"`` sums over steps
            and averages over the N sequences (the paper's :math:`\frac{1}{N}\sum_i\sum_t`);
            ``"sum"``; ``"none"`` gives the (N, T) per-step losses, 0 at padded steps. A batch
            with no valid step gives 0 with zero gradients.

    Shape:
        - hidden, clicked, negative: (N, T, D)
        - mask: (N, T), bool
        - output: scalar, or (N, T) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input).

    Example:
        >>> h = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])          # N=1, T=2, D=2
        >>> pos, neg = h.clone(), -h                                 # next clicks aligned with h
        >>> dien_auxiliary_loss(h, pos, neg)                         # -2 log sigmoid(1)
        tensor(0.6265)
        >>> dien_auxiliary_loss(h, pos, neg, mask=torch.tensor([[True, False]]), reduction="sum")
        tensor(0.6265)
    """
    reduction = C.check_reduction(reduction, DIEN_REDUCTIONS)
    C.check_floating(hidden, "hidden")
    C.check_floating(clicked, "clicked")
    C.check_floating(negative, "negative")
    if hidden.dim() != 3:
        raise ValueError(f"hidden must have shape (N, T, D), got {tuple(hidden.shape)}")
    C.check_same_shape(hidden, clicked, ("hidden", "clicked"))
    C.check_same_shape(hidden, negative, ("hidden", "negative"))
    tensors = [("hidden", hidden), ("clicked", clicked), ("negative", negative)]
    if mask is not None:
        C.check_tensor(mask, "mask")
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor, got dtype {mask.dtype}")
        if mask.shape != hidden.shape[:2]:
            raise ValueError(f"mask must have shape (N, T) = {tuple(hidden.shape[:2])}, got {tuple(mask.shape)}")
        tensors.append(("mask", mask))
    C.check_same_device(*tensors)
    h = C.upcast(hidden)
    pos_score = (h * clicked.to(h.dtype)).sum(-1)
    neg_score = (h * negative.to(h.dtype)).sum(-1)
    loss = -(F.logsigmoid(pos_score) + F.logsigmoid(-neg_score))
    if mask is None:
        count: Tensor | float = float(loss.numel())
    else:
        loss = torch.where(mask, loss, torch.zeros_like(loss))
        count = mask.sum().to(loss.dtype)
    if reduction == "batchmean":
        return C.reduce_loss(loss, "mean", float(loss.shape[0]))
    return C.reduce_loss(loss, reduction, count)


class DIENAuxiliaryLoss(nn.Module):
    """Module form of :func:`dien_auxiliary_loss`: ``forward(hidden, clicked, negative, mask=None)``.

    Example:
        >>> criterion = DIENAuxiliaryLoss()
        >>> criterion(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))
        tensor(1.3863)
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = C.check_reduction(reduction, DIEN_REDUCTIONS)

    def forward(self, hidden: Tensor, clicked: Tensor, negative: Tensor, mask: Tensor | None = None) -> Tensor:
        return dien_auxiliary_loss(hidden, clicked, negative, mask=mask, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

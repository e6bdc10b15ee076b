r"""Metric learning: pairwise distances, pair and triplet losses, in-batch mining, margin softmax.

Chapter: *Metric learning*. An embedding is trained so that distances mean something: samples
of one identity close together, different identities far apart. Pair losses (contrastive)
and triplet losses state this directly; in-batch mining picks the informative triplets from a
batch of ``(embeddings, labels)``; margin-softmax losses (CosFace, ArcFace) reach the same goal
as a classification over the training identities.

Conventions that hold for the whole module:

- **Distances are computed on the embeddings as given.** Nothing is L2-normalised silently;
  FaceNet and most face-verification recipes normalise the embeddings first, so do it yourself
  (``torch.nn.functional.normalize(x, dim=1)``) when you want that. Only
  :func:`margin_softmax_loss` normalises, because cosines are its definition.
- **Memory is O(B^2) for a batch of B embeddings**, never O(B^3), with a small constant: the
  mining rules select their triplets without gradients, in blocks of anchors, from each
  row's sorted negative distances (batch-all and semi-hard become binary searches in that
  row), and the loss is then a weighted sum of the (B, B) distances. Only the distance matrix
  and one (B, B) weight matrix are kept for the backward pass, so B = 4096 runs on a laptop.
  The selection is piecewise constant, so this gradient is the same as autograd's through a
  sort or a ``max``; double backward is not supported.
- Half-precision inputs (and autocast) are computed in float32, the distance matrix included.
- ``labels`` are integer class indices of shape (B,); two samples are a positive pair when
  their labels are equal and they are different samples.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx, once_differentiable

from . import _checks as C

__all__ = [
    "pairwise_distances",
    "contrastive_loss",
    "ContrastiveLoss",
    "triplet_loss",
    "TripletLoss",
    "margin_ranking_loss",
    "MarginRankingLoss",
    "batch_all_triplet_loss",
    "BatchAllTripletLoss",
    "batch_hard_triplet_loss",
    "BatchHardTripletLoss",
    "semi_hard_triplet_loss",
    "SemiHardTripletLoss",
    "mine_triplets",
    "MINING_STRATEGIES",
    "margin_softmax_loss",
    "MarginSoftmaxLoss",
]

#: The strategies of :func:`mine_triplets`.
MINING_STRATEGIES = ("all", "hard", "semihard", "easy")

#: Squared distances at or below this are treated as exactly 0 by :func:`pairwise_distances`
#: (its square root would have an unbounded gradient there). Its square root, 1e-6, bounds the
#: error this makes in a distance.
DISTANCE_EPS = 1e-12

# Elements of the (rows, B) blocks that the mining rules build at a time (1 MiB of float32).
_CHUNK_ELEMENTS = 2**18


# --------------------------------------------------------------------------- helpers
def _check_margin(margin: float) -> float:
    return C.check_number(margin, "margin", low=0.0)


def _full_precision(tensor: Tensor) -> AbstractContextManager:
    """A context that switches autocast off for ``tensor``'s device (matmuls stay float32)."""
    return torch.autocast(device_type=tensor.device.type, enabled=False)


def _norm(squared: Tensor) -> Tensor:
    """``sqrt(squared)`` with a zero gradient (not NaN) where ``squared`` is exactly 0.

    For a squared norm of a *difference*, the gradient at any non-zero difference is the unit
    vector, so no epsilon is needed; only the point 0 itself is special.
    """
    positive = squared > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, squared, torch.ones_like(squared))), 0.0)


def _check_embeddings(embeddings: Tensor, name: str = "embeddings", layout: str = "(B, D)") -> Tensor:
    C.check_floating(embeddings, name)
    if embeddings.dim() != 2:
        raise ValueError(f"{name} must have shape {layout}, got {C._shape(embeddings.shape)}")
    return embeddings


def _check_mining(embeddings: Tensor, labels: Tensor, *, every_anchor_needs_positive: bool) -> None:
    """Shapes, dtypes, devices, finite embeddings and usable labels for the mining losses."""
    _check_embeddings(embeddings)
    C.check_integer(labels, "labels")
    if labels.shape != (embeddings.shape[0],):
        raise ValueError(
            f"labels must have shape (B,) = ({embeddings.shape[0]},) to match embeddings "
            f"{C._shape(embeddings.shape)}, got {C._shape(labels.shape)}"
        )
    C.check_same_device(("embeddings", embeddings), ("labels", labels))
    C.check_finite(embeddings, "embeddings")
    C.check_triplet_labels(labels, "labels", every_anchor_needs_positive=every_anchor_needs_positive)


def _chunk_rows(batch: int) -> int:
    """Rows per block of the (rows, B) temporaries built while mining (about 1 MiB of float32)."""
    return max(1, _CHUNK_ELEMENTS // max(1, batch))


def _masks(labels: Tensor, start: int = 0, stop: int | None = None) -> tuple[Tensor, Tensor]:
    """Rows ``start:stop`` of the (B, B) masks of positive pairs (same label, different sample)
    and of negatives (different label)."""
    rows = labels[start:stop]
    same = rows.unsqueeze(1) == labels.unsqueeze(0)
    columns = torch.arange(labels.shape[0], device=labels.device)
    is_self = columns.unsqueeze(0) == (columns[start:stop]).unsqueeze(1)
    return same & ~is_self, ~same


def _sorted_negatives(dist: Tensor, negative: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Each row's negative distances in ascending order, the non-negatives (+inf) last.

    Returns the sorted values, the column each came from, and the number of negatives per row.
    """
    values, order = torch.sort(torch.where(negative, dist, math.inf), dim=1)
    return values, order, negative.sum(dim=1)


def _semi_hard_positions(dist: Tensor, sorted_neg: Tensor, num_neg: Tensor) -> Tensor:
    """For every (anchor a, candidate positive p), the position in row a of ``sorted_neg`` of
    the closest negative farther than ``dist[a, p]``; the farthest negative when there is none."""
    above = torch.searchsorted(sorted_neg, dist.contiguous(), right=True)  # first value > d(a, p)
    last = (num_neg - 1).clamp(min=0).unsqueeze(1)
    return torch.minimum(above, last)


def _hard_indices(dist: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per anchor: the farthest positive, the closest negative, and whether both exist."""
    hardest_pos, hardest_neg, valid = [], [], []
    for start in range(0, dist.shape[0], _chunk_rows(dist.shape[0])):
        rows = dist[start : start + _chunk_rows(dist.shape[0])]
        positive, negative = _masks(labels, start, start + rows.shape[0])
        hardest_pos.append(torch.where(positive, rows, -math.inf).argmax(dim=1))
        hardest_neg.append(torch.where(negative, rows, math.inf).argmin(dim=1))
        valid.append(positive.any(dim=1) & negative.any(dim=1))
    return torch.cat(hardest_pos), torch.cat(hardest_neg), torch.cat(valid)


def _semi_hard_selection(dist: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """The (B, B) column of the semi-hard negative of every (anchor, positive) and the mask of
    the anchor-positive pairs that have one (every pair whose anchor has a negative)."""
    chosen, pairs = [], []
    for start in range(0, dist.shape[0], _chunk_rows(dist.shape[0])):
        rows = dist[start : start + _chunk_rows(dist.shape[0])]
        positive, negative = _masks(labels, start, start + rows.shape[0])
        sorted_neg, order, num_neg = _sorted_negatives(rows, negative)
        chosen.append(order.gather(1, _semi_hard_positions(rows, sorted_neg, num_neg)))
        pairs.append(positive & (num_neg > 0).unsqueeze(1))
    return torch.cat(chosen), torch.cat(pairs)


def _semi_hard_coefficients(dist: Tensor, labels: Tensor, margin: float) -> tuple[Tensor, Tensor, Tensor]:
    """The semi-hard loss as a linear function of the distances: ``(W, active, pairs)`` with the
    summed loss ``(W * dist).sum() + margin * active.sum()``; ``W[a, p] = 1`` and
    ``W[a, n*] -= 1`` for each pair (a, p) with a positive loss; ``active`` (B,) and ``pairs``
    (B,) count each anchor's pairs with a positive loss and all its anchor-positive pairs."""
    weights, active, pairs = torch.zeros_like(dist), [], []
    for start in range(0, dist.shape[0], _chunk_rows(dist.shape[0])):
        rows = dist[start : start + _chunk_rows(dist.shape[0])]
        positive, negative = _masks(labels, start, start + rows.shape[0])
        sorted_neg, order, num_neg = _sorted_negatives(rows, negative)
        position = _semi_hard_positions(rows, sorted_neg, num_neg)
        pair = positive & (num_neg > 0).unsqueeze(1)
        hinge = pair & (rows - sorted_neg.gather(1, position) + margin > 0)
        weight = hinge.to(dist.dtype)
        weights[start : start + rows.shape[0]] = weight.scatter_add_(1, order.gather(1, position), -weight)
        active.append(hinge.sum(dim=1))
        pairs.append(pair.sum(dim=1))
    return weights, torch.cat(active), torch.cat(pairs)


def _linear_in_distances(weight: Tensor, dist: Tensor, constant: Tensor) -> Tensor:
    """Per-anchor ``(weight * dist).sum(1) + constant`` without a (B, B) temporary."""
    with _full_precision(dist):
        return torch.bmm(weight.unsqueeze(1), dist.unsqueeze(2)).reshape(-1) + constant


def _batch_all_coefficients(dist: Tensor, labels: Tensor, margin: float) -> tuple[Tensor, Tensor, Tensor]:
    """The batch-all loss as a linear function of the distances, without a (B, B, B) tensor.

    Returns ``(W, active, valid)``: the sum of the positive triplet losses is
    ``(W * dist).sum() + margin * active.sum()``, with ``W[a, p]`` the number of active
    triplets of the pair (a, p) and ``-W[a, n]`` the number of active triplets with negative n;
    ``active`` (B,) counts each anchor's active triplets, ``valid`` (B,) its valid triplets.
    A triplet is active when d(a, n) < d(a, p) + m. With each row's negative distances sorted,
    a binary search counts the ``c`` negatives below each threshold d(a, p) + m; they are the
    first ``c`` of the sorted row, so the number of active triplets of the k-th closest
    negative is the number of pairs with ``c > k``: a cumulative sum over a histogram of the
    counts, scattered back to the negatives' columns.
    """
    weights, active, valid = torch.zeros_like(dist), [], []
    batch = dist.shape[0]
    for start in range(0, batch, _chunk_rows(batch)):
        rows = dist[start : start + _chunk_rows(batch)]
        positive, negative = _masks(labels, start, start + rows.shape[0])
        sorted_neg, order, num_neg = _sorted_negatives(rows, negative)
        below = torch.where(positive, torch.searchsorted(sorted_neg, rows + margin, right=False), 0)
        num_pos = positive.sum(dim=1)
        histogram = torch.zeros_like(rows).scatter_add_(1, below, positive.to(rows.dtype))
        histogram[:, 0] -= num_pos  # cumsum[k] = #{p: c_p <= k} - #p = -#{p: c_p > k}
        per_negative = torch.cumsum(histogram, dim=1)  # 0 past the negatives, where c_p <= k
        block = torch.zeros_like(rows).scatter_(1, order, per_negative)
        weights[start : start + rows.shape[0]] = torch.where(positive, below.to(rows.dtype), block)
        active.append(below.sum(dim=1))
        valid.append(num_pos * num_neg)
    return weights, torch.cat(active), torch.cat(valid)


# --------------------------------------------------------------------------- distances
class _Distances(torch.autograd.Function):
    r"""Gram-form distances with a closed-form backward that keeps only the inputs and the result.

    For :math:`d^2_{ij} = n_i + n'_j - 2 x_i \cdot y_j` and an upstream gradient :math:`G` on
    :math:`d^2` (:math:`G / (2 d)` on the distances, 0 where :math:`d = 0`),
    :math:`\partial/\partial x = 2\,\mathrm{diag}(G 1)\, x - 2 G y` and
    :math:`\partial/\partial y = 2\,\mathrm{diag}(G^\top 1)\, y - 2 G^\top x`; with
    :math:`y = x` the two add up. Autograd through the formula would keep several (N, M)
    intermediates for the backward pass; this keeps one.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, y: Tensor | None, squared: bool) -> Tensor:  # type: ignore[override]
        with _full_precision(x):
            center = x.mean(dim=0, keepdim=True) if x.shape[0] > 0 else torch.zeros_like(x[:1])
            xs = x - center  # distances do not change; the cancellation in the formula does
            if y is None:
                out = xs @ xs.T
                norms = torch.diagonal(out).clone()
                ys = None
                out.mul_(-2).add_(norms.unsqueeze(1)).add_(norms.unsqueeze(0)).clamp_(min=0)
                out.fill_diagonal_(0)
            else:
                ys = y - center
                out = torch.addmm((xs * xs).sum(1).unsqueeze(1), xs, ys.T, alpha=-2)
                out.add_((ys * ys).sum(1).unsqueeze(0)).clamp_(min=0)
        if not squared:
            out.masked_fill_(out <= DISTANCE_EPS, 0).sqrt_()
        ctx.squared = squared
        ctx.save_for_backward(xs, ys, None if squared else out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        xs, ys, dist = ctx.saved_tensors  # type: ignore[attr-defined]
        with _full_precision(xs):
            if not ctx.squared:  # type: ignore[attr-defined]
                grad = (grad / dist).mul_(0.5).masked_fill_(dist == 0, 0)
            if ys is None:
                weight = (grad.sum(1) + grad.sum(0)).unsqueeze(1)
                grad_x = 2 * (weight * xs - grad @ xs - grad.T @ xs)
                return grad_x, None, None
            grad_x = 2 * (grad.sum(1).unsqueeze(1) * xs - grad @ ys) if ctx.needs_input_grad[0] else None
            grad_y = 2 * (grad.sum(0).unsqueeze(1) * ys - grad.T @ xs) if ctx.needs_input_grad[1] else None
            return grad_x, grad_y, None


def pairwise_distances(x: Tensor, y: Tensor | None = None, *, squared: bool = False) -> Tensor:
    r"""Euclidean distances between the rows of ``x`` and the rows of ``y`` (default: ``x``).

    .. math::

        D_{ij}^2 = \lVert x_i \rVert^2 + \lVert y_j \rVert^2 - 2\, x_i \cdot y_j

    from one matrix product (the Gram-matrix form, O(N M) memory), clamped at 0 because
    rounding can make it slightly negative. Both inputs are first shifted by the same vector
    (the mean of ``x``), which leaves distances unchanged and reduces the cancellation in the
    formula. With ``y=None`` the squared norms are the Gram matrix's own diagonal and the
    diagonal of the result is exactly 0.

    ``squared=False`` returns :math:`D_{ij}`, with squared values at or below
    ``DISTANCE_EPS`` (1e-12) set to exactly 0: there the square root's gradient would be
    unbounded, so the distance and its gradient are 0 instead (an error of at most 1e-6 in the
    distance). The gradient is therefore finite everywhere, at zero distance and on the
    diagonal included. The product is computed in float32 for half-precision inputs and with
    autocast switched off, since a bf16 Gram matrix would lose most distances to rounding.
    The backward pass is written in closed form and keeps only the centred inputs and the
    result (first-order gradients; double backward is not supported).

    The Gram form is fast but not exact for nearly coincident points: in float32 a distance
    below about :math:`10^{-3}` times the embeddings' norm is mostly rounding. For the
    distance of given pairs, :func:`triplet_loss` and :func:`contrastive_loss` use the
    difference of the vectors instead.

    Args:
        x: (N, D) floating.
        y: (M, D) floating, or None for ``x`` itself.
        squared: return squared distances (differentiable everywhere without any threshold).

    Shape:
        - x: (N, D), y: (M, D)
        - output: (N, M)

    Returns:
        The distances (float32 for half-precision input, the input's dtype otherwise).

    Example:
        >>> x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
        >>> pairwise_distances(x)
        tensor([[0., 5.],
                [5., 0.]])
        >>> pairwise_distances(x, torch.tensor([[0.0, 1.0]]), squared=True)
        tensor([[ 1.],
                [18.]])
    """
    _check_embeddings(x, "x")
    if y is not None:
        _check_embeddings(y, "y")
        if y.shape[1] != x.shape[1]:
            raise ValueError(
                f"y must have the same number of columns as x ({x.shape[1]}), got shape {C._shape(y.shape)}"
            )
        C.check_same_device(("x", x), ("y", y))
    xs = C.upcast(x)
    ys = None if y is None else y.to(xs.dtype)
    return _Distances.apply(xs, ys, bool(squared))


# --------------------------------------------------------------------------- pair and triplet losses
def contrastive_loss(
    x1: Tensor, x2: Tensor, same: Tensor, *, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    r"""Contrastive loss of a Siamese pair :cite:p:`hadsell2006dimensionality`.

    With :math:`D = \lVert x_1 - x_2 \rVert` and :math:`s = 1` for a similar pair, 0 for a
    dissimilar one,

    .. math::

        L = s\, \tfrac12 D^2 + (1 - s)\, \tfrac12 \max(0,\, m - D)^2 .

    Similar pairs are pulled to distance 0; dissimilar pairs are pushed out to the margin
    :math:`m` and left alone beyond it. **Label convention:** ``same`` is 1 (or True) for a
    *similar* pair. This is the opposite of the paper, whose :math:`Y` is 0 for similar
    pairs; we follow the meaning of the name. The distance is the plain difference norm
    (no Gram matrix), with a zero gradient at :math:`D = 0` instead of NaN.

    Args:
        x1: (N, D) embeddings of one side of each pair.
        x2: (N, D) embeddings of the other side.
        same: (N,) bool, or integer / floating with values 0 and 1: 1 for a similar pair.
        margin: :math:`m \ge 0`.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - x1, x2: (N, D); same: (N,)
        - output: scalar, or (N,) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input).

    Example:
        >>> x1 = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
        >>> x2 = torch.tensor([[0.6, 0.8], [0.3, 0.4]])
        >>> contrastive_loss(x1, x2, torch.tensor([True, False]), margin=1.0, reduction="none")
        tensor([0.5000, 0.1250])
    """
    reduction = C.check_reduction(reduction)
    margin = _check_margin(margin)
    _check_embeddings(x1, "x1", "(N, D)")
    C.check_floating(x2, "x2")
    C.check_same_shape(x1, x2, ("x1", "x2"))
    C.check_tensor(same, "same")
    if same.shape != x1.shape[:1]:
        raise ValueError(f"same must have shape (N,) = ({x1.shape[0]},), got {C._shape(same.shape)}")
    C.check_same_device(("x1", x1), ("x2", x2), ("same", same))
    if same.dtype != torch.bool:
        C.check_values_among(same, "same", (0.0, 1.0), " (1 marks a similar pair)")
    a, b = C.upcast(x1), C.upcast(x2)
    b = b.to(a.dtype)
    d2 = (a - b).pow(2).sum(dim=-1)
    dist = _norm(d2)
    s = same.to(a.dtype)
    loss = 0.5 * (s * d2 + (1 - s) * F.relu(margin - dist).pow(2))
    return C.reduce_loss(loss, reduction)


class ContrastiveLoss(nn.Module):
    """Module form of :func:`contrastive_loss`; ``forward(x1, x2, same)``.

    Example:
        >>> criterion = ContrastiveLoss(margin=1.0)
        >>> criterion(torch.zeros(1, 2), torch.ones(1, 2), torch.tensor([1]))
        tensor(1.)
    """

    def __init__(self, *, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = _check_margin(margin)
        self.reduction = C.check_reduction(reduction)

    def forward(self, x1: Tensor, x2: Tensor, same: Tensor) -> Tensor:
        return contrastive_loss(x1, x2, same, margin=self.margin, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"


def triplet_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    margin: float = 0.2,
    squared: bool = True,
    reduction: str = "mean",
) -> Tensor:
    r"""Triplet loss of given (anchor, positive, negative) embeddings :cite:p:`schroff2015facenet`.

    .. math::

        L = \max\bigl(0,\; d(a, p) - d(a, n) + m\bigr)

    with :math:`d` the squared Euclidean distance (``squared=True``, FaceNet's form, margin
    0.2 on L2-normalised embeddings) or the Euclidean distance (``squared=False``). The loss
    is 0 for an *easy* triplet, :math:`d(a, n) \ge d(a, p) + m`, and larger than :math:`m`
    for a *hard* one, :math:`d(a, n) < d(a, p)`.

    With ``squared=False`` this equals ``torch.nn.TripletMarginLoss(margin=m, p=2, eps=0)``.
    torch's default ``eps=1e-6`` adds eps to every coordinate of the *difference* before the
    norm, :math:`\lVert a - p + \epsilon \rVert`, which shifts each distance by up to
    :math:`\epsilon \sqrt{D}`; we do not. Here the gradient at :math:`a = p` is 0, not NaN.

    Args:
        anchor: ``(*, D)`` embeddings of the anchors.
        positive: embeddings of the positives, the shape of ``anchor``.
        negative: embeddings of the negatives, the shape of ``anchor``.
        margin: :math:`m \ge 0`.
        squared: use squared distances (default, FaceNet) or plain distances.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - anchor, positive, negative: ``(*, D)``, e.g. (N, D)
        - output: scalar, or (*) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input).

    Example:
        >>> a, p = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 0.5]])
        >>> triplet_loss(a, p, torch.tensor([[1.0, 0.0]]), margin=0.2)  # easy: 0.25 - 1 + 0.2 < 0
        tensor(0.)
        >>> triplet_loss(a, p, torch.tensor([[0.3, 0.0]]), margin=0.2)  # hard: d(a, n) < d(a, p)
        tensor(0.3600)
    """
    reduction = C.check_reduction(reduction)
    margin = _check_margin(margin)
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        C.check_floating(t, name)
    C.check_min_ndim(anchor, "anchor", 1, "(*, D)")
    C.check_same_shape(anchor, positive, ("anchor", "positive"))
    C.check_same_shape(anchor, negative, ("anchor", "negative"))
    C.check_same_device(("anchor", anchor), ("positive", positive), ("negative", negative))
    a = C.upcast(anchor)
    p, n = positive.to(a.dtype), negative.to(a.dtype)
    d_ap = (a - p).pow(2).sum(dim=-1)
    d_an = (a - n).pow(2).sum(dim=-1)
    if not squared:
        d_ap, d_an = _norm(d_ap), _norm(d_an)
    return C.reduce_loss(F.relu(d_ap - d_an + margin), reduction)


class TripletLoss(nn.Module):
    """Module form of :func:`triplet_loss`; ``forward(anchor, positive, negative)``.

    Example:
        >>> criterion = TripletLoss(margin=0.2, squared=False)
        >>> criterion(torch.zeros(1, 2), torch.ones(1, 2), torch.ones(1, 2))
        tensor(0.2000)
    """

    def __init__(self, *, margin: float = 0.2, squared: bool = True, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = _check_margin(margin)
        self.squared = bool(squared)
        self.reduction = C.check_reduction(reduction)

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_loss(anchor, positive, negative, margin=self.margin, squared=self.squared, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, squared={self.squared}, reduction={self.reduction!r}"


def margin_ranking_loss(
    score_pos: Tensor, score_neg: Tensor, *, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    r"""Pairwise ranking hinge: a positive item should outscore a negative one by ``margin``.

    .. math::

        L = \max\bigl(0,\; m - (s^+ - s^-)\bigr)

    This is ``torch.nn.functional.margin_ranking_loss(score_pos, score_neg, ones, margin=m)``
    without the ``y`` argument, and the triplet loss with similarities in place of distances:
    the loss of a two-tower retrieval model scored by dot products.

    Args:
        score_pos: scores of the positive items, any shape.
        score_neg: scores of the negative items, the shape of ``score_pos``.
        margin: :math:`m \ge 0`.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - score_pos, score_neg: (*), the same shape
        - output: scalar, or (*) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input).

    Example:
        >>> margin_ranking_loss(torch.tensor([2.0, 0.5]), torch.tensor([0.0, 0.0]), reduction="none")
        tensor([0.0000, 0.5000])
    """
    reduction = C.check_reduction(reduction)
    margin = _check_margin(margin)
    C.check_floating(score_pos, "score_pos")
    C.check_floating(score_neg, "score_neg")
    C.check_same_shape(score_pos, score_neg, ("score_pos", "score_neg"))
    C.check_same_device(("score_pos", score_pos), ("score_neg", score_neg))
    pos = C.upcast(score_pos)
    return C.reduce_loss(F.relu(margin - (pos - score_neg.to(pos.dtype))), reduction)


class MarginRankingLoss(nn.Module):
    """Module form of :func:`margin_ranking_loss`; ``forward(score_pos, score_neg)``.

    Example:
        >>> MarginRankingLoss(margin=1.0)(torch.tensor([0.2]), torch.tensor([0.0]))
        tensor(0.8000)
    """

    def __init__(self, *, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = _check_margin(margin)
        self.reduction = C.check_reduction(reduction)

    def forward(self, score_pos: Tensor, score_neg: Tensor) -> Tensor:
        return margin_ranking_loss(score_pos, score_neg, margin=self.margin, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"


# --------------------------------------------------------------------------- in-batch mining
def batch_all_triplet_loss(
    embeddings: Tensor,
    labels: Tensor,
    *,
    margin: float = 0.2,
    squared: bool = False,
    reduction: str = "mean",
    return_fraction: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    r"""Triplet loss over every valid triplet of a batch, averaged over the active ones.

    Every (anchor, positive, negative) of the batch with the anchor and positive of one label,
    different samples, and the negative of another label contributes
    :math:`\max(0,\; d(a, p) - d(a, n) + m)` :cite:p:`hermans2017defense`. **"mean" divides
    by the number of triplets whose loss is positive** (not by all valid triplets, whose
    mostly zero terms would shrink the loss and its gradient as training progresses); a batch
    without any positive triplet gives 0 with zero gradients. The fraction of valid triplets
    with positive loss, a useful training signal to log, is returned with
    ``return_fraction=True`` (a detached tensor, never read on the host).

    Memory is O(B^2) and time O(B^2 log B), instead of O(B^3) for both: every active triplet
    contributes :math:`d(a, p) - d(a, n) + m`, so the summed loss is
    :math:`\sum_{a,j} W_{aj}\, d(a, j) + m \cdot \#\text{active}` with :math:`W_{ap}` the number
    of negatives closer to :math:`a` than :math:`d(a, p) + m` and :math:`-W_{an}` the number of
    positives :math:`p` with :math:`d(a, p) + m > d(a, n)`: two counts that binary searches in
    sorted rows give exactly, without enumerating the triplets.

    Args:
        embeddings: (B, D) floating, finite; used as given (not normalised).
        labels: (B,) integer class indices, at least two classes.
        margin: :math:`m \ge 0`.
        squared: squared Euclidean distances (FaceNet) or plain ones (default, Hermans et al.).
        reduction: ``"mean"`` (over positive triplets), ``"sum"``, or ``"none"``: the (B,) sum
            of each anchor's triplet losses.
        return_fraction: also return the fraction of valid triplets with positive loss.

    Shape:
        - embeddings: (B, D); labels: (B,)
        - output: scalar, or (B,) with ``reduction="none"``; the fraction is a scalar.

    Returns:
        The loss, or ``(loss, fraction)`` with ``return_fraction=True``.

    Example:
        >>> emb = torch.tensor([[0.0], [0.5], [1.0], [3.0]])
        >>> labels = torch.tensor([0, 0, 1, 1])
        >>> loss, fraction = batch_all_triplet_loss(emb, labels, margin=0.2, return_fraction=True)
        >>> loss, fraction  # 3 of the 8 triplets are active
        (tensor(1.0333), tensor(0.3750))
    """
    reduction = C.check_reduction(reduction)
    margin = _check_margin(margin)
    _check_mining(embeddings, labels, every_anchor_needs_positive=False)
    dist = pairwise_distances(embeddings, squared=squared)
    with torch.no_grad():
        weight, active, valid = _batch_all_coefficients(dist, labels, margin)
    per_anchor = _linear_in_distances(weight, dist, margin * active.to(dist.dtype))
    num_active = active.sum()
    if reduction == "mean":
        loss = C.safe_divide(per_anchor.sum(), num_active.to(dist.dtype))
    else:
        loss = C.reduce_loss(per_anchor, reduction)
    if not return_fraction:
        return loss
    fraction = C.safe_divide(num_active.to(dist.dtype), valid.sum().to(dist.dtype)).detach()
    return loss, fraction


class BatchAllTripletLoss(nn.Module):
    """Module form of :func:`batch_all_triplet_loss`; ``forward(embeddings, labels)``.

    After each call, the buffer ``last_fraction_positive`` holds the fraction of valid triplets
    with positive loss (a detached scalar tensor, for logging; not saved in the state dict).

    Example:
        >>> criterion = BatchAllTripletLoss(margin=0.2)
        >>> loss = criterion(torch.tensor([[0.0], [0.5], [1.0], [3.0]]), torch.tensor([0, 0, 1, 1]))
        >>> criterion.last_fraction_positive
        tensor(0.3750)
    """

    last_fraction_positive: Tensor

    def __init__(self, *, margin: float = 0.2, squared: bool = False, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = _check_margin(margin)
        self.squared = bool(squared)
        self.reduction = C.check_reduction(reduction)
        self.register_buffer("last_fraction_positive", torch.zeros(()), persistent=False)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        loss, fraction = batch_all_triplet_loss(
            embeddings, labels, margin=self.margin, squared=self.squared, reduction=self.reduction, return_fraction=True
        )
        self.last_fraction_positive = fraction
        return loss

    def extra_repr(self) -> str:
        return f"margin={self.margin}, squared={self.squared}, reduction={self.reduction!r}"


def batch_hard_triplet_loss(
    embeddings: Tensor,
    labels: Tensor,
    *,
    margin: float = 0.2,
    squared: bool = False,
    soft: bool = False,
    reduction: str = "mean",
) -> Tensor:
    r"""Batch-hard triplet loss :cite:p:`hermans2017defense`: one triplet per anchor, the hardest.

    For each anchor :math:`a`, its farthest positive and its closest negative in the batch:

    .. math::

        L_a = \max\bigl(0,\; \max_{p} d(a, p) - \min_{n} d(a, n) + m\bigr),
        \qquad \text{soft: } L_a = \log\bigl(1 + e^{\max_p d(a, p) - \min_n d(a, n)}\bigr).

    The soft-margin form (``soft=True``, Hermans et al.'s softplus) has no margin; ``margin``
    is not used then. Distances are Euclidean by default (``squared=False``), as in the paper.
    Every anchor needs a positive: each class in the batch must have at least two samples (the
    paper's P x K batches); otherwise a ValueError names the class. "mean" averages over the B
    anchors. Memory O(B^2).

    Args:
        embeddings: (B, D) floating, finite; used as given (not normalised).
        labels: (B,) integer class indices; at least two classes, each with >= 2 samples.
        margin: :math:`m \ge 0` (ignored with ``soft=True``).
        squared: squared distances instead of plain ones.
        soft: softplus instead of the hinge.
        reduction: ``"none"`` (one loss per anchor) | ``"mean"`` | ``"sum"``.

    Shape:
        - embeddings: (B, D); labels: (B,)
        - output: scalar, or (B,) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input).

    Example:
        >>> emb = torch.tensor([[0.0], [0.5], [1.0], [3.0]])
        >>> batch_hard_triplet_loss(emb, torch.tensor([0, 0, 1, 1]), margin=0.2, reduction="none")
        tensor([0.0000, 0.2000, 1.7000, 0.0000])
    """
    reduction = C.check_reduction(reduction)
    margin = _check_margin(margin)
    _check_mining(embeddings, labels, every_anchor_needs_positive=True)
    dist = pairwise_distances(embeddings, squared=squared)
    with torch.no_grad():
        pos_index, neg_index, valid = _hard_indices(dist, labels)
    gap = dist.gather(1, pos_index.unsqueeze(1)).squeeze(1) - dist.gather(1, neg_index.unsqueeze(1)).squeeze(1)
    gap = torch.where(valid, gap, 0.0)
    loss = F.softplus(gap) if soft else F.relu(gap + margin)
    loss = torch.where(valid, loss, 0.0)
    return C.reduce_loss(loss, reduction, valid.sum())


class BatchHardTripletLoss(nn.Module):
    """Module form of :func:`batch_hard_triplet_loss`; ``forward(embeddings, labels)``.

    Example:
        >>> criterion = BatchHardTripletLoss(soft=True)
        >>> criterion(torch.tensor([[0.0], [0.5], [1.0], [3.0]]), torch.tensor([0, 0, 1, 1]))
        tensor(0.8357)
    """

    def __init__(
        self, *, margin: float = 0.2, squared: bool = False, soft: bool = False, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.margin = _check_margin(margin)
        self.squared = bool(squared)
        self.soft = bool(soft)
        self.reduction = C.check_reduction(reduction)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return batch_hard_triplet_loss(
            embeddings, labels, margin=self.margin, squared=self.squared, soft=self.soft, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"margin={self.margin}, squared={self.squared}, soft={self.soft}, reduction={self.reduction!r}"


def semi_hard_triplet_loss(
    embeddings: Tensor,
    labels: Tensor,
    *,
    margin: float = 0.2,
    squared: bool = True,
    reduction: str = "mean",
) -> Tensor:
    r"""Triplet loss with FaceNet's semi-hard negatives :cite:p:`schroff2015facenet`.

    For every anchor-positive pair :math:`(a, p)` the negative is the closest one that is
    still farther from the anchor than the positive,

    .. math::

        n^*(a, p) = \arg\min_{n:\ d(a, n) > d(a, p)} d(a, n), \qquad
        L_{ap} = \max\bigl(0,\; d(a, p) - d(a, n^*) + m\bigr).

    It is semi-hard (:math:`d(a, p) < d(a, n^*) < d(a, p) + m`) when such a negative lies
    within the margin; otherwise the loss is 0 because no semi-hard negative exists.
    **Fallback:** when *no* negative is farther than the positive (every negative is hard),
    the farthest negative of the anchor is used, as TensorFlow's ``triplet_semihard_loss``
    does; its loss is then at least :math:`m`. Distances are squared by default (FaceNet).
    "mean" averages over all anchor-positive pairs (zero losses included, like TensorFlow).
    Memory O(B^2): the closest farther negative is a binary search in the anchor's sorted
    row of negative distances. (pytorch-metric-learning's ``TripletMarginMiner("semihard")``
    is a different rule: it keeps *every* negative with :math:`d(a, p) < d(a, n) < d(a, p) + m`
    and has no fallback, instead of FaceNet's one negative per pair.)

    Args:
        embeddings: (B, D) floating, finite; used as given (FaceNet normalises them first).
        labels: (B,) integer class indices, at least two classes.
        margin: :math:`m \ge 0`.
        squared: squared distances (default) or plain ones.
        reduction: ``"mean"`` (over anchor-positive pairs), ``"sum"``, or ``"none"``: the (B,)
            sum of each anchor's pair losses.

    Shape:
        - embeddings: (B, D); labels: (B,)
        - output: scalar, or (B,) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input).

    Example:
        >>> emb = torch.tensor([[0.0], [0.5], [1.0], [3.0]])
        >>> semi_hard_triplet_loss(emb, torch.tensor([0, 0, 1, 1]), margin=0.2, reduction="none")
        tensor([0.0000, 0.0000, 3.2000, 0.0000])
    """
    reduction = C.check_reduction(reduction)
    margin = _check_margin(margin)
    _check_mining(embeddings, labels, every_anchor_needs_positive=False)
    dist = pairwise_distances(embeddings, squared=squared)
    with torch.no_grad():
        weight, active, pairs = _semi_hard_coefficients(dist, labels, margin)
    per_anchor = _linear_in_distances(weight, dist, margin * active.to(dist.dtype))
    if reduction == "mean":
        return C.safe_divide(per_anchor.sum(), pairs.sum().to(dist.dtype))
    return C.reduce_loss(per_anchor, reduction)


class SemiHardTripletLoss(nn.Module):
    """Module form of :func:`semi_hard_triplet_loss`; ``forward(embeddings, labels)``.

    Example:
        >>> criterion = SemiHardTripletLoss(margin=0.2)
        >>> criterion(torch.tensor([[0.0], [0.5], [1.0], [3.0]]), torch.tensor([0, 0, 1, 1]))
        tensor(0.8000)
    """

    def __init__(self, *, margin: float = 0.2, squared: bool = True, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = _check_margin(margin)
        self.squared = bool(squared)
        self.reduction = C.check_reduction(reduction)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return semi_hard_triplet_loss(
            embeddings, labels, margin=self.margin, squared=self.squared, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"margin={self.margin}, squared={self.squared}, reduction={self.reduction!r}"


@torch.no_grad()
def mine_triplets(
    embeddings: Tensor,
    labels: Tensor,
    *,
    strategy: str,
    margin: float = 0.2,
    squared: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Indices ``(anchor, positive, negative)`` of mined triplets, for a loss of your own.

    Strategies (:math:`d` as in :func:`pairwise_distances`, ``squared`` chooses the form):

    - ``"all"``: every valid triplet whose loss is positive, :math:`d(a, n) < d(a, p) + m`
      (the triplets :func:`batch_all_triplet_loss` averages over);
    - ``"easy"``: every valid triplet whose loss is 0, :math:`d(a, n) \ge d(a, p) + m`
      ("all" and "easy" together are all valid triplets);
    - ``"hard"``: one triplet per anchor, its farthest positive and closest negative (the
      rule of :func:`batch_hard_triplet_loss`); anchors without a positive are left out;
    - ``"semihard"``: one triplet per anchor-positive pair, FaceNet's closest negative
      farther than the positive, with the fallback of :func:`semi_hard_triplet_loss`
      (its loss may therefore be 0 or, in the fallback, at least :math:`m`).

    Within "all", a triplet is *hard* when :math:`d(a, n) < d(a, p)` and *semi-hard*
    otherwise. Unlike the losses, the output size depends on the data (it is a utility, run
    without gradients, with a host synchronisation). Memory is O(B^2) plus the output: "all"
    and "easy" are built in blocks of anchor-positive pairs. The triplets are sorted by
    anchor, then positive.

    Args:
        embeddings: (B, D) floating, finite; used as given.
        labels: (B,) integer class indices, at least two classes.
        strategy: one of ``MINING_STRATEGIES`` = ("all", "hard", "semihard", "easy").
        margin: :math:`m \ge 0` (used by "all" and "easy").
        squared: squared distances instead of plain ones.

    Returns:
        Three int64 tensors of equal length T on the embeddings' device.

    Example:
        >>> emb = torch.tensor([[0.0], [0.5], [1.0], [3.0]])
        >>> a, p, n = mine_triplets(emb, torch.tensor([0, 0, 1, 1]), strategy="hard")
        >>> torch.stack([a, p, n])
        tensor([[0, 1, 2, 3],
                [1, 0, 3, 2],
                [2, 2, 1, 1]])
    """
    strategy = C.check_choice(strategy, "strategy", MINING_STRATEGIES)
    margin = _check_margin(margin)
    _check_mining(embeddings, labels, every_anchor_needs_positive=False)
    dist = pairwise_distances(embeddings, squared=squared)
    if strategy == "hard":
        pos, neg, valid = _hard_indices(dist, labels)
        anchor = torch.nonzero(valid).squeeze(1)
        return anchor, pos[anchor], neg[anchor]
    if strategy == "semihard":
        chosen, pair = _semi_hard_selection(dist, labels)
        anchor, pos = torch.nonzero(pair, as_tuple=True)  # sorted by anchor, then positive
        return anchor, pos, chosen[anchor, pos]
    positive, negative = _masks(labels)
    anchor, pos = torch.nonzero(positive, as_tuple=True)
    chunk = _chunk_rows(dist.shape[0])
    out_a, out_p, out_n = [], [], []
    for start in range(0, anchor.shape[0], chunk):
        a, p = anchor[start : start + chunk], pos[start : start + chunk]
        active = dist[a] < (dist[a, p] + margin).unsqueeze(1)
        keep = negative[a] & (active if strategy == "all" else ~active)
        rows, n = torch.nonzero(keep, as_tuple=True)
        out_a.append(a[rows])
        out_p.append(p[rows])
        out_n.append(n)
    if not out_a:
        empty = torch.zeros(0, dtype=torch.long, device=embeddings.device)
        return empty, empty.clone(), empty.clone()
    return torch.cat(out_a), torch.cat(out_p), torch.cat(out_n)


# --------------------------------------------------------------------------- margin softmax
MARGIN_SOFTMAX_KINDS = ("cosface", "arcface")


def _check_margin_softmax(scale: float, margin: float, kind: str) -> tuple[float, float, str]:
    kind = C.check_choice(kind, "kind", MARGIN_SOFTMAX_KINDS)
    scale = C.check_number(scale, "scale", low=0.0, low_open=True)
    if kind == "arcface":
        margin = C.check_number(margin, "margin", low=0.0, high=math.pi, high_open=True)
    else:
        margin = _check_margin(margin)
    return scale, margin, kind


def margin_softmax_loss(
    embeddings: Tensor,
    weight: Tensor,
    target: Tensor,
    *,
    scale: float = 30.0,
    margin: float = 0.35,
    kind: str = "cosface",
    reduction: str = "mean",
) -> Tensor:
    r"""Cross-entropy on scaled cosines with a margin at the target class (CosFace, ArcFace).

    With :math:`\cos\theta_j` the cosine between the embedding and the class weight
    :math:`w_j` (both L2-normalised here, by definition of the loss), the logits are
    :math:`s \cos\theta_j` for :math:`j \ne y`, and at the target class :math:`y`

    .. math::

        \text{cosface:}\; s(\cos\theta_y - m), \qquad
        \text{arcface:}\; s\cos(\theta_y + m),

    then ``cross_entropy`` (CosFace :cite:p:`wang2018cosface`, ArcFace
    :cite:p:`deng2019arcface`). For ArcFace, :math:`\cos(\theta + m)` is computed as
    :math:`\cos\theta \cos m - \sin\theta \sin m` with
    :math:`\sin\theta = \sqrt{\max(1 - \cos^2\theta, 10^{-12})}` (no ``acos``, so the
    gradient stays finite at :math:`\cos\theta = \pm 1`), and past
    :math:`\theta > \pi - m`, where :math:`\cos(\theta + m)` would rise again, the logit is
    :math:`\cos\theta - m \sin m` instead. This is the form of the widely used ArcFace code,
    ``where(cos > cos(pi - m), cos(theta + m), cos - sin(pi - m) * m)``
    (:math:`\sin(\pi - m) = \sin m`): the target logit then decreases monotonically in
    :math:`\theta` over :math:`[0, \pi]` (with a small downward step at :math:`\pi - m`).
    With ``margin=0`` both kinds are ``cross_entropy(scale * cos, target)``. Computed in
    float32 for half-precision inputs, with autocast off for the cosine matrix.

    Args:
        embeddings: (N, D) floating; normalised inside.
        weight: (C, D) class weights (``nn.Linear`` layout); normalised inside.
        target: (N,) integer class indices in [0, C).
        scale: :math:`s > 0` (the papers use 64; 30 is common for small data).
        margin: :math:`m \ge 0`; for ArcFace in radians, below :math:`\pi` (paper: 0.5).
        kind: ``"cosface"`` | ``"arcface"``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``.

    Shape:
        - embeddings: (N, D); weight: (C, D); target: (N,)
        - output: scalar, or (N,) with ``reduction="none"``

    Returns:
        The loss (float32 for half-precision input).

    Example:
        >>> emb = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> t = torch.tensor([0, 1])
        >>> plain = torch.nn.functional.cross_entropy(4.0 * emb / emb.norm(dim=1, keepdim=True), t)
        >>> torch.allclose(margin_softmax_loss(emb, w, t, scale=4.0, margin=0.0), plain)
        True
        >>> margin_softmax_loss(emb, w, t, scale=4.0, margin=0.35, kind="arcface")
        tensor(0.0231)
    """
    reduction = C.check_reduction(reduction)
    scale, margin, kind = _check_margin_softmax(scale, margin, kind)
    _check_embeddings(embeddings)
    C.check_floating(weight, "weight")
    if weight.dim() != 2 or weight.shape[1] != embeddings.shape[1]:
        raise ValueError(
            f"weight must have shape (C, D) with D = {embeddings.shape[1]} (the embeddings' width), "
            f"got {C._shape(weight.shape)}"
        )
    C.check_integer(target, "target")
    C.check_same_device(("embeddings", embeddings), ("weight", weight), ("target", target))
    C.check_class_target(torch.empty(embeddings.shape[0], weight.shape[0], device="meta"), target)
    with _full_precision(embeddings):
        x = C.upcast(embeddings)
        w = weight.to(x.dtype)
        cos = (F.normalize(x, dim=1) @ F.normalize(w, dim=1).T).clamp(-1.0, 1.0)
    index = target.long().unsqueeze(1)
    cos_y = cos.gather(1, index)
    if kind == "cosface":
        target_logit = cos_y - margin
    else:
        sin_y = torch.sqrt((1.0 - cos_y * cos_y).clamp(min=1e-12))
        shifted = cos_y * math.cos(margin) - sin_y * math.sin(margin)
        target_logit = torch.where(cos_y > math.cos(math.pi - margin), shifted, cos_y - math.sin(math.pi - margin) * margin)
    logits = cos.scatter(1, index, target_logit) * scale
    return F.cross_entropy(logits, index.squeeze(1), reduction=reduction)


class MarginSoftmaxLoss(nn.Module):
    """:func:`margin_softmax_loss` with its class-weight matrix as a Parameter.

    ``MarginSoftmaxLoss(in_features, num_classes, *, scale, margin, kind, reduction)`` owns
    ``weight`` of shape (num_classes, in_features), initialised like ``nn.Linear``'s weight;
    ``forward(embeddings, target)``. Train it together with the embedding network (its
    parameters belong in the optimizer) and discard it at test time.

    Example:
        >>> torch.manual_seed(0) is not None
        True
        >>> criterion = MarginSoftmaxLoss(8, 3, kind="arcface", margin=0.5, scale=16.0)
        >>> loss = criterion(torch.randn(4, 8), torch.tensor([0, 1, 2, 0]))
        >>> loss.shape, criterion.weight.shape
        (torch.Size([]), torch.Size([3, 8]))
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        scale: float = 30.0,
        margin: float = 0.35,
        kind: str = "cosface",
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.in_features = C.check_int(in_features, "in_features", low=1)
        self.num_classes = C.check_int(num_classes, "num_classes", low=1)
        self.scale, self.margin, self.kind = _check_margin_softmax(scale, margin, kind)
        self.reduction = C.check_reduction(reduction)
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, embeddings: Tensor, target: Tensor) -> Tensor:
        return margin_softmax_loss(
            embeddings, self.weight, target, scale=self.scale, margin=self.margin, kind=self.kind, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, num_classes={self.num_classes}, scale={self.scale}, "
            f"margin={self.margin}, kind={self.kind!r}, reduction={self.reduction!r}"
        )

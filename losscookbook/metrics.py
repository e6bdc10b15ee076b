"""Evaluation metrics used across the chapters: accuracy, calibration, ranking quality.

All functions take logits or scores as tensors and return Python floats (or tensors of
per-bin values), computed in float64 on the tensors' device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from . import _checks as C

__all__ = [
    "accuracy",
    "balanced_accuracy",
    "average_precision",
    "ReliabilityCurve",
    "reliability_curve",
    "expected_calibration_error",
    "fit_temperature",
    "PairedDifference",
    "paired_difference",
    "t_quantile",
    "recall_at_k",
    "multilabel_f1",
    "roc_auc",
]


def _confidence_and_correct(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Top-class confidence and correctness, for binary (N,) or multi-class (N, C) logits."""
    C.check_floating(logits, "logits")
    C.check_integer(target, "target")
    if logits.dim() == 1:
        if target.shape != logits.shape:
            raise ValueError(f"target must have shape {tuple(logits.shape)} for binary logits, got {tuple(target.shape)}")
        C.check_values_in(target, "target", 0, 1)
        p = torch.sigmoid(logits.double())
        prediction = (p > 0.5).long()
        confidence = torch.maximum(p, 1.0 - p)
    elif logits.dim() == 2:
        target = C.check_class_target(logits, target)
        p = torch.softmax(logits.double(), dim=1)
        confidence, prediction = p.max(dim=1)
    else:
        raise ValueError(f"logits must have shape (N,) or (N, C), got {tuple(logits.shape)}")
    return confidence, (prediction == target).double()


def accuracy(logits: Tensor, target: Tensor) -> float:
    """Fraction of correct top-1 predictions; binary (N,) logits are thresholded at 0.

    Example:
        >>> accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
        0.5
    """
    _, correct = _confidence_and_correct(logits, target)
    return float(correct.mean()) if correct.numel() else 0.0


def balanced_accuracy(prediction: Tensor, target: Tensor) -> float:
    """Mean over the classes present in ``target`` of the recall of that class.

    Insensitive to class frequencies: predicting the majority class always scores 1/K.

    Args:
        prediction: predicted class indices (N,).
        target: true class indices (N,).

    Example:
        >>> balanced_accuracy(torch.tensor([0, 0, 0, 0]), torch.tensor([0, 0, 0, 1]))
        0.5
    """
    C.check_integer(prediction, "prediction")
    C.check_integer(target, "target")
    C.check_same_shape(prediction, target, ("prediction", "target"))
    classes = torch.unique(target)
    if classes.numel() == 0:
        raise ValueError("target must not be empty")
    hits = (prediction.unsqueeze(0) == target.unsqueeze(0)) & (target.unsqueeze(0) == classes.unsqueeze(1))
    support = (target.unsqueeze(0) == classes.unsqueeze(1)).sum(dim=1)
    return float((hits.sum(dim=1).double() / support).mean())


def _check_binary_ranking(scores: Tensor, target: Tensor) -> None:
    """Scores (N,) and their 0/1 labels (N,), for the ranking metrics."""
    C.check_floating(scores, "scores")
    C.check_tensor(target, "target")
    if scores.dim() != 1:
        raise ValueError(f"scores must have shape (N,), got {tuple(scores.shape)}")
    C.check_same_shape(scores, target, ("scores", "target"))
    C.check_values_among(target, "target", (0, 1))


def average_precision(scores: Tensor, target: Tensor) -> float:
    r"""Average precision of a binary ranking: :math:`\sum_k (R_k - R_{k-1}) P_k`.

    The sum runs over the distinct score thresholds, highest first, so tied scores are one
    step (the definition of scikit-learn's ``average_precision_score``). Prevalence is the AP
    of a random ranking.

    Args:
        scores: real scores or logits (N,); higher means more likely positive.
        target: 0/1 labels (N,) with at least one positive.

    Example:
        >>> average_precision(torch.tensor([0.9, 0.8, 0.3, 0.1]), torch.tensor([1, 0, 1, 0]))
        0.8333333333333333
    """
    _check_binary_ranking(scores, target)
    y = target.double()
    num_pos = y.sum()
    if float(num_pos) == 0:
        raise ValueError("target must contain at least one positive for average precision")
    order = torch.argsort(scores.double(), descending=True, stable=True)
    s, y = scores.double()[order], y[order]
    tp = torch.cumsum(y, 0)
    seen = torch.arange(1, len(y) + 1, device=y.device, dtype=torch.float64)
    last_of_tie = torch.ones_like(s, dtype=torch.bool)
    last_of_tie[:-1] = s[1:] != s[:-1]
    tp, seen = tp[last_of_tie], seen[last_of_tie]
    precision = tp / seen
    recall = tp / num_pos
    recall_step = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((recall_step * precision).sum())


class ReliabilityCurve(NamedTuple):
    """Per-bin statistics of a reliability diagram (bins of equal width on [0, 1])."""

    edges: Tensor
    confidence: Tensor
    accuracy: Tensor
    count: Tensor


def reliability_curve(logits: Tensor, target: Tensor, *, n_bins: int = 15) -> ReliabilityCurve:
    """Mean confidence, accuracy and count of the top-class prediction in each confidence bin.

    Binary logits (N,) use the confidence :math:`\\max(p, 1 - p)`; multi-class logits (N, C)
    the largest softmax probability. Empty bins hold NaN confidence and accuracy and a count of 0.
    """
    n_bins = C.check_int(n_bins, "n_bins", low=1)
    confidence, correct = _confidence_and_correct(logits, target)
    edges = torch.linspace(0.0, 1.0, n_bins + 1, dtype=torch.float64, device=confidence.device)
    index = torch.bucketize(confidence, edges[1:-1], right=False).clamp_(0, n_bins - 1)
    count = torch.zeros(n_bins, dtype=torch.float64, device=confidence.device).index_add_(
        0, index, torch.ones_like(confidence)
    )
    conf_sum = torch.zeros_like(count).index_add_(0, index, confidence)
    acc_sum = torch.zeros_like(count).index_add_(0, index, correct)
    with torch.no_grad():
        mean_conf = conf_sum / count
        mean_acc = acc_sum / count
    return ReliabilityCurve(edges, mean_conf, mean_acc, count)


def expected_calibration_error(logits: Tensor, target: Tensor, *, n_bins: int = 15) -> float:
    r"""Expected calibration error of the top-class prediction, with equal-width bins.

    .. math::

        \mathrm{ECE} = \sum_{b=1}^{B} \frac{|S_b|}{N}\,
        \big|\operatorname{acc}(S_b) - \operatorname{conf}(S_b)\big|

    :cite:p:`guo2017calibration`. 0 means perfectly calibrated; it is in [0, 1].

    Args:
        logits: binary logits (N,) or multi-class logits (N, C).
        target: 0/1 labels (N,) or class indices (N,).
        n_bins: number of equal-width confidence bins B (>= 1).

    Example:
        >>> logits = torch.tensor([[4.0, 0.0], [4.0, 0.0]])
        >>> round(expected_calibration_error(logits, torch.tensor([0, 1]), n_bins=10), 4)
        0.482
    """
    curve = reliability_curve(logits, target, n_bins=n_bins)
    total = curve.count.sum()
    if float(total) == 0:
        return 0.0
    occupied = curve.count > 0
    gaps = (curve.accuracy[occupied] - curve.confidence[occupied]).abs()
    return float((curve.count[occupied] / total * gaps).sum())


def fit_temperature(logits: Tensor, target: Tensor, *, max_iter: int = 200) -> float:
    r"""Temperature scaling: the :math:`T > 0` that minimizes the NLL of ``logits / T``.

    Fit it on held-out data, then divide the test logits by it; predictions (the argmax) do
    not change, only the confidence :cite:p:`guo2017calibration`. Optimized over
    :math:`\log T` with L-BFGS in float64.

    Args:
        logits: multi-class logits (N, C), usually of a validation set.
        target: class indices (N,).
        max_iter: L-BFGS iterations.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = torch.randint(0, 3, (2000,), generator=g)
        >>> true = torch.randn(2000, 3, generator=g) + 2 * torch.nn.functional.one_hot(y, 3)
        >>> sampled = torch.multinomial(torch.softmax(true, 1), 1, generator=g).squeeze(1)
        >>> round(fit_temperature(3 * true, sampled), 1)  # logits three times too sharp
        3.0
    """
    C.check_floating(logits, "logits")
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (N, C), got {tuple(logits.shape)}")
    target = C.check_class_target(logits, target)
    C.check_int(max_iter, "max_iter", low=1)
    z = logits.detach().double()
    log_t = torch.zeros((), dtype=torch.float64, device=z.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp(), target)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())


# --------------------------------------------------------------------------- comparisons over seeds
def t_quantile(probability: float, df: int) -> float:
    """The ``probability`` quantile of Student's t distribution with ``df`` degrees of freedom.

    Computed from the density by numerical integration (no SciPy needed); accurate to about 1e-6.

    Example:
        >>> round(t_quantile(0.975, 4), 4)
        2.7764
    """
    C.check_number(probability, "probability", low=0.0, high=1.0, low_open=True, high_open=True)
    df = C.check_int(df, "df", low=1)
    if probability < 0.5:
        return -t_quantile(1.0 - probability, df)
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def cdf(t: float) -> float:  # P(T <= t) for t >= 0, by the substitution x = atan(u)
        theta = np.linspace(0.0, math.atan(t), 20001)
        u = np.tan(theta)
        density = np.exp(log_norm - (df + 1) / 2 * np.log1p(u * u / df)) / np.cos(theta) ** 2
        return 0.5 + float(((density[1:] + density[:-1]) * np.diff(theta)).sum() / 2)

    low, high = 0.0, 1.0
    while cdf(high) < probability:
        low, high = high, high * 2.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if cdf(mid) < probability else (low, mid)
    return 0.5 * (low + high)


class PairedDifference(NamedTuple):
    """Mean of the paired differences ``a - b`` over seeds, with a Student-t interval."""

    mean: float
    low: float
    high: float
    n: int
    wins: int  # number of seeds with a - b > 0

    def __str__(self) -> str:
        return f"{self.mean:+.4f} [{self.low:+.4f}, {self.high:+.4f}] ({self.wins}/{self.n} seeds > 0)"


def paired_difference(
    a: Sequence[float] | Tensor, b: Sequence[float] | Tensor, *, confidence: float = 0.95
) -> PairedDifference:
    """Paired comparison of two methods run on the same seeds: mean of ``a - b`` and its t interval.

    A verdict "a is better than b" is supported when the whole interval lies on one side of 0.
    With one seed the interval is infinite.

    Example:
        >>> d = paired_difference([0.91, 0.93, 0.92, 0.94, 0.90], [0.90, 0.91, 0.91, 0.92, 0.90])
        >>> round(d.mean, 3), d.low > 0, d.wins
        (0.012, True, 4)
    """
    C.check_number(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
    x = torch.as_tensor(a, dtype=torch.float64).flatten().cpu()
    y = torch.as_tensor(b, dtype=torch.float64).flatten().cpu()
    if x.numel() != y.numel() or x.numel() == 0:
        raise ValueError(f"a and b must hold one value per seed each, got {x.numel()} and {y.numel()} values")
    d = x - y
    n = d.numel()
    mean = float(d.mean())
    if n == 1:
        return PairedDifference(mean, -math.inf, math.inf, 1, int(d[0] > 0))
    half = t_quantile(0.5 + confidence / 2, n - 1) * float(d.std(unbiased=True)) / math.sqrt(n)
    return PairedDifference(mean, mean - half, mean + half, n, int((d > 0).sum()))


def recall_at_k(query: Tensor, labels: Tensor, *, k: int = 1, gallery: Tensor | None = None, gallery_labels: Tensor | None = None) -> float:
    """Recall@k for retrieval: the share of queries with a same-label item among their k nearest neighbours.

    Without a gallery, every query is searched among the other queries (leave-one-out), the
    usual protocol for metric learning on a held-out set of identities. Distances are Euclidean,
    computed in blocks so that memory stays O(block x N).

    Example:
        >>> x = torch.tensor([[0.0], [0.1], [5.0], [5.2]])
        >>> recall_at_k(x, torch.tensor([0, 0, 1, 1]))
        1.0
    """
    C.check_floating(query, "query")
    C.check_min_ndim(query, "query", 2, "(N, D)")
    C.check_integer(labels, "labels")
    if labels.shape != query.shape[:1]:
        raise ValueError(f"labels must have shape ({query.shape[0]},), got {tuple(labels.shape)}")
    k = C.check_int(k, "k", low=1)
    leave_one_out = gallery is None
    if leave_one_out:
        gallery, gallery_labels = query, labels
    elif gallery_labels is None:
        raise ValueError("gallery_labels must be given together with gallery")
    else:
        C.check_floating(gallery, "gallery")
        if gallery.dim() != 2 or gallery.shape[1] != query.shape[1]:
            raise ValueError(f"gallery must have shape (M, {query.shape[1]}), got {tuple(gallery.shape)}")
        if gallery_labels.shape != gallery.shape[:1]:
            raise ValueError(f"gallery_labels must have shape ({gallery.shape[0]},), got {tuple(gallery_labels.shape)}")
    available = gallery.shape[0] - (1 if leave_one_out else 0)
    if k > available:
        raise ValueError(f"k must be at most {available} (the gallery size), got {k}")
    hits = 0
    q, g = query.double(), gallery.double()
    for start in range(0, q.shape[0], 1024):
        block = torch.cdist(q[start : start + 1024], g)
        if leave_one_out:
            rows = torch.arange(block.shape[0], device=block.device)
            block[rows, rows + start] = math.inf
        nearest = block.topk(k, dim=1, largest=False).indices
        match = gallery_labels[nearest] == labels[start : start + 1024, None]
        hits += int(match.any(dim=1).sum())
    return hits / q.shape[0]


def multilabel_f1(prediction: Tensor, target: Tensor, *, average: str = "micro", zero_division: float = 0.0) -> float:
    r"""F1 score of multi-label predictions, micro- or macro-averaged over the labels.

    With true positives :math:`TP_k`, false positives :math:`FP_k` and false negatives
    :math:`FN_k` of label :math:`k` counted over the samples,

    .. math::

        F_1^{\text{micro}} = \frac{2 \sum_k TP_k}{\sum_k (2\,TP_k + FP_k + FN_k)}, \qquad
        F_1^{\text{macro}} = \frac{1}{L} \sum_{k=1}^{L} \frac{2\,TP_k}{2\,TP_k + FP_k + FN_k}.

    Micro-averaging pools every (sample, label) decision, so frequent labels dominate; macro
    gives each label the same say, so rare labels count as much as frequent ones. A label (or,
    for micro, the whole matrix) with no positive in ``target`` and none in ``prediction`` has
    the undefined ratio 0/0, scored as ``zero_division`` (0 by default, like scikit-learn).

    Args:
        prediction: 0/1 (or bool) decisions of shape (N, L), e.g. ``logits > 0``.
        target: 0/1 labels of shape (N, L), integer, bool or floating.
        average: ``"micro"`` or ``"macro"``.
        zero_division: the score of a 0/0 ratio, in [0, 1].

    Example:
        >>> pred = torch.tensor([[1, 0], [1, 1], [0, 0]])
        >>> true = torch.tensor([[1, 0], [0, 1], [0, 1]])
        >>> multilabel_f1(pred, true), multilabel_f1(pred, true, average="macro")
        (0.6666666666666666, 0.6666666666666666)
    """
    C.check_tensor(prediction, "prediction")
    C.check_tensor(target, "target")
    if prediction.dim() != 2:
        raise ValueError(f"prediction must have shape (N, L), got {tuple(prediction.shape)}")
    C.check_same_shape(prediction, target, ("prediction", "target"))
    C.check_same_device(("prediction", prediction), ("target", target))
    C.check_choice(average, "average", ("micro", "macro"))
    zero_division = C.check_number(zero_division, "zero_division", low=0.0, high=1.0)
    C.check_values_among(prediction.double(), "prediction", (0.0, 1.0))
    C.check_values_among(target.double(), "target", (0.0, 1.0))
    p, t = prediction.double(), target.double()
    tp = (p * t).sum(0)
    fp = (p * (1 - t)).sum(0)
    fn = ((1 - p) * t).sum(0)
    if average == "micro":
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
    denominator = 2 * tp + fp + fn
    score = torch.where(denominator > 0, 2 * tp / denominator.clamp(min=1), torch.full_like(tp, zero_division))
    return float(score.mean())


def roc_auc(scores: Tensor, target: Tensor) -> float:
    r"""Area under the ROC curve of a binary ranking: the chance that a random positive outscores a random negative.

    .. math::

        \mathrm{AUC} = \frac{1}{n_+ n_-} \sum_{i: y_i = 1} \sum_{j: y_j = 0}
        \Big(\mathbb{1}[s_i > s_j] + \tfrac12\, \mathbb{1}[s_i = s_j]\Big),

    computed from the average ranks of the scores (the Mann-Whitney statistic), so tied scores
    count one half, as in scikit-learn's ``roc_auc_score``. 0.5 is a random ranking.

    Args:
        scores: real scores, probabilities or logits (N,); higher means more likely positive.
        target: 0/1 labels (N,) with at least one positive and one negative.

    Example:
        >>> roc_auc(torch.tensor([0.9, 0.8, 0.3, 0.1]), torch.tensor([1, 0, 1, 0]))
        0.75
        >>> roc_auc(torch.tensor([0.5, 0.5, 0.5]), torch.tensor([1, 0, 0]))
        0.5
    """
    _check_binary_ranking(scores, target)
    y = target.double()
    n_pos = float(y.sum())
    n_neg = y.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"target must contain both classes for ROC AUC, got {n_pos:.0f} positives and {n_neg:.0f} negatives")
    s = scores.double()
    sorted_s, order = torch.sort(s)
    _, inverse, counts = torch.unique_consecutive(sorted_s, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    average_rank = ends - (counts.double() - 1) / 2  # 1-based mean rank of each group of ties
    ranks = torch.empty_like(s)
    ranks[order] = average_rank[inverse]
    rank_sum = float((ranks * y).sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)

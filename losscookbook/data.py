"""Small synthetic data sets for the chapters' experiments (seeded, CPU tensors)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from . import _checks as C

__all__ = [
    "class_counts",
    "make_classification",
    "make_hierarchical_classification",
    "train_test_split",
    "RegressionData",
    "make_regression",
    "make_linear_binary",
    "make_imbalanced_binary",
    "MultilabelData",
    "make_multilabel",
    "ClickConversionData",
    "make_click_conversion",
    "BehaviorSequences",
    "make_behavior_sequences",
    "MultiTaskRegressionData",
    "make_uncertainty_regression",
    "make_gradnorm_regression",
    "ZipfCatalogue",
    "make_zipf_catalogue",
    "IdentityData",
    "make_identities",
]


def class_counts(n_samples: int, class_weights: Sequence[float]) -> list[int]:
    """Split ``n_samples`` into per-class counts proportional to ``class_weights``.

    Largest-remainder rounding, and every class gets at least one sample.

    Example:
        >>> class_counts(1001, [1000, 1])
        [1000, 1]
    """
    n_samples = C.check_int(n_samples, "n_samples", low=1)
    weights = [C.check_number(w, "class_weights[i]", low=0.0, low_open=True) for w in class_weights]
    if len(weights) > n_samples:
        raise ValueError(f"n_samples must be at least the number of classes {len(weights)}, got {n_samples}")
    total = sum(weights)
    exact = [n_samples * w / total for w in weights]
    counts = [max(1, int(e)) for e in exact]
    by_remainder = sorted(range(len(weights)), key=lambda k: exact[k] - int(exact[k]), reverse=True)
    k = 0
    while sum(counts) < n_samples:
        counts[by_remainder[k % len(weights)]] += 1
        k += 1
    while sum(counts) > n_samples:
        largest = max(range(len(counts)), key=counts.__getitem__)
        counts[largest] -= 1
    return counts


def make_classification(
    n_samples: int,
    *,
    num_classes: int = 2,
    num_features: int = 2,
    class_sep: float = 2.0,
    class_weights: Sequence[float] | None = None,
    label_noise: float = 0.0,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    r"""Gaussian clusters, one per class, with a chosen class balance and label noise.

    Class centres are drawn from :math:`\mathcal{N}(0, \text{class\_sep}^2 I)`; each sample is
    its centre plus standard normal noise, so ``class_sep`` controls how much the classes
    overlap. ``class_weights`` sets the class proportions (``[1000, 1]`` is a 1:1000 binary
    problem, class 1 the rare positive). ``label_noise`` relabels that fraction of the samples,
    chosen at random, to a different random class; the features keep their true cluster.

    Returns:
        ``X`` of shape (n_samples, num_features), float32, and ``y`` of shape (n_samples,),
        int64, shuffled.

    Example:
        >>> X, y = make_classification(100, num_classes=3, class_weights=[8, 1, 1])
        >>> X.shape, torch.bincount(y).tolist()
        (torch.Size([100, 2]), [80, 10, 10])
    """
    num_classes = C.check_int(num_classes, "num_classes", low=2)
    num_features = C.check_int(num_features, "num_features", low=1)
    class_sep = C.check_number(class_sep, "class_sep", low=0.0)
    label_noise = C.check_number(label_noise, "label_noise", low=0.0, high=1.0)
    if class_weights is None:
        class_weights = [1.0] * num_classes
    if len(class_weights) != num_classes:
        raise ValueError(f"class_weights must have num_classes={num_classes} entries, got {len(class_weights)}")
    counts = class_counts(n_samples, class_weights)
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(num_classes, num_features, generator=g) * class_sep
    y = torch.repeat_interleave(torch.arange(num_classes), torch.tensor(counts))
    X = centres[y] + torch.randn(n_samples, num_features, generator=g)
    order = torch.randperm(n_samples, generator=g)
    X, y = X[order], y[order]
    if label_noise > 0:
        flip = torch.rand(n_samples, generator=g) < label_noise
        shift = torch.randint(1, num_classes, (n_samples,), generator=g)
        y = torch.where(flip, (y + shift) % num_classes, y)
    return X, y


def make_hierarchical_classification(
    n_samples: int,
    *,
    num_groups: int = 4,
    classes_per_group: int = 5,
    num_features: int = 16,
    group_sep: float = 2.5,
    class_sep: float = 0.8,
    seed: int = 0,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Classes that come in groups of similar classes (like breeds within species).

    Group centres are drawn from :math:`\mathcal{N}(0, \text{group\_sep}^2 I)`, each class
    centre is its group centre plus :math:`\mathcal{N}(0, \text{class\_sep}^2 I)`, and each
    sample is its class centre plus standard normal noise. Classes of one group are confused
    with each other far more often than with other groups: the structure that a teacher's soft
    outputs can pass on to a student in distillation. Classes are drawn uniformly.

    Returns:
        ``X`` (n_samples, num_features) float32, ``y`` (n_samples,) int64 class indices in
        [0, num_groups * classes_per_group), and ``group`` (num_classes,) int64, the group of
        each class.

    Example:
        >>> X, y, group = make_hierarchical_classification(100, num_groups=2, classes_per_group=3)
        >>> X.shape, group.tolist()
        (torch.Size([100, 16]), [0, 0, 0, 1, 1, 1])
    """
    n_samples = C.check_int(n_samples, "n_samples", low=1)
    num_groups = C.check_int(num_groups, "num_groups", low=1)
    classes_per_group = C.check_int(classes_per_group, "classes_per_group", low=1)
    num_features = C.check_int(num_features, "num_features", low=1)
    group_sep = C.check_number(group_sep, "group_sep", low=0.0)
    class_sep = C.check_number(class_sep, "class_sep", low=0.0)
    g = torch.Generator().manual_seed(seed)
    num_classes = num_groups * classes_per_group
    group = torch.arange(num_classes) // classes_per_group
    group_centres = torch.randn(num_groups, num_features, generator=g) * group_sep
    centres = group_centres[group] + torch.randn(num_classes, num_features, generator=g) * class_sep
    y = torch.randint(0, num_classes, (n_samples,), generator=g)
    X = centres[y] + torch.randn(n_samples, num_features, generator=g)
    return X, y, group


def train_test_split(
    *tensors: Tensor, test_fraction: float = 0.25, seed: int = 0
) -> tuple[Tensor, ...]:
    """Shuffle and split tensors that share their first dimension.

    Returns ``train_0, test_0, train_1, test_1, ...``.

    Example:
        >>> X, y = torch.arange(8.0).view(4, 2), torch.arange(4)
        >>> [t.shape[0] for t in train_test_split(X, y, test_fraction=0.25)]
        [3, 1, 3, 1]
    """
    if not tensors:
        raise ValueError("train_test_split needs at least one tensor")
    test_fraction = C.check_number(test_fraction, "test_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    n = tensors[0].shape[0]
    for i, t in enumerate(tensors):
        if t.shape[0] != n:
            raise ValueError(f"tensors[{i}] must have {n} rows like tensors[0], got {t.shape[0]}")
    n_test = max(1, round(n * test_fraction))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    test, train = order[:n_test], order[n_test:]
    out: list[Tensor] = []
    for t in tensors:
        out += [t[train], t[test]]
    return tuple(out)


# --------------------------------------------------------------------------- regression and linear classifiers
class RegressionData(NamedTuple):
    """What :func:`make_regression` returns: inputs, targets, the outlier mask and the noise scale."""

    X: Tensor
    y: Tensor
    is_outlier: Tensor
    noise_std: Tensor


def make_regression(
    n_samples: int,
    *,
    slope: float = 2.0,
    intercept: float = 1.0,
    noise: float = 0.5,
    heteroscedasticity: float = 0.0,
    outlier_fraction: float = 0.0,
    outlier_offset: float = 10.0,
    x_range: tuple[float, float] = (-3.0, 3.0),
    seed: int = 0,
) -> RegressionData:
    r"""A noisy line with an exact fraction of gross outliers, optionally with a fan of noise.

    :math:`x` is uniform on ``x_range``; the clean targets are
    :math:`y = \text{slope}\, x + \text{intercept} + \sigma(x)\, \varepsilon` with standard
    normal :math:`\varepsilon` and noise scale

    .. math::

        \sigma(x) = \text{noise}\,\Big(1 + \text{heteroscedasticity}\,
        \frac{x - x_{\min}}{x_{\max} - x_{\min}}\Big),

    so with ``heteroscedasticity=h`` the spread grows linearly from ``noise`` at the left end to
    ``(1 + h) * noise`` at the right end (the clean targets' conditional :math:`q`-quantile is
    the line plus :math:`\sigma(x)\,\Phi^{-1}(q)`). Then ``round(outlier_fraction *
    n_samples)`` samples, chosen at random, are moved *above* the line by
    ``outlier_offset`` times a uniform factor in [0.5, 1.5]: one-sided gross errors, the kind
    that pulls a least-squares fit (symmetric outliers would cancel out on average).

    Returns:
        ``RegressionData(X, y, is_outlier, noise_std)``: ``X`` (n_samples, 1) and ``y``
        (n_samples,) float32, ``is_outlier`` (n_samples,) bool, ``noise_std`` (n_samples,) the
        :math:`\sigma(x)` of each sample.

    Example:
        >>> data = make_regression(200, outlier_fraction=0.1)
        >>> data.X.shape, data.y.shape, int(data.is_outlier.sum())
        (torch.Size([200, 1]), torch.Size([200]), 20)
    """
    n_samples = C.check_int(n_samples, "n_samples", low=1)
    slope = C.check_number(slope, "slope")
    intercept = C.check_number(intercept, "intercept")
    noise = C.check_number(noise, "noise", low=0.0)
    heteroscedasticity = C.check_number(heteroscedasticity, "heteroscedasticity", low=0.0)
    outlier_fraction = C.check_number(outlier_fraction, "outlier_fraction", low=0.0, high=1.0)
    outlier_offset = C.check_number(outlier_offset, "outlier_offset")
    if len(x_range) != 2:
        raise ValueError(f"x_range must be a pair (low, high), got {x_range!r}")
    low = C.check_number(x_range[0], "x_range[0]")
    high = C.check_number(x_range[1], "x_range[1]")
    if not high > low:
        raise ValueError(f"x_range must have low < high, got {x_range!r}")
    g = torch.Generator().manual_seed(seed)
    x = low + (high - low) * torch.rand(n_samples, generator=g, dtype=torch.float64)
    std = noise * (1.0 + heteroscedasticity * (x - low) / (high - low))
    y = slope * x + intercept + std * torch.randn(n_samples, generator=g, dtype=torch.float64)
    n_out = round(outlier_fraction * n_samples)
    is_outlier = torch.zeros(n_samples, dtype=torch.bool)
    is_outlier[torch.randperm(n_samples, generator=g)[:n_out]] = True
    shift = outlier_offset * (0.5 + torch.rand(n_samples, generator=g, dtype=torch.float64))
    y = torch.where(is_outlier, slope * x + intercept + shift, y)
    return RegressionData(x.float().unsqueeze(1), y.float(), is_outlier, std.float())


def make_linear_binary(
    n_samples: int,
    *,
    num_features: int = 2,
    margin: float = 0.0,
    label_noise: float = 0.0,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    r"""A binary problem with a linear boundary and signed labels -1/1.

    Inputs are standard normal; the labels are the side of the hyperplane
    :math:`w \cdot x + b = 0` with :math:`w = (1, \dots, 1)/\sqrt{d}` and :math:`b = 0.5`. The
    hyperplane does not depend on ``seed``, so two calls with different seeds draw a training and
    a test set of the same problem. Points closer to it than
    ``margin`` are redrawn, so ``margin > 0`` makes the problem separable with that gap; then
    ``label_noise`` flips the sign of that fraction of the labels, chosen at random.

    Returns:
        ``X`` (n_samples, num_features) float32 and ``y`` (n_samples,) float32 with values -1
        and 1, ready for margins ``y * f``.

    Example:
        >>> X, y = make_linear_binary(100, margin=0.5)
        >>> X.shape, sorted(set(y.tolist()))
        (torch.Size([100, 2]), [-1.0, 1.0])
    """
    n_samples = C.check_int(n_samples, "n_samples", low=1)
    num_features = C.check_int(num_features, "num_features", low=1)
    margin = C.check_number(margin, "margin", low=0.0, high=2.0)
    label_noise = C.check_number(label_noise, "label_noise", low=0.0, high=1.0)
    g = torch.Generator().manual_seed(seed)
    w = torch.full((num_features,), num_features**-0.5)
    bias = 0.5
    kept: list[Tensor] = []
    count = 0
    while count < n_samples:
        candidates = torch.randn(2 * n_samples + 16, num_features, generator=g)
        candidates = candidates[(candidates @ w + bias).abs() >= margin]
        kept.append(candidates)
        count += candidates.shape[0]
    X = torch.cat(kept)[:n_samples]
    y = torch.where(X @ w + bias >= 0, 1.0, -1.0)
    if label_noise > 0:
        flip = torch.rand(n_samples, generator=g) < label_noise
        y = torch.where(flip, -y, y)
    return X, y


# --------------------------------------------------------------------------- imbalanced classification
def make_imbalanced_binary(
    n_samples: int,
    *,
    imbalance_ratio: float = 100.0,
    num_features: int = 2,
    num_clusters: int = 3,
    radius: float = 3.0,
    cluster_std: float = 0.4,
    label_noise: float = 0.0,
    seed: int = 0,
    return_logit: bool = False,
) -> tuple[Tensor, ...]:
    r"""A binary problem with a rare positive class that no straight line separates.

    Negatives are standard normal in ``num_features`` dimensions. Positives come from
    ``num_clusters`` tight Gaussian clusters (standard deviation ``cluster_std``) whose centres
    lie evenly spaced on a circle of radius ``radius`` in the first two features, inside the
    tail of the negatives: the classes overlap, the boundary is curved, and easy negatives
    (near the origin) vastly outnumber everything else. Features beyond the first two are noise
    for both classes. There are ``round(n_samples / (1 + imbalance_ratio))`` positives (at least
    one), e.g. 1:100 for ``imbalance_ratio=100``. ``label_noise`` flips that fraction of the
    labels at random, in both directions; with a rare positive class most flips turn easy
    negatives into positive-labelled outliers.

    With ``return_logit=True`` the true log-odds of the *clean* label given the features,
    :math:`\log p(y{=}1 \mid x) - \log p(y{=}0 \mid x)`, is returned too: the scores of the
    Bayes-optimal classifier, the ceiling for any metric on this data.

    Returns:
        ``X`` (n_samples, num_features) float32 and ``y`` (n_samples,) int64, shuffled; plus the
        float64 log-odds (n_samples,) with ``return_logit=True``.

    Example:
        >>> X, y = make_imbalanced_binary(1010, imbalance_ratio=100)
        >>> X.shape, int(y.sum())
        (torch.Size([1010, 2]), 10)
    """
    n_samples = C.check_int(n_samples, "n_samples", low=2)
    imbalance_ratio = C.check_number(imbalance_ratio, "imbalance_ratio", low=0.0, low_open=True)
    num_features = C.check_int(num_features, "num_features", low=2)
    num_clusters = C.check_int(num_clusters, "num_clusters", low=1)
    radius = C.check_number(radius, "radius", low=0.0)
    cluster_std = C.check_number(cluster_std, "cluster_std", low=0.0, low_open=True)
    label_noise = C.check_number(label_noise, "label_noise", low=0.0, high=1.0)
    n_pos = min(n_samples - 1, max(1, round(n_samples / (1.0 + imbalance_ratio))))
    n_neg = n_samples - n_pos
    angles = torch.arange(num_clusters, dtype=torch.float64) * (2 * math.pi / num_clusters) + math.pi / 2
    centres = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    g = torch.Generator().manual_seed(seed)
    negatives = torch.randn(n_neg, num_features, generator=g, dtype=torch.float64)
    cluster = torch.randint(0, num_clusters, (n_pos,), generator=g)
    positives = torch.randn(n_pos, num_features, generator=g, dtype=torch.float64)
    positives[:, :2] = centres[cluster] + cluster_std * positives[:, :2]
    X = torch.cat([negatives, positives])
    y = torch.cat([torch.zeros(n_neg, dtype=torch.long), torch.ones(n_pos, dtype=torch.long)])
    order = torch.randperm(n_samples, generator=g)
    X, y = X[order], y[order]
    if label_noise > 0:
        flip = torch.rand(n_samples, generator=g) < label_noise
        y = torch.where(flip, 1 - y, y)
    if not return_logit:
        return X.float(), y
    # log-odds from the two densities of the first two features (the others cancel) and the prior
    xy = X[:, :2]
    log_neg = -0.5 * (xy**2).sum(1)
    d2 = ((xy[:, None, :] - centres[None]) ** 2).sum(-1)
    log_pos = torch.logsumexp(-0.5 * d2 / cluster_std**2, 1) - math.log(num_clusters) - 2 * math.log(cluster_std)
    return X.float(), y, log_pos - log_neg + math.log(n_pos / n_neg)


# --------------------------------------------------------------------------- multi-label classification
class MultilabelData(NamedTuple):
    """What :func:`make_multilabel` returns: inputs, 0/1 label matrix, and each label's prevalence."""

    X: Tensor
    Y: Tensor
    prevalence: Tensor


def make_multilabel(
    n_samples: int,
    *,
    num_labels: int = 8,
    num_features: int = 20,
    rank: int = 3,
    prevalence: Sequence[float] | None = None,
    noise: float = 1.0,
    seed: int = 0,
) -> MultilabelData:
    r"""Several binary labels per sample, correlated with each other, each with its own prevalence.

    Inputs are standard normal, :math:`x \sim \mathcal{N}(0, I_d)`. Each label :math:`k` has a
    score :math:`s_k = \tanh(x^\top A)\, b_k + \varepsilon_k`, where the :math:`d \times r`
    matrix :math:`A` (shared by all labels) and the rows :math:`b_k \in \mathbb{R}^r` are drawn
    from ``seed``, and :math:`\varepsilon_k \sim \mathcal{N}(0, \text{noise}^2)` is independent
    per label. Because every score is built from the same ``rank`` hidden factors
    :math:`\tanh(x^\top A)`, labels are correlated (positively or negatively, by the signs of
    :math:`b`), and the boundary is not linear in :math:`x`. Label :math:`k` is 1 on the
    ``round(prevalence[k] * n_samples)`` samples with the largest :math:`s_k` (at least one, and
    at least one sample without it), so each label has exactly its prevalence :math:`\pi_k` in
    the drawn set. By default the :math:`\pi_k` fall geometrically from 0.4 to 0.05 over the
    labels: frequent and rare labels side by side, as in real tagging data.

    A different ``seed`` draws a different problem (new :math:`A`, :math:`b`); split one draw
    with :func:`train_test_split` for a training and a test set of the same problem.

    Returns:
        ``MultilabelData(X, Y, prevalence)``: ``X`` (n_samples, num_features) float32, ``Y``
        (n_samples, num_labels) float32 with values 0 and 1 (ready for
        ``binary_cross_entropy_with_logits``), ``prevalence`` (num_labels,) float64, the
        target prevalence of each label.

    Example:
        >>> data = make_multilabel(1000, num_labels=4, prevalence=[0.5, 0.3, 0.2, 0.1])
        >>> data.X.shape, data.Y.shape, data.Y.sum(0).tolist()
        (torch.Size([1000, 20]), torch.Size([1000, 4]), [500.0, 300.0, 200.0, 100.0])
    """
    n_samples = C.check_int(n_samples, "n_samples", low=2)
    num_labels = C.check_int(num_labels, "num_labels", low=1)
    num_features = C.check_int(num_features, "num_features", low=1)
    rank = C.check_int(rank, "rank", low=1)
    noise = C.check_number(noise, "noise", low=0.0)
    if prevalence is None:
        if num_labels == 1:
            prevalence = [0.4]
        else:
            prevalence = [0.4 * (0.05 / 0.4) ** (k / (num_labels - 1)) for k in range(num_labels)]
    if len(prevalence) != num_labels:
        raise ValueError(f"prevalence must have num_labels={num_labels} entries, got {len(prevalence)}")
    pi = [C.check_number(p, f"prevalence[{k}]", low=0.0, high=1.0, low_open=True, high_open=True) for k, p in enumerate(prevalence)]
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(num_features, rank, generator=g, dtype=torch.float64) * (2.0 / num_features) ** 0.5
    B = torch.randn(rank, num_labels, generator=g, dtype=torch.float64)
    X = torch.randn(n_samples, num_features, generator=g, dtype=torch.float64)
    scores = torch.tanh(X @ A) @ B + noise * torch.randn(n_samples, num_labels, generator=g, dtype=torch.float64)
    num_positive = torch.tensor([min(n_samples - 1, max(1, round(p * n_samples))) for p in pi])
    # the k-th label's threshold: its num_positive[k]-th largest score, so that exactly that many are 1
    ranked = scores.sort(dim=0, descending=True).values
    threshold = ranked.gather(0, (num_positive - 1)[None, :]).squeeze(0)
    Y = (scores >= threshold).float()
    return MultilabelData(X.float(), Y, torch.tensor(pi, dtype=torch.float64))


# --------------------------------------------------------------------------- recommendation: clicks, conversions, sequences
class ClickConversionData(NamedTuple):
    """What :func:`make_click_conversion` returns; one row per impression."""

    X: Tensor  # (N, num_features) float32 dense features of the impression
    item: Tensor  # (N,) int64 item id in [0, num_items)
    click: Tensor  # (N,) float32 0/1
    conversion: Tensor  # (N,) float32 0/1 observed conversion: 1 only after a click
    conversion_if_clicked: Tensor  # (N,) float32 0/1 the conversion every impression would have had if clicked
    ctr: Tensor  # (N,) float64 true P(click | x, item)
    cvr: Tensor  # (N,) float64 true P(conversion | click, x, item)


def make_click_conversion(
    n_impressions: int,
    *,
    num_features: int = 8,
    num_items: int = 1000,
    item_correlation: float = 0.8,
    clickbait: float = 0.3,
    ctr_bias: float = -3.0,
    cvr_bias: float = -1.0,
    seed: int = 0,
) -> ClickConversionData:
    r"""Impressions, clicks and post-click conversions with sample selection bias and a known pCVR.

    Every impression shows one item to a user described by ``num_features`` standard normal
    features. The true rates come from two logistic models,

    .. math::

        \operatorname{logit} p_{CTR} = u^\top x + q_j + c\,k_j + b_{CTR}, \qquad
        \operatorname{logit} p_{CVR} = v^\top x + \rho\, q_j + \sqrt{1 - \rho^2}\, r_j - c\,k_j + b_{CVR},

    where the item :math:`j` has a quality :math:`q_j`, a CVR-only effect :math:`r_j` and a
    "clickbait" score :math:`k_j` (all standard normal): clickbait raises the click rate and
    lowers the conversion rate by the same amount ``clickbait`` (:math:`c`). The item effects
    of CTR and CVR correlate through :math:`q_j` (``item_correlation`` :math:`\rho`). :math:`u`
    uses the first two thirds of the features, :math:`v` the last two thirds (they overlap in
    the middle); both have norm 1. Items are drawn with Zipf-like popularity
    (:math:`P(j) \propto 1 / (j + 10)`), so most items are shown rarely and clicked more rarely
    still: data sparsity.

    A click is drawn with probability :math:`p_{CTR}` and a potential conversion
    ``conversion_if_clicked`` with probability :math:`p_{CVR}` for *every* impression; the
    observed ``conversion`` is their product. A model of CVR trained on the clicked impressions
    only sees a subset biased towards high-CTR items (clickbait among them): sample selection
    bias. ``conversion_if_clicked`` and ``cvr`` let a chapter score a CVR model over the entire
    impression space, which no real log allows.

    Returns:
        ``ClickConversionData(X, item, click, conversion, conversion_if_clicked, ctr, cvr)``.

    Example:
        >>> data = make_click_conversion(20000, seed=0)
        >>> bool((data.conversion <= data.click).all()), data.X.shape
        (True, torch.Size([20000, 8]))
        >>> round(float(data.click.mean()), 3), round(float(data.conversion.mean()), 4)
        (0.084, 0.0366)
    """
    n_impressions = C.check_int(n_impressions, "n_impressions", low=1)
    num_features = C.check_int(num_features, "num_features", low=3)
    num_items = C.check_int(num_items, "num_items", low=1)
    rho = C.check_number(item_correlation, "item_correlation", low=-1.0, high=1.0)
    clickbait = C.check_number(clickbait, "clickbait", low=0.0)
    ctr_bias = C.check_number(ctr_bias, "ctr_bias")
    cvr_bias = C.check_number(cvr_bias, "cvr_bias")
    g = torch.Generator().manual_seed(seed)
    d = num_features
    u = torch.zeros(d, dtype=torch.float64)
    v = torch.zeros(d, dtype=torch.float64)
    u[: (2 * d) // 3] = torch.randn((2 * d) // 3, generator=g, dtype=torch.float64)
    v[d // 3 :] = torch.randn(d - d // 3, generator=g, dtype=torch.float64)
    u, v = u / u.norm(), v / v.norm()
    quality, own, bait = torch.randn(3, num_items, generator=g, dtype=torch.float64)
    popularity = 1.0 / (torch.arange(num_items, dtype=torch.float64) + 10.0)
    item = torch.multinomial(popularity, n_impressions, replacement=True, generator=g)
    X = torch.randn(n_impressions, d, generator=g, dtype=torch.float64)
    ctr_logit = X @ u + quality[item] + clickbait * bait[item] + ctr_bias
    cvr_effect = rho * quality + math.sqrt(max(0.0, 1.0 - rho * rho)) * own - clickbait * bait
    cvr_logit = X @ v + cvr_effect[item] + cvr_bias
    ctr, cvr = torch.sigmoid(ctr_logit), torch.sigmoid(cvr_logit)
    click = (torch.rand(n_impressions, generator=g, dtype=torch.float64) < ctr).float()
    if_clicked = (torch.rand(n_impressions, generator=g, dtype=torch.float64) < cvr).float()
    return ClickConversionData(X.float(), item, click, click * if_clicked, if_clicked, ctr, cvr)


class BehaviorSequences(NamedTuple):
    """What :func:`make_behavior_sequences` returns. Item id 0 is padding; real items are 1..num_items."""

    items: Tensor  # (N, T) int64 clicked items, right-padded with 0
    negatives: Tensor  # (N, T) int64 a sampled item the user did not click at each step, 0 at padding
    lengths: Tensor  # (N,) int64 number of valid steps
    mask: Tensor  # (N, T) bool, True at valid steps
    target_item: Tensor  # (N,) int64 candidate item shown after the sequence
    target_label: Tensor  # (N,) float32 1 if the candidate is the user's next click, else 0
    item_embeddings: Tensor  # (num_items + 1, D) float32 true item vectors (row 0 is zero)
    interest: Tensor  # (N, T + 1, D) float32 true interest at each step (the last one: the target's)


def make_behavior_sequences(
    n_users: int,
    *,
    num_items: int = 200,
    dim: int = 8,
    max_len: int = 20,
    min_len: int = 5,
    drift: float = 0.3,
    sharpness: float = 4.0,
    seed: int = 0,
) -> BehaviorSequences:
    r"""User behaviour sequences driven by an interest that drifts, for DIEN-style models.

    Items are random unit vectors :math:`e_j` in ``dim`` dimensions. Each user starts with a random
    unit interest :math:`s_0` that takes a random-walk step at every click,
    :math:`s_{t+1} = \operatorname{normalize}(s_t + \text{drift}\cdot\varepsilon_t)`,
    :math:`\varepsilon_t \sim \mathcal{N}(0, I/\text{dim})`, and clicks item :math:`j` at step
    :math:`t` with probability :math:`\propto \exp(\text{sharpness}\; e_j^\top s_t)`. At each step
    a negative is drawn uniformly among the items other than the clicked one (DIEN's sampled
    non-click). Lengths are uniform in [min_len, max_len]; shorter sequences are right-padded
    with item 0.

    After the sequence a candidate item is shown: with probability 1/2 the user's next click
    (drawn from the interest :math:`s_L`, one step after the last click), otherwise a uniformly
    drawn item; ``target_label`` says which. Predicting it needs the *recent* interest, which
    the early clicks describe only through the drift.

    Returns:
        ``BehaviorSequences(items, negatives, lengths, mask, target_item, target_label,
        item_embeddings, interest)``.

    Example:
        >>> seqs = make_behavior_sequences(4, max_len=6, min_len=3, seed=1)
        >>> seqs.items.shape, seqs.lengths.tolist()
        (torch.Size([4, 6]), [6, 3, 6, 5])
        >>> bool(((seqs.items != 0) == seqs.mask).all()), bool((seqs.negatives != seqs.items)[seqs.mask].all())
        (True, True)
    """
    n_users = C.check_int(n_users, "n_users", low=1)
    num_items = C.check_int(num_items, "num_items", low=2)
    dim = C.check_int(dim, "dim", low=1)
    max_len = C.check_int(max_len, "max_len", low=1)
    min_len = C.check_int(min_len, "min_len", low=1, high=max_len)
    drift = C.check_number(drift, "drift", low=0.0)
    sharpness = C.check_number(sharpness, "sharpness", low=0.0)
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(num_items, dim, generator=g)
    emb = emb / emb.norm(dim=1, keepdim=True)
    steps = torch.randn(n_users, max_len + 1, dim, generator=g) * (drift / math.sqrt(dim))
    state = torch.randn(n_users, dim, generator=g)
    states = []
    for t in range(max_len + 1):
        if t:
            state = state + steps[:, t]
        state = state / state.norm(dim=1, keepdim=True)
        states.append(state)
    interest = torch.stack(states, dim=1)  # (N, T + 1, D)
    logits = sharpness * interest @ emb.T  # (N, T + 1, num_items)
    clicked = torch.multinomial(torch.softmax(logits.reshape(-1, num_items), dim=1), 1, generator=g).view(n_users, -1)
    other = torch.randint(0, num_items - 1, clicked.shape, generator=g)
    negatives = other + (other >= clicked).long()  # uniform over the items other than the clicked one
    lengths = torch.randint(min_len, max_len + 1, (n_users,), generator=g)
    mask = torch.arange(max_len)[None, :] < lengths[:, None]
    items = torch.where(mask, clicked[:, :max_len] + 1, 0)
    negatives = torch.where(mask, negatives[:, :max_len] + 1, 0)
    rows = torch.arange(n_users)
    # the next click after step L-1 is drawn from the interest s_L
    next_click = clicked[rows, lengths] + 1
    random_item = torch.randint(1, num_items + 1, (n_users,), generator=g)
    label = torch.rand(n_users, generator=g) < 0.5
    target_item = torch.where(label, next_click, random_item)
    table = torch.cat([torch.zeros(1, dim), emb])
    return BehaviorSequences(items, negatives, lengths, mask, target_item, label.float(), table, interest)
# --------------------------------------------------------------------------- multi-task regression
class MultiTaskRegressionData(NamedTuple):
    """What the multi-task generators return: inputs, noisy and clean targets per task, the noise and the scales."""

    X: Tensor
    Y: Tensor
    clean: Tensor
    noise_std: Tensor
    scales: Tensor


def make_uncertainty_regression(
    n_samples: int,
    *,
    noise_std: Sequence[float] = (10.0, 1.0),
    slopes: Sequence[float] = (2.0, 3.0),
    intercepts: Sequence[float] = (8.0, 3.0),
    seed: int = 0,
) -> MultiTaskRegressionData:
    r"""Two (or more) noisy lines of one shared input, each with its own known noise level.

    The synthetic example Gal published with the code of uncertainty weighting
    :cite:p:`kendall2018multi`: :math:`x \sim \mathcal{N}(0, 1)` and, for task :math:`t`,

    .. math::

        y_t = a_t\, x + b_t + \sigma_t\, \varepsilon_t, \qquad \varepsilon_t \sim \mathcal{N}(0, 1),

    with the defaults :math:`a = (2, 3)`, :math:`b = (8, 3)` and :math:`\sigma = (10, 1)`.
    A model that weighs the tasks by their homoscedastic uncertainty should learn
    :math:`\sigma_t` as its task noise: the noise is known, so the learned value can be checked.

    Returns:
        ``MultiTaskRegressionData(X, Y, clean, noise_std, scales)``: ``X`` (n_samples, 1),
        ``Y`` and ``clean`` (n_samples, T) float32 (noisy targets and the lines without noise),
        ``noise_std`` (T,) the :math:`\sigma_t`, ``scales`` (T,) ones.

    Example:
        >>> data = make_uncertainty_regression(2000)
        >>> data.Y.shape, data.noise_std.tolist()
        (torch.Size([2000, 2]), [10.0, 1.0])
        >>> [round(float(r), 0) for r in (data.Y - data.clean).std(0)]
        [10.0, 1.0]
    """
    n_samples = C.check_int(n_samples, "n_samples", low=1)
    sigmas = [C.check_number(s, "noise_std[i]", low=0.0) for s in noise_std]
    if not sigmas:
        raise ValueError("noise_std must list one noise level per task, got an empty sequence")
    tasks = len(sigmas)
    if len(slopes) != tasks or len(intercepts) != tasks:
        raise ValueError(
            f"slopes and intercepts must have one entry per task ({tasks}), got {len(slopes)} and {len(intercepts)}"
        )
    a = torch.tensor([C.check_number(v, "slopes[i]") for v in slopes], dtype=torch.float64)
    b = torch.tensor([C.check_number(v, "intercepts[i]") for v in intercepts], dtype=torch.float64)
    sigma = torch.tensor(sigmas, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_samples, 1, generator=g, dtype=torch.float64)
    clean = x * a + b
    Y = clean + sigma * torch.randn(n_samples, tasks, generator=g, dtype=torch.float64)
    return MultiTaskRegressionData(x.float(), Y.float(), clean.float(), sigma.float(), torch.ones(tasks))


def make_gradnorm_regression(
    n_samples: int,
    *,
    scales: Sequence[float] = (1.0, 100.0),
    num_features: int = 250,
    num_outputs: int = 100,
    shared_std: float = 10.0,
    task_std: float = 3.5,
    seed: int = 0,
) -> MultiTaskRegressionData:
    r"""Regression tasks that share their structure but differ in scale, after GradNorm's toy problem.

    Chen et al. :cite:p:`chen2018gradnorm` build :math:`T` related regression tasks

    .. math::

        f_t(x) = \sigma_t \tanh\big((B + \varepsilon_t)\, x\big),

    with one matrix :math:`B` shared by all tasks (entries :math:`\mathcal{N}(0,
    \text{shared\_std}^2)`), a task-specific perturbation :math:`\varepsilon_t` (entries
    :math:`\mathcal{N}(0, \text{task\_std}^2)`) and a scale :math:`\sigma_t` per task, so that the
    tasks' losses differ by a factor :math:`\sigma_t^2` although their difficulty is the same. The
    paper uses 250 inputs, 100 outputs, :math:`\text{shared\_std} = 10`, :math:`\text{task\_std} =
    3.5` and :math:`\sigma = (1, 100)`. Inputs are drawn uniform in :math:`[-1, 1]` and scaled to
    unit norm (the paper does not say how it draws them). The targets carry no noise
    (``Y == clean``). The functions depend on ``seed`` as well as the inputs: draw one set and
    split it into training and test data.

    Returns:
        ``MultiTaskRegressionData(X, Y, clean, noise_std, scales)``: ``X`` (n_samples,
        num_features), ``Y`` and ``clean`` (n_samples, T, num_outputs) float32, ``noise_std``
        (T,) zeros, ``scales`` (T,) the :math:`\sigma_t`.

    Example:
        >>> data = make_gradnorm_regression(500, num_features=20, num_outputs=5)
        >>> data.X.shape, data.Y.shape, data.scales.tolist()
        (torch.Size([500, 20]), torch.Size([500, 2, 5]), [1.0, 100.0])
        >>> bool(data.Y[:, 1].abs().max() <= 100.0)
        True
    """
    n_samples = C.check_int(n_samples, "n_samples", low=1)
    task_scales = [C.check_number(s, "scales[i]", low=0.0, low_open=True) for s in scales]
    if not task_scales:
        raise ValueError("scales must list one scale per task, got an empty sequence")
    num_features = C.check_int(num_features, "num_features", low=1)
    num_outputs = C.check_int(num_outputs, "num_outputs", low=1)
    shared_std = C.check_number(shared_std, "shared_std", low=0.0)
    task_std = C.check_number(task_std, "task_std", low=0.0)
    tasks = len(task_scales)
    g = torch.Generator().manual_seed(seed)
    B = shared_std * torch.randn(num_outputs, num_features, generator=g, dtype=torch.float64)
    eps = task_std * torch.randn(tasks, num_outputs, num_features, generator=g, dtype=torch.float64)
    x = 2 * torch.rand(n_samples, num_features, generator=g, dtype=torch.float64) - 1
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sigma = torch.tensor(task_scales, dtype=torch.float64)
    Y = sigma[None, :, None] * torch.tanh(torch.einsum("tof,nf->nto", B + eps, x))
    return MultiTaskRegressionData(x.float(), Y.float(), Y.float(), torch.zeros(tasks), sigma.float())
# --------------------------------------------------------------------------- recommendation catalogue
class ZipfCatalogue(NamedTuple):
    """What :func:`make_zipf_catalogue` returns: interactions and the truth that generated them.

    ``preference`` is :math:`u^\\top v`; ``conditional_logits`` adds ``log_popularity``, which
    gives :math:`\\log p(\\text{item} \\mid \\text{user})` up to a per-user constant.
    """

    users: Tensor
    items: Tensor
    user_vectors: Tensor
    item_vectors: Tensor
    popularity: Tensor

    @property
    def log_popularity(self) -> Tensor:
        """``log(popularity)``, shape (num_items,)."""
        return self.popularity.log()

    @property
    def preference(self) -> Tensor:
        """The true preference of every user for every item, shape (num_users, num_items)."""
        return self.user_vectors @ self.item_vectors.T

    @property
    def conditional_logits(self) -> Tensor:
        """The logits of the true p(item | user), preference plus log popularity, shape (num_users, num_items)."""
        return self.preference + self.log_popularity

    @property
    def item_frequency(self) -> Tensor:
        """The true share of each item among all interactions, averaged over users (num_items,)."""
        return torch.softmax(self.conditional_logits, dim=1).mean(dim=0)


def make_zipf_catalogue(
    num_users: int,
    num_items: int,
    *,
    interactions_per_user: int = 20,
    dim: int = 8,
    exponent: float = 1.1,
    preference_scale: float = 1.0,
    seed: int = 0,
) -> ZipfCatalogue:
    r"""Users and a catalogue of items with Zipf-distributed popularity and known preferences.

    Item :math:`k` (0-based) has popularity :math:`\pi_k \propto (k + 1)^{-s}` with the Zipf
    exponent :math:`s` = ``exponent``: item 0 is the most popular, and the top few items take a
    large share of the traffic. Users and items have latent vectors :math:`u, v \sim
    \mathcal{N}(0, I_d / \sqrt{d})`, the user vectors scaled by ``preference_scale``, and the
    true preference is :math:`u^\top v`. Each user makes ``interactions_per_user`` independent
    interactions, with

    .. math::

        p(k \mid u) = \frac{\pi_k\, e^{u^\top v_k}}{\sum_j \pi_j\, e^{u^\top v_j}},

    so popularity and preference are separate, known factors: a model trained with the full
    softmax learns :math:`u^\top v_k + \log \pi_k` (``conditional_logits``), one that
    removes popularity learns the preference alone.

    Returns:
        A :class:`ZipfCatalogue`: ``users`` and ``items`` (num_users * interactions_per_user,)
        int64, the interaction pairs in random order; ``user_vectors`` (num_users, dim),
        ``item_vectors`` (num_items, dim) and ``popularity`` (num_items,) float32 (sums to 1).

    Example:
        >>> data = make_zipf_catalogue(100, 1000, interactions_per_user=50)
        >>> data.users.shape, data.preference.shape
        (torch.Size([5000]), torch.Size([100, 1000]))
        >>> counts = torch.bincount(data.items, minlength=1000)
        >>> bool(counts[:10].sum() > counts[500:].sum())  # the ten most popular outsell the 500 least
        True
    """
    num_users = C.check_int(num_users, "num_users", low=1)
    num_items = C.check_int(num_items, "num_items", low=2)
    interactions_per_user = C.check_int(interactions_per_user, "interactions_per_user", low=1)
    dim = C.check_int(dim, "dim", low=1)
    exponent = C.check_number(exponent, "exponent", low=0.0)
    preference_scale = C.check_number(preference_scale, "preference_scale", low=0.0)
    g = torch.Generator().manual_seed(seed)
    rank = torch.arange(1, num_items + 1, dtype=torch.float64)
    popularity = rank.pow(-exponent)
    popularity = popularity / popularity.sum()
    scale = dim**-0.25
    user_vectors = torch.randn(num_users, dim, generator=g, dtype=torch.float64) * scale * preference_scale
    item_vectors = torch.randn(num_items, dim, generator=g, dtype=torch.float64) * scale
    logits = user_vectors @ item_vectors.T + popularity.log()
    items = torch.multinomial(torch.softmax(logits, 1), interactions_per_user, replacement=True, generator=g)
    users = torch.arange(num_users).repeat_interleave(interactions_per_user)
    order = torch.randperm(users.numel(), generator=g)
    return ZipfCatalogue(
        users[order], items.flatten()[order], user_vectors.float(), item_vectors.float(), popularity.float()
    )
# --------------------------------------------------------------------------- identities for metric learning
class IdentityData(NamedTuple):
    """What :func:`make_identities` returns; ``split()`` separates the held-out identities."""

    X: Tensor
    labels: Tensor
    latent: Tensor
    nuisance: Tensor
    is_test: Tensor

    def split(self) -> tuple[IdentityData, IdentityData]:
        """The samples of the training identities and those of the held-out identities.

        The two parts share no identity: metric learning is evaluated on identities never seen
        in training. Labels keep their global values.
        """
        train = IdentityData(*(t[~self.is_test] for t in self))
        test = IdentityData(*(t[self.is_test] for t in self))
        return train, test


def make_identities(
    num_identities: int,
    samples_per_identity: int,
    *,
    latent_dim: int = 4,
    nuisance_dim: int = 8,
    input_dim: int = 32,
    identity_std: float = 0.05,
    nuisance_std: float = 1.0,
    nonlinearity: float = 0.5,
    num_test_identities: int = 0,
    seed: int = 0,
    map_seed: int = 0,
) -> IdentityData:
    r"""Synthetic identities (people, products, speakers) seen through a fixed nonlinear sensor.

    Each identity :math:`k` has a centre :math:`c_k \sim \mathcal{N}(0, I)` in a
    ``latent_dim``-dimensional identity space; a sample of it is
    :math:`u = c_k + \text{identity\_std}\,\varepsilon`. Every sample also has nuisance factors
    :math:`v \sim \mathcal{N}(0, \text{nuisance\_std}^2 I)` of dimension ``nuisance_dim``,
    independent of the identity (the pose and lighting of a photo). Both are seen through one
    fixed random two-layer map into ``input_dim`` features,

    .. math::

        x = \tanh\big(g\,[u, v]\,A + a\big)\,B, \qquad g = \text{nonlinearity},

    with :math:`A` of shape (latent_dim + nuisance_dim, 64) scaled by
    :math:`1/\sqrt{\text{latent\_dim} + \text{nuisance\_dim}}`, :math:`B` of shape
    (64, input_dim) scaled by :math:`1/8`, both drawn from ``map_seed`` only. The nuisance
    factors dominate the raw features, so nearest neighbours in input space mostly share a pose,
    not an identity (a low raw Recall@1); a network has to learn to undo the map and ignore the
    nuisance. ``seed`` draws the identities and samples; ``map_seed`` the sensor, so two calls
    with the same ``seed`` and different ``map_seed`` give the same samples seen by two different
    sensors (two views or modalities for a two-tower model).

    The last ``num_test_identities`` identities are held out: ``is_test`` marks their samples,
    and ``split()`` returns the training and the held-out part.

    Returns:
        ``IdentityData(X, labels, latent, nuisance, is_test)``: ``X`` (N, input_dim) float32
        with N = num_identities * samples_per_identity, ordered by identity; ``labels`` (N,)
        int64 identity indices; ``latent`` (N, latent_dim) the identity factors :math:`u`;
        ``nuisance`` (N, nuisance_dim) the factors :math:`v`; ``is_test`` (N,) bool.

    Example:
        >>> data = make_identities(10, 4, num_test_identities=3)
        >>> data.X.shape, data.labels[:6].tolist()
        (torch.Size([40, 32]), [0, 0, 0, 0, 1, 1])
        >>> train, test = data.split()
        >>> sorted(set(train.labels.tolist()) & set(test.labels.tolist())), test.X.shape[0]
        ([], 12)
    """
    num_identities = C.check_int(num_identities, "num_identities", low=1)
    samples_per_identity = C.check_int(samples_per_identity, "samples_per_identity", low=1)
    latent_dim = C.check_int(latent_dim, "latent_dim", low=1)
    nuisance_dim = C.check_int(nuisance_dim, "nuisance_dim", low=0)
    input_dim = C.check_int(input_dim, "input_dim", low=1)
    identity_std = C.check_number(identity_std, "identity_std", low=0.0)
    nuisance_std = C.check_number(nuisance_std, "nuisance_std", low=0.0)
    nonlinearity = C.check_number(nonlinearity, "nonlinearity", low=0.0, low_open=True)
    num_test_identities = C.check_int(num_test_identities, "num_test_identities", low=0, high=num_identities)
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(num_identities, latent_dim, generator=g)
    n = num_identities * samples_per_identity
    labels = torch.arange(num_identities).repeat_interleave(samples_per_identity)
    latent = centres[labels] + identity_std * torch.randn(n, latent_dim, generator=g)
    nuisance = nuisance_std * torch.randn(n, nuisance_dim, generator=g)
    gm = torch.Generator().manual_seed(map_seed)
    width, hidden = latent_dim + nuisance_dim, 64
    A = torch.randn(width, hidden, generator=gm) / math.sqrt(width)
    a = 0.5 * torch.randn(hidden, generator=gm)
    B = torch.randn(hidden, input_dim, generator=gm) / math.sqrt(hidden)
    X = torch.tanh(nonlinearity * torch.cat([latent, nuisance], dim=1) @ A + a) @ B
    is_test = labels >= num_identities - num_test_identities
    return IdentityData(X, labels, latent, nuisance, is_test)

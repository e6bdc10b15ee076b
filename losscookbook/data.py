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

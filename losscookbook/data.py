"""Small synthetic data sets for the chapters' experiments (seeded, CPU tensors)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from . import _checks as C

__all__ = ["class_counts", "make_classification", "train_test_split", "make_imbalanced_binary"]


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
    """Gaussian clusters, one per class, with a chosen class balance and label noise.

    Class centres are drawn from :math:`\\mathcal{N}(0, \\text{class\\_sep}^2 I)`; each sample is
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


# --- added for imbalance / focal / ghm
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

"""Tests of the synthetic data generators."""

from __future__ import annotations

import pytest
import torch

from losscookbook.data import class_counts, make_classification, make_hierarchical_classification, train_test_split


def test_class_counts_are_proportional_and_complete():
    assert class_counts(10, [1, 1]) == [5, 5]
    assert class_counts(1001, [1000, 1]) == [1000, 1]
    assert class_counts(100, [100, 0.01]) == [99, 1]  # every class gets at least one sample
    counts = class_counts(997, [3, 2, 5])
    assert counts == [299, 199, 499]  # floors 299, 199, 498; the largest remainder (0.5) gets the last one


def test_make_classification_balance_determinism_and_separation():
    X, y = make_classification(2000, num_classes=3, num_features=5, class_weights=[10, 5, 1], seed=3)
    assert X.shape == (2000, 5) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == class_counts(2000, [10, 5, 1])
    X2, y2 = make_classification(2000, num_classes=3, num_features=5, class_weights=[10, 5, 1], seed=3)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    # the nearest class centre recovers the label far better than chance when classes are well separated
    X, y = make_classification(3000, num_classes=4, num_features=8, class_sep=4.0, seed=0)
    centres = torch.stack([X[y == k].mean(0) for k in range(4)])
    assert (torch.cdist(X, centres).argmin(1) == y).float().mean() > 0.95


def test_label_noise_flips_the_requested_fraction_to_other_classes():
    X, clean = make_classification(20000, num_classes=5, seed=1)
    X2, noisy = make_classification(20000, num_classes=5, label_noise=0.3, seed=1)
    assert torch.equal(X, X2)
    assert abs((clean != noisy).float().mean().item() - 0.3) < 0.015


def test_hierarchical_classes_are_confused_within_their_group():
    X, y, group = make_hierarchical_classification(6000, num_groups=3, classes_per_group=4, seed=0)
    assert group.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    centres = torch.stack([X[y == k].mean(0) for k in range(12)])
    pred = torch.cdist(X, centres).argmin(1)
    wrong = pred != y
    assert wrong.any()
    assert (group[pred[wrong]] == group[y[wrong]]).float().mean() > 0.8


def test_train_test_split_partitions():
    X, y = torch.arange(20.0).view(10, 2), torch.arange(10)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_fraction=0.3, seed=0)
    assert len(X_te) == 3 and len(X_tr) == 7
    assert sorted(torch.cat([y_tr, y_te]).tolist()) == list(range(10))
    assert torch.equal(X_tr[:, 0] // 2, y_tr.float())


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: make_classification(10, num_classes=1), ValueError, r"num_classes must be an integer in \[2, inf\], got 1"),
        (lambda: make_classification(10, class_weights=[1, 2, 3]), ValueError, r"class_weights must have num_classes=2 entries, got 3"),
        (lambda: make_classification(10, label_noise=1.5), ValueError, r"label_noise must be in \[0.0, 1.0\], got 1.5"),
        (lambda: class_counts(1, [1, 1]), ValueError, r"n_samples must be at least the number of classes 2, got 1"),
        (lambda: class_counts(10, [1, 0]), ValueError, r"class_weights\[i\] must be in \(0.0, inf\], got 0.0"),
        (lambda: train_test_split(torch.zeros(3), torch.zeros(4)), ValueError, r"tensors\[1\] must have 3 rows"),
        (lambda: train_test_split(torch.zeros(3), test_fraction=1.0), ValueError, r"test_fraction must be in \(0.0, 1.0\)"),
    ],
)
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- multi-label data
from losscookbook.data import MultilabelData, make_multilabel  # noqa: E402


def test_make_multilabel_shapes_dtypes_prevalence_and_determinism():
    data = make_multilabel(3000, num_labels=5, num_features=7, prevalence=[0.5, 0.3, 0.2, 0.1, 0.02], seed=4)
    assert isinstance(data, MultilabelData)
    assert data.X.shape == (3000, 7) and data.X.dtype == torch.float32
    assert data.Y.shape == (3000, 5) and data.Y.dtype == torch.float32
    assert set(data.Y.unique().tolist()) == {0.0, 1.0}
    assert data.Y.sum(0).tolist() == [1500.0, 900.0, 600.0, 300.0, 60.0]
    assert torch.equal(data.prevalence, torch.tensor([0.5, 0.3, 0.2, 0.1, 0.02], dtype=torch.float64))
    again = make_multilabel(3000, num_labels=5, num_features=7, prevalence=[0.5, 0.3, 0.2, 0.1, 0.02], seed=4)
    assert torch.equal(data.X, again.X) and torch.equal(data.Y, again.Y)
    other = make_multilabel(3000, num_labels=5, num_features=7, prevalence=[0.5, 0.3, 0.2, 0.1, 0.02], seed=5)
    assert not torch.equal(data.Y, other.Y)


def test_make_multilabel_default_prevalence_falls_from_0_4_to_0_05():
    data = make_multilabel(2000, num_labels=6)
    assert data.prevalence[0] == pytest.approx(0.4) and data.prevalence[-1] == pytest.approx(0.05)
    assert (data.prevalence.diff() < 0).all()
    assert torch.allclose(data.Y.mean(0).double(), data.prevalence, atol=1 / 2000)
    assert make_multilabel(10, num_labels=1).Y.sum() == 4


def test_make_multilabel_labels_are_correlated_and_predictable():
    data = make_multilabel(20000, num_labels=8, rank=2, noise=0.5, seed=1)
    corr = torch.corrcoef(data.Y.T)
    off_diagonal = corr[~torch.eye(8, dtype=torch.bool)].abs()
    assert off_diagonal.max() > 0.2  # two hidden factors shared by eight labels
    # the labels depend on the inputs, less so with more label noise: the share of each label's
    # variance left by a least-squares fit on (x, tanh x) grows with the noise
    unexplained = []
    for noise in (0.0, 0.5, 3.0):
        d = make_multilabel(20000, num_labels=8, rank=2, noise=noise, seed=1)
        X = torch.cat([d.X, d.X.tanh(), torch.ones(20000, 1)], 1).double()
        fit = torch.linalg.lstsq(X, d.Y.double()).solution
        unexplained.append(float((((X @ fit - d.Y.double()) ** 2).mean(0) / d.Y.double().var(0)).mean()))
    assert unexplained[0] < 0.65 and unexplained[0] < unexplained[1] < unexplained[2]
    assert unexplained[2] > 0.9


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_multilabel(1), r"n_samples must be an integer in \[2, inf\], got 1"),
        (lambda: make_multilabel(10, num_labels=0), r"num_labels must be an integer in \[1, inf\], got 0"),
        (lambda: make_multilabel(10, num_labels=2, prevalence=[0.1]), r"prevalence must have num_labels=2 entries, got 1"),
        (lambda: make_multilabel(10, num_labels=2, prevalence=[0.1, 1.0]), r"prevalence\[1\] must be in \(0.0, 1.0\), got 1.0"),
        (lambda: make_multilabel(10, noise=-1.0), r"noise must be in \[0.0, inf\], got -1.0"),
        (lambda: make_multilabel(10, rank=0), r"rank must be an integer in \[1, inf\], got 0"),
    ],
)
def test_make_multilabel_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()

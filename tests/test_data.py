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


# ------------------------------------------------------------------ Zipf catalogue
def test_zipf_catalogue_shapes_popularity_and_determinism():
    from losscookbook.data import make_zipf_catalogue

    data = make_zipf_catalogue(50, 300, interactions_per_user=30, dim=4, exponent=1.1, seed=3)
    assert data.users.shape == data.items.shape == (1500,)
    assert data.user_vectors.shape == (50, 4) and data.item_vectors.shape == (300, 4)
    assert torch.equal(torch.bincount(data.users), torch.full((50,), 30))
    ranks = torch.arange(1, 301, dtype=torch.float64)
    zipf = ranks.pow(-1.1) / ranks.pow(-1.1).sum()
    torch.testing.assert_close(data.popularity.double(), zipf, rtol=1e-6, atol=0)
    torch.testing.assert_close(data.conditional_logits, data.user_vectors @ data.item_vectors.T + zipf.log().float())
    again = make_zipf_catalogue(50, 300, interactions_per_user=30, dim=4, exponent=1.1, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(data, again))
    other = make_zipf_catalogue(50, 300, interactions_per_user=30, dim=4, exponent=1.1, seed=4)
    assert not torch.equal(data.items, other.items)


def test_zipf_catalogue_interactions_follow_popularity_times_preference():
    from losscookbook.data import make_zipf_catalogue

    data = make_zipf_catalogue(20, 30, interactions_per_user=4000, dim=3, seed=0)
    # per user, the empirical item distribution matches softmax(preference + log popularity)
    counts = torch.zeros(20, 30).index_put_((data.users, data.items), torch.ones(data.users.numel()), accumulate=True)
    empirical = counts / 4000
    truth = torch.softmax(data.conditional_logits.double(), 1).float()
    assert (empirical - truth).abs().max() < 0.03
    torch.testing.assert_close(empirical.mean(0), data.item_frequency, atol=0.01, rtol=0)
    # preference alone does not explain the data: popularity is a separate factor
    assert (empirical - torch.softmax(data.preference, 1)).abs().max() > 0.1


def test_zipf_catalogue_bad_arguments():
    from losscookbook.data import make_zipf_catalogue

    with pytest.raises(ValueError, match=r"num_items must be an integer in \[2, inf\], got 1"):
        make_zipf_catalogue(5, 1)
    with pytest.raises(ValueError, match=r"exponent must be in \[0.0, inf\], got -1.0"):
        make_zipf_catalogue(5, 10, exponent=-1.0)
    with pytest.raises(TypeError, match=r"interactions_per_user must be an int, got float"):
        make_zipf_catalogue(5, 10, interactions_per_user=2.5)

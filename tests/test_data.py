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


# --------------------------------------------------------------------------- identities for metric learning
from losscookbook.data import IdentityData, make_identities  # noqa: E402
from losscookbook.metrics import recall_at_k  # noqa: E402


def test_make_identities_shapes_order_and_determinism():
    data = make_identities(12, 5, latent_dim=3, nuisance_dim=2, input_dim=7, seed=4)
    assert isinstance(data, IdentityData)
    assert data.X.shape == (60, 7) and data.X.dtype == torch.float32
    assert data.labels.dtype == torch.int64 and data.labels.tolist() == [k for k in range(12) for _ in range(5)]
    assert data.latent.shape == (60, 3) and data.nuisance.shape == (60, 2)
    assert not data.is_test.any()
    again = make_identities(12, 5, latent_dim=3, nuisance_dim=2, input_dim=7, seed=4)
    for a, b in zip(data, again):
        assert torch.equal(a, b)
    other = make_identities(12, 5, latent_dim=3, nuisance_dim=2, input_dim=7, seed=5)
    assert not torch.equal(data.latent, other.latent)


def test_make_identities_samples_scatter_around_their_centre():
    data = make_identities(50, 40, identity_std=0.05, nuisance_std=2.0, seed=0)
    latent = data.latent.view(50, 40, -1)
    within = (latent - latent.mean(1, keepdim=True)).std()
    assert abs(within.item() - 0.05) < 0.005
    assert abs(data.nuisance.std().item() - 2.0) < 0.05
    # nuisance is independent of the identity: per-identity means are near 0
    assert data.nuisance.view(50, 40, -1).mean(1).abs().max() < 2.0 * 4 / 40**0.5


def test_make_identities_held_out_identities_are_disjoint():
    data = make_identities(10, 3, num_test_identities=4)
    assert data.is_test.tolist() == [False] * 18 + [True] * 12
    train, test = data.split()
    assert set(train.labels.tolist()) == set(range(6)) and set(test.labels.tolist()) == set(range(6, 10))
    assert torch.equal(torch.cat([train.X, test.X]), data.X)
    assert not train.is_test.any() and test.is_test.all()


def test_make_identities_map_seed_gives_a_second_view_of_the_same_samples():
    a = make_identities(8, 4, seed=1, map_seed=0)
    b = make_identities(8, 4, seed=1, map_seed=1)
    assert torch.equal(a.latent, b.latent) and torch.equal(a.nuisance, b.nuisance)
    assert not torch.allclose(a.X, b.X, atol=1e-2)
    # the sensor does not depend on seed: identical factors give identical inputs
    c = make_identities(8, 4, identity_std=0.0, nuisance_std=0.0, seed=2)
    d = make_identities(8, 4, identity_std=0.0, nuisance_std=0.0, seed=2, map_seed=0)
    assert torch.equal(c.X, d.X)
    assert torch.equal(c.X.view(8, 4, -1)[:, 0], c.X.view(8, 4, -1)[:, 3])


def test_make_identities_raw_inputs_do_not_cluster_but_the_identity_factors_do():
    _, test = make_identities(200, 8, num_test_identities=100, seed=0).split()
    assert recall_at_k(test.X, test.labels) < 0.3
    assert recall_at_k(test.latent, test.labels) > 0.95
    # without nuisance the raw inputs do cluster: the nuisance is what hides the identity
    _, clean = make_identities(200, 8, num_test_identities=100, nuisance_std=0.0, seed=0).split()
    assert recall_at_k(clean.X, clean.labels) > 0.95


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_identities=0, samples_per_identity=2), r"num_identities must be an integer in \[1, inf\], got 0"),
        (dict(num_identities=3, samples_per_identity=0), r"samples_per_identity must be an integer in \[1, inf\], got 0"),
        (dict(num_identities=3, samples_per_identity=2, num_test_identities=4), r"num_test_identities must be an integer in \[0, 3\], got 4"),
        (dict(num_identities=3, samples_per_identity=2, identity_std=-1.0), r"identity_std must be in \[0.0, inf\], got -1.0"),
        (dict(num_identities=3, samples_per_identity=2, nonlinearity=0.0), r"nonlinearity must be in \(0.0, inf\], got 0.0"),
        (dict(num_identities=3, samples_per_identity=2, latent_dim=0), r"latent_dim must be an integer in \[1, inf\], got 0"),
    ],
)
def test_make_identities_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_identities(**kwargs)

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


# --------------------------------------------------------------------------- multi-task regression
from losscookbook.data import make_gradnorm_regression, make_uncertainty_regression  # noqa: E402


def test_uncertainty_regression_follows_its_formula_with_the_stated_noise():
    data = make_uncertainty_regression(20000, seed=1)
    assert data.X.shape == (20000, 1) and data.Y.shape == (20000, 2) and data.Y.dtype == torch.float32
    assert data.noise_std.tolist() == [10.0, 1.0] and data.scales.tolist() == [1.0, 1.0]
    x = data.X[:, 0].double()
    # the clean targets are the two lines, written out here from the formula
    assert torch.allclose(data.clean.double(), torch.stack([2 * x + 8, 3 * x + 3], 1), atol=1e-5)
    residual = (data.Y - data.clean).double()
    assert torch.allclose(residual.std(0), torch.tensor([10.0, 1.0], dtype=torch.float64), rtol=0.03)
    assert residual.mean(0).abs().max() < 0.2
    assert abs(float(torch.corrcoef(residual.T)[0, 1])) < 0.05          # independent noise per task
    # least squares on each task recovers slope and intercept
    A = torch.stack([x, torch.ones_like(x)], 1)
    coef = torch.linalg.lstsq(A, data.Y.double()).solution
    assert torch.allclose(coef, torch.tensor([[2.0, 3.0], [8.0, 3.0]], dtype=torch.float64), atol=0.2)
    again = make_uncertainty_regression(20000, seed=1)
    assert torch.equal(data.Y, again.Y) and not torch.equal(data.Y, make_uncertainty_regression(20000, seed=2).Y)


def test_uncertainty_regression_takes_any_number_of_tasks():
    data = make_uncertainty_regression(50, noise_std=(1.0, 2.0, 0.0), slopes=(1, 1, 1), intercepts=(0, 0, 5))
    assert data.Y.shape == (50, 3)
    assert torch.equal(data.Y[:, 2], data.clean[:, 2]) and torch.allclose(data.clean[:, 2], data.X[:, 0] + 5)


def test_gradnorm_regression_matches_the_formula_written_as_loops():
    data = make_gradnorm_regression(30, scales=(1.0, 10.0, 100.0), num_features=6, num_outputs=4, seed=3)
    assert data.X.shape == (30, 6) and data.Y.shape == (30, 3, 4) and torch.equal(data.Y, data.clean)
    assert torch.allclose(data.X.norm(dim=1), torch.ones(30), atol=1e-6)
    assert data.scales.tolist() == [1.0, 10.0, 100.0] and data.noise_std.tolist() == [0.0, 0.0, 0.0]
    # redraw B and eps in the generator's order and evaluate f_t(x) = sigma_t tanh((B + eps_t) x) with loops
    g = torch.Generator().manual_seed(3)
    B = 10.0 * torch.randn(4, 6, generator=g, dtype=torch.float64)
    eps = 3.5 * torch.randn(3, 4, 6, generator=g, dtype=torch.float64)
    X = data.X.double()
    for n in range(0, 30, 7):
        for t, sigma in enumerate((1.0, 10.0, 100.0)):
            for o in range(4):
                z = sum((B[o, f] + eps[t, o, f]) * X[n, f] for f in range(6))
                assert abs(sigma * float(torch.tanh(z)) - float(data.Y[n, t, o])) < 1e-4 * sigma


def test_gradnorm_tasks_differ_in_scale_but_share_structure():
    data = make_gradnorm_regression(4000, num_features=20, num_outputs=8, seed=0)
    unit = data.Y / data.scales[None, :, None]
    # the same difficulty: the unit-scale targets have comparable spread ...
    spread = unit.std(dim=(0, 2))
    assert 0.7 < float(spread[0] / spread[1]) < 1.4
    # ... the losses of a zero predictor differ by sigma^2 = 10^4 ...
    zero_loss = (data.Y**2).mean(dim=(0, 2))
    assert 0.5e4 < float(zero_loss[1] / zero_loss[0]) < 2e4
    # ... and the tasks are related through the shared B: their unit-scale outputs correlate
    assert float(torch.corrcoef(torch.stack([unit[:, 0].flatten(), unit[:, 1].flatten()]))[0, 1]) > 0.5
    # without a shared part the tasks are unrelated
    apart = make_gradnorm_regression(4000, num_features=20, num_outputs=8, shared_std=0.0, seed=0)
    assert abs(float(torch.corrcoef(torch.stack([apart.Y[:, 0].flatten(), apart.Y[:, 1].flatten()]))[0, 1])) < 0.1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_uncertainty_regression(0), r"n_samples must be an integer in \[1, inf\], got 0"),
        (lambda: make_uncertainty_regression(10, noise_std=()), r"noise_std must list one noise level per task"),
        (lambda: make_uncertainty_regression(10, noise_std=(1.0, -1.0)), r"noise_std\[i\] must be in \[0.0, inf\], got -1.0"),
        (lambda: make_uncertainty_regression(10, slopes=(1.0,)), r"slopes and intercepts must have one entry per task \(2\), got 1 and 2"),
        (lambda: make_gradnorm_regression(10, scales=()), r"scales must list one scale per task"),
        (lambda: make_gradnorm_regression(10, scales=(1.0, 0.0)), r"scales\[i\] must be in \(0.0, inf\], got 0.0"),
        (lambda: make_gradnorm_regression(10, num_outputs=0), r"num_outputs must be an integer in \[1, inf\], got 0"),
        (lambda: make_gradnorm_regression(10, task_std=-1), r"task_std must be in \[0.0, inf\], got -1"),
    ],
)
def test_multitask_generators_reject_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()

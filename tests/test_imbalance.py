"""Tests of losscookbook.imbalance: class weights, pos_weight, balanced sampling, balanced BCE."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import WeightedRandomSampler

import losscookbook as lc
from contract import (
    assert_empty_is_zero,
    assert_finite_with_grad,
    assert_half_precision,
    assert_module_matches,
    assert_reductions_consistent,
    assert_rejects_reduction,
)


# ------------------------------------------------------------------ class_weights
@pytest.mark.parametrize("beta, published", [(0.9, 1.005), (0.99, 2.53), (0.999, 20.4), (0.9999, 78.9)])
def test_effective_number_ratio_matches_cui_et_al(beta, published):
    # Cui et al.: at imbalance 100 (5000 vs 50 samples) the max/min weight ratio
    w = lc.class_weights([5000, 50], method="effective_number", beta=beta)
    ratio = float(w[1] / w[0])
    # the paper's formula, (1 - beta) / (1 - beta^n), written out here
    expected = ((1 - beta) / (1 - beta**50)) / ((1 - beta) / (1 - beta**5000))
    assert ratio == pytest.approx(expected, rel=1e-5)
    assert ratio == pytest.approx(published, rel=5e-3)


def test_effective_numbers_published_values():
    # E_n at beta = 0.9999 for n = 100, 1000, 5000 is 99.5, 951.7, 3934.9; unnormalized w = 1 / E_n
    w = lc.class_weights([100, 1000, 5000], method="effective_number", beta=0.9999, normalize=False)
    torch.testing.assert_close(1.0 / w.double(), torch.tensor([99.5, 951.7, 3934.9], dtype=torch.float64), rtol=2e-4, atol=0)


@pytest.mark.parametrize(
    "method, raw",
    [("inverse", lambda n: 1.0 / n), ("sqrt_inverse", lambda n: 1.0 / math.sqrt(n))],
)
def test_inverse_methods_and_normalization(method, raw):
    counts = [1000, 100, 10, 1]
    w = lc.class_weights(counts, method=method)
    expected = torch.tensor([raw(n) for n in counts], dtype=torch.float64)
    expected = expected * len(counts) / expected.sum()
    torch.testing.assert_close(w.double(), expected, rtol=1e-6, atol=0)
    assert w.dtype == torch.float32
    assert float(w.sum()) == pytest.approx(4.0, rel=1e-6)
    unnormalized = lc.class_weights(counts, method=method, normalize=False)
    torch.testing.assert_close(unnormalized.double(), torch.tensor([raw(n) for n in counts], dtype=torch.float64), rtol=1e-6, atol=0)


def test_effective_number_limits():
    counts = torch.tensor([900, 90, 9])
    torch.testing.assert_close(lc.class_weights(counts, method="effective_number", beta=0.0), torch.ones(3))
    # beta -> 1 approaches inverse frequency
    near_one = lc.class_weights(counts, method="effective_number", beta=1 - 1e-9)
    torch.testing.assert_close(near_one, lc.class_weights(counts, method="inverse"), rtol=1e-5, atol=0)
    # the weights never increase with the count; they saturate (E_n -> 1 / (1 - beta)) for large n
    for beta in (0.5, 0.9, 0.99, 0.999):
        w = lc.class_weights(counts, method="effective_number", beta=beta)
        assert w[0] <= w[1] <= w[2]
        assert w[0] < w[2]
    # ... so at beta = 0.5 the two largest classes (E_n = 2 - 2^(1-n)) weigh the same in float32
    w = lc.class_weights(counts, method="effective_number", beta=0.5)
    assert w[0] == w[1]


def test_class_weights_accept_tensors_and_keep_the_device(device):
    y = torch.tensor([0, 0, 0, 1, 2, 2], device=device)
    w = lc.class_weights(torch.bincount(y))
    assert w.device == y.device and w.shape == (3,)
    torch.testing.assert_close(w.cpu(), torch.tensor([1 / 3, 1.0, 0.5]) * 3 / (1 / 3 + 1 + 0.5))


def test_class_weights_feed_cross_entropy():
    # with inverse weights every class carries the same total weight in a weighted sum
    y = torch.tensor([0] * 90 + [1] * 9 + [2])
    w = lc.class_weights(torch.bincount(y))
    per_class = torch.zeros(3).index_add_(0, y, w[y])
    torch.testing.assert_close(per_class, per_class.mean().expand(3))
    logits = torch.randn(100, 3)
    F.cross_entropy(logits, y, weight=w)  # shape and dtype are what cross_entropy expects


@pytest.mark.parametrize(
    "counts, kwargs, error, message",
    [
        ([10, 0, 5], {}, ValueError, r"counts must be positive and finite for every class .* got 0.0 for class 1"),
        ([10, -1], {}, ValueError, r"got -1.0 for class 1"),
        ([[1, 2]], {}, ValueError, r"counts must be a non-empty vector of per-class counts \(C,\), got shape \(1, 2\)"),
        ([], {}, ValueError, r"non-empty vector"),
        ("abc", {}, TypeError, r"counts must be a tensor, a number or a sequence of numbers, got str"),
        (torch.tensor([True, False]), {}, TypeError, r"counts must hold real numbers, got dtype torch.bool"),
        ([10, 5], dict(method="log"), ValueError, r"method must be one of \('inverse', 'sqrt_inverse', 'effective_number'\), got 'log'"),
        ([10, 5], dict(method="effective_number", beta=1.0), ValueError, r"beta must be in \[0.0, 1.0\), got 1.0"),
        ([10, 5], dict(normalize=1), TypeError, r"normalize must be a bool, got int"),
    ],
)
def test_class_weights_rejects(counts, kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.class_weights(counts, **kwargs)


# ------------------------------------------------------------------ pos_weight_from_counts
def test_pos_weight_balances_the_two_classes():
    y = torch.tensor([1.0] * 7 + [0.0] * 93)
    pw = lc.pos_weight_from_counts(7, 93)
    assert pw.dtype == torch.float32 and pw.shape == ()
    assert float(pw) == pytest.approx(93 / 7)
    # at logit 0 the BCE gradient is (pw * y + (1 - y)) * (p - y)-like: the positives' summed
    # gradient magnitude equals the negatives'
    x = torch.zeros(100, requires_grad=True)
    F.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="sum").backward()
    assert float(x.grad[y == 1].abs().sum()) == pytest.approx(float(x.grad[y == 0].abs().sum()), rel=1e-5)


def test_pos_weight_per_label():
    pos = torch.tensor([1, 10, 50])
    pw = lc.pos_weight_from_counts(pos, 100 - pos)
    torch.testing.assert_close(pw, torch.tensor([99.0, 9.0, 1.0]))


@pytest.mark.parametrize(
    "pos, neg, error, message",
    [
        (0, 10, ValueError, r"num_pos must be positive and finite, got 0.0"),
        (5, -1, ValueError, r"num_neg must be non-negative and finite, got -1.0"),
        (torch.tensor([1, 2]), torch.tensor([1, 2, 3]), ValueError, r"num_neg must have the shape of num_pos \(2,\), got \(3,\)"),
        ("5", 10, TypeError, r"num_pos must be a tensor, a number or a sequence of numbers, got str"),
    ],
)
def test_pos_weight_rejects(pos, neg, error, message):
    with pytest.raises(error, match=message):
        lc.pos_weight_from_counts(pos, neg)


# ------------------------------------------------------------------ balanced_sampler
def test_balanced_sampler_draws_classes_equally():
    y = torch.tensor([0] * 970 + [1] * 25 + [2] * 5)
    sampler = lc.balanced_sampler(y, num_samples=30000, generator=torch.Generator().manual_seed(0))
    assert isinstance(sampler, WeightedRandomSampler)
    drawn = y[torch.tensor(list(sampler))]
    share = torch.bincount(drawn, minlength=3).double() / drawn.numel()
    # 30000 draws: the standard error of each share is about 0.003
    torch.testing.assert_close(share, torch.full((3,), 1 / 3, dtype=torch.float64), rtol=0, atol=0.02)
    # each sample's weight is 1 / (its class count)
    torch.testing.assert_close(sampler.weights[:970], torch.full((970,), 1 / 970, dtype=torch.float64))


def test_balanced_sampler_defaults_to_one_epoch_of_draws():
    y = torch.tensor([0, 0, 0, 1])
    sampler = lc.balanced_sampler(y)
    assert len(sampler) == 4 and sampler.replacement


@pytest.mark.parametrize(
    "targets, kwargs, error, message",
    [
        (torch.tensor([0.0, 1.0]), {}, TypeError, r"targets must hold class indices \(an integer tensor\), got dtype torch.float32"),
        (torch.zeros(2, 2, dtype=torch.long), {}, ValueError, r"targets must be a non-empty vector of class indices \(N,\), got shape \(2, 2\)"),
        (torch.tensor([0, -1]), {}, ValueError, r"targets must be class indices >= 0, got -1"),
        (torch.tensor([0, 1]), dict(num_samples=0), ValueError, r"num_samples must be an integer in \[1, inf\], got 0"),
    ],
)
def test_balanced_sampler_rejects(targets, kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.balanced_sampler(targets, **kwargs)


# ------------------------------------------------------------------ balanced_binary_cross_entropy
def ref_balanced_bce(x, y, alpha):
    """-[alpha y log p + (1 - alpha)(1 - y) log(1 - p)] in float64, element by element."""
    x, y = x.double().flatten().tolist(), y.double().flatten().tolist()
    out = []
    for xi, yi in zip(x, y):
        p = 1 / (1 + math.exp(-xi))
        out.append(-(alpha * yi * math.log(p) + (1 - alpha) * (1 - yi) * math.log(1 - p)))
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_balanced_bce_equals_reference(device, alpha):
    x = (torch.randn(40) * 4).to(device)
    y = (torch.rand(40) < 0.3).float().to(device)
    ours = lc.balanced_binary_cross_entropy(x, y, alpha=alpha, reduction="none")
    torch.testing.assert_close(ours.double().cpu(), ref_balanced_bce(x.cpu(), y.cpu(), alpha), rtol=1e-5, atol=1e-6)


def test_balanced_bce_half_alpha_is_half_bce_and_fraction_of_negatives_is_pos_weight():
    x = torch.randn(200) * 3
    y = (torch.rand(200) < 0.05).float()
    torch.testing.assert_close(2 * lc.balanced_binary_cross_entropy(x, y, alpha=0.5), F.binary_cross_entropy_with_logits(x, y))
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    alpha = n_neg / (n_pos + n_neg)
    ours = lc.balanced_binary_cross_entropy(x, y, alpha=alpha)
    theirs = F.binary_cross_entropy_with_logits(x, y, pos_weight=lc.pos_weight_from_counts(n_pos, n_neg))
    torch.testing.assert_close(ours, (1 - alpha) * theirs, rtol=1e-5, atol=1e-7)


def test_balanced_bce_per_label_alpha(device):
    x = torch.randn(6, 3, device=device)
    y = (torch.rand(6, 3, device=device) < 0.5).float()
    alpha = torch.tensor([0.2, 0.5, 0.9], device=device)
    ours = lc.balanced_binary_cross_entropy(x, y, alpha=alpha, reduction="none")
    for c in range(3):
        torch.testing.assert_close(ours[:, c], lc.balanced_binary_cross_entropy(x[:, c], y[:, c], alpha=float(alpha[c]), reduction="none"))


def test_balanced_bce_contract(device):
    x = torch.tensor([1e4, -1e4, 1e4, -1e4], device=device)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0], device=device)
    grad = assert_finite_with_grad(lc.balanced_binary_cross_entropy, x, y, alpha=0.25, reduction="sum")
    torch.testing.assert_close(grad, torch.tensor([0.0, 0.0, 0.75, -0.25], device=device))
    assert float(lc.balanced_binary_cross_entropy(x, y, alpha=0.25, reduction="sum")) == pytest.approx(1e4)
    assert_reductions_consistent(lc.balanced_binary_cross_entropy, x, y, alpha=0.3)
    assert_rejects_reduction(lc.balanced_binary_cross_entropy, x, y)
    assert_empty_is_zero(lc.balanced_binary_cross_entropy, x[:0], y[:0])
    for dtype in (torch.float16, torch.bfloat16):
        assert_half_precision(lc.balanced_binary_cross_entropy, torch.randn(8, device=device) * 5, y.repeat(2), dtype, alpha=0.7)
    xx = torch.randn(6, dtype=torch.float64, requires_grad=True)
    yy = torch.rand(6, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: lc.balanced_binary_cross_entropy(z, yy, alpha=0.8), (xx,))


def test_balanced_bce_module():
    x, y = torch.randn(10), (torch.rand(10) < 0.5).float()
    module = lc.BalancedBinaryCrossEntropy(alpha=0.9, reduction="sum")
    assert_module_matches(module, lc.balanced_binary_cross_entropy, x, y, alpha=0.9, reduction="sum")
    assert "alpha=0.9" in repr(module)
    per_label = lc.BalancedBinaryCrossEntropy(alpha=torch.tensor([0.1, 0.9]))
    assert "alpha" in per_label.state_dict()
    clone = lc.BalancedBinaryCrossEntropy(alpha=torch.tensor([0.5, 0.5]))
    clone.load_state_dict(per_label.state_dict())
    xx, yy = torch.randn(4, 2), (torch.rand(4, 2) < 0.5).float()
    torch.testing.assert_close(clone(xx, yy), per_label(xx, yy))


@pytest.mark.parametrize(
    "x, y, kwargs, error, message",
    [
        (torch.zeros(3), torch.zeros(4), {}, ValueError, r"target must have the same shape as input, expected \(3,\), got \(4,\)"),
        (torch.zeros(3), torch.tensor([0.0, 1.0, 1.5]), {}, ValueError, r"target values must be in \[0.0, 1.0\], got 1.5"),
        (torch.zeros(3), torch.tensor([0, 1, 1]), {}, TypeError, r"target must be a floating-point tensor, got dtype torch.int64"),
        (torch.zeros(3), torch.zeros(3), dict(alpha=1.5), ValueError, r"alpha must be in \[0.0, 1.0\], got 1.5"),
        (torch.zeros(3), torch.zeros(3), dict(alpha=None), TypeError, r"alpha must be a real number in \[0, 1\] or a tensor, got NoneType"),
        (torch.zeros(4, 3), torch.zeros(4, 3), dict(alpha=torch.ones(2) / 2), ValueError,
         r"alpha must broadcast to the shape of input \(4, 3\), got \(2,\)"),
        (torch.zeros(4, 2), torch.zeros(4, 2), dict(alpha=torch.tensor([0.5, 2.0])), ValueError, r"alpha values must be in \[0.0, 1.0\], got 2.0"),
    ],
)
def test_balanced_bce_rejects(x, y, kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.balanced_binary_cross_entropy(x, y, **kwargs)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 20), alpha=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_property_balanced_bce_is_a_class_weighted_bce(n, alpha, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g, dtype=torch.float64) * 6
    y = (torch.rand(n, generator=g, dtype=torch.float64) < 0.5).double()
    ours = lc.balanced_binary_cross_entropy(x, y, alpha=alpha, reduction="none")
    bce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    torch.testing.assert_close(ours, torch.where(y == 1, alpha * bce, (1 - alpha) * bce))


# ------------------------------------------------------------------ data: make_imbalanced_binary
def test_imbalanced_generator_counts_shapes_and_seed():
    X, y = lc.data.make_imbalanced_binary(10_100, imbalance_ratio=100, num_features=5, seed=3)
    assert X.shape == (10_100, 5) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert int(y.sum()) == 100
    X2, y2 = lc.data.make_imbalanced_binary(10_100, imbalance_ratio=100, num_features=5, seed=3)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    assert not torch.equal(X, lc.data.make_imbalanced_binary(10_100, imbalance_ratio=100, num_features=5, seed=4)[0])
    # positives sit on the circle of the given radius in the first two features, tightly
    r = X[y == 1, :2].norm(dim=1)
    assert abs(float(r.mean()) - 3.0) < 0.2 and float(r.std()) < 0.6
    # extra features are pure noise for both classes
    assert abs(float(X[y == 1, 2:].mean())) < 0.2 and abs(float(X[y == 1, 2:].std()) - 1) < 0.2


def test_imbalanced_generator_logit_is_the_true_posterior():
    X, y, logit = lc.data.make_imbalanced_binary(200_000, imbalance_ratio=50, radius=3.0, cluster_std=0.3, seed=1, return_logit=True)
    assert logit.dtype == torch.float64 and logit.shape == (200_000,)
    p = torch.sigmoid(logit)
    # calibration: in each band of predicted probability the observed positive rate matches
    for low, high in [(0.0, 0.01), (0.01, 0.1), (0.1, 0.5), (0.5, 1.0)]:
        band = (p >= low) & (p < high)
        assert band.sum() > 200
        observed, predicted = float(y[band].double().mean()), float(p[band].mean())
        se = math.sqrt(max(predicted * (1 - predicted), 1e-6) / int(band.sum()))
        assert abs(observed - predicted) < 5 * se + 1e-3, (low, high, observed, predicted)


def test_imbalanced_generator_label_noise():
    _, clean = lc.data.make_imbalanced_binary(50_000, imbalance_ratio=100, seed=2)
    _, noisy = lc.data.make_imbalanced_binary(50_000, imbalance_ratio=100, label_noise=0.02, seed=2)
    flipped = (clean != noisy).double().mean()
    assert abs(float(flipped) - 0.02) < 0.003
    # most flips create positive labels among negatives: the positive count roughly triples
    assert int(noisy.sum()) > 2.5 * int(clean.sum())


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(imbalance_ratio=0), ValueError, r"imbalance_ratio must be in \(0.0, inf\], got 0.0"),
        (dict(num_features=1), ValueError, r"num_features must be an integer in \[2, inf\], got 1"),
        (dict(cluster_std=0.0), ValueError, r"cluster_std must be in \(0.0, inf\], got 0.0"),
        (dict(label_noise=1.5), ValueError, r"label_noise must be in \[0.0, 1.0\], got 1.5"),
    ],
)
def test_imbalanced_generator_rejects(kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.data.make_imbalanced_binary(100, **kwargs)


def test_prior_bias_predicts_the_prior():
    b = lc.prior_bias(0.01)
    assert b.item() == pytest.approx(-math.log(0.99 / 0.01), abs=1e-6)  # RetinaNet's -4.595
    assert torch.sigmoid(b).item() == pytest.approx(0.01, rel=1e-6)
    rates = torch.tensor([0.2, 0.5, 0.9])
    torch.testing.assert_close(torch.sigmoid(lc.prior_bias(rates)), rates)
    for bad in (0.0, 1.0, torch.tensor([0.5, 1.2])):
        with pytest.raises(ValueError, match=r"prior must be a rate in \(0, 1\)"):
            lc.prior_bias(bad)

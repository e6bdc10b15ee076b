"""Tests of losscookbook.focal: sigmoid (binary / multi-label) and softmax focal loss."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losscookbook as lc
from contract import (
    assert_autocast_bfloat16,
    assert_empty_is_zero,
    assert_finite_with_grad,
    assert_half_precision,
    assert_module_matches,
    assert_reductions_consistent,
    assert_rejects_reduction,
)

GAMMAS = [0.0, 0.25, 0.5, 0.99, 1.0, 1.5, 2.0, 5.0]


def _binary(shape=(64,), device="cpu", dtype=torch.float32, scale=3.0, seed=0, soft=False):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g) * scale).to(device=device, dtype=dtype)
    y = torch.rand(shape, generator=g) if soft else (torch.rand(shape, generator=g) < 0.3).float()
    return x, y.to(device=device, dtype=dtype if dtype in (torch.float32, torch.float64) else torch.float32)


# ------------------------------------------------------------------ references written from the paper
def ref_sigmoid_focal(x, y, alpha, gamma):
    """FL(p_t) = -alpha_t (1 - p_t)^gamma log p_t, element by element in float64 (0/1 targets).

    log p_t is log sigma(x_t) with x_t = x for y = 1 and -x for y = 0, written as
    -log1p(exp(-x_t)) (or x_t - log1p(exp(x_t)) for negative x_t) so that it is exact at any logit.
    """
    out = []
    for xi, yi in zip(x.double().flatten().tolist(), y.double().flatten().tolist()):
        xt = xi if yi == 1 else -xi
        log_pt = -math.log1p(math.exp(-xt)) if xt >= 0 else xt - math.log1p(math.exp(xt))
        log_1m_pt = -xt + log_pt  # log(1 - p_t) = log sigma(-x_t)
        factor = 1.0 if gamma == 0 else math.exp(gamma * log_1m_pt)
        alpha_t = 1.0 if alpha is None else (alpha if yi == 1 else 1 - alpha)
        out.append(-alpha_t * factor * log_pt)
    return torch.tensor(out, dtype=torch.float64).reshape(x.shape)


def torchvision_style_focal(x, y, alpha=0.25, gamma=2.0):
    """The widely copied formula (torchvision.ops.sigmoid_focal_loss), unreduced."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


def ref_softmax_focal(x, t, alpha, gamma, ignore_index=-100):
    """-alpha_y (1 - p_y)^gamma log p_y per sample (class dim 1), float64; returns (loss, weight)."""
    xs = x.double().movedim(1, -1).reshape(-1, x.shape[1]).cpu()
    ts = t.reshape(-1).cpu().tolist()
    losses, weights = [], []
    for row, y in zip(xs, ts):
        if y == ignore_index:
            losses.append(0.0)
            weights.append(0.0)
            continue
        log_p = row - torch.logsumexp(row, 0)
        log_py = float(log_p[y])
        # log(1 - p_y) from the other classes, exact for p_y near 1
        others = torch.cat([row[:y], row[y + 1 :]])
        log_1m = float(torch.logsumexp(others, 0) - torch.logsumexp(row, 0))
        a = 1.0 if alpha is None else float(alpha[y])
        losses.append(-a * math.exp(gamma * log_1m) * log_py)
        weights.append(a)
    shape = t.shape
    return torch.tensor(losses, dtype=torch.float64).reshape(shape), torch.tensor(weights, dtype=torch.float64).reshape(shape)


# ------------------------------------------------------------------ sigmoid focal: values
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
def test_sigmoid_equals_paper_reference(device, gamma, alpha):
    x, y = _binary((8, 5), device, scale=6.0)
    ours = lc.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="none")
    torch.testing.assert_close(ours.double().cpu(), ref_sigmoid_focal(x.cpu(), y.cpu(), alpha, gamma), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("gamma, alpha", [(2.0, 0.25), (1.0, 0.5), (3.0, 0.75), (2.0, -1)])
def test_sigmoid_matches_torchvision_formula_on_moderate_logits(device, gamma, alpha):
    x, y = _binary((500,), device, scale=4.0)
    ours = lc.sigmoid_focal_loss(x, y, alpha=None if alpha < 0 else alpha, gamma=gamma, reduction="none")
    torch.testing.assert_close(ours, torchvision_style_focal(x, y, alpha, gamma), rtol=1e-5, atol=1e-7)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    lc.sigmoid_focal_loss(a, y, alpha=None if alpha < 0 else alpha, gamma=gamma, reduction="sum").backward()
    torchvision_style_focal(b, y, alpha, gamma).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("soft", [False, True])
def test_gamma_zero_without_alpha_is_bce_including_gradients(device, soft):
    x, y = _binary((200,), device, scale=8.0, soft=soft)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours = lc.sigmoid_focal_loss(a, y, alpha=None, gamma=0.0)
    theirs = F.binary_cross_entropy_with_logits(b, y)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-9)


def test_gamma_zero_with_alpha_is_balanced_bce_including_gradients():
    x, y = _binary((100,), scale=5.0)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours = lc.sigmoid_focal_loss(a, y, alpha=0.8, gamma=0.0, reduction="sum")
    theirs = lc.balanced_binary_cross_entropy(b, y, alpha=0.8, reduction="sum")
    torch.testing.assert_close(ours, theirs)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-9)


def test_soft_targets_mix_the_two_terms_linearly():
    x = torch.randn(30, dtype=torch.float64) * 3
    y = torch.rand(30, dtype=torch.float64)
    pos = ref_sigmoid_focal(x, torch.ones_like(x), 0.3, 1.5)
    neg = ref_sigmoid_focal(x, torch.zeros_like(x), 0.3, 1.5)
    ours = lc.sigmoid_focal_loss(x, y, alpha=0.3, gamma=1.5, reduction="none")
    torch.testing.assert_close(ours, y * pos + (1 - y) * neg)


def test_multilabel_per_label_alpha(device):
    x, y = _binary((16, 3), device)
    alpha = torch.tensor([0.1, 0.5, 0.95], device=device)
    ours = lc.sigmoid_focal_loss(x, y, alpha=alpha, gamma=2.0, reduction="none")
    for c in range(3):
        expected = ref_sigmoid_focal(x[:, c].cpu(), y[:, c].cpu(), float(alpha[c]), 2.0)
        torch.testing.assert_close(ours[:, c].double().cpu(), expected, rtol=1e-5, atol=1e-7)


def test_modulating_factor_published_figures():
    # (1 - p_t)^-gamma: 100x at p_t = 0.9; 976.6x at p_t = 0.968; misclassified examples at most 4x
    for p_t, factor in [(0.9, 100.0), (0.968, 976.5625), (0.5, 4.0)]:
        x = torch.tensor([math.log(p_t / (1 - p_t))], dtype=torch.float64)
        y = torch.ones(1, dtype=torch.float64)
        ratio = F.binary_cross_entropy_with_logits(x, y) / lc.sigmoid_focal_loss(x, y, alpha=None, gamma=2.0)
        assert float(ratio) == pytest.approx(factor, rel=1e-9)


# ------------------------------------------------------------------ sigmoid focal: numerics
@pytest.mark.parametrize("gamma", GAMMAS)
def test_sigmoid_saturated_logits(device, gamma):
    x = torch.tensor([1e4, -1e4, 1e4, -1e4, 80.0, -80.0], device=device)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 1.0], device=device)
    grad = assert_finite_with_grad(lc.sigmoid_focal_loss, x, y, alpha=0.25, gamma=gamma, reduction="sum")
    # easy ones: no loss, no gradient; hard ones: the loss is alpha_t |x|, the gradient +-alpha_t
    expected = torch.tensor([0.0, 0.0, 0.75, -0.25, 0.75, -0.25], device=device)
    torch.testing.assert_close(grad, expected)
    loss = lc.sigmoid_focal_loss(x, y, alpha=0.25, gamma=gamma, reduction="none")
    torch.testing.assert_close(loss, torch.tensor([0.0, 0.0, 7500.0, 2500.0, 60.0, 20.0], device=device))


@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.9])
def test_fractional_gamma_near_saturation_matches_reference(gamma):
    # the regime where (1 - p_t) ** gamma has an infinite derivative: logits 15 ... 40
    x = torch.tensor([15.0, 20.0, 30.0, 40.0, -15.0, -40.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    loss = lc.sigmoid_focal_loss(x, y, alpha=None, gamma=gamma, reduction="sum")
    loss.backward()
    # closed form in terms of x_t: d/dx_t = (1 - p_t)^g (g p_t log p_t - (1 - p_t))
    xt = torch.where(y == 1, x.detach(), -x.detach())
    p_t, q_t = torch.sigmoid(xt), torch.sigmoid(-xt)
    d_xt = q_t**gamma * (gamma * p_t * F.logsigmoid(xt) - q_t)
    torch.testing.assert_close(x.grad, torch.where(y == 1, d_xt, -d_xt), rtol=1e-10, atol=0)
    assert (x.grad != 0).all()  # tiny but not flushed to zero in float64


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 2.5])
def test_sigmoid_gradcheck(gamma):
    x = (torch.randn(12, dtype=torch.float64) * 3).requires_grad_(True)
    y = torch.rand(12, dtype=torch.float64)
    alpha = torch.rand(12, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: lc.sigmoid_focal_loss(z, y, alpha=alpha, gamma=gamma, reduction="sum"), (x,))
    assert torch.autograd.gradcheck(lambda z: lc.sigmoid_focal_loss(z, y, alpha=None, gamma=gamma, reduction="none"), (x,))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_sigmoid_half_precision(device, dtype, gamma):
    x, y = _binary((32,), device, scale=10.0)
    assert_half_precision(lc.sigmoid_focal_loss, x, y, dtype, gamma=gamma)
    big = torch.tensor([1e4, -1e4, 6e4, -6e4], device=device, dtype=dtype, requires_grad=True)
    loss = lc.sigmoid_focal_loss(big, torch.tensor([0.0, 1.0, 1.0, 0.0], device=device), gamma=gamma)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(big.grad.float()).all()


def test_sigmoid_under_autocast():
    x = torch.randn(8, 4) * 50
    y = (torch.rand(8, 3) < 0.5).float()
    assert_autocast_bfloat16(lc.sigmoid_focal_loss, x, y, 3, gamma=0.5)


def test_no_grad_gives_the_same_value():
    x, y = _binary()
    with torch.no_grad():
        value = lc.sigmoid_focal_loss(x, y)
    torch.testing.assert_close(value, lc.sigmoid_focal_loss(x.clone().requires_grad_(True), y).detach())


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 3.0])
def test_sigmoid_double_backward(gamma):
    x = (torch.randn(8, dtype=torch.float64) * 3).requires_grad_(True)
    y = torch.rand(8, dtype=torch.float64)
    alpha = torch.rand(8, dtype=torch.float64)
    assert torch.autograd.gradgradcheck(lambda z: lc.sigmoid_focal_loss(z, y, alpha=alpha, gamma=gamma), (x,))
    # a gradient penalty through the loss sees the second derivative, not a constant
    (grad,) = torch.autograd.grad(lc.sigmoid_focal_loss(x, y, gamma=gamma, reduction="sum"), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.sum(), x)
    assert second.abs().sum() > 0


# ------------------------------------------------------------------ sigmoid focal: reduction, normalizer, module, errors
def test_sigmoid_reductions_and_normalizer(device):
    x, y = _binary((10, 4), device)
    assert_reductions_consistent(lc.sigmoid_focal_loss, x, y)
    assert_rejects_reduction(lc.sigmoid_focal_loss, x, y)
    total = lc.sigmoid_focal_loss(x, y, reduction="sum")
    num_pos = y.sum()
    torch.testing.assert_close(lc.sigmoid_focal_loss(x, y, normalizer=num_pos), total / num_pos)
    torch.testing.assert_close(lc.sigmoid_focal_loss(x, y, normalizer=float(num_pos)), total / num_pos)
    # RetinaNet clamps the number of positives to at least 1: a normalizer tensor of 0 divides by 1
    zero = torch.zeros((), device=device)
    torch.testing.assert_close(lc.sigmoid_focal_loss(x, y, normalizer=zero), total)
    torch.testing.assert_close(lc.sigmoid_focal_loss(x, y, normalizer=torch.tensor(4, device=device)), total / 4)
    assert_empty_is_zero(lc.sigmoid_focal_loss, x[:0], y[:0])


def test_sigmoid_module_and_state_dict():
    x, y = _binary((6, 2))
    module = lc.SigmoidFocalLoss(alpha=0.4, gamma=1.5, reduction="mean")
    assert_module_matches(module, lc.sigmoid_focal_loss, x, y, alpha=0.4, gamma=1.5)
    torch.testing.assert_close(module(x, y, normalizer=3.0), lc.sigmoid_focal_loss(x, y, alpha=0.4, gamma=1.5, normalizer=3.0))
    assert "alpha=0.4, gamma=1.5" in repr(module)
    per_label = lc.SigmoidFocalLoss(alpha=torch.tensor([0.2, 0.7]), gamma=2.0)
    clone = lc.SigmoidFocalLoss(alpha=torch.tensor([0.5, 0.5]), gamma=2.0)
    clone.load_state_dict(per_label.state_dict())
    torch.testing.assert_close(clone(x, y), per_label(x, y))
    assert lc.SigmoidFocalLoss(alpha=None).alpha is None


@pytest.mark.parametrize(
    "x, y, kwargs, error, message",
    [
        (torch.zeros(3), torch.zeros(3), dict(gamma=-1.0), ValueError, r"gamma must be in \[0.0, inf\], got -1.0"),
        (torch.zeros(3), torch.zeros(3), dict(gamma=float("nan")), ValueError, r"gamma must be in \[0.0, inf\], got nan"),
        (torch.zeros(3), torch.zeros(3), dict(alpha=-0.1), ValueError, r"alpha must be in \[0.0, 1.0\], got -0.1"),
        (torch.zeros(3), torch.zeros(2), {}, ValueError, r"target must have the same shape as input, expected \(3,\), got \(2,\)"),
        (torch.zeros(3), torch.tensor([0.0, 1.0, -1.0]), {}, ValueError, r"target values must be in \[0.0, 1.0\], got -1.0"),
        (torch.zeros(3), torch.tensor([0, 1, 1]), {}, TypeError, r"target must be a floating-point tensor, got dtype torch.int64"),
        (torch.zeros(3, dtype=torch.long), torch.zeros(3), {}, TypeError, r"input must be a floating-point tensor"),
        (torch.zeros(3), torch.zeros(3), dict(normalizer=4.0, reduction="sum"), ValueError,
         r"normalizer applies to reduction='mean' only, got reduction='sum'"),
        (torch.zeros(3), torch.zeros(3), dict(normalizer=0.0), ValueError, r"normalizer must be in \(0.0, inf\], got 0.0"),
        (torch.zeros(3), torch.zeros(3), dict(normalizer=torch.ones(2)), ValueError,
         r"normalizer must be a positive number or a one-element real tensor, got a tensor of shape \(2,\)"),
        (torch.zeros(4, 3), torch.zeros(4, 3), dict(alpha=torch.ones(4) / 2), ValueError,
         r"alpha must broadcast to the shape of input \(4, 3\), got \(4,\)"),
    ],
)
def test_sigmoid_rejects(x, y, kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.sigmoid_focal_loss(x, y, **kwargs)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 12),
    gamma=st.floats(0.0, 6.0),
    scale=st.sampled_from([0.1, 3.0, 30.0, 3000.0]),
    seed=st.integers(0, 2**16),
)
def test_property_focal_below_bce_and_decreasing_in_gamma(n, gamma, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g, dtype=torch.float64) * scale
    y = (torch.rand(n, generator=g, dtype=torch.float64) < 0.5).double()
    # (torch's BCE formula loses up to ~1e-15 absolute on tiny losses, hence the atol below)
    bce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    fl = lc.sigmoid_focal_loss(x, y, alpha=None, gamma=gamma, reduction="none")
    more = lc.sigmoid_focal_loss(x, y, alpha=None, gamma=gamma + 0.5, reduction="none")
    assert (fl <= bce * (1 + 1e-12) + 1e-13).all() and (fl >= 0).all()
    assert (more <= fl * (1 + 1e-12)).all()
    # and it is BCE times the modulating factor (1 - p_t)^gamma
    p_t = torch.where(y == 1, torch.sigmoid(x), torch.sigmoid(-x))
    torch.testing.assert_close(fl, bce * (1 - p_t) ** gamma, rtol=1e-9, atol=1e-14)


# ------------------------------------------------------------------ softmax focal
K = 5


def _multiclass(shape=(16, K), device="cpu", dtype=torch.float32, scale=3.0, ignore=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g) * scale).to(device=device, dtype=dtype)
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    if ignore is not None:
        t.view(-1)[::4] = ignore
    return x, t.to(device)


@pytest.mark.parametrize(
    "gamma, weighted, ignored, reduction, shape",
    list(itertools.product([0.0, 0.5, 2.0], [False, True], [False, True], ["none", "mean", "sum"], [(12, K), (3, K, 2, 3)])),
)
def test_softmax_equals_paper_reference(device, gamma, weighted, ignored, reduction, shape):
    ignore_index = 1 if ignored else -100  # a valid class id used as ignore_index: the hard case
    x, t = _multiclass(shape, device, ignore=ignore_index if ignored else None)
    alpha = torch.rand(K, device=device) + 0.1 if weighted else None
    ours = lc.softmax_focal_loss(x, t, alpha=alpha, gamma=gamma, ignore_index=ignore_index, reduction=reduction)
    ref, w = ref_softmax_focal(x, t, alpha, gamma, ignore_index)
    expected = {"none": ref, "sum": ref.sum(), "mean": ref.sum() / w.sum()}[reduction]
    torch.testing.assert_close(ours.double().cpu(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_softmax_gamma_zero_is_cross_entropy_including_gradients(device, weighted, reduction):
    x, t = _multiclass((4, K, 3), device, scale=6.0, ignore=-100)
    alpha = torch.rand(K, device=device) + 0.1 if weighted else None
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours = lc.softmax_focal_loss(a, t, alpha=alpha, gamma=0.0, reduction=reduction)
    theirs = F.cross_entropy(b, t, weight=alpha, reduction=reduction)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
    ours.sum().backward()
    theirs.sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_softmax_with_two_classes_is_sigmoid_focal_on_the_logit_difference(gamma):
    z = torch.randn(50, dtype=torch.float64) * 4
    t = (torch.rand(50) < 0.4).long()
    two = torch.stack([torch.zeros_like(z), z], dim=1)
    torch.testing.assert_close(
        lc.softmax_focal_loss(two, t, gamma=gamma, reduction="none"),
        lc.sigmoid_focal_loss(z, t.double(), alpha=None, gamma=gamma, reduction="none"),
    )


@pytest.mark.parametrize("gamma", [0.0, 0.3, 1.0, 2.0, 3.5])
def test_softmax_gradcheck(gamma):
    x, t = _multiclass((4, K, 2), dtype=torch.float64, ignore=-1)
    alpha = torch.rand(K, dtype=torch.float64) + 0.2
    z = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: lc.softmax_focal_loss(v, t, alpha=alpha, gamma=gamma, ignore_index=-1), (z,))
    assert torch.autograd.gradcheck(lambda v: lc.softmax_focal_loss(v, t, gamma=gamma, ignore_index=-1, reduction="none"), (z,))


@pytest.mark.parametrize("gamma", GAMMAS)
def test_softmax_saturated_logits(device, gamma):
    x = torch.tensor([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]], device=device)
    t = torch.tensor([0, 0, 1], device=device)
    grad = assert_finite_with_grad(lc.softmax_focal_loss, x, t, gamma=gamma, reduction="sum")
    # easy sample: nothing; hard samples: loss = logit gap, gradient = p - e_y
    expected = torch.tensor([[0.0, 0.0, 0.0], [-1.0, 1.0, 0.0], [0.0, -1.0, 1.0]], device=device)
    torch.testing.assert_close(grad, expected)
    loss = lc.softmax_focal_loss(x, t, gamma=gamma, reduction="none")
    torch.testing.assert_close(loss, torch.tensor([0.0, 2e4, 1e4], device=device))


@pytest.mark.parametrize("gamma", [0.2, 0.5])
def test_softmax_fractional_gamma_near_saturation(gamma):
    # p_y within 1e-7 of 1 in float32: the autograd of (1 - p_y) ** gamma gives NaN there
    x = torch.tensor([[18.0, 0.0, 0.0], [25.0, 1.0, -3.0]], requires_grad=True)
    t = torch.tensor([0, 0])
    loss = lc.softmax_focal_loss(x, t, gamma=gamma, reduction="sum")
    loss.backward()
    assert torch.isfinite(x.grad).all()
    ref, _ = ref_softmax_focal(x.detach(), t, None, gamma)
    torch.testing.assert_close(loss.double(), ref.sum(), rtol=1e-3, atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_softmax_half_precision(device, dtype):
    x, t = _multiclass((8, K), device, scale=8.0)
    assert_half_precision(lc.softmax_focal_loss, x, t, dtype, gamma=2.0)
    assert_half_precision(lc.softmax_focal_loss, x, t, dtype, gamma=0.5, alpha=torch.rand(K, device=device))


def test_softmax_under_autocast():
    x = torch.randn(8, 4) * 100
    t = torch.randint(0, K, (8,))
    assert_autocast_bfloat16(lc.softmax_focal_loss, x, t, K, gamma=0.5)


@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_empty_and_fully_ignored(device, weighted):
    alpha = torch.rand(K, device=device) if weighted else None
    assert_empty_is_zero(
        lc.softmax_focal_loss, torch.zeros(0, K, device=device), torch.zeros(0, dtype=torch.long, device=device), alpha=alpha
    )
    x, _ = _multiclass((6, K), device)
    assert_empty_is_zero(lc.softmax_focal_loss, x, torch.full((6,), -100, device=device), alpha=alpha)
    assert_empty_is_zero(lc.softmax_focal_loss, x, torch.zeros(6, dtype=torch.long, device=device), alpha=torch.zeros(K, device=device))


def test_softmax_reductions_module_state_dict():
    x, t = _multiclass()
    assert_reductions_consistent(lc.softmax_focal_loss, x, t, gamma=1.0)
    assert_rejects_reduction(lc.softmax_focal_loss, x, t)
    alpha = torch.rand(K)
    module = lc.SoftmaxFocalLoss(alpha=alpha, gamma=2.0, ignore_index=3, reduction="sum")
    assert_module_matches(module, lc.softmax_focal_loss, x, t, alpha=alpha, gamma=2.0, ignore_index=3, reduction="sum")
    clone = lc.SoftmaxFocalLoss(alpha=torch.ones(K), gamma=2.0, ignore_index=3, reduction="sum")
    clone.load_state_dict(module.state_dict())
    torch.testing.assert_close(clone(x, t), module(x, t))
    assert "gamma=2.0, ignore_index=3" in repr(module)


@pytest.mark.parametrize(
    "x, t, kwargs, error, message",
    [
        (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long), {}, ValueError,
         r"input must have at least 2 classes along dimension 1, got shape \(4, 1\)"),
        (torch.zeros(K), torch.tensor(0), {}, ValueError, r"input must have shape \(N, C\) or \(N, C, d1, ...\), got \(5,\)"),
        (torch.zeros(4, K), torch.tensor([0, 1, 7, 0]), {}, ValueError,
         r"target class indices must be in \[0, 4\] or ignore_index=-100, got 7"),
        (torch.zeros(4, K), torch.zeros(4), {}, TypeError, r"target must hold class indices \(an integer tensor\), got dtype torch.float32"),
        (torch.zeros(4, K), torch.zeros(3, dtype=torch.long), {}, ValueError,
         r"target of class indices must have shape \(N, d1, ...\) = \(4,\) for input \(4, 5\), got \(3,\)"),
        (torch.zeros(4, K), torch.zeros(4, dtype=torch.long), dict(alpha=torch.ones(3)), ValueError,
         r"alpha must have shape \(C,\) = \(5,\), got \(3,\)"),
        (torch.zeros(4, K), torch.zeros(4, dtype=torch.long), dict(alpha=-torch.ones(K)), ValueError,
         r"alpha values must be in \[0.0, inf\], got -1.0"),
        (torch.zeros(4, K), torch.zeros(4, dtype=torch.long), dict(alpha=0.25), TypeError, r"alpha must be a torch.Tensor, got float"),
        (torch.zeros(4, K), torch.zeros(4, dtype=torch.long), dict(gamma=-2), ValueError, r"gamma must be in \[0.0, inf\], got -2.0"),
    ],
)
def test_softmax_rejects(x, t, kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.softmax_focal_loss(x, t, **kwargs)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_softmax_double_backward(gamma):
    x, t = _multiclass((4, K), dtype=torch.float64, ignore=-100)
    alpha = torch.rand(K, dtype=torch.float64) + 0.2
    z = x.clone().requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda v: lc.softmax_focal_loss(v, t, alpha=alpha, gamma=gamma), (z,))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 6), k=st.integers(2, 6), gamma=st.floats(0.0, 5.0), shift=st.floats(-50, 50), seed=st.integers(0, 2**16))
def test_property_softmax_shift_invariant_and_below_ce(n, k, gamma, shift, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, k, generator=g, dtype=torch.float64) * 5
    t = torch.randint(0, k, (n,), generator=g)
    fl = lc.softmax_focal_loss(x, t, gamma=gamma, reduction="none")
    torch.testing.assert_close(fl, lc.softmax_focal_loss(x + shift, t, gamma=gamma, reduction="none"), rtol=1e-7, atol=1e-9)
    ce = F.cross_entropy(x, t, reduction="none")
    assert (fl <= ce * (1 + 1e-12)).all() and (fl >= 0).all()


# ------------------------------------------------------------------ first derivative with create_graph=True
# gradgradcheck compares the second derivative with a numerical derivative of our own first
# derivative, so a wrong closed-form gradient under create_graph=True would pass it. Here the
# create_graph gradient is compared with the plain backward and with float64 autograd through
# the paper's formula.
def _autograd_sigmoid_focal(x, y, alpha, gamma):
    log_p, log_1mp = F.logsigmoid(x), F.logsigmoid(-x)
    a_pos, a_neg = (1.0, 1.0) if alpha is None else (alpha, 1 - alpha)
    pos = a_pos * torch.exp(gamma * log_1mp) * -log_p
    neg = a_neg * torch.exp(gamma * log_p) * -log_1mp
    return (y * pos + (1 - y) * neg).mean()


def _autograd_softmax_focal(x, t, alpha, gamma, ignore_index=-100):
    valid = t != ignore_index
    safe = torch.where(valid, t, torch.zeros_like(t))
    log_py = F.log_softmax(x, dim=1).gather(1, safe[:, None]).squeeze(1)
    a = torch.ones_like(log_py) if alpha is None else alpha[safe]
    a = a * valid
    loss = -a * torch.exp(gamma * torch.log1p(-torch.exp(log_py))) * log_py
    return loss.sum() / a.sum()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 3.0])
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_sigmoid_create_graph_gradient_is_the_gradient(gamma, alpha):
    g = torch.Generator().manual_seed(11)
    x = (torch.randn(20, dtype=torch.float64, generator=g) * 3).requires_grad_(True)
    y = torch.rand(20, dtype=torch.float64, generator=g)
    (plain,) = torch.autograd.grad(lc.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma), x)
    (graph,) = torch.autograd.grad(lc.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma), x, create_graph=True)
    (reference,) = torch.autograd.grad(_autograd_sigmoid_focal(x, y, alpha, gamma), x)
    torch.testing.assert_close(graph.detach(), plain, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(plain, reference, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_softmax_create_graph_gradient_is_the_gradient(gamma, with_alpha):
    x, t = _multiclass((12, K), dtype=torch.float64, ignore=-100)
    alpha = torch.rand(K, dtype=torch.float64) + 0.2 if with_alpha else None
    x = x.clone().requires_grad_(True)
    (plain,) = torch.autograd.grad(lc.softmax_focal_loss(x, t, alpha=alpha, gamma=gamma), x)
    (graph,) = torch.autograd.grad(lc.softmax_focal_loss(x, t, alpha=alpha, gamma=gamma), x, create_graph=True)
    (reference,) = torch.autograd.grad(_autograd_softmax_focal(x, t, alpha, gamma), x)
    torch.testing.assert_close(graph.detach(), plain, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(plain, reference, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 3.0])
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_fused_form_used_under_compile_equals_the_eager_form(gamma, alpha):
    from losscookbook.focal import _sigmoid_focal_fused

    g = torch.Generator().manual_seed(2)
    x = torch.cat([torch.randn(2000, generator=g, dtype=torch.float64) * 30, torch.tensor([0.0, 1e4, -1e4], dtype=torch.float64)])
    y = torch.rand(x.shape, generator=g, dtype=torch.float64)
    x_eager = x.clone().requires_grad_(True)
    eager = lc.sigmoid_focal_loss(x_eager, y, alpha=alpha, gamma=gamma, reduction="none")
    eager.sum().backward()
    loss, grad = _sigmoid_focal_fused(x, y, alpha, gamma)
    torch.testing.assert_close(loss, eager.detach(), rtol=1e-13, atol=1e-300)
    torch.testing.assert_close(grad, x_eager.grad, rtol=1e-12, atol=1e-300)
    torch._dynamo.reset()  # each parametrization compiles afresh (no recompile limit across cases)
    compiled = torch.compile(lc.sigmoid_focal_loss, fullgraph=True, backend="aot_eager")
    x_c = x.clone().requires_grad_(True)
    compiled(x_c, y, alpha=alpha, gamma=gamma).backward()
    x_e = x.clone().requires_grad_(True)
    lc.sigmoid_focal_loss(x_e, y, alpha=alpha, gamma=gamma).backward()
    torch.testing.assert_close(x_c.grad, x_e.grad, rtol=1e-12, atol=1e-300)

"""Tests of losscookbook.regression (and the regression data generator)."""

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
    assert_empty_is_zero,
    assert_finite_with_grad,
    assert_half_precision,
    assert_module_matches,
    assert_reductions_consistent,
    assert_rejects_reduction,
)

REDUCTIONS = ["none", "mean", "sum"]
SHAPES = [(7,), (4, 3), (2, 3, 5)]


def _pair(shape=(6, 3), device="cpu", dtype=torch.float32, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g) * scale).to(device=device, dtype=dtype)
    y = (torch.randn(shape, generator=g) * scale).to(device=device, dtype=dtype)
    return x, y


def _reduce(values, reduction):
    out = torch.tensor(values, dtype=torch.float64)
    if reduction == "none":
        return out
    return out.sum() if reduction == "sum" else out.mean()


# ------------------------------------------------------------------ float64 references, from the formulas
def ref_elementwise(fn, x, y, reduction="none"):
    values = [fn(float(a) - float(b)) for a, b in zip(x.double().flatten().cpu(), y.double().flatten().cpu())]
    return _reduce(values, reduction).reshape(x.shape if reduction == "none" else ())


def ref_huber(r, delta):
    return 0.5 * r * r if abs(r) <= delta else delta * (abs(r) - 0.5 * delta)


def ref_smooth_l1(r, beta):
    return 0.5 * r * r / beta if abs(r) < beta else abs(r) - 0.5 * beta


def ref_log_cosh(r):
    return math.log(math.cosh(r))


def ref_pinball(y, yhat, q):
    r = y - yhat
    return q * r if r >= 0 else (q - 1) * r


# ------------------------------------------------------------------ oracles: torch built-ins and formulas
@pytest.mark.parametrize("reduction, shape", list(itertools.product(REDUCTIONS, SHAPES)))
def test_mse_and_mae_equal_torch_and_formula(device, reduction, shape):
    x, y = _pair(shape, device)
    torch.testing.assert_close(lc.mse_loss(x, y, reduction=reduction), F.mse_loss(x, y, reduction=reduction))
    torch.testing.assert_close(lc.mae_loss(x, y, reduction=reduction), F.l1_loss(x, y, reduction=reduction))
    torch.testing.assert_close(
        lc.mse_loss(x, y, reduction=reduction).double().cpu(), ref_elementwise(lambda r: r * r, x, y, reduction),
        rtol=1e-5, atol=1e-5,
    )
    torch.testing.assert_close(
        lc.mae_loss(x, y, reduction=reduction).double().cpu(), ref_elementwise(abs, x, y, reduction),
        rtol=1e-5, atol=1e-5,
    )


@pytest.mark.parametrize("reduction, delta", list(itertools.product(REDUCTIONS, [0.1, 1.0, 2.5, 100.0])))
def test_huber_equals_torch_and_formula(device, reduction, delta):
    x, y = _pair((5, 4), device)
    ours = lc.huber_loss(x, y, delta=delta, reduction=reduction)
    torch.testing.assert_close(ours, F.huber_loss(x, y, delta=delta, reduction=reduction))
    reference = ref_elementwise(lambda r: ref_huber(r, delta), x, y, reduction)
    torch.testing.assert_close(ours.double().cpu(), reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction, beta", list(itertools.product(REDUCTIONS, [0.0, 0.1, 1.0, 4.0])))
def test_smooth_l1_equals_torch_and_formula(device, reduction, beta):
    x, y = _pair((5, 4), device)
    ours = lc.smooth_l1_loss(x, y, beta=beta, reduction=reduction)
    torch.testing.assert_close(ours, F.smooth_l1_loss(x, y, beta=beta, reduction=reduction))
    fn = abs if beta == 0 else (lambda r: ref_smooth_l1(r, beta))
    torch.testing.assert_close(ours.double().cpu(), ref_elementwise(fn, x, y, reduction), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_log_cosh_equals_formula(device, reduction):
    x, y = _pair((5, 4), device, scale=5.0)
    ours = lc.log_cosh_loss(x, y, reduction=reduction)
    torch.testing.assert_close(ours.double().cpu(), ref_elementwise(ref_log_cosh, x, y, reduction), rtol=1e-5, atol=1e-5)


def test_log_cosh_gradient_is_tanh():
    x, y = _pair((50,), dtype=torch.float64, scale=4.0)
    x.requires_grad_(True)
    lc.log_cosh_loss(x, y, reduction="sum").backward()
    torch.testing.assert_close(x.grad, torch.tanh(x.detach() - y), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_log_cosh_is_stable_at_residuals_of_1e4(device, sign):
    x = torch.tensor([sign * 1e4, sign * 2e4, sign * 3.0e38 / 4], device=device)
    y = torch.zeros(3, device=device)
    assert not torch.isfinite(torch.log(torch.cosh(x))).all()  # the naive form overflows
    loss = lc.log_cosh_loss(x, y, reduction="none")
    assert torch.isfinite(loss).all()
    torch.testing.assert_close(loss, x.abs() - math.log(2.0), rtol=1e-7, atol=0.0)
    grad = assert_finite_with_grad(lc.log_cosh_loss, x, y, reduction="sum")
    torch.testing.assert_close(grad, torch.full_like(grad, sign))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_log_cosh_half_precision_at_large_residuals(dtype):
    x = torch.tensor([1e4, -1e4, 0.5, -2.0])
    y = torch.zeros(4)
    assert_half_precision(lc.log_cosh_loss, x, y, dtype, reduction="none")
    low = x.to(dtype)  # bfloat16 rounds 1e4 to 9984
    loss = lc.log_cosh_loss(low, y.to(dtype), reduction="none")
    torch.testing.assert_close(loss[:2], low[:2].float().abs() - math.log(2.0), rtol=1e-7, atol=0.0)


# ------------------------------------------------------------------ Huber and smooth L1: relation and limits
@pytest.mark.parametrize("delta", [0.05, 0.5, 1.0, 3.0])
def test_huber_is_delta_times_smooth_l1_including_gradients(delta):
    x, y = _pair((40,), dtype=torch.float64)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    huber = lc.huber_loss(a, y, delta=delta, reduction="none")
    smooth = lc.smooth_l1_loss(b, y, beta=delta, reduction="none")
    torch.testing.assert_close(huber, delta * smooth, rtol=1e-12, atol=1e-12)
    huber.sum().backward()
    smooth.sum().backward()
    torch.testing.assert_close(a.grad, delta * b.grad, rtol=1e-12, atol=1e-12)
    # the gradients differ by delta: beyond the kink smooth L1 has slope 1, Huber delta
    far = (x.detach() - y).abs() > delta
    torch.testing.assert_close(b.grad[far].abs(), torch.ones(int(far.sum()), dtype=torch.float64))
    torch.testing.assert_close(a.grad[far].abs(), torch.full((int(far.sum()),), delta, dtype=torch.float64))


def test_limits_of_huber_and_smooth_l1():
    x, y = _pair((30,), dtype=torch.float64)
    r = x - y
    # large delta: Huber is half the squared error; small beta: smooth L1 is the absolute error
    torch.testing.assert_close(lc.huber_loss(x, y, delta=1e3, reduction="none"), 0.5 * r.square())
    torch.testing.assert_close(lc.smooth_l1_loss(x, y, beta=0.0, reduction="none"), r.abs(), rtol=0, atol=0)
    torch.testing.assert_close(lc.smooth_l1_loss(x, y, beta=1e-9, reduction="none"), r.abs(), rtol=1e-8, atol=1e-8)
    # small delta: Huber goes to 0, Huber / delta to the absolute error
    tiny = lc.huber_loss(x, y, delta=1e-6, reduction="none")
    assert tiny.abs().max() < 1e-5
    torch.testing.assert_close(tiny / 1e-6, r.abs(), rtol=1e-5, atol=1e-5)
    # large beta: smooth L1 goes to 0
    assert lc.smooth_l1_loss(x, y, beta=1e6, reduction="none").max() < 1e-4


def test_huber_derivative_is_continuous():
    delta = 0.7
    for point in (0.0, delta, -delta):
        grads = []
        for eps in (-1e-7, 1e-7):
            z = torch.tensor([point + eps], dtype=torch.float64, requires_grad=True)
            lc.huber_loss(z, torch.zeros(1, dtype=torch.float64), delta=delta, reduction="sum").backward()
            grads.append(z.grad.item())
        assert abs(grads[0] - grads[1]) < 1e-6, (point, grads)
    # the absolute error jumps by 2 at 0
    jumps = []
    for eps in (-1e-7, 1e-7):
        z = torch.tensor([eps], dtype=torch.float64, requires_grad=True)
        lc.mae_loss(z, torch.zeros(1, dtype=torch.float64), reduction="sum").backward()
        jumps.append(z.grad.item())
    assert jumps == [-1.0, 1.0]


# ------------------------------------------------------------------ quantile
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_quantile_single_level_equals_formula(device, reduction):
    x, y = _pair((5, 4), device)
    ours = lc.quantile_loss(x, y, quantiles=0.3, reduction=reduction)
    values = [ref_pinball(float(b), float(a), 0.3) for a, b in zip(x.flatten().cpu(), y.flatten().cpu())]
    expected = _reduce(values, reduction).reshape(x.shape if reduction == "none" else ())
    torch.testing.assert_close(ours.double().cpu(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("target_layout", ["flat", "keepdim"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_quantile_several_levels_equals_formula(device, target_layout, reduction):
    levels = [0.1, 0.5, 0.9]
    g = torch.Generator().manual_seed(1)
    pred = torch.randn(6, 2, 3, generator=g).to(device)
    target = torch.randn(6, 2, generator=g).to(device)
    t = target if target_layout == "flat" else target.unsqueeze(-1)
    ours = lc.quantile_loss(pred, t, quantiles=levels, reduction=reduction)
    values = torch.zeros(6, 2, 3, dtype=torch.float64)
    for i, j, k in itertools.product(range(6), range(2), range(3)):
        values[i, j, k] = ref_pinball(float(target[i, j]), float(pred[i, j, k]), levels[k])
    expected = values if reduction == "none" else (values.sum() if reduction == "sum" else values.mean())
    torch.testing.assert_close(ours.double().cpu(), expected, rtol=1e-5, atol=1e-6)
    as_tensor = lc.quantile_loss(pred, t, quantiles=torch.tensor(levels), reduction=reduction)
    torch.testing.assert_close(as_tensor, ours)


def test_quantile_column_equals_single_level():
    pred, target = torch.randn(10, 2), torch.randn(10)
    both = lc.quantile_loss(pred, target, quantiles=[0.2, 0.7], reduction="none")
    torch.testing.assert_close(both[:, 1], lc.quantile_loss(pred[:, 1], target, quantiles=0.7, reduction="none"))


def test_quantile_minimizer_is_the_empirical_quantile():
    # the constant that minimizes the mean pinball loss at level q is the q-quantile of the sample
    y = torch.randn(1001, dtype=torch.float64) * 2 + 1
    grid = torch.linspace(-6, 8, 14001, dtype=torch.float64)
    for q in (0.1, 0.5, 0.9):
        losses = torch.stack([lc.quantile_loss(c.expand(1001), y, quantiles=q) for c in grid[::10]])
        best = grid[::10][losses.argmin()]
        empirical = torch.quantile(y, q)
        assert abs(best - empirical) <= 0.011, (q, best, empirical)


# ------------------------------------------------------------------ Gaussian NLL
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_equals_torch_and_formula(device, reduction, full):
    mu, y = _pair((8, 2), device)
    s = torch.randn(8, 2, device=device)
    ours = lc.gaussian_nll_loss(mu, y, log_var=s, full=full, reduction=reduction)
    theirs = F.gaussian_nll_loss(mu, y, s.exp(), full=full, eps=1e-12, reduction=reduction)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    expected = 0.5 * (s.double() + (y.double() - mu.double()) ** 2 / s.double().exp())
    if full:
        expected = expected + 0.5 * math.log(2 * math.pi)
    if reduction != "none":
        expected = expected.sum() if reduction == "sum" else expected.mean()
    torch.testing.assert_close(ours.double(), expected, rtol=1e-5, atol=1e-5)


def test_gaussian_nll_with_unit_variance_is_half_mse_and_optimal_log_var():
    mu, y = _pair((20,), dtype=torch.float64)
    torch.testing.assert_close(lc.gaussian_nll_loss(mu, y, log_var=torch.zeros(20, dtype=torch.float64)), 0.5 * lc.mse_loss(mu, y))
    # for fixed residuals the optimal log-variance is log r^2 (zero gradient there)
    s = (mu - y).square().log().requires_grad_(True)
    lc.gaussian_nll_loss(mu, y, log_var=s, reduction="sum").backward()
    assert s.grad.abs().max() < 1e-12


def test_gaussian_nll_log_var_is_keyword_only():
    mu, y = _pair((3,))
    with pytest.raises(TypeError):
        lc.gaussian_nll_loss(mu, y, torch.ones(3))  # torch's positional variance would be misread
    with pytest.raises(ValueError, match=r"log_var must have the same shape as input, expected \(3,\), got \(3, 1\)"):
        lc.gaussian_nll_loss(mu, y, log_var=torch.zeros(3, 1))


# ------------------------------------------------------------------ contract: gradients, precision, reductions, modules
def _gaussian_nll_fixed_log_var(input, target, **kwargs):
    """Gaussian NLL with log-variance 0.3 (float32 at least, so half inputs see the same value)."""
    dtype = torch.promote_types(input.dtype, torch.float32)
    return lc.gaussian_nll_loss(input, target, log_var=torch.full(input.shape, 0.3, dtype=dtype, device=input.device), **kwargs)


LOSSES = {
    "mse": (lc.mse_loss, {}),
    "mae": (lc.mae_loss, {}),
    "huber": (lc.huber_loss, {"delta": 0.8}),
    "smooth_l1": (lc.smooth_l1_loss, {"beta": 0.6}),
    "log_cosh": (lc.log_cosh_loss, {}),
    "quantile": (lc.quantile_loss, {"quantiles": 0.25}),
    "gaussian_nll": (_gaussian_nll_fixed_log_var, {}),
}


@pytest.mark.parametrize("name", LOSSES)
def test_gradcheck(name):
    fn, kwargs = LOSSES[name]
    # residuals away from the kinks (0 and +-delta/beta), where the losses are differentiable
    x = torch.tensor([2.1, -1.7, 0.33, -0.21, 3.4, -0.05], dtype=torch.float64, requires_grad=True)
    y = torch.zeros(6, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: fn(z, y, **kwargs), (x,))
    w = torch.rand(6, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: fn(z, y, weight=w, **kwargs), (x,))


@pytest.mark.parametrize("name", LOSSES)
def test_reductions_empty_and_rejections(device, name):
    fn, kwargs = LOSSES[name]
    x, y = _pair((5, 3), device)
    assert_reductions_consistent(fn, x, y, **kwargs)
    assert_rejects_reduction(fn, x, y, **kwargs)
    assert_empty_is_zero(fn, x[:0], y[:0], **kwargs)
    assert_finite_with_grad(fn, x * 1e4, y, **kwargs)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(device, name, dtype):
    fn, kwargs = LOSSES[name]
    x, y = _pair((4, 3), device)
    assert_half_precision(fn, x, y, dtype, **kwargs)  # half input, float32 target
    y_low = y.to(dtype).float()  # exactly representable in dtype: half input and half target
    assert_half_precision(lambda a, b, **kw: fn(a, b.to(a.dtype), **kw), x, y_low, dtype, **kwargs)


@pytest.mark.parametrize("name", LOSSES)
def test_weighted_mean_divides_by_summed_weights(device, name):
    fn, kwargs = LOSSES[name]
    x, y = _pair((6, 3), device)
    none = fn(x, y, reduction="none", **kwargs)
    w = torch.rand(6, 1, device=device)
    expected = (none * w).sum() / (w.expand(6, 3).sum())
    torch.testing.assert_close(fn(x, y, weight=w, **kwargs), expected)
    torch.testing.assert_close(fn(x, y, weight=w, reduction="sum", **kwargs), (none * w).sum())
    torch.testing.assert_close(fn(x, y, weight=w, reduction="none", **kwargs), none * w)
    torch.testing.assert_close(fn(x, y, weight=torch.full((3,), 2.5, device=device), **kwargs), none.mean())
    assert_empty_is_zero(fn, x, y, weight=torch.zeros(6, 3, device=device), **kwargs)


def test_modules_equal_functions_and_state_dict():
    x, y = _pair((5, 2))
    w = torch.rand(5, 2)
    pairs = [
        (lc.MeanSquaredErrorLoss(reduction="sum"), lc.mse_loss, {"reduction": "sum"}),
        (lc.MeanAbsoluteErrorLoss(), lc.mae_loss, {}),
        (lc.HuberLoss(delta=0.3, reduction="none"), lc.huber_loss, {"delta": 0.3, "reduction": "none"}),
        (lc.SmoothL1Loss(beta=0.0), lc.smooth_l1_loss, {"beta": 0.0}),
        (lc.LogCoshLoss(), lc.log_cosh_loss, {}),
        (lc.QuantileLoss(quantiles=0.8), lc.quantile_loss, {"quantiles": 0.8}),
    ]
    for module, fn, kwargs in pairs:
        assert_module_matches(module, fn, x, y, **kwargs)
        torch.testing.assert_close(module(x, y, w), fn(x, y, weight=w, **kwargs), rtol=0, atol=0)
    s = torch.randn(5, 2)
    torch.testing.assert_close(lc.GaussianNLLLoss(full=True)(x, y, log_var=s), lc.gaussian_nll_loss(x, y, log_var=s, full=True))
    module = lc.QuantileLoss(quantiles=[0.1, 0.5, 0.9])
    pred = torch.randn(5, 3)
    torch.testing.assert_close(module(pred, y[:, 0]), lc.quantile_loss(pred, y[:, 0], quantiles=[0.1, 0.5, 0.9]))
    clone = lc.QuantileLoss(quantiles=[0.2, 0.4, 0.6])
    clone.load_state_dict(module.state_dict())
    torch.testing.assert_close(clone(pred, y[:, 0]), module(pred, y[:, 0]))
    assert "quantiles=[0.1, 0.5, 0.9]" in repr(module) and "delta=0.3" in repr(pairs[2][0])


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("fn", [lc.mse_loss, lc.mae_loss, lc.huber_loss, lc.smooth_l1_loss, lc.log_cosh_loss])
def test_column_against_flat_target_raises_instead_of_broadcasting(fn):
    pred, target = torch.zeros(4, 1), torch.arange(4.0)
    with pytest.raises(
        ValueError,
        match=r"target must have the same shape as input, expected \(4, 1\), got \(4,\); regression losses do not broadcast",
    ):
        fn(pred, target)


@pytest.mark.parametrize(
    "fn, kwargs, error, message",
    [
        (lc.huber_loss, dict(delta=0.0), ValueError, r"delta must be in \(0.0, inf\], got 0.0"),
        (lc.huber_loss, dict(delta=-1.0), ValueError, r"delta must be in \(0.0, inf\], got -1.0"),
        (lc.huber_loss, dict(delta=math.inf), ValueError, r"delta must be in \(0.0, inf\], got inf"),
        (lc.smooth_l1_loss, dict(beta=-0.1), ValueError, r"beta must be in \[0.0, inf\], got -0.1"),
        (lc.smooth_l1_loss, dict(beta="1"), TypeError, r"beta must be a real number, got str"),
        (lc.quantile_loss, dict(quantiles=1.0), ValueError, r"quantiles must be in \(0.0, 1.0\), got 1.0"),
        (lc.quantile_loss, dict(quantiles=0.0), ValueError, r"quantiles must be in \(0.0, 1.0\), got 0.0"),
        (lc.mse_loss, dict(weight=-torch.ones(4)), ValueError, r"weight values must be in \[0.0, inf\], got -1.0"),
        (lc.mse_loss, dict(weight=torch.ones(3)), ValueError,
         r"weight must broadcast to the shape of the unreduced loss \(4,\), got \(3,\)"),
        (lc.mae_loss, dict(weight=torch.ones(4, dtype=torch.long)), TypeError, r"weight must be a floating-point tensor"),
        (lc.mse_loss, dict(reduction="avg"), ValueError, r"reduction must be one of \('none', 'mean', 'sum'\), got 'avg'"),
    ],
)
def test_bad_hyperparameters(fn, kwargs, error, message):
    with pytest.raises(error, match=message):
        fn(torch.zeros(4), torch.zeros(4), **kwargs)


@pytest.mark.parametrize(
    "x, y, error, message",
    [
        (torch.zeros(3, dtype=torch.long), torch.zeros(3), TypeError, r"input must be a floating-point tensor, got dtype torch.int64"),
        (torch.zeros(3), torch.zeros(3, dtype=torch.long), TypeError, r"target must be a floating-point tensor, got dtype torch.int64"),
        ([0.0, 1.0], torch.zeros(2), TypeError, r"input must be a torch.Tensor, got list"),
        (torch.zeros(2, 3), torch.zeros(3, 2), ValueError, r"expected \(2, 3\), got \(3, 2\)"),
    ],
)
def test_bad_inputs(x, y, error, message):
    with pytest.raises(error, match=message):
        lc.mse_loss(x, y)


@pytest.mark.parametrize(
    "pred, target, quantiles, message",
    [
        (torch.zeros(5, 2), torch.zeros(5), [0.1, 0.5, 0.9], r"input must have shape \(..., Q\) with Q=3 quantiles along the last dimension, got \(5, 2\)"),
        (torch.zeros(5, 3), torch.zeros(4), [0.1, 0.5, 0.9], r"target must have shape \(...\) = \(5,\) or \(..., 1\) = \(5, 1\) for input \(5, 3\), got \(4,\)"),
        (torch.zeros(5, 2), torch.zeros(5), [0.1, 1.5], r"quantiles must be in \(0.0, 1.0\), got 1.5"),
        (torch.zeros(5, 2), torch.zeros(5), [], r"quantiles must be a non-empty 1-D sequence, got shape \(0,\)"),
        (torch.zeros(5, 2), torch.zeros(5), torch.tensor([[0.1, 0.2]]), r"quantiles must be a non-empty 1-D sequence, got shape \(1, 2\)"),
    ],
)
def test_quantile_bad_layouts(pred, target, quantiles, message):
    with pytest.raises(ValueError, match=message):
        lc.quantile_loss(pred, target, quantiles=quantiles)
    if "quantiles must" in message:
        with pytest.raises(ValueError, match=message):
            lc.QuantileLoss(quantiles=quantiles)


def test_module_constructors_validate():
    with pytest.raises(ValueError, match=r"delta must be in"):
        lc.HuberLoss(delta=0)
    with pytest.raises(ValueError, match=r"beta must be in"):
        lc.SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match=r"reduction must be one of"):
        lc.LogCoshLoss(reduction="batchmean")
    with pytest.raises(TypeError, match=r"quantiles must be a number, a sequence"):
        lc.QuantileLoss(quantiles="0.5")


# ------------------------------------------------------------------ properties
finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(r=st.lists(finite, min_size=1, max_size=8), delta=st.floats(1e-3, 1e2))
def test_property_huber_bounds(r, delta):
    x = torch.tensor(r, dtype=torch.float64)
    zero = torch.zeros_like(x)
    huber = lc.huber_loss(x, zero, delta=delta, reduction="none")
    assert (huber >= 0).all()
    assert (huber <= 0.5 * x.square() + 1e-9).all()
    assert (huber <= delta * x.abs() + 1e-9).all()
    # and it is at least the linear part delta(|r| - delta/2)
    assert (huber >= delta * (x.abs() - 0.5 * delta) - 1e-9).all()


@settings(max_examples=60, deadline=None)
@given(r=st.lists(finite, min_size=1, max_size=8), q=st.floats(0.01, 0.99))
def test_property_pinball(r, q):
    x = torch.tensor(r, dtype=torch.float64)
    zero = torch.zeros_like(x)
    pin = lc.quantile_loss(zero, x, quantiles=q, reduction="none")
    assert (pin >= 0).all()
    # levels q and 1-q together charge the absolute error, and q = 0.5 charges half of it
    torch.testing.assert_close(pin + lc.quantile_loss(zero, x, quantiles=1 - q, reduction="none"), x.abs())
    torch.testing.assert_close(lc.quantile_loss(zero, x, quantiles=0.5), 0.5 * lc.mae_loss(zero, x))


@settings(max_examples=60, deadline=None)
@given(r=st.lists(finite, min_size=1, max_size=8))
def test_property_log_cosh_between_absolute_and_squared(r):
    x = torch.tensor(r, dtype=torch.float64)
    loss = lc.log_cosh_loss(x, torch.zeros_like(x), reduction="none")
    assert (loss >= x.abs() - math.log(2) - 1e-12).all()
    assert (loss <= torch.minimum(0.5 * x.square(), x.abs()) + 1e-12).all()


# ------------------------------------------------------------------ data generator
def test_make_regression_shapes_outliers_and_noise():
    data = lc.data.make_regression(400, slope=-1.0, intercept=2.0, noise=0.3, heteroscedasticity=3.0,
                                   outlier_fraction=0.05, outlier_offset=8.0, seed=3)
    X, y, is_outlier, std = data
    assert X.shape == (400, 1) and y.shape == (400,) and X.dtype == y.dtype == torch.float32
    assert int(is_outlier.sum()) == 20
    line = -1.0 * X[:, 0] + 2.0
    assert ((y - line)[is_outlier] >= 4.0 - 1e-5).all() and ((y - line)[is_outlier] <= 12.0 + 1e-5).all()
    torch.testing.assert_close(std, 0.3 * (1 + 3.0 * (X[:, 0] + 3) / 6))
    z = ((y - line) / std)[~is_outlier]
    assert abs(float(z.mean())) < 0.2 and abs(float(z.std()) - 1) < 0.1
    again = lc.data.make_regression(400, slope=-1.0, intercept=2.0, noise=0.3, heteroscedasticity=3.0,
                                    outlier_fraction=0.05, outlier_offset=8.0, seed=3)
    assert torch.equal(again.y, y)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(outlier_fraction=1.5), r"outlier_fraction must be in \[0.0, 1.0\], got 1.5"),
        (dict(noise=-1.0), r"noise must be in \[0.0, inf\], got -1.0"),
        (dict(x_range=(1.0, 1.0)), r"x_range must have low < high"),
    ],
)
def test_make_regression_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lc.data.make_regression(10, **kwargs)

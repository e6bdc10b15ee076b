"""Tests of losscookbook.ghm: gradient density, GHM-C and GHM-R (vectorized, no host sync)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losscookbook as lc
from contract import assert_empty_is_zero, assert_finite_with_grad, assert_rejects_reduction


def _batch(shape=(256,), device="cpu", scale=3.0, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g) * scale).to(device=device, dtype=dtype)
    y = (torch.rand(shape, generator=g) < 0.2).float().to(device)
    valid = (torch.rand(shape, generator=g) < 0.8).to(device)
    return x, y, valid


# ------------------------------------------------------------------ the reference, written as in the authors' code
class LoopGHM:
    """GHM as in the authors' implementation: a Python loop over the bins, float64.

    edges = arange(bins + 1) / bins with the last edge nudged up; for every bin with elements,
    acc[i] = m * acc[i] + (1 - m) * count (if m > 0) and weight = tot / acc[i] (else tot / count);
    the weights are divided by the number of non-empty bins, the loss is sum(weight * loss) / tot.
    """

    def __init__(self, bins, momentum, kind="c", mu=0.02):
        self.bins, self.momentum, self.kind, self.mu = bins, momentum, kind, mu
        self.edges = [i / bins for i in range(bins + 1)]
        self.edges[-1] += 1e-6 if kind == "c" else 1e3
        self.acc = [0.0] * bins

    def weights_and_loss(self, x, y, valid=None):
        x, y = x.double().flatten().tolist(), y.double().flatten().tolist()
        valid = [True] * len(x) if valid is None else valid.flatten().tolist()
        if self.kind == "c":
            g = [abs(1 / (1 + math.exp(-xi)) - yi) for xi, yi in zip(x, y)]
            loss = [max(xi, 0) - xi * yi + math.log1p(math.exp(-abs(xi))) for xi, yi in zip(x, y)]
        else:
            d = [xi - yi for xi, yi in zip(x, y)]
            g = [abs(di) / math.sqrt(di * di + self.mu**2) for di in d]
            loss = [math.sqrt(di * di + self.mu**2) - self.mu for di in d]
        tot = max(sum(valid), 1.0)
        weights = [0.0] * len(x)
        n = 0
        for i in range(self.bins):
            inds = [k for k in range(len(x)) if self.edges[i] <= g[k] < self.edges[i + 1] and valid[k]]
            if inds:
                if self.momentum > 0:
                    self.acc[i] = self.momentum * self.acc[i] + (1 - self.momentum) * len(inds)
                    w = tot / self.acc[i]
                else:
                    w = tot / len(inds)
                for k in inds:
                    weights[k] = w
                n += 1
        if n > 0:
            weights = [w / n for w in weights]
        return torch.tensor(weights, dtype=torch.float64), torch.tensor(loss, dtype=torch.float64), tot

    def __call__(self, x, y, valid=None):
        w, loss, tot = self.weights_and_loss(x, y, valid)
        return float((w * loss).sum() / tot)


# ------------------------------------------------------------------ GHM-C against the reference
@pytest.mark.parametrize("bins", [1, 10, 30])
@pytest.mark.parametrize("with_valid", [False, True])
def test_ghmc_function_equals_reference(device, bins, with_valid):
    x, y, valid = _batch((64, 3), device)
    valid = valid if with_valid else None
    ours = lc.ghmc_loss(x, y, bins=bins, valid=valid)
    assert float(ours) == pytest.approx(LoopGHM(bins, 0.0)(x.cpu(), y.cpu(), None if valid is None else valid.cpu()), rel=1e-5)


@pytest.mark.parametrize("bins, momentum", [(10, 0.75), (30, 0.75), (5, 0.9)])
def test_ghmc_moving_average_over_several_steps_equals_reference(device, bins, momentum):
    module = lc.GHMCLoss(bins=bins, momentum=momentum).to(device)
    reference = LoopGHM(bins, momentum)
    for step in range(6):
        # batches of different sizes and hardness, so bins empty and fill up between steps
        x, y, valid = _batch((40 + 25 * step,), device, scale=1.0 + step, seed=step)
        ours = module(x, y, valid)
        expected = reference(x.cpu(), y.cpu(), valid.cpu())
        assert float(ours) == pytest.approx(expected, rel=1e-5), f"step {step}"
        torch.testing.assert_close(module.acc_sum.double().cpu(), torch.tensor(reference.acc, dtype=torch.float64), rtol=1e-6, atol=1e-6)


def test_ghmc_reduction_none_gives_the_reference_weights():
    x, y, valid = _batch((200,))
    w, loss, _ = LoopGHM(10, 0.0).weights_and_loss(x, y, valid)
    ours = lc.ghmc_loss(x, y, bins=10, valid=valid, reduction="none")
    torch.testing.assert_close(ours.double(), w * loss, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(lc.ghmc_loss(x, y, bins=10, valid=valid, reduction="sum").double(), (w * loss).sum(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ identities
@pytest.mark.parametrize("bins", [3, 10, 30])
def test_momentum_zero_every_nonempty_bin_carries_n_over_b(bins):
    x, y, _ = _batch((500,), scale=4.0)
    loss = lc.ghmc_loss(x, y, bins=bins, reduction="none").double()
    bce = F.binary_cross_entropy_with_logits(x, y, reduction="none").double()
    weights = loss / bce
    g = (torch.sigmoid(x.double()) - y).abs()
    b = torch.clamp((g * bins).floor().long(), max=bins - 1)
    nonempty = torch.unique(b)
    per_bin = torch.zeros(bins, dtype=torch.float64).index_add_(0, b, weights)
    expected = 500 / len(nonempty)
    torch.testing.assert_close(per_bin[nonempty], torch.full((len(nonempty),), expected, dtype=torch.float64), rtol=1e-4, atol=0)
    assert float(weights.sum()) == pytest.approx(500, rel=1e-4)  # the weights average to 1


def test_one_bin_is_bce_including_gradients(device):
    x, y, _ = _batch((100, 4), device, scale=5.0)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours = lc.ghmc_loss(a, y, bins=1)
    theirs = F.binary_cross_entropy_with_logits(b, y)
    torch.testing.assert_close(ours, theirs)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(a.grad, b.grad)
    # with one bin and a fixed batch size N the average after k steps is (1 - m^k) N (no bias
    # correction, as in the reference code), so the module gives BCE / (1 - m^k)
    module = lc.GHMCLoss(bins=1, momentum=0.75).to(device)
    for k in range(1, 5):
        torch.testing.assert_close(module(x, y), theirs.detach() / (1 - 0.75**k))


def test_weights_are_detached():
    # the gradient is beta_i * (sigma(x_i) - y_i) / N: no term from the weights themselves
    x, y, _ = _batch((300,), dtype=torch.float64)
    z = x.clone().requires_grad_(True)
    lc.ghmc_loss(z, y, bins=10).backward()
    beta = (lc.ghmc_loss(x, y, bins=10, reduction="none") / F.binary_cross_entropy_with_logits(x, y, reduction="none"))
    torch.testing.assert_close(z.grad, beta * (torch.sigmoid(x) - y) / 300)
    z = x[:20].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: lc.ghmc_loss(v, y[:20], bins=10), (z,))


def test_gradient_density_counts_per_unit_of_g():
    g = torch.tensor([0.0, 0.05, 0.1, 0.35, 0.999, 1.0, 0.5])
    # bins of width 0.25: [0, .25) holds 3, [.25, .5) holds 1, [.5, .75) 1, [.75, 1] 2 (1.0 goes to the last bin)
    torch.testing.assert_close(lc.gradient_density(g, bins=4), torch.tensor([3.0, 1.0, 1.0, 2.0]) * 4)
    valid = torch.tensor([True, False, True, True, True, False, True])
    torch.testing.assert_close(lc.gradient_density(g, bins=4, valid=valid), torch.tensor([2.0, 1.0, 1.0, 1.0]) * 4)
    # the paper's beta = N / GD reproduces the un-normalized GHM-C weights when every bin is used
    x = torch.tensor([2.2, 0.85, 0.0, -0.85, -2.2, 3.0])
    y = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # g = 0.10, 0.30, 0.50, 0.70, 0.90, 0.05
    gx = (torch.sigmoid(x) - y).abs()
    beta = 6 / lc.gradient_density(gx, bins=5)[(gx * 5).long().clamp(max=4)]
    loss = lc.ghmc_loss(x, y, bins=5, reduction="none")
    # beta uses GD = count * bins, the code divides by the number of non-empty bins: both are 5 here
    torch.testing.assert_close(loss, beta * F.binary_cross_entropy_with_logits(x, y, reduction="none"))


@pytest.mark.parametrize("bins", [7, 10, 11, 29, 30])
def test_bin_edges_match_the_reference_exactly(bins):
    # values on the edges i / bins (in float32) and one and two floats either side of them land
    # in the same bin as in the reference (floor(g * bins) alone is off by one for some of them)
    edges = torch.arange(bins + 1).float() / bins
    below = torch.nextafter(edges, torch.zeros(()))
    above = torch.nextafter(edges, torch.ones(()))
    g = torch.cat([edges, below, above, torch.nextafter(below, torch.zeros(())), torch.nextafter(above, torch.ones(()))]).clamp(0, 1)
    ours = lc.gradient_density(g, bins=bins) / bins
    expected = torch.tensor([sum(1 for v in g.tolist() if edges[i] <= v < (edges[i + 1] + (1e-6 if i == bins - 1 else 0))) for i in range(bins)], dtype=torch.float32)
    torch.testing.assert_close(ours, expected)
    if bins in (11, 29):  # the points include some where floor(g * bins) alone picks the wrong bin
        naive = torch.bincount(torch.floor(g * bins).clamp(0, bins - 1).long(), minlength=bins).float()
        assert not torch.equal(naive, expected)


# ------------------------------------------------------------------ module state
def test_state_dict_round_trip_and_eval_mode_does_not_update():
    x, y, _ = _batch()
    module = lc.GHMCLoss(bins=10, momentum=0.75)
    module(x, y)
    state = module.state_dict()
    assert list(state) == ["acc_sum"] and state["acc_sum"].sum() > 0
    clone = lc.GHMCLoss(bins=10, momentum=0.75)
    clone.load_state_dict(state)
    x2, y2, _ = _batch(seed=1)
    torch.testing.assert_close(clone(x2, y2), module(x2, y2))
    before = module.acc_sum.clone()
    module.eval()
    value = module(x, y)
    torch.testing.assert_close(module.acc_sum, before)
    # eval computes the same loss as a training step would, without storing the update
    module.train()
    torch.testing.assert_close(module(x, y), value)
    assert not torch.equal(module.acc_sum, before)
    assert "bins=10, momentum=0.75" in repr(module)


def test_momentum_zero_module_equals_function():
    x, y, valid = _batch((50, 2))
    module = lc.GHMCLoss(bins=7, momentum=0.0, reduction="sum")
    for _ in range(2):
        torch.testing.assert_close(module(x, y, valid), lc.ghmc_loss(x, y, bins=7, valid=valid, reduction="sum"))
    module = lc.GHMRLoss(mu=0.05, bins=7, momentum=0.0)
    torch.testing.assert_close(module(x, y, valid), lc.ghmr_loss(x, y, mu=0.05, bins=7, valid=valid))


def test_wrong_device_of_the_module_is_reported():
    if not torch.cuda.is_available():
        pytest.skip("needs a second device")
    module = lc.GHMCLoss()
    x, y, _ = _batch(device="cuda")
    with pytest.raises(ValueError, match=r"the loss module is on cpu but the input is on cuda"):
        module(x, y)


# ------------------------------------------------------------------ numerics
def test_saturated_logits_and_half_precision(device):
    x = torch.tensor([1e4, -1e4, 1e4, -1e4, 0.0], device=device)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0], device=device)
    assert_finite_with_grad(lc.ghmc_loss, x, y)
    assert_finite_with_grad(lc.GHMCLoss(momentum=0.75).to(device), x, y)
    assert_finite_with_grad(lc.ghmr_loss, x, y)
    for dtype in (torch.float16, torch.bfloat16):
        xs, ys, valid = _batch((1000,), device, scale=6.0)
        low = xs.to(dtype)
        loss = lc.ghmc_loss(low.requires_grad_(True), ys, valid=valid)
        assert loss.dtype == torch.float32
        torch.testing.assert_close(loss, lc.ghmc_loss(low.detach().float(), ys, valid=valid))
        loss.backward()
        assert torch.isfinite(low.grad.float()).all()


def test_large_fp16_batch_with_a_sharp_moving_average_stays_finite():
    # 100k elements (counts above the fp16 maximum 65504) and momentum 0.99: tot / acc is large
    # for a new bin (acc = 0.01 * count) but is computed in float32
    x = (torch.randn(100_000) * 8).half()
    y = (torch.rand(100_000) < 0.01).float()
    module = lc.GHMCLoss(bins=30, momentum=0.99)
    loss = module(x, y, None)
    assert torch.isfinite(loss)
    reference = LoopGHM(30, 0.99)
    assert float(loss) == pytest.approx(reference(x.float()[:100_000], y), rel=1e-4)
    assert module.acc_sum.dtype == torch.float32


def test_empty_and_fully_invalid_give_zero(device):
    assert_empty_is_zero(lc.ghmc_loss, torch.zeros(0, device=device), torch.zeros(0, device=device))
    x, y, _ = _batch((10,), device)
    none_valid = torch.zeros(10, dtype=torch.bool, device=device)
    assert_empty_is_zero(lc.ghmc_loss, x, y, valid=none_valid)
    module = lc.GHMCLoss(momentum=0.75).to(device)
    z = x.clone().requires_grad_(True)
    loss = module(z, y, none_valid)
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(z.grad, torch.zeros_like(z))
    assert float(module.acc_sum.sum()) == 0.0  # empty bins are not updated
    assert_empty_is_zero(lc.ghmr_loss, x, y, valid=none_valid)


def test_reductions():
    x, y, valid = _batch((120,))
    for fn in (lc.ghmc_loss, lc.ghmr_loss):
        none = fn(x, y, valid=valid, reduction="none")
        assert none.shape == x.shape and (none[~valid] == 0).all()
        torch.testing.assert_close(fn(x, y, valid=valid, reduction="sum"), none.sum())
        torch.testing.assert_close(fn(x, y, valid=valid, reduction="mean"), none.sum() / valid.sum())
        assert_rejects_reduction(fn, x, y)


# ------------------------------------------------------------------ GHM-R
def test_asl1_loss_and_gradient_norm():
    x = torch.tensor([0.0, 0.01, 0.3, -2.0], dtype=torch.float64, requires_grad=True)
    t = torch.zeros(4, dtype=torch.float64)
    mu = 0.02
    lc.ghmr_loss(x, t, mu=mu, bins=1, reduction="sum").backward()
    d = x.detach()
    # with one bin every weight is 1: the loss is ASL1 and its gradient d / sqrt(d^2 + mu^2)
    expected = torch.sqrt(d * d + mu * mu) - mu
    torch.testing.assert_close(lc.ghmr_loss(x.detach(), t, mu=mu, bins=1, reduction="none"), expected)
    torch.testing.assert_close(x.grad, d / torch.sqrt(d * d + mu * mu))


@pytest.mark.parametrize("momentum", [0.0, 0.7])
def test_ghmr_equals_reference_over_several_steps(device, momentum):
    module = lc.GHMRLoss(mu=0.02, bins=10, momentum=momentum).to(device)
    reference = LoopGHM(10, momentum, kind="r", mu=0.02)
    for step in range(4):
        g = torch.Generator().manual_seed(step)
        x = (torch.randn(30 + 10 * step, 4, generator=g) * 0.1 * (step + 1)).to(device)
        t = torch.zeros_like(x)
        valid = (torch.rand(x.shape, generator=g) < 0.7).to(device)
        assert float(module(x, t, valid)) == pytest.approx(reference(x.cpu(), t.cpu(), valid.cpu()), rel=1e-5)
        if momentum == 0:
            assert float(lc.ghmr_loss(x, t, valid=valid)) == pytest.approx(reference(x.cpu(), t.cpu(), valid.cpu()), rel=1e-5)


def test_ghmr_state_and_repr():
    module = lc.GHMRLoss(mu=0.05, bins=5, momentum=0.7)
    module(torch.randn(20), torch.zeros(20))
    clone = lc.GHMRLoss(mu=0.05, bins=5, momentum=0.7)
    clone.load_state_dict(module.state_dict())
    torch.testing.assert_close(clone.acc_sum, module.acc_sum)
    assert "mu=0.05, bins=5, momentum=0.7" in repr(module)


# ------------------------------------------------------------------ no host synchronisation in forward
def test_forward_never_copies_to_the_host(monkeypatch):
    x, y, valid = _batch((64, 3))
    modules = [lc.GHMCLoss(bins=10, momentum=0.75), lc.GHMRLoss(bins=10, momentum=0.7)]

    def refuse(*args, **kwargs):
        raise AssertionError("host synchronisation in the forward pass")

    for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "__index__", "nonzero"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    previous = lc.set_value_checks("device")  # the target check as an accelerator runs it
    out = [
        lc.ghmc_loss(x, y, bins=10, valid=valid),
        lc.ghmr_loss(x, y, valid=valid, reduction="sum"),
        modules[0](x, y, valid),
        modules[0](x, y),
        modules[1](x, y, valid),
    ]
    lc.set_value_checks(previous)
    monkeypatch.undo()
    assert all(torch.isfinite(o) for o in out)
    with pytest.raises(AssertionError, match="host synchronisation"):  # the patch does catch a sync
        monkeypatch.setattr(torch.Tensor, "item", refuse)
        x.sum().item()


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize(
    "fn, args, kwargs, error, message",
    [
        (lc.ghmc_loss, (torch.zeros(3), torch.zeros(4)), {}, ValueError, r"target must have the same shape as input, expected \(3,\), got \(4,\)"),
        (lc.ghmc_loss, (torch.zeros(3), torch.zeros(3, dtype=torch.long)), {}, TypeError, r"target must be a floating-point tensor"),
        (lc.ghmc_loss, (torch.zeros(3), torch.zeros(3)), dict(bins=0), ValueError, r"bins must be an integer in \[1, inf\], got 0"),
        (lc.ghmc_loss, (torch.zeros(3), torch.zeros(3)), dict(bins=2.5), TypeError, r"bins must be an int, got float"),
        (lc.ghmc_loss, (torch.zeros(3), torch.zeros(3)), dict(valid=torch.ones(3)), TypeError, r"valid must be a boolean mask, got dtype torch.float32"),
        (lc.ghmc_loss, (torch.zeros(3), torch.zeros(3)), dict(valid=torch.ones(2, dtype=torch.bool)), ValueError,
         r"valid must have the same shape as input, expected \(3,\), got \(2,\)"),
        (lc.ghmr_loss, (torch.zeros(3), torch.zeros(3)), dict(mu=0.0), ValueError, r"mu must be in \(0.0, inf\], got 0.0"),
        (lc.GHMCLoss, (), dict(momentum=1.0), ValueError, r"momentum must be in \[0.0, 1.0\), got 1.0"),
        (lc.GHMRLoss, (), dict(bins=-1), ValueError, r"bins must be an integer in \[1, inf\], got -1"),
        (lc.GHMCLoss, (), dict(reduction="avg"), ValueError, r"reduction must be one of .*got 'avg'"),
        (lc.gradient_density, (torch.tensor([0.5, 1.5]),), {}, ValueError, r"g values must be in \[0.0, 1.0\], got 1.5"),
    ],
)
def test_rejects(fn, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        fn(*args, **kwargs)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 200), bins=st.integers(1, 40), scale=st.sampled_from([0.1, 2.0, 5.0]), seed=st.integers(0, 2**16))
def test_property_weights_sum_to_n_and_loss_is_a_weighted_mean_of_bce(n, bins, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g, dtype=torch.float64) * scale
    y = (torch.rand(n, generator=g, dtype=torch.float64) < 0.3).double()
    bce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert (bce > 0).all()  # logits below ~30: torch's BCE does not round any loss to 0
    loss = lc.ghmc_loss(x, y, bins=bins, reduction="none")
    weights = loss / bce
    assert (weights > 0).all()
    assert float(weights.sum()) == pytest.approx(n, rel=1e-9)
    # so the mean is a convex combination of the per-element BCE values
    mean = lc.ghmc_loss(x, y, bins=bins)
    assert float(bce.min()) * (1 - 1e-9) <= float(mean) <= float(bce.max()) * (1 + 1e-9)
    torch.testing.assert_close(mean, loss.sum() / n)


def test_forward_traces_as_one_graph():
    # dynamo refuses (fullgraph=True) any graph break, such as a .item() or a branch on a tensor;
    # the "eager" backend traces without generating code, so this stays quick
    x, y, valid = _batch((300,))
    compiled, eager = lc.GHMCLoss(bins=30, momentum=0.75), lc.GHMCLoss(bins=30, momentum=0.75)
    step = torch.compile(lambda a, b, v: compiled(a, b, v), fullgraph=True, backend="eager")
    for _ in range(2):
        torch.testing.assert_close(step(x, y, valid), eager(x, y, valid))
    torch.testing.assert_close(compiled.acc_sum, eager.acc_sum)
    ghmr = torch.compile(lambda a, b: lc.ghmr_loss(a, b, valid=valid), fullgraph=True, backend="eager")
    torch.testing.assert_close(ghmr(x, y), lc.ghmr_loss(x, y, valid=valid))


def test_mean_over_millions_of_logits_keeps_float32_accuracy():
    # a float32 dot-product accumulator drifts by ~1e-4 over 4M terms; the loss must not
    g = torch.Generator().manual_seed(3)
    n, bins = 1 << 22, 30
    x = torch.randn(n, generator=g) * 3
    y = (torch.rand(n, generator=g) < 0.1).float()
    x64, y64 = x.double(), y.double()
    grad_norm = (torch.sigmoid(x64) - y64).abs()
    index = torch.bucketize(grad_norm, torch.arange(1, bins, dtype=torch.float64) / bins, right=True)
    counts = torch.bincount(index, minlength=bins).double()
    beta = n / counts[index] / (counts > 0).sum()
    bce = torch.nn.functional.softplus(x64) - x64 * y64
    expected = (beta * bce).sum() / n
    torch.testing.assert_close(lc.ghmc_loss(x, y, bins=bins).double(), expected, rtol=2e-6, atol=0)


def test_blocked_cpu_path_equals_the_plain_one():
    # large CPU inputs run block by block; any shape, a partial last block, the same numbers
    from losscookbook import ghm

    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, ghm._CPU_BLOCK + 1234, generator=g) * 4
    y = (torch.rand(x.shape, generator=g) < 0.2).float()
    blocked = ghm._ghmc_elementwise_blocked(x, y, 30)
    plain = ghm._ghmc_elementwise(x, y, 30)
    for a, b in zip(blocked, plain):
        assert a.shape == b.shape and a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert x.numel() > ghm._CPU_BLOCK  # so ghmc_loss itself takes the blocked path here
    leaf = x.clone().requires_grad_()
    lc.ghmc_loss(leaf, y, bins=30).backward()
    grad = leaf.grad
    x64 = x.double().requires_grad_()
    lc.ghmc_loss(x64, y.double(), bins=30).backward()
    torch.testing.assert_close(grad.double(), x64.grad, rtol=1e-5, atol=1e-12)

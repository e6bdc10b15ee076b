"""Tests of losscookbook.multitask: loss weightings, GradNorm, DWA, PCGrad and the helpers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losscookbook as lc
from contract import assert_reductions_consistent, assert_rejects_reduction

SIMPLE = [
    lambda: lc.SumWeighting(3),
    lambda: lc.FixedWeighting([1.0, 0.5, 2.0]),
    lambda: lc.LearnableWeighting(3),
    lambda: lc.UncertaintyWeighting(3, task_types=["regression", "classification", "regression"]),
    lambda: lc.UncertaintyWeighting(3, positive=True),
    lambda: lc.DynamicWeightAverage(3),
    lambda: lc.PCGrad(3),
]


def _losses(values=(1.0, 2.0, 3.0), dtype=torch.float32, requires_grad=False):
    return [torch.tensor(v, dtype=dtype, requires_grad=requires_grad) for v in values]


# ------------------------------------------------------------------ the common interface
@pytest.mark.parametrize("make", SIMPLE)
def test_sequence_dict_and_vector_inputs_agree(make):
    weighting = make()
    losses = _losses()
    total = weighting(losses)
    assert total.dim() == 0
    torch.testing.assert_close(weighting(torch.stack(losses)), total)
    assert weighting.weights.shape == (3,) and not weighting.weights.requires_grad
    assert weighting.num_tasks == 3 and weighting.task_names is None


def test_dict_input_is_matched_by_name_not_by_order():
    weighting = lc.FixedWeighting({"a": 1.0, "b": 10.0, "c": 100.0})
    assert weighting.task_names == ("a", "b", "c")
    total = weighting({"c": torch.tensor(1.0), "a": torch.tensor(3.0), "b": torch.tensor(2.0)})
    assert float(total) == 3.0 + 20.0 + 100.0
    assert float(weighting([torch.tensor(3.0), torch.tensor(2.0), torch.tensor(1.0)])) == 123.0


def test_weights_are_detached_copies():
    weighting = lc.UncertaintyWeighting(2)
    w = weighting.weights
    w.add_(5.0)
    torch.testing.assert_close(weighting.weights, torch.tensor([0.5, 0.5]))


@pytest.mark.parametrize(
    "make",
    [
        lambda: lc.SumWeighting(["a", "b"]),
        lambda: lc.UncertaintyWeighting(["a", "b"]),
        lambda: lc.DynamicWeightAverage(["a", "b"]),
        lambda: lc.GradNorm(["a", "b"]),
    ],
)
def test_dict_keys_are_checked(make):
    weighting = make()
    with pytest.raises(ValueError, match=r"losses must have the keys \['a', 'b'\]: missing \['b'\]"):
        weighting.stack({"a": torch.tensor(1.0)})
    with pytest.raises(ValueError, match=r"unexpected \['z'\]"):
        weighting.stack({"a": torch.tensor(1.0), "b": torch.tensor(1.0), "z": torch.tensor(1.0)})
    with pytest.raises(ValueError, match=r"missing \['b'\], unexpected \['c'\]"):
        weighting.stack({"a": torch.tensor(1.0), "c": torch.tensor(1.0)})


def test_dict_without_task_names_is_refused():
    with pytest.raises(ValueError, match="dict, but this weighting has no task names"):
        lc.SumWeighting(2)({"a": torch.tensor(1.0), "b": torch.tensor(1.0)})


@pytest.mark.parametrize("make", SIMPLE)
def test_bad_losses_raise_clear_errors(make):
    weighting = make()
    with pytest.raises(ValueError, match=r"losses must hold 3 task losses \(one per task\), got 2"):
        weighting(_losses((1.0, 2.0)))
    with pytest.raises(ValueError, match=r"losses\[1\] must be a scalar tensor \(shape \(\)\), got shape \(4,\)"):
        weighting([torch.tensor(1.0), torch.ones(4), torch.tensor(1.0)])
    with pytest.raises(TypeError, match=r"losses\[2\] must be a floating-point tensor, got dtype torch.int64"):
        weighting([torch.tensor(1.0), torch.tensor(1.0), torch.tensor(1)])
    with pytest.raises(TypeError, match=r"losses\[0\] must be a torch.Tensor, got float"):
        weighting([1.0, torch.tensor(1.0), torch.tensor(1.0)])
    with pytest.raises(TypeError, match="losses must be a sequence or a dict of scalar tensors, got int"):
        weighting(3)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match=r"weights\[1\] must be in \[0.0, inf\], got -0.5"):
        lc.FixedWeighting([1.0, -0.5])
    with pytest.raises(ValueError, match=r"weights\['b'\] must be in \[0.0, inf\], got -1.0"):
        lc.FixedWeighting({"a": 1.0, "b": -1.0})
    with pytest.raises(ValueError, match=r"weights\[0\] must be in \[0.0, inf\], got nan"):
        lc.FixedWeighting(torch.tensor([math.nan, 1.0]))
    with pytest.raises(ValueError, match=r"weights must be 1-D \(T,\), got shape \(2, 2\)"):
        lc.FixedWeighting(torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"num_tasks must be an integer in \[1, inf\], got 0"):
        lc.SumWeighting(0)
    with pytest.raises(TypeError, match="num_tasks must be a positive int or a sequence of distinct task names"):
        lc.SumWeighting(["a", "a"])
    with pytest.raises(ValueError, match=r"task_types must hold 2 task types \(one per task\), got 3"):
        lc.UncertaintyWeighting(2, task_types=["regression"] * 3)
    with pytest.raises(ValueError, match=r"task_types\[1\] must be one of \('regression', 'classification'\), got 'ranking'"):
        lc.UncertaintyWeighting(2, task_types=["regression", "ranking"])
    with pytest.raises(ValueError, match=r"temperature must be in \(0.0, inf\], got 0.0"):
        lc.DynamicWeightAverage(2, temperature=0.0)
    with pytest.raises(ValueError, match=r"alpha must be in \[0.0, inf\], got -1.0"):
        lc.GradNorm(2, alpha=-1.0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator, got int"):
        lc.PCGrad(2, generator=0)


# ------------------------------------------------------------------ fixed and learnable weights
def test_sum_and_fixed_weighting_formulas():
    losses = _losses((1.5, 2.0, 4.0))
    assert float(lc.SumWeighting(3)(losses)) == 7.5
    assert float(lc.FixedWeighting([2.0, 0.0, 0.25])(losses)) == 3.0 + 0.0 + 1.0
    torch.testing.assert_close(lc.FixedWeighting([2.0, 0.0, 0.25]).weights, torch.tensor([2.0, 0.0, 0.25]))


def test_learnable_weights_collapse_under_sgd():
    # the total's gradient with respect to w_i is L_i > 0: every step lowers every weight,
    # and nothing stops them at zero
    weighting = lc.LearnableWeighting(2)
    optimizer = torch.optim.SGD(weighting.parameters(), lr=0.1)
    history = [weighting.weights]
    for _ in range(30):
        optimizer.zero_grad()
        weighting(_losses((1.0, 0.2))).backward()
        optimizer.step()
        history.append(weighting.weights)
    history = torch.stack(history)
    assert (history[1:] < history[:-1]).all()
    assert history[-1, 0] < 0 and float(weighting(_losses((1.0, 0.2))).detach()) < 0


# ------------------------------------------------------------------ uncertainty weighting
def ref_uncertainty(losses, log_vars, task_types, positive):
    """sum_i c_i exp(-s_i) L_i + R(s_i), float64 plain loop (Kendall et al.; Liebel and Koerner)."""
    total = 0.0
    for loss, s, kind in zip(losses, log_vars, task_types):
        c = 0.5 if kind == "regression" else 1.0
        regulariser = math.log1p(math.exp(s)) if positive else 0.5 * s  # log(1 + sigma^2) or log sigma
        total += c / math.exp(s) * loss + regulariser
    return total


@pytest.mark.parametrize("positive", [False, True])
def test_uncertainty_weighting_equals_its_formula(positive):
    types = ["regression", "classification", "classification", "regression"]
    weighting = lc.UncertaintyWeighting(4, task_types=types, positive=positive).double()
    s = [-1.5, 0.0, 0.7, 3.0]
    with torch.no_grad():
        weighting.log_vars.copy_(torch.tensor(s, dtype=torch.float64))
    values = [0.3, 2.0, 0.01, 50.0]
    total = weighting(_losses(values, dtype=torch.float64))
    assert total.dtype == torch.float64
    assert float(total.detach()) == pytest.approx(ref_uncertainty(values, s, types, positive), rel=1e-12)
    expected_weights = [(0.5 if t == "regression" else 1.0) * math.exp(-v) for t, v in zip(types, s)]
    torch.testing.assert_close(weighting.weights, torch.tensor(expected_weights, dtype=torch.float64))
    torch.testing.assert_close(weighting.sigma, torch.tensor([math.exp(v / 2) for v in s], dtype=torch.float64))


@pytest.mark.parametrize("positive", [False, True])
def test_uncertainty_weighting_gradcheck(positive):
    weighting = lc.UncertaintyWeighting(3, task_types=["regression", "classification", "regression"], positive=positive)
    weighting = weighting.double()
    losses = torch.tensor([0.5, 1.3, 4.0], dtype=torch.float64, requires_grad=True)
    s = torch.tensor([0.2, -0.4, 1.1], dtype=torch.float64, requires_grad=True)

    def total(losses, s):
        return torch.func.functional_call(weighting, {"log_vars": s}, (losses,))

    assert torch.autograd.gradcheck(total, (losses, s))


@pytest.mark.parametrize("kind, factor", [("regression", 1.0), ("classification", 2.0)])
def test_uncertainty_optimum_is_log_loss(kind, factor):
    # regression: d/ds [0.5 e^-s L + 0.5 s] = 0 at s* = log L; classification: s* = log 2L
    losses = [0.04, 1.0, 30.0]
    weighting = lc.UncertaintyWeighting(3, task_types=[kind] * 3).double()
    stationary = torch.tensor([math.log(factor * v) for v in losses], dtype=torch.float64)
    with torch.no_grad():
        weighting.log_vars.copy_(stationary)
    weighting(_losses(losses, dtype=torch.float64)).backward()
    torch.testing.assert_close(weighting.log_vars.grad, torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    # and gradient descent from s = 0 finds it
    weighting = lc.UncertaintyWeighting(3, task_types=[kind] * 3).double()
    optimizer = torch.optim.Adam(weighting.parameters(), lr=0.05)
    for _ in range(1500):
        optimizer.zero_grad()
        weighting(_losses(losses, dtype=torch.float64)).backward()
        optimizer.step()
    torch.testing.assert_close(weighting.log_vars.detach(), stationary, atol=1e-4, rtol=0)


def test_uncertainty_total_goes_negative_and_positive_variant_does_not():
    small = _losses((1e-3, 1e-3))
    plain, positive = lc.UncertaintyWeighting(2), lc.UncertaintyWeighting(2, positive=True)
    with torch.no_grad():
        plain.log_vars.fill_(math.log(1e-3))  # the optimum for these losses
        positive.log_vars.fill_(math.log(1e-3))
    assert float(plain(small).detach()) < 0
    assert float(positive(small).detach()) > 0


@settings(max_examples=60, deadline=None)
@given(
    s=st.lists(st.floats(-30.0, 30.0), min_size=3, max_size=3),
    values=st.lists(st.floats(0.0, 1e4), min_size=3, max_size=3),
)
def test_positive_uncertainty_total_is_never_negative(s, values):
    weighting = lc.UncertaintyWeighting(3, task_types=["regression", "classification", "regression"], positive=True)
    weighting = weighting.double()
    with torch.no_grad():
        weighting.log_vars.copy_(torch.tensor(s, dtype=torch.float64))
    total = weighting(_losses(values, dtype=torch.float64))
    value = float(total.detach())
    assert value >= 0.0 and math.isfinite(value)


def test_positive_uncertainty_optimum():
    # d/ds [c e^-s L + softplus(s)] = 0  <=>  c L = v^2 / (1 + v), v = sigma^2 = e^s,
    # whose positive root is v = (cL + sqrt((cL)^2 + 4 cL)) / 2
    types, losses = ["regression", "classification"], [3.0, 0.5]
    weighting = lc.UncertaintyWeighting(2, task_types=types, positive=True).double()
    cl = [(0.5 if t == "regression" else 1.0) * v for t, v in zip(types, losses)]
    roots = [(a + math.sqrt(a * a + 4 * a)) / 2 for a in cl]
    with torch.no_grad():
        weighting.log_vars.copy_(torch.tensor([math.log(v) for v in roots], dtype=torch.float64))
    weighting(_losses(losses, dtype=torch.float64)).backward()
    torch.testing.assert_close(weighting.log_vars.grad, torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)
    # unlike the plain regression form (optimum sigma^2 = L = 3), the optimum is not the loss itself
    assert abs(roots[0] - losses[0]) > 0.5


# ------------------------------------------------------------------ heteroscedastic (per-sample) forms
def test_heteroscedastic_classification_equals_its_formula():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=g, dtype=torch.float64) * 3
    target = torch.randint(0, 4, (6,), generator=g)
    s = torch.randn(6, generator=g, dtype=torch.float64)
    expected = []
    for row, y, si in zip(logits.tolist(), target.tolist(), s.tolist()):
        log_z = math.log(sum(math.exp(v) for v in row))
        expected.append(math.exp(-si) * (log_z - row[y]) + 0.5 * si)
    out = lc.heteroscedastic_classification_loss(logits, target, log_var=s, reduction="none")
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    assert_reductions_consistent(lambda x, y, **k: lc.heteroscedastic_classification_loss(x, y, log_var=s, **k), logits, target)
    assert_rejects_reduction(lambda x, y, **k: lc.heteroscedastic_classification_loss(x, y, log_var=s, **k), logits, target)
    module = lc.HeteroscedasticClassificationLoss(reduction="sum")
    torch.testing.assert_close(module(logits, target, log_var=s), out.sum(), rtol=0, atol=0)


def test_heteroscedastic_classification_gradcheck_and_ce_at_zero():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(5, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 3, (5, 2), generator=g)
    s = torch.randn(5, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, v: lc.heteroscedastic_classification_loss(x, target, log_var=v), (logits, s)
    )
    torch.testing.assert_close(
        lc.heteroscedastic_classification_loss(logits, target, log_var=torch.zeros(5, 2, dtype=torch.float64)),
        F.cross_entropy(logits, target),
    )
    # saturated logits: finite loss and gradients
    big = (torch.tensor([[1e4, -1e4], [-1e4, 1e4]])).requires_grad_(True)
    loss = lc.heteroscedastic_classification_loss(big, torch.tensor([1, 0]), log_var=torch.zeros(2))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(big.grad).all()


def test_heteroscedastic_classification_bad_inputs():
    x, y = torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match=r"log_var must have the same shape as target, expected \(4,\), got \(4, 1\)"):
        lc.heteroscedastic_classification_loss(x, y, log_var=torch.zeros(4, 1))
    with pytest.raises(TypeError, match="log_var must be a floating-point tensor"):
        lc.heteroscedastic_classification_loss(x, y, log_var=torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"target class indices must be in \[0, 2\], got 3"):
        lc.heteroscedastic_classification_loss(x, torch.full((4,), 3), log_var=torch.zeros(4))


def test_heteroscedastic_regression_form_is_gaussian_nll():
    # the per-sample regression form is gaussian_nll_loss: 0.5 e^-s (y - mu)^2 + 0.5 s
    mu, y, s = torch.tensor([0.0, 1.0]), torch.tensor([2.0, -1.0]), torch.tensor([0.5, -1.0])
    expected = [0.5 * math.exp(-si) * (yi - mi) ** 2 + 0.5 * si for mi, yi, si in zip(mu.tolist(), y.tolist(), s.tolist())]
    torch.testing.assert_close(lc.gaussian_nll_loss(mu, y, log_var=s, reduction="none"), torch.tensor(expected))


# ------------------------------------------------------------------ dynamic weight average
def ref_dwa(epoch_averages, temperature):
    """lambda_k(t) for every epoch t (1-based), plain loops (Liu et al., eq. 7)."""
    k = len(epoch_averages[0])
    out = []
    for t in range(len(epoch_averages) + 1):
        if t < 2:
            out.append([1.0] * k)
            continue
        w = [epoch_averages[t - 1][i] / epoch_averages[t - 2][i] for i in range(k)]
        z = sum(math.exp(v / temperature) for v in w)
        out.append([k * math.exp(v / temperature) / z for v in w])
    return out


def test_dwa_equals_its_formula_with_epoch_averages():
    g = torch.Generator().manual_seed(0)
    dwa = lc.DynamicWeightAverage(3, temperature=0.5)
    averages, used = [], []
    for epoch in range(5):
        steps = torch.rand(4, 3, generator=g, dtype=torch.float64) * (3 - 0.5 * epoch) + 0.1
        used.append(dwa.weights.tolist())
        for row in steps:
            total = dwa(list(row.unbind()))
            torch.testing.assert_close(total, (dwa.weights.double() * row).sum())
        averages.append(steps.mean(0).tolist())
        dwa.end_epoch()
    used.append(dwa.weights.tolist())
    expected = ref_dwa(averages, 0.5)
    torch.testing.assert_close(torch.tensor(used), torch.tensor(expected, dtype=torch.float32), rtol=1e-6, atol=1e-6)
    assert abs(float(dwa.weights.sum()) - 3.0) < 1e-6 and not torch.allclose(dwa.weights, torch.ones(3))


def test_dwa_steady_losses_give_ones_and_per_step_use():
    dwa = lc.DynamicWeightAverage(4)
    for _ in range(6):
        dwa(_losses((0.3, 2.0, 7.0, 1e-3)))
        dwa.end_epoch()  # per step
        torch.testing.assert_close(dwa.weights, torch.ones(4))


def test_dwa_weights_sum_to_k_and_empty_period_changes_nothing():
    dwa = lc.DynamicWeightAverage(3, temperature=2.0)
    for values in [(1.0, 1.0, 1.0), (0.1, 0.9, 2.0), (0.05, 0.3, 3.0)]:
        dwa(_losses(values))
        dwa.end_epoch()
    before = dwa.weights
    assert float(before.sum()) == pytest.approx(3.0, rel=1e-6)
    dwa.end_epoch()  # nothing recorded since the last call
    torch.testing.assert_close(dwa.weights, before, rtol=0, atol=0)
    assert int(dwa.periods) == 3


# ------------------------------------------------------------------ GradNorm
def _gradnorm_case(seed):
    """Shared layer h = W x, heads y_i = a_i . h, losses L_i = scale_i * mean((y_i - t_i)^2), float64."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    targets = torch.randn(5, 2, generator=g, dtype=torch.float64)
    return x, targets


def _hand_gradnorm_grad(W, A, x, targets, scales, w, initial, alpha):
    """d L_grad / d w from the paper's definitions, with dL_i/dW written out: plain float64 loops."""
    n, t = len(x), len(A)
    losses, norms = [], []
    for i in range(t):
        residuals = []
        for s in range(n):
            h = [sum(W[r][c] * x[s][c] for c in range(3)) for r in range(2)]
            residuals.append(sum(A[i][r] * h[r] for r in range(2)) - targets[s][i])
        losses.append(scales[i] * sum(e * e for e in residuals) / n)
        # dL_i/dW[r][c] = scale_i * 2/n * sum_s e_s * a_i[r] * x_s[c]
        grad = [[scales[i] * 2 / n * sum(residuals[s] * A[i][r] * x[s][c] for s in range(n)) for c in range(3)] for r in range(2)]
        norms.append(math.sqrt(sum(v * v for row in grad for v in row)))
    G = [w[i] * norms[i] for i in range(t)]
    initial = losses if initial is None else initial
    rates = [losses[i] / initial[i] for i in range(t)]
    r = [v / (sum(rates) / t) for v in rates]
    target = [sum(G) / t * r[i] ** alpha for i in range(t)]
    grad_w = [math.copysign(norms[i], G[i] - target[i]) for i in range(t)]
    return grad_w, losses, norms


def test_gradnorm_update_equals_a_hand_computed_step():
    alpha, scales = 1.5, [1.0, 20.0]
    W = torch.nn.Parameter(torch.randn(2, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    A = torch.tensor([[1.0, -0.5], [0.3, 2.0]], dtype=torch.float64)
    gradnorm = lc.GradNorm(2, alpha=alpha).double()
    initial = None
    for step, raw in enumerate([(1.0, 1.0), (0.5, 2.0), (1.2, 0.2)]):
        x, targets = _gradnorm_case(step)
        with torch.no_grad():
            gradnorm.raw_weights.copy_(torch.tensor(raw, dtype=torch.float64))
        gradnorm.raw_weights.grad = None
        y = (x @ W.T) @ A.T
        losses = [scales[i] * (y[:, i] - targets[:, i]).square().mean() for i in range(2)]
        total = gradnorm(losses, W)
        w = [2 * v / sum(raw) for v in raw]  # renormalised to sum to T before use
        expected, hand_losses, norms = _hand_gradnorm_grad(W.tolist(), A.tolist(), x.tolist(), targets.tolist(), scales, w, initial, alpha)
        initial = hand_losses if initial is None else initial
        torch.testing.assert_close(gradnorm.weights, torch.tensor(w, dtype=torch.float64))
        torch.testing.assert_close(gradnorm.raw_weights.grad, torch.tensor(expected, dtype=torch.float64))
        torch.testing.assert_close(gradnorm.initial_losses, torch.tensor(initial, dtype=torch.float64))
        torch.testing.assert_close(gradnorm.grad_norms, torch.tensor(norms, dtype=torch.float64))
        torch.testing.assert_close(total, sum(wi * li for wi, li in zip(w, losses)))
        # the network's gradient is that of sum_i w_i L_i with the weights as constants
        W.grad = None
        total.backward()
        (expected_W,) = torch.autograd.grad(sum(wi * li for wi, li in zip(w, [
            scales[i] * (((x @ W.T) @ A.T)[:, i] - targets[:, i]).square().mean() for i in range(2)
        ])), W)
        torch.testing.assert_close(W.grad, expected_W)


def test_gradnorm_weights_sum_to_t_in_training():
    torch.manual_seed(0)
    trunk, head = torch.nn.Linear(4, 16), torch.nn.Linear(16, 3)
    gradnorm = lc.GradNorm(3, alpha=0.5)
    optimizer = torch.optim.Adam([{"params": [*trunk.parameters(), *head.parameters()]}, {"params": gradnorm.parameters(), "lr": 0.05}], lr=1e-2)
    x = torch.randn(64, 4)
    targets = torch.stack([torch.sin(x[:, 0]), 100 * torch.tanh(x[:, 1]), x[:, 2] * x[:, 3]], dim=1)
    history = []
    for _ in range(40):
        optimizer.zero_grad()
        out = head(torch.relu(trunk(x)))
        losses = [(out[:, i] - targets[:, i]).square().mean() for i in range(3)]
        gradnorm(losses, trunk.weight).backward()
        optimizer.step()
        history.append(gradnorm.weights)
    history = torch.stack(history)
    torch.testing.assert_close(history.sum(1), torch.full((40,), 3.0))
    assert history.std(0).max() > 0.05  # the weights moved
    assert trunk.weight.grad is not None and torch.isfinite(trunk.weight.grad).all()


def test_gradnorm_rejects_bad_shared_parameters():
    gradnorm = lc.GradNorm(2)
    losses = _losses((1.0, 2.0), requires_grad=True)
    with pytest.raises(ValueError, match=r"shared_parameters\[0\] must require grad"):
        gradnorm(losses, torch.ones(3))
    with pytest.raises(ValueError, match="shared_parameters must hold at least one tensor that requires grad, got none"):
        gradnorm(losses, [])
    with pytest.raises(TypeError, match="GradNorm needs the last shared layer"):
        gradnorm.combine(torch.ones(2))


# ------------------------------------------------------------------ PCGrad
def ref_pcgrad(grads, order):
    """The paper's Algorithm 1 as a plain loop: project each g_i against the others in the given order."""
    out = []
    for i, g_i in enumerate(grads):
        pc = list(g_i)
        for j in order[i]:
            g_j = grads[j]
            dot = sum(a * b for a, b in zip(pc, g_j))
            if dot < 0:
                norm2 = sum(b * b for b in g_j)
                pc = [a - dot / norm2 * b for a, b in zip(pc, g_j)]
        out.append(pc)
    return out


def test_pcgrad_makes_two_conflicting_gradients_orthogonal():
    g = torch.tensor([[2.0, 1.0, 0.0], [-1.0, 0.5, 3.0]], dtype=torch.float64)
    assert float(g[0] @ g[1]) < 0
    p = lc.project_conflicting(g)
    assert abs(float(p[0] @ g[1])) < 1e-12 and abs(float(p[1] @ g[0])) < 1e-12


def test_pcgrad_leaves_agreeing_gradients_untouched():
    g = torch.tensor([[2.0, 1.0, 0.0], [1.0, 0.5, 3.0], [0.0, 0.1, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(lc.project_conflicting(g, generator=torch.Generator().manual_seed(0)), g, rtol=0, atol=0)


@pytest.mark.parametrize("order", [[[1, 2], [0, 2], [0, 1]], [[2, 1], [2, 0], [1, 0]], [[1, 2], [2, 0], [0, 1]]])
def test_pcgrad_matches_algorithm_1_for_three_tasks(order):
    g = torch.tensor([[1.0, -2.0, 0.5, 0.0], [-1.5, 1.0, 0.0, 1.0], [0.2, 1.0, -2.0, -0.7]], dtype=torch.float64)
    expected = torch.tensor(ref_pcgrad(g.tolist(), order), dtype=torch.float64)
    torch.testing.assert_close(lc.project_conflicting(g, order=torch.tensor(order)), expected)
    # the order matters here, so the test would notice an implementation that ignored it
    other = [[row[1], row[0]] for row in order]
    assert not torch.allclose(torch.tensor(ref_pcgrad(g.tolist(), other), dtype=torch.float64), expected)


def test_pcgrad_random_order_is_reproducible_from_the_generator():
    g = torch.randn(5, 7, generator=torch.Generator().manual_seed(1))
    a = lc.project_conflicting(g, generator=torch.Generator().manual_seed(4))
    b = lc.project_conflicting(g, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    outs = {tuple(lc.project_conflicting(g, generator=torch.Generator().manual_seed(s)).flatten().tolist()) for s in range(8)}
    assert len(outs) > 1


def _pcgrad_model(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    x = torch.randn(8, 3)
    y = torch.randn(8, 3)
    return model, x, y


def test_pcgrad_backward_writes_the_summed_projection_to_grad():
    model, x, y = _pcgrad_model()
    unused = torch.nn.Parameter(torch.ones(2))
    params = [*model.parameters(), unused]
    out = model(x)
    losses = [(out[:, i] - y[:, i]).square().mean() for i in range(3)]
    rows = []
    for loss in losses:
        grads = torch.autograd.grad(loss, list(model.parameters()), retain_graph=True)
        rows.append(torch.cat([g.reshape(-1) for g in grads]))
    order = torch.tensor([[2, 1], [0, 2], [1, 0]])
    expected = torch.tensor(ref_pcgrad(torch.stack(rows).double().tolist(), order.tolist())).sum(0).float()
    lc.PCGrad(3).backward(losses, params, order=order)
    got = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert unused.grad is None
    # like backward, a second call accumulates
    out = model(x)
    lc.PCGrad(3).backward([(out[:, i] - y[:, i]).square().mean() for i in range(3)], params, order=order)
    torch.testing.assert_close(torch.cat([p.grad.reshape(-1) for p in model.parameters()]), 2 * expected, rtol=1e-5, atol=1e-6)


def test_pcgrad_with_grad_scaler_equals_unscaled():
    model, x, y = _pcgrad_model(1)
    twin = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    order = torch.tensor([[1, 2], [2, 0], [0, 1]])
    out = model(x)
    lc.PCGrad(3).backward([(out[:, i] - y[:, i]).square().mean() for i in range(3)], model.parameters(), order=order)
    reference = [p.grad.clone() for p in model.parameters()]

    twin_model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    with torch.no_grad():
        for p, q in zip(twin_model.parameters(), twin):
            p.copy_(q)
    optimizer = torch.optim.SGD(twin_model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    out = twin_model(x)
    losses = [(out[:, i] - y[:, i]).square().mean() for i in range(3)]
    lc.PCGrad(3).backward([scaler.scale(loss) for loss in losses], twin_model.parameters(), order=order)
    assert torch.allclose(next(twin_model.parameters()).grad, 1024.0 * reference[0], rtol=1e-5)
    scaler.unscale_(optimizer)
    for p, r in zip(twin_model.parameters(), reference):
        torch.testing.assert_close(p.grad, r, rtol=1e-5, atol=1e-7)
    scaler.step(optimizer)
    scaler.update()


def test_pcgrad_bad_inputs():
    with pytest.raises(ValueError, match=r"grads must have shape \(T, P\), got \(3,\)"):
        lc.project_conflicting(torch.ones(3))
    with pytest.raises(ValueError, match=r"order must have shape \(T, T - 1\) = \(3, 2\), got \(3, 3\)"):
        lc.project_conflicting(torch.ones(3, 2), order=torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="parameters must hold at least one tensor that requires grad, got none"):
        lc.PCGrad(2).backward(_losses((1.0, 2.0), requires_grad=True), [torch.ones(2)])
    w = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="losses must be differentiable: none of the task losses requires grad"):
        lc.PCGrad(2).backward(_losses((1.0, 2.0)), [w])
    with pytest.raises(ValueError, match="losses must be differentiable"):
        lc.GradNorm(2)(_losses((1.0, 2.0)), w)


def test_pcgrad_skips_frozen_parameters_and_constant_tasks():
    w, frozen = torch.nn.Parameter(torch.tensor([1.0, 2.0])), torch.ones(2)
    losses = [(w * torch.tensor([1.0, -1.0])).sum(), torch.tensor(0.0), (w * frozen).sum()]
    lc.PCGrad(3).backward(losses, [w, frozen], order=torch.tensor([[1, 2], [0, 2], [0, 1]]))
    # task 1 is a constant (zero gradient); g0 = [1, -1] and g2 = [1, 1] do not conflict: plain sum
    torch.testing.assert_close(w.grad, torch.tensor([2.0, 0.0]))
    assert frozen.grad is None


# ------------------------------------------------------------------ state, precision, compile
def _trained_state(make, steps=3):
    module = make()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1) if list(module.parameters()) else None
    for k in range(steps):
        losses = _losses((1.0 + k, 2.0 / (k + 1), 3.0))
        total = module(losses)
        if optimizer is not None:
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
        if isinstance(module, lc.DynamicWeightAverage):
            module.end_epoch()
    return module


@pytest.mark.parametrize("make", SIMPLE[1:6])
def test_state_dict_round_trip(make):
    trained = _trained_state(make)
    fresh = make()
    fresh.load_state_dict(trained.state_dict())
    torch.testing.assert_close(fresh.weights, trained.weights, rtol=0, atol=0)
    losses = _losses((0.7, 1.1, 2.3))
    torch.testing.assert_close(fresh(losses), trained(losses), rtol=0, atol=0)


def test_gradnorm_state_dict_round_trip():
    w = torch.nn.Parameter(torch.randn(3, 2))
    gradnorm = lc.GradNorm(2)
    for k in range(2):
        out = torch.ones(4, 3) @ w
        gradnorm([out[:, 0].square().mean() * (k + 1), out[:, 1].abs().mean()], w)
        with torch.no_grad():
            gradnorm.raw_weights.sub_(0.1 * gradnorm.raw_weights.grad)
    fresh = lc.GradNorm(2)
    fresh.load_state_dict(gradnorm.state_dict())
    for name in ("raw_weights", "initial_losses", "initialized", "grad_norms"):
        torch.testing.assert_close(getattr(fresh, name), getattr(gradnorm, name), rtol=0, atol=0)
    assert bool(fresh.initialized)


@pytest.mark.parametrize("make", SIMPLE[:6])
def test_half_precision_losses_give_a_float32_total(make):
    for dtype in (torch.float16, torch.bfloat16):
        weighting = make()
        low = _losses((1.0, 2.0, 3.0), dtype=dtype, requires_grad=True)
        total = weighting(low)
        assert total.dtype == torch.float32
        reference = make()(_losses((1.0, 2.0, 3.0)))
        torch.testing.assert_close(total, reference)
        total.backward()
        assert all(loss.grad.dtype == dtype and torch.isfinite(loss.grad.float()) for loss in low)


@pytest.mark.parametrize("make", [*SIMPLE, lambda: lc.GradNorm(3)])
def test_bfloat16_autocast_training_step(make):
    torch.manual_seed(0)
    trunk, head = torch.nn.Linear(5, 8), torch.nn.Linear(8, 3)
    weighting = make()
    x, y = torch.randn(16, 5), torch.randn(16, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = head(torch.relu(trunk(x)))
        assert out.dtype == torch.bfloat16
        losses = [(out[:, i] - y[:, i]).square().mean() for i in range(3)]
        if isinstance(weighting, lc.GradNorm):
            total = weighting(losses, trunk.weight)
        else:
            total = weighting(losses)
    assert total.dtype == torch.float32 and torch.isfinite(total)
    if isinstance(weighting, lc.PCGrad):
        weighting.backward(losses, [*trunk.parameters(), *head.parameters()])
    else:
        total.backward()
    assert torch.isfinite(trunk.weight.grad).all()


@pytest.mark.parametrize("make", SIMPLE[:6])
def test_forward_traces_as_one_graph(make):
    compiled_module, eager_module = make(), make()
    step = torch.compile(lambda a, b, c: compiled_module([a, b, c]), fullgraph=True, backend="eager")
    losses = _losses((1.0, 2.0, 3.0), requires_grad=True)
    for _ in range(2):
        total = step(*losses)
        torch.testing.assert_close(total, eager_module(losses))
    total.backward()
    assert losses[0].grad is not None
    if isinstance(compiled_module, lc.DynamicWeightAverage):
        torch.testing.assert_close(compiled_module.running_sum, eager_module.running_sum)


def test_heteroscedastic_classification_traces_as_one_graph():
    logits, target, s = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2]), torch.randn(6)
    fn = torch.compile(lambda x, v: lc.heteroscedastic_classification_loss(x, target, log_var=v), fullgraph=True, backend="eager")
    torch.testing.assert_close(fn(logits, s), lc.heteroscedastic_classification_loss(logits, target, log_var=s))


def test_project_conflicting_traces_as_one_graph():
    g = torch.randn(3, 10, generator=torch.Generator().manual_seed(0))
    order = torch.tensor([[1, 2], [2, 0], [0, 1]])
    fn = torch.compile(lambda m: lc.project_conflicting(m, order=order), fullgraph=True, backend="eager")
    torch.testing.assert_close(fn(g), lc.project_conflicting(g, order=order))


def test_modules_move_their_state_with_to():
    dwa = lc.DynamicWeightAverage(2).to(torch.float64)
    assert dwa.lambdas.dtype == torch.float64
    gradnorm = lc.GradNorm(2).double()
    assert gradnorm.raw_weights.dtype == torch.float64 and gradnorm.initial_losses.dtype == torch.float64


def test_everything_runs_on_the_device_of_the_losses(device):
    torch.manual_seed(0)
    trunk, head = torch.nn.Linear(5, 8).to(device), torch.nn.Linear(8, 3).to(device)
    x, y = torch.randn(16, 5, device=device), torch.randn(16, 3, device=device)
    for make in [*SIMPLE, lambda: lc.GradNorm(3)]:
        weighting = make().to(device)
        trunk.zero_grad()
        head.zero_grad()
        out = head(torch.relu(trunk(x)))
        losses = [(out[:, i] - y[:, i]).square().mean() for i in range(3)]
        if isinstance(weighting, lc.PCGrad):
            weighting.backward(losses, [*trunk.parameters(), *head.parameters()])
        else:
            total = weighting(losses, trunk.weight) if isinstance(weighting, lc.GradNorm) else weighting(losses)
            assert total.device.type == device.type
            total.backward()
        assert trunk.weight.grad.device.type == device.type and torch.isfinite(trunk.weight.grad).all()
        if isinstance(weighting, lc.DynamicWeightAverage):
            weighting.end_epoch()
            assert weighting.lambdas.device.type == device.type
    g = torch.randn(3, 6, device=device)
    assert lc.project_conflicting(g, generator=torch.Generator().manual_seed(0)).device.type == device.type


# ------------------------------------------------------------------ helpers
def test_per_task_param_groups():
    trunk = torch.nn.Linear(4, 8)
    heads = {"a": torch.nn.Linear(8, 1), "b": torch.nn.Linear(8, 2)}
    groups = lc.per_task_param_groups(trunk, heads, lr=0.1, head_lr={"b": 1.0, "a": 0.01}, momentum=0.9)
    assert [(g["name"], g["lr"], g["momentum"]) for g in groups] == [("shared", 0.1, 0.9), ("a", 0.01, 0.9), ("b", 1.0, 0.9)]
    assert [len(g["params"]) for g in groups] == [2, 2, 2]
    torch.optim.SGD(groups)
    seq = lc.per_task_param_groups(trunk.parameters(), [heads["a"], heads["b"].parameters()], lr=0.1, head_lr=[0.2, 0.3])
    assert [(g["name"], g["lr"]) for g in seq] == [("shared", 0.1), ("0", 0.2), ("1", 0.3)]
    assert [g["lr"] for g in lc.per_task_param_groups(trunk, heads, lr=0.1, head_lr=0.5)] == [0.1, 0.5, 0.5]
    with pytest.raises(ValueError, match=r"is in both 'shared' and 'a'"):
        lc.per_task_param_groups(trunk, {"a": trunk}, lr=0.1)
    with pytest.raises(ValueError, match=r"head_lr must have the keys \['a', 'b'\]: missing \['b'\]"):
        lc.per_task_param_groups(trunk, heads, lr=0.1, head_lr={"a": 0.1})
    with pytest.raises(ValueError, match=r"head_lr must hold 2 learning rates \(one per head\), got 1"):
        lc.per_task_param_groups(trunk, heads, lr=0.1, head_lr=[0.1])
    with pytest.raises(ValueError, match=r"head_lr\['a'\] must be in \(0.0, inf\], got -1.0"):
        lc.per_task_param_groups(trunk, heads, lr=0.1, head_lr=-1.0)
    with pytest.raises(ValueError, match=r"lr must be in \(0.0, inf\], got 0.0"):
        lc.per_task_param_groups(trunk, heads, lr=0.0)


def test_head_learning_rate_equals_loss_weight_for_that_head_under_sgd():
    # SGD with lr c*eta on head b is the same step on head b as weight c on L_b, and a different one on the trunk
    torch.manual_seed(0)
    x, y = torch.randn(10, 4), torch.randn(10, 2)

    def build():
        torch.manual_seed(1)
        return torch.nn.Linear(4, 6), torch.nn.Linear(6, 1), torch.nn.Linear(6, 1)

    def losses(trunk, ha, hb):
        h = torch.tanh(trunk(x))
        return (ha(h)[:, 0] - y[:, 0]).square().mean(), (hb(h)[:, 0] - y[:, 1]).square().mean()

    t1, a1, b1 = build()
    opt1 = torch.optim.SGD(lc.per_task_param_groups(t1, {"a": a1, "b": b1}, lr=0.1, head_lr={"a": 0.1, "b": 0.3}))
    la, lb = losses(t1, a1, b1)
    (la + lb).backward()
    opt1.step()
    t2, a2, b2 = build()
    opt2 = torch.optim.SGD([*t2.parameters(), *a2.parameters(), *b2.parameters()], lr=0.1)
    la, lb = losses(t2, a2, b2)
    lc.FixedWeighting([1.0, 3.0])([la, lb]).backward()
    opt2.step()
    torch.testing.assert_close(b1.weight, b2.weight)
    torch.testing.assert_close(a1.weight, a2.weight)
    assert not torch.allclose(t1.weight, t2.weight)


def test_stop_gradient_and_cascade():
    x = torch.randn(5, 3)
    for detach in (True, False):
        torch.manual_seed(0)
        cascade = lc.Cascade(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1), detach=detach)
        a, b = cascade(x)
        b.square().mean().backward()
        reached = cascade.first.weight.grad is not None and bool(cascade.first.weight.grad.abs().sum() > 0)
        assert reached is (not detach)
        assert cascade.second.weight.grad is not None
    both = lc.Cascade(torch.nn.Linear(3, 2), torch.nn.Bilinear(2, 3, 1), with_input=True)
    a, b = both(x)
    assert a.shape == (5, 2) and b.shape == (5, 1)
    t = torch.ones(2, requires_grad=True)
    assert not lc.stop_gradient(t * 2).requires_grad and lc.stop_gradient(t * 2, enabled=False).requires_grad
    with pytest.raises(TypeError, match="first must be a torch.nn.Module, got function"):
        lc.Cascade(lambda v: v, torch.nn.Linear(2, 1))


# ------------------------------------------------------------------ PCGrad under DDP (2 CPU processes)
DDP_ORDER = [[1, 2], [2, 0], [0, 1]]


def _ddp_data():
    g = torch.Generator().manual_seed(5)
    return torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g)


def _ddp_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))


def _pcgrad_steps(model, batches, pcgrad, wrapped=None):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for x, y in batches:
        optimizer.zero_grad()
        if wrapped is None:
            out = model(x)
        else:
            with wrapped.no_sync():  # the reducer must not wait for an ordinary backward
                out = wrapped(x)
        losses = [(out[:, i] - y[:, i]).square().mean() for i in range(3)]
        pcgrad.backward(losses, model.parameters(), order=torch.tensor(DDP_ORDER))
        optimizer.step()
    return [p.detach().flatten().tolist() for p in model.parameters()]


def _ddp_epoch_losses(epoch, rank, k):
    return [torch.tensor(v) for v in ((3.0 - epoch) * (1 + rank + k), 2.0 / (epoch + 1) + k, 1.0 + rank)]


def _gradnorm_steps(model, batches, gradnorm):
    grads = []
    for x, y in batches:
        out = model(x)
        gradnorm.raw_weights.grad = None
        gradnorm([(out[:, i] - y[:, i]).square().mean() * 10**i for i in range(3)], model[2].weight)
        grads.append(gradnorm.raw_weights.grad.tolist())
        with torch.no_grad():
            gradnorm.raw_weights.sub_(0.01 * gradnorm.raw_weights.grad)
    return grads


def _ddp_worker(rank, world, port, queue):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        x, y = _ddp_data()
        half = slice(rank * 4, rank * 4 + 4)
        model = _ddp_model()
        wrapped = torch.nn.parallel.DistributedDataParallel(model)
        params = _pcgrad_steps(model, [(x[half], y[half])] * 2, lc.PCGrad(3, all_reduce=True), wrapped)
        dwa = lc.DynamicWeightAverage(3, all_reduce=True)
        for epoch in range(3):
            for k in range(2 + rank):  # unequal step counts: the average is over all steps of all processes
                dwa(_ddp_epoch_losses(epoch, rank, k))
            dwa.end_epoch()
        gradnorm_grads = _gradnorm_steps(model, [(x[half], y[half])] * 2, lc.GradNorm(3, all_reduce=True))
        queue.put((rank, (params, dwa.weights.tolist(), gradnorm_grads)))
    finally:
        dist.destroy_process_group()


def test_pcgrad_all_reduce_under_ddp_equals_single_process_pcgrad():
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.start_processes(_ddp_worker, args=(2, port, queue), nprocs=2, join=True, start_method="spawn")
    results = dict(queue.get() for _ in range(2))
    x, y = _ddp_data()
    model = _ddp_model()
    expected = _pcgrad_steps(model, [(x, y)] * 2, lc.PCGrad(3))
    for rank in (0, 1):
        for got, want in zip(results[rank][0], expected):
            torch.testing.assert_close(torch.tensor(got), torch.tensor(want), rtol=1e-5, atol=1e-6)
    # DWA: the weights of one process that saw every step of both
    dwa = lc.DynamicWeightAverage(3)
    for epoch in range(3):
        sums = [sum(float(v) for v in vals) for vals in zip(*[_ddp_epoch_losses(epoch, r, k) for r in (0, 1) for k in range(2 + r)])]
        dwa(torch.tensor(sums) / 5)  # the mean over the 5 steps, recorded once
        dwa.end_epoch()
    for rank in (0, 1):
        torch.testing.assert_close(torch.tensor(results[rank][1]), dwa.weights, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(dwa.weights, torch.ones(3))
    # GradNorm: the weight gradients of one process on the global batch (same model after PCGrad's steps)
    want = _gradnorm_steps(model, [(x, y)] * 2, lc.GradNorm(3))
    for rank in (0, 1):
        torch.testing.assert_close(torch.tensor(results[rank][2]), torch.tensor(want), rtol=1e-4, atol=1e-6)
    # without the all-reduce, each process projects its own gradients: a different step
    local = _pcgrad_steps(_ddp_model(), [(x[:4], y[:4])] * 2, lc.PCGrad(3))
    assert not torch.allclose(torch.tensor(local[0]), torch.tensor(expected[0]))


def test_losses_on_another_device_than_the_state_are_refused():
    weighting = lc.UncertaintyWeighting(2).to(torch.device("meta"))
    with pytest.raises(ValueError, match=r"all tensors must be on one device, got losses on cpu, the state of UncertaintyWeighting \(move it with .to\) on meta"):
        weighting(_losses((1.0, 2.0)))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.lists(st.floats(-10.0, 10.0), min_size=4, max_size=4), min_size=2, max_size=2),
    scale=st.floats(1e-3, 1e4),
)
def test_pcgrad_two_tasks_property(rows, scale):
    g = torch.tensor(rows, dtype=torch.float64)
    p = lc.project_conflicting(g)
    if float(g[0] @ g[1]) < 0:
        assert abs(float(p[0] @ g[1])) <= 1e-9 * (1 + float(g[0].norm() * g[1].norm()))
        assert abs(float(p[1] @ g[0])) <= 1e-9 * (1 + float(g[0].norm() * g[1].norm()))
    else:
        torch.testing.assert_close(p, g, rtol=0, atol=0)
    # a common positive scale (a GradScaler's) commutes with the projection
    torch.testing.assert_close(lc.project_conflicting(scale * g), scale * p, rtol=1e-9, atol=1e-9 * scale)


def test_gradnorm_with_grad_scaler_and_its_own_optimizer():
    # the documented recipe: unscaled losses in, scaled total backward, the weights stepped outside the scaler
    torch.manual_seed(0)
    trunk, head = torch.nn.Linear(4, 8), torch.nn.Linear(8, 2)
    x, y = torch.randn(16, 4), torch.randn(16, 2)

    def run(scale):
        t, h = torch.nn.Linear(4, 8), torch.nn.Linear(8, 2)
        t.load_state_dict(trunk.state_dict())
        h.load_state_dict(head.state_dict())
        gradnorm = lc.GradNorm(2, alpha=1.0)
        net_opt = torch.optim.SGD([*t.parameters(), *h.parameters()], lr=0.01)
        w_opt = torch.optim.SGD(gradnorm.parameters(), lr=0.01)
        scaler = torch.amp.GradScaler("cpu", init_scale=scale, enabled=scale != 1.0)
        for _ in range(3):
            net_opt.zero_grad()
            w_opt.zero_grad()
            out = h(torch.tanh(t(x)))
            losses = [(out[:, 0] - y[:, 0]).square().mean(), 5 * (out[:, 1] - y[:, 1]).square().mean()]
            scaler.scale(gradnorm(losses, t.weight)).backward()
            scaler.step(net_opt)
            scaler.update()
            w_opt.step()
        return gradnorm.weights, t.weight.detach()

    w1, t1 = run(1.0)
    w2, t2 = run(2.0**12)
    torch.testing.assert_close(w2, w1)
    torch.testing.assert_close(t2, t1)
    assert not torch.allclose(w1, torch.ones(2))

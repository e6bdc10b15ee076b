"""Tests of losscookbook.smoothing: label smoothing (multi-class and binary) and distillation."""

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

K = 5


def _batch(shape=(8, K), device="cpu", dtype=torch.float32, ignore=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(shape, generator=g) * 3).to(device=device, dtype=dtype)
    target_shape = (shape[0], *shape[2:])
    target = torch.randint(0, shape[1], target_shape, generator=g)
    if ignore is not None:
        target[torch.rand(target_shape, generator=g) < 0.3] = ignore
    return logits, target.to(device)


# ------------------------------------------------------------------ float64 references (from the formulas)
def ref_smoothed_ce(logits, target, eps, weight=None, ignore_index=-100, reduction="mean"):
    """Loop over samples: (1-eps) w_y (-log p_y) + eps/K sum_k w_k (-log p_k); mean / sum w_y."""
    x = logits.double().movedim(1, -1).reshape(-1, logits.shape[1])
    t = target.reshape(-1)
    k = x.shape[1]
    w = torch.ones(k, dtype=torch.float64) if weight is None else weight.double().cpu()
    losses, denom = [], 0.0
    for row, y in zip(x.cpu(), t.cpu().tolist()):
        if y == ignore_index:
            losses.append(0.0)
            continue
        logp = row - torch.logsumexp(row, 0)
        value = (1 - eps) * w[y] * -logp[y] + eps / k * sum(w[c] * -logp[c] for c in range(k))
        losses.append(float(value))
        denom += float(w[y])
    out = torch.tensor(losses, dtype=torch.float64).reshape(target.shape)
    if reduction == "none":
        return out
    if reduction == "sum":
        return out.sum()
    return out.sum() / denom if denom else torch.tensor(0.0, dtype=torch.float64)


def ref_kd(s, t, T):
    q = torch.softmax(t.double() / T, 1)
    log_p = torch.log_softmax(s.double() / T, 1)
    return T * T * (q * (q.log() - log_p)).sum(1)


# ------------------------------------------------------------------ smooth_labels
def test_smooth_labels_formula_and_normalization():
    t = torch.tensor([0, 3, 1])
    q = lc.smooth_labels(t, 4, 0.2)
    expected = torch.full((3, 4), 0.05)
    expected[torch.arange(3), t] = 0.85
    torch.testing.assert_close(q, expected)
    torch.testing.assert_close(q.sum(1), torch.ones(3))


def test_smooth_labels_class_dimension_is_one_for_dense_targets():
    t = torch.randint(0, 3, (2, 4, 5))
    q = lc.smooth_labels(t, 3, 0.1)
    assert q.shape == (2, 3, 4, 5)
    torch.testing.assert_close(q.argmax(1), t)


def test_smooth_labels_of_a_distribution():
    p = torch.tensor([[0.5, 0.5, 0.0]])
    torch.testing.assert_close(lc.smooth_labels(p, 3, 0.3), torch.tensor([[0.45, 0.45, 0.1]]))


def test_binary_smoothing_is_two_class_smoothing():
    # y(1-eps) + eps/2 is the positive-class entry of smooth_labels with two classes
    y = torch.tensor([1, 0])
    two_class = lc.smooth_labels(y, 2, 0.2)[:, 1]
    torch.testing.assert_close(two_class, torch.tensor([0.9, 0.1]))


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((torch.tensor([0, 3]), 3, 0.1), ValueError, r"target values must be in \[0, 2\], got 3"),
        ((torch.tensor([0, 1]), 3, 1.0), ValueError, r"smoothing must be in \[0.0, 1.0\), got 1.0"),
        ((torch.tensor([0, 1]), 0, 0.1), ValueError, r"num_classes must be an integer in \[1, inf\], got 0"),
        ((torch.tensor([[0.5, 0.5]]), 3, 0.1), ValueError, r"num_classes=3 entries along dimension 1"),
        (([0, 1], 3, 0.1), TypeError, r"target must be a torch.Tensor, got list"),
    ],
)
def test_smooth_labels_rejects(args, error, message):
    with pytest.raises(error, match=message):
        lc.smooth_labels(*args)


# ------------------------------------------------------------------ label_smoothing_cross_entropy vs torch
WEIGHTS = [None, "w"]
IGNORES = [False, True]
REDUCTIONS = ["none", "mean", "sum"]
SHAPES = [(16, K), (4, K, 3, 2)]


@pytest.mark.parametrize(
    "weighted, ignored, reduction, shape, eps",
    list(itertools.product(WEIGHTS, IGNORES, REDUCTIONS, SHAPES, [0.0, 0.1, 0.6])),
)
def test_equals_torch_cross_entropy(device, weighted, ignored, reduction, shape, eps):
    ignore_index = 2 if ignored else -100  # a valid class id used as ignore_index: the hard case
    logits, target = _batch(shape, device, ignore=None)
    if ignored:
        target.view(-1)[::3] = ignore_index
    weight = torch.rand(K, device=device) + 0.1 if weighted else None
    ours = lc.label_smoothing_cross_entropy(
        logits, target, smoothing=eps, weight=weight, ignore_index=ignore_index, reduction=reduction
    )
    theirs = F.cross_entropy(
        logits, target, weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=eps
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    reference = ref_smoothed_ce(logits, target, eps, weight, ignore_index, reduction)
    torch.testing.assert_close(ours.double().cpu(), reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_probability_targets_equal_torch(device, weighted, reduction):
    logits, _ = _batch((6, K, 3), device)
    target = torch.softmax(torch.randn(6, K, 3, device=device), 1)
    weight = torch.rand(K, device=device) if weighted else None
    ours = lc.label_smoothing_cross_entropy(logits, target, smoothing=0.2, weight=weight, reduction=reduction)
    theirs = F.cross_entropy(logits, target, weight=weight, reduction=reduction, label_smoothing=0.2)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


def test_index_and_one_hot_targets_agree_without_weights():
    logits, target = _batch((10, K))
    one_hot = F.one_hot(target, K).float()
    torch.testing.assert_close(
        lc.label_smoothing_cross_entropy(logits, target, smoothing=0.3),
        lc.label_smoothing_cross_entropy(logits, one_hot, smoothing=0.3),
    )


def test_zero_smoothing_is_cross_entropy_including_gradients():
    logits, target = _batch((12, K))
    a = logits.clone().requires_grad_(True)
    b = logits.clone().requires_grad_(True)
    lc.label_smoothing_cross_entropy(a, target, smoothing=0.0).backward()
    F.cross_entropy(b, target).backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-7)


def test_reductions_consistent_and_rejected():
    logits, target = _batch()
    assert_reductions_consistent(lc.label_smoothing_cross_entropy, logits, target, smoothing=0.2)
    assert_rejects_reduction(lc.label_smoothing_cross_entropy, logits, target)


def test_gradcheck_weight_ignore_smoothing():
    logits, target = _batch((6, 4, 2), dtype=torch.float64, ignore=-1)
    weight = torch.rand(4, dtype=torch.float64) + 0.5
    x = logits.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda z: lc.label_smoothing_cross_entropy(z, target, smoothing=0.3, weight=weight, ignore_index=-1), (x,)
    )


def test_gradcheck_probability_targets():
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    q = torch.softmax(torch.randn(5, 4, dtype=torch.float64), 1)
    assert torch.autograd.gradcheck(lambda z: lc.label_smoothing_cross_entropy(z, q, smoothing=0.1), (x,))


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_saturated_logits_are_finite_and_exact(device, scale):
    logits = torch.zeros(4, K, device=device)
    logits[:, 0] = scale
    target = torch.tensor([0, 1, 2, 0], device=device)
    grad = assert_finite_with_grad(lc.label_smoothing_cross_entropy, logits, target, smoothing=0.1)
    assert grad.abs().max() <= 1.0
    expected = ref_smoothed_ce(logits, target, 0.1)
    torch.testing.assert_close(
        lc.label_smoothing_cross_entropy(logits, target, smoothing=0.1).double().cpu(), expected, rtol=1e-6, atol=1e-3
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs(device, dtype):
    logits, target = _batch((8, K), device)
    assert_half_precision(lc.label_smoothing_cross_entropy, logits * 10, target, dtype, smoothing=0.1)


def test_autocast_cpu_bfloat16():
    logits, target = _batch()
    assert_autocast_bfloat16(lc.label_smoothing_cross_entropy, logits, target, K)


@pytest.mark.parametrize("weighted", [False, True])
def test_empty_and_fully_ignored_batches_give_zero(device, weighted):
    weight = torch.rand(K, device=device) if weighted else None
    empty = torch.zeros(0, K, device=device)
    assert_empty_is_zero(
        lc.label_smoothing_cross_entropy, empty, torch.zeros(0, dtype=torch.long, device=device), weight=weight
    )
    logits, _ = _batch((6, K), device)
    ignored = torch.full((6,), -100, device=device)
    assert_empty_is_zero(lc.label_smoothing_cross_entropy, logits, ignored, weight=weight)
    # torch itself returns NaN here, which is what we guard against
    assert torch.isnan(F.cross_entropy(logits, ignored, label_smoothing=0.1))


def test_zero_weight_classes_give_zero_not_nan():
    logits, target = _batch()
    weight = torch.zeros(K)
    assert_empty_is_zero(lc.label_smoothing_cross_entropy, logits, target, weight=weight)


def test_module_equals_function_and_state_dict_round_trip():
    logits, target = _batch(ignore=-100)
    weight = torch.rand(K)
    module = lc.LabelSmoothingCrossEntropy(smoothing=0.2, weight=weight, reduction="sum")
    assert_module_matches(module, lc.label_smoothing_cross_entropy, logits, target, smoothing=0.2, weight=weight, reduction="sum")
    clone = lc.LabelSmoothingCrossEntropy(smoothing=0.2, weight=torch.ones(K), reduction="sum")
    clone.load_state_dict(module.state_dict())
    torch.testing.assert_close(clone(logits, target), module(logits, target))
    assert "weight" in module.state_dict()
    assert "smoothing=0.2" in repr(module)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(smoothing=1.0), ValueError, r"smoothing must be in \[0.0, 1.0\), got 1.0"),
        (dict(smoothing=-0.1), ValueError, r"smoothing must be in \[0.0, 1.0\), got -0.1"),
        (dict(smoothing="0.1"), TypeError, r"smoothing must be a real number, got str"),
        (dict(weight=torch.ones(3)), ValueError, r"weight must have shape \(C,\) = \(5,\), got \(3,\)"),
        (dict(weight=-torch.ones(K)), ValueError, r"weight values must be in \[0.0, inf\], got -1.0"),
        (dict(weight=torch.ones(K, dtype=torch.long)), TypeError, r"weight must be a floating-point tensor"),
    ],
)
def test_bad_hyperparameters(kwargs, error, message):
    logits, target = _batch()
    with pytest.raises(error, match=message):
        lc.label_smoothing_cross_entropy(logits, target, **kwargs)


@pytest.mark.parametrize(
    "logits, target, error, message",
    [
        (torch.zeros(4, K), torch.zeros(5, dtype=torch.long), ValueError,
         r"target of class indices must have shape \(N, d1, ...\) = \(4,\) for input \(4, 5\), got \(5,\)"),
        (torch.zeros(4, K), torch.tensor([0, 1, 5, 0]), ValueError,
         r"target class indices must be in \[0, 4\] or ignore_index=-100, got 5"),
        (torch.zeros(4, K), torch.tensor([0, 1, -3, 0]), ValueError, r"got -3"),
        (torch.zeros(4, K), torch.zeros(4, dtype=torch.bool), TypeError, r"target must hold class indices"),
        (torch.zeros(4, K), torch.zeros(4, 3), ValueError,
         r"target must have the same shape as input, expected \(4, 5\), got \(4, 3\)"),
        (torch.zeros(K), torch.tensor(1), ValueError, r"input must have shape \(N, C\) or \(N, C, d1, ...\), got \(5,\)"),
        (torch.zeros(4, K, dtype=torch.long), torch.zeros(4, dtype=torch.long), TypeError,
         r"input must be a floating-point tensor, got dtype torch.int64"),
    ],
)
def test_bad_inputs(logits, target, error, message):
    with pytest.raises(error, match=message):
        lc.label_smoothing_cross_entropy(logits, target)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 6),
    k=st.integers(2, 6),
    eps=st.floats(0.0, 0.95),
    shift=st.floats(-50, 50),
    seed=st.integers(0, 2**16),
)
def test_property_shift_invariance_and_soft_target_identity(n, k, eps, shift, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, k, generator=g, dtype=torch.float64) * 4
    t = torch.randint(0, k, (n,), generator=g)
    loss = lc.label_smoothing_cross_entropy(x, t, smoothing=eps, reduction="none")
    # softmax is shift invariant, so is the loss
    torch.testing.assert_close(loss, lc.label_smoothing_cross_entropy(x + shift, t, smoothing=eps, reduction="none"))
    # it is the cross-entropy against the smoothed distribution
    q = lc.smooth_labels(t, k, eps).double()
    torch.testing.assert_close(loss, -(q * torch.log_softmax(x, 1)).sum(1))
    # and it is bounded below by the entropy of that distribution (Gibbs' inequality)
    entropy = -(q * q.clamp_min(1e-300).log()).sum(1)
    assert (loss >= entropy - 1e-9).all()


# ------------------------------------------------------------------ binary_cross_entropy_with_smoothing
def test_binary_smoothing_turns_hard_targets_into_09_01():
    x = torch.randn(10)
    y = (torch.rand(10) > 0.5).float()
    ours = lc.binary_cross_entropy_with_smoothing(x, y, smoothing=0.2, reduction="none")
    soft = torch.where(y == 1, torch.tensor(0.9), torch.tensor(0.1))
    p = torch.sigmoid(x.double())
    reference = -(soft * p.log() + (1 - soft) * (1 - p).log())
    torch.testing.assert_close(ours.double(), reference, rtol=1e-6, atol=1e-6)


def test_binary_smoothing_with_pos_weight_matches_torch(device):
    x = torch.randn(8, 3, device=device)
    y = (torch.rand(8, 3, device=device) > 0.5).float()
    pw = torch.tensor([1.0, 2.0, 5.0], device=device)
    ours = lc.binary_cross_entropy_with_smoothing(x, y, smoothing=0.1, pos_weight=pw, reduction="sum")
    theirs = F.binary_cross_entropy_with_logits(x, y * 0.9 + 0.05, pos_weight=pw, reduction="sum")
    torch.testing.assert_close(ours, theirs)


def test_binary_zero_smoothing_is_bce_including_gradients():
    x = torch.randn(20) * 5
    y = (torch.rand(20) > 0.5).float()
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    lc.binary_cross_entropy_with_smoothing(a, y, smoothing=0.0).backward()
    F.binary_cross_entropy_with_logits(b, y).backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-7)


def test_binary_smoothing_contract(device):
    x = torch.tensor([1e4, -1e4, 1e4, -1e4], device=device)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0], device=device)
    grad = assert_finite_with_grad(lc.binary_cross_entropy_with_smoothing, x, y, smoothing=0.1)
    # at saturation the gradient is sigma(x) - y' = +-(1 - 0.05) or +-0.05
    torch.testing.assert_close(grad * 4, torch.tensor([0.05, -0.05, 0.95, -0.95], device=device))
    assert_reductions_consistent(lc.binary_cross_entropy_with_smoothing, x, y)
    assert_rejects_reduction(lc.binary_cross_entropy_with_smoothing, x, y)
    assert_empty_is_zero(lc.binary_cross_entropy_with_smoothing, x[:0], y[:0])
    for dtype in (torch.float16, torch.bfloat16):
        assert_half_precision(lc.binary_cross_entropy_with_smoothing, torch.randn(6, device=device), y[:2].repeat(3), dtype)
    xx = torch.randn(5, dtype=torch.float64, requires_grad=True)
    yy = torch.rand(5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: lc.binary_cross_entropy_with_smoothing(z, yy, smoothing=0.3), (xx,))
    module = lc.BinaryCrossEntropyWithSmoothing(smoothing=0.3, pos_weight=torch.tensor(2.0, device=device))
    assert_module_matches(module, lc.binary_cross_entropy_with_smoothing, x, y, smoothing=0.3, pos_weight=torch.tensor(2.0, device=device))
    assert "pos_weight" in module.state_dict()


@pytest.mark.parametrize(
    "x, y, kwargs, error, message",
    [
        (torch.zeros(3), torch.zeros(4), {}, ValueError, r"target must have the same shape as input, expected \(3,\), got \(4,\)"),
        (torch.zeros(3), torch.tensor([0.0, 1.0, 2.0]), {}, ValueError, r"target values must be in \[0.0, 1.0\], got 2.0"),
        (torch.zeros(3), torch.tensor([0, 1, 1]), {}, TypeError, r"target must be a floating-point tensor, got dtype torch.int64"),
        (torch.zeros(4, 3), torch.zeros(4, 3), dict(pos_weight=torch.ones(2)), ValueError,
         r"pos_weight must broadcast to the shape of input \(4, 3\), got \(2,\)"),
        (torch.zeros(3), torch.zeros(3), dict(smoothing=1.5), ValueError, r"smoothing must be in \[0.0, 1.0\), got 1.5"),
    ],
)
def test_binary_smoothing_rejects(x, y, kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.binary_cross_entropy_with_smoothing(x, y, **kwargs)


# ------------------------------------------------------------------ distillation
@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 20.0])
def test_distillation_equals_reference_and_torch_batchmean(device, T):
    s, t = torch.randn(7, K, device=device) * 3, torch.randn(7, K, device=device) * 3
    ours = lc.distillation_loss(s, t, temperature=T)
    torch.testing.assert_close(ours.double().cpu(), ref_kd(s.cpu(), t.cpu(), T).mean(), rtol=1e-5, atol=1e-6)
    theirs = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean") * T * T
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    none = lc.distillation_loss(s, t, temperature=T, reduction="none")
    assert none.shape == (7,)
    torch.testing.assert_close(lc.distillation_loss(s, t, temperature=T, reduction="sum"), none.sum())


def test_distillation_dense_inputs_average_over_all_distributions():
    s, t = torch.randn(2, K, 3, 4), torch.randn(2, K, 3, 4)
    flat = lambda z: z.movedim(1, -1).reshape(-1, K)  # noqa: E731
    torch.testing.assert_close(lc.distillation_loss(s, t), lc.distillation_loss(flat(s), flat(t)))
    assert lc.distillation_loss(s, t, reduction="none").shape == (2, 3, 4)


def test_distillation_with_hard_labels():
    s, t = torch.randn(6, K), torch.randn(6, K)
    y = torch.randint(0, K, (6,))
    mixed = lc.distillation_loss(s, t, temperature=3.0, target=y, hard_weight=0.25)
    expected = 0.75 * lc.distillation_loss(s, t, temperature=3.0) + 0.25 * F.cross_entropy(s, y)
    torch.testing.assert_close(mixed, expected)
    pure_hard = lc.distillation_loss(s, t, temperature=3.0, target=y, hard_weight=1.0)
    torch.testing.assert_close(pure_hard, F.cross_entropy(s, y))


def test_distillation_t_squared_keeps_gradient_scale():
    # Hinton et al.: soft-target gradients scale as 1/T^2, so T^2 * KL keeps their size.
    # In the high-temperature limit the gradient of T^2 KL w.r.t. s is (s - t)/K (zero-mean logits).
    s, t = torch.randn(64, 10) * 0.5, torch.randn(64, 10) * 0.5
    norms = []
    for T in (1.0, 2.0, 5.0, 10.0, 20.0):
        x = s.clone().requires_grad_(True)
        lc.distillation_loss(x, t, temperature=T).backward()
        norms.append(x.grad.norm().item())
    assert max(norms) / min(norms) < 1.25, norms
    unscaled = [n / T**2 for n, T in zip(norms, (1.0, 2.0, 5.0, 10.0, 20.0))]
    assert unscaled[0] / unscaled[-1] > 100  # without the factor the gradient would vanish


def test_distillation_saturated_teacher_and_student(device):
    s = torch.tensor([[1e4, -1e4, 0.0]], device=device)
    t = torch.tensor([[-1e4, 1e4, 0.0]], device=device)
    assert_finite_with_grad(lc.distillation_loss, s, t, temperature=1.0)


def test_distillation_gradcheck_and_half_precision():
    s = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.randn(4, 3, dtype=torch.float64)
    y = torch.randint(0, 3, (4,))
    assert torch.autograd.gradcheck(lambda z: lc.distillation_loss(z, t, temperature=2.0, target=y), (s,))
    for dtype in (torch.float16, torch.bfloat16):
        assert_half_precision(lambda a, b, **kw: lc.distillation_loss(a, b, temperature=2.0, **kw), torch.randn(4, 3), torch.randn(4, 3), dtype)


def test_distillation_empty_batch_is_zero():
    def batchmean(a, b, reduction):
        assert reduction == "mean"
        return lc.distillation_loss(a, b, reduction="batchmean")

    assert_empty_is_zero(batchmean, torch.zeros(0, 3), torch.zeros(0, 3))


def test_distillation_module_matches_function():
    s, t = torch.randn(5, K), torch.randn(5, K)
    y = torch.randint(0, K, (5,))
    module = lc.DistillationLoss(temperature=3.0, hard_weight=0.2)
    torch.testing.assert_close(module(s, t, y), lc.distillation_loss(s, t, temperature=3.0, target=y, hard_weight=0.2))
    torch.testing.assert_close(module(s, t), lc.distillation_loss(s, t, temperature=3.0))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(reduction="mean"), ValueError, r"got 'mean': averaging over the classes too shrinks the KL term by 1/C"),
        (dict(reduction="avg"), ValueError, r"reduction must be one of \('none', 'batchmean', 'sum'\), got 'avg'"),
        (dict(temperature=0.0), ValueError, r"temperature must be in \(0.0, inf\], got 0.0"),
        (dict(temperature=math.inf), ValueError, r"temperature must be in \(0.0, inf\], got inf"),
        (dict(target=torch.zeros(4, dtype=torch.long), hard_weight=1.5), ValueError, r"hard_weight must be in \[0.0, 1.0\], got 1.5"),
        (dict(target=torch.zeros(3, dtype=torch.long)), ValueError, r"target of class indices must have shape"),
    ],
)
def test_distillation_rejects(kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.distillation_loss(torch.zeros(4, K), torch.zeros(4, K), **kwargs)
    if set(kwargs) <= {"reduction", "temperature"}:
        with pytest.raises(error, match=message):
            lc.DistillationLoss(**kwargs)


def test_distillation_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"teacher_logits must have the same shape as student_logits, expected \(4, 5\), got \(4, 6\)"):
        lc.distillation_loss(torch.zeros(4, K), torch.zeros(4, 6))

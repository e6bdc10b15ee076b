"""Tests of losscookbook.classic (and the signed binary data generator)."""

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


def _binary(shape=(12,), device="cpu", dtype=torch.float32, scale=2.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    f = (torch.randn(shape, generator=g) * scale).to(device=device, dtype=dtype)
    y = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0).to(device)
    return f, y


def _reduce(values, reduction):
    if reduction == "none":
        return values
    return values.sum() if reduction == "sum" else values.mean()


# ------------------------------------------------------------------ float64 references, from the formulas
def ref_binary(fn, f, y, reduction):
    values = torch.tensor([fn(float(a) * float(b)) for a, b in zip(f.flatten().cpu(), y.flatten().cpu())], dtype=torch.float64)
    return _reduce(values.reshape(f.shape), reduction)


def ref_hinge(m, margin=1.0, squared=False):
    h = max(0.0, margin - m)
    return h * h if squared else h


def ref_logistic(m):
    return math.log1p(math.exp(-m)) if m > -30 else -m + math.log1p(math.exp(m))


def ref_multiclass(x, t, margin, variant, squared):
    x = x.double().cpu()
    out = []
    for row, y in zip(x, t.tolist()):
        if variant == "weston_watkins":
            terms = [max(0.0, margin - float(row[y]) + float(row[j])) for j in range(len(row)) if j != y]
            out.append(sum(h * h if squared else h for h in terms))
        else:
            rival = max(float(row[j]) for j in range(len(row)) if j != y)
            h = max(0.0, margin - float(row[y]) + rival)
            out.append(h * h if squared else h)
    return torch.tensor(out, dtype=torch.float64)


# ------------------------------------------------------------------ hinge
@pytest.mark.parametrize("reduction, margin, squared", list(itertools.product(REDUCTIONS, [0.0, 1.0, 2.5], [False, True])))
def test_hinge_equals_formula(device, reduction, margin, squared):
    f, y = _binary((4, 5), device)
    ours = lc.hinge_loss(f, y, margin=margin, squared=squared, reduction=reduction)
    expected = ref_binary(lambda m: ref_hinge(m, margin, squared), f, y, reduction)
    torch.testing.assert_close(ours.double().cpu(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reduction, margin", list(itertools.product(REDUCTIONS, [0.5, 1.0, 2.0])))
def test_hinge_equals_torch_hinge_embedding_and_two_class_multi_margin(device, reduction, margin):
    f, y = _binary((16,), device)
    ours = lc.hinge_loss(f, y, margin=margin, reduction=reduction)
    # hinge_embedding_loss with target -1 is max(0, margin - input): feed it the margins y f
    theirs = F.hinge_embedding_loss(y * f, -torch.ones_like(y), margin=margin, reduction=reduction)
    torch.testing.assert_close(ours, theirs)
    # two classes with scores (-f/2, f/2): multi_margin_loss is half the binary hinge
    scores = torch.stack([-f / 2, f / 2], dim=1)
    cls = ((y + 1) / 2).long()
    torch.testing.assert_close(ours, 2 * F.multi_margin_loss(scores, cls, margin=margin, reduction=reduction))


def test_binary_labels_equal_signed_labels():
    f, y = _binary((20,))
    t01 = ((y + 1) / 2).long()
    for fn in (lc.hinge_loss, lc.logistic_loss, lc.exponential_loss):
        torch.testing.assert_close(fn(f, t01, labels="binary", reduction="none"), fn(f, y, reduction="none"))
        torch.testing.assert_close(fn(f, y.long(), reduction="none"), fn(f, y, reduction="none"))
        torch.testing.assert_close(fn(f, t01.bool(), labels="binary", reduction="none"), fn(f, y, reduction="none"))


def test_hinge_gradient_is_zero_beyond_the_margin():
    f = torch.tensor([2.0, 1.5, 0.5, -1.0], requires_grad=True)
    y = torch.ones(4)
    lc.hinge_loss(f, y, reduction="sum").backward()
    torch.testing.assert_close(f.grad, torch.tensor([0.0, 0.0, -1.0, -1.0]))
    g = f.detach().clone().requires_grad_(True)
    lc.hinge_loss(g, y, squared=True, reduction="sum").backward()
    torch.testing.assert_close(g.grad, torch.tensor([0.0, 0.0, -1.0, -4.0]))


# ------------------------------------------------------------------ logistic
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_logistic_equals_torch_and_formula(device, reduction):
    f, y = _binary((3, 7), device, scale=5.0)
    ours = lc.logistic_loss(f, y, reduction=reduction)
    torch.testing.assert_close(ours, F.soft_margin_loss(f, y, reduction=reduction))
    torch.testing.assert_close(ours, F.binary_cross_entropy_with_logits(f, (y + 1) / 2, reduction=reduction))
    torch.testing.assert_close(ours.double().cpu(), ref_binary(ref_logistic, f, y, reduction), rtol=1e-6, atol=1e-6)


def test_logistic_is_exact_in_float64_where_softplus_thresholds():
    # F.softplus switches to the identity beyond 20; logaddexp stays exact
    f = torch.tensor([-25.0, -21.0, 21.0, 40.0, 700.0], dtype=torch.float64)
    y = torch.ones(5, dtype=torch.float64)
    expected = torch.tensor([ref_logistic(float(m)) for m in f], dtype=torch.float64)
    torch.testing.assert_close(lc.logistic_loss(f, y, reduction="none"), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_logistic_saturated(device, scale):
    f = torch.full((4,), scale, device=device)
    y = torch.tensor([1.0, -1.0, 1.0, -1.0], device=device)
    grad = assert_finite_with_grad(lc.logistic_loss, f, y, reduction="sum")
    # gradient -y sigma(-y f): 0 for the right side, -y for the wrong one
    expected = torch.where(y * scale > 0, torch.zeros_like(y), -y)
    torch.testing.assert_close(grad, expected)
    torch.testing.assert_close(lc.logistic_loss(f, y, reduction="none"), torch.relu(-y * f))


# ------------------------------------------------------------------ exponential
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_exponential_equals_formula(device, reduction):
    f, y = _binary((4, 6), device, scale=3.0)
    ours = lc.exponential_loss(f, y, reduction=reduction)
    torch.testing.assert_close(ours.double().cpu(), ref_binary(lambda m: math.exp(-m), f, y, reduction), rtol=1e-5, atol=1e-6)


def test_exponential_tangent_extension_beyond_max_exponent():
    a = 5.0
    z = torch.tensor([-3.0, 4.9, 5.0, 5.1, 30.0], dtype=torch.float64)
    f, y = -z, torch.ones(5, dtype=torch.float64)
    loss = lc.exponential_loss(f, y, max_exponent=a, reduction="none")
    expected = torch.tensor([math.exp(v) if v <= a else math.exp(a) * (1 + v - a) for v in z.tolist()], dtype=torch.float64)
    torch.testing.assert_close(loss, expected, rtol=1e-14, atol=0)
    # value and slope are continuous at the join: the slope is e^a on both sides
    for side in (-1e-6, 1e-6):
        x = torch.tensor([-(a + side)], dtype=torch.float64, requires_grad=True)
        lc.exponential_loss(x, torch.ones(1, dtype=torch.float64), max_exponent=a, reduction="sum").backward()
        assert abs(-x.grad.item() - math.exp(a)) < 1e-3 * math.exp(a)
    # without the guard it is the plain exponential
    torch.testing.assert_close(lc.exponential_loss(f, y, max_exponent=None, reduction="none"), z.exp())


def test_exponential_overflow_guard(device):
    f = torch.tensor([-1e4, -100.0, 1e4, 0.0], device=device)
    y = torch.ones(4, device=device)
    grad = assert_finite_with_grad(lc.exponential_loss, f, y, reduction="sum")
    assert (grad[:2] < 0).all() and grad[2] == 0.0  # the worst samples keep a (large) gradient
    # the plain exponential overflows float32 to inf, and its gradient too
    x = f.clone().requires_grad_(True)
    plain = lc.exponential_loss(x, y, max_exponent=None, reduction="sum")
    plain.backward()
    assert torch.isinf(plain) and torch.isinf(x.grad[0])
    # the default guard is exact up to margin -50
    torch.testing.assert_close(
        lc.exponential_loss(torch.tensor([-49.0]), torch.ones(1)), torch.tensor(math.exp(49.0)), rtol=1e-6, atol=0
    )


def test_exponential_minimizer_is_half_the_logit():
    # for P(y = 1) = p the expected loss p e^{-f} + (1 - p) e^{f} is smallest at f = log(p / (1 - p)) / 2
    p = 0.8
    f = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([f], lr=1, max_iter=100, tolerance_grad=1e-14, tolerance_change=1e-16)
    targets = torch.tensor([1.0, -1.0], dtype=torch.float64)
    w = torch.tensor([p, 1 - p], dtype=torch.float64)

    def closure():
        opt.zero_grad()
        loss = lc.exponential_loss(f.expand(2), targets, weight=w, reduction="sum")
        loss.backward()
        return loss

    opt.step(closure)
    assert abs(f.item() - 0.5 * math.log(p / (1 - p))) < 1e-8


# ------------------------------------------------------------------ contract for the binary losses
BINARY = {
    "hinge": (lc.hinge_loss, {}),
    "squared_hinge": (lc.hinge_loss, {"squared": True, "margin": 0.5}),
    "logistic": (lc.logistic_loss, {}),
    "exponential": (lc.exponential_loss, {}),
}


@pytest.mark.parametrize("name", BINARY)
def test_binary_contract(device, name):
    fn, kwargs = BINARY[name]
    f, y = _binary((5, 3), device)
    assert_reductions_consistent(fn, f, y, **kwargs)
    assert_rejects_reduction(fn, f, y, **kwargs)
    assert_empty_is_zero(fn, f[:0], y[:0], **kwargs)
    assert_finite_with_grad(fn, f.sign() * 1e4, y, **kwargs)
    for dtype in (torch.float16, torch.bfloat16):
        assert_half_precision(fn, f, y, dtype, **kwargs)
    w = torch.rand(5, 1, device=device)
    none = fn(f, y, reduction="none", **kwargs)
    torch.testing.assert_close(fn(f, y, weight=w, **kwargs), (none * w).sum() / w.expand(5, 3).sum())
    torch.testing.assert_close(fn(f, y, weight=w, reduction="sum", **kwargs), (none * w).sum())
    assert_empty_is_zero(fn, f, y, weight=torch.zeros(5, 3, device=device), **kwargs)


@pytest.mark.parametrize("name", BINARY)
def test_binary_gradcheck(name):
    fn, kwargs = BINARY[name]
    f = torch.tensor([2.1, -1.7, 0.33, -0.21, 3.4, 0.05], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 1.0, -1.0, 1.0, -1.0, -1.0], dtype=torch.float64)
    w = torch.rand(6, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: fn(z, y, weight=w, **kwargs), (f,))


def test_binary_modules_equal_functions():
    f, y = _binary((9,))
    w = torch.rand(9)
    pairs = [
        (lc.HingeLoss(margin=0.5, squared=True, reduction="sum"), lc.hinge_loss, dict(margin=0.5, squared=True, reduction="sum")),
        (lc.LogisticLoss(), lc.logistic_loss, {}),
        (lc.ExponentialLoss(max_exponent=3.0, reduction="none"), lc.exponential_loss, dict(max_exponent=3.0, reduction="none")),
    ]
    for module, fn, kwargs in pairs:
        assert_module_matches(module, fn, f, y, **kwargs)
        torch.testing.assert_close(module(f, y, w), fn(f, y, weight=w, **kwargs), rtol=0, atol=0)
    t01 = ((y + 1) / 2)
    torch.testing.assert_close(lc.HingeLoss(labels="binary")(f, t01), lc.hinge_loss(f, y))
    assert "labels='signed'" in repr(pairs[1][0]) and "max_exponent=3.0" in repr(pairs[2][0])


@pytest.mark.parametrize("fn", [lc.hinge_loss, lc.logistic_loss, lc.exponential_loss])
def test_binary_rejects_wrong_label_convention(fn):
    f = torch.zeros(4)
    with pytest.raises(
        ValueError,
        match=r"target values must be one of \(-1, 1\), got 0 \(labels='signed'; pass labels='binary' for 0/1 targets\)",
    ):
        fn(f, torch.tensor([0, 1, 1, 0]))
    with pytest.raises(ValueError, match=r"target values must be one of \(0, 1\), got -1 \(labels='binary'"):
        fn(f, torch.tensor([-1, 1, 1, -1]), labels="binary")
    with pytest.raises(ValueError, match=r"target values must be one of \(-1, 1\), got 0.5"):
        fn(f, torch.tensor([0.5, 1.0, 1.0, -1.0]))
    with pytest.raises(ValueError, match=r"labels must be one of \('signed', 'binary'\), got 'pm1'"):
        fn(f, torch.ones(4), labels="pm1")
    with pytest.raises(ValueError, match=r"target must have the same shape as input, expected \(4,\), got \(4, 1\)"):
        fn(f, torch.ones(4, 1))
    with pytest.raises(TypeError, match=r"input must be a floating-point tensor, got dtype torch.int64"):
        fn(torch.zeros(4, dtype=torch.long), torch.ones(4))
    with pytest.raises(ValueError, match=r"weight must broadcast to the shape of the unreduced loss \(4,\), got \(2,\)"):
        fn(f, torch.ones(4), weight=torch.ones(2))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: lc.hinge_loss(torch.zeros(2), torch.ones(2), margin=-1.0), ValueError, r"margin must be in \[0.0, inf\], got -1.0"),
        (lambda: lc.HingeLoss(margin=-0.5), ValueError, r"margin must be in \[0.0, inf\], got -0.5"),
        (lambda: lc.exponential_loss(torch.zeros(2), torch.ones(2), max_exponent=math.inf), ValueError,
         r"max_exponent must be in \[-inf, inf\], got inf"),
        (lambda: lc.ExponentialLoss(max_exponent="50"), TypeError, r"max_exponent must be a real number, got str"),
        (lambda: lc.LogisticLoss(labels="01"), ValueError, r"labels must be one of \('signed', 'binary'\), got '01'"),
    ],
)
def test_binary_bad_hyperparameters(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ multi-class hinge
@pytest.mark.parametrize(
    "variant, squared, margin, reduction",
    list(itertools.product(["weston_watkins", "crammer_singer"], [False, True], [0.0, 1.0, 2.0], REDUCTIONS)),
)
def test_multiclass_hinge_equals_formula(device, variant, squared, margin, reduction):
    g = torch.Generator().manual_seed(2)
    x = (torch.randn(9, 4, generator=g) * 2).to(device)
    t = torch.randint(0, 4, (9,), generator=g).to(device)
    ours = lc.multiclass_hinge_loss(x, t, margin=margin, variant=variant, squared=squared, reduction=reduction)
    expected = _reduce(ref_multiclass(x, t.cpu(), margin, variant, squared), reduction)
    torch.testing.assert_close(ours.double().cpu(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("squared, margin", list(itertools.product([False, True], [0.5, 1.0, 3.0])))
def test_weston_watkins_is_num_classes_times_multi_margin_loss(device, squared, margin):
    x = torch.randn(10, 5, device=device) * 2
    t = torch.randint(0, 5, (10,), device=device)
    w = torch.rand(5, device=device) + 0.1
    ours = lc.multiclass_hinge_loss(x, t, margin=margin, squared=squared, weight=w, reduction="none")
    theirs = F.multi_margin_loss(x, t, p=2 if squared else 1, margin=margin, weight=w, reduction="none")
    torch.testing.assert_close(ours, 5 * theirs)
    # torch's "mean" divides by N even with class weights; ours by the summed weights
    torch.testing.assert_close(
        lc.multiclass_hinge_loss(x, t, margin=margin, squared=squared, weight=w), ours.sum() / w[t].sum()
    )
    torch.testing.assert_close(5 * F.multi_margin_loss(x, t, p=2 if squared else 1, margin=margin, weight=w), ours.mean())


def test_two_class_multiclass_hinge_is_binary_hinge():
    f, y = _binary((15,))
    scores = torch.stack([-f / 2, f / 2], dim=1)
    cls = ((y + 1) / 2).long()
    binary = lc.hinge_loss(f, y, reduction="none")
    for variant in ("weston_watkins", "crammer_singer"):
        torch.testing.assert_close(lc.multiclass_hinge_loss(scores, cls, variant=variant, reduction="none"), binary)


def test_crammer_singer_never_exceeds_weston_watkins():
    x, t = torch.randn(50, 6) * 2, torch.randint(0, 6, (50,))
    cs = lc.multiclass_hinge_loss(x, t, variant="crammer_singer", reduction="none")
    ww = lc.multiclass_hinge_loss(x, t, variant="weston_watkins", reduction="none")
    assert (cs <= ww + 1e-6).all() and (ww <= 5 * cs + 1e-5).all()


def test_multiclass_hinge_dense_ignore_empty_and_gradcheck(device):
    x = torch.randn(2, 4, 3, 5, device=device)
    t = torch.randint(0, 4, (2, 3, 5), device=device)
    flat = lambda z: z.movedim(1, -1).reshape(-1, 4)  # noqa: E731
    dense = lc.multiclass_hinge_loss(x, t, variant="crammer_singer", reduction="none")
    assert dense.shape == (2, 3, 5)
    torch.testing.assert_close(dense.reshape(-1), lc.multiclass_hinge_loss(flat(x), t.reshape(-1), variant="crammer_singer", reduction="none"))
    t_ignored = t.clone()
    t_ignored[0] = -100
    kept = lc.multiclass_hinge_loss(x, t_ignored, reduction="none")
    assert (kept[0] == 0).all()
    torch.testing.assert_close(lc.multiclass_hinge_loss(x, t_ignored), kept[1].mean())
    assert_empty_is_zero(lc.multiclass_hinge_loss, x, torch.full_like(t, -100))
    assert_empty_is_zero(lc.multiclass_hinge_loss, x[:0], t[:0])
    assert_finite_with_grad(lc.multiclass_hinge_loss, x * 1e4, t, variant="crammer_singer")
    for dtype in (torch.float16, torch.bfloat16):
        assert_half_precision(lc.multiclass_hinge_loss, x, t, dtype, variant="crammer_singer")
    assert_reductions_consistent(lc.multiclass_hinge_loss, x, t)
    assert_rejects_reduction(lc.multiclass_hinge_loss, x, t)
    z = torch.tensor([[2.0, 0.3, -0.9], [0.1, 1.7, 0.55]], dtype=torch.float64, requires_grad=True)
    tt = torch.tensor([1, 2])
    w = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    for variant, squared in itertools.product(("weston_watkins", "crammer_singer"), (False, True)):
        assert torch.autograd.gradcheck(
            lambda a: lc.multiclass_hinge_loss(a, tt, variant=variant, squared=squared, weight=w), (z,)
        )


def test_multiclass_module_and_state_dict():
    x, t = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, -100, 1])
    w = torch.tensor([1.0, 2.0, 0.5])
    module = lc.MulticlassHingeLoss(variant="crammer_singer", squared=True, weight=w, margin=0.5)
    assert_module_matches(module, lc.multiclass_hinge_loss, x, t, variant="crammer_singer", squared=True, weight=w, margin=0.5)
    clone = lc.MulticlassHingeLoss(variant="crammer_singer", squared=True, weight=torch.ones(3), margin=0.5)
    clone.load_state_dict(module.state_dict())
    torch.testing.assert_close(clone(x, t), module(x, t))
    assert "variant='crammer_singer'" in repr(module)


@pytest.mark.parametrize(
    "x, t, kwargs, error, message",
    [
        (torch.zeros(4, 3), torch.tensor([0, 1, 3, 0]), {}, ValueError, r"target class indices must be in \[0, 2\] or ignore_index=-100, got 3"),
        (torch.zeros(4, 3), torch.zeros(4), {}, TypeError, r"target must hold class indices \(an integer tensor\), got dtype torch.float32"),
        (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long), {}, ValueError, r"input must have at least 2 classes along dimension 1, got shape \(4, 1\)"),
        (torch.zeros(4), torch.zeros(4, dtype=torch.long), {}, ValueError, r"input must have shape \(N, C\) or \(N, C, d1, ...\), got \(4,\)"),
        (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), dict(variant="ovr"), ValueError,
         r"variant must be one of \('weston_watkins', 'crammer_singer'\), got 'ovr'"),
        (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), dict(margin=-1), ValueError, r"margin must be in \[0.0, inf\], got -1.0"),
        (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), dict(weight=torch.ones(2)), ValueError, r"weight must have shape \(C,\) = \(3,\), got \(2,\)"),
    ],
)
def test_multiclass_rejects(x, t, kwargs, error, message):
    with pytest.raises(error, match=message):
        lc.multiclass_hinge_loss(x, t, **kwargs)


# ------------------------------------------------------------------ properties: surrogates bound the 0-1 loss
@settings(max_examples=80, deadline=None)
@given(m=st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=10))
def test_property_surrogates_upper_bound_zero_one_loss(m):
    f = torch.tensor(m, dtype=torch.float64)
    y = torch.ones_like(f)
    zero_one = (f <= 0).double()
    hinge = lc.hinge_loss(f, y, reduction="none")
    assert (hinge >= zero_one).all()
    assert (lc.hinge_loss(f, y, squared=True, reduction="none") >= zero_one).all()
    assert (lc.logistic_loss(f, y, reduction="none") / math.log(2) >= zero_one - 1e-12).all()
    assert (lc.exponential_loss(f, y, reduction="none") >= zero_one).all()
    # symmetry of the label: flipping both the label and the score changes nothing
    torch.testing.assert_close(lc.logistic_loss(-f, -y, reduction="none"), lc.logistic_loss(f, y, reduction="none"))


@settings(max_examples=60, deadline=None)
@given(m=st.lists(st.floats(-40, 40, allow_nan=False), min_size=1, max_size=10))
def test_property_exponential_dominates_logistic(m):
    # e^{-m} >= log(1 + e^{-m}) for every margin (log(1 + u) <= u); at large margins the two
    # agree to the last bit or two, so allow float64 rounding
    f = torch.tensor(m, dtype=torch.float64)
    y = torch.ones_like(f)
    exponential = lc.exponential_loss(f, y, reduction="none")
    logistic = lc.logistic_loss(f, y, reduction="none")
    assert (exponential >= logistic * (1 - 4e-16)).all()


# ------------------------------------------------------------------ data generator
def test_make_linear_binary():
    X, y = lc.data.make_linear_binary(500, num_features=3, margin=0.4, seed=1)
    assert X.shape == (500, 3) and y.shape == (500,) and y.dtype == torch.float32
    assert set(y.unique().tolist()) == {-1.0, 1.0}
    # separable with a gap: even the least-squares direction classifies almost all of it
    A = torch.cat([X, torch.ones(500, 1)], 1).double()
    w = torch.linalg.lstsq(A, y.double().unsqueeze(1)).solution.squeeze(1)
    assert ((A @ w).sign() == y.double()).float().mean() > 0.97
    # one fixed hyperplane for every seed: x . (1, ..., 1) / sqrt(d) + 0.5 = 0, so seeds give train and test sets
    for seed in (1, 2):
        Xs, ys = lc.data.make_linear_binary(300, num_features=3, margin=0.4, seed=seed)
        score = Xs.sum(1) / math.sqrt(3) + 0.5
        assert torch.equal(torch.where(score >= 0, 1.0, -1.0), ys)
        assert (score.abs() >= 0.4).all()
    Xn, yn = lc.data.make_linear_binary(2000, label_noise=0.2, seed=1)
    Xc, yc = lc.data.make_linear_binary(2000, label_noise=0.0, seed=1)
    assert torch.equal(Xn, Xc)
    assert 0.15 < float((yn != yc).float().mean()) < 0.25
    with pytest.raises(ValueError, match=r"label_noise must be in \[0.0, 1.0\], got 2.0"):
        lc.data.make_linear_binary(10, label_noise=2.0)

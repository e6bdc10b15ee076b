"""Tests of losscookbook.recsys: the ESMM objective and DIEN's auxiliary loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losscookbook as lc
from contract import assert_empty_is_zero, assert_rejects_reduction


def _impressions(n=200, device="cpu", dtype=torch.float32, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = (torch.randn(n, generator=g) * scale).to(device=device, dtype=dtype)
    b = (torch.randn(n, generator=g) * scale).to(device=device, dtype=dtype)
    click = (torch.rand(n, generator=g) < 0.4).float()
    conversion = click * (torch.rand(n, generator=g) < 0.5).float()
    return a, b, click.to(device), conversion.to(device)


# ------------------------------------------------------------------ references written from the paper
def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def ref_esmm(a, b, click, conversion, ctr_weight=1.0):
    """w BCE(y, pCTR) + BCE(y z, pCTR pCVR), impression by impression in float64 (probability space)."""
    out = []
    for ai, bi, y, z in zip(a.double().tolist(), b.double().tolist(), click.tolist(), conversion.tolist()):
        p_ctr = 1.0 / (1.0 + math.exp(-ai))
        p_ctcvr = p_ctr / (1.0 + math.exp(-bi))
        t = y * z
        ctr = -(y * math.log(p_ctr) + (1 - y) * math.log(1 - p_ctr))
        ctcvr = -(t * math.log(p_ctcvr) + (1 - t) * math.log(1 - p_ctcvr))
        out.append(ctr_weight * ctr + ctcvr)
    return torch.tensor(out, dtype=torch.float64)


def ref_esmm_log_space(a, b, y, z):
    """The same loss from log-sigmoids alone (exact for saturated logits), float64, per impression."""
    out = []
    for ai, bi, yi, zi in zip(a.tolist(), b.tolist(), y.tolist(), z.tolist()):
        la, lna, lb, lnb = _log_sigmoid(ai), _log_sigmoid(-ai), _log_sigmoid(bi), _log_sigmoid(-bi)
        l1, l2 = lna, la + lnb  # 1 - pq = (1 - p) + p (1 - q)
        m = max(l1, l2)
        log_not = m + math.log(math.exp(l1 - m) + math.exp(l2 - m))
        t = yi * zi
        out.append(-(yi * la + (1 - yi) * lna) - (t * (la + lb) + (1 - t) * log_not))
    return torch.tensor(out, dtype=torch.float64)


def ref_dien(h, e, e_hat, mask):
    """-(mean over valid steps) of [log sigma(<h_t, e>) + log(1 - sigma(<h_t, e_hat>))], float64 loops."""
    total, count = 0.0, 0
    N, T, D = h.shape
    for i in range(N):
        for t in range(T):
            if mask is not None and not bool(mask[i, t]):
                continue
            s = sum(float(h[i, t, d]) * float(e[i, t, d]) for d in range(D))
            s_hat = sum(float(h[i, t, d]) * float(e_hat[i, t, d]) for d in range(D))
            total += -(_log_sigmoid(s) + _log_sigmoid(-s_hat))
            count += 1
    return total / count if count else 0.0, total


def _sequences(N=4, T=6, D=3, device="cpu", dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    h, e, n = (torch.randn(N, T, D, generator=g).to(device=device, dtype=dtype) for _ in range(3))
    lengths = torch.tensor([T, 1, T - 2, 0][:N] + [T] * max(0, N - 4))
    mask = (torch.arange(T)[None, :] < lengths[:, None]).to(device)
    return h, e, n, mask


# ------------------------------------------------------------------ ESMM: values
@pytest.mark.parametrize("ctr_weight", [1.0, 0.3])
def test_esmm_equals_bce_on_product_probabilities(device, ctr_weight):
    a, b, y, z = _impressions(device=device)
    ours = lc.esmm_loss(a, b, y, z, ctr_weight=ctr_weight, reduction="none")
    ref = ref_esmm(a.cpu(), b.cpu(), y.cpu(), z.cpu(), ctr_weight)
    torch.testing.assert_close(ours.double().cpu(), ref, rtol=1e-5, atol=1e-6)
    # and torch's own BCE on the product probabilities, including gradients
    a1, b1 = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    a2, b2 = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    lc.esmm_loss(a1, b1, y, z, ctr_weight=ctr_weight).backward()
    theirs = ctr_weight * F.binary_cross_entropy_with_logits(a2, y) + F.binary_cross_entropy(
        torch.sigmoid(a2) * torch.sigmoid(b2), y * z
    )
    theirs.backward()
    torch.testing.assert_close(a1.grad, a2.grad, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(b1.grad, b2.grad, rtol=1e-4, atol=1e-7)


def test_esmm_parts_sum_to_the_loss_and_reductions_agree():
    a, b, y, z = _impressions()
    parts = lc.esmm_loss_parts(a, b, y, z)
    torch.testing.assert_close(parts.ctr + parts.ctcvr, lc.esmm_loss(a, b, y, z))
    torch.testing.assert_close(parts.ctr, F.binary_cross_entropy_with_logits(a, y))
    none = lc.esmm_loss(a, b, y, z, reduction="none")
    assert none.shape == a.shape
    torch.testing.assert_close(lc.esmm_loss(a, b, y, z, reduction="sum"), none.sum())
    torch.testing.assert_close(lc.esmm_loss(a, b, y, z, reduction="mean"), none.mean())
    # a CTR weight of 0 leaves the CTCVR term alone
    torch.testing.assert_close(lc.esmm_loss(a, b, y, z, ctr_weight=0.0), parts.ctcvr)


def test_esmm_labels_may_be_bool_int_or_float():
    a, b, y, z = _impressions()
    ref = lc.esmm_loss(a, b, y, z)
    torch.testing.assert_close(lc.esmm_loss(a, b, y.bool(), z.bool()), ref)
    torch.testing.assert_close(lc.esmm_loss(a, b, y.long(), z.to(torch.int8)), ref)


def test_esmm_saturated_logits_are_finite_and_exact():
    big = 1e4
    a = torch.tensor([big, big, -big, -big, big, -big, 30.0, 200.0, big], dtype=torch.float32)
    b = torch.tensor([big, -big, big, -big, big, -big, 30.0, 200.0, 0.0], dtype=torch.float32)
    y = torch.tensor([1, 1, 0, 1, 1, 0, 1, 1, 1])
    z = torch.tensor([0, 1, 0, 1, 1, 0, 0, 0, 0])
    ref = ref_esmm_log_space(a.double(), b.double(), y.double(), z.double())
    a_, b_ = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    loss = lc.esmm_loss(a_, b_, y, z, reduction="none")
    assert torch.isfinite(loss).all(), loss
    torch.testing.assert_close(loss.double(), ref, rtol=1e-6, atol=1e-6)
    loss.sum().backward()
    assert torch.isfinite(a_.grad).all() and torch.isfinite(b_.grad).all()
    # the first impression: clicked, not converted, both rates ~1: the loss is ~1e4 - log 2, not inf
    assert loss[0].item() == pytest.approx(big - math.log(2), rel=1e-6)
    # where the probability-space formula breaks down (product rounds to 1, log(1 - p) = log 0)
    naive = F.binary_cross_entropy(torch.sigmoid(a[:1]) * torch.sigmoid(b[:1]), z[:1].float(), reduction="none")
    assert naive.item() == 100.0  # torch clamps log(0) at -100: a wrong, flat value


def test_esmm_gradients_at_saturation_match_the_log_space_reference():
    a = torch.tensor([1e4, 50.0, -40.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([1e4, 60.0, 5.0], dtype=torch.float64, requires_grad=True)
    y, z = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 0.0, 0.0], dtype=torch.float64)
    lc.esmm_loss(a, b, y, z, reduction="sum").backward()
    # d/da of -log(1 - pq) for p, q -> 1 tends to 1/2 each (1 - pq ~ e^-a + e^-b); plus the CTR term (0)
    assert a.grad[0].item() == pytest.approx(0.5, abs=1e-9) and b.grad[0].item() == pytest.approx(0.5, abs=1e-9)
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()


def test_esmm_gradcheck():
    a, b, y, z = _impressions(n=12, dtype=torch.float64)
    a.requires_grad_(True)
    b.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda u, v: lc.esmm_loss(u, v, y, z, reduction="none"), (a, b))
    assert torch.autograd.gradgradcheck(lambda u, v: lc.esmm_loss(u, v, y, z), (a, b))


def test_unclicked_impressions_train_the_cvr_tower_through_the_product():
    # an unclicked impression still trains the CVR tower (through pCTCVR), unlike a CVR loss on clicks
    a = torch.tensor([0.0], requires_grad=True)
    b = torch.tensor([2.0], requires_grad=True)
    lc.esmm_loss(a, b, torch.tensor([0]), torch.tensor([0])).backward()
    assert b.grad.item() > 0  # pushes pCVR down, weighted by pCTR


def test_esmm_probabilities_are_bounded_and_ordered():
    a, b, _, _ = _impressions(n=1000, scale=20.0)
    p = lc.esmm_probabilities(a, b)
    for rate in p:
        assert ((rate >= 0) & (rate <= 1)).all()
    assert (p.ctcvr <= p.ctr).all()
    torch.testing.assert_close(p.ctcvr, p.ctr * p.cvr, rtol=1e-5, atol=1e-30)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-60, 60), min_size=1, max_size=8),
    st.lists(st.floats(-60, 60), min_size=8, max_size=8),
    st.lists(st.integers(0, 2), min_size=8, max_size=8),
)
def test_esmm_is_nonnegative_and_matches_log_space_reference(a_list, b_list, labels):
    n = len(a_list)
    a = torch.tensor(a_list, dtype=torch.float64)
    b = torch.tensor(b_list[:n], dtype=torch.float64)
    y = torch.tensor([1.0 if v >= 1 else 0.0 for v in labels[:n]], dtype=torch.float64)
    z = torch.tensor([1.0 if v == 2 else 0.0 for v in labels[:n]], dtype=torch.float64)
    loss = lc.esmm_loss(a, b, y, z, reduction="none")
    assert (loss >= 0).all()
    torch.testing.assert_close(loss, ref_esmm_log_space(a, b, y, z), rtol=1e-9, atol=1e-12)


def test_esmm_half_precision_and_empty_batch():
    a, b, y, z = _impressions()
    for dtype in (torch.float16, torch.bfloat16):
        a_low, b_low = a.to(dtype), b.to(dtype)
        ref = lc.esmm_loss(a_low.float(), b_low.float(), y, z)
        x = a_low.clone().requires_grad_(True)
        loss = lc.esmm_loss(x, b_low, y, z)
        assert loss.dtype == torch.float32
        torch.testing.assert_close(loss, ref)
        loss.backward()
        assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()
    empty = torch.zeros(0)
    assert_empty_is_zero(lambda u, t, **kw: lc.esmm_loss(u, torch.zeros(0), t, t, **kw), empty, empty)


def test_esmm_under_bfloat16_autocast():
    g = torch.Generator().manual_seed(1)
    features = torch.randn(64, 8, generator=g)
    towers = torch.nn.Linear(8, 2)
    y = (torch.rand(64, generator=g) < 0.5).float()
    z = y * (torch.rand(64, generator=g) < 0.5).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = towers(features)
        assert out.dtype == torch.bfloat16
        loss = lc.esmm_loss(out[:, 0], out[:, 1], y, z)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(towers.weight.grad).all()


def test_esmm_module_matches_function():
    a, b, y, z = _impressions()
    module = lc.ESMMLoss(ctr_weight=0.5, reduction="sum")
    torch.testing.assert_close(module(a, b, y, z), lc.esmm_loss(a, b, y, z, ctr_weight=0.5, reduction="sum"), rtol=0, atol=0)
    assert "ctr_weight=0.5" in repr(module)
    assert module.state_dict() == {}


# ------------------------------------------------------------------ ESMM: bad input
def test_esmm_rejects_conversion_without_click():
    a, b, y, z = _impressions(n=10)
    z = z.clone()
    y = y.clone()
    y[3], z[3] = 0.0, 1.0
    with pytest.raises(ValueError, match=r"conversion must be 0 where click is 0 .*flat index 3"):
        lc.esmm_loss(a, b, y, z)


def test_esmm_rejects_bad_inputs():
    a, b, y, z = _impressions(n=10)
    with pytest.raises(ValueError, match=r"click values must be one of \(0, 1\), got 0.5"):
        lc.esmm_loss(a, b, torch.full((10,), 0.5), z)
    with pytest.raises(ValueError, match=r"conversion values must be one of \(0, 1\), got 2"):
        lc.esmm_loss(a, b, torch.ones(10), torch.full((10,), 2))
    with pytest.raises(ValueError, match=r"cvr_logit must have the same shape as ctr_logit, expected \(10,\), got \(9,\)"):
        lc.esmm_loss(a, b[:9], y, z)
    with pytest.raises(ValueError, match=r"click must have the same shape as ctr_logit, expected \(10,\), got \(10, 1\)"):
        lc.esmm_loss(a, b, y[:, None], z)
    with pytest.raises(TypeError, match=r"ctr_logit must be a floating-point tensor, got dtype torch.int64"):
        lc.esmm_loss(a.long(), b, y, z)
    with pytest.raises(TypeError, match=r"conversion must be a torch.Tensor, got list"):
        lc.esmm_loss(a, b, y, z.tolist())
    with pytest.raises(ValueError, match=r"ctr_weight must be in \[0.0, inf\], got -1.0"):
        lc.esmm_loss(a, b, y, z, ctr_weight=-1.0)
    with pytest.raises(ValueError, match=r"ctr_weight must be in"):
        lc.ESMMLoss(ctr_weight=float("nan"))
    assert_rejects_reduction(lambda u, t, **kw: lc.esmm_loss(u, b, t, z, **kw), a, y)


# ------------------------------------------------------------------ DIEN auxiliary loss
def test_dien_matches_float64_loop_reference_with_mask(device):
    h, e, n, mask = _sequences(device=device)
    mean_ref, sum_ref = ref_dien(h.cpu(), e.cpu(), n.cpu(), mask.cpu())
    assert lc.dien_auxiliary_loss(h, e, n, mask=mask).item() == pytest.approx(mean_ref, rel=1e-5)
    assert lc.dien_auxiliary_loss(h, e, n, mask=mask, reduction="sum").item() == pytest.approx(sum_ref, rel=1e-5)
    assert lc.dien_auxiliary_loss(h, e, n, mask=mask, reduction="batchmean").item() == pytest.approx(
        sum_ref / h.shape[0], rel=1e-5
    )
    none = lc.dien_auxiliary_loss(h, e, n, mask=mask, reduction="none")
    assert none.shape == mask.shape and (none[~mask] == 0).all()
    mean_all, _ = ref_dien(h.cpu(), e.cpu(), n.cpu(), None)
    assert lc.dien_auxiliary_loss(h, e, n).item() == pytest.approx(mean_all, rel=1e-5)


def test_dien_padded_steps_do_not_leak_into_loss_or_gradients():
    h, e, n, mask = _sequences()
    h = h.clone()
    h[~mask] = 1e6  # garbage in the padding: huge scores, inf-free only if masked
    x = h.clone().requires_grad_(True)
    loss = lc.dien_auxiliary_loss(x, e, n, mask=mask)
    clean = h.clone()
    clean[~mask] = 0.0
    torch.testing.assert_close(loss, lc.dien_auxiliary_loss(clean, e, n, mask=mask))
    loss.backward()
    assert torch.isfinite(x.grad).all()
    assert (x.grad[~mask] == 0).all() and (x.grad[mask].abs().sum(-1) > 0).all()


def test_dien_fully_padded_batch_is_zero_with_zero_gradients():
    h, e, n, _ = _sequences()
    mask = torch.zeros(h.shape[:2], dtype=torch.bool)
    assert_empty_is_zero(lambda u, t, **kw: lc.dien_auxiliary_loss(u, t, n, mask=mask, **kw), h, e)
    x = h.clone().requires_grad_(True)
    loss = lc.dien_auxiliary_loss(x, e, n, mask=mask, reduction="batchmean")
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(x.grad, torch.zeros_like(x))
    empty = torch.zeros(0, 5, 3)
    assert_empty_is_zero(lambda u, t, **kw: lc.dien_auxiliary_loss(u, t, t, **kw), empty, empty)


def test_dien_gradcheck_and_saturated_scores():
    h, e, n, mask = _sequences(N=3, T=4, D=2, dtype=torch.float64)
    h.requires_grad_(True)
    e.requires_grad_(True)
    n.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b, c: lc.dien_auxiliary_loss(a, b, c, mask=mask, reduction="none"), (h, e, n))
    big = torch.full((2, 3, 4), 100.0, requires_grad=True)
    loss = lc.dien_auxiliary_loss(big, big.detach(), -big.detach())  # scores +-4e4
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(big.grad).all()
    loss = lc.dien_auxiliary_loss(big, -big.detach(), big.detach())  # both wrong by 4e4
    assert loss.item() == pytest.approx(8e4, rel=1e-6)


def test_dien_half_precision_and_autocast():
    h, e, n, mask = _sequences()
    for dtype in (torch.float16, torch.bfloat16):
        low = h.to(dtype)
        x = low.clone().requires_grad_(True)
        loss = lc.dien_auxiliary_loss(x, e.to(dtype), n.to(dtype), mask=mask)
        assert loss.dtype == torch.float32
        torch.testing.assert_close(loss, lc.dien_auxiliary_loss(low.float(), e.to(dtype).float(), n.to(dtype).float(), mask=mask))
        loss.backward()
        assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()
    gru = torch.nn.GRU(3, 3, batch_first=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = gru(e)
        loss = lc.dien_auxiliary_loss(out[:, :-1], e[:, 1:], n[:, 1:], mask=mask[:, 1:])
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in gru.parameters())


def test_dien_module_matches_function():
    h, e, n, mask = _sequences()
    module = lc.DIENAuxiliaryLoss(reduction="batchmean")
    torch.testing.assert_close(module(h, e, n, mask), lc.dien_auxiliary_loss(h, e, n, mask=mask, reduction="batchmean"), rtol=0, atol=0)
    assert "batchmean" in repr(module)


def test_dien_rejects_bad_inputs():
    h, e, n, mask = _sequences()
    with pytest.raises(ValueError, match=r"hidden must have shape \(N, T, D\), got \(4, 6\)"):
        lc.dien_auxiliary_loss(h[..., 0], e[..., 0], n[..., 0])
    with pytest.raises(ValueError, match=r"clicked must have the same shape as hidden, expected \(4, 6, 3\), got \(4, 5, 3\)"):
        lc.dien_auxiliary_loss(h, e[:, :5], n)
    with pytest.raises(ValueError, match=r"negative must have the same shape as hidden"):
        lc.dien_auxiliary_loss(h, e, n[:, :, :2])
    with pytest.raises(TypeError, match=r"mask must be a bool tensor, got dtype torch.int64"):
        lc.dien_auxiliary_loss(h, e, n, mask=mask.long())
    with pytest.raises(ValueError, match=r"mask must have shape \(N, T\) = \(4, 6\), got \(4, 5\)"):
        lc.dien_auxiliary_loss(h, e, n, mask=mask[:, :5])
    with pytest.raises(TypeError, match=r"clicked must be a floating-point tensor, got dtype torch.int64"):
        lc.dien_auxiliary_loss(h, e.long(), n)
    with pytest.raises(ValueError, match=r"reduction must be one of \('none', 'mean', 'sum', 'batchmean'\), got 'avg'"):
        lc.dien_auxiliary_loss(h, e, n, reduction="avg")


# ------------------------------------------------------------------ compile: no graph break
def test_losses_trace_as_one_graph():
    a, b, y, z = _impressions(n=50)
    esmm = torch.compile(lambda u, v: lc.esmm_loss(u, v, y, z), fullgraph=True, backend="eager")
    u, v = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    out = esmm(u, v)
    torch.testing.assert_close(out, lc.esmm_loss(a, b, y, z))
    out.backward()
    assert torch.isfinite(u.grad).all() and torch.isfinite(v.grad).all()
    h, e, n, mask = _sequences()
    dien = torch.compile(lambda x: lc.dien_auxiliary_loss(x, e, n, mask=mask), fullgraph=True, backend="eager")
    x = h.clone().requires_grad_(True)
    out = dien(x)
    torch.testing.assert_close(out, lc.dien_auxiliary_loss(h, e, n, mask=mask))
    out.backward()
    assert (x.grad[~mask] == 0).all()

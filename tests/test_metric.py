"""Tests of losscookbook.metric: distances, pair/triplet losses, in-batch mining, margin softmax.

The mining rules are checked against brute-force float64 loops over every (anchor, positive,
negative) of small batches, written here from the papers' definitions.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losscookbook as lc
from losscookbook import metric as M

REDUCTIONS = ["none", "mean", "sum"]


def _batch(num_classes=4, per_class=3, dim=5, seed=0, dtype=torch.float64, spread=1.0):
    """Embeddings of num_classes * per_class samples (classes interleaved), labels (B,)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_classes).repeat(per_class)
    labels = labels[torch.randperm(labels.numel(), generator=g)]
    centres = torch.randn(num_classes, dim, generator=g, dtype=torch.float64) * spread
    x = centres[labels] + torch.randn(labels.numel(), dim, generator=g, dtype=torch.float64)
    return x.to(dtype), labels


# ------------------------------------------------------------------ references (plain loops, float64)
def ref_dist(x, squared):
    n = x.shape[0]
    d = [[0.0] * n for _ in range(n)]
    rows = x.double().tolist()
    for i in range(n):
        for j in range(n):
            s = sum((a - b) ** 2 for a, b in zip(rows[i], rows[j]))
            d[i][j] = s if squared else math.sqrt(s)
    return d


def valid_triplets(labels):
    lab = labels.tolist()
    n = len(lab)
    for a in range(n):
        for p in range(n):
            if p == a or lab[p] != lab[a]:
                continue
            for k in range(n):
                if lab[k] != lab[a]:
                    yield a, p, k


def ref_batch_all(x, labels, margin, squared):
    """(mean over positive-loss triplets, fraction positive, per-anchor sums)."""
    d = ref_dist(x, squared)
    per_anchor = [0.0] * len(labels)
    active = total = 0
    for a, p, n in valid_triplets(labels):
        loss = max(0.0, d[a][p] - d[a][n] + margin)
        total += 1
        if loss > 0:
            active += 1
            per_anchor[a] += loss
    mean = sum(per_anchor) / active if active else 0.0
    return mean, active / total, per_anchor


def ref_batch_hard(x, labels, margin, squared, soft):
    d = ref_dist(x, squared)
    lab = labels.tolist()
    out = []
    for a in range(len(lab)):
        hp = max(d[a][p] for p in range(len(lab)) if p != a and lab[p] == lab[a])
        hn = min(d[a][n] for n in range(len(lab)) if lab[n] != lab[a])
        gap = hp - hn
        out.append(math.log1p(math.exp(gap)) if soft else max(0.0, gap + margin))
    return out


def ref_semi_hard(x, labels, margin, squared):
    """FaceNet's rule per (a, p): closest negative with d(a,n) > d(a,p); else the farthest negative.

    Returns (mean over pairs, per-anchor sums, {(a, p): n}, number of fallbacks).
    """
    d = ref_dist(x, squared)
    lab = labels.tolist()
    n_all = range(len(lab))
    per_anchor = [0.0] * len(lab)
    chosen, pairs, fallbacks = {}, 0, 0
    for a in n_all:
        negs = [k for k in n_all if lab[k] != lab[a]]
        for p in n_all:
            if p == a or lab[p] != lab[a]:
                continue
            farther = [k for k in negs if d[a][k] > d[a][p]]
            if farther:
                n = min(farther, key=lambda k: d[a][k])
            else:
                n = max(negs, key=lambda k: d[a][k])
                fallbacks += 1
            chosen[(a, p)] = n
            per_anchor[a] += max(0.0, d[a][p] - d[a][n] + margin)
            pairs += 1
    return sum(per_anchor) / pairs, per_anchor, chosen, fallbacks


def ref_margin_softmax(emb, weight, target, scale, margin, kind):
    losses = []
    for e, y in zip(emb.double().tolist(), target.tolist()):
        ne = math.sqrt(sum(v * v for v in e))
        logits = []
        for j, w in enumerate(weight.double().tolist()):
            nw = math.sqrt(sum(v * v for v in w))
            c = max(-1.0, min(1.0, sum(a * b for a, b in zip(e, w)) / (ne * nw)))
            if j == y:
                if kind == "cosface":
                    c = c - margin
                else:
                    theta = math.acos(c)
                    c = math.cos(theta + margin) if theta <= math.pi - margin else c - math.sin(margin) * margin
            logits.append(scale * c)
        top = max(logits)
        lse = top + math.log(sum(math.exp(v - top) for v in logits))
        losses.append(lse - logits[y])
    return torch.tensor(losses, dtype=torch.float64)


# ------------------------------------------------------------------ pairwise distances
@pytest.mark.parametrize("squared", [False, True])
def test_pairwise_distances_match_cdist(squared):
    x, _ = _batch(dim=7)
    y = torch.randn(5, 7, dtype=torch.float64)
    for got, want in [(M.pairwise_distances(x, squared=squared), torch.cdist(x, x)),
                      (M.pairwise_distances(x, y, squared=squared), torch.cdist(x, y))]:
        torch.testing.assert_close(got, want.pow(2) if squared else want, rtol=1e-9, atol=1e-9)
    assert torch.equal(torch.diagonal(M.pairwise_distances(x)), torch.zeros(x.shape[0], dtype=x.dtype))


def test_pairwise_distances_against_loops_and_offset_accuracy():
    x, _ = _batch(num_classes=3, per_class=2, dim=4)
    torch.testing.assert_close(M.pairwise_distances(x), torch.tensor(ref_dist(x, False), dtype=torch.float64))
    # a large common offset: the Gram form loses digits unless the rows are centred first
    far = (x + 1000.0).float()
    torch.testing.assert_close(M.pairwise_distances(far), torch.cdist(x, x).float(), rtol=1e-4, atol=1e-3)


def test_pairwise_distances_gradient_finite_at_zero_distance():
    base = torch.randn(3, 8)
    x = torch.cat([base, base, base[:1]]).requires_grad_(True)  # identical rows: zero distances off the diagonal
    d = M.pairwise_distances(x)
    assert torch.equal(torch.diagonal(d), torch.zeros(7))
    assert d[0, 3].item() == 0.0 and d[0, 6].item() == 0.0
    d.sum().backward()
    assert torch.isfinite(x.grad).all()
    # the same under bf16 autocast, through a layer
    layer = torch.nn.Linear(8, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(torch.cat([base, base]))
        dist = M.pairwise_distances(out)
    assert dist.dtype == torch.float32
    dist.sum().backward()
    assert torch.isfinite(layer.weight.grad).all()


def test_pairwise_distances_autocast_is_computed_in_float32():
    x = torch.randn(16, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = x.to(torch.bfloat16)
        got = M.pairwise_distances(low)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, M.pairwise_distances(low.float()))


@pytest.mark.parametrize("squared", [False, True])
def test_pairwise_distances_gradcheck(squared):
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: M.pairwise_distances(a, squared=squared), (x,))
    assert torch.autograd.gradcheck(lambda a, b: M.pairwise_distances(a, b, squared=squared), (x, y))


def test_pairwise_distances_bad_inputs():
    with pytest.raises(ValueError, match=r"x must have shape \(B, D\), got \(3,\)"):
        M.pairwise_distances(torch.zeros(3))
    with pytest.raises(ValueError, match=r"y must have the same number of columns as x \(2\), got shape \(3, 4\)"):
        M.pairwise_distances(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        M.pairwise_distances(torch.zeros(3, 2, dtype=torch.long))


# ------------------------------------------------------------------ contrastive, triplet, ranking
def test_contrastive_matches_formula_and_label_forms():
    g = torch.Generator().manual_seed(1)
    x1, x2 = torch.randn(10, 4, generator=g, dtype=torch.float64), torch.randn(10, 4, generator=g, dtype=torch.float64)
    same = torch.tensor([1, 0] * 5)
    margin = 2.5
    want = []
    for a, b, s in zip(x1.tolist(), x2.tolist(), same.tolist()):
        dist = math.sqrt(sum((u - v) ** 2 for u, v in zip(a, b)))
        want.append(0.5 * dist**2 if s == 1 else 0.5 * max(0.0, margin - dist) ** 2)  # paper's Y = 1 - same
    want = torch.tensor(want, dtype=torch.float64)
    assert (want[same == 0] > 0).any() and (want[same == 0] == 0).any()  # both sides of the margin occur
    for form in (same, same.bool(), same.double()):
        torch.testing.assert_close(lc.contrastive_loss(x1, x2, form, margin=margin, reduction="none"), want)
    for reduction in REDUCTIONS:
        expected = {"none": want, "mean": want.mean(), "sum": want.sum()}[reduction]
        torch.testing.assert_close(lc.contrastive_loss(x1, x2, same, margin=margin, reduction=reduction), expected)
        module = lc.ContrastiveLoss(margin=margin, reduction=reduction)
        torch.testing.assert_close(module(x1, x2, same), lc.contrastive_loss(x1, x2, same, margin=margin, reduction=reduction), rtol=0, atol=0)
    assert torch.autograd.gradcheck(
        lambda a, b: lc.contrastive_loss(a, b, same, margin=margin, reduction="sum"),
        (x1.clone().requires_grad_(), x2.clone().requires_grad_()),
    )


def test_contrastive_gradient_finite_at_zero_distance():
    x = torch.randn(4, 3)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    loss = lc.contrastive_loss(a, b, torch.tensor([True, False, True, False]), margin=1.0)
    loss.backward()
    torch.testing.assert_close(loss, torch.tensor(0.25))  # two dissimilar pairs at distance 0: 0.5 m^2 each, / 4
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()


@pytest.mark.parametrize("margin", [1e-3, 0.2, 1.5])  # torch requires margin > 0
def test_triplet_plain_equals_torch_triplet_margin_loss(margin):
    g = torch.Generator().manual_seed(2)
    a, p, n = (torch.randn(32, 6, generator=g, dtype=torch.float64) for _ in range(3))
    torch_loss = torch.nn.TripletMarginLoss(margin=margin, p=2, eps=0.0, reduction="none")
    for reduction in REDUCTIONS:
        ours = lc.triplet_loss(a, p, n, margin=margin, squared=False, reduction=reduction)
        torch_loss.reduction = reduction
        torch.testing.assert_close(ours, torch_loss(a, p, n))
    leaves = [t.clone().requires_grad_() for t in (a, p, n)]
    leaves_t = [t.clone().requires_grad_() for t in (a, p, n)]
    lc.triplet_loss(*leaves, margin=margin, squared=False).backward()
    torch.nn.TripletMarginLoss(margin=margin, p=2, eps=0.0)(*leaves_t).backward()
    for mine, theirs in zip(leaves, leaves_t):
        torch.testing.assert_close(mine.grad, theirs.grad)


def test_triplet_squared_matches_formula_and_easy_hard_regimes():
    g = torch.Generator().manual_seed(3)
    a, p, n = (torch.randn(20, 4, generator=g, dtype=torch.float64) for _ in range(3))
    want = torch.tensor(
        [max(0.0, sum((u - v) ** 2 for u, v in zip(x, y)) - sum((u - v) ** 2 for u, v in zip(x, z)) + 0.2)
         for x, y, z in zip(a.tolist(), p.tolist(), n.tolist())],
        dtype=torch.float64,
    )
    got = lc.triplet_loss(a, p, n, reduction="none")
    torch.testing.assert_close(got, want)
    d_ap, d_an = (a - p).pow(2).sum(1), (a - n).pow(2).sum(1)
    assert torch.all(got[d_an >= d_ap + 0.2] == 0)  # easy triplets: exactly 0
    assert torch.all(got[d_an < d_ap] > 0.2)  # hard triplets: above the margin
    module = lc.TripletLoss(margin=0.2, squared=True, reduction="sum")
    torch.testing.assert_close(module(a, p, n), lc.triplet_loss(a, p, n, reduction="sum"), rtol=0, atol=0)
    leaves = tuple(t.clone().requires_grad_() for t in (a, p, n))
    for squared in (True, False):
        assert torch.autograd.gradcheck(lambda *t: lc.triplet_loss(*t, squared=squared), leaves)


def test_triplet_gradient_finite_when_anchor_equals_positive():
    a = torch.randn(3, 4)
    leaves = [a.clone().requires_grad_(), a.clone().requires_grad_(), torch.randn(3, 4).requires_grad_()]
    lc.triplet_loss(*leaves, squared=False, margin=5.0).backward()
    assert all(torch.isfinite(t.grad).all() for t in leaves)


def test_margin_ranking_equals_torch():
    g = torch.Generator().manual_seed(4)
    pos, neg = torch.randn(50, generator=g, dtype=torch.float64), torch.randn(50, generator=g, dtype=torch.float64)
    for reduction in REDUCTIONS:
        want = torch.nn.MarginRankingLoss(margin=0.7, reduction=reduction)(pos, neg, torch.ones(50, dtype=torch.float64))
        torch.testing.assert_close(lc.margin_ranking_loss(pos, neg, margin=0.7, reduction=reduction), want)
        torch.testing.assert_close(lc.MarginRankingLoss(margin=0.7, reduction=reduction)(pos, neg), want, rtol=0, atol=0)
    assert torch.autograd.gradcheck(
        lambda a, b: lc.margin_ranking_loss(a, b, margin=0.7), (pos.clone().requires_grad_(), neg.clone().requires_grad_())
    )


def test_pair_losses_bad_inputs():
    x = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"x2 must have the same shape as x1, expected \(4, 3\), got \(4, 2\)"):
        lc.contrastive_loss(x, torch.zeros(4, 2), torch.ones(4))
    with pytest.raises(ValueError, match=r"same must have shape \(N,\) = \(4,\), got \(3,\)"):
        lc.contrastive_loss(x, x, torch.ones(3))
    with pytest.raises(ValueError, match=r"same values must be one of \(0, 1\), got 2"):
        lc.contrastive_loss(x, x, torch.tensor([0, 1, 2, 1]))
    with pytest.raises(ValueError, match=r"margin must be in \[0.0, inf\], got -1.0"):
        lc.contrastive_loss(x, x, torch.ones(4), margin=-1.0)
    with pytest.raises(ValueError, match=r"negative must have the same shape as anchor, expected \(4, 3\), got \(5, 3\)"):
        lc.triplet_loss(x, x, torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"reduction must be one of .*got 'avg'"):
        lc.triplet_loss(x, x, x, reduction="avg")
    with pytest.raises(ValueError, match=r"score_neg must have the same shape as score_pos"):
        lc.margin_ranking_loss(torch.zeros(3), torch.zeros(4))


# ------------------------------------------------------------------ in-batch mining: values against loops
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_batch_all_matches_brute_force(squared, seed):
    x, labels = _batch(num_classes=4, per_class=3, seed=seed, spread=0.8)
    margin = 0.5 if not squared else 2.0
    mean, fraction, per_anchor = ref_batch_all(x, labels, margin, squared)
    assert 0 < fraction < 1
    loss, frac = lc.batch_all_triplet_loss(x, labels, margin=margin, squared=squared, return_fraction=True)
    torch.testing.assert_close(loss, torch.tensor(mean, dtype=torch.float64))
    torch.testing.assert_close(frac, torch.tensor(fraction, dtype=torch.float64))
    torch.testing.assert_close(
        lc.batch_all_triplet_loss(x, labels, margin=margin, squared=squared, reduction="none"),
        torch.tensor(per_anchor, dtype=torch.float64),
    )
    torch.testing.assert_close(
        lc.batch_all_triplet_loss(x, labels, margin=margin, squared=squared, reduction="sum"),
        torch.tensor(sum(per_anchor), dtype=torch.float64),
    )


def test_batch_all_gradient_matches_the_explicit_triplet_sum():
    x, labels = _batch(num_classes=3, per_class=3, seed=5, spread=0.7)
    triplets = torch.tensor(list(valid_triplets(labels)))
    a, p, n = triplets.unbind(1)
    leaf, ref_leaf = x.clone().requires_grad_(), x.clone().requires_grad_()
    lc.batch_all_triplet_loss(leaf, labels, margin=0.5).backward()
    per = lc.triplet_loss(ref_leaf[a], ref_leaf[p], ref_leaf[n], margin=0.5, squared=False, reduction="none")
    (per.sum() / (per > 0).sum()).backward()
    torch.testing.assert_close(leaf.grad, ref_leaf.grad)
    assert torch.autograd.gradcheck(lambda e: lc.batch_all_triplet_loss(e, labels, margin=0.5), (x.clone().requires_grad_(),))


def test_batch_all_without_active_triplets_is_zero_with_zero_gradient():
    x = torch.tensor([[0.0], [0.1], [10.0], [10.1]], requires_grad=True)
    loss, fraction = lc.batch_all_triplet_loss(x, torch.tensor([0, 0, 1, 1]), return_fraction=True)
    assert loss.item() == 0.0 and fraction.item() == 0.0
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("squared", [False, True])
def test_batch_hard_matches_brute_force(soft, squared):
    x, labels = _batch(num_classes=4, per_class=3, seed=2, spread=0.8)
    want = torch.tensor(ref_batch_hard(x, labels, 0.3, squared, soft), dtype=torch.float64)
    for reduction in REDUCTIONS:
        got = lc.batch_hard_triplet_loss(x, labels, margin=0.3, squared=squared, soft=soft, reduction=reduction)
        torch.testing.assert_close(got, {"none": want, "mean": want.mean(), "sum": want.sum()}[reduction])
        module = lc.BatchHardTripletLoss(margin=0.3, squared=squared, soft=soft, reduction=reduction)
        torch.testing.assert_close(module(x, labels), got, rtol=0, atol=0)
    assert torch.autograd.gradcheck(
        lambda e: lc.batch_hard_triplet_loss(e, labels, margin=0.3, squared=squared, soft=soft), (x.clone().requires_grad_(),)
    )


@pytest.mark.parametrize("squared", [True, False])
def test_semi_hard_matches_facenet_rule_with_fallback(squared):
    x, labels = _batch(num_classes=4, per_class=4, seed=3, spread=0.6)
    margin = 0.3
    mean, per_anchor, chosen, fallbacks = ref_semi_hard(x, labels, margin, squared)
    assert fallbacks > 0 and fallbacks < len(chosen)  # the batch exercises both branches of the rule
    torch.testing.assert_close(
        lc.semi_hard_triplet_loss(x, labels, margin=margin, squared=squared), torch.tensor(mean, dtype=torch.float64)
    )
    torch.testing.assert_close(
        lc.semi_hard_triplet_loss(x, labels, margin=margin, squared=squared, reduction="none"),
        torch.tensor(per_anchor, dtype=torch.float64),
    )
    module = lc.SemiHardTripletLoss(margin=margin, squared=squared, reduction="sum")
    torch.testing.assert_close(module(x, labels), torch.tensor(sum(per_anchor), dtype=torch.float64))
    a, p, n = lc.mine_triplets(x, labels, strategy="semihard", margin=margin, squared=squared)
    assert {(i, j): k for i, j, k in zip(a.tolist(), p.tolist(), n.tolist())} == chosen
    assert torch.autograd.gradcheck(
        lambda e: lc.semi_hard_triplet_loss(e, labels, margin=margin, squared=squared), (x.clone().requires_grad_(),)
    )


@pytest.mark.parametrize("squared", [False, True])
def test_mine_triplets_sets_match_brute_force(squared, monkeypatch):
    x, labels = _batch(num_classes=3, per_class=4, seed=4, spread=0.8)
    margin = 0.4
    d = ref_dist(x, squared)
    everything = list(valid_triplets(labels))
    want_all = {t for t in everything if d[t[0]][t[1]] - d[t[0]][t[2]] + margin > 0}
    want_easy = set(everything) - want_all
    monkeypatch.setattr(M, "_CHUNK_ELEMENTS", 20)  # several blocks of anchor-positive pairs
    for strategy, want in (("all", want_all), ("easy", want_easy)):
        a, p, n = lc.mine_triplets(x, labels, strategy=strategy, margin=margin, squared=squared)
        got = list(zip(a.tolist(), p.tolist(), n.tolist()))
        assert len(got) == len(set(got)) and set(got) == want
        assert got == sorted(got, key=lambda t: (t[0], t[1]))
    lab = labels.tolist()
    a, p, n = lc.mine_triplets(x, labels, strategy="hard", squared=squared)
    assert a.tolist() == list(range(len(lab)))
    for i, j, k in zip(a.tolist(), p.tolist(), n.tolist()):
        assert d[i][j] == pytest.approx(max(d[i][q] for q in range(len(lab)) if q != i and lab[q] == lab[i]))
        assert d[i][k] == pytest.approx(min(d[i][q] for q in range(len(lab)) if lab[q] != lab[i]))
    # the mined hard triplets give the batch-hard loss
    torch.testing.assert_close(
        lc.triplet_loss(x[a], x[p], x[n], margin=margin, squared=squared, reduction="none"),
        lc.batch_hard_triplet_loss(x, labels, margin=margin, squared=squared, reduction="none"),
    )


@settings(max_examples=40, deadline=None)
@given(
    num_classes=st.integers(2, 4),
    per_class=st.integers(2, 4),
    seed=st.integers(0, 10_000),
    margin=st.floats(0.0, 2.0),
    squared=st.booleans(),
)
def test_batch_hard_term_bounds_every_batch_all_term_of_its_anchor(num_classes, per_class, seed, margin, squared):
    x, labels = _batch(num_classes=num_classes, per_class=per_class, seed=seed, dim=3, spread=0.5)
    hard = lc.batch_hard_triplet_loss(x, labels, margin=margin, squared=squared, reduction="none")
    dist = M.pairwise_distances(x, squared=squared)
    for a, p, n in valid_triplets(labels):
        term = max(0.0, float(dist[a, p] - dist[a, n]) + margin)
        assert float(hard[a]) >= term - 1e-12


# ------------------------------------------------------------------ margin softmax
@pytest.mark.parametrize("kind", ["cosface", "arcface"])
@pytest.mark.parametrize("margin", [0.0, 0.35, 0.5, 1.2])
def test_margin_softmax_matches_reference(kind, margin):
    g = torch.Generator().manual_seed(6)
    emb = torch.randn(24, 5, generator=g, dtype=torch.float64)
    weight = torch.randn(6, 5, generator=g, dtype=torch.float64)
    target = torch.randint(0, 6, (24,), generator=g)
    emb[0] = -weight[target[0]] * 2  # theta = pi: past pi - m, the fixed branch of ArcFace
    want = ref_margin_softmax(emb, weight, target, 16.0, margin, kind)
    for reduction in REDUCTIONS:
        got = lc.margin_softmax_loss(emb, weight, target, scale=16.0, margin=margin, kind=kind, reduction=reduction)
        torch.testing.assert_close(got, {"none": want, "mean": want.mean(), "sum": want.sum()}[reduction])


@pytest.mark.parametrize("kind", ["cosface", "arcface"])
def test_margin_softmax_without_margin_is_cross_entropy_on_scaled_cosines(kind):
    emb, weight = torch.randn(10, 4), torch.randn(3, 4)
    target = torch.randint(0, 3, (10,))
    cos = F.normalize(emb, dim=1) @ F.normalize(weight, dim=1).T
    torch.testing.assert_close(
        lc.margin_softmax_loss(emb, weight, target, scale=30.0, margin=0.0, kind=kind), F.cross_entropy(30.0 * cos, target)
    )


@pytest.mark.parametrize("kind", ["cosface", "arcface"])
def test_margin_softmax_gradient_finite_at_cos_plus_minus_one(kind):
    weight = torch.randn(3, 4)
    emb = torch.stack([weight[0] * 3, -weight[1]]).requires_grad_(True)  # cos = +1 and -1 at the target
    w = weight.clone().requires_grad_(True)
    loss = lc.margin_softmax_loss(emb, w, torch.tensor([0, 1]), margin=0.5, kind=kind)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(emb.grad).all() and torch.isfinite(w.grad).all()
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    ww = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.autograd.gradcheck(lambda a, b: lc.margin_softmax_loss(a, b, t, scale=8.0, kind=kind), (x, ww))


def test_margin_softmax_module_owns_weight_and_round_trips():
    module = lc.MarginSoftmaxLoss(4, 5, scale=10.0, margin=0.4, kind="arcface", reduction="sum")
    assert module.weight.shape == (5, 4) and isinstance(module.weight, torch.nn.Parameter)
    emb, target = torch.randn(7, 4), torch.randint(0, 5, (7,))
    want = lc.margin_softmax_loss(emb, module.weight, target, scale=10.0, margin=0.4, kind="arcface", reduction="sum")
    torch.testing.assert_close(module(emb, target), want, rtol=0, atol=0)
    other = lc.MarginSoftmaxLoss(4, 5, scale=10.0, margin=0.4, kind="arcface", reduction="sum")
    other.load_state_dict(module.state_dict())
    torch.testing.assert_close(other(emb, target), want, rtol=0, atol=0)
    module(emb, target).backward()
    assert module.weight.grad is not None and torch.isfinite(module.weight.grad).all()


def test_margin_softmax_bad_inputs():
    emb, weight = torch.randn(4, 3), torch.randn(5, 3)
    with pytest.raises(ValueError, match=r"target class indices must be in \[0, 4\], got 5"):
        lc.margin_softmax_loss(emb, weight, torch.tensor([0, 1, 5, 2]))
    with pytest.raises(TypeError, match="target must hold class indices"):
        lc.margin_softmax_loss(emb, weight, torch.zeros(4))
    with pytest.raises(ValueError, match=r"weight must have shape \(C, D\) with D = 3 .*got \(5, 2\)"):
        lc.margin_softmax_loss(emb, torch.randn(5, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"kind must be one of \('cosface', 'arcface'\), got 'sphereface'"):
        lc.margin_softmax_loss(emb, weight, torch.zeros(4, dtype=torch.long), kind="sphereface")
    with pytest.raises(ValueError, match=r"scale must be in \(0.0, inf\], got 0.0"):
        lc.MarginSoftmaxLoss(3, 5, scale=0.0)
    with pytest.raises(ValueError, match=r"margin must be in \[0.0, 3.14159\d*\), got 4.0"):
        lc.MarginSoftmaxLoss(3, 5, margin=4.0, kind="arcface")


# ------------------------------------------------------------------ mining: bad inputs, modules, precision
MINING = {
    "batch_all": lambda e, l, **kw: lc.batch_all_triplet_loss(e, l, **kw),
    "batch_hard": lambda e, l, **kw: lc.batch_hard_triplet_loss(e, l, **kw),
    "semi_hard": lambda e, l, **kw: lc.semi_hard_triplet_loss(e, l, **kw),
    "mine_all": lambda e, l, **kw: lc.mine_triplets(e, l, strategy="all", **kw),
}


@pytest.mark.parametrize("name", list(MINING))
def test_mining_bad_inputs(name):
    fn = MINING[name]
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match=r"labels must contain at least 2 classes \(an anchor needs a negative\), got only class 7"):
        fn(x, torch.tensor([7, 7, 7, 7]))
    with pytest.raises(ValueError, match=r"labels must have shape \(B,\) = \(4,\) to match embeddings \(4, 3\), got \(5,\)"):
        fn(x, torch.tensor([0, 0, 1, 1, 1]))
    with pytest.raises(TypeError, match="labels must hold class indices"):
        fn(x, torch.tensor([0.0, 0.0, 1.0, 1.0]))
    bad = x.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match=r"embeddings must be finite, got nan at 1 position"):
        fn(bad, torch.tensor([0, 0, 1, 1]))
    bad[1, 2] = float("inf")
    with pytest.raises(ValueError, match=r"embeddings must be finite, got inf"):
        fn(bad, torch.tensor([0, 0, 1, 1]))
    with pytest.raises(ValueError, match=r"embeddings must have shape \(B, D\), got \(4,\)"):
        fn(torch.randn(4), torch.tensor([0, 0, 1, 1]))


def test_batch_hard_needs_a_positive_for_every_anchor():
    with pytest.raises(ValueError, match=r"every class needs at least 2 samples \(an anchor needs a positive\), got class 2 with 1 sample"):
        lc.batch_hard_triplet_loss(torch.randn(5, 3), torch.tensor([0, 0, 1, 1, 2]))
    # the other rules skip an anchor without a positive: it has no triplet
    x, labels = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 0, 1, 1, 2])
    assert lc.semi_hard_triplet_loss(x, labels, reduction="none")[4] == 0
    mean, _, _ = ref_batch_all(x, labels, 0.2, False)
    torch.testing.assert_close(lc.batch_all_triplet_loss(x, labels), torch.tensor(mean, dtype=torch.float64))


def test_mine_triplets_rejects_unknown_strategy():
    with pytest.raises(ValueError, match=r"strategy must be one of \('all', 'hard', 'semihard', 'easy'\), got 'hardest'"):
        lc.mine_triplets(torch.randn(4, 2), torch.tensor([0, 0, 1, 1]), strategy="hardest")


def test_batch_all_module_logs_the_fraction_without_saving_it():
    x, labels = _batch(seed=7, dtype=torch.float32, spread=0.5)
    module = lc.BatchAllTripletLoss(margin=0.3)
    loss = module(x, labels)
    want_loss, want_fraction = lc.batch_all_triplet_loss(x, labels, margin=0.3, return_fraction=True)
    torch.testing.assert_close(loss, want_loss, rtol=0, atol=0)
    torch.testing.assert_close(module.last_fraction_positive, want_fraction, rtol=0, atol=0)
    assert not module.last_fraction_positive.requires_grad
    assert "last_fraction_positive" not in module.state_dict()
    module2 = lc.SemiHardTripletLoss(margin=0.3, reduction="none")
    torch.testing.assert_close(module2(x, labels), lc.semi_hard_triplet_loss(x, labels, margin=0.3, reduction="none"), rtol=0, atol=0)


LOSSES_ON_BATCH = {
    "batch_all": lambda e, l: lc.batch_all_triplet_loss(e, l),
    "batch_hard": lambda e, l: lc.batch_hard_triplet_loss(e, l),
    "batch_hard_soft": lambda e, l: lc.batch_hard_triplet_loss(e, l, soft=True),
    "semi_hard": lambda e, l: lc.semi_hard_triplet_loss(e, l),
    "contrastive": lambda e, l: lc.contrastive_loss(e[0::2], e[1::2], l[0::2] == l[1::2]),
    "contrastive_float_labels": lambda e, l: lc.contrastive_loss(e[0::2], e[1::2], (l[0::2] == l[1::2]).float()),
    "triplet": lambda e, l: lc.triplet_loss(e[0::3], e[1::3], e[2::3]),
    "ranking": lambda e, l: lc.margin_ranking_loss(e[:, 0], e[:, 1]),
    "cosface": lambda e, l: lc.margin_softmax_loss(e, torch.ones(4, e.shape[1]).cumsum(0), l),
    "arcface": lambda e, l: lc.margin_softmax_loss(e, torch.ones(4, e.shape[1]).cumsum(0), l, kind="arcface", margin=0.5),
}


@pytest.mark.parametrize("name", list(LOSSES_ON_BATCH))
def test_autocast_bfloat16_and_half_inputs(name):
    fn = LOSSES_ON_BATCH[name]
    x, labels = _batch(num_classes=4, per_class=3, dim=6, seed=8, dtype=torch.float32)
    layer = torch.nn.Linear(6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
        assert out.dtype == torch.bfloat16
        loss = fn(out, labels)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(layer.weight.grad).all()
    for dtype in (torch.float16, torch.bfloat16):
        low = x.to(dtype).requires_grad_(True)
        loss = fn(low, labels)
        assert loss.dtype == torch.float32
        torch.testing.assert_close(loss, fn(low.detach().float(), labels), rtol=1e-5, atol=1e-5)
        loss.backward()
        assert low.grad.dtype == dtype and torch.isfinite(low.grad.float()).all()


@pytest.mark.parametrize("name", list(LOSSES_ON_BATCH))
def test_identical_embeddings_give_finite_gradients(name):
    fn = LOSSES_ON_BATCH[name]
    labels = torch.arange(4).repeat(3)
    x = torch.ones(12, 6).requires_grad_(True)  # every distance is 0
    fn(x, labels).backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", list(LOSSES_ON_BATCH))
def test_traces_without_graph_break(name):
    fn = LOSSES_ON_BATCH[name]
    x, labels = _batch(num_classes=4, per_class=3, dim=6, seed=9, dtype=torch.float32)
    compiled = torch.compile(fn, fullgraph=True, backend="eager")
    leaf, ref = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    loss = compiled(leaf, labels)
    loss.backward()
    want = fn(ref, labels)
    want.backward()
    torch.testing.assert_close(loss, want)
    torch.testing.assert_close(leaf.grad, ref.grad)


def test_reductions_are_consistent_for_per_anchor_losses():
    x, labels = _batch(seed=10, spread=0.5)
    for fn in (lc.batch_hard_triplet_loss, lc.semi_hard_triplet_loss, lc.batch_all_triplet_loss):
        none = fn(x, labels, reduction="none")
        assert none.shape == (x.shape[0],)
        torch.testing.assert_close(fn(x, labels, reduction="sum"), none.sum())
        with pytest.raises(ValueError, match=r"reduction must be one of .*got 'avg'"):
            fn(x, labels, reduction="avg")
    torch.testing.assert_close(lc.batch_hard_triplet_loss(x, labels), lc.batch_hard_triplet_loss(x, labels, reduction="none").mean())


def test_triplets_exactly_at_the_margin_are_inactive():
    # d(a, n) = d(a, p) + m exactly (dyadic values, exact in float64): loss 0, not counted as active
    x = torch.tensor([[0.0], [1.0], [1.5], [9.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    mean, fraction, per_anchor = ref_batch_all(x, labels, 0.5, False)
    assert fraction == 3 / 8
    loss, frac = lc.batch_all_triplet_loss(x, labels, margin=0.5, return_fraction=True)
    torch.testing.assert_close(loss, torch.tensor(mean, dtype=torch.float64))
    torch.testing.assert_close(frac, torch.tensor(fraction, dtype=torch.float64))
    a, p, n = lc.mine_triplets(x, labels, strategy="all", margin=0.5)
    assert len(a) == 3 and (0, 1, 2) not in set(zip(a.tolist(), p.tolist(), n.tolist()))
    a, p, n = lc.mine_triplets(x, labels, strategy="easy", margin=0.5)
    assert {(0, 1, 2), (3, 2, 1)} <= set(zip(a.tolist(), p.tolist(), n.tolist()))


def test_mining_losses_do_not_depend_on_the_block_size(monkeypatch):
    x, labels = _batch(num_classes=5, per_class=3, seed=11, spread=0.6)
    fns = [lambda e: lc.batch_all_triplet_loss(e, labels, margin=0.5, reduction="none"),
           lambda e: lc.batch_hard_triplet_loss(e, labels, reduction="none"),
           lambda e: lc.semi_hard_triplet_loss(e, labels, reduction="none")]
    whole = []
    for fn in fns:
        leaf = x.clone().requires_grad_(True)
        fn(leaf).sum().backward()
        whole.append((fn(x), leaf.grad))
    monkeypatch.setattr(M, "_CHUNK_ELEMENTS", 2 * x.shape[0])  # blocks of two anchors
    for fn, (loss, grad) in zip(fns, whole):
        leaf = x.clone().requires_grad_(True)
        got = fn(leaf)
        got.sum().backward()
        torch.testing.assert_close(got, loss)
        torch.testing.assert_close(leaf.grad, grad)


def test_every_loss_on_each_device_matches_the_cpu(device):
    x, labels = _batch(num_classes=4, per_class=3, dim=6, seed=12, dtype=torch.float32, spread=0.6)
    for name, fn in LOSSES_ON_BATCH.items():
        if name in ("cosface", "arcface"):
            weight = torch.ones(4, 6).cumsum(0)
            fn = (lambda kind: lambda e, l: lc.margin_softmax_loss(e, weight.to(e.device), l, kind=kind, margin=0.5))(name)
        leaf = x.clone().to(device).requires_grad_(True)
        loss = fn(leaf, labels.to(device))
        loss.backward()
        ref = x.clone().requires_grad_(True)
        want = fn(ref, labels)
        want.backward()
        torch.testing.assert_close(loss.cpu(), want, rtol=1e-4, atol=1e-5, msg=name)
        torch.testing.assert_close(leaf.grad.cpu(), ref.grad, rtol=1e-4, atol=1e-5, msg=name)
    for strategy in M.MINING_STRATEGIES:
        got = lc.mine_triplets(x.to(device), labels.to(device), strategy=strategy)
        want = lc.mine_triplets(x, labels, strategy=strategy)
        assert all(torch.equal(g.cpu(), w) for g, w in zip(got, want)), strategy


def test_contrastive_needs_one_embedding_per_row():
    with pytest.raises(ValueError, match=r"x1 must have shape \(N, D\), got \(2, 3, 4\)"):
        lc.contrastive_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.ones(2))

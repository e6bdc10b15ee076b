"""Tests of losscookbook.sampling: negative sampling, samplers, sampled and in-batch softmax, frequency estimation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import losscookbook as lc
from contract import assert_rejects_reduction


def _randn(*shape, seed=0, dtype=torch.float32, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


class EveryItemOnce:
    """A sampler stub: uniform Q, and each draw of C samples returns every item exactly once."""

    def __init__(self, num_items: int, device="cpu"):
        self.log_probs = torch.full((num_items,), -math.log(num_items), dtype=torch.float64, device=device)

    def sample(self, n, generator=None):
        assert n == self.log_probs.numel()
        return torch.arange(n, device=self.log_probs.device)


class FixedDraws:
    """A sampler stub with a given Q that returns given candidates (to compare with a loop)."""

    def __init__(self, probs: torch.Tensor, draws: torch.Tensor):
        self.log_probs = probs.log()
        self.draws = draws

    def sample(self, n, generator=None):
        return self.draws[:n]


# ------------------------------------------------------------------ references written from the formulas
def ref_negative_sampling(center, context, negatives):
    """-[log sigma(u_o.v_c) + sum_k log sigma(-u_k.v_c)] per example, float64 loops."""

    def log_sigmoid(x):
        return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))

    out = []
    for i in range(center.shape[0]):
        v = center[i].double().tolist()
        u = context[i].double().tolist()
        negs = negatives[i] if negatives.dim() == 3 else negatives
        total = log_sigmoid(sum(a * b for a, b in zip(u, v)))
        for k in range(negs.shape[0]):
            total += log_sigmoid(-sum(a * b for a, b in zip(negs[k].double().tolist(), v)))
        out.append(-total)
    return torch.tensor(out, dtype=torch.float64)


def ref_sampled_softmax(query, weight, target, candidates, log_q, *, bias=None, correct=True, on_target=False, remove=True):
    """-s_y' + log(exp(s_y') + sum_k exp(s_jk')) per example in float64 loops (the docstring's formula)."""
    S = len(candidates)
    out = []
    for i in range(query.shape[0]):
        q = query[i].double()
        y = int(target[i])

        def logit(j):
            s = float(q @ weight[j].double()) + (0.0 if bias is None else float(bias[j]))
            return s

        s_y = logit(y) - (math.log(S) + float(log_q[y]) if correct and on_target else 0.0)
        terms = [s_y]
        for j in candidates.tolist():
            if remove and j == y:
                continue
            terms.append(logit(j) - (math.log(S) + float(log_q[j]) if correct else 0.0))
        m = max(terms)
        out.append(m + math.log(sum(math.exp(t - m) for t in terms)) - s_y)
    return torch.tensor(out, dtype=torch.float64)


def ref_in_batch(query, items, temperature, log_q=None, item_ids=None):
    B = query.shape[0]
    out = []
    for i in range(B):
        terms = []
        for j in range(B):
            if item_ids is not None and j != i and int(item_ids[j]) == int(item_ids[i]):
                continue
            s = float(query[i].double() @ items[j].double()) / temperature
            if log_q is not None:
                s -= float(log_q[j])
            terms.append((j, s))
        pos = next(s for j, s in terms if j == i)
        m = max(s for _, s in terms)
        out.append(m + math.log(sum(math.exp(s - m) for _, s in terms)) - pos)
    return torch.tensor(out, dtype=torch.float64)


def ref_estimator(stream, num_buckets, alpha, hash=lambda i: i % 7):
    """Yi et al.'s algorithm, one id at a time; first sighting sets B = t; unseen reports 1/(t+1)."""
    A = [0] * num_buckets
    Bv = [0.0] * num_buckets
    t = 0
    for batch in stream:
        t += 1
        for i in batch:
            h = hash(i)
            if A[h] == 0:
                Bv[h] = float(t - A[h])
            else:
                Bv[h] = (1 - alpha) * Bv[h] + alpha * (t - A[h])
            A[h] = t
    return [-math.log(Bv[h]) if A[h] > 0 else -math.log(t + 1) for h in range(num_buckets)]


# ------------------------------------------------------------------ negative sampling
@pytest.mark.parametrize("shared", [False, True])
def test_negative_sampling_matches_formula_in_float64(shared):
    N, K, D = 6, 4, 5
    center, context = _randn(N, D, seed=1, dtype=torch.float64, scale=2), _randn(N, D, seed=2, dtype=torch.float64, scale=2)
    negatives = _randn(K, D, seed=3, dtype=torch.float64, scale=2) if shared else _randn(N, K, D, seed=3, dtype=torch.float64, scale=2)
    loss = lc.negative_sampling_loss(center, context, negatives, reduction="none")
    torch.testing.assert_close(loss, ref_negative_sampling(center, context, negatives), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lc.negative_sampling_loss(center, context, negatives), loss.mean())
    torch.testing.assert_close(lc.negative_sampling_loss(center, context, negatives, reduction="sum"), loss.sum())
    if shared:
        expanded = negatives.expand(N, K, D)
        torch.testing.assert_close(loss, lc.negative_sampling_loss(center, context, expanded, reduction="none"))


def test_negative_sampling_against_bce_with_logits():
    N, K, D = 8, 3, 4
    v, u, neg = _randn(N, D, seed=1), _randn(N, D, seed=2), _randn(N, K, D, seed=3)
    logits = torch.cat([(v * u).sum(1, keepdim=True), torch.einsum("nd,nkd->nk", v, neg)], 1)
    labels = torch.cat([torch.ones(N, 1), torch.zeros(N, K)], 1)
    expected = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").sum(1)
    torch.testing.assert_close(lc.negative_sampling_loss(v, u, neg, reduction="none"), expected)


def test_negative_sampling_saturated_zero_negatives_empty_and_module():
    v = torch.tensor([[100.0, 0.0]], requires_grad=True)
    u, neg = torch.tensor([[-100.0, 0.0]]), torch.tensor([[[100.0, 0.0]]])  # dot products -1e4 and 1e4
    loss = lc.negative_sampling_loss(v, u, neg)
    loss.backward()
    assert torch.isclose(loss, torch.tensor(2e4)) and torch.isfinite(v.grad).all()
    assert torch.isclose(lc.negative_sampling_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 0, 3)), torch.tensor(math.log(2)))
    x = torch.zeros(0, 3, requires_grad=True)
    empty = lc.negative_sampling_loss(x, torch.zeros(0, 3), torch.zeros(0, 2, 3))
    empty.backward()
    assert empty.item() == 0.0 and x.grad.shape == (0, 3)
    a, b, c = _randn(4, 3, seed=1), _randn(4, 3, seed=2), _randn(4, 2, 3, seed=3)
    for reduction in ("none", "mean", "sum"):
        torch.testing.assert_close(
            lc.NegativeSamplingLoss(reduction=reduction)(a, b, c), lc.negative_sampling_loss(a, b, c, reduction=reduction), rtol=0, atol=0
        )


def test_negative_sampling_gradcheck():
    v, u, neg = (_randn(3, 4, seed=1, dtype=torch.float64), _randn(3, 4, seed=2, dtype=torch.float64),
                 _randn(3, 2, 4, seed=3, dtype=torch.float64))
    for t in (v, u, neg):
        t.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b, c: lc.negative_sampling_loss(a, b, c, reduction="none"), (v, u, neg))


def test_negative_sampling_bad_inputs():
    v = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"context must have the same shape as center, expected \(3, 4\), got \(3, 5\)"):
        lc.negative_sampling_loss(v, torch.zeros(3, 5), torch.zeros(3, 2, 4))
    with pytest.raises(ValueError, match=r"negatives must have shape \(N, K, D\) = \(3, K, 4\), got \(2, 2, 4\)"):
        lc.negative_sampling_loss(v, v, torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"negatives must have shape \(K, D\) = \(K, 4\) when shared, got \(2, 3\)"):
        lc.negative_sampling_loss(v, v, torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"center must have shape \(N, D\), got \(4,\)"):
        lc.negative_sampling_loss(torch.zeros(4), torch.zeros(4), torch.zeros(2, 4))
    with pytest.raises(TypeError, match=r"negatives must be a floating-point tensor, got dtype torch.int64"):
        lc.negative_sampling_loss(v, v, torch.zeros(3, 2, 4, dtype=torch.long))
    assert_rejects_reduction(lambda a, b, reduction: lc.negative_sampling_loss(a, b, torch.zeros(3, 2, 4), reduction=reduction), v, v)


# ------------------------------------------------------------------ the unigram sampler
def test_unigram_sampler_probabilities_and_draws():
    counts = torch.tensor([100.0, 10.0, 1.0, 0.0, 50.0])
    sampler = lc.unigram_sampler(counts, power=0.75)
    expected = torch.tensor([c**0.75 if c > 0 else 0.0 for c in counts.tolist()], dtype=torch.float64)
    expected /= expected.sum()
    torch.testing.assert_close(sampler.log_probs.double().exp(), expected, rtol=1e-6, atol=0)
    assert sampler.log_probs[3] == -math.inf
    torch.testing.assert_close(sampler.log_prob(torch.tensor([[0, 4]])), sampler.log_probs[torch.tensor([[0, 4]])])
    n = 200_000
    draws = sampler.sample(n, generator=torch.Generator().manual_seed(0))
    assert draws.dtype == torch.int64 and draws.shape == (n,)
    freq = torch.bincount(draws, minlength=5).double() / n
    assert freq[3] == 0
    # each frequency within 5 standard errors of its probability
    se = (expected * (1 - expected) / n).sqrt()
    assert ((freq - expected).abs() <= 5 * se + 1e-12).all(), (freq, expected)
    again = sampler.sample(n, generator=torch.Generator().manual_seed(0))
    assert torch.equal(draws, again)


def test_unigram_sampler_power_zero_is_uniform_over_seen_items_and_state_dict():
    sampler = lc.UnigramSampler(torch.tensor([5, 1, 0, 7]), power=0.0)
    torch.testing.assert_close(sampler.log_probs.exp(), torch.tensor([1 / 3, 1 / 3, 0.0, 1 / 3]))
    other = lc.UnigramSampler(torch.ones(4))
    other.load_state_dict(sampler.state_dict())
    assert torch.equal(other.log_probs, sampler.log_probs) and torch.equal(other.cdf, sampler.cdf)
    assert sampler.num_items == 4 and sampler.sample(0).shape == (0,)


def test_unigram_sampler_moves_with_module(device):
    sampler = lc.unigram_sampler(torch.arange(1.0, 11.0)).to(device)
    assert sampler.log_probs.device.type == device.type
    assert sampler.sample(7).device.type == device.type
    loss_module = lc.SampledSoftmaxLoss(num_sampled=3, sampler=lc.unigram_sampler(torch.ones(10))).to(device)
    assert loss_module.sampler.cdf.device.type == device.type


def test_unigram_sampler_bad_counts():
    with pytest.raises(ValueError, match=r"counts values must be in \[0.0, inf\], got -1.0"):
        lc.unigram_sampler(torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"counts must be finite, got nan"):
        lc.unigram_sampler(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match=r"counts must be finite, got inf"):
        lc.unigram_sampler(torch.tensor([1.0, float("inf")]))
    with pytest.raises(ValueError, match=r"counts must not be all zero"):
        lc.unigram_sampler(torch.zeros(3))
    with pytest.raises(ValueError, match=r"counts must have shape \(C,\) with C >= 1, got \(2, 2\)"):
        lc.unigram_sampler(torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"power must be in \[0.0, inf\], got -0.5"):
        lc.unigram_sampler(torch.ones(3), power=-0.5)
    with pytest.raises(TypeError, match=r"counts must be a torch.Tensor, got list"):
        lc.unigram_sampler([1, 2])


# ------------------------------------------------------------------ sampled softmax
def test_sampled_softmax_with_every_item_sampled_is_the_full_softmax():
    N, Cn, D = 7, 12, 5
    query = _randn(N, D, seed=1, dtype=torch.float64, scale=2).requires_grad_(True)
    weight = _randn(Cn, D, seed=2, dtype=torch.float64).requires_grad_(True)
    bias = _randn(Cn, seed=3, dtype=torch.float64).requires_grad_(True)
    target = torch.tensor([0, 3, 11, 5, 5, 7, 2])
    loss = lc.sampled_softmax_loss(query, weight, target, num_sampled=Cn, sampler=EveryItemOnce(Cn), bias=bias)
    full = F.cross_entropy(query @ weight.T + bias, target)
    torch.testing.assert_close(loss, full, rtol=1e-12, atol=1e-12)
    grads = torch.autograd.grad(loss, (query, weight, bias))
    full_grads = torch.autograd.grad(full, (query, weight, bias))
    for a, b in zip(grads, full_grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # the same through candidates, with a uniform UnigramSampler
    loss2 = lc.sampled_softmax_loss(query, weight, target, num_sampled=Cn, sampler=lc.unigram_sampler(torch.ones(Cn)),
                                    bias=bias, candidates=torch.arange(Cn))
    torch.testing.assert_close(loss2, full, rtol=1e-6, atol=1e-6)
    # without removing accidental hits the target counts twice: log(Z + e^{s_y}) - s_y
    logits = query @ weight.T + bias
    twice = (torch.logaddexp(torch.logsumexp(logits, 1), logits.gather(1, target[:, None]).squeeze(1))
             - logits.gather(1, target[:, None]).squeeze(1)).mean()
    kept = lc.sampled_softmax_loss(query, weight, target, num_sampled=Cn, sampler=EveryItemOnce(Cn), bias=bias,
                                   remove_accidental_hits=False)
    torch.testing.assert_close(kept, twice, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("correct,on_target,remove", [(True, False, True), (True, True, True), (False, False, True),
                                                      (True, False, False), (False, False, False)])
def test_sampled_softmax_matches_loop_reference(correct, on_target, remove):
    N, Cn, D, S = 6, 9, 4, 7
    query, weight, bias = (_randn(N, D, seed=1, dtype=torch.float64, scale=2), _randn(Cn, D, seed=2, dtype=torch.float64),
                           _randn(Cn, seed=4, dtype=torch.float64))
    probs = torch.softmax(_randn(Cn, seed=3, dtype=torch.float64), 0)
    target = torch.tensor([0, 1, 2, 2, 8, 4])
    draws = torch.tensor([2, 2, 5, 0, 8, 1, 3])  # hits for targets 0, 1, 2 (twice) and 8
    sampler = FixedDraws(probs, draws)
    loss = lc.sampled_softmax_loss(query, weight, target, num_sampled=S, sampler=sampler, bias=bias,
                                   logq_correction=correct, logq_on_target=on_target,
                                   remove_accidental_hits=remove, reduction="none")
    expected = ref_sampled_softmax(query, weight, target, draws, sampler.log_probs, bias=bias, correct=correct,
                                   on_target=on_target, remove=remove)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
    given = lc.sampled_softmax_loss(query, weight, target, num_sampled=S, sampler=sampler, bias=bias, candidates=draws,
                                    logq_correction=correct, logq_on_target=on_target,
                                    remove_accidental_hits=remove, reduction="none")
    torch.testing.assert_close(given, loss, rtol=0, atol=0)


def test_sampled_softmax_logq_on_target_equals_tensorflow_form():
    # TF subtracts log(expected count) = log(S q) from true and sampled logits: the S cancels
    N, Cn, D, S = 5, 8, 3, 6
    query, weight = _randn(N, D, seed=1, dtype=torch.float64), _randn(Cn, D, seed=2, dtype=torch.float64)
    probs = torch.softmax(_randn(Cn, seed=3, dtype=torch.float64), 0)
    draws, target = torch.tensor([1, 4, 4, 6, 7, 0]), torch.tensor([0, 2, 3, 5, 6])
    ours = lc.sampled_softmax_loss(query, weight, target, num_sampled=S, sampler=FixedDraws(probs, draws),
                                   logq_on_target=True, reduction="none")
    true = (query * weight[target]).sum(1) - probs[target].log()
    sampled = query @ weight[draws].T - probs[draws].log()
    sampled = sampled.masked_fill(draws[None] == target[:, None], -math.inf)
    tf_like = F.cross_entropy(torch.cat([true[:, None], sampled], 1), torch.zeros(N, dtype=torch.long), reduction="none")
    torch.testing.assert_close(ours, tf_like, rtol=1e-12, atol=1e-12)


def test_sampled_softmax_approaches_full_loss_from_below():
    N, Cn, D = 64, 200, 6
    query, weight = _randn(N, D, seed=1, scale=1.5), _randn(Cn, D, seed=2)
    counts = 1.0 / torch.arange(1.0, Cn + 1)
    target = torch.multinomial(counts, N, replacement=True, generator=torch.Generator().manual_seed(5))
    sampler = lc.unigram_sampler(counts, power=1.0)
    full = F.cross_entropy(query @ weight.T, target).item()
    g = torch.Generator().manual_seed(0)
    bias = {}
    for S in (5, 200):
        runs = [lc.sampled_softmax_loss(query, weight, target, num_sampled=S, sampler=sampler, generator=g).item() for _ in range(200)]
        bias[S] = sum(runs) / len(runs) - full
    assert bias[5] < 0 and bias[200] < 0 and abs(bias[200]) < abs(bias[5]) / 4, bias


def test_sampled_softmax_generator_reproducible_and_module(device):
    Cn = 50
    query, weight = _randn(4, 3, seed=1).to(device), _randn(Cn, 3, seed=2).to(device)
    target = torch.tensor([0, 1, 2, 49], device=device)
    sampler = lc.unigram_sampler(torch.arange(1.0, Cn + 1)).to(device)

    def gen():
        return torch.Generator(device=device).manual_seed(3)

    a = lc.sampled_softmax_loss(query, weight, target, num_sampled=10, sampler=sampler, generator=gen())
    b = lc.sampled_softmax_loss(query, weight, target, num_sampled=10, sampler=sampler, generator=gen())
    assert torch.equal(a, b)
    module = lc.SampledSoftmaxLoss(num_sampled=10, sampler=sampler)
    torch.testing.assert_close(module(query, weight, target, generator=gen()), a, rtol=0, atol=0)
    none = lc.sampled_softmax_loss(query, weight, target, num_sampled=10, sampler=sampler, generator=gen(), reduction="none")
    torch.testing.assert_close(none.mean(), a)
    assert torch.isfinite(none).all() and none.shape == (4,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device type")
def test_sampled_softmax_rejects_a_generator_on_another_device():
    sampler = lc.unigram_sampler(torch.ones(10)).to("cuda")
    q, w, t = torch.zeros(2, 3, device="cuda"), torch.zeros(10, 3, device="cuda"), torch.tensor([0, 1], device="cuda")
    with pytest.raises(ValueError, match=r"generator must be on the sampler's device cuda:0, got a generator on cpu"):
        lc.sampled_softmax_loss(q, w, t, num_sampled=2, sampler=sampler, generator=torch.Generator())


def test_sampled_softmax_gradcheck():
    query = _randn(3, 4, seed=1, dtype=torch.float64).requires_grad_(True)
    weight = _randn(6, 4, seed=2, dtype=torch.float64).requires_grad_(True)
    bias = _randn(6, seed=3, dtype=torch.float64).requires_grad_(True)
    sampler = lc.unigram_sampler(torch.arange(1.0, 7.0))
    draws = torch.tensor([0, 0, 3, 5])

    def fn(q, w, b):
        return lc.sampled_softmax_loss(q, w, torch.tensor([0, 2, 5]), num_sampled=4, sampler=sampler, bias=b,
                                       candidates=draws, reduction="none")

    assert torch.autograd.gradcheck(fn, (query, weight, bias))


def test_sampled_softmax_empty_batch_and_saturated_logits():
    sampler = lc.unigram_sampler(torch.ones(5))
    q = torch.zeros(0, 3, requires_grad=True)
    loss = lc.sampled_softmax_loss(q, torch.randn(5, 3), torch.zeros(0, dtype=torch.long), num_sampled=2, sampler=sampler)
    loss.backward()
    assert loss.item() == 0.0
    q = torch.tensor([[100.0, 0.0]], requires_grad=True)
    w = torch.tensor([[-100.0, 0.0], [100.0, 0.0]])  # logits -1e4 (target) and 1e4
    loss = lc.sampled_softmax_loss(q, w, torch.tensor([0]), num_sampled=2, sampler=lc.unigram_sampler(torch.ones(2)),
                                   candidates=torch.tensor([1, 1]))
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 1e4 and torch.isfinite(q.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_are_computed_in_float32(dtype):
    Cn = 20
    q, w = _randn(5, 4, seed=1).to(dtype), _randn(Cn, 4, seed=2).to(dtype)
    target = torch.tensor([0, 1, 2, 3, 19])
    sampler = lc.unigram_sampler(torch.arange(1.0, Cn + 1))
    draws = sampler.sample(8, torch.Generator().manual_seed(0))
    cases = [
        (lambda a, b: lc.sampled_softmax_loss(a, b, target, num_sampled=8, sampler=sampler, candidates=draws), (q, w)),
        (lambda a, b: lc.in_batch_softmax_loss(a, b[:5], temperature=0.5), (q, w)),
        (lambda a, b: lc.negative_sampling_loss(a, b[:5], b[5:10]), (q, w)),
    ]
    for fn, (a, b) in cases:
        reference = fn(a.float(), b.float())
        x = a.clone().requires_grad_(True)
        loss = fn(x, b)
        assert loss.dtype == torch.float32
        torch.testing.assert_close(loss, reference, rtol=1e-5, atol=1e-6)
        loss.backward()
        assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()


def test_sampled_softmax_bad_inputs():
    q, w, t = torch.zeros(3, 4), torch.zeros(10, 4), torch.tensor([0, 1, 2])
    sampler = lc.unigram_sampler(torch.ones(10))
    with pytest.raises(ValueError, match=r"num_sampled must be at most the number of classes C = 10 \(rows of weight\), got 11"):
        lc.sampled_softmax_loss(q, w, t, num_sampled=11, sampler=sampler)
    with pytest.raises(ValueError, match=r"num_sampled must be an integer in \[1, inf\], got 0"):
        lc.sampled_softmax_loss(q, w, t, num_sampled=0, sampler=sampler)
    with pytest.raises(ValueError, match=r"weight must have shape \(C, D\) = \(C, 4\) for query \(3, 4\), got \(10, 5\)"):
        lc.sampled_softmax_loss(q, torch.zeros(10, 5), t, num_sampled=2, sampler=sampler)
    with pytest.raises(ValueError, match=r"target must have shape \(N,\) = \(3,\), got \(2,\)"):
        lc.sampled_softmax_loss(q, w, t[:2], num_sampled=2, sampler=sampler)
    with pytest.raises(TypeError, match=r"target must hold class indices \(an integer tensor\), got dtype torch.float32"):
        lc.sampled_softmax_loss(q, w, t.float(), num_sampled=2, sampler=sampler)
    with pytest.raises(ValueError, match=r"target values must be in \[0, 9\], got 10"):
        lc.sampled_softmax_loss(q, w, torch.tensor([0, 10, 1]), num_sampled=2, sampler=sampler)
    with pytest.raises(ValueError, match=r"sampler.log_probs must have shape \(C,\) = \(10,\) to match weight, got \(8,\)"):
        lc.sampled_softmax_loss(q, w, t, num_sampled=2, sampler=lc.unigram_sampler(torch.ones(8)))
    with pytest.raises(TypeError, match=r"sampler must have a log_probs tensor and a sample\(n, generator\) method, got str"):
        lc.sampled_softmax_loss(q, w, t, num_sampled=2, sampler="unigram")
    with pytest.raises(ValueError, match=r"logq_on_target=True needs logq_correction=True"):
        lc.sampled_softmax_loss(q, w, t, num_sampled=2, sampler=sampler, logq_correction=False, logq_on_target=True)
    with pytest.raises(ValueError, match=r"bias must have shape \(C,\) = \(10,\), got \(9,\)"):
        lc.sampled_softmax_loss(q, w, t, num_sampled=2, sampler=sampler, bias=torch.zeros(9))
    with pytest.raises(ValueError, match=r"candidates must have shape \(num_sampled,\) = \(2,\), got \(3,\)"):
        lc.sampled_softmax_loss(q, w, t, num_sampled=2, sampler=sampler, candidates=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"candidates values must be in \[0, 9\], got -1"):
        lc.sampled_softmax_loss(q, w, t, num_sampled=2, sampler=sampler, candidates=torch.tensor([0, -1]))
    assert_rejects_reduction(lambda a, b, reduction: lc.sampled_softmax_loss(a, w, b, num_sampled=2, sampler=sampler,
                                                                             reduction=reduction), q, t)


# ------------------------------------------------------------------ in-batch softmax
def test_in_batch_softmax_matches_cross_entropy_on_the_score_matrix():
    q, v = _randn(8, 5, seed=1), _randn(8, 5, seed=2)
    for tau in (0.05, 1.0):
        expected = F.cross_entropy(q @ v.T / tau, torch.arange(8), reduction="none")
        torch.testing.assert_close(lc.in_batch_softmax_loss(q, v, temperature=tau, reduction="none"), expected)
        torch.testing.assert_close(lc.in_batch_softmax_loss(q, v, temperature=tau, reduction="sum"), expected.sum())
        torch.testing.assert_close(lc.InBatchSoftmaxLoss(temperature=tau)(q, v), expected.mean(), rtol=1e-6, atol=1e-6)


def test_in_batch_logq_and_duplicates_match_loop_reference():
    B = 7
    q, v = _randn(B, 4, seed=1, dtype=torch.float64), _randn(B, 4, seed=2, dtype=torch.float64)
    log_q = torch.log(torch.softmax(_randn(B, seed=3, dtype=torch.float64), 0))
    ids = torch.tensor([3, 1, 3, 2, 1, 3, 0])
    for kwargs in ({"log_q": log_q}, {"item_ids": ids}, {"log_q": log_q, "item_ids": ids}):
        loss = lc.in_batch_softmax_loss(q, v, temperature=0.5, reduction="none", **kwargs)
        torch.testing.assert_close(loss, ref_in_batch(q, v, 0.5, **kwargs), rtol=1e-12, atol=1e-12)
    # module passes log_q and item_ids through
    torch.testing.assert_close(lc.InBatchSoftmaxLoss(temperature=0.5, reduction="none")(q, v, log_q, ids),
                               lc.in_batch_softmax_loss(q, v, temperature=0.5, log_q=log_q, item_ids=ids, reduction="none"))


def test_in_batch_duplicates_without_ids_add_about_log_2():
    # the same item twice in a batch, perfectly separated from everything else
    q = torch.tensor([[10.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    v = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    plain = lc.in_batch_softmax_loss(q, v, temperature=1.0, reduction="none")
    masked = lc.in_batch_softmax_loss(q, v, temperature=1.0, item_ids=torch.tensor([5, 5, 6]), reduction="none")
    torch.testing.assert_close(plain[:2], torch.full((2,), math.log(2.0)), atol=1e-4, rtol=0)
    assert masked[:2].max() < 1e-4


def test_in_batch_gradcheck():
    q = _randn(4, 3, seed=1, dtype=torch.float64).requires_grad_(True)
    v = _randn(4, 3, seed=2, dtype=torch.float64).requires_grad_(True)
    log_q = _randn(4, seed=3, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b, c: lc.in_batch_softmax_loss(a, b, temperature=0.7, log_q=c,
                                                                             item_ids=torch.tensor([0, 1, 0, 2]),
                                                                             reduction="none"), (q, v, log_q))


def test_in_batch_bad_inputs():
    q = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"items must have the same shape as query, expected \(4, 3\), got \(5, 3\)"):
        lc.in_batch_softmax_loss(q, torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"log_q must have shape \(B,\) = \(4,\), got \(3,\)"):
        lc.in_batch_softmax_loss(q, q, log_q=torch.zeros(3))
    with pytest.raises(ValueError, match=r"item_ids must have shape \(B,\) = \(4,\), got \(4, 1\)"):
        lc.in_batch_softmax_loss(q, q, item_ids=torch.zeros(4, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"temperature must be in \(0.0, inf\], got 0.0"):
        lc.in_batch_softmax_loss(q, q, temperature=0.0)
    with pytest.raises(TypeError, match=r"item_ids must hold class indices \(an integer tensor\), got dtype torch.float32"):
        lc.in_batch_softmax_loss(q, q, item_ids=torch.zeros(4))
    assert_rejects_reduction(lambda a, b, reduction: lc.in_batch_softmax_loss(a, b, reduction=reduction), q, q)


# ------------------------------------------------------------------ torch.compile: no graph breaks
def test_every_loss_traces_with_fullgraph():
    torch._dynamo.reset()
    Cn = 30
    sampler = lc.unigram_sampler(torch.arange(1.0, Cn + 1))
    q, w, t = _randn(6, 4, seed=1), _randn(Cn, 4, seed=2), torch.tensor([0, 1, 2, 3, 4, 29])

    def sampled(a, b, c):
        return lc.sampled_softmax_loss(a, b, c, num_sampled=8, sampler=sampler)  # global generator

    compiled = torch.compile(sampled, fullgraph=True, backend="eager")
    x = q.clone().requires_grad_(True)
    torch.manual_seed(11)
    loss = compiled(x, w, t)
    loss.backward()
    torch.manual_seed(11)
    torch.testing.assert_close(loss, sampled(q, w, t))
    assert torch.isfinite(x.grad).all()

    draws = sampler.sample(8, torch.Generator().manual_seed(0))  # a fixed generator, outside the graph
    given = torch.compile(lambda a, b, c, d: lc.sampled_softmax_loss(a, b, c, num_sampled=8, sampler=sampler, candidates=d),
                          fullgraph=True, backend="eager")
    torch.testing.assert_close(given(q, w, t, draws),
                               lc.sampled_softmax_loss(q, w, t, num_sampled=8, sampler=sampler, candidates=draws))

    ids = torch.tensor([0, 1, 0, 2, 3, 4])
    in_batch = torch.compile(lambda a, b, c: lc.in_batch_softmax_loss(a, b, log_q=c, item_ids=ids), fullgraph=True, backend="eager")
    log_q = torch.log(torch.full((6,), 1 / 6))
    x = q.clone().requires_grad_(True)
    out = in_batch(x, w[:6], log_q)
    out.backward()
    torch.testing.assert_close(out, lc.in_batch_softmax_loss(q, w[:6], log_q=log_q, item_ids=ids))

    ns = torch.compile(lambda a, b, c: lc.negative_sampling_loss(a, b, c), fullgraph=True, backend="eager")
    x = q.clone().requires_grad_(True)
    out = ns(x, w[:6], w[6:12].reshape(6, 1, 4))
    out.backward()
    torch.testing.assert_close(out, lc.negative_sampling_loss(q, w[:6], w[6:12].reshape(6, 1, 4)))

    est, ref = lc.StreamingFrequencyEstimator(7, alpha=0.1), lc.StreamingFrequencyEstimator(7, alpha=0.1)
    update = torch.compile(est.update, fullgraph=True, backend="eager")
    for batch in ([1, 2, 2], [3, 1, 1], [8, 2, 1]):
        update(torch.tensor(batch))
        ref.update(torch.tensor(batch))
    torch.testing.assert_close(est.gap, ref.gap)


# ------------------------------------------------------------------ streaming frequency estimator
def test_estimator_matches_the_sequential_algorithm():
    g = torch.Generator().manual_seed(0)
    stream = [torch.randint(0, 20, (int(torch.randint(1, 9, (1,), generator=g)),), generator=g) for _ in range(60)]
    est = lc.StreamingFrequencyEstimator(7, alpha=0.2)  # ids 0..19 collide in 7 buckets
    for batch in stream:
        est.update(batch)
    expected = ref_estimator([b.tolist() for b in stream], 7, 0.2)
    torch.testing.assert_close(est.log_probability(torch.arange(7)), torch.tensor(expected, dtype=torch.float64),
                               rtol=1e-12, atol=1e-12)
    assert int(est.step) == 60


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(0, 12), min_size=1, max_size=6), min_size=1, max_size=15),
       st.floats(0.01, 0.99))
def test_estimator_property_against_loop(stream, alpha):
    est = lc.StreamingFrequencyEstimator(5, alpha=alpha, hash=lambda ids: (ids * 3) % 5)
    for batch in stream:
        est.update(torch.tensor(batch))
    expected = ref_estimator(stream, 5, alpha, hash=lambda i: (i * 3) % 5)
    # ids 0..4 map onto the 5 buckets (3 is invertible mod 5)
    got = est.log_probability(torch.tensor([(h * 2) % 5 for h in range(5)]))
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-9, atol=1e-9)


def test_estimator_converges_to_true_rates_and_state_dict_round_trips(device):
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    g = torch.Generator().manual_seed(1)
    est = lc.StreamingFrequencyEstimator(4, alpha=0.01).to(device)
    for _ in range(3000):
        est.update(torch.multinomial(probs, 1, generator=g).to(device))  # one item per step
    rate = est.log_probability(torch.arange(4, device=device)).exp().cpu()
    torch.testing.assert_close(rate, probs.double(), rtol=0.2, atol=0)
    other = lc.StreamingFrequencyEstimator(4, alpha=0.01)
    other.load_state_dict({k: v.cpu() for k, v in est.state_dict().items()})
    assert set(est.state_dict()) == {"last_step", "gap", "step"}
    torch.testing.assert_close(other.log_probability(torch.arange(4)).exp(), rate)
    other.update(torch.tensor([0]))
    assert int(other.step) == 3001


def test_estimator_unseen_and_bad_inputs():
    est = lc.StreamingFrequencyEstimator(10)
    est.update(torch.tensor([1]))
    torch.testing.assert_close(est.log_probability(torch.tensor([1, 2])), torch.tensor([0.0, -math.log(2)], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"alpha must be in \(0.0, 1.0\), got 1.0"):
        lc.StreamingFrequencyEstimator(10, alpha=1.0)
    with pytest.raises(ValueError, match=r"num_buckets must be an integer in \[1, inf\], got 0"):
        lc.StreamingFrequencyEstimator(0)
    with pytest.raises(TypeError, match=r"ids must hold class indices \(an integer tensor\), got dtype torch.float32"):
        est.update(torch.tensor([1.0]))
    bad = lc.StreamingFrequencyEstimator(4, hash=lambda ids: ids + 10)
    with pytest.raises(ValueError, match=r"hash\(ids\) values must be in \[0, 3\], got 11"):
        bad.update(torch.tensor([1]))
    wrong = lc.StreamingFrequencyEstimator(4, hash=lambda ids: ids[:1])
    with pytest.raises(ValueError, match=r"hash must return one bucket per id, shape \(2,\), got \(1,\)"):
        wrong.update(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match=r"hash must be callable, got int"):
        lc.StreamingFrequencyEstimator(4, hash=3)


# ------------------------------------------------------------------ properties and autocast
@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(2, 12), st.integers(1, 12), st.integers(0, 2**31 - 1), st.booleans())
def test_sampled_softmax_is_non_negative_and_zero_only_without_competition(n, num_classes, num_sampled, seed, correct):
    num_sampled = min(num_sampled, num_classes)
    g = torch.Generator().manual_seed(seed)
    q, w = torch.randn(n, 3, generator=g, dtype=torch.float64) * 3, torch.randn(num_classes, 3, generator=g, dtype=torch.float64)
    target = torch.randint(0, num_classes, (n,), generator=g)
    sampler = lc.unigram_sampler(torch.rand(num_classes, generator=g) + 0.1)
    loss = lc.sampled_softmax_loss(q, w, target, num_sampled=num_sampled, sampler=sampler, generator=g,
                                   logq_correction=correct, reduction="none")
    # the true logit is always in the softmax: -s_y + log(e^{s_y} + ...) >= 0
    assert (loss >= 0).all() and torch.isfinite(loss).all()
    # when every candidate is the target itself, nothing competes and the loss is 0
    only_hits = lc.sampled_softmax_loss(q, w, target[:1].expand(n), num_sampled=num_sampled, sampler=sampler,
                                        candidates=target[:1].expand(num_sampled), reduction="none")
    assert torch.equal(only_hits, torch.zeros(n, dtype=torch.float64))


def test_losses_under_bfloat16_autocast():
    layer = torch.nn.Linear(4, 6)
    x = _randn(8, 4, seed=1)
    weight = torch.nn.Parameter(_randn(30, 6, seed=2))
    sampler = lc.unigram_sampler(torch.arange(1.0, 31.0))
    target = torch.arange(8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
        assert out.dtype == torch.bfloat16
        losses = [
            lc.sampled_softmax_loss(out, weight, target, num_sampled=10, sampler=sampler, generator=torch.Generator().manual_seed(0)),
            lc.in_batch_softmax_loss(out, layer(x.flip(0)), temperature=1.0),
            lc.negative_sampling_loss(out, layer(x.flip(0)), weight[:5]),
        ]
    for loss in losses:
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
    sum(losses).backward()
    assert torch.isfinite(layer.weight.grad).all() and torch.isfinite(weight.grad).all()

"""Tests of losscookbook.metrics against float64 references written in the tests."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from losscookbook.metrics import (
    accuracy,
    average_precision,
    balanced_accuracy,
    expected_calibration_error,
    fit_temperature,
    reliability_curve,
)


def ref_ece(probs, target, n_bins):
    """Guo et al.: bins (lo, hi] of the top-class confidence, weighted |acc - conf|."""
    conf, pred = probs.max(1)
    n, total = len(target), 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [i for i in range(n) if (lo < conf[i] <= hi) or (b == 0 and conf[i] == 0)]
        if members:
            acc = sum(float(pred[i] == target[i]) for i in members) / len(members)
            mean_conf = sum(float(conf[i]) for i in members) / len(members)
            total += len(members) / n * abs(acc - mean_conf)
    return total


def ref_average_precision(scores, target):
    """Sum over distinct thresholds t (descending) of (R(t) - R(t_prev)) * P(t)."""
    pairs = sorted(zip(scores.tolist(), target.tolist()), key=lambda p: -p[0])
    num_pos = sum(t for _, t in pairs)
    ap, prev_recall = 0.0, 0.0
    for threshold in sorted({s for s, _ in pairs}, reverse=True):
        selected = [t for s, t in pairs if s >= threshold]
        tp = sum(selected)
        recall, precision = tp / num_pos, tp / len(selected)
        ap += (recall - prev_recall) * precision
        prev_recall = recall
    return ap


@pytest.mark.parametrize("n_bins", [1, 5, 15])


def test_ece_matches_reference(n_bins):
    logits = torch.randn(300, 4) * 3
    target = torch.randint(0, 4, (300,))
    expected = ref_ece(torch.softmax(logits.double(), 1), target, n_bins)
    assert expected_calibration_error(logits, target, n_bins=n_bins) == pytest.approx(expected, abs=1e-9)


def test_ece_binary_logits_use_two_class_confidence():
    logits = torch.randn(200) * 2
    target = (torch.rand(200) < torch.sigmoid(logits)).long()
    two_class = torch.stack([torch.zeros(200), logits], 1)  # softmax([0, x])_1 = sigmoid(x)
    assert expected_calibration_error(logits, target) == pytest.approx(
        expected_calibration_error(two_class, target), abs=1e-9
    )


def test_ece_of_a_calibrated_model_is_small_and_of_an_overconfident_one_large():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(20000, 5, generator=g) * 2
    target = torch.multinomial(torch.softmax(logits, 1), 1, generator=g).squeeze(1)
    assert expected_calibration_error(logits, target) < 0.02
    assert expected_calibration_error(logits * 4, target) > 0.15


def test_reliability_curve_counts_and_empty_bins():
    logits = torch.tensor([[5.0, 0.0], [5.0, 0.0], [0.1, 0.0]])
    curve = reliability_curve(logits, torch.tensor([0, 1, 0]), n_bins=10)
    assert curve.count.sum() == 3 and curve.count[9] == 2 and curve.count[5] == 1
    assert torch.isnan(curve.accuracy[0]) and curve.accuracy[9] == 0.5


def test_accuracy_and_balanced_accuracy():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [1.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 0])) == 0.75
    assert accuracy(torch.tensor([1.0, -1.0]), torch.tensor([1, 1])) == 0.5
    pred, target = torch.tensor([0, 0, 0, 0, 1]), torch.tensor([0, 0, 0, 1, 1])
    assert balanced_accuracy(pred, target) == pytest.approx((1.0 + 0.5) / 2)
    assert balanced_accuracy(torch.zeros(1000, dtype=torch.long), (torch.arange(1000) < 10).long()) == 0.5


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 1)), min_size=1, max_size=40))


def test_average_precision_matches_reference_with_ties(pairs):
    scores = torch.tensor([float(s) for s, _ in pairs])
    target = torch.tensor([t for _, t in pairs])
    if target.sum() == 0:
        with pytest.raises(ValueError, match="at least one positive"):
            average_precision(scores, target)
        return
    assert average_precision(scores, target) == pytest.approx(ref_average_precision(scores, target), abs=1e-12)


def test_average_precision_extremes():
    target = torch.tensor([1, 1, 0, 0, 0])
    assert average_precision(torch.tensor([5.0, 4, 3, 2, 1]), target) == 1.0
    assert average_precision(torch.tensor([1.0, 2, 3, 4, 5]), target) == pytest.approx((1 / 4 + 2 / 5) / 2)


def test_fit_temperature_recovers_a_known_temperature():
    g = torch.Generator().manual_seed(0)
    true_logits = torch.randn(5000, 4, generator=g) * 1.5
    target = torch.multinomial(torch.softmax(true_logits, 1), 1, generator=g).squeeze(1)
    for factor in (0.5, 2.0, 4.0):
        assert fit_temperature(true_logits * factor, target) == pytest.approx(factor, rel=0.08)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: expected_calibration_error(torch.zeros(3, 2), torch.tensor([0, 2, 1])), ValueError, r"target class indices must be in \[0, 1\], got 2"),
        (lambda: expected_calibration_error(torch.zeros(3, 2), torch.zeros(3, 2)), TypeError, r"target must hold class indices"),
        (lambda: expected_calibration_error(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), n_bins=0), ValueError, r"n_bins must be an integer in \[1, inf\], got 0"),
        (lambda: expected_calibration_error(torch.zeros(3, 2, 2), torch.zeros(3, dtype=torch.long)), ValueError, r"logits must have shape \(N,\) or \(N, C\)"),
        (lambda: average_precision(torch.zeros(3), torch.tensor([0, 2, 1])), ValueError, r"target values must be one of \(0, 1\), got 2"),
        (lambda: average_precision(torch.zeros(3, 1), torch.zeros(3, 1)), ValueError, r"scores must have shape \(N,\)"),
        (lambda: balanced_accuracy(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long)), ValueError, r"target must have the same shape as prediction"),
        (lambda: fit_temperature(torch.zeros(3), torch.zeros(3, dtype=torch.long)), ValueError, r"logits must have shape \(N, C\)"),
    ],
)
def test_metrics_reject_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- comparisons over seeds
from losscookbook.metrics import paired_difference, recall_at_k, t_quantile  # noqa: E402


@pytest.mark.parametrize(
    "p, df, expected",  # Student-t table values
    [(0.975, 1, 12.7062), (0.975, 4, 2.7764), (0.975, 9, 2.2622), (0.95, 9, 1.8331), (0.995, 19, 2.8609), (0.975, 200, 1.9719)],
)
def test_t_quantile_matches_the_table(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=2e-4)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=2e-4)


def test_paired_difference_is_the_t_interval_of_the_differences():
    a = [0.8, 0.7, 0.9, 0.85, 0.75, 0.95]
    b = [0.6, 0.72, 0.8, 0.8, 0.7, 0.9]
    d = [x - y for x, y in zip(a, b)]
    mean = sum(d) / 6
    sd = (sum((x - mean) ** 2 for x in d) / 5) ** 0.5
    half = 2.5706 * sd / 6**0.5  # t_{0.975, 5}
    result = paired_difference(a, b)
    assert result.mean == pytest.approx(mean)
    assert result.low == pytest.approx(mean - half, abs=1e-4)
    assert result.high == pytest.approx(mean + half, abs=1e-4)
    assert (result.n, result.wins) == (6, 5)
    assert "5/6" in str(result)


def test_paired_difference_rejects_unpaired_input():
    with pytest.raises(ValueError, match="one value per seed"):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="confidence"):
        paired_difference([1.0], [1.0], confidence=1.0)


def test_recall_at_k_against_a_loop():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(300, 5, generator=g)
    labels = torch.randint(0, 20, (300,), generator=g)
    for k in (1, 3):
        hits = 0
        for i in range(300):
            d = [(float((x[i] - x[j]).norm()), j) for j in range(300) if j != i]
            nearest = [j for _, j in sorted(d)[:k]]
            hits += any(int(labels[j]) == int(labels[i]) for j in nearest)
        assert recall_at_k(x, labels, k=k) == pytest.approx(hits / 300)
    assert recall_at_k(x[:10], labels[:10], gallery=x, gallery_labels=labels) == 1.0  # each query is in the gallery


def test_recall_at_k_rejects_bad_input():
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        recall_at_k(x, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="k must be at most 3"):
        recall_at_k(x, torch.zeros(4, dtype=torch.long), k=4)


# --------------------------------------------------------------------------- multi-label F1
from losscookbook.metrics import multilabel_f1  # noqa: E402


def ref_multilabel_f1(pred, true, average, zero_division=0.0):
    """Counts of TP, FP, FN in plain loops over samples and labels."""
    n, num_labels = len(pred), len(pred[0])
    counts = []
    for k in range(num_labels):
        tp = sum(1 for i in range(n) if pred[i][k] == 1 and true[i][k] == 1)
        fp = sum(1 for i in range(n) if pred[i][k] == 1 and true[i][k] == 0)
        fn = sum(1 for i in range(n) if pred[i][k] == 0 and true[i][k] == 1)
        counts.append((tp, fp, fn))

    def f1(tp, fp, fn):
        return zero_division if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)

    if average == "micro":
        return f1(*(sum(c[j] for c in counts) for j in range(3)))
    return sum(f1(*c) for c in counts) / num_labels


@pytest.mark.parametrize("average", ["micro", "macro"])


@pytest.mark.parametrize("seed", range(4))
def test_multilabel_f1_matches_a_plain_loop(average, seed):
    g = torch.Generator().manual_seed(seed)
    true = (torch.rand(37, 5, generator=g) < torch.tensor([0.5, 0.3, 0.1, 0.05, 0.0])).long()
    pred = (torch.rand(37, 5, generator=g) < 0.3).long()
    expected = ref_multilabel_f1(pred.tolist(), true.tolist(), average)
    assert multilabel_f1(pred, true, average=average) == pytest.approx(expected, abs=1e-12)
    # bool predictions and float targets give the same score
    assert multilabel_f1(pred.bool(), true.float(), average=average) == pytest.approx(expected, abs=1e-12)


def test_multilabel_f1_special_cases():
    true = torch.tensor([[1, 0], [0, 1], [1, 1]])
    assert multilabel_f1(true, true) == 1.0 and multilabel_f1(true, true, average="macro") == 1.0
    assert multilabel_f1(1 - true, true) == 0.0
    empty = torch.zeros(3, 2, dtype=torch.long)
    assert multilabel_f1(empty, empty) == 0.0 and multilabel_f1(empty, empty, zero_division=1.0) == 1.0
    # a label nobody has and nobody predicts: 0/0 -> zero_division, counted in the macro mean
    true = torch.tensor([[1, 0], [1, 0]])
    assert multilabel_f1(true, true, average="macro") == 0.5
    assert multilabel_f1(true, true, average="macro", zero_division=1.0) == 1.0
    assert multilabel_f1(true, true, average="micro") == 1.0


def test_multilabel_f1_agrees_with_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(7)
    true = (torch.rand(200, 6, generator=g) < 0.2).long()
    pred = (torch.rand(200, 6, generator=g) < 0.25).long()
    for average in ("micro", "macro"):
        expected = sklearn_metrics.f1_score(true.numpy(), pred.numpy(), average=average, zero_division=0)
        assert multilabel_f1(pred, true, average=average) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: multilabel_f1([[1]], torch.ones(1, 1)), TypeError, r"prediction must be a torch.Tensor, got list"),
        (lambda: multilabel_f1(torch.ones(3), torch.ones(3)), ValueError, r"prediction must have shape \(N, L\), got \(3,\)"),
        (lambda: multilabel_f1(torch.ones(3, 2), torch.ones(3, 1)), ValueError, r"target must have the same shape as prediction, expected \(3, 2\), got \(3, 1\)"),
        (lambda: multilabel_f1(torch.ones(2, 2), torch.ones(2, 2), average="weighted"), ValueError, r"average must be one of \('micro', 'macro'\), got 'weighted'"),
        (lambda: multilabel_f1(torch.full((2, 2), 0.7), torch.ones(2, 2)), ValueError, r"prediction values must be one of \(0, 1\), got 0.7"),
        (lambda: multilabel_f1(torch.ones(2, 2), torch.full((2, 2), 2)), ValueError, r"target values must be one of \(0, 1\), got 2"),
        (lambda: multilabel_f1(torch.ones(2, 2), torch.ones(2, 2), zero_division=2.0), ValueError, r"zero_division must be in \[0.0, 1.0\], got 2.0"),
    ],
)
def test_multilabel_f1_bad_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ ROC AUC
from losscookbook.metrics import roc_auc  # noqa: E402


def _auc_by_pairs(scores, target):
    """Mann-Whitney by a double loop over positive-negative pairs, ties counting one half."""
    pos = [s for s, t in zip(scores.tolist(), target.tolist()) if t == 1]
    neg = [s for s, t in zip(scores.tolist(), target.tolist()) if t == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1)), min_size=2, max_size=40))


def test_roc_auc_matches_pair_counting_with_ties(pairs):
    scores = torch.tensor([float(s) for s, _ in pairs])
    target = torch.tensor([t for _, t in pairs])
    if target.sum() in (0, len(pairs)):
        with pytest.raises(ValueError, match="both classes"):
            roc_auc(scores, target)
        return
    assert roc_auc(scores, target) == pytest.approx(_auc_by_pairs(scores, target), abs=1e-12)


def test_roc_auc_properties_and_bad_input():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(500, generator=g)
    y = (torch.rand(500, generator=g) < 0.3).long()
    assert roc_auc(s, y) == pytest.approx(1 - roc_auc(-s, y), abs=1e-12)
    assert roc_auc(torch.sigmoid(3 * s), y) == pytest.approx(roc_auc(s, y), abs=1e-12)  # invariant to monotone maps
    assert roc_auc(y.double() + 0.1 * s, y) == 1.0
    assert roc_auc(torch.zeros(500), y) == 0.5
    with pytest.raises(ValueError, match=r"target values must be one of \(0, 1\), got 2"):
        roc_auc(s[:3], torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"scores must have shape \(N,\), got \(500, 1\)"):
        roc_auc(s[:, None], y)
    with pytest.raises(TypeError, match=r"scores must be a floating-point tensor"):
        roc_auc(y, y)

"""Tests of compare_losses, its metric registry and its result object."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import losscookbook as lc  # noqa: E402
from losscookbook.metrics import t_quantile  # noqa: E402
from losscookbook.training import METRICS, compare_losses, compute_metric, mlp  # noqa: E402


# ------------------------------------------------------------------ metrics against hand computations
def _counts(pred, true, positive):
    tp = sum(1 for p, t in zip(pred, true) if p == positive and t == positive)
    fp = sum(1 for p, t in zip(pred, true) if p == positive and t != positive)
    fn = sum(1 for p, t in zip(pred, true) if p != positive and t == positive)
    return tp, fp, fn


def _safe(a, b):
    return a / b if b else 0.0


def test_binary_threshold_metrics_match_hand_counts():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(200, generator=g, dtype=torch.float64)
    target = (torch.rand(200, generator=g) < 0.3).long()
    pred = [int(z > 0) for z in logits.tolist()]
    true = target.tolist()
    tp, fp, fn = _counts(pred, true, 1)
    tn = sum(1 for p, t in zip(pred, true) if p == 0 and t == 0)
    assert compute_metric("precision", logits, target) == pytest.approx(tp / (tp + fp), abs=1e-12)
    assert compute_metric("recall", logits, target) == pytest.approx(tp / (tp + fn), abs=1e-12)
    assert compute_metric("f1", logits, target) == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-12)
    assert compute_metric("accuracy", logits, target) == pytest.approx((tp + tn) / 200, abs=1e-12)
    assert compute_metric("balanced_accuracy", logits, target) == pytest.approx(
        (tp / (tp + fn) + tn / (tn + fp)) / 2, abs=1e-12
    )
    log_loss = -sum(
        t * math.log(1 / (1 + math.exp(-z))) + (1 - t) * math.log(1 - 1 / (1 + math.exp(-z)))
        for z, t in zip(logits.tolist(), true)
    ) / 200
    assert compute_metric("log_loss", logits, target) == pytest.approx(log_loss, rel=1e-10)


def test_binary_output_shapes_and_float_labels_agree():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(50, generator=g)
    y = (torch.rand(50, generator=g) < 0.4).long()
    two = torch.stack([torch.zeros(50), z], 1) + torch.randn(50, 1, generator=g)  # the difference is z
    for name in ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "average_precision", "roc_auc", "ece", "log_loss"):
        reference = compute_metric(name, z, y)
        assert compute_metric(name, z[:, None], y) == pytest.approx(reference, abs=1e-6), name
        assert compute_metric(name, z, y.float()) == pytest.approx(reference, abs=1e-12), name
        assert compute_metric(name, two, y) == pytest.approx(reference, abs=1e-5), name


def test_multiclass_metrics_are_macro_averages_over_present_classes():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(120, 4, generator=g, dtype=torch.float64)
    target = torch.randint(0, 3, (120,), generator=g)  # class 3 never occurs: it is not averaged
    pred = logits.argmax(1).tolist()
    true = target.tolist()
    precisions, recalls, f1s = [], [], []
    for k in range(3):
        tp, fp, fn = _counts(pred, true, k)
        precisions.append(_safe(tp, tp + fp))
        recalls.append(_safe(tp, tp + fn))
        f1s.append(_safe(2 * tp, 2 * tp + fp + fn))
    assert compute_metric("precision", logits, target) == pytest.approx(sum(precisions) / 3, abs=1e-12)
    assert compute_metric("recall", logits, target) == pytest.approx(sum(recalls) / 3, abs=1e-12)
    assert compute_metric("balanced_accuracy", logits, target) == pytest.approx(sum(recalls) / 3, abs=1e-12)
    assert compute_metric("f1", logits, target) == pytest.approx(sum(f1s) / 3, abs=1e-12)
    p = torch.softmax(logits, 1)
    log_loss = -sum(math.log(p[i, t]) for i, t in enumerate(true)) / 120
    assert compute_metric("log_loss", logits, target) == pytest.approx(log_loss, rel=1e-10)
    # AUC one class against the rest, by counting pairs
    aucs = []
    for k in range(3):
        pos = [float(p[i, k]) for i in range(120) if true[i] == k]
        neg = [float(p[i, k]) for i in range(120) if true[i] != k]
        aucs.append(sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg)))
    assert compute_metric("roc_auc", logits, target) == pytest.approx(sum(aucs) / 3, abs=1e-12)
    # AP one class against the rest: mean of the precision at the rank of each positive (no ties)
    aps = []
    for k in range(3):
        order = sorted(range(120), key=lambda i: -float(p[i, k]))
        hits, total = 0, 0.0
        for rank, i in enumerate(order, start=1):
            if true[i] == k:
                hits += 1
                total += hits / rank
        aps.append(total / hits)
    assert compute_metric("average_precision", logits, target) == pytest.approx(sum(aps) / 3, abs=1e-12)


def test_regression_metrics_match_numpy():
    g = torch.Generator().manual_seed(3)
    pred = torch.randn(101, generator=g, dtype=torch.float64)
    y = torch.randn(101, generator=g, dtype=torch.float64) * 2
    e = pred.numpy() - y.numpy()
    assert compute_metric("mae", pred, y) == pytest.approx(np.abs(e).mean(), rel=1e-12)
    assert compute_metric("mse", pred, y) == pytest.approx((e**2).mean(), rel=1e-12)
    assert compute_metric("rmse", pred[:, None], y) == pytest.approx(np.sqrt((e**2).mean()), rel=1e-12)
    assert compute_metric("median_absolute_error", pred[:100], y[:100]) == pytest.approx(np.median(np.abs(e[:100])), rel=1e-12)
    r2 = 1 - (e**2).sum() / ((y.numpy() - y.numpy().mean()) ** 2).sum()
    assert compute_metric("r2", pred, y) == pytest.approx(r2, rel=1e-12)


def test_metric_registry_directions():
    lower = {name for name, m in METRICS.items() if not m.higher_is_better}
    assert lower == {"ece", "log_loss", "mae", "mse", "rmse", "median_absolute_error"}
    assert {m.task for m in METRICS.values()} == {"classification", "regression"}


def test_compute_metric_rejects_mismatched_targets():
    with pytest.raises(ValueError, match=r"must be one of .*'accuracy'.*got 'auc'"):
        compute_metric("auc", torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match=r"target \(read by the regression metric 'mae'\) must be a floating-point tensor, got dtype torch.int64"):
        compute_metric("mae", torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"values must be one of \(0, 1\), got 2.5 \(the classification metric 'recall'"):
        compute_metric("recall", torch.zeros(3), torch.tensor([0.0, 1.0, 2.5]))
    with pytest.raises(ValueError, match=r"class indices must be in \[0, 2\], got 3"):
        compute_metric("accuracy", torch.zeros(2, 3), torch.tensor([0, 3]))


# ------------------------------------------------------------------ compare_losses
def _blobs(n=240, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=g)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
    return X[: n // 2], y[: n // 2], X[n // 2 :], y[n // 2 :]


def _ignores_target(z, t):  # a "loss" that never looks at the labels
    return (z**2).mean()


LOSSES = {"CE": F.cross_entropy, "ignores the target": _ignores_target}
KW = dict(metrics=("accuracy", "ece"), seeds=[0, 1, 2], epochs=15, lr=0.05, device="cpu", progress=False)


def _model():
    return mlp(2, 2, hidden=8, depth=1)


def test_a_loss_that_ignores_the_target_loses_and_the_table_is_the_t_interval():
    X, y, Xv, yv = _blobs()
    result = compare_losses(_model, LOSSES, train=(X, y), val=(Xv, yv), **KW)
    assert result.best("accuracy") == "CE"
    assert result.paired("accuracy", "CE", "ignores the target").low > 0.2
    table = result.table()
    for loss in result.losses:
        for metric in result.metrics:
            values = result.values[loss][metric]
            assert len(values) == 3
            mean = sum(values) / 3
            sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
            half = t_quantile(0.975, 2) * sd / math.sqrt(3)
            cell = table.rows[loss][metric]
            assert cell.mean == pytest.approx(mean, abs=1e-12)
            assert (cell.low, cell.high) == pytest.approx((mean - half, mean + half), abs=1e-12)
    text = str(table)
    assert text.splitlines()[0] == "| loss | accuracy (higher is better) | ece (lower is better) |"
    assert f"{table.rows['CE']['accuracy'].mean:.4f}" in text
    assert "Student-t" in table._repr_markdown_()
    assert len(result.history["CE"]) == 3 and len(result.history["CE"][0]) == 15
    assert result.history["CE"][0][-1] < result.history["CE"][0][0]
    assert len(result.val_loss["CE"]) == 3


def test_lower_is_better_metrics_pick_the_smallest():
    X, y, Xv, yv = _blobs()
    result = compare_losses(_model, LOSSES, train=(X, y), val=(Xv, yv), **{**KW, "metrics": ("log_loss",)})
    assert result.best("log_loss") == min(result.losses, key=lambda k: sum(result.values[k]["log_loss"]))


def test_the_same_seeds_reproduce_and_other_seeds_differ():
    X, y, Xv, yv = _blobs()
    kw = {**KW, "batch_size": 32}
    a = compare_losses(_model, {"CE": F.cross_entropy}, train=(X, y), val=(Xv, yv), **kw)
    b = compare_losses(_model, {"CE": F.cross_entropy}, train=(X, y), val=(Xv, yv), **kw)
    c = compare_losses(_model, {"CE": F.cross_entropy}, train=(X, y), val=(Xv, yv), **{**kw, "seeds": [5, 6, 7]})
    assert a.values == b.values and a.history == b.history
    assert a.history != c.history


def test_a_data_loader_gives_the_results_of_the_same_tensors_without_shuffling():
    X, y, Xv, yv = _blobs()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=False)
    val_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xv, yv), batch_size=50)
    kw = {**KW, "seeds": [0, 1]}
    from_tensors = compare_losses(_model, LOSSES, train=(X, y), val=(Xv, yv), batch_size=32, shuffle=False, **kw)
    from_loader = compare_losses(_model, LOSSES, train=loader, val=val_loader, **kw)
    for loss in LOSSES:
        for a, b in zip(from_loader.history[loss], from_tensors.history[loss]):
            assert a == pytest.approx(b, abs=1e-6)
        for metric in kw["metrics"]:
            assert from_loader.values[loss][metric] == pytest.approx(from_tensors.values[loss][metric], abs=1e-6)


def test_binary_one_logit_regression_and_multiclass_models(device):
    g = torch.Generator().manual_seed(4)
    X = torch.randn(300, 3, generator=g)
    y = (X[:, 0] > 0.3).float()
    binary = compare_losses(
        lambda: nn.Sequential(mlp(3, 1, hidden=8, depth=1), nn.Flatten(0)),
        {"BCE": F.binary_cross_entropy_with_logits, "focal": lc.SigmoidFocalLoss(alpha=None, gamma=2.0)},
        train=(X[:200], y[:200]), val=(X[200:], y[200:]), metrics=("recall", "average_precision"),
        seeds=[0, 1], epochs=20, lr=0.05, device=device, progress=False,
    )
    assert min(binary.values["BCE"]["average_precision"]) > 0.9
    t = 2 * X[:, 0] - X[:, 1] + 0.1 * torch.randn(300, generator=g)
    regression = compare_losses(
        lambda: nn.Sequential(nn.Linear(3, 1), nn.Flatten(0)), {"MSE": lc.mse_loss, "Huber": lc.HuberLoss(delta=1.0)},
        train=(X[:200], t[:200]), val=(X[200:], t[200:]), metrics=("mae", "r2"),
        seeds=[0, 1], epochs=100, lr=0.05, device=device, progress=False,
    )
    assert regression.best("r2") in ("MSE", "Huber") and min(regression.values["MSE"]["r2"]) > 0.9
    classes = torch.bucketize(X[:, 0].contiguous(), torch.tensor([-0.5, 0.5]))
    multiclass = compare_losses(
        lambda: mlp(3, 3, hidden=8, depth=1), {"CE": F.cross_entropy, "focal": lc.SoftmaxFocalLoss(gamma=2.0)},
        train=(X[:200], classes[:200]), val=(X[200:], classes[200:]), metrics=("accuracy", "f1", "roc_auc"),
        seeds=[0, 1], epochs=30, lr=0.05, device=device, progress=False,
    )
    assert min(multiclass.values["CE"]["accuracy"]) > 0.8


def test_module_losses_are_copied_for_every_run():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(100, 2, generator=g)
    y = (X[:, 0] > 0).float()
    ghm = lc.GHMCLoss(bins=5, momentum=0.75)
    before = {k: v.clone() for k, v in ghm.state_dict().items()}
    model = lambda: nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # noqa: E731
    kw = dict(train=(X, y), val=(X, y), metrics=("accuracy",), seeds=[0, 1], epochs=5, device="cpu", progress=False)
    first = compare_losses(model, {"GHM": ghm}, **kw)
    second = compare_losses(model, {"GHM": ghm}, **kw)
    assert all(torch.equal(before[k], v) for k, v in ghm.state_dict().items())
    assert first.values == second.values


def test_evaluate_scores_the_kept_models_on_other_data():
    X, y, Xv, yv = _blobs()
    result = compare_losses(_model, LOSSES, train=(X, y), val=(Xv, yv), keep_models=True, **KW)
    again = result.evaluate((Xv, yv))
    for k in LOSSES:
        for m in KW["metrics"]:
            assert again.values[k][m] == pytest.approx(result.values[k][m], abs=1e-6)
    on_train = result.evaluate((X, y), metrics=["log_loss"])
    assert on_train.metrics == ["log_loss"] and len(on_train.values["CE"]["log_loss"]) == 3
    no_models = compare_losses(_model, LOSSES, train=(X, y), val=(Xv, yv), **KW)
    with pytest.raises(ValueError, match="keep_models=True"):
        no_models.evaluate((Xv, yv))


def test_progress_bar_is_tqdm_and_can_be_silenced(capsys, monkeypatch):
    import tqdm.auto

    bars = []

    class Recording(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    X, y, Xv, yv = _blobs()
    kw = {**KW, "seeds": [0], "epochs": 2}
    compare_losses(_model, LOSSES, train=(X, y), val=(Xv, yv), **{**kw, "progress": True})
    assert len(bars) == 1 and bars[0].total == 2 and bars[0].n == 2
    assert "compare_losses" in capsys.readouterr().err
    compare_losses(_model, LOSSES, train=(X, y), val=(Xv, yv), **kw)
    assert len(bars) == 1  # no bar at all
    assert capsys.readouterr().err == ""


def test_plot_draws_one_panel_per_metric_with_means_intervals_and_seeds():
    X, y, Xv, yv = _blobs()
    result = compare_losses(_model, LOSSES, train=(X, y), val=(Xv, yv), **KW)
    axes = result.plot()
    assert len(axes) == 2
    for ax, metric in zip(axes, result.metrics):
        assert len(ax.containers) == 2  # one error bar per loss
        assert len(ax.collections) >= 2  # the seeds' dots
        dots = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets()) == 3])
        assert sorted(dots.tolist()) == pytest.approx(sorted(v for k in LOSSES for v in result.values[k][metric]))
        assert [t.get_text() for t in ax.get_xticklabels()] == list(LOSSES)
        assert metric in ax.get_title()
    fig, given = plt.subplots(1, 2)
    assert result.plot(axes=given) == list(given)
    with pytest.raises(ValueError, match=r"axes must hold one axes per metric \(2\), got 1"):
        result.plot(axes=[given[0]])
    (only,) = result.plot(metrics=["ece"])
    assert "ece" in only.get_title() and len(only.containers) == 2
    with pytest.raises(ValueError, match=r"metrics\[0\] must be one of \('accuracy', 'ece'\), got 'recall'"):
        result.plot(metrics=["recall"])
    plt.close("all")


def test_paired_and_summary_name_unknown_losses_and_metrics():
    X, y, Xv, yv = _blobs()
    result = compare_losses(_model, LOSSES, train=(X, y), val=(Xv, yv), **KW)
    with pytest.raises(ValueError, match=r"metric must be one of \('accuracy', 'ece'\), got 'recall'"):
        result.best("recall")
    with pytest.raises(ValueError, match=r"b must be one of \('CE', 'ignores the target'\), got 'focal'"):
        result.paired("accuracy", "CE", "focal")
    single = compare_losses(_model, LOSSES, train=(X, y), val=(Xv, yv), **{**KW, "seeds": [0]})
    assert math.isinf(single.summary("CE", "accuracy").high)


# ------------------------------------------------------------------ bad input, before any training
def _trap_model():
    """A model factory that counts its calls: the checks must fail before the first training run."""
    calls = []

    def build():
        calls.append(1)
        return mlp(2, 2, hidden=4, depth=1)

    return build, calls


@pytest.mark.parametrize(
    "change, error, message",
    [
        (dict(metrics=("accuracy", "auc")), ValueError, r"metrics\[1\] must be one of \('accuracy', 'balanced_accuracy'.*'r2'\), got 'auc'"),
        (dict(metrics=()), ValueError, r"metrics must name at least one of"),
        (dict(losses={}), ValueError, r"losses must be a non-empty dict"),
        (dict(seeds=[]), ValueError, r"seeds must hold at least one seed"),
        (dict(seeds=[0, 0]), ValueError, r"seeds must not repeat a seed, got \[0, 0\]"),
        (dict(epochs=0), ValueError, r"epochs must be an integer in \[1, inf\], got 0"),
        (dict(optimizer="rmsprop"), ValueError, r"optimizer must be one of \('adam', 'sgd'\), got 'rmsprop'"),
        (dict(train="data"), TypeError, r"train must be a pair of tensors \(X, y\) or a DataLoader"),
        (dict(train=(torch.zeros(10, 2), torch.zeros(9, dtype=torch.long))), ValueError,
         r"train must be \(X, y\) with one target per row of X, got X of shape \(10, 2\) and y of shape \(9,\)"),
        (dict(metrics=("mae",)), TypeError,
         r"val target \(read by the regression metric 'mae'\) must be a floating-point tensor, got dtype torch.int64"),
        (dict(losses={"CE": F.cross_entropy, "MSE": lc.mse_loss}), ValueError,
         r"losses\['MSE'\] does not accept the model's output of shape \(2, 2\) with targets of dtype torch.int64"),
        (dict(losses={"none": lambda z, t: F.cross_entropy(z, t, reduction="none")}), ValueError,
         r"losses\['none'\] must return a scalar floating-point tensor \(reduce the loss\), got shape \(2,\)"),
        (dict(losses={"detached": lambda z, t: F.cross_entropy(z.detach(), t)}), ValueError,
         r"losses\['detached'\] returned a loss without a gradient"),
    ],
)
def test_bad_input_is_rejected_before_training(change, error, message):
    X, y, Xv, yv = _blobs()
    build, calls = _trap_model()
    kwargs = dict(losses={"CE": F.cross_entropy}, train=(X, y), val=(Xv, yv), metrics=("accuracy",), seeds=[0, 1],
                  epochs=1, device="cpu", progress=False)
    kwargs.update(change)
    with pytest.raises(error, match=message):
        compare_losses(build, **kwargs)
    assert len(calls) <= 1  # at most the dry run's model was built


def test_classification_metric_with_regression_targets_is_rejected():
    g = torch.Generator().manual_seed(6)
    X = torch.randn(40, 2, generator=g)
    t = X[:, 0] * 3.0
    build = lambda: nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # noqa: E731
    with pytest.raises(ValueError, match=r"val target values must be one of \(0, 1\), got .*classification metric 'recall'"):
        compare_losses(build, {"MSE": lc.mse_loss}, train=(X, t), val=(X, t), metrics=("recall",), device="cpu", progress=False)


def test_a_metric_that_cannot_be_computed_on_val_is_reported_before_training():
    X, y, Xv, yv = _blobs()
    with pytest.raises(ValueError, match=r"metrics: 'average_precision' cannot be computed on val: target must contain at least one positive"):
        compare_losses(lambda: nn.Sequential(nn.Linear(2, 1), nn.Flatten(0)),
                       {"BCE": F.binary_cross_entropy_with_logits}, train=(X, y.float()),
                       val=(Xv, torch.zeros_like(yv).float()), metrics=("average_precision",), device="cpu", progress=False)


def test_model_fn_must_build_a_module():
    X, y, Xv, yv = _blobs()
    with pytest.raises(TypeError, match=r"model_fn must return an nn.Module, got function"):
        compare_losses(lambda: F.relu, {"CE": F.cross_entropy}, train=(X, y), val=(Xv, yv), device="cpu", progress=False)


def test_predict_fn_maps_the_output_the_metrics_read():
    X, y, Xv, yv = _blobs()
    kw = {**KW, "metrics": ("accuracy",), "seeds": [0]}
    plain = compare_losses(_model, {"CE": F.cross_entropy}, train=(X, y), val=(Xv, yv), **kw)
    flipped = compare_losses(_model, {"CE": F.cross_entropy}, train=(X, y), val=(Xv, yv), predict_fn=lambda z: z.flip(1), **kw)
    assert flipped.values["CE"]["accuracy"][0] == pytest.approx(1 - plain.values["CE"]["accuracy"][0], abs=1e-12)


def test_a_loader_that_does_not_yield_pairs_is_rejected_before_training():
    X, y, Xv, yv = _blobs()
    loader = torch.utils.data.DataLoader([{"x": x, "y": t} for x, t in zip(X, y)], batch_size=8)
    build, calls = _trap_model()
    with pytest.raises(TypeError, match=r"the data loader must yield \(x, y\) pairs, batch 0 is a dict"):
        compare_losses(build, {"CE": F.cross_entropy}, train=loader, val=(Xv, yv), device="cpu", progress=False)
    assert not calls

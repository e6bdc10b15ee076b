"""A tiny training loop and model builder for the chapters' experiments.

Nothing here is needed to use the losses; it keeps the chapters short and their experiments
reproducible (seeded, on the GPU when there is one).
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from . import _checks as C
from . import metrics as _metrics

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "default_device",
    "seed_everything",
    "mlp",
    "fit",
    "predict",
    "BatchedMLP",
    "Metric",
    "METRICS",
    "compute_metric",
    "Summary",
    "ComparisonTable",
    "LossComparison",
    "compare_losses",
]


def default_device() -> torch.device:
    """``cuda`` when a GPU is available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) random number generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def mlp(
    in_features: int,
    out_features: int,
    *,
    hidden: int = 64,
    depth: int = 2,
    activation: Callable[[], nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """A multilayer perceptron with ``depth`` hidden layers of width ``hidden``.

    Example:
        >>> mlp(2, 3, hidden=8, depth=1)
        Sequential(
          (0): Linear(in_features=2, out_features=8, bias=True)
          (1): ReLU()
          (2): Linear(in_features=8, out_features=3, bias=True)
        )
    """
    C.check_int(in_features, "in_features", low=1)
    C.check_int(out_features, "out_features", low=1)
    C.check_int(hidden, "hidden", low=1)
    C.check_int(depth, "depth", low=0)
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), activation()]
        width = hidden
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def _optimizer(model: nn.Module, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam, or SGD with momentum 0.9, over the model's parameters."""
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)


def fit(
    model: nn.Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    X: Tensor,
    y: Tensor,
    *,
    epochs: int = 100,
    lr: float = 1e-2,
    batch_size: int | None = None,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    sampler: torch.utils.data.Sampler | None = None,
    seed: int = 0,
    callback: Callable[[int, nn.Module], None] | None = None,
) -> list[float]:
    """Train ``model`` on ``(X, y)`` with ``loss_fn(model(X_batch), y_batch)``.

    Full-batch by default; with ``batch_size`` the data is shuffled every epoch, or drawn by
    ``sampler`` (e.g. a ``WeightedRandomSampler`` for over-sampling). The data is moved to the
    model's device. ``callback(epoch, model)`` runs after every epoch.

    Returns:
        The mean training loss of each epoch.

    Example:
        >>> X = torch.randn(64, 2); y = (X[:, 0] > 0).long()
        >>> model = mlp(2, 2, hidden=8, depth=1)
        >>> losses = fit(model, torch.nn.functional.cross_entropy, X, y, epochs=50, lr=0.05)
        >>> losses[-1] < losses[0]
        True
    """
    epochs = C.check_int(epochs, "epochs", low=1)
    lr = C.check_number(lr, "lr", low=0.0, low_open=True)
    C.check_same_device(("X", X), ("y", y))
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"y must have X.shape[0]={X.shape[0]} rows, got {y.shape[0]}")
    C.check_choice(optimizer, "optimizer", ("adam", "sgd"))
    device = next(model.parameters()).device
    X, y = X.to(device), y.to(device)
    opt = _optimizer(model, optimizer, lr, weight_decay)
    n = X.shape[0]
    if batch_size is None and sampler is None:
        batch_size = n
    batch_size = C.check_int(batch_size or n, "batch_size", low=1)
    g = torch.Generator().manual_seed(seed)
    history = []
    model.train()
    for epoch in range(epochs):
        if sampler is not None:
            order = torch.as_tensor(list(iter(sampler)), dtype=torch.long)
        elif batch_size < n:
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        order = order.to(device)
        total, seen = 0.0, 0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        history.append(total / seen)
        if callback is not None:
            callback(epoch, model)
    return history


@torch.no_grad()
def predict(model: nn.Module, X: Tensor, *, batch_size: int = 65536) -> Tensor:
    """The model's outputs on ``X`` in eval mode, batched, returned on the CPU."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = torch.cat([model(X[i : i + batch_size].to(device)).cpu() for i in range(0, X.shape[0], batch_size)])
    model.train(was_training)
    return out


class BatchedMLP(nn.Module):
    """``R`` independent multilayer perceptrons held as stacked weights, trained in one pass.

    Model ``r`` is initialised exactly as :func:`mlp` would be under ``torch.manual_seed(seeds[r])``
    (PyTorch's default ``nn.Linear`` initialisation, layer by layer), so ``BatchedMLP`` with seeds
    ``[0, 1, 2]`` starts from the same weights as three separate ``mlp`` models built after
    seeding with 0, 1 and 2. The forward pass takes inputs of shape (R, B, in_features), one batch
    per model (or (B, in_features), shared by every model), and uses ``torch.baddbmm``: for
    experiments repeated over seeds, the seeds train together at the cost of one wider model.

    Sum the R models' losses before ``backward()``: each model's weights receive exactly the
    gradient of its own loss, and optimizers that act element by element (SGD, Adam, AdamW) then
    update every model exactly as if it were trained alone.

    Args:
        in_features, out_features, hidden, depth, activation: as for :func:`mlp`.
        seeds: one seed per model (R = ``len(seeds)``).

    Example:
        >>> models = BatchedMLP(2, 3, hidden=8, depth=1, seeds=[0, 1])
        >>> models(torch.randn(5, 2)).shape
        torch.Size([2, 5, 3])
        >>> _ = torch.manual_seed(1)
        >>> single = mlp(2, 3, hidden=8, depth=1)
        >>> x = torch.randn(5, 2)
        >>> torch.allclose(models(x)[1], single(x), atol=1e-6)
        True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden: int = 64,
        depth: int = 2,
        activation: Callable[[], nn.Module] = nn.ReLU,
        seeds: list[int] | tuple[int, ...] = (0,),
    ) -> None:
        super().__init__()
        seeds = list(seeds)
        if not seeds:
            raise ValueError("seeds must hold at least one seed, got an empty sequence")
        for seed in seeds:
            C.check_int(seed, "seeds[i]", low=0)
        singles = []
        state = torch.random.get_rng_state()
        try:
            for seed in seeds:
                torch.manual_seed(seed)
                singles.append(mlp(in_features, out_features, hidden=hidden, depth=depth, activation=activation))
        finally:
            torch.random.set_rng_state(state)
        linears = [[m for m in single if isinstance(m, nn.Linear)] for single in singles]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([layers[i].weight.detach().T for layers in linears])) for i in range(depth + 1)
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([layers[i].bias.detach()[None, :] for layers in linears])) for i in range(depth + 1)
        )
        self.activation = activation()
        self.num_models = len(seeds)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = x.expand(self.num_models, -1, -1)
        if x.dim() != 3 or x.shape[0] != self.num_models or x.shape[2] != self.weights[0].shape[1]:
            raise ValueError(
                f"x must have shape (R, B, in_features) = ({self.num_models}, B, {self.weights[0].shape[1]}) "
                f"or (B, {self.weights[0].shape[1]}), got {tuple(x.shape)}"
            )
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < len(self.weights) - 1:
                x = self.activation(x)
        return x


# --------------------------------------------------------------------------- comparing losses
class Metric(NamedTuple):
    """One entry of :data:`METRICS`: how a metric is computed and which way is better.

    ``fn(output, target)`` takes the model's output on the whole validation set (after
    ``predict_fn``) and the targets, both on the CPU, and returns a float. ``task`` is
    ``"classification"`` (class targets) or ``"regression"`` (real targets).
    """

    name: str
    task: str
    higher_is_better: bool
    fn: Callable[[Tensor, Tensor], float]
    description: str

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, {self.task}, {'higher' if self.higher_is_better else 'lower'} is better)"


def _binary_logits(output: Tensor) -> Tensor | None:
    """The binary logit (N,) of an output (N,), (N, 1) or (N, 2); None for C >= 3 outputs."""
    if output.dim() == 1:
        return output
    if output.shape[1] == 1:
        return output[:, 0]
    if output.shape[1] == 2:
        return output[:, 1] - output[:, 0]  # softmax over two classes = sigmoid of the difference
    return None


def _confusion(output: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """True positives, false positives and false negatives per class (binary: of the positive class)."""
    z = _binary_logits(output)
    if z is not None:
        predicted, truth = (z > 0).unsqueeze(1), (target == 1).unsqueeze(1)
    else:
        classes = torch.arange(output.shape[1])
        predicted = output.argmax(1, keepdim=True) == classes
        truth = target.unsqueeze(1) == classes
        present = truth.any(0)  # macro averages run over the classes that occur in the targets
        predicted, truth = predicted[:, present], truth[:, present]
    tp = (predicted & truth).sum(0).double()
    fp = (predicted & ~truth).sum(0).double()
    fn = (~predicted & truth).sum(0).double()
    return tp, fp, fn


def _ratio(numerator: Tensor, denominator: Tensor) -> float:
    """Mean over classes of numerator / denominator, a 0/0 ratio counting as 0 (scikit-learn's default)."""
    return float(torch.where(denominator > 0, numerator / denominator.clamp(min=1), torch.zeros_like(numerator)).mean())


def _precision(output: Tensor, target: Tensor) -> float:
    tp, fp, _ = _confusion(output, target)
    return _ratio(tp, tp + fp)


def _recall(output: Tensor, target: Tensor) -> float:
    tp, _, fn = _confusion(output, target)
    return _ratio(tp, tp + fn)


def _f1(output: Tensor, target: Tensor) -> float:
    tp, fp, fn = _confusion(output, target)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _accuracy(output: Tensor, target: Tensor) -> float:
    z = _binary_logits(output)
    return _metrics.accuracy(output if z is None else z, target)


def _balanced_accuracy(output: Tensor, target: Tensor) -> float:
    z = _binary_logits(output)
    prediction = output.argmax(1) if z is None else (z > 0).long()
    return _metrics.balanced_accuracy(prediction, target)


def _one_vs_rest(
    ranking: Callable[[Tensor, Tensor], float], output: Tensor, target: Tensor, *, needs_negatives: bool = False
) -> float:
    """A binary ranking metric of the scores; for C >= 3 outputs its macro mean, one class against the rest,
    over the classes that occur in ``target`` (and, with ``needs_negatives``, do not fill it)."""
    z = _binary_logits(output)
    if z is not None:
        return ranking(z, target)
    scores = torch.log_softmax(output.double(), 1)
    counts = torch.bincount(target, minlength=output.shape[1])
    largest = target.numel() - 1 if needs_negatives else target.numel()
    classes = [k for k in range(output.shape[1]) if 0 < int(counts[k]) <= largest]
    return sum(ranking(scores[:, k], (target == k).long()) for k in classes) / len(classes)


def _average_precision(output: Tensor, target: Tensor) -> float:
    return _one_vs_rest(_metrics.average_precision, output, target)


def _roc_auc(output: Tensor, target: Tensor) -> float:
    return _one_vs_rest(_metrics.roc_auc, output, target, needs_negatives=True)


def _ece(output: Tensor, target: Tensor) -> float:
    z = _binary_logits(output)
    return _metrics.expected_calibration_error(output if z is None else z, target)


def _log_loss(output: Tensor, target: Tensor) -> float:
    z = _binary_logits(output)
    if z is not None:
        return float(nn.functional.binary_cross_entropy_with_logits(z.double(), target.double()))
    return float(nn.functional.cross_entropy(output.double(), target))


def _errors(output: Tensor, target: Tensor) -> Tensor:
    return output.reshape(-1).double() - target.double()


def _r2(output: Tensor, target: Tensor) -> float:
    y = target.double()
    return float(1.0 - (_errors(output, target) ** 2).sum() / ((y - y.mean()) ** 2).sum())


#: The metrics :func:`compare_losses` and :func:`compute_metric` know, by name.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "classification", True, _accuracy, "share of correct predictions (binary: logit > 0)"),
        Metric("balanced_accuracy", "classification", True, _balanced_accuracy, "mean recall of the classes"),
        Metric("precision", "classification", True, _precision, "TP / (TP + FP) of the positive class; macro for C >= 3"),
        Metric("recall", "classification", True, _recall, "TP / (TP + FN) of the positive class; macro for C >= 3"),
        Metric("f1", "classification", True, _f1, "2 TP / (2 TP + FP + FN); macro for C >= 3"),
        Metric("average_precision", "classification", True, _average_precision, "area under the precision-recall steps"),
        Metric("roc_auc", "classification", True, _roc_auc, "chance that a positive outscores a negative"),
        Metric("ece", "classification", False, _ece, "expected calibration error of the top class, 15 bins"),
        Metric("log_loss", "classification", False, _log_loss, "mean negative log-likelihood (cross-entropy)"),
        Metric("mae", "regression", False, lambda o, t: float(_errors(o, t).abs().mean()), "mean absolute error"),
        Metric("mse", "regression", False, lambda o, t: float((_errors(o, t) ** 2).mean()), "mean squared error"),
        Metric(
            "rmse", "regression", False, lambda o, t: float((_errors(o, t) ** 2).mean().sqrt()), "root mean squared error"
        ),
        Metric(
            "median_absolute_error", "regression", False,
            lambda o, t: float(torch.quantile(_errors(o, t).abs(), 0.5)), "median of the absolute errors",
        ),
        Metric("r2", "regression", True, _r2, "coefficient of determination, 1 - SS_res / SS_tot"),
    )
}


def _metric_names(metrics: Sequence[str]) -> list[str]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    names = list(metrics)
    if not names:
        raise ValueError(f"metrics must name at least one of {tuple(METRICS)}, got an empty sequence")
    for i, name in enumerate(names):
        C.check_choice(name, f"metrics[{i}]", tuple(METRICS))
    if len(set(names)) != len(names):
        raise ValueError(f"metrics must not repeat a name, got {names}")
    return names


def _check_metric_data(name: str, output: Tensor, target: Tensor, targets: str) -> Tensor:
    """Check that metric ``name`` can read ``output`` and ``target``; return the targets it reads."""
    metric = METRICS[name]
    if output.shape[0] != target.shape[0]:
        raise ValueError(
            f"the model's output must have one row per entry of {targets}, expected {target.shape[0]}, got {output.shape[0]}"
        )
    if metric.task == "regression":
        C.check_floating(target, f"{targets} (read by the regression metric {name!r})")
        C.check_same_shape(target, output.reshape(output.shape[0], -1)[:, 0], (targets, f"the output for {name!r}"))
        if output.dim() > 2 or (output.dim() == 2 and output.shape[1] != 1):
            raise ValueError(
                f"the regression metric {name!r} needs an output of shape (N,) or (N, 1), got {tuple(output.shape)}"
            )
        return target
    hint = f" (the classification metric {name!r} reads class labels; regression targets need a metric such as 'mae')"
    if target.is_floating_point():
        C.check_values_among(target, targets, (0.0, 1.0), hint)
        target = target.long()
    target = C.class_indices(target, f"{targets} (read by the classification metric {name!r})")
    if output.dim() not in (1, 2):
        raise ValueError(
            f"the classification metric {name!r} needs an output of shape (N,) or (N, C), got {tuple(output.shape)}"
        )
    if _binary_logits(output) is not None:
        binary = f" (a binary output of shape {tuple(output.shape)} reads 0/1 labels)"
        C.check_values_among(target, targets, (0, 1), binary)
        return target
    return C.check_class_target(output, target)


def compute_metric(name: str, output: Tensor, target: Tensor) -> float:
    """Metric ``name`` of :data:`METRICS` for a model's ``output`` on a data set with ``target``.

    Classification metrics read logits: one logit per row, shape (N,) or (N, 1), is a binary
    problem (positive class 1, predicted where the logit is > 0); two logits (N, 2) are the
    same binary problem with the logit :math:`z_1 - z_0`; C >= 3 logits (N, C) are a
    multi-class problem, predicted by the argmax, with precision, recall, F1, AP and ROC AUC
    macro-averaged over the classes that occur in ``target`` (one class against the rest).
    Class targets are integer indices, or floats 0/1 for binary outputs. Regression metrics
    read predictions (N,) or (N, 1) against floating targets (N,). Computed in float64 on the
    CPU.

    Example:
        >>> logits = torch.tensor([2.0, -1.0, 0.5, -3.0])
        >>> compute_metric("recall", logits, torch.tensor([1, 1, 0, 0]))
        0.5
        >>> compute_metric("mae", torch.tensor([1.0, 2.0]), torch.tensor([1.5, 4.0]))
        1.25
    """
    C.check_choice(name, "name", tuple(METRICS))
    C.check_floating(output, "output")
    C.check_tensor(target, "target")
    output, target = output.detach().cpu(), target.detach().cpu()
    target = _check_metric_data(name, output, target, "target")
    return float(METRICS[name].fn(output, target))


class Summary(NamedTuple):
    """Mean of a metric over seeds and its Student-t interval (infinite with one seed)."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.4f} [{self.low:.4f}, {self.high:.4f}]"


class ComparisonTable(NamedTuple):
    """The table of :meth:`LossComparison.table`: one row per loss, one (mean, interval) per metric.

    ``str(table)`` is a Markdown table; Jupyter renders it as one.
    """

    metrics: list[str]
    rows: dict[str, dict[str, Summary]]
    confidence: float

    def markdown(self, digits: int = 4) -> str:
        arrows = {True: " (higher is better)", False: " (lower is better)"}
        header = ["loss"] + [m + arrows[METRICS[m].higher_is_better] for m in self.metrics]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for loss, cells in self.rows.items():
            text = [f"{cells[m].mean:.{digits}f} [{cells[m].low:.{digits}f}, {cells[m].high:.{digits}f}]" for m in self.metrics]
            lines.append("| " + " | ".join([loss, *text]) + " |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.markdown()

    def _repr_markdown_(self) -> str:
        return (
            f"Mean over seeds [{100 * self.confidence:g} % Student-t interval]\n\n" + self.markdown()
        )


class LossComparison:
    """What :func:`compare_losses` returns: every run's metrics, with summaries, comparisons and a plot.

    Attributes:
        losses: the candidate names, in the order given.
        seeds: the seeds, one run per (loss, seed).
        metrics: the metric names.
        values: ``values[loss][metric]`` is the list of that metric on the validation set, one
            float per seed (in the order of ``seeds``).
        val_loss: ``val_loss[loss]``: each seed's loss on the validation set, measured with the
            candidate's own loss function (values of different losses are not comparable).
        history: ``history[loss]``: each seed's list of mean training losses per epoch.
        models: ``models[loss]``: each seed's trained model on the CPU, when ``keep_models=True``
            (else empty).
    """

    def __init__(
        self,
        losses: list[str],
        seeds: list[int],
        metrics: list[str],
        values: dict[str, dict[str, list[float]]],
        val_loss: dict[str, list[float]],
        history: dict[str, list[list[float]]],
        models: dict[str, list[nn.Module]],
        predict_fn: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        self.losses, self.seeds, self.metrics = losses, seeds, metrics
        self.values, self.val_loss, self.history, self.models = values, val_loss, history, models
        self._predict_fn = predict_fn

    def __repr__(self) -> str:
        return f"LossComparison(losses={self.losses}, seeds={self.seeds}, metrics={self.metrics})"

    def _check(self, metric: str, *losses: str) -> None:
        C.check_choice(metric, "metric", tuple(self.metrics))
        for i, loss in enumerate(losses):
            C.check_choice(loss, "loss" if len(losses) == 1 else "ab"[i], tuple(self.losses))

    def summary(self, loss: str, metric: str, *, confidence: float = 0.95) -> Summary:
        """Mean of ``metric`` over the seeds for ``loss``, with its Student-t ``confidence`` interval."""
        self._check(metric, loss)
        confidence = C.check_number(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)
        x = torch.tensor(self.values[loss][metric], dtype=torch.float64)
        n, mean = x.numel(), float(x.mean())
        if n == 1:
            return Summary(mean, -math.inf, math.inf, 1)
        half = _metrics.t_quantile(0.5 + confidence / 2, n - 1) * float(x.std()) / math.sqrt(n)
        return Summary(mean, mean - half, mean + half, n)

    def table(self, *, confidence: float = 0.95) -> ComparisonTable:
        """One row per loss; per metric, the mean over seeds and its ``confidence`` t interval."""
        rows = {loss: {m: self.summary(loss, m, confidence=confidence) for m in self.metrics} for loss in self.losses}
        return ComparisonTable(list(self.metrics), rows, confidence)

    def paired(self, metric: str, a: str, b: str, *, confidence: float = 0.95) -> _metrics.PairedDifference:
        """:func:`~losscookbook.metrics.paired_difference` of ``metric`` between losses ``a`` and ``b`` (a - b, seed by seed)."""
        self._check(metric, a, b)
        return _metrics.paired_difference(self.values[a][metric], self.values[b][metric], confidence=confidence)

    def best(self, metric: str) -> str:
        """The loss with the best mean ``metric`` over seeds (the largest or smallest, as the metric says)."""
        self._check(metric)
        sign = 1.0 if METRICS[metric].higher_is_better else -1.0
        return max(self.losses, key=lambda loss: sign * self.summary(loss, metric).mean)

    def evaluate(self, data: tuple[Tensor, Tensor] | Iterable, *, metrics: Sequence[str] | None = None) -> LossComparison:
        """The same trained models scored on other ``data`` (e.g. a test set); needs ``keep_models=True``."""
        if not self.models:
            raise ValueError("evaluate needs the trained models: call compare_losses with keep_models=True")
        names = _metric_names(self.metrics if metrics is None else metrics)
        values: dict[str, dict[str, list[float]]] = {loss: {m: [] for m in names} for loss in self.losses}
        for loss in self.losses:
            for model in self.models[loss]:
                output, target = _outputs(model, data, torch.device("cpu"), self._predict_fn)
                for m in names:
                    values[loss][m].append(METRICS[m].fn(output, _check_metric_data(m, output, target, "data target")))
        return LossComparison(list(self.losses), list(self.seeds), names, values, {}, {}, self.models, self._predict_fn)

    def plot(
        self, *, metrics: Sequence[str] | None = None, axes: Sequence[Axes] | None = None, confidence: float = 0.95
    ) -> list[Axes]:
        """One panel per metric: each loss's seeds as dots, their mean and ``confidence`` interval as a bar.

        ``metrics`` selects the panels (default: every metric of the comparison). Returns the list
        of axes, one per metric; pass ``axes`` to draw into existing ones.
        """
        import matplotlib.pyplot as plt

        names = list(self.metrics) if metrics is None else _metric_names(metrics)
        for i, name in enumerate(names):
            C.check_choice(name, f"metrics[{i}]", tuple(self.metrics))
        if axes is None:
            width = min(4.0, 1.2 + 0.7 * len(self.losses))
            fig, created = plt.subplots(1, len(names), figsize=(width * len(names), 3.2), squeeze=False)
            axes = list(created[0])
        else:
            axes = list(axes)
            if len(axes) != len(names):
                raise ValueError(f"axes must hold one axes per metric ({len(names)}), got {len(axes)}")
        offsets = torch.linspace(-0.15, 0.15, len(self.seeds)).tolist() if len(self.seeds) > 1 else [0.0]
        for ax, metric in zip(axes, names):
            for i, loss in enumerate(self.losses):
                s = self.summary(loss, metric, confidence=confidence)
                finite = math.isfinite(s.low)
                ax.errorbar([i], [s.mean], yerr=[[s.mean - s.low], [s.high - s.mean]] if finite else None,
                            fmt="s", color=f"C{i}", capsize=4, markersize=6, zorder=3)
                ax.scatter([i + o for o in offsets], self.values[loss][metric], s=12, color=f"C{i}", alpha=0.45, zorder=2)
            ax.set_xticks(range(len(self.losses)), self.losses, rotation=30, ha="right")
            ax.set_title(f"{metric} ({'higher' if METRICS[metric].higher_is_better else 'lower'} is better)", fontsize=10)
            ax.grid(axis="y", alpha=0.3)
        axes[0].figure.tight_layout()
        return axes


def _is_pair(data: object) -> bool:
    return isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, Tensor) for t in data)


def _check_data(data: object, name: str) -> None:
    """``data`` is a pair of tensors (X, y) with as many rows, or an iterable of (x, y) batches."""
    if _is_pair(data):
        X, y = data  # type: ignore[misc]
        if X.dim() == 0 or y.dim() == 0 or X.shape[0] != y.shape[0]:
            raise ValueError(
                f"{name} must be (X, y) with one target per row of X, "
                f"got X of shape {tuple(X.shape)} and y of shape {tuple(y.shape)}"
            )
        if X.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one row, got X of shape {tuple(X.shape)}")
        return
    if isinstance(data, (tuple, list, str, bytes, Tensor)) or not isinstance(data, Iterable):
        raise TypeError(
            f"{name} must be a pair of tensors (X, y) or a DataLoader yielding (x, y) batches, got {type(data).__name__}"
        )


def _batches(
    data: tuple[Tensor, Tensor] | Iterable, batch_size: int | None, generator: torch.Generator | None
) -> Iterator[tuple[Tensor, Tensor]]:
    """(x, y) batches: of a tensor pair (all rows at once, or shuffled batches), or what a loader yields."""
    if not _is_pair(data):
        for i, batch in enumerate(data):
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise TypeError(f"the data loader must yield (x, y) pairs, batch {i} is a {type(batch).__name__}")
            yield batch[0], batch[1]
        return
    X, y = data  # type: ignore[misc]
    n = X.shape[0]
    if batch_size is None or batch_size >= n:
        yield X, y
        return
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size].to(X.device)
        yield X[idx], y[idx]


@torch.no_grad()
def _outputs(
    model: nn.Module, data: tuple[Tensor, Tensor] | Iterable, device: torch.device, predict_fn: Callable[[Tensor], Tensor] | None
) -> tuple[Tensor, Tensor]:
    """The model's outputs (after ``predict_fn``) and the targets over all of ``data``, on the CPU."""
    was_training = model.training
    model.eval()
    outputs, targets = [], []
    for x, y in _batches(data, 65536 if _is_pair(data) else None, None):
        out = model(x.to(device))
        outputs.append((out if predict_fn is None else predict_fn(out)).cpu())
        targets.append(y.cpu())
    model.train(was_training)
    return torch.cat(outputs), torch.cat(targets)


class _NoProgress:
    """Stands in for a ``tqdm`` bar when ``progress=False``."""

    def __init__(self, **kwargs: object) -> None:
        pass

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def set_postfix_str(self, text: str) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass


def _fresh_loss(loss: Callable[[Tensor, Tensor], Tensor], device: torch.device) -> Callable[[Tensor, Tensor], Tensor]:
    """A module loss is deep-copied (its state, e.g. GHM's moving average, starts fresh) and moved to ``device``."""
    return copy.deepcopy(loss).to(device) if isinstance(loss, nn.Module) else loss


def compare_losses(
    model_fn: Callable[[], nn.Module],
    losses: Mapping[str, Callable[[Tensor, Tensor], Tensor]],
    *,
    train: tuple[Tensor, Tensor] | Iterable,
    val: tuple[Tensor, Tensor] | Iterable,
    metrics: Sequence[str] = ("accuracy",),
    seeds: Iterable[int] = range(5),
    epochs: int = 20,
    lr: float = 1e-2,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    batch_size: int | None = None,
    shuffle: bool = True,
    device: torch.device | str | None = None,
    predict_fn: Callable[[Tensor], Tensor] | None = None,
    keep_models: bool = False,
    progress: bool = True,
) -> LossComparison:
    """Train the same model with each candidate loss and several seeds; score every run on ``val``.

    For every loss and every seed: seed every generator (:func:`seed_everything`), build a fresh
    model with ``model_fn()``, train it for ``epochs`` epochs on ``train`` with
    ``loss(model(x), y)``, then compute each named metric (see :data:`METRICS` and
    :func:`compute_metric` for how outputs are read) on the model's output on ``val``. Runs
    with the same seed start from the same weights and see the batches in the same order, so
    the losses are compared paired, seed by seed.

    Everything that can be checked is checked before the first step: the metric names, the
    targets' type against each metric (class labels for classification metrics, floats for
    regression metrics), and a dry forward of every loss on two training rows through a freshly
    built model (a loss that does not fit the output or the targets is reported with both).

    Args:
        model_fn: builds the model, called once per (loss, seed) after seeding.
        losses: name -> loss ``loss(output, target)`` returning a scalar. A loss that is an
            ``nn.Module`` is deep-copied for every run (its state starts fresh) and moved to
            ``device``.
        train: ``(X, y)`` tensors, or an iterable such as a ``DataLoader`` yielding ``(x, y)``
            batches (it is iterated once per epoch; its own shuffling is seeded by the run's seed).
            The targets go to the losses as they are: class indices for cross-entropy, float 0/1
            labels for one-logit binary losses (the metrics read both as classes), floats for
            regression.
        val: the validation data, in either form.
        metrics: names from :data:`METRICS`.
        seeds: one run per seed and loss (at least one; two or more for an interval).
        epochs: passes over ``train``.
        lr, optimizer, weight_decay: ``"adam"`` or ``"sgd"`` (momentum 0.9), as in :func:`fit`.
        batch_size: for tensor data, rows per step; None trains on all rows at once.
        shuffle: for tensor data with ``batch_size``, draw a new order every epoch from a
            generator seeded by the run's seed; False keeps the row order (then tensors give
            exactly the batches of an unshuffled ``DataLoader`` with that batch size).
        device: where the models train; default :func:`default_device`. Data moves there per batch.
        predict_fn: maps the model's output to what the metrics read (default: the output itself).
        keep_models: keep each trained model (on the CPU) in the result, for
            :meth:`LossComparison.evaluate` on other data.
        progress: show a ``tqdm`` progress bar over the runs.

    Returns:
        A :class:`LossComparison`: ``values``, ``table()``, ``paired()``, ``best()``, ``plot()``.

    Example:
        >>> X = torch.randn(200, 2); y = (X[:, 0] > 0).long()
        >>> result = compare_losses(
        ...     lambda: mlp(2, 2, hidden=8, depth=1),
        ...     {"CE": torch.nn.functional.cross_entropy,
        ...      "CE, smoothed": lambda z, t: torch.nn.functional.cross_entropy(z, t, label_smoothing=0.2)},
        ...     train=(X[:150], y[:150]), val=(X[150:], y[150:]), metrics=["accuracy", "ece"],
        ...     seeds=[0, 1], epochs=30, lr=0.05, device="cpu", progress=False)
        >>> result.values["CE"]["accuracy"][0] > 0.9
        True
        >>> result.best("ece")
        'CE'
    """
    if not callable(model_fn):
        raise TypeError(f"model_fn must be a callable that builds the model, got {type(model_fn).__name__}")
    if not isinstance(losses, Mapping) or not losses:
        raise ValueError(f"losses must be a non-empty dict of name -> loss function, got {losses!r}")
    for name, loss in losses.items():
        if not isinstance(name, str) or not callable(loss):
            raise TypeError(f"losses must map names (str) to callables, got {name!r}: {type(loss).__name__}")
    names = _metric_names(metrics)
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got an empty sequence")
    for i, seed in enumerate(seeds):
        C.check_int(seed, f"seeds[{i}]", low=0)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must not repeat a seed, got {seeds}")
    epochs = C.check_int(epochs, "epochs", low=1)
    lr = C.check_number(lr, "lr", low=0.0, low_open=True)
    weight_decay = C.check_number(weight_decay, "weight_decay", low=0.0)
    C.check_choice(optimizer, "optimizer", ("adam", "sgd"))
    if batch_size is not None:
        batch_size = C.check_int(batch_size, "batch_size", low=1)
    _check_data(train, "train")
    _check_data(val, "val")
    device = default_device() if device is None else torch.device(device)

    # dry run: a fresh model, every loss on two training rows, every metric on the validation set
    x, y = next(iter(_batches(train, None, None)))
    x, y = x[:2].to(device), y[:2].to(device)
    seed_everything(seeds[0])
    model = model_fn()
    if not isinstance(model, nn.Module):
        raise TypeError(f"model_fn must return an nn.Module, got {type(model).__name__}")
    model = model.to(device)
    output = model(x)
    for name, loss in losses.items():
        try:
            value = _fresh_loss(loss, device)(output, y)
        except Exception as error:
            shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
            raise ValueError(
                f"losses[{name!r}] does not accept the model's output of shape {shape} with targets of "
                f"dtype {y.dtype} and shape {tuple(y.shape)}: {error}"
            ) from error
        if not isinstance(value, Tensor) or value.dim() != 0 or not value.is_floating_point():
            got = f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"losses[{name!r}] must return a scalar floating-point tensor (reduce the loss), got {got}")
        if not value.requires_grad:
            raise ValueError(f"losses[{name!r}] returned a loss without a gradient: it must be computed from the model's output")
    output, target = _outputs(model, val, device, predict_fn)
    for name in names:
        checked = _check_metric_data(name, output, target, "val target")
        try:
            METRICS[name].fn(output, checked)
        except Exception as error:
            raise ValueError(f"metrics: {name!r} cannot be computed on val: {error}") from error
    del model, output

    if progress:
        from tqdm.auto import tqdm
    else:  # silent: no bar is created (and tqdm is not imported)
        tqdm = _NoProgress

    values: dict[str, dict[str, list[float]]] = {loss: {m: [] for m in names} for loss in losses}
    val_loss: dict[str, list[float]] = {loss: [] for loss in losses}
    history: dict[str, list[list[float]]] = {loss: [] for loss in losses}
    models: dict[str, list[nn.Module]] = {loss: [] for loss in losses} if keep_models else {}
    with tqdm(total=len(losses) * len(seeds), desc="compare_losses", leave=False) as bar:
        for name, loss in losses.items():
            for seed in seeds:
                bar.set_postfix_str(f"{name}, seed {seed}")
                seed_everything(seed)
                model = model_fn().to(device)
                loss_fn = _fresh_loss(loss, device)
                opt = _optimizer(model, optimizer, lr, weight_decay)
                generator = torch.Generator().manual_seed(seed) if shuffle else None
                model.train()
                epoch_means = []
                for _ in range(epochs):
                    total = torch.zeros((), device=device)
                    seen = 0
                    for xb, yb in _batches(train, batch_size, generator):
                        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
                        opt.zero_grad(set_to_none=True)
                        value = loss_fn(model(xb), yb)
                        value.backward()
                        opt.step()
                        total += value.detach() * xb.shape[0]
                        seen += xb.shape[0]
                    epoch_means.append(float(total) / max(seen, 1))
                history[name].append(epoch_means)
                # one pass over val: the candidate's own loss and the metrics read the same outputs
                raw, target = _outputs(model, val, device, None)
                with torch.no_grad():
                    val_loss[name].append(float(loss_fn(raw.to(device), target.to(device))))
                output = raw if predict_fn is None else predict_fn(raw)
                for m in names:
                    values[name][m].append(float(METRICS[m].fn(output, _check_metric_data(m, output, target, "val target"))))
                if keep_models:
                    models[name].append(model.cpu())
                bar.update(1)
    return LossComparison(list(losses), seeds, names, values, val_loss, history, models, predict_fn)

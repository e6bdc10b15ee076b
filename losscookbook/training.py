"""A tiny training loop and model builder for the chapters' experiments.

Nothing here is needed to use the losses; it keeps the chapters short and their experiments
reproducible (seeded, on the GPU when there is one).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from . import _checks as C

__all__ = ["default_device", "seed_everything", "mlp", "fit", "predict", "BatchedMLP"]


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
    params = model.parameters()
    opt: torch.optim.Optimizer
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
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

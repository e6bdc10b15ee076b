"""A tiny training loop and model builder for the chapters' experiments.

Nothing here is needed to use the losses; it keeps the chapters short and their experiments
reproducible (seeded, on the GPU when there is one).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from . import _checks as C

__all__ = ["default_device", "seed_everything", "mlp", "fit", "predict"]


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

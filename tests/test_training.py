"""Tests of the small training helpers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losscookbook.training import fit, mlp, predict, seed_everything


def test_mlp_shapes():
    model = mlp(3, 4, hidden=7, depth=3)
    assert model(torch.zeros(5, 3)).shape == (5, 4)
    assert sum(isinstance(m, torch.nn.Linear) for m in model) == 4
    assert len(mlp(3, 4, depth=0)) == 1


def test_fit_learns_and_is_reproducible(device):
    X = torch.randn(256, 2)
    y = (X[:, 0] + X[:, 1] > 0).long()
    results = []
    for _ in range(2):
        seed_everything(0)
        model = mlp(2, 2, hidden=16, depth=1).to(device)
        history = fit(model, F.cross_entropy, X, y, epochs=100, lr=0.05, batch_size=64, seed=1)
        results.append(history)
        assert (predict(model, X).argmax(1) == y).float().mean() > 0.95
    assert results[0] == results[1]
    assert results[0][-1] < 0.3 * results[0][0]


def test_fit_with_a_sampler_and_a_callback():
    X = torch.randn(100, 2)
    y = torch.zeros(100, dtype=torch.long)
    y[:5] = 1
    weights = torch.where(y == 1, 19.0, 1.0)
    sampler = torch.utils.data.WeightedRandomSampler(weights, num_samples=100, generator=torch.Generator().manual_seed(0))
    seen = []
    model = mlp(2, 2, depth=0)
    fit(model, lambda z, t: (seen.append(t.float().mean().item()) or F.cross_entropy(z, t)), X, y,
        epochs=5, batch_size=100, sampler=sampler, callback=lambda e, m: None)
    assert sum(seen) / len(seen) > 0.3  # rare class over-sampled from 5 % to about half


def test_predict_restores_training_mode_and_batches():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    model.train()
    out = predict(model, torch.randn(10, 2), batch_size=3)
    assert out.shape == (10, 2) and model.training


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(epochs=0), r"epochs must be an integer in \[1, inf\], got 0"),
        (dict(lr=0.0), r"lr must be in \(0.0, inf\], got 0.0"),
        (dict(optimizer="rmsprop"), r"optimizer must be one of \('adam', 'sgd'\), got 'rmsprop'"),
    ],
)
def test_fit_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(mlp(2, 2, depth=0), F.cross_entropy, torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), **kwargs)

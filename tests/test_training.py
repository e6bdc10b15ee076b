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


# ------------------------------------------------------------------ BatchedMLP
from losscookbook.training import BatchedMLP, mlp  # noqa: E402


def test_batched_mlp_trains_each_seed_exactly_as_alone():
    seeds = [3, 7, 11]
    batched = BatchedMLP(4, 2, hidden=16, depth=2, seeds=seeds)
    singles = []
    for seed in seeds:
        torch.manual_seed(seed)
        singles.append(mlp(4, 2, hidden=16, depth=2))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 10, 4, generator=g)
    y = torch.randn(3, 10, 2, generator=g)
    opt_b = torch.optim.Adam(batched.parameters(), lr=1e-2)
    opts = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in singles]
    for _ in range(5):
        opt_b.zero_grad()
        ((batched(x) - y) ** 2).mean((1, 2)).sum().backward()
        opt_b.step()
        for r, (m, o) in enumerate(zip(singles, opts)):
            o.zero_grad()
            ((m(x[r]) - y[r]) ** 2).mean().backward()
            o.step()
    out = batched(x)
    for r, m in enumerate(singles):
        torch.testing.assert_close(out[r], m(x[r]), rtol=1e-5, atol=1e-6)


def test_batched_mlp_leaves_the_global_generator_alone_and_checks_shapes():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    BatchedMLP(2, 1, seeds=[0, 1])
    torch.testing.assert_close(torch.rand(3), expected)
    with pytest.raises(ValueError, match=r"x must have shape \(R, B, in_features\) = \(2, B, 2\) or \(B, 2\), got \(3, 5, 2\)"):
        BatchedMLP(2, 1, seeds=[0, 1])(torch.randn(3, 5, 2))
    with pytest.raises(ValueError, match="seeds must hold at least one seed"):
        BatchedMLP(2, 1, seeds=[])

"""Checks of the API contract that every loss shares (imported by the per-module tests).

Each helper asserts one promise of DESIGN's contract for a loss given as a callable
``fn(input, target, **kwargs)``; they are plain functions so that a failure points at the
test that called them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

LossFn = Callable[..., Tensor]


def assert_reductions_consistent(fn: LossFn, input: Tensor, target: Tensor, **kwargs) -> None:
    """'sum' equals the sum of 'none'; 'mean' equals its mean (for unweighted losses)."""
    none = fn(input, target, reduction="none", **kwargs)
    assert torch.allclose(fn(input, target, reduction="sum", **kwargs), none.sum(), rtol=1e-6, atol=1e-6)
    assert torch.allclose(fn(input, target, reduction="mean", **kwargs), none.mean(), rtol=1e-6, atol=1e-6)


def assert_rejects_reduction(fn: LossFn, input: Tensor, target: Tensor, **kwargs) -> None:
    with pytest.raises(ValueError, match=r"reduction must be one of .*got 'avg'"):
        fn(input, target, reduction="avg", **kwargs)


def assert_finite_with_grad(fn: LossFn, input: Tensor, target: Tensor, **kwargs) -> Tensor:
    """Loss and input gradient are finite; returns the gradient."""
    x = input.detach().clone().requires_grad_(True)
    loss = fn(x, target, **kwargs)
    loss.backward()
    assert torch.isfinite(loss).all(), f"loss is not finite: {loss}"
    assert torch.isfinite(x.grad).all(), "gradient is not finite"
    return x.grad


def assert_empty_is_zero(fn: LossFn, input: Tensor, target: Tensor, **kwargs) -> None:
    """A batch with nothing to average gives exactly 0 under 'mean', with zero gradients."""
    x = input.detach().clone().requires_grad_(True)
    loss = fn(x, target, reduction="mean", **kwargs)
    assert loss.dim() == 0 and loss.item() == 0.0, f"expected 0, got {loss}"
    loss.backward()
    assert x.grad is not None and torch.equal(x.grad, torch.zeros_like(x))


def assert_half_precision(fn: LossFn, input: Tensor, target: Tensor, dtype: torch.dtype, **kwargs) -> None:
    """A half-precision input gives the float32 result of the float32 input (computed in float32)."""
    low = input.to(dtype)
    reference = fn(low.float(), target, **kwargs)
    x = low.clone().requires_grad_(True)
    loss = fn(x, target, **kwargs)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, reference, rtol=1e-5, atol=1e-6)
    loss.sum().backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()


def assert_module_matches(module: torch.nn.Module, fn: LossFn, input: Tensor, target: Tensor, **kwargs) -> None:
    torch.testing.assert_close(module(input, target), fn(input, target, **kwargs), rtol=0, atol=0)


def assert_autocast_bfloat16(fn: LossFn, x: Tensor, target: Tensor, out_features: int, **kwargs) -> None:
    """Under CPU bf16 autocast a layer's bf16 output gives a finite float32 loss and finite weight grads."""
    layer = torch.nn.Linear(x.shape[-1], out_features)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
        assert out.dtype == torch.bfloat16
        loss = fn(out, target, **kwargs)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(layer.weight.grad).all()

"""Direct tests of the shared checks and reductions (the losses test them through their use)."""

from __future__ import annotations

import math

import pytest
import torch

from losscookbook import _checks as C


def test_safe_divide_gives_zero_and_zero_gradient_for_zero_denominator():
    x = torch.zeros(0, requires_grad=True)
    out = C.reduce_loss(x * 2, "mean")
    out.backward()
    assert out.item() == 0.0
    y = torch.tensor([1.0, 2.0], requires_grad=True)
    z = C.safe_divide((y * 0).sum(), torch.tensor(0.0))
    z.backward()
    assert z.item() == 0.0 and torch.equal(y.grad, torch.zeros(2))


def test_reduce_loss_with_denominator():
    loss = torch.tensor([1.0, 2.0, 3.0])
    assert C.reduce_loss(loss, "mean", torch.tensor(2.0)).item() == 3.0
    assert C.reduce_loss(loss, "sum").item() == 6.0
    assert C.reduce_loss(loss, "none") is loss


@pytest.mark.parametrize(
    "kwargs, value, message",
    [
        (dict(low=0.0), -1, r"x must be in \[0.0, inf\], got -1.0"),
        (dict(low=0.0, low_open=True), 0, r"x must be in \(0.0, inf\], got 0.0"),
        (dict(high=1.0, high_open=True), 1.0, r"x must be in \[-inf, 1.0\), got 1.0"),
        (dict(), math.nan, r"x must be in \[-inf, inf\], got nan"),
    ],
)
def test_check_number_messages(kwargs, value, message):
    with pytest.raises(ValueError, match=message):
        C.check_number(value, "x", **kwargs)


def test_check_number_accepts_one_element_tensors_and_rejects_bools():
    assert C.check_number(torch.tensor(0.5), "x", low=0.0) == 0.5
    with pytest.raises(TypeError, match="x must be a real number, got bool"):
        C.check_number(True, "x")


def test_compute_dtype():
    assert C.compute_dtype(torch.zeros(1, dtype=torch.float16)) == torch.float32
    assert C.compute_dtype(torch.zeros(1, dtype=torch.bfloat16)) == torch.float32
    assert C.compute_dtype(torch.zeros(1, dtype=torch.float64)) == torch.float64


def test_check_broadcastable_rejects_growing_the_target():
    C.check_broadcastable(torch.ones(3), "w", torch.Size([4, 3]), "input")
    with pytest.raises(ValueError, match=r"w must broadcast to the shape of input \(3,\), got \(4, 3\)"):
        C.check_broadcastable(torch.ones(4, 3), "w", torch.Size([3]), "input")

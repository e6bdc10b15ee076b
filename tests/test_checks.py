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


# --------------------------------------------------------------------------- class-index dtypes
import losscookbook as lc  # noqa: E402
from losscookbook import metrics  # noqa: E402

_logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(3))
_target = torch.tensor([0, 3, 1, 2, 3, 0])
# every public function that takes class indices, as a function of the target
CLASS_INDEX_USERS = {
    "label_smoothing_cross_entropy": lambda t: lc.label_smoothing_cross_entropy(_logits, t),
    "softmax_focal_loss": lambda t: lc.softmax_focal_loss(_logits, t),
    "multiclass_hinge_loss": lambda t: lc.multiclass_hinge_loss(_logits, t),
    "distillation_loss": lambda t: lc.distillation_loss(_logits, _logits.flip(0), target=t),
    "smooth_labels": lambda t: lc.smooth_labels(t, 4, 0.1),
    "accuracy": lambda t: torch.tensor(metrics.accuracy(_logits, t)),
    "fit_temperature": lambda t: torch.tensor(metrics.fit_temperature(_logits, t)),
    "global_class_counts": lambda t: lc.distributed.global_class_counts(t, 4),
}


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.int8, torch.uint8])
@pytest.mark.parametrize("user", sorted(CLASS_INDEX_USERS))
def test_every_integer_index_dtype_gives_the_int64_result(user, dtype):
    fn = CLASS_INDEX_USERS[user]
    torch.testing.assert_close(fn(_target.to(dtype)), fn(_target), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.uint16, torch.uint32, torch.bool])
@pytest.mark.parametrize("user", sorted(CLASS_INDEX_USERS))
def test_other_target_dtypes_get_our_error(user, dtype):
    with pytest.raises(TypeError, match=r"target (class indices must have one of the dtypes|must hold class indices)"):
        CLASS_INDEX_USERS[user](_target.to(dtype))


def test_balanced_sampler_accepts_small_integer_dtypes():
    y = torch.tensor([0] * 8 + [1] * 2, dtype=torch.int8)
    assert len(list(lc.balanced_sampler(y, num_samples=5))) == 5
    with pytest.raises(TypeError, match=r"targets class indices must have one of the dtypes"):
        lc.balanced_sampler(y.to(torch.uint16))

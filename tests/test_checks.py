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
    "heteroscedastic_classification_loss": lambda t: lc.heteroscedastic_classification_loss(_logits, t, log_var=torch.zeros(6)),
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


# --------------------------------------------------------------------------- constructors and checks that must fail
BAD_CONSTRUCTORS = [
    (lambda: lc.SigmoidFocalLoss(alpha=1.5), ValueError, r"alpha must be in \[0.0, 1.0\], got 1.5"),
    (lambda: lc.SigmoidFocalLoss(alpha=torch.tensor([0.2, 1.5])), ValueError, r"alpha values must be in \[0.0, 1.0\], got 1.5"),
    (lambda: lc.SigmoidFocalLoss(gamma=-1), ValueError, r"gamma must be in \[0.0, inf\], got -1.0"),
    (lambda: lc.SoftmaxFocalLoss(alpha=torch.tensor([-1.0, 1.0])), ValueError, r"alpha values must be in \[0.0, inf\], got -1.0"),
    (lambda: lc.SoftmaxFocalLoss(gamma=-0.5), ValueError, r"gamma must be in \[0.0, inf\], got -0.5"),
    (lambda: lc.BalancedBinaryCrossEntropy(alpha=1.5), ValueError, r"alpha must be in \[0.0, 1.0\], got 1.5"),
    (lambda: lc.BalancedBinaryCrossEntropy(alpha=torch.tensor([0.5, -0.1])), ValueError, r"alpha values must be in \[0.0, 1.0\], got -0.1"),
    (lambda: lc.LabelSmoothingCrossEntropy(smoothing=1.0), ValueError, r"smoothing must be in \[0.0, 1.0\), got 1.0"),
    (lambda: lc.LabelSmoothingCrossEntropy(weight=torch.tensor([-1.0, 1.0])), ValueError, r"weight values must be in \[0.0, inf\], got -1.0"),
    (lambda: lc.BinaryCrossEntropyWithSmoothing(pos_weight=torch.tensor([-2.0])), ValueError, r"pos_weight values must be in \[0.0, inf\], got -2.0"),
    (lambda: lc.BinaryCrossEntropyWithSmoothing(smoothing=-0.1), ValueError, r"smoothing must be in \[0.0, 1.0\), got -0.1"),
    (lambda: lc.DistillationLoss(temperature=0), ValueError, r"temperature must be in \(0.0, inf\], got 0.0"),
    (lambda: lc.DistillationLoss(hard_weight=2.0), ValueError, r"hard_weight must be in \[0.0, 1.0\], got 2.0"),
    (lambda: lc.HingeLoss(margin=-1), ValueError, r"margin must be in \[0.0, inf\], got -1.0"),
    (lambda: lc.MulticlassHingeLoss(weight=torch.tensor([1.0, -3.0])), ValueError, r"weight values must be in \[0.0, inf\], got -3.0"),
    (lambda: lc.MulticlassHingeLoss(variant="x"), ValueError, r"variant must be one of \('weston_watkins', 'crammer_singer'\), got 'x'"),
    (lambda: lc.GHMCLoss(bins=0), ValueError, r"bins must be an integer in \[1, inf\], got 0"),
    (lambda: lc.GHMCLoss(momentum=1.0), ValueError, r"momentum must be in \[0.0, 1.0\), got 1.0"),
    (lambda: lc.GHMRLoss(mu=0), ValueError, r"mu must be in \(0.0, inf\], got 0.0"),
    (lambda: lc.QuantileLoss(quantiles=1.5), ValueError, r"quantiles must be in \(0.0, 1.0\), got 1.5"),
    (lambda: lc.QuantileLoss(quantiles=torch.tensor([0.5, 1.0])), ValueError, r"quantiles values must be in \(0.0, 1.0\), got 1.0"),
    (lambda: lc.HuberLoss(delta=0), ValueError, r"delta must be in"),
]


@pytest.mark.parametrize("build, error, message", BAD_CONSTRUCTORS, ids=lambda v: "" if callable(v) else None)
def test_module_constructors_reject_out_of_range_hyperparameters(build, error, message):
    with pytest.raises(error, match=message):
        build()


_x3 = torch.randn(3)
BAD_TARGETS = {
    "sigmoid_focal_loss": lambda t: lc.sigmoid_focal_loss(_x3, t),
    "balanced_binary_cross_entropy": lambda t: lc.balanced_binary_cross_entropy(_x3, t),
    "binary_cross_entropy_with_smoothing": lambda t: lc.binary_cross_entropy_with_smoothing(_x3, t),
    "ghmc_loss": lambda t: lc.ghmc_loss(_x3, t),
    "GHMCLoss": lambda t: lc.GHMCLoss()(_x3, t),
}


@pytest.mark.parametrize("value", [1.5, -0.5, float("nan")])
@pytest.mark.parametrize("loss", sorted(BAD_TARGETS))
def test_probability_targets_outside_0_1_are_rejected(loss, value):
    with pytest.raises(ValueError, match=r"target values must be in \[0.0, 1.0\], got"):
        BAD_TARGETS[loss](torch.tensor([0.0, 1.0, value]))


def test_one_element_tensors_are_checked():
    with pytest.raises(ValueError, match=r"x values must be in \[0.0, 1.0\], got 2.0"):
        C.check_values_in(torch.tensor(2.0), "x", 0.0, 1.0)
    with pytest.raises(ValueError, match=r"x values must be in \(0.0, 1.0\], got 0.0"):
        C.check_values_in(torch.tensor([0.0]), "x", 0.0, 1.0, low_open=True)
    C.check_values_in(torch.tensor([1.0]), "x", 0.0, 1.0)  # the closed end is allowed
    with pytest.raises(ValueError, match=r"x values must be one of \(-1, 1\), got 0"):
        C.check_values_among(torch.tensor(0.0), "x", (-1, 1))
    with pytest.raises(ValueError, match=r"target class indices must be in \[0, 2\], got 3"):
        C.check_class_target(torch.zeros(1, 3), torch.tensor([3]))


def test_device_check_names_both_devices():
    # a meta tensor stands in for a second device on a CPU-only machine
    with pytest.raises(ValueError, match=r"all tensors must be on one device, got input on cpu, target on meta"):
        lc.sigmoid_focal_loss(torch.randn(3), torch.zeros(3, device="meta"))
    with pytest.raises(ValueError, match=r"all tensors must be on one device, got input on cpu, weight on meta"):
        lc.label_smoothing_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), weight=torch.ones(3, device="meta"))

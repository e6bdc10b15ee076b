"""Promises every public loss keeps, checked over one catalogue of cases (``CASES``).

- No host synchronisation. Each public loss (function and module) runs forward and backward with ``Tensor.item``,
``.tolist``, ``.cpu``, ``.numpy``, ``__bool__``, ``__int__`` and ``__float__`` made to raise, with
the value checks in their device-side mode (``set_value_checks("device")``), which is what an
accelerator gets by default. Then each one is traced with ``torch.compile(fullgraph=True)``: a
graph break (a Python branch on a tensor value, a data-dependent shape) fails the test.
- Finite loss and gradients at inputs of +-1e4 and for float16 / bfloat16 inputs (computed in
  float32, so the loss comes back in float32).
A coverage test makes sure that a new public loss cannot be added without a case here.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Callable

import pytest
import torch

import losscookbook as lc

SUPPORT_MODULES = {"data", "metrics", "training", "plotting", "activations"}
SYNC_METHODS = ("item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__")


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape)


def _binary(*shape: int) -> torch.Tensor:
    return torch.randint(0, 2, shape).float()


def _signed(*shape: int) -> torch.Tensor:
    return torch.randint(0, 2, shape).float() * 2 - 1


def _classes(n: int, c: int) -> torch.Tensor:
    t = torch.randint(0, c, (n,))
    t[0] = -100  # one ignored target
    return t


def _bind(fn: Callable[..., torch.Tensor], **kwargs) -> Callable[..., torch.Tensor]:
    """``fn`` with keyword arguments fixed now (random ones drawn once, not per call)."""
    return lambda *inputs: fn(*inputs, **kwargs)


_labels = torch.arange(4).repeat_interleave(4)
_sampler = lc.unigram_sampler(torch.arange(1.0, 51.0))
_click = torch.tensor([1.0, 0.0] * 8)
_conversion = _click * torch.tensor([1.0, 1.0, 0.0, 0.0] * 4)

# name -> a function returning (callable, tuple of inputs); the first input is the one differentiated
CASES: dict[str, Callable[[], tuple[Callable[..., torch.Tensor], tuple]]] = {
    # classic
    "hinge_loss": lambda: (lambda x, y: lc.hinge_loss(x, y, squared=True), (_x(16), _signed(16))),
    "HingeLoss": lambda: (lc.HingeLoss(), (_x(16), _signed(16))),
    "logistic_loss": lambda: (lambda x, y: lc.logistic_loss(x, y, labels="binary"), (_x(16), _binary(16))),
    "LogisticLoss": lambda: (lc.LogisticLoss(), (_x(16), _signed(16))),
    "exponential_loss": lambda: (lc.exponential_loss, (_x(16), _signed(16))),
    "ExponentialLoss": lambda: (lc.ExponentialLoss(), (_x(16), _signed(16))),
    "multiclass_hinge_loss": lambda: (lc.multiclass_hinge_loss, (_x(16, 5), _classes(16, 5))),
    "MulticlassHingeLoss": lambda: (lc.MulticlassHingeLoss(variant="crammer_singer"), (_x(16, 5), _classes(16, 5))),
    # regression
    "mse_loss": lambda: (_bind(lc.mse_loss, weight=torch.rand(16)), (_x(16), _x(16))),
    "MeanSquaredErrorLoss": lambda: (lc.MeanSquaredErrorLoss(), (_x(16), _x(16))),
    "mae_loss": lambda: (lc.mae_loss, (_x(16), _x(16))),
    "MeanAbsoluteErrorLoss": lambda: (lc.MeanAbsoluteErrorLoss(), (_x(16), _x(16))),
    "huber_loss": lambda: (lc.huber_loss, (_x(16), _x(16))),
    "HuberLoss": lambda: (lc.HuberLoss(delta=0.5), (_x(16), _x(16))),
    "smooth_l1_loss": lambda: (lc.smooth_l1_loss, (_x(16), _x(16))),
    "SmoothL1Loss": lambda: (lc.SmoothL1Loss(beta=0.5), (_x(16), _x(16))),
    "log_cosh_loss": lambda: (lc.log_cosh_loss, (_x(16), _x(16))),
    "LogCoshLoss": lambda: (lc.LogCoshLoss(), (_x(16), _x(16))),
    "quantile_loss": lambda: (lambda x, y: lc.quantile_loss(x, y, quantiles=[0.1, 0.5, 0.9]), (_x(16, 3), _x(16, 1))),
    "QuantileLoss": lambda: (lc.QuantileLoss(quantiles=0.9), (_x(16), _x(16))),
    "gaussian_nll_loss": lambda: (_bind(lc.gaussian_nll_loss, log_var=torch.randn(16)), (_x(16), _x(16))),
    "GaussianNLLLoss": lambda: (_bind(lc.GaussianNLLLoss(full=True), log_var=torch.randn(16)), (_x(16), _x(16))),
    # label smoothing and distillation
    "label_smoothing_cross_entropy": lambda: (
        _bind(lc.label_smoothing_cross_entropy, weight=torch.rand(5)),
        (_x(16, 5), _classes(16, 5)),
    ),
    "LabelSmoothingCrossEntropy": lambda: (lc.LabelSmoothingCrossEntropy(), (_x(16, 5, 3), torch.randint(0, 5, (16, 3)))),
    "binary_cross_entropy_with_smoothing": lambda: (
        _bind(lc.binary_cross_entropy_with_smoothing, pos_weight=torch.tensor([2.0])),
        (_x(16), _binary(16)),
    ),
    "BinaryCrossEntropyWithSmoothing": lambda: (lc.BinaryCrossEntropyWithSmoothing(), (_x(16), _binary(16))),
    "distillation_loss": lambda: (
        _bind(lc.distillation_loss, target=torch.randint(0, 5, (16,))),
        (_x(16, 5), _x(16, 5)),
    ),
    "DistillationLoss": lambda: (lc.DistillationLoss(), (_x(16, 5), _x(16, 5))),
    # class imbalance, focal, GHM
    "balanced_binary_cross_entropy": lambda: (lc.balanced_binary_cross_entropy, (_x(16), _binary(16))),
    "BalancedBinaryCrossEntropy": lambda: (lc.BalancedBinaryCrossEntropy(alpha=torch.tensor(0.75)), (_x(16), _binary(16))),
    "sigmoid_focal_loss": lambda: (
        lambda x, y: lc.sigmoid_focal_loss(x, y, normalizer=y.sum().clamp(min=1)),
        (_x(16), _binary(16)),
    ),
    "SigmoidFocalLoss": lambda: (lc.SigmoidFocalLoss(gamma=0.5), (_x(16), _binary(16))),
    "softmax_focal_loss": lambda: (_bind(lc.softmax_focal_loss, alpha=torch.rand(5)), (_x(16, 5), _classes(16, 5))),
    "SoftmaxFocalLoss": lambda: (lc.SoftmaxFocalLoss(), (_x(16, 5), _classes(16, 5))),
    "ghmc_loss": lambda: (_bind(lc.ghmc_loss, bins=5, valid=torch.rand(16) > 0.2), (_x(16), _binary(16))),
    "GHMCLoss": lambda: (lc.GHMCLoss(), (_x(16), _binary(16))),
    "ghmr_loss": lambda: (lc.ghmr_loss, (_x(16), _x(16))),
    "GHMRLoss": lambda: (lc.GHMRLoss(), (_x(16), _x(16))),
    # multi-task recommendation
    "esmm_loss": lambda: (_bind(lc.esmm_loss, click=_click, conversion=_conversion), (_x(16), _x(16))),
    "ESMMLoss": lambda: (_bind(lc.ESMMLoss(ctr_weight=0.5), click=_click, conversion=_conversion), (_x(16), _x(16))),
    "esmm_loss_parts": lambda: (
        lambda a, b: sum(lc.esmm_loss_parts(a, b, _click, _conversion)),
        (_x(16), _x(16)),
    ),
    "dien_auxiliary_loss": lambda: (
        _bind(lc.dien_auxiliary_loss, mask=torch.rand(4, 6) > 0.3),
        (_x(4, 6, 3), _x(4, 6, 3), _x(4, 6, 3)),
    ),
    # metric learning (4 classes x 4 samples; distances stay away from 0 for random embeddings)
    "contrastive_loss": lambda: (_bind(lc.contrastive_loss, same=torch.rand(16) > 0.5), (_x(16, 8), _x(16, 8))),
    "ContrastiveLoss": lambda: (lc.ContrastiveLoss(margin=2.0), (_x(16, 8), _x(16, 8), (torch.rand(16) > 0.5).float())),
    "triplet_loss": lambda: (lc.triplet_loss, (_x(16, 8), _x(16, 8), _x(16, 8))),
    "TripletLoss": lambda: (lc.TripletLoss(squared=False, margin=1.0), (_x(16, 8), _x(16, 8), _x(16, 8))),
    "margin_ranking_loss": lambda: (lc.margin_ranking_loss, (_x(16), _x(16))),
    "MarginRankingLoss": lambda: (lc.MarginRankingLoss(margin=0.5), (_x(16), _x(16))),
    "batch_all_triplet_loss": lambda: (_bind(lc.batch_all_triplet_loss, labels=_labels, margin=2.0), (_x(16, 8),)),
    "BatchAllTripletLoss": lambda: (lc.BatchAllTripletLoss(margin=2.0, squared=True), (_x(16, 8), _labels)),
    "batch_hard_triplet_loss": lambda: (_bind(lc.batch_hard_triplet_loss, labels=_labels), (_x(16, 8),)),
    "BatchHardTripletLoss": lambda: (lc.BatchHardTripletLoss(soft=True), (_x(16, 8), _labels)),
    "semi_hard_triplet_loss": lambda: (_bind(lc.semi_hard_triplet_loss, labels=_labels, margin=1.0), (_x(16, 8),)),
    "SemiHardTripletLoss": lambda: (lc.SemiHardTripletLoss(squared=False), (_x(16, 8), _labels)),
    "margin_softmax_loss": lambda: (
        _bind(lc.margin_softmax_loss, weight=_x(5, 8), target=torch.randint(0, 5, (16,)), kind="arcface"),
        (_x(16, 8),),
    ),
    "MarginSoftmaxLoss": lambda: (lc.MarginSoftmaxLoss(8, 5), (_x(16, 8), torch.randint(0, 5, (16,)))),
    # sampled softmax and negative sampling (fixed candidates: a generator cannot be traced)
    "negative_sampling_loss": lambda: (lc.negative_sampling_loss, (_x(16, 8), _x(16, 8), _x(16, 5, 8))),
    "NegativeSamplingLoss": lambda: (lc.NegativeSamplingLoss(), (_x(16, 8), _x(16, 8), _x(5, 8))),
    "sampled_softmax_loss": lambda: (
        _bind(lc.sampled_softmax_loss, weight=_x(50, 8), target=torch.randint(0, 50, (16,)), num_sampled=10,
              sampler=_sampler, candidates=torch.randint(0, 50, (10,))),
        (_x(16, 8),),
    ),
    "SampledSoftmaxLoss": lambda: (
        _bind(lc.SampledSoftmaxLoss(num_sampled=10, sampler=_sampler, logq_on_target=True), candidates=torch.randint(0, 50, (10,))),
        (_x(16, 8), _x(50, 8), torch.randint(0, 50, (16,))),
    ),
    "in_batch_softmax_loss": lambda: (_bind(lc.in_batch_softmax_loss, log_q=-torch.rand(16) * 3), (_x(16, 8), _x(16, 8))),
    "InBatchSoftmaxLoss": lambda: (
        _bind(lc.InBatchSoftmaxLoss(temperature=0.1), item_ids=torch.randint(0, 8, (16,))),
        (_x(16, 8), _x(16, 8)),
    ),
    # multi-task weighting: the per-sample (heteroscedastic) classification form
    "heteroscedastic_classification_loss": lambda: (
        _bind(lc.heteroscedastic_classification_loss, log_var=torch.randn(16)),
        (_x(16, 5), torch.randint(0, 5, (16,))),
    ),
    "HeteroscedasticClassificationLoss": lambda: (
        _bind(lc.HeteroscedasticClassificationLoss(), log_var=torch.randn(16)),
        (_x(16, 5), torch.randint(0, 5, (16,))),
    ),
    "DIENAuxiliaryLoss": lambda: (lc.DIENAuxiliaryLoss(reduction="batchmean"), (_x(4, 6, 3), _x(4, 6, 3), _x(4, 6, 3))),
}


def _public_losses() -> list[str]:
    names = []
    for info in pkgutil.iter_modules(lc.__path__):
        if info.name.startswith("_") or info.name in SUPPORT_MODULES:
            continue
        module = importlib.import_module(f"losscookbook.{info.name}")
        names += [n for n in module.__all__ if n.endswith(("_loss", "Loss", "CrossEntropy", "_entropy", "_smoothing", "_loss_parts"))]
    return names


def test_every_public_loss_has_a_case():
    missing = sorted(set(_public_losses()) - set(CASES))
    assert not missing, f"add these losses to CASES in tests/test_no_sync.py: {missing}"


@contextlib.contextmanager
def syncs_raise():
    """Inside the block, every Tensor method that reads a value back to the host raises."""

    def refuse(name: str):
        def method(self, *args, **kwargs):
            raise AssertionError(f"host synchronisation: Tensor.{name}() called")

        return method

    with pytest.MonkeyPatch.context() as patch:
        for name in SYNC_METHODS:
            patch.setattr(torch.Tensor, name, refuse(name))
        yield


def _inputs(case: str):
    fn, inputs = CASES[case]()
    x = inputs[0].clone().requires_grad_(True)
    return fn, x, inputs[1:]


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_backward_read_nothing_back_to_the_host(case):
    fn, x, rest = _inputs(case)
    with lc.value_checks("device"), syncs_raise():
        loss = fn(x, *rest)
        loss.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("case", sorted(CASES))
def test_traces_as_one_graph(case):
    torch._dynamo.reset()
    fn, x, rest = _inputs(case)
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    loss = compiled(x, *rest)
    loss.sum().backward()
    assert torch.isfinite(x.grad).all()
    reference = fn(x.detach(), *rest)
    if not isinstance(fn, (lc.GHMCLoss, lc.GHMRLoss)):  # their moving average moved on
        torch.testing.assert_close(loss.detach(), reference, rtol=1e-5, atol=1e-6)


def test_device_mode_still_rejects_bad_values():
    x = torch.randn(4)
    with lc.value_checks("device"), pytest.raises(RuntimeError, match=r"target values must be in \[0.0, 1.0\]"):
        lc.sigmoid_focal_loss(x, torch.tensor([0.0, 1.0, 2.0, 0.0]))
    with lc.value_checks("device"), pytest.raises(RuntimeError, match=r"target class indices must be in \[0, 2\]"):
        lc.softmax_focal_loss(torch.randn(2, 3), torch.tensor([0, 3]))
    with lc.value_checks("device"), pytest.raises(RuntimeError, match=r"target values must be one of \(-1, 1\)"):
        lc.hinge_loss(x, torch.tensor([1.0, -1.0, 0.0, 1.0]))
    with lc.value_checks("device"), pytest.raises(RuntimeError, match=r"labels must contain at least 2 classes"):
        lc.batch_hard_triplet_loss(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))
    with lc.value_checks("device"), pytest.raises(RuntimeError, match=r"every class needs at least 2 samples"):
        lc.batch_hard_triplet_loss(torch.randn(3, 3), torch.tensor([0, 0, 1]))
    with lc.value_checks("device"), pytest.raises(RuntimeError, match=r"embeddings must be finite"):
        lc.batch_hard_triplet_loss(torch.tensor([[0.0], [float("nan")], [1.0], [2.0]]), torch.tensor([0, 0, 1, 1]))


def test_compiled_losses_reject_bad_values_without_a_graph_break():
    compiled = torch.compile(lc.sigmoid_focal_loss, fullgraph=True, backend="aot_eager")
    compiled(torch.randn(4), torch.tensor([0.0, 1.0, 1.0, 0.0]))
    with pytest.raises(RuntimeError, match=r"target values must be in \[0.0, 1.0\]"):
        compiled(torch.randn(4), torch.tensor([0.0, 1.0, 2.0, 0.0]))


def test_value_checks_can_be_switched_off_and_the_mode_is_validated():
    with lc.value_checks("off"):
        lc.sigmoid_focal_loss(torch.randn(3), torch.tensor([0.0, 1.0, 2.0]))  # not checked
    with pytest.raises(ValueError, match=r"target values must be in \[0.0, 1.0\], got 2.0"):
        lc.sigmoid_focal_loss(torch.randn(3), torch.tensor([0.0, 1.0, 2.0]))  # eager again afterwards
    with pytest.raises(ValueError, match=r"mode must be one of \('auto', 'device', 'off'\), got 'lazy'"):
        lc.set_value_checks("lazy")


@pytest.mark.parametrize("case", sorted(CASES))
def test_finite_at_inputs_of_1e4(case):
    fn, inputs = CASES[case]()
    x = (inputs[0].sign() * 1e4).requires_grad_(True)
    loss = fn(x, *inputs[1:])
    loss.sum().backward()
    assert torch.isfinite(loss).all(), loss
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("case", sorted(CASES))
def test_half_precision_inputs_are_computed_in_float32(case, dtype):
    fn, inputs = CASES[case]()
    x = inputs[0].to(dtype).requires_grad_(True)
    rest = tuple(t.to(dtype) if t.is_floating_point() and t.shape == x.shape else t for t in inputs[1:])
    loss = fn(x, *rest)
    loss.sum().backward()
    assert loss.dtype == torch.float32, loss.dtype
    assert torch.isfinite(loss).all() and torch.isfinite(x.grad.float()).all()
    assert x.grad.dtype == dtype


MODULE_CASES = sorted(name for name in CASES if isinstance(CASES[name]()[0], torch.nn.Module))


@pytest.mark.parametrize("case", MODULE_CASES)
def test_module_state_round_trips_and_moves_with_to(case):
    module, inputs = CASES[case]()
    module(*inputs)  # stateful modules (GHM) update their state here
    state = module.state_dict()
    fresh, _ = CASES[case]()
    fresh.load_state_dict(state)
    for key, value in fresh.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    torch.testing.assert_close(fresh(*inputs), module(*inputs), rtol=0, atol=0)
    moved = fresh.to("meta")
    assert all(t.device.type == "meta" for t in moved.state_dict().values())

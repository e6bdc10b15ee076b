"""Input checks and reductions shared by every loss in the package (private).

Every public function validates its arguments here, before any work is done, so that a
wrong shape, dtype or hyperparameter fails with a message that names the argument, the
expected value and the actual one. Nothing in this module is part of the public API.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from . import config

__all__: list[str] = []

REDUCTIONS = ("none", "mean", "sum")


# --------------------------------------------------------------------------- reductions
def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of the strings ``choices``, else raise ValueError naming them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_reduction(reduction: str, choices: Sequence[str] = REDUCTIONS) -> str:
    """Return ``reduction`` if it is one of ``choices``, else raise ValueError."""
    return check_choice(reduction, "reduction", choices)


def safe_divide(numerator: Tensor, denominator: Tensor | float) -> Tensor:
    """``numerator / denominator``, with a zero denominator replaced by 1.

    Used for means over empty or fully ignored batches: their numerator is an empty sum (0),
    so the result is 0 instead of NaN and no NaN leaks into the backward pass (the gradient
    with respect to the numerator's inputs is 0 too). A zero denominator with a non-zero
    numerator returns the numerator unchanged; callers only divide sums by their own weights.
    """
    denominator = torch.as_tensor(denominator, dtype=numerator.dtype, device=numerator.device)
    nonzero = denominator != 0
    return numerator / torch.where(nonzero, denominator, torch.ones_like(denominator))


def reduce_loss(loss: Tensor, reduction: str, denominator: Tensor | float | None = None) -> Tensor:
    """Apply ``reduction`` to an unreduced loss.

    ``"mean"`` divides the sum by ``denominator`` (default: the number of elements);
    an empty sum over a zero denominator gives 0, not NaN.
    """
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return safe_divide(total, loss.numel() if denominator is None else denominator)


# --------------------------------------------------------------------------- dtypes
def compute_dtype(tensor: Tensor) -> torch.dtype:
    """The dtype a loss computes in: float32 for half precision, the tensor's own otherwise."""
    if tensor.dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return tensor.dtype


def upcast(tensor: Tensor) -> Tensor:
    """``tensor`` in its compute dtype (fp16/bf16 become float32; float32/64 unchanged)."""
    return tensor.to(compute_dtype(tensor))


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of dtype {value.dtype}"
    return f"{type(value).__name__}"


def check_tensor(value: object, name: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_describe(value)}")
    return value


def check_floating(value: object, name: str) -> Tensor:
    """Raise TypeError unless ``value`` is a floating-point tensor."""
    tensor = check_tensor(value, name)
    if not tensor.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {tensor.dtype}")
    return tensor


def check_integer(value: object, name: str) -> Tensor:
    """Raise TypeError unless ``value`` is an integer tensor (class indices)."""
    tensor = check_tensor(value, name)
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise TypeError(f"{name} must hold class indices (an integer tensor), got dtype {tensor.dtype}")
    return tensor


# --------------------------------------------------------------------------- shapes
def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_min_ndim(tensor: Tensor, name: str, ndim: int, layout: str) -> None:
    """Raise ValueError if ``tensor`` has fewer than ``ndim`` dimensions; ``layout`` names the expected form."""
    if tensor.dim() < ndim:
        raise ValueError(f"{name} must have shape {layout}, got {_shape(tensor.shape)}")


def check_same_shape(a: Tensor, b: Tensor, names: tuple[str, str] = ("input", "target")) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{names[1]} must have the same shape as {names[0]}, "
            f"expected {_shape(a.shape)}, got {_shape(b.shape)}"
        )


def check_float_pair(input: Tensor, target: Tensor) -> None:
    """Floating ``input`` and ``target`` of the same shape, on the same device."""
    check_floating(input, "input")
    check_floating(target, "target")
    check_same_shape(input, target)
    check_same_device(("input", input), ("target", target))


def check_broadcastable(tensor: Tensor, name: str, shape: torch.Size, target_name: str) -> None:
    """Raise ValueError unless ``tensor`` broadcasts to ``shape`` without changing it."""
    try:
        broadcast = torch.broadcast_shapes(tensor.shape, shape)
    except RuntimeError:
        broadcast = None
    if broadcast != shape:
        raise ValueError(
            f"{name} must broadcast to the shape of {target_name} {_shape(shape)}, got {_shape(tensor.shape)}"
        )


def check_same_device(*pairs: tuple[str, Tensor]) -> None:
    devices = {t.device for _, t in pairs}
    if len(devices) > 1:
        where = ", ".join(f"{n} on {t.device}" for n, t in pairs)
        raise ValueError(f"all tensors must be on one device, got {where}")


# --------------------------------------------------------------------------- numbers
def check_number(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real number inside the interval, else raise.

    The interval is ``[low, high]``; ``low_open`` / ``high_open`` exclude an end point.
    """
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    value = float(value)
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    inside = value == value and value != math.inf and value != -math.inf  # finite (traceable by torch.compile)
    if low is not None:
        inside = inside and (value > low if low_open else value >= low)
    if high is not None:
        inside = inside and (value < high if high_open else value <= high)
    if not inside:
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def check_int(value: object, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` if it is an integer in ``[low, high]``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_describe(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        interval = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise ValueError(f"{name} must be an integer in {interval}, got {value}")
    return value


# --------------------------------------------------------------------------- tensor values
def _value_checks_eager(tensor: Tensor) -> bool | None:
    """True: check eagerly; False: device-side assert; None: do not check (mode "off")."""
    mode = config.value_check_mode()
    if mode == "off":
        return None
    if mode == "device" or torch.compiler.is_compiling():
        return False
    return tensor.device.type == "cpu"


def _assert_none(bad: Tensor, message: str) -> None:
    """Device-side assert that no element of ``bad`` is True (no host synchronisation)."""
    torch._assert_async(torch.logical_not(bad.any()), message)


def check_values_in(
    tensor: Tensor, name: str, low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> None:
    """Raise ValueError if any element of ``tensor`` lies outside the interval (or is NaN).

    The interval is ``[low, high]``; ``low_open`` / ``high_open`` exclude an end point. Follows the
    mode of :func:`set_value_checks` (a device-side assert off the CPU).
    """
    eager = _value_checks_eager(tensor)
    if eager is None or tensor.numel() == 0:
        return

    def inside(values: Tensor) -> Tensor:  # NaN is outside: every comparison with it is False
        above = values > low if low_open else values >= low
        below = values < high if high_open else values <= high
        return above & below

    interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if not eager:
        _assert_none(~inside(tensor), f"{name} values must be in {interval}")
        return
    # eager: one pass for the extremes (NaN propagates into them); the offending value only on failure
    lowest, highest = torch.aminmax(tensor.to(torch.uint8) if tensor.dtype == torch.bool else tensor)
    if not bool(inside(torch.stack((lowest, highest))).all()):
        example = tensor[~inside(tensor)].flatten()[0].item()
        raise ValueError(f"{name} values must be in {interval}, got {example}")


# every integer dtype that can hold class indices; each is converted to int64 before use
INDEX_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def class_indices(value: object, name: str = "target") -> Tensor:
    """``value`` as an int64 tensor of class indices (no copy for int64).

    Accepts int64, int32, int16, int8 and uint8 (torch's own losses take only int64 and uint8);
    any other dtype raises TypeError naming the accepted ones.
    """
    tensor = check_integer(value, name)
    if tensor.dtype not in INDEX_DTYPES:
        names = ", ".join(str(d).replace("torch.", "") for d in INDEX_DTYPES)
        raise TypeError(f"{name} class indices must have one of the dtypes ({names}), got {tensor.dtype}")
    return tensor.long()


def check_class_target(input: Tensor, target: Tensor, *, ignore_index: int | None = None) -> Tensor:
    """Check integer class indices for ``input`` of shape (N, C, d1, ...); return them as int64.

    ``target`` must be an integer tensor (see :func:`class_indices`) of shape (N, d1, ...) with
    values in [0, C) or equal to ``ignore_index``.
    """
    target = class_indices(target, "target")
    expected = (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"target of class indices must have shape (N, d1, ...) = {_shape(expected)} "
            f"for input {_shape(input.shape)}, got {_shape(target.shape)}"
        )
    eager = _value_checks_eager(target)
    if eager is None or target.numel() == 0:
        return target
    num_classes = input.shape[1]
    bad = (target < 0) | (target >= num_classes)
    if ignore_index is not None:
        bad &= target != ignore_index
    allowed = f"[0, {num_classes - 1}]"
    if ignore_index is not None:
        allowed += f" or ignore_index={ignore_index}"
    if not eager:
        _assert_none(bad, f"target class indices must be in {allowed}")
    elif bool(bad.any()):
        example = target[bad].flatten()[0].item()
        raise ValueError(f"target class indices must be in {allowed}, got {example}")
    return target


def buffer_copy(value: Tensor | None, name: str, low: float = 0.0, high: float = math.inf) -> Tensor | None:
    """A detached copy of an optional floating tensor hyperparameter (values in [low, high]), to keep in a module buffer.

    Checked once, when the module is built, so that a bad weight fails at construction.
    """
    if value is None:
        return None
    check_floating(value, name)
    check_values_in(value, name, low, high)
    return value.detach().clone()


def check_class_weight(weight: Tensor | None, num_classes: int, input: Tensor, name: str = "weight") -> Tensor | None:
    """Check a per-class weight vector of shape (C,) with non-negative entries."""
    if weight is None:
        return None
    check_floating(weight, name)
    if weight.shape != (num_classes,):
        raise ValueError(f"{name} must have shape (C,) = ({num_classes},), got {_shape(weight.shape)}")
    check_same_device(("input", input), (name, weight))
    check_values_in(weight, name, 0.0, math.inf)
    return weight


# --------------------------------------------------------------------------- labels and element weights
def check_values_among(tensor: Tensor, name: str, allowed: Sequence[float], hint: str = "") -> None:
    """Raise ValueError if an element of ``tensor`` is not one of ``allowed`` (e.g. labels -1 and 1)."""
    eager = _value_checks_eager(tensor)
    if eager is None or tensor.numel() == 0:
        return
    ok = torch.zeros_like(tensor, dtype=torch.bool)
    for value in allowed:
        ok |= tensor == value
    choices = "(" + ", ".join(f"{v:g}" for v in allowed) + ")"
    if not eager:
        _assert_none(~ok, f"{name} values must be one of {choices}{hint}")
    elif not bool(ok.all()):
        example = tensor[~ok].flatten()[0].item()
        raise ValueError(f"{name} values must be one of {choices}, got {example:g}{hint}")


def check_elementwise_weight(weight: Tensor | None, shape: torch.Size, input: Tensor, name: str = "weight") -> Tensor | None:
    """Check an optional per-element weight: floating, non-negative, broadcastable to ``shape``."""
    if weight is None:
        return None
    check_floating(weight, name)
    check_broadcastable(weight, name, torch.Size(shape), "the unreduced loss")
    check_same_device(("input", input), (name, weight))
    check_values_in(weight, name, 0.0, math.inf)
    return weight


def reduce_weighted(loss: Tensor, reduction: str, weight: Tensor | None = None) -> Tensor:
    """Apply ``reduction`` to ``loss`` times an optional broadcastable per-element ``weight``.

    ``"mean"`` divides the weighted sum by the summed (broadcast) weights, so that a constant
    weight changes nothing; a zero total weight gives 0 with zero gradients.
    """
    if weight is None:
        return reduce_loss(loss, reduction)
    weighted = loss * weight.to(loss.dtype)
    if reduction != "mean":
        return reduce_loss(weighted, reduction)
    return safe_divide(weighted.sum(), torch.broadcast_to(weight.to(loss.dtype), loss.shape).sum())



# ---- checks added for recsys
def check_nested_labels(outer: Tensor, inner: Tensor, names: tuple[str, str]) -> None:
    """0/1 labels where ``inner`` implies ``outer`` (a conversion needs a click).

    Both must hold only 0 and 1, and ``inner`` may be 1 only where ``outer`` is 1. Value checks,
    run as :func:`losscookbook.config.set_value_checks` says.
    """
    check_values_among(outer, names[0], (0, 1))
    check_values_among(inner, names[1], (0, 1))
    eager = _value_checks_eager(inner)
    if eager is None or inner.numel() == 0:
        return
    bad = (inner != 0) & (outer == 0)
    message = f"{names[1]} must be 0 where {names[0]} is 0 ({names[1]} is only observed after {names[0]})"
    if not eager:
        _assert_none(bad, message)
    elif bool(bad.any()):
        first = int(bad.flatten().nonzero()[0, 0])
        raise ValueError(f"{message}, got {names[1]}=1 and {names[0]}=0 at flat index {first}")


# ---- checks added for multitask
def check_scalar(value: object, name: str) -> Tensor:
    """Raise unless ``value`` is a floating-point tensor with a single element and no dimensions."""
    tensor = check_floating(value, name)
    if tensor.dim() != 0:
        raise ValueError(f"{name} must be a scalar tensor (shape ()), got shape {_shape(tensor.shape)}")
    return tensor


def check_count(count: int, name: str, expected: int, what: str) -> None:
    """Raise ValueError if ``count`` (the length of ``name``) differs from ``expected`` ``what``."""
    if count != expected:
        raise ValueError(f"{name} must hold {expected} {what}, got {count}")


def check_keys(keys: Sequence[str], name: str, expected: Sequence[str]) -> None:
    """Raise ValueError naming the missing and the unexpected keys of a dict argument."""
    missing = [k for k in expected if k not in keys]
    extra = [k for k in keys if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        raise ValueError(f"{name} must have the keys {list(expected)}: {', '.join(parts)}")


# ---- value checks added for sampling and metric learning
def check_finite(tensor: Tensor, name: str) -> None:
    """Raise ValueError if an element of ``tensor`` is NaN or infinite (mode of ``set_value_checks``)."""
    eager = _value_checks_eager(tensor)
    if eager is None or tensor.numel() == 0:
        return
    bad = ~torch.isfinite(tensor)
    if not eager:
        _assert_none(bad, f"{name} must be finite")
    elif bool(bad.any()):
        example = tensor[bad].flatten()[0].item()
        raise ValueError(f"{name} must be finite, got {example} at {int(bad.sum())} position(s)")


def check_triplet_labels(labels: Tensor, name: str, *, every_anchor_needs_positive: bool) -> None:
    """Labels of a batch to mine triplets from: at least two classes (every anchor has a
    negative), and, with ``every_anchor_needs_positive``, at least two samples of every class.
    Value checks, run as :func:`losscookbook.config.set_value_checks` says (the device-side form
    compares the labels pairwise: O(B^2) booleans, no host synchronisation)."""
    eager = _value_checks_eager(labels)
    if eager is None:
        return
    if not eager:
        same = labels[:, None] == labels[None, :]
        _assert_none(same.all().reshape(1), f"{name} must contain at least 2 classes (an anchor needs a negative)")
        if every_anchor_needs_positive:
            _assert_none(same.sum(1) < 2, f"{name}: every class needs at least 2 samples (an anchor needs a positive)")
        return
    classes, counts = torch.unique(labels, return_counts=True)
    if classes.numel() < 2:
        found = "no labels" if classes.numel() == 0 else f"only class {classes[0].item()}"
        raise ValueError(f"{name} must contain at least 2 classes (an anchor needs a negative), got {found}")
    if every_anchor_needs_positive and bool((counts < 2).any()):
        single = classes[counts < 2][0].item()
        raise ValueError(
            f"{name}: every class needs at least 2 samples (an anchor needs a positive), "
            f"got class {single} with 1 sample"
        )

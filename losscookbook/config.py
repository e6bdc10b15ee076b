"""Package-wide settings: how losses check the values of their tensor inputs.

Every loss checks shapes, dtypes, devices and hyperparameters eagerly: those are metadata and
cost nothing. Checking tensor *values* (targets in [0, 1], class indices in range) means reading
a result back from the device, which would synchronise a GPU on every call and break a
``torch.compile`` graph. This module is the one place that decides how those value checks run.
"""

from __future__ import annotations

__all__ = ["VALUE_CHECK_MODES", "set_value_checks", "value_checks", "value_check_mode"]

#: The modes of :func:`set_value_checks`.
VALUE_CHECK_MODES = ("auto", "device", "off")
_value_check_mode = "auto"


def set_value_checks(mode: str) -> str:
    """Choose how losses check tensor values (targets in range, labels among the allowed ones).

    Shape, dtype, device and hyperparameter checks read metadata only and always run eagerly.
    Checks of tensor *values* would read a result back to the host, which on an accelerator is a
    synchronisation per call and under ``torch.compile`` a graph break, so they depend on the mode:

    - ``"auto"`` (the default): CPU tensors are checked eagerly; a bad value raises ``ValueError``
      naming the argument and one offending value. Tensors on an accelerator, and every tensor
      under ``torch.compile``, are checked by a device-side assert (``torch._assert_async``): no
      host synchronisation and no graph break. A bad value then fails when the device reaches
      the assert: ``RuntimeError`` with the same message on the CPU, a device-side assert on CUDA.
    - ``"device"``: device-side asserts for every tensor, the CPU included.
    - ``"off"``: no value checks at all (for a training loop whose data is known to be valid).

    Returns the previous mode, so that it can be restored; :func:`value_checks` does that for a block.

    Example:
        >>> import losscookbook as lc
        >>> previous = lc.set_value_checks("off")
        >>> lc.set_value_checks(previous)
        'off'
    """
    global _value_check_mode
    previous = _value_check_mode
    _value_check_mode = _check_mode(mode, "mode", VALUE_CHECK_MODES)
    return previous


class value_checks:  # noqa: N801 (used like a function: ``with value_checks("device"):``)
    """Context manager: :func:`set_value_checks` for the duration of a ``with`` block."""

    def __init__(self, mode: str) -> None:
        self.mode = _check_mode(mode, "mode", VALUE_CHECK_MODES)
        self.previous = _value_check_mode

    def __enter__(self) -> None:
        self.previous = set_value_checks(self.mode)

    def __exit__(self, *exc: object) -> None:
        set_value_checks(self.previous)




def value_check_mode() -> str:
    """The current mode of the value checks: ``"auto"``, ``"device"`` or ``"off"``."""
    return _value_check_mode


def _check_mode(mode: object, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(mode, str) or mode not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {mode!r}")
    return mode

"""Plotting and display helpers for notebooks (the plots need the ``plot`` extra: matplotlib).

matplotlib and IPython are imported inside the functions, so importing ``losscookbook`` never
needs them.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torch import Tensor

from .metrics import expected_calibration_error, reliability_curve

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["glue", "markdown_table", "show_table", "show_source", "reliability_diagram"]


def glue(name: str, value: Any, *, display: bool = True) -> None:
    """Keep ``value`` under ``name`` so that the book's text can quote it, and show it if ``display``.

    In the book build this is myst-nb's ``glue`` (the prose reads the value with
    ``{glue:text}`name```). Where myst-nb is not installed, as in Colab or a plain Jupyter, nothing
    is stored and the value is only shown when ``display`` is true, so a chapter runs unchanged
    with nothing but the package installed.

    Example:
        >>> glue("answer", 42, display=False)
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], *, digits: int = 3) -> str:
    """A Markdown table of ``rows`` under ``header``; floats are printed with ``digits`` decimals.

    In a notebook, show it with ``IPython.display.Markdown(markdown_table(...))``.

    Example:
        >>> print(markdown_table(["loss", "AP"], [["focal", 0.51234], ["CE", 0.4]]))
        | loss | AP |
        |---|---|
        | focal | 0.512 |
        | CE | 0.400 |
    """
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"rows[{i}] must have {len(header)} entries like header, got {len(row)}")

    def cell(value: object) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def show_table(header: Sequence[str], rows: Sequence[Sequence[object]], *, digits: int = 3) -> None:
    """Display :func:`markdown_table` as a rendered table in Jupyter, or print it elsewhere."""
    text = markdown_table(header, rows, digits=digits)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython is absent
        print(text)
        return
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


def show_source(obj: object) -> None:
    """Print the source code of a function or class without its docstrings.

    The docstrings are on the API page; the chapters show the code itself.

    Example:
        >>> from losscookbook.smoothing import smooth_labels
        >>> show_source(smooth_labels)  # doctest: +ELLIPSIS
        def smooth_labels(target: Tensor, num_classes: int, smoothing: float) -> Tensor:
            C.check_tensor(target, "target")
        ...
    """
    source = textwrap.dedent(inspect.getsource(obj))
    lines = source.splitlines()
    drop: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                drop.update(range(first.lineno - 1, first.end_lineno))
    print("\n".join(line for i, line in enumerate(lines) if i not in drop))


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(4.5, 4.5))[1]


def reliability_diagram(
    logits: Tensor,
    target: Tensor,
    *,
    n_bins: int = 15,
    ax: Axes | None = None,
    label: str | None = None,
    **line_kwargs: Any,
) -> Axes:
    """Draw accuracy against confidence per bin, with the diagonal of perfect calibration.

    Each bin is a marker at (mean confidence, accuracy) whose area grows with the number of
    samples in the bin; the legend entry carries the expected calibration error. Call it
    several times on one ``ax`` to compare models.

    Args:
        logits: binary (N,) or multi-class (N, C) logits.
        target: labels (N,).
        n_bins: number of equal-width confidence bins.
        ax: the axes to draw on (a new figure when None).
        label: legend label; `` (ECE x.xxx)`` is appended.
        **line_kwargs: passed to ``Axes.plot`` (colour, line style ...).

    Returns:
        The axes.
    """
    curve = reliability_curve(logits, target, n_bins=n_bins)
    ece = expected_calibration_error(logits, target, n_bins=n_bins)
    ax = _axes(ax)
    occupied = curve.count > 0
    conf = curve.confidence[occupied].cpu().numpy()
    acc = curve.accuracy[occupied].cpu().numpy()
    share = (curve.count[occupied] / curve.count.sum()).cpu().numpy()
    text = f"ECE {ece:.3f}" if label is None else f"{label} (ECE {ece:.3f})"
    (line,) = ax.plot(conf, acc, marker="", label=text, **line_kwargs)
    ax.scatter(conf, acc, s=20 + 400 * share, color=line.get_color(), alpha=0.7, zorder=3)
    lo = min(0.5 if logits.dim() == 1 else 1.0 / logits.shape[1], float(conf.min(initial=1.0)))
    ax.plot([lo, 1], [lo, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize="small")
    return ax

"""Tests of the plotting helpers (Agg backend, nothing is shown)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from losscookbook.metrics import expected_calibration_error  # noqa: E402
from losscookbook.plotting import markdown_table, reliability_diagram  # noqa: E402


def test_reliability_diagram_draws_the_bins_and_reports_ece():
    logits = torch.randn(500, 3) * 3
    target = torch.randint(0, 3, (500,))
    fig, ax = plt.subplots()
    out = reliability_diagram(logits, target, ax=ax, label="model", n_bins=10)
    assert out is ax
    label = ax.get_legend().get_texts()[0].get_text()
    assert label == f"model (ECE {expected_calibration_error(logits, target, n_bins=10):.3f})"
    curve_line = ax.get_lines()[0]
    assert len(curve_line.get_xdata()) <= 10 and all(0 <= v <= 1 for v in curve_line.get_ydata())
    plt.close(fig)


def test_markdown_table_rejects_ragged_rows():
    with pytest.raises(ValueError, match=r"rows\[1\] must have 2 entries like header, got 3"):
        markdown_table(["a", "b"], [[1, 2], [1, 2, 3]])

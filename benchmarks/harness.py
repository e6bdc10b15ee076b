"""Timing harness shared by the benchmark scripts (benchmarks/bench_*.py).

Each benchmark compares implementations *in the same run* and reports ratios against a
baseline, never absolute claims. Times are medians over repeats of a forward+backward call
(or whatever the callable does), with CUDA synchronisation on a GPU; peak memory is read
from the CUDA allocator on a GPU and not reported on the CPU.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(fn: Callable[[], object], *, device: torch.device, warmup: int = 3, repeat: int = 10) -> dict:
    """Median and min wall time (seconds) of ``fn()``, and peak CUDA memory (bytes) on a GPU."""
    for _ in range(warmup):
        fn()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    out = {"median_s": statistics.median(times), "min_s": min(times)}
    if device.type == "cuda":
        out["peak_bytes"] = torch.cuda.max_memory_allocated(device) - base
    return out


def forward_backward(loss_fn: Callable[..., torch.Tensor], *inputs: torch.Tensor, **kwargs) -> Callable[[], None]:
    """A callable that runs ``loss_fn(*inputs, **kwargs).backward()`` on fresh leaf copies of float inputs."""
    leaves = [t.detach().clone().requires_grad_(t.is_floating_point()) if i == 0 else t for i, t in enumerate(inputs)]

    def run() -> None:
        leaves[0].grad = None
        loss_fn(*leaves, **kwargs).backward()

    return run


def environment(device: torch.device) -> dict:
    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def report(name: str, device: torch.device, rows: list[dict], baseline_key: str = "baseline") -> str:
    """Print a Markdown table of ``rows`` (dicts with 'case', 'impl', 'median_s', ...) and save it.

    Each row's ``ratio`` is its median time divided by the median time of the row of the same
    case whose ``impl`` equals that case's baseline (``row[baseline_key]``). Writes
    ``results/<name>-<device type>.md`` and ``.json``.
    """
    base = {r["case"]: r for r in rows if r["impl"] == r[baseline_key]}
    lines = [
        f"# {name} ({device.type})",
        "",
        "environment: " + ", ".join(f"{k}={v}" for k, v in environment(device).items()),
        "",
        "| case | implementation | median ms | ratio to baseline | peak MiB |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        r["ratio"] = r["median_s"] / base[r["case"]]["median_s"] if r["case"] in base else float("nan")
        peak = f"{r['peak_bytes'] / 2**20:.1f}" if "peak_bytes" in r else "-"
        lines.append(f"| {r['case']} | {r['impl']} | {1e3 * r['median_s']:.2f} | {r['ratio']:.2f} | {peak} |")
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}-{device.type}.md").write_text(text)
    (RESULTS / f"{name}-{device.type}.json").write_text(
        json.dumps({"environment": environment(device), "rows": rows}, indent=1, default=str)
    )
    return text

"""Timing harness shared by the benchmark scripts (benchmarks/bench_*.py).

Each benchmark compares implementations *in the same run* and reports ratios against a
baseline, never absolute claims. Times are medians over repeats of a forward+backward call
(or whatever the callable does), with CUDA synchronisation on a GPU; peak memory is read
from the CUDA allocator on a GPU and not reported on the CPU.
"""

from __future__ import annotations

import json
import os
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


def measure_interleaved(
    fns: dict[str, Callable[[], object]], *, device: torch.device, warmup: int = 3, rounds: int = 20
) -> dict[str, dict]:
    """Time several implementations of one case round-robin, in one process.

    Each round calls every implementation once, in a rotating order, so that drifts of the
    machine and of the allocator's state affect all of them alike. Returns, per name, the median,
    the first and third quartiles and the minimum of its wall times (seconds).
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            start = time.perf_counter()
            fns[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    out = {}
    for name, ts in times.items():
        q1, _, q3 = statistics.quantiles(ts, n=4)
        out[name] = {"median_s": statistics.median(ts), "q1_s": q1, "q3_s": q3, "min_s": min(ts), "rounds": rounds}
    return out


def forward_backward(loss_fn: Callable[..., torch.Tensor], *inputs: torch.Tensor, **kwargs) -> Callable[[], None]:
    """A callable that runs ``loss_fn(*inputs, **kwargs).backward()`` on fresh leaf copies of float inputs."""
    leaves = [t.detach().clone().requires_grad_(t.is_floating_point()) if i == 0 else t for i, t in enumerate(inputs)]

    def run() -> None:
        leaves[0].grad = None
        loss_fn(*leaves, **kwargs).backward()

    return run


def compare(
    case: str,
    impls: dict[str, Callable[..., torch.Tensor]],
    inputs: tuple[torch.Tensor, ...],
    *,
    baseline: str,
    device: torch.device,
    compiled: bool = True,
    eager_only: tuple[str, ...] = (),
    rounds: int = 20,
) -> list[dict]:
    """Rows for one case: every implementation, eager and (optionally) ``torch.compile``-d,
    forward + backward on ``inputs``, all timed round-robin in one process, plus a yardstick:
    a copy of the first input (what moving that many bytes costs on this machine).

    Compiled rows carry the suffix " [compiled]" and are compared with the compiled baseline;
    eager rows with the eager baseline. Implementations named in ``eager_only`` (e.g. one that
    reads values back to the host on purpose) are not compiled. Compilation happens during the
    warm-up rounds.
    """
    fns: dict[str, Callable[[], object]] = {}
    meta: dict[str, tuple[str, str]] = {}
    for name, fn in impls.items():
        fns[name] = forward_backward(fn, *inputs)
        meta[name] = ("eager", baseline)
        if compiled and name not in eager_only:
            fns[f"{name} [compiled]"] = forward_backward(torch.compile(fn), *inputs)
            meta[f"{name} [compiled]"] = ("compiled", f"{baseline} [compiled]")
    source = inputs[0]
    fns["yardstick: copy of the input"] = lambda: source.clone()
    meta["yardstick: copy of the input"] = ("eager", baseline)
    stats = measure_interleaved(fns, device=device, rounds=rounds)
    return [{"case": case, "impl": name, "mode": meta[name][0], "baseline": meta[name][1], **stats[name]} for name in fns]


def environment(device: torch.device) -> dict:
    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def report(name: str, device: torch.device, rows: list[dict], baseline_key: str = "baseline") -> str:
    """Print a Markdown table of ``rows`` (dicts with 'case', 'impl', 'median_s', ...) and save it.

    Each row's ``ratio`` is its median time divided by the median time of the row of the same
    case whose ``impl`` is the row's baseline (``row[baseline_key]``). Writes
    ``results/<name>-<device type>.md`` and ``.json``.
    """
    base = {(r["case"], r["impl"]): r for r in rows}
    lines = [
        f"# {name} ({device.type})",
        "",
        "environment: " + ", ".join(f"{k}={v}" for k, v in environment(device).items()),
        "",
        "Forward + backward; implementations of a case timed round-robin in one process. The ratio",
        "is the median time over the median time of the case's baseline (compiled rows: the compiled",
        "baseline); the interquartile range is in milliseconds.",
        "",
        "| case | implementation | median ms | IQR ms | ratio to baseline | peak MiB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        ref = base.get((r["case"], r[baseline_key]))
        r["ratio"] = r["median_s"] / ref["median_s"] if ref else float("nan")
        peak = f"{r['peak_bytes'] / 2**20:.1f}" if "peak_bytes" in r else "-"
        iqr = f"{1e3 * r['q1_s']:.2f}-{1e3 * r['q3_s']:.2f}" if "q1_s" in r else "-"
        lines.append(f"| {r['case']} | {r['impl']} | {1e3 * r['median_s']:.2f} | {iqr} | {r['ratio']:.2f} | {peak} |")
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}-{device.type}.md").write_text(text)
    (RESULTS / f"{name}-{device.type}.json").write_text(
        json.dumps({"environment": environment(device), "rows": rows}, indent=1, default=str)
    )
    return text

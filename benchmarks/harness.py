"""Timing harness shared by the benchmark scripts (benchmarks/bench_*.py).

Each benchmark compares implementations *in the same run* and reports ratios against a
baseline, never absolute claims. Times are medians over repeats of a forward+backward call
(or whatever the callable does), with CUDA synchronisation on a GPU.

Peak memory is measured apart from the timings, for each implementation in a fresh process
(:func:`peak_memory`): on a GPU the allocator's peak during one call beyond what was allocated
before it; on the CPU the growth of the resident set (Linux's ``VmHWM``, reset after a warm-up
call through ``/proc/self/clear_refs``) with glibc's mmap threshold fixed, so that every freed
tensor leaves the process and the resident set follows the live tensors instead of the
allocator's cache.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch

RESULTS = Path(__file__).resolve().parent / "results"
YARDSTICK = "yardstick: copy of the input"
# a fixed mmap threshold (which also turns off glibc's dynamic one): tensors above 64 KiB are
# mapped on allocation and unmapped when freed, so the resident set tracks the live tensors
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


class Case(NamedTuple):
    """One benchmark case: implementations ``fn(*inputs) -> loss`` compared on the same inputs."""

    name: str
    impls: dict[str, Callable[..., torch.Tensor]]
    inputs: tuple[torch.Tensor, ...]
    baseline: str
    eager_only: tuple[str, ...] = ()


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
    memory: dict[str, int | None] | None = None,
) -> list[dict]:
    """Rows for one case: every implementation, eager and (optionally) ``torch.compile``-d,
    forward + backward on ``inputs``, all timed round-robin in one process, plus a yardstick:
    a copy of the first input (what moving that many bytes costs on this machine).

    Compiled rows carry the suffix " [compiled]" and are compared with the compiled baseline;
    eager rows with the eager baseline. Implementations named in ``eager_only`` (e.g. one that
    reads values back to the host on purpose) are not compiled. Compilation happens during the
    warm-up rounds. ``memory`` maps implementation names (and :data:`YARDSTICK`) to the peak
    bytes of :func:`peak_memory`; they go into the eager rows as ``peak_bytes``.
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
    fns[YARDSTICK] = lambda: source.clone()
    meta[YARDSTICK] = ("eager", baseline)
    stats = measure_interleaved(fns, device=device, rounds=rounds)
    rows = [{"case": case, "impl": name, "mode": meta[name][0], "baseline": meta[name][1], **stats[name]} for name in fns]
    for row in rows:
        if memory and memory.get(row["impl"]) is not None:
            row["peak_bytes"] = memory[row["impl"]]
    return rows


# --------------------------------------------------------------------------- peak memory
def _proc_status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_in_this_process(fn: Callable[[], object], device: torch.device) -> int | None:
    """Peak memory of one call of ``fn`` beyond what is live before it, after one warm-up call.

    GPU: the CUDA allocator's peak. CPU: growth of the resident set; None where the peak cannot
    be reset (not Linux). Meaningful in a fresh process started by :func:`peak_memory`.
    """
    fn()  # warm-up: lazy initialisation and kernels, so that only the call itself is measured
    _sync(device)
    gc.collect()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        _sync(device)
        return torch.cuda.max_memory_allocated(device) - base
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident set
    except OSError:
        return None
    before = _proc_status_bytes("VmRSS")
    fn()
    peak = _proc_status_bytes("VmHWM")
    if before is None or peak is None:
        return None
    return max(0, peak - before)


def peak_memory(script: str, case: str, impl: str, device: torch.device, *, timeout: float = 600) -> int | None:
    """Peak bytes of one forward + backward of ``impl`` in ``case``, in a fresh interpreter.

    Runs ``python script --peak CASE IMPL DEVICE``; the script answers through :func:`child`.
    """
    env = dict(os.environ, **MALLOC_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    command = [sys.executable, script, "--peak", case, impl, str(device)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        print(f"peak memory of {impl!r} ({case}) failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    return json.loads(lines[-1])["peak_bytes"]


def child(cases: Callable[[torch.device], list[Case]]) -> bool:
    """In a process started by :func:`peak_memory`, measure and print; False in any other process."""
    if sys.argv[1:2] != ["--peak"]:
        return False
    case_name, impl, device_name = sys.argv[2:5]
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    device = torch.device(device_name)
    (case,) = [c for c in cases(device) if c.name == case_name]
    if impl == YARDSTICK:
        source = case.inputs[0]
        fn: Callable[[], object] = lambda: source.clone()  # noqa: E731
    else:
        fn = forward_backward(case.impls[impl], *case.inputs)
    print(json.dumps({"peak_bytes": peak_in_this_process(fn, device)}))
    return True


def run_cases(name: str, script: str, cases: Callable[[torch.device], list[Case]], device: torch.device) -> list[dict]:
    """Every case of a benchmark script: peak memory per implementation (fresh processes), then
    the interleaved timings (eager and compiled), then the report."""
    rows: list[dict] = []
    for case in cases(device):
        memory = {impl: peak_memory(script, case.name, impl, device) for impl in [*case.impls, YARDSTICK]}
        rows += compare(case.name, case.impls, case.inputs, baseline=case.baseline, device=device,
                        eager_only=case.eager_only, memory=memory)
        print(case.name, "done", flush=True)
    report(name, device, rows)
    return rows


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

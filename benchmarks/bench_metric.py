"""Time and peak memory of in-batch triplet mining: ours against pytorch-metric-learning.

Cases: B = 1024, 2048, 4096 L2-normalised embeddings of width D = 128, 4 samples per class,
margin 0.2, plain Euclidean distances for every implementation (pytorch-metric-learning's
default ``LpDistance``), forward + backward of the loss:

- ``losscookbook`` batch-hard, semi-hard (FaceNet's rule) and batch-all;
- pytorch-metric-learning's ``TripletMarginLoss`` with ``BatchHardMiner`` (the baseline of
  each case) and with ``TripletMarginMiner(type_of_triplets="semihard")``.

Time: all implementations of one case interleaved round-robin in one process
(:func:`harness.measure_interleaved`), 20 rounds; 5 at B=4096 when a call takes seconds (the
number of rounds is in the table). Peak memory on the CPU: the growth of the maximum resident set size
(``VmHWM`` on Linux) during one forward + backward, each implementation in a fresh subprocess so that
one peak cannot hide another; on a GPU, the allocator's peak. Every process runs under an
address-space limit (``MEMORY_LIMIT_GIB``), so an implementation that needs more fails with an
out-of-memory error, recorded as such, instead of exhausting the machine. An implementation
that fails, or takes longer than ``SLOW_S`` per call, at some B is recorded instead of timed.

Run from the repository root: ``python benchmarks/run.py metric``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import losscookbook as lc
from harness import RESULTS, forward_backward, measure_interleaved, report

SIZES = (1024, 2048, 4096)
DIM = 128
PER_CLASS = 4
MARGIN = 0.2
SLOW_S = 60.0
MEMORY_LIMIT_GIB = 10
BASELINE = "pml batch-hard"
IMPLS = ("ours batch-hard", "ours semi-hard", "ours batch-all", "pml batch-hard", "pml semi-hard")


def _limit_memory() -> None:
    limit = MEMORY_LIMIT_GIB * 2**30
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _peak_rss_bytes() -> int:
    """This process's peak resident set size: ``VmHWM`` on Linux (the high-water mark of this
    program's own memory map, which starts afresh at exec), ``ru_maxrss`` elsewhere (which
    Linux carries over from the parent process, so it cannot be used there)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux and the BSDs
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def make_batch(batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(batch)
    labels = torch.arange(batch // PER_CLASS).repeat_interleave(PER_CLASS)
    labels = labels[torch.randperm(batch, generator=g)]
    x = F.normalize(torch.randn(batch, DIM, generator=g), dim=1)
    return x.to(device), labels.to(device)


def make_loss(name: str):
    """``fn(embeddings, labels) -> loss`` for an implementation name."""
    if name == "ours batch-hard":
        return lambda e, y: lc.batch_hard_triplet_loss(e, y, margin=MARGIN, squared=False)
    if name == "ours semi-hard":
        return lambda e, y: lc.semi_hard_triplet_loss(e, y, margin=MARGIN, squared=False)
    if name == "ours batch-all":
        return lambda e, y: lc.batch_all_triplet_loss(e, y, margin=MARGIN, squared=False)
    from pytorch_metric_learning import losses, miners

    loss_fn = losses.TripletMarginLoss(margin=MARGIN)
    if name == "pml batch-hard":
        miner = miners.BatchHardMiner()
    elif name == "pml semi-hard":
        miner = miners.TripletMarginMiner(margin=MARGIN, type_of_triplets="semihard")
    else:
        raise ValueError(name)
    return lambda e, y: loss_fn(e, y, miner(e, y))


def _child(name: str, batch: int, device_name: str) -> None:
    """One forward + backward in this fresh process; prints a JSON line with time and peak."""
    _limit_memory()
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    device = torch.device(device_name)
    x, labels = make_batch(batch, device)
    fn = make_loss(name)
    leaf = x.clone().requires_grad_(True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    before = _peak_rss_bytes()
    start = time.perf_counter()
    try:
        fn(leaf, labels).backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    except (RuntimeError, MemoryError) as error:  # out of memory under the limit
        print(json.dumps({"error": f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"}))
        return
    seconds = time.perf_counter() - start
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) - base
    else:
        peak = _peak_rss_bytes() - before
    print(json.dumps({"peak_bytes": peak, "single_call_s": seconds}))


def peak_memory(name: str, batch: int, device: torch.device) -> dict:
    """Run :func:`_child` in a fresh interpreter; returns its JSON, or an error entry."""
    command = [sys.executable, __file__, "--child", name, str(batch), str(device)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=4 * SLOW_S, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"more than {4 * SLOW_S:.0f} s for one call"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"process ended with code {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(lines[-1])


def main(device: torch.device) -> None:
    _limit_memory()
    rows: list[dict] = []
    for batch in SIZES:
        case = f"B={batch}"
        memory = {name: peak_memory(name, batch, device) for name in IMPLS}
        usable = {}
        for name in IMPLS:
            entry = memory[name]
            if "error" in entry:
                rows.append({"case": case, "impl": name, "baseline": BASELINE, "status": entry["error"]})
            elif entry["single_call_s"] > SLOW_S:
                rows.append({"case": case, "impl": name, "baseline": BASELINE, "peak_bytes": entry["peak_bytes"],
                             "status": f"not timed: {entry['single_call_s']:.0f} s for one call"})
            else:
                usable[name] = entry
        x, labels = make_batch(batch, device)
        slowest = max(entry["single_call_s"] for entry in usable.values())
        rounds = 20 if batch < 4096 or slowest < 2.0 else 5  # fewer at B=4096 when a call takes seconds
        timings = measure_interleaved(
            {name: forward_backward(make_loss(name), x, labels) for name in usable},
            device=device, warmup=1, rounds=rounds,
        )
        for name in usable:
            rows.append({"case": case, "impl": name, "baseline": BASELINE, "status": "ok",
                         "peak_bytes": usable[name]["peak_bytes"], **timings[name]})
        print(case, "done", flush=True)
    timed = [r for r in rows if "median_s" in r]
    report("metric", device, timed)
    _append_details(device, rows)


def _append_details(device: torch.device, rows: list[dict]) -> None:
    """Add the interquartile ranges, the failures and the two targets of the issue to the report."""
    path = RESULTS / f"metric-{device.type}.md"
    lines = ["", "Median and interquartile range of forward + backward (ms), rounds; peak = "
             + ("RSS growth in a fresh process" if device.type == "cpu" else "CUDA allocator peak") + ":", "",
             "| case | implementation | median ms | q1 ms | q3 ms | rounds | peak MiB | status |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        peak = f"{r['peak_bytes'] / 2**20:.0f}" if "peak_bytes" in r else "-"
        if "median_s" in r:
            lines.append(f"| {r['case']} | {r['impl']} | {1e3 * r['median_s']:.1f} | {1e3 * r['q1_s']:.1f} | "
                         f"{1e3 * r['q3_s']:.1f} | {r['rounds']} | {peak} | ok |")
        else:
            lines.append(f"| {r['case']} | {r['impl']} | - | - | - | - | {peak} | {r['status']} |")
    by = {(r["case"], r["impl"]): r for r in rows}
    ours = by.get(("B=2048", "ours semi-hard"), {})
    pml_semi = by.get(("B=2048", "pml semi-hard"), {})
    lines += ["", "Targets at B=2048 (reported, not asserted):", ""]
    if "peak_bytes" in ours and pml_semi.get("peak_bytes"):
        for impl in ("ours batch-hard", "ours semi-hard", "ours batch-all"):
            mine = by.get(("B=2048", impl), {})
            if "peak_bytes" in mine:
                ratio = mine["peak_bytes"] / pml_semi["peak_bytes"]
                lines.append(f"- peak memory of {impl} / pml semi-hard = {ratio:.3f} (target <= 0.125: "
                             f"{'met' if ratio <= 0.125 else 'missed'})")
    pml_hard = by.get(("B=2048", "pml batch-hard"), {})
    for impl in ("ours batch-hard", "ours semi-hard", "ours batch-all"):
        mine = by.get(("B=2048", impl), {})
        if "median_s" in mine and "median_s" in pml_hard:
            ratio = mine["median_s"] / pml_hard["median_s"]
            lines.append(f"- time of {impl} / pml batch-hard = {ratio:.2f} (target <= 1: {'met' if ratio <= 1 else 'missed'})")
    lines += ["", "Command: `python benchmarks/run.py metric` (from the repository root)."]
    with path.open("a") as f:
        f.write("\n".join(lines) + "\n")
    data = json.loads((RESULTS / f"metric-{device.type}.json").read_text())
    data["all_rows"] = rows
    (RESULTS / f"metric-{device.type}.json").write_text(json.dumps(data, indent=1, default=str))
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        from losscookbook.training import default_device

        main(default_device())

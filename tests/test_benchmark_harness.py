"""The benchmark harness measures what it says: interleaved timings and per-call peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import harness  # noqa: E402

PROBE = """
import json, sys, torch
sys.path.insert(0, {bench!r})
from harness import peak_in_this_process
torch.set_num_threads(1)
kept = torch.ones(8 * 2**20)  # 32 MiB that live before and after the call: not counted
def allocate():  # 3 x 16 MiB alive at once, then freed
    a = torch.ones(4 * 2**20); b = a * 2; c = a + b
    return float(c[0])
print(json.dumps({{"allocate": peak_in_this_process(allocate, torch.device("cpu")),
                  "nothing": peak_in_this_process(lambda: None, torch.device("cpu"))}}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CPU peak reads /proc/self (Linux)")
def test_cpu_peak_is_the_growth_of_the_resident_set_during_one_call():
    env = dict(os.environ, **harness.MALLOC_ENV, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", PROBE.format(bench=str(ROOT / "benchmarks"))],
                          capture_output=True, text=True, env=env, timeout=120, check=True)
    peaks = json.loads(done.stdout.strip().splitlines()[-1])
    mib = 2**20
    assert 47 * mib <= peaks["allocate"] <= 52 * mib, peaks  # three live 16 MiB tensors
    assert peaks["nothing"] <= 1 * mib, peaks


def test_interleaved_timing_ranks_a_slower_callable_slower_and_reports_quartiles():
    stats = harness.measure_interleaved(
        {"fast": lambda: None, "slow": lambda: time.sleep(0.002)}, device=torch.device("cpu"), warmup=1, rounds=8
    )
    for entry in stats.values():
        assert entry["min_s"] <= entry["q1_s"] <= entry["median_s"] <= entry["q3_s"]
        assert entry["rounds"] == 8
    assert stats["slow"]["median_s"] >= 0.002 > stats["fast"]["median_s"]

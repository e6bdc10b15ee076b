"""Run every benchmark (benchmarks/bench_*.py) on the CPU, and on the GPU when there is one.

Usage: python benchmarks/run.py [substring ...]   (only benchmarks whose file name contains one)
Results go to benchmarks/results/<name>-<device>.md (committed) and are printed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv: list[str]) -> int:
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.name for a in argv)]
    if not scripts:
        print("no benchmark matched", argv)
        return 1
    for script in scripts:
        spec = importlib.util.spec_from_file_location(script.stem, script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for device in devices:
            print(f"== {script.name} on {device}", flush=True)
            module.main(device)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

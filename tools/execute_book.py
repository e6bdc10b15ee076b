"""Execute the book's notebooks into Jupyter Book's execution cache, several at a time.

Jupyter Book executes the chapters one after the other; on a machine with several cores this
runs them in parallel first (jupyter-cache's "local-parallel" executor, one process per core,
each chapter in its own folder as the build would run it), so that the build that follows finds
every chapter in its cache (``execute_notebooks: cache`` in ``_config.yml``) and only renders.
A chapter whose code is unchanged since it was cached is not run again. Exits non-zero if a
chapter fails; the build would then run it again and report the error in its own terms.

Usage: python tools/execute_book.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml
from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor

ROOT = Path(__file__).resolve().parents[1]


def toc_notebooks() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [chapter["file"] for part in toc.get("parts", []) for chapter in part["chapters"]]
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").exists()]


def main() -> int:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["execute"]
    cache = get_cache(str(ROOT / config["cache"]))
    notebooks = toc_notebooks()
    records = [cache.add_nb_to_project(str(path)) for path in notebooks]
    start = time.perf_counter()
    executor = load_executor("local-parallel", cache=cache)
    result = executor.run_and_cache(filter_pks=[r.pk for r in records], timeout=config["timeout"], allow_errors=False)
    failed = result.excepted + result.errored
    print(f"executed {len(result.succeeded)} of {len(notebooks)} chapters in {time.perf_counter() - start:.0f} s "
          f"({len(notebooks) - len(result.succeeded) - len(failed)} unchanged, cached)")
    for uri in failed:
        print(f"failed: {uri}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

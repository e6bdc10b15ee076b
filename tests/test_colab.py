"""A chapter runs in a Colab-like environment with nothing but its install cell.

Colab gives a notebook Python, torch, numpy and matplotlib (and ipykernel, the kernel its cells
run in), but neither this project's other dependencies nor myst-nb. This test proves that a
chapter's first cell, the install cell, plus the package's declared dependencies are enough:

1. the package's wheel is built from a copy of the working tree (``pip wheel --no-deps
   --no-build-isolation``, so no build tool is downloaded);
2. a fresh virtual environment is made that holds only torch, numpy, matplotlib, ipykernel and
   pip, each with its own runtime dependencies, at the versions of the environment running the
   tests (see "How the fresh environment is filled" below);
3. a kernelspec in a temporary folder points at the fresh environment's python, and the chapter
   is executed there by nbclient, install cell included (its ``skip-execution`` tag is honoured
   by the book build, not here), with ``LOSSCOOKBOOK_INSTALL`` pointing the cell at the wheel.
   pip then has to fetch the package's declared dependencies that Colab lacks (tqdm) from the
   package index or its cache;
4. afterwards the kernel reports where ``losscookbook`` was imported from: the fresh
   environment's site-packages, installed from the wheel, never the working tree (the kernel
   runs in an empty temporary folder with ``PYTHONPATH`` removed).

The chapter is ``regression``: the cheapest to run (about 9 s) that still exercises everything a
chapter relies on: the package's losses, ``losscookbook.training`` (seeded fits), ``metrics``
(paired intervals over seeds), ``plotting.glue`` and ``show_source`` without myst-nb, matplotlib
figures in the inline backend, and the chapter's own ``assert`` cells. Set
``LOSSCOOKBOOK_COLAB_CHAPTERS`` to a comma-separated list of chapter names, or ``all``, to run
others in the same environment.

How the fresh environment is filled. ``pip install torch numpy matplotlib ipykernel`` into a new
venv costs about 55 s of a 2-core machine, almost all of it unpacking torch's 190 MB wheel, which
would leave little of the two minutes this test may take inside ``make test``. Instead, by
default, the distributions of exactly that set and of their runtime requirements (markers
evaluated, extras not followed) are copied as hard links, file by file from each
distribution's RECORD, from the environment running the tests: the same files pip unpacked
there, with their ``.dist-info`` so that pip in the fresh environment sees them as installed, and
nothing else (no losscookbook, no tqdm, no myst-nb, no nbval). That is ``pip install --no-deps``
of that exact set, without the unpacking. ``LOSSCOOKBOOK_COLAB_ENV=pip`` makes the test install
the set with pip instead, at the same versions.

The test skips, with the reason, only when pip can reach neither a package index nor a cache
holding tqdm.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from datetime import datetime
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import losscookbook

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
COLAB_SET = ["torch", "numpy", "matplotlib", "ipykernel", "pip"]
KERNEL_NAME = "losscookbook-colab"
DEFAULT_CHAPTERS = ["regression"]
# what the environment must not contain before the install cell runs
NOT_IN_COLAB = ["losscookbook", "tqdm", "myst-nb", "myst-parser", "jupyter-book", "nbval", "pytest"]


def _chapters() -> list[str]:
    wanted = os.environ.get("LOSSCOOKBOOK_COLAB_CHAPTERS", "").strip()
    if not wanted:
        return DEFAULT_CHAPTERS
    if wanted == "all":
        return sorted(p.stem for p in BOOK.glob("*.ipynb"))
    return [name.strip() for name in wanted.split(",") if name.strip()]


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _closure(names: list[str]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` and, recursively, their runtime requirements."""
    env = dict(default_environment(), extra="")
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        dist = metadata.distribution(name)  # raises if the running environment lacks it
        seen[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return list(seen.values())


def _link_distributions(dists: list[metadata.Distribution], site: Path) -> None:
    """Hard-link (or copy) each distribution's installed files into the site-packages ``site``."""
    made: set[str] = set()
    for dist in dists:
        base = str(dist.locate_file(""))
        files = dist.files
        assert files, f"{dist.metadata['Name']} has no RECORD"
        for entry in files:
            rel = str(entry)
            if rel.startswith(".."):  # scripts and data outside site-packages: not needed to import
                continue
            src, dst = os.path.join(base, rel), os.path.join(site, rel)
            parent = os.path.dirname(dst)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            try:
                os.link(src, dst)
            except FileNotFoundError:  # listed in RECORD but gone (a byte-compiled file, say)
                continue
            except OSError:  # another file system
                shutil.copy2(src, dst)


def _fresh_site_packages(python: Path) -> Path:
    out = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    return Path(out.stdout.strip())


def _kernel_env(fresh: Path, wheel: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "MPLBACKEND", "JUPYTER_PATH", "PYTHONSTARTUP"}}
    env["PATH"] = os.pathsep.join([str(fresh / "bin"), env.get("PATH", "")])
    env["LOSSCOOKBOOK_INSTALL"] = str(wheel)
    env["PIP_NO_INPUT"] = "1"
    return env


def _cell_seconds(cell) -> float:
    """How long the kernel spent on a cell (nbclient records the timestamps)."""
    stamps = cell.metadata.get("execution", {})
    begin, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
    if not (begin and end):
        return float("nan")
    return (datetime.fromisoformat(end) - datetime.fromisoformat(begin)).total_seconds()


def _pip_list(python: Path, env: dict[str, str]) -> dict[str, str]:
    out = _run([str(python), "-m", "pip", "list", "--format", "json"], env=env)
    return {canonicalize_name(p["name"]): p["version"] for p in json.loads(out.stdout)}


def _probe_index(python: Path, env: dict[str, str], dest: Path) -> str | None:
    """None when pip can get tqdm (index, find-links or cache); otherwise why not."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    tqdm = next(r for r in declared if canonicalize_name(Requirement(r).name) == "tqdm")
    probe = subprocess.run(
        [str(python), "-m", "pip", "download", "--no-deps", "--timeout", "10", "--retries", "1",
         "--dest", str(dest), tqdm],
        capture_output=True, text=True, env=env,
    )
    if probe.returncode == 0:
        return None
    return "pip reaches neither a package index nor a cache holding tqdm: " + probe.stderr.strip()[-400:]


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory):
    """The wheel, the fresh environment's python, the kernel's environment and timings."""
    tmp = tmp_path_factory.mktemp("colab")
    timings: dict[str, float] = {}

    start = time.perf_counter()
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "losscookbook", src / "losscookbook", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = tmp / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(wheels), str(src)])
    (wheel,) = wheels.glob("losscookbook-*.whl")
    assert wheel.name.startswith(f"losscookbook-{losscookbook.__version__}-")
    timings["build wheel"] = time.perf_counter() - start

    start = time.perf_counter()
    fresh = tmp / "colab-env"
    _run([sys.executable, "-m", "venv", "--without-pip", str(fresh)])
    python = fresh / "bin" / "python"
    site = _fresh_site_packages(python)
    dists = _closure(COLAB_SET)
    if os.environ.get("LOSSCOOKBOOK_COLAB_ENV") == "pip":
        _run([sys.executable, "-m", "venv", "--clear", str(fresh)])
        pins = [f"{d.metadata['Name']}=={d.version}" for d in dists if canonicalize_name(d.metadata["Name"]) in COLAB_SET]
        _run([str(python), "-m", "pip", "install", "-q", *pins])
    else:
        _link_distributions(dists, site)
    timings["make fresh environment"] = time.perf_counter() - start

    env = _kernel_env(fresh, wheel)
    reason = _probe_index(python, env, tmp / "probe")
    if reason:
        pytest.skip(reason)

    before = _pip_list(python, env)
    jupyter = tmp / "jupyter"
    spec = jupyter / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (Colab-like)",
        "language": "python",
    }))
    return {"wheel": wheel, "fresh": fresh, "python": python, "site": site, "env": env,
            "before": before, "jupyter": jupyter, "timings": timings, "tmp": tmp}


def test_fresh_environment_holds_only_what_colab_ships(colab_like):
    before = colab_like["before"]
    print("\nThe Colab-like environment before the install cell:", ", ".join(f"{k}=={v}" for k, v in sorted(before.items())))
    for name in ("torch", "numpy", "matplotlib", "ipykernel"):
        assert before.get(name) == metadata.version(name), f"{name}: {before.get(name)}"
    present = [name for name in NOT_IN_COLAB if canonicalize_name(name) in before]
    assert not present, f"the fresh environment already has {present}"
    # and it cannot see the working tree or the test environment
    probe = _run([str(colab_like["python"]), "-c",
                  "import importlib.util, json, sys; "
                  "print(json.dumps([importlib.util.find_spec(m) is None for m in ('losscookbook', 'tqdm', 'myst_nb')]))"],
                 env=colab_like["env"], cwd=colab_like["tmp"])
    assert json.loads(probe.stdout) == [True, True, True]


REPORT = """\
import importlib.metadata, importlib.util, json, sys
import losscookbook, tqdm
print(json.dumps({
    "executable": sys.executable,
    "file": losscookbook.__file__,
    "version": losscookbook.__version__,
    "direct_url": importlib.metadata.distribution("losscookbook").read_text("direct_url.json"),
    "tqdm": tqdm.__file__,
    "myst_nb": importlib.util.find_spec("myst_nb") is not None,
}))
"""


@pytest.mark.parametrize("chapter", _chapters())
def test_chapter_runs_after_its_install_cell_in_a_colab_like_environment(colab_like, chapter, monkeypatch, tmp_path):
    monkeypatch.setenv("JUPYTER_PATH", str(colab_like["jupyter"]))
    nb = nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4)
    install = next(c for c in nb.cells if c.cell_type == "code")
    assert "LOSSCOOKBOOK_INSTALL" in install.source and "skip-execution" in install.metadata.get("tags", [])
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    client = NotebookClient(
        nb, kernel_name=KERNEL_NAME, timeout=300, allow_errors=False,
        skip_cells_with_tag="never-skip-here",  # the book build skips the install cell; Colab runs it
        resources={"metadata": {"path": str(tmp_path)}},  # an empty folder: nothing importable from the tree
    )
    start = time.perf_counter()
    client.execute(env=colab_like["env"])
    elapsed = time.perf_counter() - start

    # the install cell ran (check_call raises if pip fails)
    assert install.get("execution_count") is not None
    # every cell ran, none raised
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None
            assert not [o for o in cell.outputs if o.output_type == "error"]

    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    report = json.loads(text.strip().splitlines()[-1])
    site = colab_like["site"].resolve()
    assert Path(report["executable"]).parent.parent.resolve() == colab_like["fresh"].resolve()
    assert Path(report["file"]).resolve().is_relative_to(site), report["file"]
    assert not Path(report["file"]).resolve().is_relative_to(ROOT), report["file"]
    assert report["version"] == losscookbook.__version__
    assert json.loads(report["direct_url"])["url"].endswith(colab_like["wheel"].name), report["direct_url"]
    # the declared dependency Colab lacks came through pip, into the fresh environment
    assert Path(report["tqdm"]).resolve().is_relative_to(site), report["tqdm"]
    assert report["myst_nb"] is False

    after = _pip_list(colab_like["python"], colab_like["env"])
    added = sorted(set(after) - set(colab_like["before"]))
    assert "losscookbook" in added and "tqdm" in added, added
    changed = [n for n in colab_like["before"] if after.get(n) != colab_like["before"][n]]
    assert not changed, f"installing the package changed Colab's own packages: {changed}"
    setup = ", ".join(f"{k} {v:.1f} s" for k, v in colab_like["timings"].items())
    print(f"\nColab-like run of {chapter}: {elapsed:.1f} s in the kernel, of which the install cell "
          f"{_cell_seconds(install):.1f} s (setup: {setup}); installed on top: {added}")


def _install_cell_source() -> str:
    nb = nbformat.read(BOOK / "label_smoothing.ipynb", as_version=4)  # every chapter has the same one
    return next(c for c in nb.cells if c.cell_type == "code").source


@pytest.mark.parametrize(
    ("in_colab", "override", "expected"),
    [
        (False, None, None),  # a local Jupyter or the book build: nothing is installed
        (True, None, f"losscookbook @ git+https://github.com/losscookbook/losscookbook@v{losscookbook.__version__}"),
        (False, "/tmp/losscookbook-0.1.0-py3-none-any.whl", "/tmp/losscookbook-0.1.0-py3-none-any.whl"),
        (True, "./losscookbook", "./losscookbook"),
        (False, "", None),  # set but empty counts as unset
    ],
)
def test_install_cell_installs_what_and_where(in_colab, override, expected, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda cmd, **kw: calls.append(cmd))
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", object())
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    if override is None:
        monkeypatch.delenv("LOSSCOOKBOOK_INSTALL", raising=False)
    else:
        monkeypatch.setenv("LOSSCOOKBOOK_INSTALL", override)
    exec(compile(_install_cell_source(), "install-cell", "exec"), {})
    if expected is None:
        assert calls == []
    else:
        assert calls == [[sys.executable, "-m", "pip", "install", "-q", expected]]

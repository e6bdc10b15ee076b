"""The book's sources: chapter hygiene, the claims file and its coverage, the table of contents.

These tests read the notebooks as JSON (they do not execute them: nbval does).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import yaml

import losscookbook

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
VERDICTS = {"holds", "holds with a caveat", "does not hold"}
CLAIM_HEADING = re.compile(r"^#{2,4} Claim (C\d{3}\.\d+[a-z]?):", re.MULTILINE)
VERDICT_LINE = re.compile(r"^\*\*Verdict: (holds|holds with a caveat|does not hold)\.\*\*")
COLAB_TAGS = {"remove-cell", "skip-execution", "nbval-skip"}


def _notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _claims() -> list[dict]:
    with open(BOOK / "claims.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_there_are_chapters():
    assert CHAPTERS, "no chapter notebooks under book/"


def test_every_chapter_is_in_the_table_of_contents_and_every_entry_exists():
    toc = _toc_files()
    for chapter in CHAPTERS:
        assert f"book/{chapter.stem}" in toc, f"{chapter.name} is missing from _toc.yml"
    for entry in toc:
        assert (ROOT / f"{entry}.ipynb").exists() or (ROOT / f"{entry}.md").exists(), f"_toc.yml lists missing {entry}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_committed_clean_and_runs_in_python3(path):
    nb = _notebook(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell["outputs"], f"{path.name}: a code cell has outputs; strip them"
            assert cell["execution_count"] is None, f"{path.name}: a code cell has an execution count"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_starts_with_title_and_colab_cell_pinned_to_this_version(path):
    cells = _notebook(path)["cells"]
    assert cells[0]["cell_type"] == "markdown" and _source(cells[0]).startswith("# "), "first cell must be the title"
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert set(first_code["metadata"].get("tags", [])) >= COLAB_TAGS
    source = _source(first_code)
    assert '"google.colab" in sys.modules' in source
    pins = re.findall(r"@v(\d+\.\d+\.\d+\S*?)\"", source)
    assert pins == [losscookbook.__version__], f"{path.name} installs {pins}, the package is {losscookbook.__version__}"
    # the install target can be pointed elsewhere (tests/test_colab.py points it at a freshly built wheel)
    assert 'os.environ.get("LOSSCOOKBOOK_INSTALL")' in source
    # one install cell for the whole book, byte for byte: the template chapter's
    template = _source(next(c for c in _notebook(BOOK / "label_smoothing.ipynb")["cells"] if c["cell_type"] == "code"))
    assert source == template, f"{path.name}: the install cell differs from the one in label_smoothing.ipynb"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_imports_its_code_from_the_package(path):
    code = "\n".join(_source(c) for c in _notebook(path)["cells"] if c["cell_type"] == "code")
    assert "import losscookbook" in code
    own_losses = re.findall(r"^\s*def (\w*_loss)\(", code, re.MULTILINE)
    assert not own_losses, f"{path.name} defines its own losses {own_losses}: they belong in the package"
    assert "show_source(" in code, f"{path.name} should show its implementation from the package"
    # Colab has no myst-nb: the package's glue stores values in the book build and only shows them elsewhere
    assert "myst_nb" not in code, f"{path.name} imports myst_nb; use losscookbook.plotting.glue"


def test_claims_file_is_well_formed():
    claims = _claims()
    assert claims, "book/claims.csv is empty"
    ids = [c["id"] for c in claims]
    assert len(ids) == len(set(ids)), "duplicate claim IDs"
    for claim in claims:
        assert re.fullmatch(r"C\d{3}\.\d+[a-z]?", claim["id"]), claim
        assert claim["verdict"] in VERDICTS, claim
        assert len(claim["claim"].split()) >= 5, claim
        assert (BOOK / f"{claim['chapter']}.ipynb").exists(), f"{claim['id']}: no chapter {claim['chapter']}"


def _claim_sections(path: Path) -> dict[str, list[dict]]:
    """Cells from each claim heading up to the next claim heading (or a new '## ' section after a verdict)."""
    sections: dict[str, list[dict]] = {}
    current = None
    for cell in _notebook(path)["cells"]:
        text = _source(cell)
        match = CLAIM_HEADING.search(text) if cell["cell_type"] == "markdown" else None
        if match:
            current = match.group(1)
            assert current not in sections, f"{path.name}: claim {current} appears twice"
            sections[current] = []
        if current is not None:
            sections[current].append(cell)
    return sections


@pytest.mark.parametrize("claim", _claims(), ids=lambda c: c["id"])
def test_each_claim_is_checked_by_an_assert_and_has_the_recorded_verdict(claim):
    sections = _claim_sections(BOOK / f"{claim['chapter']}.ipynb")
    assert claim["id"] in sections, f"{claim['chapter']}.ipynb has no heading 'Claim {claim['id']}:'"
    cells = sections[claim["id"]]
    verdicts = [
        m.group(1)
        for c in cells
        if c["cell_type"] == "markdown"
        for m in [VERDICT_LINE.match(_source(c))]
        if m
    ]
    assert verdicts, f"claim {claim['id']} has no '**Verdict: ...**' cell"
    first_verdict = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and VERDICT_LINE.match(_source(c)))
    checks = [c for c in cells[:first_verdict] if c["cell_type"] == "code" and re.search(r"^\s*assert ", _source(c), re.M)]
    assert checks, f"claim {claim['id']} has no visible assert before its verdict"
    for c in checks:
        assert not set(c["metadata"].get("tags", [])) & {"remove-cell", "remove-input", "skip-execution", "nbval-skip"}
    assert verdicts[0] == claim["verdict"], (
        f"claim {claim['id']}: the chapter says '{verdicts[0]}', claims.csv says '{claim['verdict']}'"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_claim_heading_carries_the_label_the_claims_page_links_to(path):
    text = "\n".join(_source(c) for c in _notebook(path)["cells"] if c["cell_type"] == "markdown")
    for match in CLAIM_HEADING.finditer(text):
        label = "claim-" + match.group(1).lower().replace(".", "-")
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        assert before == f"({label})=", f"{path.name}: put '({label})=' on the line before the heading of {match.group(1)}"


def test_every_claim_in_a_chapter_is_in_the_claims_file():
    listed = {c["id"]: c["chapter"] for c in _claims()}
    for path in CHAPTERS:
        for claim_id in _claim_sections(path):
            assert listed.get(claim_id) == path.stem, f"{path.name} checks {claim_id}, not listed for it in claims.csv"


def test_glossary_has_chinese_terms():
    text = (BOOK / "glossary.md").read_text(encoding="utf-8")
    assert "```{glossary}" in text
    assert len(re.findall(r"^[\u4e00-\u9fff][^\n]*$", text, re.MULTILINE)) >= 5


def test_citations_in_chapters_exist_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", (BOOK / "references.bib").read_text(encoding="utf-8")))
    for path in CHAPTERS:
        text = "\n".join(_source(c) for c in _notebook(path)["cells"] if c["cell_type"] == "markdown")
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            for key in group.split(","):
                assert key.strip() in keys, f"{path.name} cites unknown key {key!r}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_text_has_no_control_characters(path):
    # a '\a' or '\b' swallowed by a string escape (e.g. '\approx' -> BEL + 'pprox') breaks the math
    for cell in _notebook(path)["cells"]:
        text = _source(cell)
        bad = sorted({hex(ord(ch)) for ch in text if ord(ch) < 32 and ch not in "\n\t"})
        assert not bad, f"{path.name}: control characters {bad} in: {text[:80]!r}"


def test_the_intro_pages_five_line_api_runs():
    text = (BOOK / "intro.md").read_text(encoding="utf-8")
    (snippet,) = re.findall(r"## The API in five lines\n\n```python\n(.*?)```", text, re.DOTALL)
    code = [line for line in snippet.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) == 5, code
    import torch

    scope = {
        "logits": torch.randn(8, 3), "targets": torch.rand(8, 3),
        "class_logits": torch.randn(8, 5), "labels": torch.randint(0, 5, (8,)),
    }
    previous = losscookbook.set_value_checks("auto")
    try:
        exec(snippet, scope)
    finally:
        losscookbook.set_value_checks(previous)
    assert torch.isfinite(scope["loss"]) and scope["loss"].ndim == 0

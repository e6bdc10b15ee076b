"""Checks of the built HTML book (run by `make test` right after the strict build).

Deselected from the plain unit run (marker ``built_book``): they need ``_build/html``.
"""

from __future__ import annotations

import csv
import importlib
import json
import pkgutil
import re
from pathlib import Path
from urllib.parse import urljoin

import pytest

import losscookbook

pytestmark = pytest.mark.built_book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))


def _page(name: str) -> str:
    path = HTML / "book" / f"{name}.html"
    assert path.exists(), f"{path} missing: run the book build first (make book)"
    return path.read_text(encoding="utf-8")


def test_index_page_exists():
    assert (HTML / "index.html").exists()


def test_api_page_lists_every_public_name():
    html = _page("api")
    for info in pkgutil.iter_modules(losscookbook.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"losscookbook.{info.name}")
        for name in module.__all__:
            assert f'id="losscookbook.{info.name}.{name}"' in html, f"API page lacks losscookbook.{info.name}.{name}"


def test_mathjax_is_served_locally():
    html = _page("label_smoothing")
    (src,) = re.findall(r'<script[^>]+src="([^"]*tex-chtml[^"?]*)', html)
    assert "://" not in src, f"MathJax loads from the network: {src}"
    resolved = Path(urljoin(str(HTML / "book") + "/", src))
    assert resolved.exists(), f"MathJax script {src} does not exist in the built book"
    assert (resolved.parent / "output" / "chtml" / "fonts" / "woff-v2" / "MathJax_Main-Regular.woff").exists()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_page_has_math_figures_citations_and_colab(chapter):
    html = _page(chapter)
    assert 'class="math notranslate nohighlight"' in html, "no display math"
    assert re.search(r'<img[^>]+src="\.\./_images/[^"]+\.png"', html), "no figure"
    assert re.search(r'href="bibliography\.html#id\d+"', html), "no citation linked to the bibliography"
    colab = f"https://colab.research.google.com/github/losscookbook/losscookbook/blob/main/book/{chapter}.ipynb"
    assert colab in html, "no Colab launch button"
    assert "Traceback" not in html, "an executed cell raised"
    notebook = (ROOT / "book" / f"{chapter}.ipynb").read_text(encoding="utf-8")
    if "show_table(" in notebook:
        assert "<table" in html, "tables shown with show_table were not rendered as HTML tables"


def test_claims_page_links_every_claim_to_the_section_that_checks_it():
    html = _page("claims")
    with open(ROOT / "book" / "claims.csv", newline="", encoding="utf-8") as f:
        claims = list(csv.DictReader(f))
    counts = {v: sum(c["verdict"] == v for c in claims) for v in ("holds", "holds with a caveat", "does not hold")}
    summary = re.sub(r"<[^>]+>", "", html)
    assert f"{len(claims)} claims" in summary
    for verdict, n in counts.items():
        assert f"{n} {verdict}" in summary, f"the count of '{verdict}' ({n}) is not shown"
    for claim in claims:
        label = "claim-" + claim["id"].lower().replace(".", "-")
        href = f'href="{claim["chapter"]}.html#{label}"'
        assert href in html, f"{claim['id']} does not link to {claim['chapter']}.html#{label}"
        target = _page(claim["chapter"])
        assert f'id="{label}"' in target, f"{claim['chapter']}.html has no element with id {label}"


def test_bibliography_and_glossary_pages():
    assert "Müller" in _page("bibliography") or "M&#252;ller" in _page("bibliography")
    assert "标签平滑" in _page("glossary")


def test_executed_chapters_have_no_error_outputs():
    for path in (ROOT / "_build" / "jupyter_execute" / "book").glob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                assert output.get("output_type") != "error", f"{path.name}: {output.get('ename')}"
                if output.get("name") == "stderr":
                    pytest.fail(f"{path.name} wrote to stderr: {output.get('text', '')[:200]}")


def test_benchmarks_page_shows_every_committed_result():
    html = _page("benchmarks")
    assert re.search(r'<img[^>]+src="\.\./_images/[^"]+\.png"', html), "no figure"
    results = sorted((ROOT / "benchmarks" / "results").glob("*.json"))
    assert results, "no committed benchmark results"
    for path in results:
        assert path.stem in html, f"{path.name} is not shown"
        for row in json.loads(path.read_text(encoding="utf-8"))["rows"]:
            assert row["impl"] in html, f"{path.name}: {row['impl']} missing from the page"

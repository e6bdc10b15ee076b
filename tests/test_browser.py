"""The built book in a real browser: headless Chromium driven by Playwright.

Run by `make test` right after the strict book build (marker ``built_book``). A local HTTP server
on 127.0.0.1 serves ``_build/html``; one browser tab visits every page of the book once (the pages
of the table of contents, the general and module indexes, the search page with a query) and
records what it finds. The tests below then check, page by page:

- MathJax has typeset every formula: as many ``mjx-container`` elements as the page's HTML has
  formulas, none of them a TeX error, and no raw ``$$``, ``\\(`` or ``\\[`` left in the visible text;
- every image is loaded (non-zero natural size), and every image in the article has a non-zero box;
- no request leaves the local server (such requests are aborted and listed), and every local
  request succeeds;
- no JavaScript error (uncaught exceptions and console errors);
- the Chinese text renders with real glyphs, not the missing-glyph box ("tofu");
- every internal link points to an existing file, and its ``#fragment`` to an element id there
  (in the rendered page; for pages not opened, such as the module source listings, in their HTML).

A full-page screenshot of every chapter (JPEG, at half scale) is saved to
``_build/screenshots/<chapter>.jpg`` (outside ``_build/html``, so the published site does not
carry them). Two more tests show that the checks can fail: a page built to break every rule, and
the glossary drawn with every installed font except the CJK ones.

Chromium comes from the system (Debian's ``chromium``; Playwright's own browser download is not
used). Without Playwright or Chromium the tests skip and say why; set ``LOSSCOOKBOOK_CHROMIUM``
to use another Chromium binary.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html.parser
import http.server
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

pytestmark = pytest.mark.built_book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"

# Chromium must not try to reach Google's services on its own (CI machines may have no route to
# them, and the test must not depend on them); the sandbox needs user namespaces that containers
# often lack.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
SCREENSHOT_SCALE = 0.5
TIMEOUT_MS = 30_000

# Text nodes MathJax 3 leaves alone: its default skipHtmlTags, and elements with an ignore class.
_WALK_TEXT_JS = r"""
(root, skipMath) => {
  const SKIP = new Set(["SCRIPT", "NOSCRIPT", "STYLE", "TEXTAREA", "PRE", "CODE",
                        "ANNOTATION", "ANNOTATION-XML"]);
  // the page's own MathJax configuration decides which classes are processed (MathJax 3 defaults)
  const options = (window.MathJax && (MathJax.config || MathJax).options) || {};
  const classes = (names) => new RegExp("(^|\\s)(" + names + ")(\\s|$)");
  const PROCESS = classes(options.processHtmlClass || "mathjax_process");
  const IGNORE = classes(options.ignoreHtmlClass || "mathjax_ignore");
  // the nearest ancestor that says anything decides (a process class inside an ignored block wins)
  const skipped = (el) => {
    for (let e = el; e; e = e.parentElement) {
      if (skipMath && e.tagName === "MJX-CONTAINER") return true;
      const cls = typeof e.className === "string" ? e.className : "";
      if (PROCESS.test(cls)) return false;
      if (SKIP.has(e.tagName) || IGNORE.test(cls)) return true;
    }
    return false;
  };
  const out = [];
  const walker = root.createTreeWalker(root.body || root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!skipped(n.parentElement)) out.push([n.parentElement, n.data]);
  }
  return out;
}
"""

# One formula per delimited span, as MathJax 3's TeX input finds them by default
# (\( \), \[ \], $$ $$ and bare \begin{env} ... \end{env}); the leftmost match wins.
_FORMULA_RE = r"/\\\([\s\S]*?\\\)|\\\[[\s\S]*?\\\]|\$\$[\s\S]*?\$\$|\\begin\{([A-Za-z]+\*?)\}[\s\S]*?\\end\{\1\}/g"
_RAW_DELIMITER_RE = r"/\$\$|\\\(|\\\)|\\\[|\\\]/"

_MATH_JS = (
    "async () => {\n"
    f"  const walk = {_WALK_TEXT_JS};\n"
    "  const raw = await (await fetch(location.href, {cache: 'no-store'})).text();\n"
    "  const source = new DOMParser().parseFromString(raw, 'text/html');\n"
    "  let expected = 0;\n"
    f"  for (const [, text] of walk(source, false)) expected += (text.match({_FORMULA_RE}) || []).length;\n"
    "  const leftovers = [];\n"
    "  for (const [el, text] of walk(document, true)) {\n"
    f"    const m = text.match({_RAW_DELIMITER_RE});\n"
    "    if (m && el.checkVisibility()) leftovers.push(text.trim().slice(0, 120));\n"
    "  }\n"
    "  const errors = [...document.querySelectorAll('mjx-merror')].map(\n"
    "    (e) => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 120));\n"
    "  return {expected, rendered: document.querySelectorAll('mjx-container').length, leftovers, errors};\n"
    "}"
)

_IMAGES_JS = r"""
() => [...document.images].map((img) => {
  const box = img.getBoundingClientRect();
  return {src: img.currentSrc || img.src, complete: img.complete,
          natural: [img.naturalWidth, img.naturalHeight], box: [box.width, box.height],
          inArticle: !!img.closest("article")};
})
"""

_LINKS_JS = r"""
() => ({
  links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
  ids: [...document.querySelectorAll("[id]")].map((e) => e.id)
        .concat([...document.querySelectorAll("a[name]")].map((a) => a.name)),
})
"""

# CJK Unified Ideographs and CJK punctuation.
_CJK_CHARS_JS = r"""
() => {
  const seen = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || !el.checkVisibility()) continue;
    for (const ch of n.data.match(/[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]/g) || []) {
      if (!seen.has(ch)) seen.set(ch, getComputedStyle(el).font);
    }
  }
  return [...seen.entries()];
}
"""

# Draw each character with the font its element uses and compare the pixels with a code point
# that no font has (U+0378 is unassigned): a character drawn exactly like it is the missing-glyph
# box. Returns the characters that render as that box.
_TOFU_JS = r"""
(pairs) => {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 64;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  const draw = (font, text) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.font = font.replace(/\d+(\.\d+)?px/, "32px");
    ctx.textBaseline = "top";
    ctx.fillStyle = "#000";
    ctx.fillText(text, 8, 8);
    return {pixels: ctx.getImageData(0, 0, 64, 64).data.join(","), width: ctx.measureText(text).width};
  };
  const tofu = new Map();
  const missing = [];
  for (const [ch, font] of pairs) {
    if (!tofu.has(font)) tofu.set(font, draw(font, "\u0378"));
    const ref = tofu.get(font);
    const got = draw(font, ch);
    if (got.pixels === ref.pixels || got.width === 0) missing.push(ch);
  }
  return missing;
}
"""


@dataclass
class PageReport:
    """What the browser saw on one page."""

    url: str
    math: dict = field(default_factory=dict)
    images: list = field(default_factory=list)
    js_errors: list = field(default_factory=list)
    links: list = field(default_factory=list)
    ids: set = field(default_factory=set)
    cjk_chars: list = field(default_factory=list)
    cjk_missing: list = field(default_factory=list)
    screenshot: Path | None = None
    seconds: float = 0.0


@dataclass
class Crawl:
    root: Path  # the folder served
    base: str  # its URL
    pages: dict  # page path relative to HTML -> PageReport
    requests: list  # (page, url) of every request the pages made
    external: list  # (page, url) of the requests to other hosts, all aborted
    failed: list  # (page, url, reason) of local requests that failed or returned >= 400
    seconds: float


def _chromium() -> str:
    """The Chromium binary: $LOSSCOOKBOOK_CHROMIUM when set, else the system's."""
    chosen = os.environ.get("LOSSCOOKBOOK_CHROMIUM")
    candidates = [chosen] if chosen else ["/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    where = f"LOSSCOOKBOOK_CHROMIUM={chosen} is not an executable" if chosen else "no Chromium found"
    pytest.skip(f"{where}: install Debian's `chromium` (apt-get install chromium fonts-noto-cjk)")


def _sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -e '.[test]')")
    return sync_playwright


def _toc_pages() -> list[str]:
    """The book's pages in table-of-contents order, as paths relative to the HTML root."""
    import yaml

    def files(entries: list) -> list[str]:
        out = []
        for entry in entries:
            if "file" in entry:
                out.append(entry["file"])
            out += files(entry.get("sections", []) + entry.get("chapters", []))
        return out

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]] + files(toc.get("parts", []) + toc.get("chapters", []))
    return [f"{name}.html" for name in names]


def _chapters() -> list[str]:
    """The chapters: the "Chapters" part of the table of contents (else every notebook page)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    parts = [part for part in toc.get("parts", []) if part.get("caption") == "Chapters"]
    if parts:
        return [entry["file"] for part in parts for entry in part["chapters"]]
    return [p.removesuffix(".html") for p in _toc_pages() if (ROOT / p.replace(".html", ".ipynb")).is_file()]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # the browser cancels loads when it moves on to the next page: not an error of the book
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def _serve(root: Path):
    """Serve ``root`` on 127.0.0.1 at a free port; yields the base URL."""
    httpd = _Server(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def server():
    """The built book, served for this module."""
    assert (HTML / "index.html").exists(), f"{HTML} missing: run the book build first (make book)"
    with _serve(HTML) as base:
        yield base


@pytest.fixture(scope="module")
def playwright():
    sync_playwright = _sync_playwright()
    _chromium()
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    """One headless Chromium for the module."""
    browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


def _visit(page, url: str, report: PageReport) -> None:
    response = page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    assert response is not None and response.ok, f"{url}: HTTP {response.status if response else 'no response'}"
    # "load" comes after the deferred MathJax script has run, so its startup object exists by now
    has_mathjax, started = page.evaluate(
        "() => [!!document.querySelector('script[src*=\"mathjax\"]'), !!(window.MathJax && MathJax.startup)]")
    if started:
        page.evaluate("() => MathJax.startup.promise.then(() => true)")  # the initial typesetting
    report.math = page.evaluate(_MATH_JS)
    report.math["has_mathjax"] = has_mathjax and started
    report.images = page.evaluate(_IMAGES_JS)
    report.cjk_chars = page.evaluate(_CJK_CHARS_JS)
    report.cjk_missing = page.evaluate(_TOFU_JS, report.cjk_chars) if report.cjk_chars else []
    found = page.evaluate(_LINKS_JS)
    report.links = found["links"]
    report.ids = set(found["ids"])


def _full_page_screenshot(page, cdp, path: Path) -> None:
    """The whole page as a JPEG at half the CSS pixel size (text stays legible).

    A chapter is 20000-35000 CSS pixels tall: rasterising it at full size takes most of this
    test's time, and half the scale takes half of that.
    """
    width, height = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    shot = cdp.send("Page.captureScreenshot", {
        "format": "jpeg", "quality": 85, "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": SCREENSHOT_SCALE},
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def _local_path(url: str, base: str) -> str | None:
    """The file path (relative to the HTML root) a local URL points to, or None for other hosts."""
    if not url.startswith(base):
        return None
    path = unquote(urlsplit(url).path)[1:]
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path


def crawl(browser, root: Path, base: str, pages: list[str], *, screenshots: dict[str, Path]) -> Crawl:
    """Visit ``pages`` (paths relative to ``root``, served at ``base``) one after the other in one tab."""
    start = time.perf_counter()
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    requests: list = []
    external: list = []
    failed: list = []
    current = {"page": None}
    reports: dict[str, PageReport] = {}

    def on_request(request):
        requests.append((current["page"], request.url))
        if not request.url.startswith((base, "data:", "blob:", "about:")):
            external.append((current["page"], request.url))

    def on_route(route):
        route.abort()  # recorded by on_request; aborted so that nothing waits on the network

    # every URL outside the local server (a pattern, so local requests are not intercepted one by one)
    context.route(re.compile("^(?!" + re.escape(base) + ")"), on_route)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    cdp = context.new_cdp_session(page)

    def on_pageerror(error):
        reports[current["page"]].js_errors.append(f"uncaught: {error}")

    def on_console(message):
        # A failed resource load is reported as a console error too; requests are checked apart.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            reports[current["page"]].js_errors.append(f"console: {message.text}")

    def on_response(response):
        if response.url.startswith(base) and response.status >= 400:
            failed.append((current["page"], response.url, f"HTTP {response.status}"))

    def on_requestfailed(request):
        # ERR_ABORTED: a load the page itself cancelled (e.g. a prefetch cut short by the next visit)
        if request.url.startswith(base) and request.failure != "net::ERR_ABORTED":
            failed.append((current["page"], request.url, request.failure))

    page.on("request", on_request)
    page.on("pageerror", on_pageerror)
    page.on("console", on_console)
    page.on("response", on_response)
    page.on("requestfailed", on_requestfailed)

    def visit(name: str, url: str) -> None:
        current["page"] = name
        reports[name] = PageReport(url=url)
        t0 = time.perf_counter()
        _visit(page, url, reports[name])
        if name in screenshots:
            _full_page_screenshot(page, cdp, screenshots[name])
            reports[name].screenshot = screenshots[name]
        reports[name].seconds = time.perf_counter() - t0

    for name in pages:
        visit(name, base + name)
    context.close()
    return Crawl(root=root, base=base, pages=reports, requests=requests, external=external, failed=failed,
                 seconds=time.perf_counter() - start)


@pytest.fixture(scope="module")
def book(browser, server) -> Crawl:
    pages = _toc_pages() + ["genindex.html", "py-modindex.html", "search.html?q=focal"]
    pages = [p for p in pages if (HTML / p.split("?")[0]).is_file() or p.startswith("book/")]
    shots = {f"{chapter}.html": SCREENSHOTS / f"{Path(chapter).name}.jpg" for chapter in _chapters()}
    for old in SCREENSHOTS.glob("*.jpg"):
        old.unlink()
    result = crawl(browser, HTML, server, pages, screenshots=shots)
    slowest = sorted(result.pages.items(), key=lambda kv: -kv[1].seconds)[:5]
    print(f"\nbrowser: {len(result.pages)} pages, {len(result.requests)} requests in {result.seconds:.1f} s (slowest: "
          + ", ".join(f"{name} {r.seconds:.1f} s" for name, r in slowest) + f"); screenshots in {SCREENSHOTS}")
    return result


def _fail_if(problems: list[str], what: str) -> None:
    if problems:
        pytest.fail(f"{len(problems)} {what}:\n  " + "\n  ".join(problems), pytrace=False)


# ---- what each check finds in a crawl (one list of readable problems per check)


def math_problems(crawl: Crawl) -> list[str]:
    problems = []
    for name, r in crawl.pages.items():
        m = r.math
        if m["expected"] and not m["has_mathjax"]:
            problems.append(f"{name}: {m['expected']} formulas but MathJax is not loaded")
        if m["rendered"] != m["expected"]:
            problems.append(f"{name}: {m['rendered']} rendered formulas (mjx-container), the HTML has {m['expected']}")
        problems += [f"{name}: raw TeX delimiter left in the text: {t!r}" for t in m["leftovers"]]
        problems += [f"{name}: MathJax error: {e}" for e in m["errors"]]
    return problems


def image_problems(crawl: Crawl) -> list[str]:
    problems = []
    for name, r in crawl.pages.items():
        for img in r.images:
            src = img["src"].removeprefix(crawl.base)
            if not img["complete"] or min(img["natural"]) <= 0:
                problems.append(f"{name}: image not loaded: {src} (natural size {img['natural']})")
            elif img["inArticle"] and min(img["box"]) <= 0:
                problems.append(f"{name}: image has an empty box: {src} (box {img['box']})")
    return problems


def external_request_problems(crawl: Crawl) -> list[str]:
    return [f"{page}: {url}" for page, url in crawl.external]


def failed_request_problems(crawl: Crawl) -> list[str]:
    return [f"{page}: {url.removeprefix(crawl.base)}: {why}" for page, url, why in crawl.failed]


def javascript_problems(crawl: Crawl) -> list[str]:
    return [f"{name}: {e}" for name, r in crawl.pages.items() for e in r.js_errors]


def cjk_problems(crawl: Crawl) -> list[str]:
    return [f"{name}: drawn as the missing-glyph box: {''.join(r.cjk_missing)}"
            for name, r in crawl.pages.items() if r.cjk_missing]


class _IdCollector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if value and (key == "id" or (tag == "a" and key == "name")):
                self.ids.add(value)


@functools.cache
def _static_ids(file: Path) -> frozenset[str]:
    """Element ids of a page the browser did not visit (a module's source listing): from its HTML."""
    collector = _IdCollector()
    collector.feed(file.read_text(encoding="utf-8"))
    return frozenset(collector.ids)


def link_problems(crawl: Crawl) -> list[str]:
    problems = []
    for name, r in crawl.pages.items():
        for url in sorted(set(r.links)):
            target, fragment = urldefrag(url)
            path = _local_path(target, crawl.base)
            if path is None:
                continue
            shown = url.removeprefix(crawl.base)
            if not (crawl.root / path).is_file():
                problems.append(f"{name}: {shown} -> no such file")
            elif fragment and path.endswith(".html"):
                ids = crawl.pages[path].ids if path in crawl.pages else _static_ids(crawl.root / path)
                if unquote(fragment) not in ids:
                    problems.append(f"{name}: {shown} -> no element with id {unquote(fragment)!r}")
    return problems


# ---- the tests


def test_every_page_of_the_book_was_visited(book):
    built = sorted(str(p.relative_to(HTML)) for p in (HTML / "book").rglob("*.html"))
    missing = [p for p in built if p not in book.pages]
    assert built and not missing, f"built pages the browser did not open: {missing}"


def test_mathjax_rendered_every_formula(book):
    _fail_if(math_problems(book), "math problems")
    assert sum(r.math["rendered"] for r in book.pages.values()) > 0, "no formula rendered anywhere"


def test_every_image_is_loaded_with_a_size(book):
    _fail_if(image_problems(book), "image problems")
    for chapter in _chapters():
        images = [i for i in book.pages[f"{chapter}.html"].images if i["inArticle"] and "/_images/" in i["src"]]
        assert images, f"{chapter}: no figure in the article"


def test_no_request_leaves_the_local_server(book):
    _fail_if(external_request_problems(book), "requests to other hosts (aborted)")


def test_every_local_request_succeeds(book):
    _fail_if(failed_request_problems(book), "failed local requests")


def test_no_javascript_error(book):
    _fail_if(javascript_problems(book), "JavaScript errors")


def test_chinese_text_renders_with_cjk_glyphs(book):
    glossary = book.pages["book/glossary.html"]
    assert len(glossary.cjk_chars) >= 20, f"the glossary shows too few Chinese characters: {glossary.cjk_chars}"
    _fail_if(cjk_problems(book), "pages with Chinese characters that have no glyph (install fonts-noto-cjk)")


def test_internal_links_resolve(book):
    _fail_if(link_problems(book), "broken internal links")


def test_a_screenshot_of_every_chapter(book):
    Image = pytest.importorskip("PIL.Image")
    for chapter in _chapters():
        shot = book.pages[f"{chapter}.html"].screenshot
        assert shot is not None and shot.is_file(), f"no screenshot of {chapter}"
        with Image.open(shot) as image:
            assert image.format == "JPEG"
            width, height = image.size
        expected = round(VIEWPORT["width"] * SCREENSHOT_SCALE)
        assert width == expected and height > 2 * VIEWPORT["height"] * SCREENSHOT_SCALE, f"{shot}: {width}x{height}"


_BROKEN_PAGE = r"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>broken</title>
<script src="https://cdn.example.invalid/lib.js"></script>
</head><body><article>
<p class="math">\(x^2\)</p>
<p>$$\sum_i a_i$$</p>
<img src="missing.png" alt="missing">
<img src="dot.png" alt="hidden" style="display: none">
<img src="dot.png" alt="fine">
<a href="gone.html">a page that does not exist</a>
<a href="#nowhere">a fragment that does not exist</a>
<a href="index.html#here">a fragment that exists</a><span id="here"></span>
<script>console.error("something went wrong");</script>
<script>throw new Error("boom");</script>
</article></body></html>
"""


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    """Every check finds what it is for on a page built to fail them all (and nothing on a fine image)."""
    Image = pytest.importorskip("PIL.Image")
    (tmp_path / "index.html").write_text(_BROKEN_PAGE, encoding="utf-8")
    Image.new("RGB", (4, 3), "red").save(tmp_path / "dot.png")
    with _serve(tmp_path) as base:
        found = crawl(browser, tmp_path, base, ["index.html"], screenshots={})

    def one_each(problems: list[str], *needles: str) -> None:
        assert len(problems) == len(needles), problems
        for needle in needles:
            assert any(needle in p for p in problems), (needle, problems)

    one_each(math_problems(found), "2 formulas but MathJax is not loaded", "0 rendered formulas",
             r"'\\(x^2\\)'", r"'$$\\sum_i a_i$$'")
    one_each(image_problems(found), "not loaded: missing.png", "empty box: dot.png")
    one_each(external_request_problems(found), "https://cdn.example.invalid/lib.js")
    assert len(found.requests) == 5, found.requests  # the page, the fetch of its HTML, the script, two images
    one_each(failed_request_problems(found), "missing.png: HTTP 404")
    one_each(javascript_problems(found), "uncaught: boom", "console: something went wrong")
    one_each(link_problems(found), "gone.html -> no such file", "#nowhere -> no element with id 'nowhere'")


_FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>{dirs}<cachedir>{cache}</cachedir></fontconfig>
"""


def _font_dirs_without_cjk() -> list[str]:
    """This machine's font folders, less every folder that holds a font with Chinese glyphs."""
    import subprocess

    fc_list = shutil.which("fc-list")
    if fc_list is None:
        pytest.skip("fc-list (fontconfig) is not installed")

    def folders(*pattern: str) -> set[str]:
        out = subprocess.run([fc_list, *pattern, "--format", "%{file}\\n"], capture_output=True, text=True,
                             check=True).stdout
        return {str(Path(line).parent) for line in out.splitlines() if line}

    cjk = folders(":lang=zh")
    assert cjk, "no font with Chinese glyphs is installed (apt-get install fonts-noto-cjk)"
    rest = sorted(folders() - cjk)
    if not rest:
        pytest.skip("every installed font folder holds a CJK font: no font-less control possible")
    return rest


def test_the_cjk_check_fails_without_a_cjk_font(playwright, server):
    """The glyph check can fail: the same browser with every font but the CJK ones flags the glossary's terms."""
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "fonts.conf"
        dirs = "".join(f"<dir>{d}</dir>" for d in _font_dirs_without_cjk())
        conf.write_text(_FONTS_CONF.format(dirs=dirs, cache=Path(tmp) / "cache"), encoding="utf-8")
        env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS, env=env)
        try:
            page = browser.new_page()
            page.route(re.compile("^(?!" + re.escape(server) + ")"), lambda route: route.abort())
            page.goto(server + "book/glossary.html", wait_until="load")
            chars = page.evaluate(_CJK_CHARS_JS)
            missing = page.evaluate(_TOFU_JS, chars)
        finally:
            browser.close()
    ideographs = {ch for ch, _ in chars if "\u4e00" <= ch <= "\u9fff"}
    assert len(ideographs) >= 20
    assert set(missing) >= ideographs, (
        f"without a CJK font only {len(missing)} of {len(ideographs)} Chinese characters were flagged")

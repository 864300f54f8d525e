"""What the site tests (test_site_pages.py, test_site_html.py) share: the built book's pages,
a local server and one Chromium for them, a visit to a page (every request watched), and
parsers of the built HTML.

The book is _build/html (`make test` builds it from the chapters' stored outputs, `make
book` by executing them; MICRODNB_SITE=/other/html tests another build). Chromium is
/usr/bin/chromium (MICRODNB_CHROMIUM overrides): without it the browser tests skip, except
under CI=true, where they fail.
"""
from __future__ import annotations

import contextlib
import html as htmllib
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from browser import launch_persistent, require_chromium, serve
from site_js import EXPLORERS_READY_JS, SETTLE_JS, WIDGETS_RENDERED_JS

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("MICRODNB_SITE") or ROOT / "_build" / "html").resolve()
LATENCY_FILE = HTML.parent / "site_latency.json"
A11Y_REPORT = HTML.parent / "a11y_report.json"
AXE = ROOT / "_vendor" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Pages whose chapter is built around a scrubbable figure, and pages built around the explorer.
MUST_HAVE_SLIDERS = {"book/04_training": "the temperature widget", "book/14_watch": "the live-slice widget"}
MUST_HAVE_EXPLORERS = {"book/06_bus": "cadence and lag", "book/07_snc_gate": "the gate",
                       "book/09_phase2": "parallel decoding", "book/14_watch": "the copy-task model"}
MUST_HAVE_LOOKTHROUGHS = {"book/03_gpt": "a forward pass to look through"}
VIEWPORT = {"width": 1280, "height": 900}


def toc_pages() -> list[str]:
    """Every document of _toc.yml (root, then parts/chapters/sections), without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                pages.append(e["file"])
            walk(e.get("sections"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [p.rsplit(".", 1)[0] if p.endswith((".md", ".ipynb")) else p for p in pages]


PAGES = toc_pages()


def site_pages() -> list[str]:
    """Every HTML page of the built site a reader can land on: the chapters plus the
    generated ones (search, index), without redirect stubs."""
    if not HTML.is_dir():
        return PAGES
    found = []
    for path in sorted(HTML.rglob("*.html")):
        rel = path.relative_to(HTML).as_posix()
        if rel.split("/", 1)[0] in ("_static", "_sources", "_images", "reports"):
            continue
        if re.search(r'http-equiv="refresh"', path.read_text(encoding="utf-8")[:2000], re.I):
            continue
        found.append(rel[:-len(".html")])
    return sorted(set(found) | set(PAGES), key=lambda p: (p not in PAGES, PAGES.index(p) if p in PAGES else p))


ALL_PAGES = site_pages()


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="session")
def site():
    if not (HTML / "index.html").is_file():
        pytest.fail(f"{HTML} has no built book: run `make site` or `make book` first (the site "
                    "tests check the built HTML, they do not build it)", pytrace=False)
    return HTML


@pytest.fixture(scope="session")
def server(site):
    with serve(site) as origin:
        yield origin


@pytest.fixture(scope="session")
def browser(server, tmp_path_factory):
    """One Chromium (a persistent context) for every page this test process visits."""
    require_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        context = launch_persistent(pw, tmp_path_factory.mktemp("chromium-profile"), viewport=VIEWPORT)
        # generous: a 2-core machine under load takes long over the heaviest pages, and a
        # timeout says nothing about the page
        context.set_default_timeout(120_000)
        yield context
        context.close()


# ------------------------------------------------------------------ a visit

@contextlib.contextmanager
def visit(browser, server, page_name, **media):
    """A fresh tab on `page_name` (`media` as for Page.emulate_media), ready: every widget
    view rendered, every explorer registered, every request it made answered (finished or
    failed, so the record below is complete), MathJax done and every image decoded. Yields
    the Playwright page with `page.problems`: requests to other hosts (aborted), failed
    requests and HTTP errors, console errors and uncaught exceptions, collected over the
    whole visit (the checks run inside it included); the caller asserts on them last."""
    origin = urlsplit(server).netloc
    external, failed, console_errors = [], [], []

    def route(r):
        if urlsplit(r.request.url).netloc == origin:
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    page = browser.new_page()
    page.route("**/*", route)
    page.on("console", lambda m: console_errors.append(f"console.{m.type}: {m.text} @ {m.location}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})")
            if urlsplit(r.url).netloc == origin else None)
    page.on("response", lambda r: failed.append(f"{r.url} -> HTTP {r.status}") if r.status >= 400 else None)
    in_flight = {}   # every request the page makes, until it finishes or fails
    page.on("request", lambda r: in_flight.__setitem__(id(r), r.url))
    page.on("requestfinished", lambda r: in_flight.pop(id(r), None))
    page.on("requestfailed", lambda r: in_flight.pop(id(r), None))
    page.problems = {"requested other hosts (aborted)": external, "had failed requests": failed,
                     "logged errors": console_errors}
    try:
        if media:
            page.emulate_media(**media)
        page.goto(f"{server}/{page_name}.html", wait_until="load")
        # the manager renders each view <script> into a .widget-subarea inserted before it
        page.wait_for_function(WIDGETS_RENDERED_JS, timeout=120_000)
        page.wait_for_function(EXPLORERS_READY_JS, timeout=120_000)
        # every request answered: each one, finished or failed, not Playwright's "no
        # connection for 500 ms", which a loaded 2-core machine can miss
        for _ in range(1200):
            if not in_flight:
                break
            page.wait_for_timeout(100)
        assert not in_flight, f"{page_name}: requests still unanswered after 120 s: {sorted(in_flight.values())}"
        page.evaluate(SETTLE_JS)
        yield page
        page.wait_for_timeout(100)  # let late console messages arrive
    finally:
        page.close()


def assert_no_problems(page, page_name):
    for what, found in page.problems.items():
        assert not found, f"{page_name} {what}: {found}"


# ------------------------------------------------------------------ the built HTML

class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


class _Outline(HTMLParser):
    """The headings and links inside <main>, in order."""

    def __init__(self):
        super().__init__()
        self.depth = 0          # >0 inside <main>
        self.headings, self.links = [], []
        self._open = None       # (kind, attrs, text parts) being collected

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.depth += 1
        elif self.depth and re.fullmatch(r"h[1-6]", tag):
            self._open = ("h", int(tag[1]), [])
        elif self.depth and tag == "a" and dict(attrs).get("href"):
            self._open = ("a", dict(attrs), [])
        elif self._open and tag == "img":
            self._open[2].append(dict(attrs).get("alt") or "")

    def handle_endtag(self, tag):
        if tag == "main":
            self.depth -= 1
        elif self._open and ((tag == "a" and self._open[0] == "a") or (tag[:1] == "h" and self._open[0] == "h")):
            kind, info, parts = self._open
            text = " ".join(" ".join(parts).split())
            (self.headings if kind == "h" else self.links).append((info, text))
            self._open = None

    def handle_data(self, data):
        if self._open:
            self._open[2].append(data)


def bad_alt(img: dict) -> str | None:
    """Why an <img>'s alternative text fails, or None. alt="" is accepted only on an image
    marked decorative (role="presentation"/"none", or inside aria-hidden)."""
    alt = img.get("alt")
    src = (img.get("src") or "")[:80]
    if alt is None:
        return f"no alt attribute: <img src={src!r}>"
    alt = alt.strip()
    if not alt:
        if img.get("role") in ("presentation", "none") or img.get("hidden"):
            return None
        return f'alt="" on an image not marked decorative (role="presentation"): {src!r}'
    if alt == (img.get("src") or "") or re.search(r"(^|/)[\w.-]+\.(png|svg|jpe?g|gif|webp)$", alt, re.I):
        return f"alt is a file name, not a description: {alt[:80]!r}"
    if re.fullmatch(r"(image|figure|picture|graph|chart|plot)( \d+)?", alt, re.I):
        return f"alt says nothing about the image: {alt!r}"
    return None


def widget_state(html: str) -> dict:
    m = re.search(r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))["state"] if m else {}


def scrubber_readouts(html: str) -> list[tuple[str, list[str]]]:
    """(slider description, readout text at each index) for every scrubber slider in the
    page's saved widget state: what the readout must show at each slider position."""
    state = widget_state(html)
    ref = lambda s: s.replace("IPY_MODEL_", "")  # noqa: E731
    out = []
    for mid, m in state.items():
        st = m["state"]
        if m["model_name"] != "IntSliderModel" or "microdnb-scrubber-slider" not in st.get("_dom_classes", []):
            continue
        for link in state.values():
            ls = link["state"]
            if link["model_name"] != "LinkModel" or ref(ls["source"][0]) != mid:
                continue
            target = state.get(ref(ls["target"][0]), {})
            if "microdnb-scrubber-readout" in target.get("state", {}).get("_dom_classes", []):
                values = [htmllib.unescape(re.sub(r"<[^>]+>", "", state[ref(c)]["state"]["value"])).strip()
                          for c in target["state"]["children"]]
                out.append((st["description"], values))
    return out

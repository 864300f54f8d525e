"""Browser test of the built book (`make book` first): every page in the table of
contents is opened in headless Debian chromium, served from _build/html on 127.0.0.1.

Per page: no console errors, no failed request, no request to any other host
(everything else is aborted and recorded), every <img> decoded. Where a page has
widget sliders, each slider is moved step by step and the visible frame must change;
the slider-to-frame latencies go to _build/site_latency.json and are printed.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import statistics
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
LATENCY_FILE = ROOT / "_build" / "site_latency.json"
CHROMIUM = os.environ.get("MICRODNB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Pages whose chapter is built around a scrubbable figure.
MUST_HAVE_SLIDERS = {"book/06_bus": "the cadence widget", "book/07_snc_gate": "the gate widget"}
MAX_STEPS_PER_SLIDER = 12


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


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="session")
def site():
    if not (HTML / "index.html").is_file():
        pytest.fail(f"{HTML} has no built book: run `make book` first (the browser test "
                    "checks the built HTML, it does not build it)", pytrace=False)
    return HTML


@pytest.fixture(scope="session")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser(server, tmp_path_factory):
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        msg = f"{CHROMIUM} not found: `make browser-deps` installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


@pytest.fixture(scope="session")
def latencies(request):
    """Collects slider-to-frame latencies; written to _build/site_latency.json at the end."""
    data: dict[str, list[dict]] = {}
    yield data
    if not data:
        return
    samples = [s["ms"] for rows in data.values() for s in rows]
    summary = {"pages": data, "n": len(samples), "median_ms": round(statistics.median(samples), 1),
               "max_ms": round(max(samples), 1)}
    LATENCY_FILE.write_text(json.dumps(summary, indent=1) + "\n")
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"slider-to-frame latency (ms), written to {LATENCY_FILE.relative_to(ROOT)}:"]
    for page, rows in data.items():
        ms = [r["ms"] for r in rows]
        lines.append(f"  {page}: n={len(ms)} median={statistics.median(ms):.1f} "
                     f"max={max(ms):.1f}  [{', '.join(f'{m:.0f}' for m in ms)}]")
    lines.append(f"  all: n={len(samples)} median={summary['median_ms']} max={summary['max_ms']}")
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    with capman.global_and_fixture_disabled():  # session teardown output is captured otherwise
        if tr is not None:
            tr.write_line("")
            for line in lines:
                tr.write_line(line)
        else:
            print("\n".join(lines))


# ------------------------------------------------------------------ in-page helpers

# Visible frame of the widget output that contains slider `i`: the src of every visible
# <img> (a new Image view gets a new blob: URL) plus the visible text of the readouts.
SIGNATURE_JS = """
(i) => {
  const handle = document.querySelectorAll('.widget-slider .noUi-handle')[i];
  const box = handle.closest('.cell_output') || handle.closest('.jupyter-widgets') || document.body;
  const vis = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  return Array.from(box.querySelectorAll('img')).filter(vis).map((im) => im.src).join('|');
}
"""

# Arm a MutationObserver; the keydown on the slider stamps t0, the first DOM change
# that alters the visible frame stamps t1, and t2 once every visible image is decoded.
ARM_JS = """
(i) => {
  const handle = document.querySelectorAll('.widget-slider .noUi-handle')[i];
  const box = handle.closest('.cell_output') || handle.closest('.jupyter-widgets') || document.body;
  const vis = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const sig = () => Array.from(box.querySelectorAll('img')).filter(vis).map((im) => im.src).join('|');
  const s = window.__scrub = {before: sig(), t0: null, t1: null, t2: null, after: null};
  handle.addEventListener('keydown', () => { s.t0 = performance.now(); }, {capture: true, once: true});
  const obs = new MutationObserver(() => {
    if (s.t1 !== null) return;
    const now = sig();
    if (now === s.before) return;
    s.t1 = performance.now(); s.after = now; obs.disconnect();
    const imgs = Array.from(box.querySelectorAll('img')).filter(vis);
    Promise.all(imgs.map((im) => im.decode().catch(() => null))).then(() => {
      requestAnimationFrame(() => { s.t2 = performance.now(); });
    });
  });
  obs.observe(box, {subtree: true, childList: true, attributes: true, attributeFilter: ['src', 'class', 'style']});
}
"""

UNDECODED_IMAGES_JS = """
async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map((im) => im.decode().catch(() => null)));
  return imgs.filter((im) => !(im.complete && im.naturalWidth > 0))
             .map((im) => im.currentSrc || im.src || im.outerHTML.slice(0, 120));
}
"""


# ------------------------------------------------------------------ the test

@pytest.mark.parametrize("page_name", PAGES)
def test_page(page_name, site, server, browser, latencies):
    path = site / f"{page_name}.html"
    assert path.is_file(), f"{page_name} is in _toc.yml but {path} was not built"
    html = path.read_text(encoding="utf-8")
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
    page.on("response", lambda r: failed.append(f"{r.url} -> HTTP {r.status}")
            if r.status >= 400 else None)
    try:
        page.goto(f"{server}/{page_name}.html", wait_until="load")
        has_widget_state = "application/vnd.jupyter.widget-state+json" in html
        has_widget_view = "application/vnd.jupyter.widget-view+json" in html
        if has_widget_view:
            # the manager renders each view <script> into a .widget-subarea inserted before it
            page.wait_for_function(
                "() => { const n = document.querySelectorAll("
                "'script[type=\"application/vnd.jupyter.widget-view+json\"]').length;"
                " const done = Array.from(document.querySelectorAll('.widget-subarea'))"
                ".filter((d) => d.childElementCount > 0).length; return n > 0 && done >= n; }",
                timeout=30_000)
        page.wait_for_load_state("networkidle")
        undecoded = page.evaluate(UNDECODED_IMAGES_JS)

        n_sliders = page.locator(".widget-slider .noUi-handle").count()
        rows = []
        for i in range(n_sliders):
            handle = page.locator(".widget-slider .noUi-handle").nth(i)
            handle.scroll_into_view_if_needed()
            lo = int(float(handle.get_attribute("aria-valuemin") or 0))
            hi = int(float(handle.get_attribute("aria-valuemax") or 0))
            for step in range(min(hi - lo, MAX_STEPS_PER_SLIDER)):
                page.evaluate(ARM_JS, i)
                handle.press("ArrowRight")
                try:
                    page.wait_for_function("() => window.__scrub.t2 !== null", timeout=5_000)
                except Exception:
                    state = page.evaluate("() => window.__scrub")
                    pytest.fail(f"{page_name}: slider {i} step {step + 1}: the visible frame did not "
                                f"change within 5 s (keydown seen: {state['t0'] is not None})")
                s = page.evaluate("() => window.__scrub")
                assert s["after"] != s["before"]
                rows.append({"slider": i, "step": step + 1, "ms": round(s["t2"] - s["t0"], 1),
                             "dom_ms": round(s["t1"] - s["t0"], 1)})
        if rows:
            latencies[page_name] = rows
        page.wait_for_timeout(100)  # let late console messages arrive
    finally:
        page.close()

    assert not external, f"{page_name} requested other hosts (aborted): {external}"
    assert not failed, f"{page_name} had failed requests: {failed}"
    assert not console_errors, f"{page_name} logged errors: {console_errors}"
    assert not undecoded, f"{page_name} has images that did not decode: {undecoded}"
    if has_widget_view:
        assert has_widget_state, f"{page_name} shows widgets but embeds no widget state"

    if page_name in MUST_HAVE_SLIDERS and not n_sliders:
        pytest.fail(f"{page_name} must have {MUST_HAVE_SLIDERS[page_name]} (a kernel-free slider), "
                    f"but the built page has no widget slider (widget state embedded: {has_widget_state})")


def test_toc_pages_all_built(site):
    missing = [p for p in PAGES if not (site / f"{p}.html").is_file()]
    assert not missing, f"pages in _toc.yml with no built HTML: {missing}"


def test_chapters_offer_notebook_download(site):
    """Each chapter page offers its .ipynb (download button) and the file is in the site."""
    for p in PAGES:
        if p == PAGES[0]:
            continue
        html = (site / f"{p}.html").read_text(encoding="utf-8")
        name = Path(p).name + ".ipynb"
        assert name in html, f"{p}: no .ipynb download offered"
        assert list(site.glob(f"_sources/**/{name}")), f"{p}: {name} missing from the built site"


def test_chapters_offer_a_binder_launch_button(site):
    """Each chapter page links to Binder (configured in _config.yml) for that very notebook."""
    for p in PAGES[1:]:
        html = (site / f"{p}.html").read_text(encoding="utf-8")
        assert "mybinder.org/v2/gh/" in html, f"{p}: no Binder launch button"
        assert f"{p}.ipynb" in html.split("mybinder.org/v2/gh/", 1)[1][:400], \
            f"{p}: the Binder link does not open {p}.ipynb"

"""Browser test of the built book (`make book` first): every page in the table of
contents is opened in headless Debian chromium, served from _build/html on 127.0.0.1
(MICRODNB_SITE=/other/html tests another build).

Per page: no console errors, no failed request, no request to any other host
(everything else is aborted and recorded), every <img> decoded. Where a page has
widget sliders, each slider is moved step by step and the visible frame must change;
the slider-to-frame latencies go to _build/site_latency.json and are printed.

Accessibility (WCAG 2.1 A and AA), on every page of the site with every widget and
explorer rendered:
- axe-core (vendored from npm by `make vendor`, injected into the page) finds no
  violation of the wcag2a, wcag2aa, wcag21a and wcag21aa rules, in the light and the dark
  theme; the results go to _build/a11y_report.json;
- every image has alternative text (not a file name; alt="" only where decorative);
- by keyboard alone: Tab from the top reaches every widget slider, each stop in document
  order with a visible focus ring; the arrow keys move a slider and its readout, its
  aria-valuetext, the frame's alt and the live region all follow;
- with prefers-reduced-motion, nothing animates.
"""
from __future__ import annotations

import html as htmllib
import json
import os
import re
import statistics
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
import yaml

from browser import launch_persistent, require_chromium, serve

pytestmark = pytest.mark.site

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
        pytest.fail(f"{HTML} has no built book: run `make book` first (the browser test "
                    "checks the built HTML, it does not build it)", pytrace=False)
    return HTML


@pytest.fixture(scope="session")
def server(site):
    with serve(site) as origin:
        yield origin


@pytest.fixture(scope="session")
def browser(server, tmp_path_factory):
    require_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        context = launch_persistent(pw, tmp_path_factory.mktemp("chromium-profile"),
                                    viewport={"width": 1280, "height": 900})
        # generous: a 2-core machine under load takes long over the heaviest pages, and a
        # timeout says nothing about the page
        context.set_default_timeout(120_000)
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
    lines = [f"slider-to-frame latency (ms), written to {LATENCY_FILE}:"]
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
    in_flight = {}   # every request the page makes, until it finishes or fails
    page.on("request", lambda r: in_flight.__setitem__(id(r), r.url))
    page.on("requestfinished", lambda r: in_flight.pop(id(r), None))
    page.on("requestfailed", lambda r: in_flight.pop(id(r), None))
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
                timeout=120_000)
        # every request answered (so `failed` is complete): each one, finished or failed, not
        # Playwright's "no connection for 500 ms", which a loaded 2-core machine can miss
        for _ in range(1200):
            if not in_flight:
                break
            page.wait_for_timeout(100)
        assert not in_flight, f"{page_name}: requests still unanswered after 120 s: {sorted(in_flight.values())}"
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


@pytest.mark.parametrize("page_name", sorted(MUST_HAVE_EXPLORERS))
def test_explorer_pages_run_the_model(page_name, site, server, browser):
    """The chapters built around the explorer have one on the built page, registered in
    window.microdnb.explorers, decoding names in the page with no kernel; and moving a
    setting changes what it decodes (lag 0 versus 2 changes which notes a step reads)."""
    page = browser.new_page()
    try:
        page.goto(f"{server}/{page_name}.html", wait_until="load")
        page.wait_for_function(EXPLORERS_READY_JS, timeout=120_000)
        out = page.evaluate("""() => {
          const xs = window.microdnb.explorers, x = xs[0];
          const a = x.decode({seed: 3, streams: 3, lag: 0, cadence: 1});
          const b = x.decode({seed: 3, streams: 3, lag: 2, cadence: 1});
          const reads = (d) => d.events.map((e) => e.notes.length).join(',');
          return {n: xs.length, roots: document.querySelectorAll('div.microdnb-explorer').length,
                  texts: a.texts, differ: reads(a) !== reads(b), ck: JSON.parse(x.checkpoint()).format};
        }""")
    finally:
        page.close()
    assert out["n"] >= 1 and out["n"] == out["roots"], f"{page_name} must show {MUST_HAVE_EXPLORERS[page_name]} in an explorer"
    assert len(out["texts"]) == 3 and any(out["texts"]), out
    assert out["differ"], "changing the lag did not change which notes the steps read"
    assert out["ck"] == "microdnb-checkpoint-v1"


# What each chapter's explorer may show: chapter 6 has taught the bus, the cadence, the lag,
# the timeline and the names; SNC's attention, the distributions, the delta and the gate come
# with chapter 7 (page.explorer.BUS_PARTS against every part).
TAUGHT = {"book/06_bus": False, "book/07_snc_gate": True, "book/09_phase2": True}


@pytest.mark.parametrize("page_name", sorted(TAUGHT))
def test_explorers_show_only_what_their_chapter_has_taught(page_name, site, server, browser):
    """Chapter 6's explorer has no gate control and no SNC attention, distribution or delta
    view (chapter 7 defines them); chapters 7 and 9 have all of them."""
    page = browser.new_page()
    try:
        page.goto(f"{server}/{page_name}.html", wait_until="load")
        page.wait_for_function(EXPLORERS_READY_JS, timeout=120_000)
        got = page.evaluate("""() => window.microdnb.explorers.map(x => ({show: x.show,
          parts: ['input[data-k=gate]', 'button[data-k=trained]', 'button[data-k=nonotes]', '.mdx-v-attn',
                  '.mdx-v-dist', '.mdx-v-delta'].map(s => x.root.querySelector(s) !== null),
          timeline: x.root.querySelector('.mdx-v-timeline .mdx-tl') !== null}))""")
    finally:
        page.close()
    assert got, f"{page_name} has no explorer"
    for x in got:
        assert x["timeline"] and all(x["parts"]) is TAUGHT[page_name] and any(x["parts"]) is TAUGHT[page_name], x


def test_the_copy_task_explorer_copies_when_the_gate_opens(site, server, browser):
    """Chapter 14's explorer holds the copy-task model with the leader given a first letter:
    over 100 seeds decoded in the page, the follower puts more of its letters where the
    leader has them with the gate as trained than with the gate shut (the chapter's table
    says so from Python)."""
    page = browser.new_page()
    try:
        page.goto(f"{server}/book/14_watch.html", wait_until="load")
        page.wait_for_function(EXPLORERS_READY_JS, timeout=120_000)
        out = page.evaluate("""() => {
          const x = window.microdnb.explorers[0], starts = x.settings().starts;
          const inPlace = (gate) => {
            let same = 0, total = 0;
            for (let seed = 0; seed < 100; seed++) {
              const [a, b] = x.decode({gate, starts, seed}).texts;
              for (let i = 0; i < Math.max(a.length, b.length); i++) { total++; if (a[i] === b[i]) same++; }
            }
            return same / total;
          };
          return {starts, shut: inPlace(0), trained: inPlace(null), streams: x.settings().streams};
        }""")
    finally:
        page.close()
    assert out["streams"] == 2 and len(out["starts"][0]) == 1 and not out["starts"][1], out
    assert out["trained"] > 2 * out["shut"], out


def test_toc_pages_all_built(site):
    missing = [p for p in PAGES if not (site / f"{p}.html").is_file()]
    assert not missing, f"pages in _toc.yml with no built HTML: {missing}"


def test_chapters_offer_notebook_download(site):
    """Each chapter page offers its .ipynb (download button) and the file is in the site."""
    for p in PAGES:
        if not (ROOT / f"{p}.ipynb").is_file():
            continue
        html = (site / f"{p}.html").read_text(encoding="utf-8")
        name = Path(p).name + ".ipynb"
        assert name in html, f"{p}: no .ipynb download offered"
        assert list(site.glob(f"_sources/**/{name}")), f"{p}: {name} missing from the built site"


def test_chapters_offer_a_binder_launch_button(site):
    """Each chapter page links to Binder (configured in _config.yml) for that very notebook."""
    for p in PAGES[1:]:
        if not (ROOT / f"{p}.ipynb").is_file():
            continue
        html = (site / f"{p}.html").read_text(encoding="utf-8")
        assert "mybinder.org/v2/gh/" in html, f"{p}: no Binder launch button"
        assert f"{p}.ipynb" in html.split("mybinder.org/v2/gh/", 1)[1][:400], \
            f"{p}: the Binder link does not open {p}.ipynb"


# ------------------------------------------------------------------ accessibility helpers

WIDGETS_RENDERED_JS = """
() => {
  const n = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
  const done = Array.from(document.querySelectorAll('.widget-subarea')).filter((d) => d.childElementCount > 0).length;
  return done >= n;
}
"""

# The in-page explorers (div.microdnb-explorer) register themselves in window.microdnb.explorers.
EXPLORERS_READY_JS = """
() => {
  const roots = document.querySelectorAll('div.microdnb-explorer').length;
  if (!roots) return true;
  const e = window.microdnb && window.microdnb.explorers;
  if (!e) return false;
  const k = e.size !== undefined ? e.size : (e.length !== undefined ? e.length : Object.keys(e).length);
  return k >= roots;
}
"""

SETTLE_JS = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await Promise.all(Array.from(document.images).map((im) => im.decode().catch(() => null)));
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
}
"""

# axe's violations, and (for the report only) what it could not decide by itself, such as
# the contrast of text whose background it cannot compute.
AXE_RUN_JS = """
async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations', 'incomplete']});
  const pack = (list) => list.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(' '), html: n.html.slice(0, 240),
                                summary: (n.failureSummary || '').slice(0, 300)}))}));
  return {violations: pack(r.violations), incomplete: pack(r.incomplete)};
}
"""

# Text in the widgets and explorers against the background it is drawn on (the nearest
# opaque ancestor): axe can miss it (text the same colour as its background is skipped
# as hidden, not failed), so this measures it directly. Large text (24 px, or 18.66 px
# bold) needs 3:1, the rest 4.5:1.
WIDGET_CONTRAST_JS = """
() => {
  const lum = (rgb) => {
    const c = rgb.map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const parse = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const low = [];
  for (const root of document.querySelectorAll('.jupyter-widgets, .microdnb-explorer')) {
    const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    let n;
    while ((n = w.nextNode())) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !el.getClientRects().length || el.closest('.microdnb-sr-only')) continue;
      const cs = getComputedStyle(el);
      if (cs.visibility === 'hidden' || parseFloat(cs.opacity) === 0) continue;
      let bg = [255, 255, 255];
      for (let p = el; p; p = p.parentElement) {
        const c = parse(getComputedStyle(p).backgroundColor);
        if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) { bg = c.slice(0, 3); break; }
      }
      const fg = parse(cs.color).slice(0, 3);
      const a = lum(fg), b = lum(bg);
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight) >= 700;
      const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
      if (ratio < need) low.push(`"${n.textContent.trim().slice(0, 30)}" ${cs.color} on rgb(${bg}) = ${ratio.toFixed(2)}:1`);
    }
  }
  return low.slice(0, 20);
}
"""

# Every <img> in the rendered page (widget frames included): its alt attribute, as the
# reader's assistive technology gets it.
RENDERED_IMAGES_JS = """
() => Array.from(document.images).map((im) => ({
  src: (im.getAttribute('src') || '').slice(0, 80), alt: im.getAttribute('alt'),
  role: im.getAttribute('role'), hidden: im.closest('[aria-hidden=true]') !== null,
  frame: im.closest('.microdnb-scrubber-frames') !== null || im.classList.contains('widget-image')}))
"""

# What has keyboard focus: where it is in document order, whether it (and its focus
# ring) can be seen, and the ring's contrast against what is behind the element.
FOCUS_JS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const all = Array.from(document.querySelectorAll('*'));
  const lum = (rgb) => {
    const c = rgb.map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const parse = (s) => { const m = s.match(/[\\d.]+/g) || []; return m.map(Number); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  let bg = [255, 255, 255];
  for (let p = el.parentElement; p; p = p.parentElement) {
    const c = parse(getComputedStyle(p).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) { bg = c.slice(0, 3); break; }
  }
  const cs = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  let opacity = 1;
  for (let p = el; p; p = p.parentElement) opacity *= parseFloat(getComputedStyle(p).opacity);
  const outlineW = cs.outlineStyle !== 'none' ? parseFloat(cs.outlineWidth) : 0;
  const ring = outlineW > 0 ? parse(cs.outlineColor).slice(0, 3) : null;
  return {
    order: all.indexOf(el),
    desc: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
          (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.') : '') +
          ' "' + (el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40) + '"',
    visible: r.width > 0 && r.height > 0 && opacity > 0.5 && cs.visibility !== 'hidden',
    outline: outlineW, ringContrast: ring ? ratio(ring, bg) : 0,
    slider: el.matches('.widget-slider .noUi-handle') ?
            Array.from(document.querySelectorAll('.widget-slider .noUi-handle')).indexOf(el) : -1,
    explorer: el.closest('.microdnb-explorer') !== null,
    valueControl: el.matches('input[type=range], input[type=number], select, [role=slider], [role=spinbutton], input[type=radio]'),
    skip: /skip/i.test(el.textContent || '') && (el.getAttribute('href') || '').startsWith('#'),
  };
}
"""

# The state of the scrubber that owns slider `i`, as a reader sees and hears it.
SCRUBBER_STATE_JS = """
(i) => {
  const handle = document.querySelectorAll('.widget-slider .noUi-handle')[i];
  const box = handle.closest('.microdnb-scrubber');
  const row = handle.closest('.microdnb-scrubber-row');
  const vis = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const frame = box ? Array.from(box.querySelectorAll('.microdnb-scrubber-frames img')).filter(vis)[0] : null;
  const readout = row ? row.querySelector('.microdnb-scrubber-readout') : null;
  const status = box ? box.querySelector('[role=status]') : null;
  const label = handle.getAttribute('aria-labelledby');
  return {
    scrubber: box !== null,
    now: Number(handle.getAttribute('aria-valuenow')), max: Number(handle.getAttribute('aria-valuemax')),
    valuetext: handle.getAttribute('aria-valuetext'),
    name: handle.getAttribute('aria-label') ||
          (label ? label.split(/\\s+/).map((id) => (document.getElementById(id) || {}).textContent || '').join(' ').trim() : ''),
    description: row ? (row.querySelector('label.widget-label') || {}).textContent || '' : '',
    readout: readout ? readout.textContent.trim() : null,
    src: frame ? frame.src : null, alt: frame ? frame.getAttribute('alt') : null,
    status: status ? status.textContent : null, live: status ? status.getAttribute('aria-live') : null,
  };
}
"""

REDUCED_MOTION_JS = """
() => {
  const secs = (v) => v.split(',').map((s) => s.trim().endsWith('ms') ? parseFloat(s) / 1000 : parseFloat(s) || 0);
  const moving = [];
  for (const el of document.querySelectorAll('*')) {
    for (const pseudo of [null, '::before', '::after']) {
      const cs = getComputedStyle(el, pseudo);
      const t = Math.max(...secs(cs.transitionDuration)), a = cs.animationName !== 'none' ?
                Math.max(...secs(cs.animationDuration)) * (cs.animationIterationCount === 'infinite' ? 1e9 : 1) : 0;
      if (t > 0.01 || a > 0.01) moving.push(el.tagName.toLowerCase() + (pseudo || '') + '.' +
        String(el.className).slice(0, 40) + ` transition ${cs.transitionDuration} animation ${cs.animationName} ${cs.animationDuration}`);
    }
  }
  return {moving: moving.slice(0, 20), smooth: getComputedStyle(document.documentElement).scrollBehavior};
}
"""

MAX_TABS = 600

# Put the keyboard's starting point at the very top of the page, as on a fresh load: focus
# a throwaway element at the start of <body> and remove it (a blur() alone would leave the
# starting point where the focus was).
TO_TOP_JS = """
() => {
  const t = document.createElement('span');
  t.tabIndex = -1;
  document.body.prepend(t);
  t.focus();
  t.remove();
  window.scrollTo(0, 0);
}
"""


def open_page(browser, server, page_name, viewport=None, **media):
    """A fresh tab on `page_name`, other hosts blocked, with every widget and explorer
    rendered and MathJax done; `media` as for Page.emulate_media."""
    origin = urlsplit(server).netloc
    page = browser.new_page()
    if viewport:
        page.set_viewport_size(viewport)
    page.route("**/*", lambda r: r.continue_() if urlsplit(r.request.url).netloc == origin else r.abort())
    if media:
        page.emulate_media(**media)
    page.goto(f"{server}/{page_name}.html", wait_until="load")
    page.wait_for_function(WIDGETS_RENDERED_JS, timeout=120_000)
    page.wait_for_function(EXPLORERS_READY_JS, timeout=120_000)
    # Everything this function promises is awaited above and in SETTLE_JS (widgets, explorers,
    # MathJax, every image decoded); network idleness is only a courtesy on top, which a heavy
    # page on a loaded 2-core machine may not reach in time (other hosts are blocked anyway,
    # and test_page checks for failed requests).
    try:
        page.wait_for_load_state("networkidle", timeout=20_000)
    except PlaywrightTimeoutError:
        pass
    page.evaluate(SETTLE_JS)
    return page


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


@pytest.fixture(scope="session")
def a11y_report(request):
    """Collects the axe results per page and colour scheme; written to _build/a11y_report.json."""
    data: dict[str, dict] = {}
    yield data
    if not data:
        return
    pages = sorted({k.rsplit(" ", 1)[0] for k in data})
    summary = {"axe_version": _axe_version(), "tags": AXE_TAGS, "pages": len(pages),
               "violations": sum(len(v["violations"]) for v in data.values()),
               "nodes": sum(len(x["nodes"]) for v in data.values() for x in v["violations"]),
               "incomplete_nodes": sum(len(x["nodes"]) for v in data.values() for x in v["incomplete"]),
               "results": data}
    A11Y_REPORT.write_text(json.dumps(summary, indent=1) + "\n")


def _axe_version() -> str:
    try:
        return json.loads((AXE.parent / "package.json").read_text())["version"]
    except OSError:
        return "?"


# ------------------------------------------------------------------ accessibility tests

@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("page_name", ALL_PAGES)
def test_axe_finds_no_wcag_violation(page_name, scheme, site, server, browser, a11y_report):
    """axe-core, every WCAG 2.1 A/AA rule, on the rendered page (widgets and explorers drawn)."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: `make vendor` installs axe-core from npm", pytrace=False)
    page = open_page(browser, server, page_name, color_scheme=scheme)
    try:
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(AXE_RUN_JS, AXE_TAGS)
        low_contrast = page.evaluate(WIDGET_CONTRAST_JS)
    finally:
        page.close()
    violations = result["violations"]
    a11y_report[f"{page_name} {scheme}"] = result
    lines = [f"{page_name} ({scheme}): [{v['impact']}] {v['id']}: {v['help']}\n      at {n['target']}: "
             f"{n['html']}\n      {n['summary']}" for v in violations for n in v["nodes"]]
    assert not violations, f"{len(lines)} WCAG 2.1 A/AA violation(s):\n" + "\n".join(lines)
    assert not low_contrast, f"{page_name} ({scheme}): widget text below AA contrast:\n" + "\n".join(low_contrast)


def test_built_images_have_alternative_text(site):
    """Every <img> written into the built HTML says what it shows (or is marked decorative)."""
    bad = []
    for name in ALL_PAGES:
        parser = _Images()
        parser.feed((site / f"{name}.html").read_text(encoding="utf-8"))
        bad += [f"{name}: {why}" for img in parser.images if (why := bad_alt(img))]
    assert not bad, "images without a real alternative text:\n" + "\n".join(bad)


@pytest.mark.parametrize("page_name", ALL_PAGES)
def test_rendered_images_have_alternative_text(page_name, site, server, browser):
    """Also the images the page draws itself: every widget frame has a non-empty alt."""
    page = open_page(browser, server, page_name)
    try:
        images = page.evaluate(RENDERED_IMAGES_JS)
        lang = page.evaluate("() => document.documentElement.lang")
    finally:
        page.close()
    bad = [why for img in images if (why := bad_alt(img))]
    bad += [f"widget frame with an empty alt: {img['src']}" for img in images
            if img["frame"] and not (img["alt"] or "").strip()]
    assert not bad, f"{page_name}:\n" + "\n".join(bad)
    assert lang == "en", f"{page_name}: <html lang> is {lang!r}"


GENERIC_LINK_TEXT = {"here", "click here", "link", "this", "more", "read more", "this link"}


def test_headings_nest_and_links_say_where_they_go(site):
    """One h1 per page, no heading level skipped on the way down (1.3.1, 2.4.6); every link
    in the content has a name that is not just "here" (2.4.4)."""
    bad = []
    for name in ALL_PAGES:
        outline = _Outline()
        outline.feed((site / f"{name}.html").read_text(encoding="utf-8"))
        # (Jupyter Book's print-only table of contents has an empty <h1>, never shown on screen)
        outline.headings = [(level, text) for level, text in outline.headings if text]
        levels = [level for level, _ in outline.headings]
        if levels.count(1) != 1:
            bad.append(f"{name}: {levels.count(1)} <h1> headings")
        for (a, ta), (b, tb) in zip(outline.headings, outline.headings[1:]):
            if b > a + 1:
                bad.append(f"{name}: <h{b}> {tb[:50]!r} right after <h{a}> {ta[:50]!r}")
        for attrs, text in outline.links:
            label = (attrs.get("aria-label") or text or attrs.get("title") or "").strip().lower()
            if not label:
                bad.append(f"{name}: a link with no name: {attrs.get('href')}")
            elif label.strip(".:") in GENERIC_LINK_TEXT:
                bad.append(f"{name}: a link named only {label!r}: {attrs.get('href')}")
    assert not bad, "\n".join(bad)


REFLOW_JS = """
() => {
  const w = document.documentElement.clientWidth;
  const scrolls = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; }
    return false; };
  const wide = [];
  for (const el of document.querySelectorAll('main *')) {
    const r = el.getBoundingClientRect();
    if (!el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;   // closed drawers
    if (r.width && r.right > w + 1 && !scrolls(el)) wide.push(el.tagName.toLowerCase() + '.' +
        String(el.className).split(' ').slice(0, 3).join('.') + ' right=' + Math.round(r.right));
  }
  return {scrollWidth: document.documentElement.scrollWidth, width: w, wide: wide.slice(0, 10)};
}
"""


@pytest.mark.parametrize("page_name", ALL_PAGES)
def test_reflows_at_320_css_pixels(page_name, site, server, browser):
    """WCAG 1.4.10: 320 CSS px wide (a 1280 px window at 400 % zoom), the page does not
    scroll sideways; code, tables and figures may scroll inside their own boxes."""
    page = open_page(browser, server, page_name, viewport={"width": 320, "height": 640})
    try:
        got = page.evaluate(REFLOW_JS)
    finally:
        page.close()
    assert got["scrollWidth"] <= got["width"] + 1 and not got["wide"], \
        f"{page_name}: {got['scrollWidth']} px of content in a {got['width']} px window: {got['wide']}"


@pytest.mark.parametrize("page_name", ALL_PAGES)
def test_reduced_motion_stops_every_animation(page_name, site, server, browser):
    page = open_page(browser, server, page_name, reduced_motion="reduce")
    try:
        got = page.evaluate(REDUCED_MOTION_JS)
    finally:
        page.close()
    assert not got["moving"], f"{page_name}: still moving with prefers-reduced-motion: {got['moving']}"
    assert got["smooth"] != "smooth", f"{page_name}: smooth scrolling with prefers-reduced-motion"


def _tab_to(page, want, page_name):
    """Press Tab from the top of the page until `want(stop)` holds (or, with want=None,
    through the whole page until focus comes round to the top again); check every stop
    on the way: in document order, visible, with a focus ring of at least 3:1 contrast."""
    page.evaluate(TO_TOP_JS)
    page.mouse.move(0, 0)
    stops, problems, done = [], [], False
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUS_JS)
        if stop is None:
            continue
        if stops and stop["order"] <= stops[-1]["order"]:
            if stop["order"] <= stops[0]["order"]:
                done = True
                break   # wrapped round to the top
            problems.append(f"out of document order: {stop['desc']} after {stops[-1]['desc']}")
        if not stop["visible"]:
            problems.append(f"focused but not visible: {stop['desc']}")
        elif stop["outline"] < 2 or stop["ringContrast"] < 3:
            problems.append(f"no visible focus ring (outline {stop['outline']}px, contrast "
                            f"{stop['ringContrast']:.2f}:1): {stop['desc']}")
        stops.append(stop)
        if want is not None and want(stop):
            done = True
            break
    assert stops, f"{page_name}: Tab reaches nothing"
    assert done, f"{page_name}: {MAX_TABS} Tab presses and focus never came back to the top " \
                 f"(a keyboard trap?); last stops: {[s['desc'] for s in stops[-5:]]}"
    assert stops[0]["skip"], f"{page_name}: the first Tab stop is not a skip link: {stops[0]['desc']}"
    assert not problems, f"{page_name}: keyboard focus problems:\n" + "\n".join(problems[:20])
    return stops


def _wait_state(page, i, before, timeout=5_000):
    """The scrubber state once its frame and live region have caught up with the slider."""
    page.wait_for_function(
        "([i, before]) => { const h = document.querySelectorAll('.widget-slider .noUi-handle')[i];"
        " const box = h.closest('.microdnb-scrubber'); const st = box && box.querySelector('[role=status]');"
        " return Number(h.getAttribute('aria-valuenow')) !== before.now && (!box ||"
        " (st && st.textContent && st.textContent !== before.status)); }", arg=[i, before], timeout=timeout)
    page.wait_for_timeout(50)
    return page.evaluate(SCRUBBER_STATE_JS, i)


@pytest.mark.parametrize("page_name", PAGES)
def test_keyboard_alone_drives_the_widgets(page_name, site, server, browser):
    """Tab from the top through the whole page: every slider is reached, each stop visible,
    ringed and in document order. Then, by keyboard alone, on every scrubber slider:
    ArrowRight, End and Home move the value, and the readout (checked against the values
    saved in the widget state), aria-valuetext, the frame (src and alt) and the live
    region follow."""
    html = (site / f"{page_name}.html").read_text(encoding="utf-8")
    page = open_page(browser, server, page_name)
    try:
        n_sliders = page.locator(".widget-slider .noUi-handle").count()
        n_explorers = page.locator("div.microdnb-explorer").count()
        # the whole page, top to bottom: order, rings, skip link, and every control reached
        stops = _tab_to(page, None, page_name)
        reached = {stop["slider"] for stop in stops if stop["slider"] >= 0}
        assert len(reached) == n_sliders, \
            f"{page_name}: Tab reached sliders {sorted(reached)} of {n_sliders} ({len(stops)} stops)"
        assert not n_explorers or any(stop["explorer"] for stop in stops), \
            f"{page_name}: Tab never reaches the explorer"
        expected = scrubber_readouts(html)

        checked = 0
        for i in range(n_sliders):
            state = page.evaluate(SCRUBBER_STATE_JS, i)
            assert state["name"], f"{page_name}: slider {i} has no accessible name"
            if not state["scrubber"] or state["now"] != 0 or state["max"] < 1:
                continue
            assert state["name"] == state["description"], (page_name, state)
            assert state["live"] == "polite", f"{page_name}: scrubber of slider {i} has no live region"
            values = [v for d, v in expected if d == state["description"] and len(v) == state["max"] + 1]
            assert values, f"{page_name}: no readout values for slider {i} ({state['description']}) in the widget state"
            assert state["readout"] in [v[0] for v in values] and state["valuetext"] == state["readout"]
            # keyboard only: focus the handle by Tab (already reached), then the arrow keys
            _tab_to(page, lambda stop, i=i: stop["slider"] == i, page_name)
            keys = {"ArrowRight": 1, "End": state["max"], "Home": 0}
            if state["max"] == 1:
                del keys["End"]
            for key, want_now in keys.items():
                before = state
                page.keyboard.press(key)
                state = _wait_state(page, i, before)
                assert state["now"] == want_now, f"{page_name}: {key} moved slider {i} to {state['now']}"
                assert any(state["readout"] == v[state["now"]] for v in values), \
                    f"{page_name}: readout {state['readout']!r} at position {state['now']}, expected one of " \
                    f"{[v[state['now']] for v in values]}"
                assert state["valuetext"] == state["readout"], (page_name, state)
                assert state["src"] != before["src"], f"{page_name}: {key}: the frame did not change"
                assert state["alt"] and state["alt"] != before["alt"], \
                    f"{page_name}: {key}: the frame's alt text did not change: {state['alt']!r}"
                assert state["alt"] in state["status"] and state["readout"] in state["status"], \
                    f"{page_name}: the live region says {state['status']!r}"
            checked += 1
        if n_sliders:
            assert checked, f"{page_name}: no scrubber slider could be driven by keyboard"
        if n_explorers:
            _drive_explorer(page, page_name)
    finally:
        page.close()


def _drive_explorer(page, page_name):
    """The explorer's first value control (a range, number, select, slider or radio),
    reached by Tab, reacts to the arrow keys: what the explorer says (its text) changes."""
    _tab_to(page, lambda stop: stop["explorer"] and stop["valueControl"], page_name)
    assert page.evaluate(FOCUS_JS)["valueControl"], f"{page_name}: Tab reaches no value control in the explorer"
    before = page.evaluate("() => document.activeElement.closest('.microdnb-explorer').textContent")
    for key in ("ArrowRight", "ArrowUp", "ArrowDown"):
        page.keyboard.press(key)
        page.wait_for_timeout(300)
        after = page.evaluate("() => document.activeElement.closest('.microdnb-explorer').textContent")
        if after != before:
            return
    pytest.fail(f"{page_name}: the arrow keys on the explorer's first control changed nothing")

"""The built book in headless Chromium: every page a reader can land on (the table of
contents, the index and the search page), visited once in the light theme and once in the
dark one, with every check of that page run during the visit (tests/site_pages.py serves
_build/html on 127.0.0.1 and watches every request).

In both themes: no console error, no failed request, no request to any other host
(aborted and recorded); axe-core (vendored by `make vendor`, injected into the page) finds
no violation of the wcag2a, wcag2aa, wcag21a and wcag21aa rules with every widget and
explorer rendered, and the text of the widgets and explorers has AA contrast; the results
go to _build/a11y_report.json. In the light visit, also:
- every <img> decoded and with alternative text (not a file name; alt="" only where
  decorative), widget frames included; <html lang="en">;
- the chapters built around the explorer run the model in the page (a setting changes what
  it decodes; chapter 14's follower copies more with the gate as trained than shut);
- the chapters with a trainer (4, 9, 13) train in the page: tests/trainer_checks.py;
- by keyboard alone: Tab from the top reaches every control (each widget slider and the
  explorer), each stop in document order with a visible focus ring, the first a skip
  link, and focus comes round to the top (no trap); on every scrubber ArrowRight, End and
  Home move the value, and the readout (checked against the widget state), aria-valuetext,
  the frame (src and alt) and the live region follow; the explorer's first value control
  reacts to the arrow keys;
- every widget slider moved step by step changes the visible frame (latencies to
  _build/site_latency.json);
- at 320 CSS px (a 1280 px window at 400 % zoom) nothing scrolls sideways but inside its
  own box; with prefers-reduced-motion nothing animates.
"""
from __future__ import annotations

import pytest

from site_js import (ARM_JS, AXE_RUN_JS, FOCUS_RECORDER_JS, READ_FOCUS_JS, REDUCED_MOTION_JS, REFLOW_JS,
                     RENDERED_IMAGES_JS, SCRUBBER_STATE_JS, TO_TOP_JS, UNDECODED_IMAGES_JS, WIDGET_CONTRAST_JS)
from site_pages import (ALL_PAGES, AXE, AXE_TAGS, MUST_HAVE_EXPLORERS, MUST_HAVE_LOOKTHROUGHS, MUST_HAVE_SLIDERS,  # noqa: F401
                        VIEWPORT, assert_no_problems, bad_alt, browser, scrubber_readouts, server, site, visit)
from trainer_checks import TRAINER_PAGES, check_trainer

pytestmark = [pytest.mark.site, pytest.mark.browser]

MAX_STEPS_PER_SLIDER = 12
MAX_TABS = 600
TABS_PER_READ = 40     # Tab presses between two reads of the focus record


def grouped(page_name, scheme):
    """One xdist group per visit, so that `make test` spreads the pages over its workers."""
    return pytest.param(page_name, marks=pytest.mark.xdist_group(f"site {page_name} {scheme}"), id=page_name)


@pytest.mark.parametrize("page_name", [grouped(p, "light") for p in ALL_PAGES])
def test_page_in_the_light_theme(page_name, site, server, browser, request, tmp_path):
    path = site / f"{page_name}.html"
    assert path.is_file(), f"{page_name} is in the site but {path} was not built"
    html = path.read_text(encoding="utf-8")
    with visit(browser, server, page_name, color_scheme="light") as page:
        undecoded = page.evaluate(UNDECODED_IMAGES_JS)
        assert not undecoded, f"{page_name} has images that did not decode: {undecoded}"
        check_rendered_images(page, page_name)
        if page_name in TRAINER_PAGES:
            check_trainer(page, page_name, tmp_path)   # trained: axe and the keyboard see that state too
        check_axe(page, page_name, "light", request)
        if page_name in MUST_HAVE_EXPLORERS:
            check_explorer_runs_the_model(page, page_name)
        if page_name == "book/14_watch":
            check_the_copy_task_explorer_copies_when_the_gate_opens(page)
        if page_name in MUST_HAVE_LOOKTHROUGHS:
            check_the_lookthrough_reads_a_typed_name(page, page_name)
        n_sliders = check_keyboard_alone_drives_the_widgets(page, page_name, html)
        check_sliders_change_the_frame(page, page_name, n_sliders, request)
        check_reflow_at_320_css_pixels(page, page_name)
        check_reduced_motion_stops_every_animation(page, page_name)
    assert_no_problems(page, page_name)
    has_widget_state = "application/vnd.jupyter.widget-state+json" in html
    if "application/vnd.jupyter.widget-view+json" in html:
        assert has_widget_state, f"{page_name} shows widgets but embeds no widget state"
    if page_name in MUST_HAVE_SLIDERS and not n_sliders:
        pytest.fail(f"{page_name} must have {MUST_HAVE_SLIDERS[page_name]} (a kernel-free slider), "
                    f"but the built page has no widget slider (widget state embedded: {has_widget_state})")


@pytest.mark.parametrize("page_name", [grouped(p, "dark") for p in ALL_PAGES])
def test_page_in_the_dark_theme(page_name, site, server, browser, request):
    with visit(browser, server, page_name, color_scheme="dark") as page:
        check_axe(page, page_name, "dark", request)
    assert_no_problems(page, page_name)


# ------------------------------------------------------------------ the checks of a visit

def check_axe(page, page_name, scheme, request):
    """axe-core, every WCAG 2.1 A/AA rule, on the rendered page (widgets and explorers
    drawn), and the widgets' and explorers' text contrast measured directly (axe skips text
    it takes for hidden). The result goes to the report (conftest.py writes it)."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: `make vendor` installs axe-core from npm", pytrace=False)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(AXE_RUN_JS, AXE_TAGS)
    low_contrast = page.evaluate(WIDGET_CONTRAST_JS)
    request.node.user_properties.append(("a11y", {"page": page_name, "scheme": scheme, "result": result}))
    violations = result["violations"]
    lines = [f"{page_name} ({scheme}): [{v['impact']}] {v['id']}: {v['help']}\n      at {n['target']}: "
             f"{n['html']}\n      {n['summary']}" for v in violations for n in v["nodes"]]
    assert not violations, f"{len(lines)} WCAG 2.1 A/AA violation(s):\n" + "\n".join(lines)
    assert not low_contrast, f"{page_name} ({scheme}): widget text below AA contrast:\n" + "\n".join(low_contrast)


def check_rendered_images(page, page_name):
    """Also the images the page draws itself: every widget frame has a non-empty alt."""
    images = page.evaluate(RENDERED_IMAGES_JS)
    lang = page.evaluate("() => document.documentElement.lang")
    bad = [why for img in images if (why := bad_alt(img))]
    bad += [f"widget frame with an empty alt: {img['src']}" for img in images
            if img["frame"] and not (img["alt"] or "").strip()]
    assert not bad, f"{page_name}:\n" + "\n".join(bad)
    assert lang == "en", f"{page_name}: <html lang> is {lang!r}"


def check_explorer_runs_the_model(page, page_name):
    """The chapters built around the explorer have one on the built page, registered in
    window.microdnb.explorers, decoding names in the page with no kernel; and moving a
    setting changes what it decodes (lag 0 versus 2 changes which notes a step reads).
    Chapter 6's explorer has no gate control and no SNC attention, distribution or delta
    view (chapter 7 defines them); the later chapters' have all of them."""
    out = page.evaluate("""() => {
      const xs = window.microdnb.explorers, x = xs[0];
      const a = x.decode({seed: 3, streams: 3, lag: 0, cadence: 1});
      const b = x.decode({seed: 3, streams: 3, lag: 2, cadence: 1});
      const reads = (d) => d.events.map((e) => e.notes.length).join(',');
      return {n: xs.length, roots: document.querySelectorAll('div.microdnb-explorer').length,
              texts: a.texts, differ: reads(a) !== reads(b), ck: JSON.parse(x.checkpoint()).format};
    }""")
    assert out["n"] >= 1 and out["n"] == out["roots"], f"{page_name} must show {MUST_HAVE_EXPLORERS[page_name]} in an explorer"
    assert len(out["texts"]) == 3 and any(out["texts"]), out
    assert out["differ"], "changing the lag did not change which notes the steps read"
    assert out["ck"] == "microdnb-checkpoint-v1"
    # what the explorer may show: chapter 6 has taught the bus, the cadence, the lag, the
    # timeline and the names; SNC's attention, the distributions, the delta and the gate come
    # with chapter 7 (page.explorer.BUS_PARTS against every part)
    parts = page.evaluate("""() => window.microdnb.explorers.map(x => ({show: x.show,
      parts: ['input[data-k=gate]', 'button[data-k=trained]', 'button[data-k=nonotes]', '.mdx-v-attn',
              '.mdx-v-dist', '.mdx-v-delta'].map(s => x.root.querySelector(s) !== null),
      timeline: x.root.querySelector('.mdx-v-timeline .mdx-tl') !== null}))""")
    taught = page_name != "book/06_bus"
    for x in parts:
        assert x["timeline"] and all(x["parts"]) is taught and any(x["parts"]) is taught, (page_name, x)


def check_the_lookthrough_reads_a_typed_name(page, page_name):
    """Chapter 3's look-through runs the model in the built page: a name typed into its box is
    read at once (one position per letter and BOS), and the live region says so."""
    out = page.evaluate("""() => { const v = window.microdnb.lookthroughs[0], before = v.state();
      const box = v.root.querySelector('input[data-k=name]');
      box.value = 'emma'; box.dispatchEvent(new Event('input', {bubbles: true}));
      const got = {state: v.state(), live: v.root.querySelector('[role=status]').textContent,
                   n: window.microdnb.lookthroughs.length, positions: v.trace('emma').positions.length};
      v.set(before); box.value = before.name;
      return got; }""")
    assert out["n"] >= 1, f"{page_name} must show {MUST_HAVE_LOOKTHROUGHS[page_name]}"
    assert out["state"] == {"name": "emma", "pos": 4} and out["positions"] == 5, (page_name, out)
    assert out["live"].startswith("Position 4 reads a."), (page_name, out["live"])


def check_the_copy_task_explorer_copies_when_the_gate_opens(page):
    """Chapter 14's explorer holds the copy-task model with the leader given a first letter:
    over 100 seeds decoded in the page, the follower puts more of its letters where the
    leader has them with the gate as trained than with the gate shut (the chapter's table
    says so from Python)."""
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
    assert out["streams"] == 2 and len(out["starts"][0]) == 1 and not out["starts"][1], out
    assert out["trained"] > 2 * out["shut"], out


def check_reflow_at_320_css_pixels(page, page_name):
    """WCAG 1.4.10: 320 CSS px wide (a 1280 px window zoomed to 400 %, as a reader zooms a
    page already open), the page does not scroll sideways; code, tables and figures may
    scroll inside their own boxes."""
    page.set_viewport_size({"width": 320, "height": 640})
    try:
        # settled: the theme slides its sidebars away at this width (a transition)
        page.evaluate("async () => { await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));"
                      " await Promise.all(document.getAnimations().map((a) => a.finished.catch(() => null))); }")
        got = page.evaluate(REFLOW_JS)
    finally:
        page.set_viewport_size(VIEWPORT)
    assert got["scrollWidth"] <= got["width"] + 1 and not got["wide"], \
        f"{page_name}: {got['scrollWidth']} px of content in a {got['width']} px window: {got['wide']}"


def check_reduced_motion_stops_every_animation(page, page_name):
    """With prefers-reduced-motion (the theme reads it from CSS, and its one script that
    asks reads it when clicked), no transition or animation runs and scrolling is not smooth."""
    page.emulate_media(reduced_motion="reduce")
    got = page.evaluate(REDUCED_MOTION_JS)
    assert not got["moving"], f"{page_name}: still moving with prefers-reduced-motion: {got['moving']}"
    assert got["smooth"] != "smooth", f"{page_name}: smooth scrolling with prefers-reduced-motion"


# ------------------------------------------------------------------ by keyboard alone

def tab_walk(page, page_name, tabs=None):
    """Press Tab from the top of the page, the focus record kept by the page itself (one
    read per TABS_PER_READ presses, not one per press): `tabs` presses, or with tabs=None
    until focus comes round to the top again. Every stop on the way is checked: in document
    order, visible, with a focus ring of at least 3:1 contrast; the first is a skip link.
    Returns the stops (each with `tab`, the presses that reached it)."""
    page.evaluate(FOCUS_RECORDER_JS)
    page.evaluate(TO_TOP_JS)
    page.mouse.move(0, 0)
    page.evaluate(READ_FOCUS_JS, [0, True])
    stops, problems, done, pressed, seen = [], [], False, 0, 0
    limit = MAX_TABS if tabs is None else tabs
    while pressed < limit and not done:
        for _ in range(min(TABS_PER_READ, limit - pressed)):
            page.keyboard.press("Tab")
            pressed += 1
        new = page.evaluate(READ_FOCUS_JS, [seen, False])["stops"]
        seen += len(new)
        for stop in new:
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
    assert stops, f"{page_name}: Tab reaches nothing"
    if tabs is None:
        assert done, f"{page_name}: {MAX_TABS} Tab presses and focus never came back to the top " \
                     f"(a keyboard trap?); last stops: {[s['desc'] for s in stops[-5:]]}"
    assert stops[0]["skip"], f"{page_name}: the first Tab stop is not a skip link: {stops[0]['desc']}"
    assert not problems, f"{page_name}: keyboard focus problems:\n" + "\n".join(problems[:20])
    return stops


def tab_to(page, page_name, walk, target):
    """Tab from the top to `walk`'s stop `target` again, by as many presses as the walk took:
    focus must pass the same stops (each checked by tab_walk) and land on that one."""
    again = tab_walk(page, page_name, tabs=target["tab"])
    want = [s["desc"] for s in walk if s["tab"] <= target["tab"]]
    assert [s["desc"] for s in again] == want and again[-1]["order"] == target["order"], \
        f"{page_name}: Tab did not take the same way to {target['desc']}: {[s['desc'] for s in again][-5:]}"


def _wait_state(page, i, before, timeout=5_000):
    """The scrubber state once its frame and live region have caught up with the slider."""
    page.wait_for_function(
        "([i, before]) => { const h = document.querySelectorAll('.widget-slider .noUi-handle')[i];"
        " const box = h.closest('.microdnb-scrubber'); const st = box && box.querySelector('[role=status]');"
        " return Number(h.getAttribute('aria-valuenow')) !== before.now && (!box ||"
        " (st && st.textContent && st.textContent !== before.status)); }", arg=[i, before], timeout=timeout)
    page.wait_for_timeout(50)
    return page.evaluate(SCRUBBER_STATE_JS, i)


def check_keyboard_alone_drives_the_widgets(page, page_name, html):
    """Tab from the top through the whole page: every slider is reached, each stop visible,
    ringed and in document order. Then, by keyboard alone, on every scrubber slider:
    ArrowRight, End and Home move the value, and the readout (checked against the values
    saved in the widget state), aria-valuetext, the frame (src and alt) and the live
    region follow. Returns the number of sliders."""
    n_sliders = page.locator(".widget-slider .noUi-handle").count()
    n_explorers = page.locator("div.microdnb-explorer, div.microdnb-lookthrough").count()
    stops = tab_walk(page, page_name)
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
        # keyboard only: focus the handle by Tab (the walk reached it), then the arrow keys
        tab_to(page, page_name, stops, next(s for s in stops if s["slider"] == i))
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
        _drive_explorer(page, page_name, stops)
    return n_sliders


def _drive_explorer(page, page_name, stops):
    """The first value control (a range, number, select, slider or radio) of the page's first
    view running the model (an explorer or a look-through), reached by Tab, reacts to the arrow
    keys: what the view says (its text) changes."""
    target = next((s for s in stops if s["explorer"] and s["valueControl"]), None)
    assert target, f"{page_name}: Tab reaches no value control in the explorer"
    tab_to(page, page_name, stops, target)
    before = page.evaluate("() => document.activeElement.closest('.microdnb-explorer, .microdnb-lookthrough').textContent")
    for key in ("ArrowRight", "ArrowUp", "ArrowDown"):
        page.keyboard.press(key)
        page.wait_for_timeout(300)
        after = page.evaluate("() => document.activeElement.closest('.microdnb-explorer, .microdnb-lookthrough').textContent")
        if after != before:
            return
    pytest.fail(f"{page_name}: the arrow keys on the explorer's first control changed nothing")


def check_sliders_change_the_frame(page, page_name, n_sliders, request):
    """Each widget slider, moved step by step (up to MAX_STEPS_PER_SLIDER), changes the
    visible frame within 5 s; the keydown-to-painted-frame latencies go to the report."""
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
        request.node.user_properties.append(("latency", {"page": page_name, "rows": rows}))

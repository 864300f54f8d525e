"""The JavaScript the site test (test_site_pages.py) runs in the built book's pages: waits,
axe-core, measurements of what a reader sees and hears, and the focus recorder of the
keyboard walk."""

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


WIDGETS_RENDERED_JS = """
() => {
  const n = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
  const done = Array.from(document.querySelectorAll('.widget-subarea')).filter((d) => d.childElementCount > 0).length;
  return done >= n;
}
"""


# The in-page views register themselves: the explorers (div.microdnb-explorer) in
# window.microdnb.explorers, the look-throughs (div.microdnb-lookthrough) in window.microdnb.lookthroughs.
EXPLORERS_READY_JS = """
() => [['div.microdnb-explorer', 'explorers'], ['div.microdnb-lookthrough', 'lookthroughs']].every(([sel, kind]) => {
  const roots = document.querySelectorAll(sel).length;
  if (!roots) return true;
  const e = window.microdnb && window.microdnb[kind];
  return !!e && e.length >= roots;
})
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


# Text in the widgets, explorers and trainers against the background it is drawn on (the nearest
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
  for (const root of document.querySelectorAll('.jupyter-widgets, .microdnb-explorer, .microdnb-lookthrough, .microdnb-trainer')) {
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


# A record of every keyboard focus stop, kept by the page itself so that a walk of many Tab
# presses needs no round trip per press: on each focusin, where the element is in document
# order, whether it (and its focus ring) can be seen, and the ring's contrast against what
# is behind it, computed at that moment; `tab` is the number of Tab presses so far.
FOCUS_RECORDER_JS = """
() => {
  if (window.__focusLog) return;
  const log = window.__focusLog = {tabs: 0, stops: []};
  document.addEventListener('keydown', (e) => { if (e.key === 'Tab') log.tabs++; }, true);
  const describe = (el) => {
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
    return {tab: log.tabs,
      order: all.indexOf(el),
      desc: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
            (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.') : '') +
            ' "' + (el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40) + '"',
      visible: r.width > 0 && r.height > 0 && opacity > 0.5 && cs.visibility !== 'hidden',
      outline: outlineW, ringContrast: ring ? ratio(ring, bg) : 0,
      slider: el.matches('.widget-slider .noUi-handle') ?
              Array.from(document.querySelectorAll('.widget-slider .noUi-handle')).indexOf(el) : -1,
      explorer: el.closest('.microdnb-explorer, .microdnb-lookthrough') !== null,   // a view running the model
      valueControl: el.matches('input[type=range], input[type=number], select, [role=slider], [role=spinbutton], input[type=radio]'),
      skip: /skip/i.test(el.textContent || '') && (el.getAttribute('href') || '').startsWith('#'),
    };
  };
  document.addEventListener('focusin', () => {
    const el = document.activeElement;
    if (el && el !== document.body && el !== document.documentElement) log.stops.push(describe(el));
  }, true);
}
"""

# The stops recorded since the `from`-th (and the recorder's Tab count); reset=true starts anew.
READ_FOCUS_JS = """
([from, reset]) => {
  const log = window.__focusLog;
  const out = {tabs: log.tabs, stops: log.stops.slice(from)};
  if (reset) { log.tabs = 0; log.stops.length = 0; }
  return out;
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

// microdnb's explorer, its rendering: from the state (explorer_state.js) to the page. A redraw
// decodes again if the decode's settings changed, writes each control's value and readout,
// and puts each view's HTML (explorer_views.js) into its section, changing only what differs:
// an equal write still costs style and layout, which is most of a redraw's cost.

import { decode, gateValue, startId } from './engine.js';
import { shownSections } from './explorer_markup.js';
import { decodeSettings, promptError } from './explorer_state.js';
import { tokenText } from './text.js';
import { attentionHTML, deltaHTML, distributionHTML, namesHTML, stepContext, summaryText, timelineHTML }
  from './explorer_views.js';

const VIEWS = { names: namesHTML, timeline: timelineHTML, attn: attentionHTML, dist: distributionHTML, delta: deltaHTML };

// Make el's children match `html`, changing as little as possible: nodes of the same kind
// are updated in place (text, attributes), others replaced.
function morph(el, html, tpl) {
  tpl.innerHTML = html;
  patch(el, tpl.content);
}
function patch(a, b) { // b's nodes come from a throw-away template: they may be moved, not cloned
  let x = a.firstChild, y = b.firstChild;
  while (y) {
    const nextY = y.nextSibling;
    if (!x) a.appendChild(y);
    else if (x.nodeType !== y.nodeType || x.localName !== y.localName) {
      const nextX = x.nextSibling;
      a.replaceChild(y, x);
      x = nextX;
    } else {
      if (x.nodeType === 3) { if (x.data !== y.data) x.data = y.data; }
      else {
        const ya = y.attributes, xa = x.attributes;
        for (let j = 0; j < ya.length; j++) {
          const { name, value } = ya[j];
          if (x.getAttribute(name) !== value) x.setAttribute(name, value);
        }
        if (xa.length !== ya.length) { // (live: counts what was just set)
          for (let j = xa.length; j--;) if (!y.hasAttribute(xa[j].name)) x.removeAttribute(xa[j].name);
        }
        if (y.firstChild || x.firstChild) patch(x, y);
      }
      x = x.nextSibling;
    }
    y = nextY;
  }
  while (x) { const nextX = x.nextSibling; a.removeChild(x); x = nextX; }
}

const setText = (el, t) => { if (el.textContent !== t) el.textContent = t; };
const setAttr = (el, a, v) => { if (el.getAttribute(a) !== v) el.setAttribute(a, v); };
const setProp = (el, p, v) => { if (el[p] !== v) el[p] = v; };

// The elements a redraw writes, found once in the explorer's markup (explorerHTML; u: its id
// prefix; show: the parts it was built with): a control or view that is not shown is null
// (ctl) or absent (views)
export function pageParts(ui, u, show) {
  const all = k => [...ui.querySelectorAll(`[data-k="${k}"]`)];
  return {
    ctl: Object.fromEntries(['gate', 'cadence', 'lag', 'streams', 'temperature', 'seed', 'stream', 'pos', 'trained', 'nonotes']
      .map(k => [k, ui.querySelector(`[data-k="${k}"]`)])),
    val: Object.fromEntries(['gate', 'cadence', 'lag', 'temperature', 'pos'].map(k => [k, ui.querySelector(`#${u}-${k}-val`)])),
    starts: all('start'), prompts: all('prompt'), rows: [...ui.querySelectorAll('[data-stream-row]')],
    promptMsg: all('prompt').map((_, s) => ui.querySelector(`#${u}-prompt${s}-msg`)),
    seedMsg: ui.querySelector(`#${u}-seed-msg`),
    views: Object.fromEntries(shownSections(show).map(([k]) => [k, ui.querySelector(`.mdx-v-${k} .mdx-body`)])),
    live: ui.querySelector('[role=status]'),
  };
}

// The seed box after an input: flagged, with the range, if the state refused it
export function showSeedCheck(parts, ok, R) {
  if (ok) parts.ctl.seed.removeAttribute('aria-invalid'); else parts.ctl.seed.setAttribute('aria-invalid', 'true');
  parts.seedMsg.textContent = ok ? 'of the random draws' : `ignored: a whole number from ${R.seed[0]} to ${R.seed[1]}`;
}

// Every control's value and readout as the state says (a box being typed in is left alone)
function showControls({ ctl, val, starts, prompts, rows, promptMsg }, st, model, trained) {
  const g = st.gate;
  const gateText = g === null ? `as trained, ${trained.toFixed(3)}` : g === 0 ? '0: no notes, the trunk alone' : g.toFixed(2);
  for (const [k, v, t] of [['gate', null, gateText], ['cadence', st.cadence, `every ${st.cadence} position${st.cadence > 1 ? 's' : ''}`],
    ['lag', st.lag, st.lag === 0 ? '0: readable in the same round' : `${st.lag} round${st.lag > 1 ? 's' : ''}`],
    ['temperature', st.temperature, String(st.temperature)]]) {
    if (!ctl[k]) continue; // not shown (the gate, in an explorer built without it)
    if (v !== null) setProp(ctl[k], 'value', String(v));
    setAttr(ctl[k], 'aria-valuetext', t);
    setText(val[k], t);
  }
  if (ctl.gate) {
    setProp(ctl.gate, 'value', g === null ? String(Math.round(trained * 100) / 100) : String(g));
    setAttr(ctl.trained, 'aria-pressed', String(g === null));
    setAttr(ctl.nonotes, 'aria-pressed', String(g === 0));
  }
  setProp(ctl.streams, 'value', String(st.streams));
  if (ctl.seed !== document.activeElement) setProp(ctl.seed, 'value', st.seed);
  rows.forEach((el, s) => setAttr(el, 'data-off', String(s >= st.streams)));
  starts.forEach((el, s) => {
    setProp(el, 'disabled', s >= st.streams);
    setProp(el, 'value', st.starts[s]);
  });
  prompts.forEach((el, s) => {
    setProp(el, 'disabled', s >= st.streams);
    if (el !== document.activeElement) setProp(el, 'value', st.prompts[s]);
    const err = promptError(model, st.prompts[s]);
    if (err) setAttr(el, 'aria-invalid', 'true'); else el.removeAttribute('aria-invalid');
    setText(promptMsg[s], err ? `ignored: ${err}` : '');
  });
}

// The step controls (stream, position) and the position's readout for the step shown
function showStep({ ctl, val }, st, model, res, step) {
  [...ctl.stream.options].forEach((o, s) => setProp(o, 'disabled', s >= st.streams));
  setProp(ctl.stream, 'value', String(step.stream));
  setProp(ctl.pos, 'max', String(step.last));
  setProp(ctl.pos, 'value', String(step.pos));
  const input = step.pos ? res.events.find(e => e.stream === step.stream && e.pos === step.pos - 1).token
    : startId(model, res.starts[step.stream]);
  const text = `${step.pos} (0 to ${step.last}): after ${input === model.BOS ? 'the start' : tokenText(model, input)}, ` +
    `${step.ev.forced ? 'the prompt gives' : 'draws'} ${tokenText(model, step.ev.token)}`;
  setAttr(ctl.pos, 'aria-valuetext', text);
  setText(val.pos, text);
}

// A redraw for one explorer: draw(st) shows the state and returns {res: the decode shown,
// step: the step shown}. It decodes only when the decode's settings change; the live region
// is updated once the reader pauses, not on every step of a slider. Only the views of
// parts.views (those shown) are drawn.
export function renderer(parts, model, colors, show) {
  const trained = gateValue(model), drawn = {}, tpl = document.createElement('template');
  let res = null, lastKey = '', liveTimer = 0;
  return st => {
    const settings = decodeSettings(model, st), key = JSON.stringify(settings);
    if (key !== lastKey) { res = decode(model, settings); lastKey = key; }
    const step = stepContext(res, st.stream, st.pos), v = { model, res, step, colors, settings, show };
    showControls(parts, st, model, trained);
    showStep(parts, st, model, res, step);
    for (const k of Object.keys(parts.views)) {
      const html = VIEWS[k](v);
      if (drawn[k] !== html) { morph(parts.views[k], html, tpl); drawn[k] = html; } // an unchanged view is left alone
    }
    clearTimeout(liveTimer);
    const say = summaryText(v);
    liveTimer = setTimeout(() => { parts.live.textContent = say; }, 350);
    return { res, step };
  };
}

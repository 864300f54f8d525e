// microdnb's explorer: the model runs in the reader's page, and every control change decodes
// again and redraws the views (explorer_views.js) with engine.js. The Python side
// (microdnb/figures/explorer.py) writes one self-contained HTML output per explorer: a root
// <div class="microdnb-explorer" data-microdnb-explorer="ID"> holding its CSS, the model as
// JSON (weights as base64 float64) and a static fallback, then one inline module script with
// engine.js, explorer_views.js and this file wrapped in functions, ending in mount("ID").
//
// The JavaScript entry point, for tests and for curious readers in the browser console:
//
//   window.microdnb.explorers       the page's explorers, in page order (a fresh array on
//                                   each read; explorers whose output was removed drop out)
//   const x = window.microdnb.explorers[0];
//   x.checkpoint()                  the model as the JSON text save_checkpoint writes, byte for
//                                   byte (JSON.parse it for the object; save it as a file for
//                                   `python -m microdnb sample --checkpoint FILE ...`)
//   x.decode(settings)              engine.js decode on this model: {texts, tokens, events, ...}
//                                   for one group of streams; settings = {gate, cadence, lag,
//                                   streams, temperature, seed, prompts, starts}, each optional
//                                   (gate null: as trained; defaults: the checkpoint's bus,
//                                   temperature 0.5, seed 42; prompts: per stream a string or
//                                   null, padded with null; starts: per stream null or the one
//                                   letter it starts from instead of the start token, padded
//                                   with null; seed: a Number or a string of digits); texts
//                                   begin with the start letter and the prompt
//   x.settings()                    what the controls show now (same keys, plus stream, pos:
//                                   the selected step; prompts and starts as strings, '' = none)
//   x.set(partial)                  change controls (same keys; a list of prompts or starts
//                                   sets every stream's, '' or null = none) and redraw; a
//                                   value the controls cannot hold throws, and nothing changes
//   x.shown                         the decode on screen; x.renders: redraws so far
//   x.model, x.engine, x.views      the loaded model, engine.js's functions, two of the views'
//                                   (sequentialPasses(x.shown, x.settings()), stepContext)
//
// Two explorers on one page share nothing but window.microdnb.explorers: each output is its
// own module script with its own copy of the code and the model.

import { busRead, decode, forward, gateValue, loadCheckpoint, paramShapes, sampleSingle, startId } from './engine.js';
import { PyRandom } from './pyrandom.js';
import { attentionHTML, deltaHTML, distributionHTML, esc, namesHTML, sequentialPasses, stepContext, summaryText, timelineHTML, tokenText }
  from './explorer_views.js';

const ENGINE = { PyRandom, busRead, decode, forward, gateValue, loadCheckpoint, paramShapes, sampleSingle, startId };
const VIEWS = { sequentialPasses, stepContext };

// Python's repr() of a float: the shortest digits that round-trip (what toExponential() with
// no argument gives, as repr does) in repr's layout: exponent form when the decimal point
// sits more than 16 digits right or 4 left of the first digit, else fixed with at least '.0'.
export function pyFloat(x) {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [m, e] = x.toExponential().split('e');
  const sign = m[0] === '-' ? '-' : '', digits = m.replace(/^-/, '').replace('.', ''), exp = Number(e);
  const point = exp + 1; // digits d1 d2 ... = 0.d1d2... x 10^point
  if (point < -3 || point > 16) {
    return `${sign}${digits[0]}${digits.length > 1 ? '.' + digits.slice(1) : ''}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

// base64 of little-endian float64s -> Float64Array, bit for bit
function floats(b64) {
  const bin = atob(b64), view = new DataView(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
  return Float64Array.from({ length: bin.length / 8 }, (_, i) => view.getFloat64(8 * i, true));
}

// The payload Python wrote -> {doc (the checkpoint object), text () => its JSON text}
function unpack(data) {
  const values = floats(data.params), doc = JSON.parse(data.head + '{}}'), rows = {};
  let at = 0;
  for (const [name, r, c] of data.layout) {
    rows[name] = Array.from({ length: r }, () => Array.from(values.subarray(at, (at += c))));
  }
  if (at !== values.length) throw new Error(`the embedded weights hold ${values.length} numbers, the layout ${at}`);
  doc.params = rows;
  const text = () => data.head + '{' + data.layout.map(([name]) => JSON.stringify(name) + ': [' +
    rows[name].map(r => '[' + r.map(pyFloat).join(', ') + ']').join(', ') + ']').join(', ') + '}}';
  return { doc, text };
}

// Make el's children match `html`, changing as little as possible: nodes of the same kind
// are updated in place (text, attributes), others replaced. A redraw then restyles and lays
// out only what changed, which is most of its cost.
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

const registry = () => {
  const reg = (window.microdnb = window.microdnb || {});
  if (!reg._explorers) {
    reg._explorers = [];
    const inOrder = () => reg._explorers.filter(x => x.root.isConnected)
      .sort((a, b) => (a.root.compareDocumentPosition(b.root) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    Object.defineProperty(reg, 'explorers', { get: inOrder, enumerable: true, configurable: true });
    reg.nextId = 0;
  }
  return reg;
};

// The controls, in Tab order; ids are page-unique (u = this explorer's prefix)
function controlsHTML(u, model, R) {
  const range = (k, label, [lo, hi], step, hint = '') => `<div class="mdx-row"><label for="${u}-${k}">${label}</label>` +
    `<input type="range" id="${u}-${k}" data-k="${k}" min="${lo}" max="${hi}" step="${step}"${hint ? ` aria-describedby="${u}-${k}-hint"` : ''}>` +
    `<span class="mdx-val" id="${u}-${k}-val"></span>${hint ? `<span class="mdx-hint" id="${u}-${k}-hint">${hint}</span>` : ''}</div>`;
  // per stream, one row: its start letter and its prompt (the letters it is given to write first). All
  // R.streams[1] rows are always there (beyond the streams in use: disabled), so changing the
  // number of streams moves no control on the page.
  const letters = model.uchars.map((ch, i) => `<option value="${esc(ch)}">${esc(tokenText(model, i))}</option>`).join('');
  const perStream = `<div class="mdx-streams"><div class="mdx-srow mdx-shead" aria-hidden="true"><span></span>` +
    `<span>start letter</span><span>prompt</span></div>` +
    Array.from({ length: R.streams[1] }, (_, s) => `<div class="mdx-srow" data-stream-row="${s}">` +
      `<span class="mdx-sname">Stream ${s}</span>` +
      `<label class="mdx-sr" for="${u}-start${s}">Stream ${s} start letter</label><select id="${u}-start${s}" ` +
      `data-k="start" data-s="${s}" aria-describedby="${u}-start-hint"><option value="">none</option>${letters}</select>` +
      `<label class="mdx-sr" for="${u}-prompt${s}">Stream ${s} prompt</label><input type="text" id="${u}-prompt${s}" ` +
      `data-k="prompt" data-s="${s}" maxlength="${model.cfg.block_size - 1}" autocomplete="off" spellcheck="false" ` +
      `aria-describedby="${u}-prompt${s}-msg"><span class="mdx-hint" id="${u}-prompt${s}-msg"></span></div>`).join('') +
    `<p class="mdx-hint" id="${u}-start-hint">Start letter: the letter a stream starts from instead of the start ` +
    `token, its input at position 0 and its plan seed's (the copy task's leader is given its name's first letter). ` +
    `Prompt: letters it is made to write first, without a draw.</p></div>`;
  return `<div class="mdx-controls">` +
    `<fieldset><legend>Notes</legend>${range('gate', 'SNC gate', R.gate, 0.01, 'multiplies what SNC adds; 0 = the trunk alone')}` +
    `<div class="mdx-row mdx-buttons"><button type="button" data-k="trained">As trained</button>` +
    `<button type="button" data-k="nonotes">No notes (gate 0)</button></div>` +
    range('cadence', 'Cadence', R.cadence, 1, 'a stream posts a note after every this many positions') +
    range('lag', 'Lag', R.lag, 1, 'rounds before a posted note is readable') + '</fieldset>' +
    `<fieldset><legend>Decoding</legend><div class="mdx-row"><label for="${u}-streams">Streams</label>` +
    `<select id="${u}-streams" data-k="streams">` +
    Array.from({ length: R.streams[1] - R.streams[0] + 1 }, (_, i) => `<option>${R.streams[0] + i}</option>`).join('') +
    `</select></div>${range('temperature', 'Temperature', R.temperature, 0.05, 'lower: more likely letters')}` +
    `<div class="mdx-row"><label for="${u}-seed">Seed</label><input type="number" id="${u}-seed" data-k="seed" ` +
    `min="${R.seed[0]}" max="${R.seed[1]}" step="1" inputmode="numeric" aria-describedby="${u}-seed-msg">` +
    `<span class="mdx-hint" id="${u}-seed-msg">of the random draws</span></div>${perStream}</fieldset>` +
    `<fieldset><legend>Look at one step</legend><div class="mdx-row"><label for="${u}-stream">Stream</label>` +
    `<select id="${u}-stream" data-k="stream">` +
    Array.from({ length: R.streams[1] }, (_, s) => `<option value="${s}">stream ${s}</option>`).join('') + '</select></div>' +
    range('pos', 'Position', [0, model.cfg.block_size - 1], 1, 'or click a cell of the timeline') + '</fieldset></div>';
}

const SECTIONS = [['names', 'Names'], ['timeline', 'The parallel decode'], ['attn', 'SNC attention over the bus'],
  ['dist', 'Next character: with notes and without'], ['delta', 'How much the notes change the residual']];

export function mount(id) {
  const root = [...document.querySelectorAll(`div.microdnb-explorer[data-microdnb-explorer="${id}"]`)]
    .find(r => !r.hasAttribute('data-microdnb-ready'));
  if (!root) return null;
  root.setAttribute('data-microdnb-ready', '');
  const dataEl = root.querySelector('script.mdx-data'), data = JSON.parse(dataEl.textContent);
  dataEl.remove();
  const packed = unpack(data), model = loadCheckpoint(packed.doc), R = data.ranges, colors = data.colors;
  const trained = gateValue(model), reg = registry(), u = `mdx${++reg.nextId}`;
  let text = null; // the checkpoint's JSON text, made on first request
  const st = { ...data.settings, prompts: [...data.settings.prompts], starts: [...data.settings.starts] };
  while (st.prompts.length < R.streams[1]) st.prompts.push('');
  while (st.starts.length < R.streams[1]) st.starts.push('');
  st.seed = String(st.seed);

  const ui = document.createElement('div');
  ui.className = 'mdx-ui';
  ui.innerHTML = `<p class="mdx-lead"><strong>${esc(data.title)}</strong> <span>The model runs in this page: ` +
    `change a control and it decodes again.</span></p>${controlsHTML(u, model, R)}<div class="mdx-views">` +
    SECTIONS.map(([k, t]) => `<section class="mdx-v-${k}" aria-labelledby="${u}-h-${k}"><h4 id="${u}-h-${k}">${t}</h4>` +
      `<div class="mdx-body"${model.cfg.block_size > 24 && k !== 'names' ? ` tabindex="0" role="region" aria-label="${t}"` : ''}></div></section>`).join('') +
    `</div><div class="mdx-sr" role="status" aria-live="polite" aria-atomic="true"></div>`;
  const $ = k => ui.querySelector(`[data-k="${k}"]`), body = k => ui.querySelector(`.mdx-v-${k} .mdx-body`);
  const ctl = Object.fromEntries(['gate', 'cadence', 'lag', 'streams', 'temperature', 'seed', 'stream', 'pos', 'trained', 'nonotes']
    .map(k => [k, $(k)]));
  const startEls = [...ui.querySelectorAll('[data-k="start"]')], rowEls = [...ui.querySelectorAll('[data-stream-row]')];
  const promptEls = [...ui.querySelectorAll('[data-k="prompt"]')], live = ui.querySelector('[role=status]');
  const views = Object.fromEntries(SECTIONS.map(([k]) => [k, body(k)]));
  const val = Object.fromEntries(['gate', 'cadence', 'lag', 'temperature', 'pos'].map(k => [k, ui.querySelector(`#${u}-${k}-val`)]));
  const api = { root, id, title: data.title, model, engine: ENGINE, views: VIEWS, renders: 0, shown: null, lastRenderMs: 0 };

  // what the decode may use: a prompt with a character outside the vocabulary, or too long, is left out
  const promptError = p => {
    const bad = [...p].find(ch => !model.uchars.includes(ch));
    if (bad !== undefined) return `"${bad}" is not in the vocabulary (${model.uchars.join('')})`;
    return [...p].length >= model.cfg.block_size ? `at most ${model.cfg.block_size - 1} letters` : '';
  };
  const decodeSettings = () => ({ gate: st.gate, cadence: st.cadence, lag: st.lag, streams: st.streams,
    temperature: st.temperature, seed: st.seed,
    prompts: st.prompts.slice(0, st.streams).map(p => (p && !promptError(p) ? p : null)),
    starts: st.starts.slice(0, st.streams).map(c => c || null) });

  // write to the page only what changed: an equal write still costs style and layout
  const setText = (el, t) => { if (el.textContent !== t) el.textContent = t; };
  const setAttr = (el, a, v) => { if (el.getAttribute(a) !== v) el.setAttribute(a, v); };
  const setProp = (el, p, v) => { if (el[p] !== v) el[p] = v; };
  const promptMsg = promptEls.map((_, s) => ui.querySelector(`#${u}-prompt${s}-msg`));
  const readouts = () => {
    const g = st.gate;
    setProp(ctl.gate, 'value', g === null ? String(Math.round(trained * 100) / 100) : String(g));
    const gateText = g === null ? `as trained, ${trained.toFixed(3)}` : g === 0 ? '0: no notes, the trunk alone' : g.toFixed(2);
    for (const [k, v, t] of [['gate', null, gateText], ['cadence', st.cadence, `every ${st.cadence} position${st.cadence > 1 ? 's' : ''}`],
      ['lag', st.lag, st.lag === 0 ? '0: readable in the same round' : `${st.lag} round${st.lag > 1 ? 's' : ''}`],
      ['temperature', st.temperature, String(st.temperature)]]) {
      if (v !== null) setProp(ctl[k], 'value', String(v));
      setAttr(ctl[k], 'aria-valuetext', t);
      setText(val[k], t);
    }
    setAttr(ctl.trained, 'aria-pressed', String(g === null));
    setAttr(ctl.nonotes, 'aria-pressed', String(g === 0));
    setProp(ctl.streams, 'value', String(st.streams));
    if (ctl.seed !== document.activeElement) setProp(ctl.seed, 'value', st.seed);
    rowEls.forEach((el, s) => setAttr(el, 'data-off', String(s >= st.streams)));
    startEls.forEach((el, s) => {
      setProp(el, 'disabled', s >= st.streams);
      setProp(el, 'value', st.starts[s]);
    });
    promptEls.forEach((el, s) => {
      setProp(el, 'disabled', s >= st.streams);
      if (el !== document.activeElement) setProp(el, 'value', st.prompts[s]);
      const err = promptError(st.prompts[s]);
      if (err) setAttr(el, 'aria-invalid', 'true'); else el.removeAttribute('aria-invalid');
      setText(promptMsg[s], err ? `ignored: ${err}` : '');
    });
  };

  let pending = false, liveTimer = 0, lastKey = '';
  const drawn = {}, tpl = document.createElement('template');
  const draw = () => {
    pending = false;
    const t0 = performance.now(), settings = decodeSettings(), k = JSON.stringify(settings);
    if (k !== lastKey) { api.shown = decode(model, settings); lastKey = k; }
    const res = api.shown;
    const step = (api.step = stepContext(res, st.stream, st.pos)), v = { model, res, step, colors, settings };
    readouts();
    [...ctl.stream.options].forEach((o, s) => setProp(o, 'disabled', s >= st.streams));
    setProp(ctl.stream, 'value', String(step.stream));
    setProp(ctl.pos, 'max', String(step.last));
    setProp(ctl.pos, 'value', String(step.pos));
    const t = step.ev;
    const input = step.pos ? res.events.find(e => e.stream === step.stream && e.pos === step.pos - 1).token
      : startId(model, res.starts[step.stream]);
    const posText = `${step.pos} (0 to ${step.last}): after ${input === model.BOS ? 'the start' : tokenText(model, input)}, ` +
      `${t.forced ? 'the prompt gives' : 'draws'} ${tokenText(model, t.token)}`;
    setAttr(ctl.pos, 'aria-valuetext', posText);
    setText(val.pos, posText);
    for (const [k, html] of [['names', namesHTML(v)], ['timeline', timelineHTML(v)], ['attn', attentionHTML(v)],
      ['dist', distributionHTML(v)], ['delta', deltaHTML(v)]]) {
      if (drawn[k] !== html) { morph(views[k], html, tpl); drawn[k] = html; } // an unchanged view is left alone
    }
    clearTimeout(liveTimer); // announce once the reader pauses, not on every step of a slider
    const say = summaryText(v);
    liveTimer = setTimeout(() => { live.textContent = say; }, 350);
    api.renders++;
    api.lastRenderMs = performance.now() - t0;
  };
  // A change is drawn at once, while the page waits for its next frame anyway, so that frame
  // paints it; further changes before that frame (a key held down) are drawn once, at its start.
  let booked = false;
  const frame = () => { booked = false; if (pending) draw(); };
  const schedule = () => {
    if (booked) { pending = true; return; }
    booked = true;
    requestAnimationFrame(frame);
    draw();
  };

  const onInput = ev => {
    const el = ev.target, k = el.dataset && el.dataset.k;
    if (!k) return;
    if (k === 'gate') st.gate = Number(el.value);
    else if (k === 'cadence' || k === 'lag' || k === 'streams') st[k] = Number(el.value);
    else if (k === 'temperature') st.temperature = Number(el.value);
    else if (k === 'seed') {
      const ok = /^\d+$/.test(el.value) && BigInt(el.value) >= BigInt(R.seed[0]) && BigInt(el.value) <= BigInt(R.seed[1]);
      if (ok) { st.seed = String(BigInt(el.value)); el.removeAttribute('aria-invalid'); } else el.setAttribute('aria-invalid', 'true');
      ui.querySelector(`#${u}-seed-msg`).textContent = ok ? 'of the random draws' : `ignored: a whole number from ${R.seed[0]} to ${R.seed[1]}`;
    } else if (k === 'prompt') st.prompts[Number(el.dataset.s)] = el.value;
    else if (k === 'start') st.starts[Number(el.dataset.s)] = el.value;
    else if (k === 'stream') st.stream = Number(el.value);
    else if (k === 'pos') st.pos = Number(el.value);
    else return;
    schedule();
  };
  ui.addEventListener('input', onInput);
  ui.addEventListener('change', onInput);
  ctl.trained.addEventListener('click', () => { st.gate = null; schedule(); });
  ctl.nonotes.addEventListener('click', () => { st.gate = 0; schedule(); });
  views.timeline.addEventListener('click', ev => {
    const cell = ev.target.closest('td[data-s]');
    if (!cell) return;
    st.stream = Number(cell.dataset.s);
    st.pos = Number(cell.dataset.p);
    schedule();
  });

  const streamsOf = s => s.streams ?? (model.bus && model.bus.n_streams) ?? 2;
  // x.set's values, as the controls hold them; anything else throws, naming the setting
  const within = (k, v, [lo, hi], int) => {
    if (typeof v !== 'number' || !(v >= lo && v <= hi) || (int && !Number.isInteger(v))) {
      throw new Error(`${k} must be ${int ? 'an integer' : 'a number'} in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const perStream = (k, v, ok, what) => {
    if (v !== null && !Array.isArray(v)) throw new Error(`${k} must be null or a list, one entry per stream`);
    const out = Array.from({ length: R.streams[1] }, (_, s) => (v && v[s]) || '');
    const bad = out.find(x => typeof x !== 'string' || (x && !ok(x)));
    if (bad !== undefined) throw new Error(`${k}: ${JSON.stringify(bad)} is not ${what}`);
    return out;
  };
  const checkSetting = (k, v) => {
    if (k === 'gate') return v === null ? null : within(k, v, R.gate, false);
    if (k === 'cadence' || k === 'lag' || k === 'streams') return within(k, v, R[k], true);
    if (k === 'temperature') return within(k, v, R.temperature, false);
    if (k === 'seed') {
      const t = String(v);
      if (!/^\d+$/.test(t) || BigInt(t) > BigInt(R.seed[1])) throw new Error(`seed must be a whole number from 0 to ${R.seed[1]}`);
      return String(BigInt(t));
    }
    if (k === 'stream') return within(k, v, [0, R.streams[1] - 1], true);
    if (k === 'pos') return within(k, v, [0, model.cfg.block_size - 1], true);
    if (k === 'prompts') return perStream(k, v, () => true, 'a string'); // a bad one is shown, flagged and left out
    if (k === 'starts') return perStream(k, v, c => startId(model, c) >= 0, 'one character of the vocabulary');
    throw new Error(`unknown setting ${k}; the settings are gate, cadence, lag, streams, temperature, seed, prompts, starts, stream, pos`);
  };
  Object.assign(api, {
    checkpoint: () => (text ??= packed.text()),
    decode(settings = {}) {
      const s = { ...settings };
      for (const k of ['prompts', 'starts']) { // shorter lists are padded: null = none
        if (Array.isArray(s[k])) s[k] = Array.from({ length: streamsOf(s) }, (_, i) => s[k][i] || null);
      }
      return decode(model, s);
    },
    settings: () => ({ ...st, prompts: st.prompts.slice(0, st.streams), starts: st.starts.slice(0, st.streams),
      stream: api.step.stream, pos: api.step.pos }),
    set(partial) {
      const checked = Object.entries(partial).map(([k, v]) => [k, checkSetting(k, v)]); // all, before any change
      for (const [k, v] of checked) st[k] = v;
      schedule();
    },
  });
  draw(); // then the UI replaces the static fallback (which stays if anything above failed)
  const fallback = root.querySelector('.mdx-fallback');
  if (fallback) fallback.replaceWith(ui); else root.append(ui);
  reg._explorers.push(api);
  return api;
}

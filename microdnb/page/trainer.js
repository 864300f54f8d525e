// microdnb's trainer: the reader presses Train and watches the model learn, in the page. The
// Python side (microdnb/page/trainer.py) writes one self-contained HTML output per trainer: a
// root <div class="microdnb-trainer" data-microdnb-trainer="ID"> holding its CSS, its payload
// (the controls a chapter offers, the run the chapter computed in Python, the names gzipped
// for train.js's specFrom) and a static fallback, then one inline module script with the
// page's modules wrapped in functions (inline.py), ending in mount("ID"). Training runs in a
// Web Worker (worker.js runTrainer: built from the same inline code, no file, no network), which
// posts batches of steps about every 16 ms; the curve is drawn on requestAnimationFrame, so
// the page never stutters, and Stop ends the run at any step.
//
// The JavaScript entry point, for tests and for curious readers in the browser console:
//
//   window.microdnb.trainers        the page's trainers, in page order (a fresh array on each
//                                   read; trainers whose output was removed drop out)
//   const t = window.microdnb.trainers[0];
//   t.replicate({seed, steps, sncSteps})
//                                   Promise of {lines}: the lines `python -m microdnb replicate
//                                   --engine numpy --seed S --steps N --snc-steps M` prints
//                                   (defaults 42, 1000, 300), computed in this page, in a
//                                   worker of its own (worker.js trainerContract)
//   t.train(settings)               Promise of {checkpoint, log}: a run in the worker with the
//                                   controls' settings changed by `settings` (its keys: the
//                                   payload's controls, t.controls, train.js's names: seed,
//                                   steps, learningRate (chapter 4); cadence, lag, streams,
//                                   gateInit (9); gateInit, sncSteps (13); each value checked
//                                   against the control's extent, an Error naming it); the
//                                   chapter fixes the other settings (t.fixed). The curve,
//                                   numbers and samples follow it (chapter 4: three names of the
//                                   model every 100 steps, then ten; t.samples, the names shown).
//                                   checkpoint: the checkpoint
//                                   file's text (engine.js checkpointText); log: one record per
//                                   step {phase, step, num_steps, loss, lr, gate (phase 2)},
//                                   both phases (the curve shows the chapter's: t.phase).
//                                   A run started while one runs stops that one first; a
//                                   stopped run's promise rejects with an Error named 'AbortError'
//   t.stop()                        stop the run now (also the Stop button)
//   t.settings()                    what the controls hold now
//   t.model                         the model last trained (engine.js model form), or null
//   t.log, t.running, t.curve       the running log, whether a run is on, the curve's data
//   t.explore()                     give the model last trained to the page's explorer (the
//                                   next one below, else the one above): its setModel
//   t.download()                    save the checkpoint as a file (a Blob download)
//
// Two trainers on one page share nothing but window.microdnb.trainers.

import { checkNumber, decode, loadCheckpoint, rangeOf, sampleSingle } from './engine.js';
import { esc } from './text.js';
import { registry, rootOf } from './payload.js';
import { specFrom } from './spec.js';
import { runTrainer, trainerContract } from './worker.js';
import { trainerHTML } from './trainer_markup.js';
import { Curve, curveSummary } from './trainer_view.js';

// A control's value, checked against its descriptor (the payload's extent, from config.LIMITS)
function checked(c, v) {
  if (c.type === 'select') {
    const hit = c.options.find(([value]) => String(value) === String(v));
    if (!hit) throw new Error(`${c.k} must be one of ${c.options.map(([value]) => value).join(', ')}, got ${JSON.stringify(v)}`);
    return typeof hit[0] === 'number' ? Number(v) : hit[0];
  }
  return checkNumber(c.k, typeof v === 'string' && v.trim() !== '' ? Number(v) : v, rangeOf(c.kind, c.min, c.max));
}

// How many steps a run of these settings takes: the sum of the settings the payload names
// (phase 1's steps, phase 2's snc_steps)
const stepsOf = (data, settings) => data.count.reduce((n, k) => n + settings[k], 0);

// The chapter's run to draw under the reader's: the one for these settings (the payload's
// reference.runs, one per value of reference.by; or just one)
const referenceFor = (data, settings) => {
  const { by, runs } = data.reference;
  return (runs.find(([v]) => by === null || Number(v) === Number(settings[by])) || runs[0])[1];
};

// The explorer that receives a trained model: the first one after `root` in the page, else
// the last one before it
function explorerNear(root) {
  const xs = (window.microdnb && window.microdnb.explorers) || [];
  const after = xs.find(x => root.compareDocumentPosition(x.root) & Node.DOCUMENT_POSITION_FOLLOWING);
  return after || xs[xs.length - 1] || null;
}

// Sample i of a model: a single name (phase 1), or a group of streams through the bus
function sampleOf(model, how, i) {
  if (how.kind === 'parallel') {
    return decode(model, { streams: how.streams, seed: i, temperature: 0.5 }).texts.map(t => t || '(empty)').join(' | ');
  }
  return sampleSingle(model, { seed: i }).text || '(empty)';
}

// The samples of a trained model, drawn in slices of at most ~8 ms (a 0 ms timeout between
// two: no task long enough to hold up the page, even while the engine's code is still cold).
// A call made while one draws waits for it, and only the latest of those is drawn. Resolves
// to the lines, or null if a later call took over.
function sampler(sliceMs = 8) {
  let busy = null, latest = 0;
  const draw = (model, how) => new Promise(resolve => {
    const lines = [];
    const slice = () => {
      const end = performance.now() + sliceMs;
      do lines.push(sampleOf(model, how, lines.length)); while (lines.length < how.count && performance.now() < end);
      if (lines.length < how.count) setTimeout(slice, 0); else resolve(lines);
    };
    setTimeout(slice, 0);
  });
  return async (model, how) => {
    const mine = ++latest;
    while (busy) await busy;
    if (mine !== latest) return null;
    busy = draw(model, how);
    try { return await busy; } finally { busy = null; }
  };
}

export function mount(id) {
  const taken = rootOf('trainer', id);
  if (!taken) return null;
  const { root, data } = taken;
  const reg = registry('trainers'), u = `mdt${++reg.nextId}`, byKey = Object.fromEntries(data.controls.map(c => [c.k, c]));
  const ui = document.createElement('div');
  ui.className = 'mdx-ui';
  ui.innerHTML = trainerHTML(u, data.title, data.lead, data.controls, data.explore);
  const q = k => ui.querySelector(`[data-k="${k}"]`), btn = { train: q('train'), stop: q('stop'), download: q('download'),
    explore: q('explore') };
  const canvas = ui.querySelector('canvas'), numbersEl = ui.querySelector('.mdx-numbers'), live = ui.querySelector('[role=status]');
  const samplesEl = q('samples'), keyEl = ui.querySelector('.mdx-key');
  const st = { ...data.settings };
  const allOf = s => ({ ...data.train.defaults, ...data.fixed, ...s }); // every setting of a run, as train.js fills them in
  const curve = new Curve(canvas, root);
  const spec = specFrom(data.train); // a Promise: the names are gunzipped (DecompressionStream)
  const api = { root, id, title: data.title, controls: data.controls.map(c => ({ ...c })), fixed: { ...data.fixed },
                phase: data.phase, curve, model: null, log: [], running: false, frames: 0 };
  let run = null, checkpoint = null, lastSaid = 0;
  const sample = sampler();

  const showControls = () => {
    for (const c of data.controls) {
      const el = q(c.k);
      if (el !== document.activeElement || c.type !== 'number') el.value = String(st[c.k]);
      const val = ui.querySelector(`#${u}-${c.k}-val`);
      if (val) val.textContent = String(st[c.k]);
    }
  };
  // The numbers beside the curve (their text only, each frame: no new elements), and with
  // `describe` the canvas's text alternative (at a reset, a stop, the end, and every 2 s)
  const showNumbers = describe => {
    const rows = curve.numbers(), dds = numbersEl.querySelectorAll('dd');
    if (dds.length !== rows.length) {
      numbersEl.innerHTML = rows.map(([t, v]) => `<div><dt>${esc(t)}</dt><dd>${esc(v)}</dd></div>`).join('');
    } else rows.forEach(([, v], i) => { if (dds[i].textContent !== v) dds[i].textContent = v; });
    if (describe) canvas.setAttribute('aria-label', curveSummary(curve, data.title));
  };
  // The samples: their text only, in elements made once (new elements as a run goes would wake
  // every observer of the page's DOM, which may read its layout: 20-50 ms on a chapter's page)
  const showSamples = (lines, label) => {
    api.samples = lines;
    let [hint, list] = samplesEl.children;
    if (!list) {
      samplesEl.innerHTML = '<p class="mdx-hint"></p><ul class="mdx-names"></ul>';
      [hint, list] = samplesEl.children;
    }
    hint.textContent = label;
    while (list.children.length > lines.length) list.lastElementChild.remove();
    while (list.children.length < lines.length) list.append(Object.assign(document.createElement('li'), { className: 'mdx-name' }));
    lines.forEach((l, i) => { if (list.children[i].textContent !== l) list.children[i].textContent = l; });
    list.hidden = !lines.some(l => l);
  };
  const say = text => { live.textContent = text; lastSaid = performance.now(); };
  const setRunning = on => {
    api.running = on;
    btn.train.disabled = on;
    btn.stop.disabled = !on;
    btn.download.disabled = on || !checkpoint;
    if (btn.explore) btn.explore.disabled = on || !api.model || !explorerNear(root);
  };

  // One frame: draw what the worker has sent since the last one
  let booked = false;
  const frame = () => {
    booked = false;
    if (curve.draw()) { api.frames++; showNumbers(!api.running); }
    const r = api.log.at(-1);
    if (api.running && r && performance.now() - lastSaid > 2000) {
      showNumbers(true);
      say(r.phase === data.phase ? `Training: step ${r.step + 1} of ${r.num_steps}, loss ${r.loss.toFixed(2)}`
        : `Training: the trunk first (phase 1), step ${r.step + 1} of ${r.num_steps}`);
    }
  };
  const book = () => { if (!booked) { booked = true; requestAnimationFrame(frame); } };

  const settingsFrom = partial => {
    if (partial === null || typeof partial !== 'object') throw new Error('settings must be an object');
    const out = { ...st };
    for (const [k, v] of Object.entries(partial)) {
      if (!byKey[k]) throw new Error(`unknown setting ${k}; the settings are ${Object.keys(byKey).join(', ')}`);
      out[k] = checked(byKey[k], v);
    }
    return out;
  };

  async function train(partial = {}) {
    const settings = settingsFrom(partial); // throws before anything changes
    if (run) api.stop();
    Object.assign(st, settings);
    showControls();
    const sp = await spec;
    const full = { ...data.fixed, ...settings }, all = allOf(full);
    curve.reset(referenceFor(data, all), stepsOf(data, all));
    api.log = [];
    checkpoint = null;
    api.model = null;
    setRunning(true);
    say(`Training started: ${curve.numSteps} steps.`);
    const how = data.samples, total = stepsOf(data, allOf(full)), mine = runTrainer(sp, full, {
      onProgress: (batch, samples = []) => {
        for (const r of batch) { api.log.push(r); if (r.phase === data.phase) curve.push(r); }
        // samples as it goes (chapter 4): worker.js's names of the model every how.every steps
        const last = samples.filter(x => x.phase === data.phase).at(-1);
        if (last && run === mine) showSamples(last.texts, `three names of the model after step ${last.step + 1} of ${total} (temperature 0.5, seed 42)`);
        book();
      },
      sampleEvery: how.every || 0,
    });
    run = mine;
    api.worker = mine.worker; // false: no worker could start, it trains on the main thread in slices
    book();
    try {
      const out = await mine.done;
      checkpoint = out.checkpoint;
      api.model = loadCheckpoint(JSON.parse(checkpoint), null, sp.limits); // decode checks against config.LIMITS
      const lines = await sample(api.model, data.samples);
      if (lines) showSamples(lines, `${data.samples.label} of the model you trained`);
      say(`Training done: ${curve.loss.raw.length} steps, moving-average loss ${curve.loss.smooth.at(-1).toFixed(3)}` +
        (curve.hasGate && curve.gate.raw.length ? `, gate ${curve.gate.raw.at(-1).toFixed(4)}` : '') + '.');
      return { checkpoint, log: api.log };
    } finally {
      if (run === mine) { run = null; setRunning(false); }
      book();
    }
  }

  Object.assign(api, {
    train,
    replicate: async (opts = {}) => { // in a worker of its own: the page's run and curve are left alone
      for (const k of Object.keys(opts)) if (!['seed', 'steps', 'sncSteps'].includes(k)) throw new Error(`replicate: unknown option ${k}; the options are seed, steps, sncSteps`);
      return trainerContract(await spec).replicate(opts);
    },
    stop() {
      if (!run) return;
      const r = run;
      run = null;
      r.stop();
      setRunning(false);
      showNumbers(true);
      say(`Stopped at step ${curve.loss.raw.length} of ${curve.numSteps}.`);
      book();
    },
    settings: () => ({ ...st }),
    explore() {
      const x = explorerNear(root);
      if (!x || !api.model) throw new Error('explore: needs a trained model and an explorer on the page');
      x.setModel(api.model);
      say('The explorer now runs the model you trained.');
      return x;
    },
    download() {
      if (!checkpoint) throw new Error('download: train a model first');
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([checkpoint], { type: 'application/json' }));
      a.download = `microdnb-${data.file}-seed${st.seed ?? 42}.json`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    },
  });

  ui.addEventListener('change', ev => {
    const k = ev.target.dataset && ev.target.dataset.k;
    if (!byKey[k]) return;
    // a value out of range is refused: the control goes back to the last good one, and its
    // hint and the live region say why (until the next good value)
    const hint = ui.querySelector(`#${u}-${k}-hint`);
    try {
      st[k] = checked(byKey[k], ev.target.value);
      if (hint) hint.textContent = byKey[k].hint;
    } catch (e) {
      if (hint) hint.textContent = `ignored: ${e.message}`;
      say(`Ignored: ${e.message}`);
    }
    showControls();
    if (!api.running && !api.log.length) { curve.reset(referenceFor(data, allOf(st)), stepsOf(data, allOf(st))); book(); }
  });
  ui.addEventListener('input', ev => {
    const k = ev.target.dataset && ev.target.dataset.k, val = ui.querySelector(`#${u}-${k}-val`);
    if (val) val.textContent = ev.target.value;
  });
  btn.train.addEventListener('click', () => train().catch(e => { if (e.name !== 'AbortError') say(`Training failed: ${e.message}`); }));
  btn.stop.addEventListener('click', () => api.stop());
  btn.download.addEventListener('click', () => api.download());
  if (btn.explore) btn.explore.addEventListener('click', () => api.explore().root.scrollIntoView({ block: 'nearest' }));

  keyEl.innerHTML = 'Solid line and dots: your run. Dashed line: the run this chapter computed in Python.';
  showControls();
  curve.reset(referenceFor(data, allOf(st)), stepsOf(data, allOf(st)));
  showNumbers(true);
  showSamples(Array(data.samples.count).fill(''), 'The samples of the model you train appear here.'); // their elements, once
  const fallback = root.querySelector('.mdx-fallback');
  if (fallback) fallback.replaceWith(ui); else root.append(ui);
  book();
  new ResizeObserver(() => { curve.dirty = true; book(); }).observe(canvas);
  reg._trainers.push(api);
  return api;
}

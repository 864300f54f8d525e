// microdnb's explorer: the model runs in the reader's page, and every control change decodes
// again and redraws the views. The Python side (microdnb/page/explorer.py) writes one
// self-contained HTML output per explorer: a root <div class="microdnb-explorer"
// data-microdnb-explorer="ID"> holding its CSS, the model (the checkpoint's fields, weights as
// base64 float64) and a static fallback, then one inline module script with the page's
// modules (pyrandom.js, settings.js, engine.js, payload.js, text.js, explorer_views.js, explorer_state.js,
// explorer_markup.js, explorer_render.js and this file) wrapped in functions, ending in mount("ID"). This file
// mounts an explorer: it reads the model, builds the markup, wires the controls to the
// state and the state to a redraw, and gives the page its entry point.
//
// The JavaScript entry point, for tests and for curious readers in the browser console:
//
//   window.microdnb.explorers       the page's explorers, in page order (a fresh array on
//                                   each read; explorers whose output was removed drop out)
//   const x = window.microdnb.explorers[0];
//   x.checkpoint()                  the model as a checkpoint file's JSON text (engine.js
//                                   checkpointText): the object save_checkpoint writes, every
//                                   weight bit for bit (save it as a file for `python -m
//                                   microdnb sample --checkpoint FILE ...`)
//   x.decode(settings)              engine.js decode on this model: {texts, tokens, events, ...}
//                                   for one group of streams; settings = {gate, cadence, lag,
//                                   streams, temperature, seed, prompts, starts}, each optional
//                                   (gate null: as trained; defaults: the checkpoint's bus,
//                                   temperature 0.5, seed 42; prompts: per stream a string or
//                                   null, at most one per stream; starts: per stream null or
//                                   the one letter it starts from instead of the start token,
//                                   at most one per stream; seed: a Number, a BigInt or a
//                                   string of digits), each within config.LIMITS (the payload's
//                                   limits: engine.js checkSettings, the page's one checker,
//                                   throws naming the setting); texts begin with the start
//                                   letter and the prompt
//   x.settings()                    what the controls show now (same keys, plus stream, pos:
//                                   the selected step; prompts and starts as strings, '' = none)
//   x.set(partial)                  change controls (same keys; a list of prompts or starts
//                                   sets every stream's, '' or null = none) and redraw; a
//                                   value the controls cannot hold throws, and nothing changes
//                                   (so does a gate, in an explorer that shows no gate control)
//   x.show                          the parts this explorer shows (explorer.py's `show`, from
//                                   PARTS: 'names', 'timeline', 'attn', 'dist', 'delta' the
//                                   views, 'gate' the gate slider and its two buttons); a
//                                   chapter shows only what it has taught
//   x.shown                         the decode on screen; x.renders: redraws so far
//   x.model, x.engine, x.views      the loaded model, engine.js's functions, two of the views'
//                                   (sequentialPasses(x.shown, x.settings()), stepContext)
//   x.setModel(model)               explore another model (engine.js's model form, as
//                                   loadCheckpoint returns it: a trainer's model just trained)
//                                   with the same vocabulary and block_size (the controls are
//                                   built for them; else it throws and nothing changes); the
//                                   settings stay, and it decodes again
//
// Two explorers on one page share nothing but window.microdnb.explorers: each output is its
// own module script with its own copy of the code and the model.

import { PyRandom } from './pyrandom.js';
import { busRead, checkpointText, decode, forward, gateValue, loadCheckpoint, paramShapes, sampleSingle, startId }
  from './engine.js';
import { modelOf, registry, rootOf } from './payload.js';
import { explorerHTML } from './explorer_markup.js';
import { pageParts, renderer, showSeedCheck } from './explorer_render.js';
import { checkSetting, initialState, shownSettings, takeControl } from './explorer_state.js';
import { sequentialPasses, stepContext } from './explorer_views.js';

const ENGINE = { PyRandom, busRead, checkpointText, decode, forward, gateValue, loadCheckpoint, paramShapes, sampleSingle,
                 startId };
const VIEWS = { sequentialPasses, stepContext };

export function mount(id) {
  const mounted = rootOf('explorer', id);
  if (!mounted) return null;
  const { root, data } = mounted;
  let model = modelOf(data);
  const R = data.ranges, show = data.show, reg = registry('explorers'), u = `mdx${++reg.nextId}`;
  model.labels = data.labels; // each token's label as the book writes it (Tokenizer.labels)
  const st = initialState(data.settings, R);
  const ui = document.createElement('div');
  ui.className = 'mdx-ui';
  ui.innerHTML = explorerHTML(u, model, R, data.title, show);
  const parts = pageParts(ui, u, show);
  let render = renderer(parts, model, data.colors, show);
  const api = { root, id, title: data.title, model, show: [...show], engine: ENGINE, views: VIEWS, renders: 0, shown: null,
                lastRenderMs: 0 };

  let pending = false;
  const draw = () => {
    pending = false;
    const t0 = performance.now();
    ({ res: api.shown, step: api.step } = render(st));
    api.renders++;
    api.lastRenderMs = performance.now() - t0;
  };
  // A change is drawn at once, while the page waits for its next frame anyway, so that frame
  // paints it; further changes before that frame (a key held down) are drawn once, at its start.
  let booked = false;
  const frame = () => { booked = false; if (pending) draw(); };
  const redraw = () => {
    if (booked) { pending = true; return; }
    booked = true;
    requestAnimationFrame(frame);
    draw();
  };

  const onInput = ev => {
    const el = ev.target, k = el.dataset && el.dataset.k;
    if (!['gate', 'cadence', 'lag', 'streams', 'temperature', 'seed', 'prompt', 'start', 'stream', 'pos'].includes(k)) return;
    const ok = takeControl(model, st, R, k, Number(el.dataset.s), el.value);
    if (k === 'seed') showSeedCheck(parts, ok, R);
    if (ok) redraw();
  };
  ui.addEventListener('input', onInput);
  ui.addEventListener('change', onInput);
  if (parts.ctl.gate) {
    parts.ctl.trained.addEventListener('click', () => { st.gate = null; redraw(); });
    parts.ctl.nonotes.addEventListener('click', () => { st.gate = 0; redraw(); });
  }
  parts.views.timeline.addEventListener('click', ev => {
    const cell = ev.target.closest('td[data-s]');
    if (!cell) return;
    st.stream = Number(cell.dataset.s);
    st.pos = Number(cell.dataset.p);
    redraw();
  });

  let text = null; // the checkpoint's text, made on first request
  Object.assign(api, {
    checkpoint: () => (text ??= checkpointText(model)),
    decode: (settings = {}) => decode(model, settings),
    setModel(next) {
      const same = next && next.cfg && next.cfg.block_size === model.cfg.block_size && next.uchars &&
        next.uchars.join('') === model.uchars.join('');
      if (!same) throw new Error('setModel: the model must have the vocabulary and block_size this explorer was built for');
      model = { ...next, labels: model.labels, limits: next.limits || model.limits };
      api.model = model;
      render = renderer(parts, model, data.colors, show);
      text = null;
      redraw();
    },
    settings: () => shownSettings(st, api.step),
    set(partial) {
      if ('gate' in partial && !show.includes('gate')) throw new Error('gate: this explorer shows no gate control');
      const checked = Object.entries(partial).map(([k, v]) => [k, checkSetting(model, R, k, v)]); // all, before any change
      for (const [k, v] of checked) st[k] = v;
      redraw();
    },
  });
  draw(); // then the UI replaces the static fallback (which stays if anything above failed)
  const fallback = root.querySelector('.mdx-fallback');
  if (fallback) fallback.replaceWith(ui); else root.append(ui);
  reg._explorers.push(api);
  return api;
}

// Training off the main thread: runTrainer runs a Trainer (train.js) in a classic Web Worker
// and streams its progress to the page; if no worker can start (a page CSP without
// `worker-src blob:`, or the modules loaded one by one rather than inlined) it trains on the
// main thread in ~12 ms slices instead, so no task blocks the page for long.
//
// The worker's code is the page's own: inline.py joins the ES modules into one inline script
// in which module x.js is `const __mdx_src_x = () => {...}; const __mdx_x = __mdx_src_x();`,
// so the source of every module is its function's text (Function.prototype.toString). The
// worker script is those functions' text, called in the same order, plus `workerMain`, put
// in a Blob: a *classic* worker from a blob: URL, which starts under file:// in Chromium
// (a module worker from a blob: URL does not: shared/notes/trainer.md section 1). No extra
// file, nothing fetched.
//
// runTrainer(spec, settings, {onProgress, worker = true}) -> {done, stop}
//   settings are checked first (trainSettings): a bad one throws at once, naming it.
//   onProgress(records): every ~16 ms, the step records since the last call, each
//     {phase, step, num_steps, loss, lr, gate (phase 2)}, in order.
//   done: a Promise of {lines, checkpoint, log}: replicate's lines, the checkpoint file's
//     text, every step's record. stop() ends the run at once (the worker is terminated) and
//     done rejects with an Error named 'AbortError'; after the end stop() does nothing.
//   worker = false trains on the main thread (the fallback) without trying a worker; the
//   result's `worker` says where it runs (false once it has fallen back).
//   snapshotEvery = N > 0: after every N steps (of both phases, counted together), after the
//     progress up to it, onSnapshot(step, model) gets the model as it is then (Trainer.model(),
//     engine.js's form): the trainer samples names from it as the run goes (chapter 4).
// trainerContract(spec) -> {replicate, train}: window.microdnb.trainers' entries (see below).

import { Trainer } from './train.js';
import { trainSettings } from './spec.js';

const PROGRESS_MS = 16, SLICE_MS = 12;

// The module functions of the inline output, in dependency order, or null outside one.
// (typeof of an undeclared name is 'undefined', not an error.)
function inlineModules() {
  if (typeof __mdx_src_train !== 'function') return null;
  /* global __mdx_src_pyrandom, __mdx_src_settings, __mdx_src_engine, __mdx_src_grad, __mdx_src_tasks, __mdx_src_spec, __mdx_src_train */
  return [['pyrandom', __mdx_src_pyrandom], ['settings', __mdx_src_settings], ['engine', __mdx_src_engine], ['grad', __mdx_src_grad],
          ['tasks', __mdx_src_tasks], ['spec', __mdx_src_spec], ['train', __mdx_src_train]];
}

// The worker's side: train what the page posts, post progress in batches, then the result
function workerMain(scope, Trainer, progressMs) {
  scope.onmessage = ({ data: { spec, settings, every } }) => {
    try {
      const t = new Trainer(spec, settings);
      let batch = [], last = performance.now();
      for (let info = t.step(); info; info = t.step()) {
        batch.push(info);
        if (every && t.log.length % every === 0) {
          scope.postMessage({ type: 'progress', records: batch });
          scope.postMessage({ type: 'snapshot', step: t.log.length, model: t.model() });
          batch = []; last = performance.now();
        } else if (performance.now() - last >= progressMs) {
          scope.postMessage({ type: 'progress', records: batch });
          batch = []; last = performance.now();
        }
      }
      if (batch.length) scope.postMessage({ type: 'progress', records: batch });
      scope.postMessage({ type: 'done', lines: t.lines(), checkpoint: t.checkpointText(), log: t.log });
    } catch (err) {
      scope.postMessage({ type: 'error', message: String((err && err.message) || err) });
    }
  };
}

// The classic worker script, or null when the modules are not inlined
export function workerSource() {
  const mods = inlineModules();
  if (!mods) return null;
  return mods.map(([name, fn]) => `const __mdx_${name} = (${fn})();`).join('\n') +
         `\n(${workerMain})(self, __mdx_train.Trainer, ${PROGRESS_MS});\n`;
}

const aborted = where => Object.assign(new Error(`training stopped ${where}`), { name: 'AbortError' });

// The fallback: the same loop on the main thread, in slices of ~12 ms between which the page
// handles its events (a 0 ms timeout; browsers clamp nested ones to 4 ms)
function onMainThread(spec, settings, onProgress, every = 0, onSnapshot = null) {
  let stopped = false, t = null;
  const done = new Promise((resolve, reject) => {
    const slice = () => {
      if (stopped) return reject(aborted(t ? `at step ${t.log.length}` : 'before it began'));
      try {
        t = t || new Trainer(spec, settings);
        const records = [], end = performance.now() + SLICE_MS;
        let info = null;
        do {
          info = t.step();
          if (info) records.push(info);
          if (info && every && t.log.length % every === 0) { onProgress(records.splice(0)); onSnapshot(t.log.length, t.model()); }
        } while (info && performance.now() < end);
        if (records.length) onProgress(records);
        if (info) return void setTimeout(slice, 0);
        resolve({ lines: t.lines(), checkpoint: t.checkpointText(), log: t.log });
      } catch (err) { reject(err); }
    };
    setTimeout(slice, 0);
  });
  return { done, stop: () => { stopped = true; }, worker: false };
}

export function runTrainer(spec, settings = {}, { onProgress = () => {}, worker = true, snapshotEvery = 0,
                                                 onSnapshot = () => {} } = {}) {
  trainSettings(spec, settings); // a bad setting throws here, on the caller's stack
  if (typeof onProgress !== 'function') throw new Error('onProgress must be a function(records)');
  if (!Number.isInteger(snapshotEvery) || snapshotEvery < 0) throw new Error(`snapshotEvery must be a whole number >= 0, got ${snapshotEvery}`);
  if (typeof onSnapshot !== 'function') throw new Error('onSnapshot must be a function(step, model)');
  const every = snapshotEvery;
  const src = worker && typeof Worker === 'function' ? workerSource() : null;
  let w = null;
  if (src) {
    try { w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' }))); } catch { w = null; }
  }
  if (!w) return onMainThread(spec, settings, onProgress, every, onSnapshot);
  let settle = null, started = false, fallback = null, steps = 0;
  const done = new Promise((resolve, reject) => { settle = { resolve, reject }; });
  const finish = () => { w.terminate(); settle = null; };
  w.onmessage = ({ data }) => {
    if (!settle) return;
    started = true;
    if (data.type === 'progress') { steps += data.records.length; onProgress(data.records); }
    else if (data.type === 'snapshot') onSnapshot(data.step, data.model);
    else if (data.type === 'done') { const s = settle; finish(); s.resolve({ lines: data.lines, checkpoint: data.checkpoint, log: data.log }); }
    else { const s = settle; finish(); s.reject(new Error(data.message)); }
  };
  // a worker a CSP refuses reports only an error event, before any message: train here instead
  w.onerror = ev => {
    if (!settle) return;
    ev.preventDefault?.();
    const s = settle;
    finish();
    if (started) return s.reject(new Error(`the training worker failed: ${ev.message || 'an error'}`));
    fallback = onMainThread(spec, settings, onProgress, every, onSnapshot);
    fallback.done.then(s.resolve, s.reject);
  };
  w.postMessage({ spec, settings, every });
  return {
    done,
    stop: () => {
      if (fallback) return fallback.stop();
      if (!settle) return;
      const s = settle;
      finish();
      s.reject(aborted(`at step ${steps}`));
    },
    get worker() { return !fallback; },
  };
}

// The contract of window.microdnb.trainers (issue 18): replicate({seed, steps, sncSteps}) and
// train(settings), each a Promise, of {lines} and of {checkpoint, log}; both run off the main
// thread when they can (runTrainer).
export function trainerContract(spec) {
  return {
    replicate: ({ seed = 42, steps = 1000, sncSteps = 300 } = {}) =>
      runTrainer(spec, { seed, steps, sncSteps }).done.then(({ lines }) => ({ lines })),
    train: (settings = {}) => runTrainer(spec, settings).done.then(({ checkpoint, log }) => ({ checkpoint, log })),
  };
}

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
// runTrainer(spec, settings, {onProgress, worker = true, sampleEvery = 0}) -> {done, stop}
//   settings are checked first (trainSettings): a bad one throws at once, naming it.
//   onProgress(records, samples): every ~16 ms, the step records since the last call, each
//     {phase, step, num_steps, loss, lr, gate (phase 2)}, in order; and, every `sampleEvery`
//     steps of a phase, [{phase, step, texts}]: 3 names from the model then (Trainer.samples).
//   done: a Promise of {lines, checkpoint, log}: replicate's lines, the checkpoint file's
//     text, every step's record. stop() ends the run at once (the worker is terminated) and
//     done rejects with an Error named 'AbortError'; after the end stop() does nothing.
//   worker = false trains on the main thread (the fallback) without trying a worker; the
//   result's `worker` says where it runs (false once it has fallen back).
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
  scope.onmessage = ({ data: { spec, settings, sampleEvery } }) => {
    try {
      const t = new Trainer(spec, settings);
      while (!t.done) {
        const { records, samples } = t.advance(progressMs, sampleEvery);
        scope.postMessage({ type: 'progress', records, samples });
      }
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
function onMainThread(spec, settings, onProgress, sampleEvery) {
  let stopped = false, t = null;
  const done = new Promise((resolve, reject) => {
    const slice = () => {
      if (stopped) return reject(aborted(t ? `at step ${t.log.length}` : 'before it began'));
      try {
        if (!t) { t = new Trainer(spec, settings); return void setTimeout(slice, 0); } // a slice of its own
        const { records, samples, done: finished } = t.advance(SLICE_MS, sampleEvery);
        if (records.length) onProgress(records, samples);
        if (!finished) return void setTimeout(slice, 0);
        resolve({ lines: t.lines(), checkpoint: t.checkpointText(), log: t.log });
      } catch (err) { reject(err); }
    };
    setTimeout(slice, 0);
  });
  return { done, stop: () => { stopped = true; }, worker: false };
}

export function runTrainer(spec, settings = {}, { onProgress = () => {}, worker = true, sampleEvery = 0 } = {}) {
  trainSettings(spec, settings); // a bad setting throws here, on the caller's stack
  if (typeof onProgress !== 'function') throw new Error('onProgress must be a function(records, samples)');
  if (!(Number.isInteger(sampleEvery) && sampleEvery >= 0)) throw new Error(`sampleEvery must be an integer >= 0 (steps; 0: no samples), got ${sampleEvery}`);
  const src = worker && typeof Worker === 'function' ? workerSource() : null;
  let w = null;
  if (src) {
    try { w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' }))); } catch { w = null; }
  }
  if (!w) return onMainThread(spec, settings, onProgress, sampleEvery);
  let settle = null, started = false, fallback = null, steps = 0;
  const done = new Promise((resolve, reject) => { settle = { resolve, reject }; });
  const finish = () => { w.terminate(); settle = null; };
  w.onmessage = ({ data }) => {
    if (!settle) return;
    started = true;
    if (data.type === 'progress') { steps += data.records.length; onProgress(data.records, data.samples); }
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
    fallback = onMainThread(spec, settings, onProgress, sampleEvery);
    fallback.done.then(s.resolve, s.reject);
  };
  w.postMessage({ spec, settings, sampleEvery });
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

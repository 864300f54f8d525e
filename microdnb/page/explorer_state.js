// microdnb's explorer, its state: the settings the controls hold, how a control's value or an
// x.set value changes them, and what the decode is given. Every value is checked by engine.js's
// checkers (checkNumber, perStream, forcedBy, checkStart: the one place the page checks settings),
// within the controls' extent (the payload's ranges, of the kind its limits give).
// No DOM: explorer.js reads the controls and explorer_render.js writes them.
//
// The state `st`: gate (null = as trained), cadence, lag, streams, temperature, seed (a string
// of digits), prompts and starts (one string per stream the controls have room for, '' =
// none), and the selected step, stream and pos.

import { checkNumber, checkStart, forcedBy, perStream, rangeOf } from './engine.js';

// The settings the explorer starts with (Python's, checked there), padded to every stream row
export function initialState(settings, R) {
  const pad = list => Array.from({ length: R.streams[1] }, (_, s) => list[s] || '');
  return { ...settings, prompts: pad(settings.prompts), starts: pad(settings.starts), seed: String(settings.seed) };
}

// Why a prompt is left out of the decode ('' if it is not): engine.js forcedBy's refusal
export function promptError(model, p) {
  try { forcedBy(model, p, 'the prompt'); return ''; } catch (e) { return e.message; }
}

// What engine.js decode is given for the state: the streams in use, their prompts and start letters
export const decodeSettings = (model, st) => ({ gate: st.gate, cadence: st.cadence, lag: st.lag,
  streams: st.streams, temperature: st.temperature, seed: st.seed,
  prompts: st.prompts.slice(0, st.streams).map(p => (p && !promptError(model, p) ? p : null)),
  starts: st.starts.slice(0, st.streams).map(c => c || null) });

// What x.settings() returns: the state, the per-stream lists cut to the streams in use, and the step shown
export const shownSettings = (st, step) => ({ ...st, prompts: st.prompts.slice(0, st.streams),
  starts: st.starts.slice(0, st.streams), stream: step.stream, pos: step.pos });

// A control's extent: the payload's range R[k], of the kind its limits say (an int or a float)
const control = (model, R, k) => rangeOf(model.limits[k].kind, ...R[k]);

// A seed as the seed box may hold it: a whole number in R.seed, as a string of digits; null if not
export function seedOf(model, text, R) {
  try {
    return String(checkNumber('seed', /^\d+$/.test(String(text)) ? BigInt(text) : text, control(model, R, 'seed')));
  } catch (e) {
    return null;
  }
}

// A control's new value into the state: `k` its data-k, `s` its stream (data-s), `value` its
// value. Returns false for a value the state cannot take (a seed that is not a whole number
// in range: the box shows it, flagged, and the decode keeps the last good one).
export function takeControl(model, st, R, k, s, value) {
  if (k === 'seed') {
    const seed = seedOf(model, value, R);
    if (seed === null) return false;
    st.seed = seed;
  } else if (k === 'prompt') st.prompts[s] = value;
  else if (k === 'start') st.starts[s] = value;
  else st[k] = Number(value); // gate, cadence, lag, streams, temperature, stream, pos
  return true;
}

// One x.set value, checked against what the controls can hold: what the state takes for it
export function checkSetting(model, R, k, v) {
  const rows = R.streams[1], list = check => perStream(v, rows, k).map((x, s) => {
    check(x, `${k} ${JSON.stringify(x)} (stream ${s})`);
    return x || '';
  });
  if (k === 'gate') return v === null ? null : checkNumber(k, v, control(model, R, k));
  if (['cadence', 'lag', 'streams', 'temperature'].includes(k)) return checkNumber(k, v, control(model, R, k));
  if (k === 'seed') {
    const seed = seedOf(model, v, R);
    if (seed === null) checkNumber(k, v, control(model, R, k)); // throws, saying the range
    return seed;
  }
  if (k === 'stream') return checkNumber(k, v, rangeOf('int', 0, rows - 1));
  if (k === 'pos') return checkNumber(k, v, rangeOf('int', 0, model.cfg.block_size - 1));
  if (k === 'prompts') { // a string; one the model cannot take is shown, flagged and left out of the decode
    return list((x, name) => { if (x !== null && typeof x !== 'string') throw new Error(`${name} must be a string`); });
  }
  if (k === 'starts') return list((x, name) => checkStart(model, x, name));
  throw new Error(`unknown setting ${k}; the settings are gate, cadence, lag, streams, temperature, seed, prompts, starts, stream, pos`);
}

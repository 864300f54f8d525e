// microdnb's explorer, its state: the settings the controls hold, how a control's value or an
// x.set value changes them (every value checked here, once), and what the decode is given.
// No DOM: explorer.js reads the controls and explorer_render.js writes them.
//
// The state `st`: gate (null = as trained), cadence, lag, streams, temperature, seed (a string
// of digits), prompts and starts (one string per stream the controls have room for, '' =
// none), and the selected step, stream and pos.

import { startId } from './engine.js';

// The settings the explorer starts with (Python's, checked there), padded to every stream row
export function initialState(settings, R) {
  const pad = list => Array.from({ length: R.streams[1] }, (_, s) => list[s] || '');
  return { ...settings, prompts: pad(settings.prompts), starts: pad(settings.starts), seed: String(settings.seed) };
}

// Why a prompt is left out of the decode ('' if it is not): a character outside the
// vocabulary, or too long to leave the model a position to write
export function promptError(model, p) {
  const bad = [...p].find(ch => !model.uchars.includes(ch));
  if (bad !== undefined) return `"${bad}" is not in the vocabulary (${model.uchars.join('')})`;
  return [...p].length >= model.cfg.block_size ? `at most ${model.cfg.block_size - 1} letters` : '';
}

// What engine.js decode is given for the state: the streams in use, their prompts and start letters
export const decodeSettings = (model, st) => ({ gate: st.gate, cadence: st.cadence, lag: st.lag,
  streams: st.streams, temperature: st.temperature, seed: st.seed,
  prompts: st.prompts.slice(0, st.streams).map(p => (p && !promptError(model, p) ? p : null)),
  starts: st.starts.slice(0, st.streams).map(c => c || null) });

// What x.settings() returns: the state, the per-stream lists cut to the streams in use, and the step shown
export const shownSettings = (st, step) => ({ ...st, prompts: st.prompts.slice(0, st.streams),
  starts: st.starts.slice(0, st.streams), stream: step.stream, pos: step.pos });

// A seed as the seed box may hold it: a whole number in R.seed, as a string of digits; null if not
export function seedOf(text, R) {
  const t = String(text);
  return /^\d+$/.test(t) && BigInt(t) >= BigInt(R.seed[0]) && BigInt(t) <= BigInt(R.seed[1]) ? String(BigInt(t)) : null;
}

// A control's new value into the state: `k` its data-k, `s` its stream (data-s), `value` its
// value. Returns false for a value the state cannot take (a seed that is not a whole number
// in range: the box shows it, flagged, and the decode keeps the last good one).
export function takeControl(st, R, k, s, value) {
  if (k === 'seed') {
    const seed = seedOf(value, R);
    if (seed === null) return false;
    st.seed = seed;
  } else if (k === 'prompt') st.prompts[s] = value;
  else if (k === 'start') st.starts[s] = value;
  else st[k] = Number(value); // gate, cadence, lag, streams, temperature, stream, pos
  return true;
}

// x.set's values, as the controls hold them; anything else throws, naming the setting
const within = (k, v, [lo, hi], int) => {
  if (typeof v !== 'number' || !(v >= lo && v <= hi) || (int && !Number.isInteger(v))) {
    throw new Error(`${k} must be ${int ? 'an integer' : 'a number'} in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  }
  return v;
};
const perStream = (R, k, v, ok, what) => {
  if (v !== null && !Array.isArray(v)) throw new Error(`${k} must be null or a list, one entry per stream`);
  const out = Array.from({ length: R.streams[1] }, (_, s) => (v && v[s]) || '');
  const bad = out.find(x => typeof x !== 'string' || (x && !ok(x)));
  if (bad !== undefined) throw new Error(`${k}: ${JSON.stringify(bad)} is not ${what}`);
  return out;
};

// One x.set value, checked: what the state takes for it
export function checkSetting(model, R, k, v) {
  if (k === 'gate') return v === null ? null : within(k, v, R.gate, false);
  if (k === 'cadence' || k === 'lag' || k === 'streams') return within(k, v, R[k], true);
  if (k === 'temperature') return within(k, v, R.temperature, false);
  if (k === 'seed') {
    const seed = seedOf(v, R);
    if (seed === null) throw new Error(`seed must be a whole number from 0 to ${R.seed[1]}`);
    return seed;
  }
  if (k === 'stream') return within(k, v, [0, R.streams[1] - 1], true);
  if (k === 'pos') return within(k, v, [0, model.cfg.block_size - 1], true);
  if (k === 'prompts') return perStream(R, k, v, () => true, 'a string'); // a bad one is shown, flagged and left out
  if (k === 'starts') return perStream(R, k, v, c => startId(model, c) >= 0, 'one character of the vocabulary');
  throw new Error(`unknown setting ${k}; the settings are gate, cadence, lag, streams, temperature, seed, prompts, starts, stream, pos`);
}

// x.decode's settings: lists of prompts or starts padded to the streams (null = none)
export function paddedSettings(model, settings) {
  const s = { ...settings }, streams = s.streams ?? (model.bus && model.bus.n_streams) ?? 2;
  for (const k of ['prompts', 'starts']) {
    if (Array.isArray(s[k])) s[k] = Array.from({ length: streams }, (_, i) => s[k][i] || null);
  }
  return s;
}

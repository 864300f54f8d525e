// A decode's settings, checked in one place, as sampling.py words them, against the model's
// limits: config.LIMITS from the page's payload (config.limits_json: {name: {kind, low, high,
// low_open, high_open, text}}, an integer end beyond 2**53 - 1 as a string, for BigInt). The
// trainer's settings (spec.js) go through the same checkNumber. engine.js re-exports these.

// The token a stream starts from, given its start letter (sampling.start_token): null,
// undefined or '' is the start token (BOS), one character of the vocabulary its id; -1 for
// anything else.
export function startId(model, c) {
  if (c === null || c === undefined || c === '') return model.BOS;
  return typeof c === 'string' && [...c].length === 1 ? model.uchars.indexOf(c) : -1;
}

const shown = v => (typeof v === 'bigint' ? String(v) : JSON.stringify(v) ?? String(v));

// A closed range of the page's own (a control's extent, a step's position), as limits hold one
export const rangeOf = (kind, low, high) =>
  ({ kind, low, high, text: `${kind === 'int' ? 'an integer' : 'a number'} in [${low}, ${high}]` });

// `v` if it lies within the range `r` (an int: a Number or a BigInt), else an Error naming `name`
export function checkNumber(name, v, r) {
  let ok;
  if (r.kind === 'int') {
    ok = (typeof v === 'bigint' || Number.isInteger(v)) && BigInt(r.low) <= BigInt(v) && BigInt(v) <= BigInt(r.high);
  } else {
    ok = Number.isFinite(v) && (r.low_open ? v > r.low : v >= r.low) && (r.high_open ? v < r.high : v <= r.high);
  }
  if (!ok) throw new Error(`${name} must be ${r.text}, got ${shown(v)}`);
  return v;
}

// sampling._per_stream: null, or a list of at most `streams` entries, padded with null
export function perStream(v, streams, name) {
  if (v !== null && v !== undefined && !Array.isArray(v)) {
    throw new Error(`${name} must be null or a list of at most ${streams} strings (one per stream), got ${shown(v)}`);
  }
  if (v && v.length > streams) throw new Error(`${name} has ${v.length} entries for ${streams} stream(s): at most one per stream`);
  return Array.from({ length: streams }, (_, s) => (v && v[s] !== undefined ? v[s] : null));
}

// sampling.check_prompt: the tokens a prompt forces at positions 0, 1, ... (its characters'
// ids, then null: drawn as usual). A prompt is shorter than block_size, so one token is drawn.
export function forcedBy(model, prompt, name = 'prompt') {
  const forced = Array(model.cfg.block_size).fill(null), n = model.cfg.block_size;
  if (prompt === null || prompt === undefined || prompt === '') return forced;
  if (typeof prompt !== 'string') throw new Error(`${name} must be a string of the vocabulary's characters, got ${shown(prompt)}`);
  const chars = [...prompt];
  if (chars.length >= n) throw new Error(`${name} has ${chars.length} characters; it must be shorter than block_size (${n}): at most ${n - 1}`);
  chars.forEach((ch, i) => {
    forced[i] = model.uchars.indexOf(ch);
    if (forced[i] < 0) throw new Error(`${name} has the character '${ch}', which is not in the vocabulary '${model.uchars.join('')}'`);
  });
  return forced;
}

export const limitsOf = ({ limits }) => limits || (() => { throw new Error('the model has no limits: load it with the payload\'s'); })();

// A decode's settings with their defaults (the model's bus, temperature 0.5, seed 42), each
// checked: gate null or within limits.gate; the prompts and start letters at most one per
// stream (sampling.check_prompts, check_starts). Adds `forced` and `startIds` per stream.
export function checkSettings(model, settings) {
  const limits = limitsOf(model), b = model.bus || {};
  const s = { gate: null, cadence: b.cadence ?? 3, lag: b.lag ?? 0, streams: b.n_streams ?? 2,
              temperature: 0.5, seed: 42, prompts: null, starts: null };
  for (const [k, v] of Object.entries(settings)) if (v !== undefined) s[k] = v; // undefined = default
  if (typeof s.seed === 'string' && /^\d+$/.test(s.seed)) s.seed = BigInt(s.seed); // as the seed box holds it
  for (const k of ['cadence', 'lag', 'streams', 'temperature', 'seed']) checkNumber(k, s[k], limits[k]);
  if (s.gate !== null) checkNumber('gate', s.gate, limits.gate);
  s.forced = perStream(s.prompts, s.streams, 'prompts').map((p, i) => forcedBy(model, p, `prompts ${shown(p)} (stream ${i})`));
  s.startIds = perStream(s.starts, s.streams, 'starts').map((c, i) => checkStart(model, c, `starts ${shown(c)} (stream ${i})`));
  return s;
}

// sampling.check_starts, for one stream: its start letter's token (startId), or an Error naming `name`
export function checkStart(model, c, name) {
  const id = startId(model, c);
  if (id < 0) throw new Error(`${name} must be one character of the vocabulary '${model.uchars.join('')}', or '' for the start token`);
  return id;
}

// microdnb's inference engine for the browser: inference as the numpy engine does it
// (microdnb/vector/), written out one position at a time as the scalar engine runs it
// (scalar/model.py gpt, scalar/sample.py), with no dependencies, so a page can re-run the
// model on every slider move. Read it next to scalar/model.py and sample.py: same names (n_embd, wte,
// layer0.attn_wq, snc_gate, notes_proj, planner_proj, cadence, lag, ...), same order of
// floating-point operations where it changes rounding (x * (1 / n), e * (1 / total),
// logits * (1 / temperature)). Sums run left to right, where numpy's BLAS and pairwise
// sums group terms differently, so logits agree with numpy's to ~1e-14, not bit for bit
// (tests/test_js_engine.py measures it). The draws are CPython's random.Random, bit for
// bit, so the same seed gives the same names; see PyRandom and decode.
//
// A weight matrix is {rows, cols, data}, data a Float64Array, row-major as the checkpoint's
// lists of rows are. Vectors (activations, attention weights, probabilities) are plain arrays
// of doubles: V8 allocates a small Array faster than a Float64Array, and the arithmetic is
// the same IEEE double arithmetic.

import { PyRandom } from './pyrandom.js';
import { checkNumber, checkSettings, forcedBy, limitsOf } from './settings.js';
// the settings' checks live in settings.js; these names stay importable from here too
export { checkNumber, checkSettings, checkStart, forcedBy, perStream, rangeOf, startId } from './settings.js';

const NORM_EPS = 1e-5; // the 1e-5 inside rmsnorm's square root (vector/layers.py NORM_EPS)

// ---------------------------------------------------------------------------------------
// The model: a checkpoint (microdnb/checkpoint.py save_checkpoint) as matrices
// ---------------------------------------------------------------------------------------

// name -> [rows, cols], as microdnb/params.py param_shapes
export function paramShapes(cfg) {
  const e = cfg.n_embd, d = cfg.notes_dim;
  const shapes = { wte: [cfg.vocab_size, e], wpe: [cfg.block_size, e], lm_head: [cfg.vocab_size, e] };
  for (let i = 0; i < cfg.n_layer; i++) {
    for (const w of ['wq', 'wk', 'wv', 'wo']) shapes[`layer${i}.attn_${w}`] = [e, e];
    shapes[`layer${i}.mlp_fc1`] = [4 * e, e];
    shapes[`layer${i}.mlp_fc2`] = [e, 4 * e];
  }
  Object.assign(shapes, { notes_proj: [d, e], planner_proj: [d, e], snc_wq: [e, e], snc_wk: [e, d],
                          snc_wv: [e, d], snc_wo: [e, e], snc_gate: [1, 1] });
  return shapes;
}

const FORMAT = 'microdnb-checkpoint-v1';

// The parsed checkpoint JSON -> {cfg, bus, uchars, BOS, meta, params: name -> matrix, limits}.
// JSON.parse reads Python's repr() floats back to the same doubles, so weights are exact.
// matrices: the weights as name -> {rows, cols, data} instead of doc.params (the explorer's
// page carries them as base64 float64, bit for bit); checked against the config alike.
// limits: the payload's config.LIMITS, which decode checks its settings against.
export function loadCheckpoint(doc, matrices = null, limits = null) {
  if (!doc || doc.format !== FORMAT) throw new Error(`not a ${FORMAT} object`);
  const cfg = { ...doc.model };
  for (const k of ['vocab_size', 'n_layer', 'n_embd', 'block_size', 'n_head', 'notes_dim']) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new Error(`model.${k} must be a positive integer`);
  }
  if (cfg.n_embd % cfg.n_head) throw new Error('model.n_embd must be divisible by model.n_head');
  const uchars = [...doc.uchars];
  if (uchars.length + 1 !== cfg.vocab_size) {
    throw new Error(`${uchars.length} characters do not fit vocab_size ${cfg.vocab_size}`);
  }
  const params = {};
  for (const [name, [rows, cols]] of Object.entries(paramShapes(cfg))) {
    const m = matrices ? matrices[name] : doc.params[name];
    const fits = matrices ? m && m.rows === rows && m.cols === cols && m.data.length === rows * cols
      : Array.isArray(m) && m.length === rows && m.every(r => Array.isArray(r) && r.length === cols);
    if (!fits) throw new Error(`parameter ${name} is not ${rows}x${cols}`);
    params[name] = matrices ? m : { rows, cols, data: Float64Array.from(m.flat()) };
  }
  return { cfg, bus: doc.bus ?? null, uchars, BOS: uchars.length, meta: doc.meta ?? {}, params, limits };
}

// The model as a checkpoint file's text: the object save_checkpoint writes (format, model,
// bus, uchars, meta, params as rows of numbers), so `python -m microdnb sample --checkpoint`
// reads it and finds every weight bit for bit. JSON.stringify writes a double as the
// shortest decimal that reads back as the same double, as Python's repr() does; only the
// layout differs (1e-5 for 1e-05, 1 for 1.0, no spaces), and -0 is written -0.0, which
// JSON's -0 would not keep. A weight that is not finite is refused, as save_checkpoint does.
export function checkpointText(model) {
  const { cfg, bus, uchars, meta, params } = model;
  const num = (name, x) => {
    if (!Number.isFinite(x)) throw new Error(`parameter ${name} has ${x}: refusing to write a non-finite parameter`);
    return Object.is(x, -0) ? '-0.0' : JSON.stringify(x);
  };
  const rows = (name, { rows: r, cols: c, data }) => Array.from({ length: r }, (_, i) =>
    '[' + Array.from(data.slice(i * c, (i + 1) * c), x => num(name, x)).join(',') + ']').join(',');
  const head = JSON.stringify({ format: FORMAT, model: cfg, bus, uchars: uchars.join(''), meta });
  return head.slice(0, -1) + ',"params":{' + Object.keys(paramShapes(cfg))
    .map(name => `${JSON.stringify(name)}:[${rows(name, params[name])}]`).join(',') + '}}';
}

// vector.gate_value: sigmoid(logit) as 1 * (1 + e^-g)^-1. CPython's math.exp (libm) and V8's
// Math.exp can differ by an ulp, so the learned gate may differ from Python's in its last bit.
export function gateValue(model) {
  const g = model.params.snc_gate.data[0];
  if (g < -700) return Math.exp(g); // e^-g would overflow; there 1 / (1 + e^-g) is e^g
  return 1 / (1.0 + Math.exp(-g));   // Python's y ** -1 is pow(y, -1): 1 / y rounded once
}

export const toText = (model, ids) => ids.filter(i => i !== model.BOS).map(i => model.uchars[i]).join('');

// ---------------------------------------------------------------------------------------
// The layers (vector/layers.py), for one position
// ---------------------------------------------------------------------------------------

// y = W x, i.e. numpy's x @ W.T
function linear(W, x) {
  const { rows, cols, data } = W, y = new Array(rows);
  for (let i = 0, o = 0; i < rows; i++, o += cols) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += data[o + j] * x[j];
    y[i] = s;
  }
  return y;
}

const add = (a, b) => { const y = new Array(a.length); for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i]; return y; };
const row = (W, i) => W.data.subarray(i * W.cols, (i + 1) * W.cols);
export const norm = v => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

// x / sqrt(mean(x^2) + 1e-5), as (sum x^2) * (1 / n) then ** -0.5
export function rmsnorm(x) {
  let ss = 0;
  for (const v of x) ss += v * v;
  const scale = (ss * (1.0 / x.length) + NORM_EPS) ** -0.5;
  const y = new Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * scale;
  return y;
}

// exp(x - max) * (1 / sum): subtracting the max keeps exp from overflowing
export function softmax(logits) {
  const n = logits.length, e = new Array(n);
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > m) m = logits[i];
  let total = 0;
  for (let i = 0; i < n; i++) { e[i] = Math.exp(logits[i] - m); total += e[i]; }
  const inv = 1.0 / total;
  for (let i = 0; i < n; i++) e[i] *= inv;
  return e;
}

// The next-token distribution at `temperature`: softmax(logits * temperature**-1), the
// weights sampling.draw gets (1 / t is the correctly rounded t ** -1). V8's Math.exp and
// CPython's libm exp differ in the last bit for a few inputs, so these weights may too.
export const probs = (logits, temperature = 1) => {
  const inv = 1 / temperature, x = new Array(logits.length);
  for (let i = 0; i < x.length; i++) x[i] = logits[i] * inv;
  return softmax(x);
};

// Scaled dot-product attention of one query q (E) over keys/values (lists of E-vectors),
// head by head. Returns {out (E), weights: per head an array over the keys}.
function attention(q, keys, values, n_head) {
  const E = q.length, hd = E / n_head, scale = 1.0 / Math.sqrt(hd);
  const out = new Array(E), weights = [];
  for (let h = 0, o = 0; h < n_head; h++, o += hd) {
    const logits = new Array(keys.length);
    for (let t = 0; t < keys.length; t++) {
      const k = keys[t];
      let s = 0;
      for (let d = 0; d < hd; d++) s += q[o + d] * k[o + d];
      logits[t] = s * scale;
    }
    const w = softmax(logits);
    for (let d = 0; d < hd; d++) {
      let s = 0;
      for (let t = 0; t < values.length; t++) s += w[t] * values[t][o + d];
      out[o + d] = s;
    }
    weights.push(w);
  }
  return { out, weights };
}

// ---------------------------------------------------------------------------------------
// One position through the GPT (vector.model.forward with B = T = 1)
// ---------------------------------------------------------------------------------------

// A note's SNC key and value, computed once per snapshot (they depend on nothing else)
const KV = new WeakMap();
function noteKV(model, n) {
  let c = KV.get(n);
  if (!c || c.model !== model) KV.set(n, c = { model, k: linear(model.params.snc_wk, n), v: linear(model.params.snc_wv, n) });
  return c;
}

// A stream's key/value cache: per layer, one key and one value vector per position so far.
export function newCache(model) {
  const L = model.cfg.n_layer;
  return { k: Array.from({ length: L }, () => []), v: Array.from({ length: L }, () => []) };
}

// `token` at position `pos` (= cache length) of a stream. notes: the snapshots it reads
// (notes_dim vectors) or null; without notes SNC is skipped (the scalar engine's zero
// delta). gate: the SNC gate value (default sigmoid of the learned logit); 0 gives the
// trunk's numbers exactly, as x + 0 * proj = x.
// Returns {logits, hidden, attn: [layer][head] weights over positions 0..pos,
//          snc: [layer] {weights: [head] over the notes ([] without notes), delta, deltaNorm,
//          residNorm}}, residNorm = |x| entering SNC (after self-attention), delta its gated update.
export function forward(model, cache, token, pos, notes = null, gate = gateValue(model)) {
  const { cfg, params: p } = model;
  let x = rmsnorm(add(row(p.wte, token), row(p.wpe, pos)));
  const attn = [], snc = [];
  for (let li = 0; li < cfg.n_layer; li++) {
    // 1) multi-head self-attention over this stream's past
    const xn = rmsnorm(x);
    cache.k[li].push(linear(p[`layer${li}.attn_wk`], xn));
    cache.v[li].push(linear(p[`layer${li}.attn_wv`], xn));
    const a = attention(linear(p[`layer${li}.attn_wq`], xn), cache.k[li], cache.v[li], cfg.n_head);
    attn.push(a.weights);
    x = add(linear(p[`layer${li}.attn_wo`], a.out), x);
    // SNC: the residual queries the other streams' notes, between self-attention and the MLP
    if (notes && notes.length) {
      const kv = notes.map(n => noteKV(model, n));
      const s = attention(linear(p.snc_wq, x), kv.map(c => c.k), kv.map(c => c.v), cfg.n_head);
      const delta = linear(p.snc_wo, s.out);
      for (let i = 0; i < delta.length; i++) delta[i] = gate * delta[i];
      snc.push({ weights: s.weights, delta, deltaNorm: norm(delta), residNorm: norm(x) });
      x = add(x, delta);
    } else { // nothing to read: no weights, a zero delta
      snc.push({ weights: [], delta: new Array(cfg.n_embd).fill(0), deltaNorm: 0, residNorm: norm(x) });
    }
    // 2) MLP: fc2(relu(fc1(rmsnorm(x)))) + x
    const h = linear(p[`layer${li}.mlp_fc1`], rmsnorm(x));
    for (let i = 0; i < h.length; i++) h[i] = Math.max(h[i], 0.0);
    x = add(linear(p[`layer${li}.mlp_fc2`], h), x);
  }
  return { logits: linear(p.lm_head, x), hidden: x, attn, snc };
}

// ---------------------------------------------------------------------------------------
// The notes bus (bus.NotesBus) and decoding (vector.sample_parallel / sample_single)
// ---------------------------------------------------------------------------------------

// What `reader` reads in `round`: other streams in stream order, each oldest first (plan
// seed, then posts); a post of round r is readable when r + lag <= round, a seed always.
// bus: per stream a list of {round (null = plan seed), snapshot}.
export function busRead(bus, lag, reader, round) {
  const notes = [], labels = [];
  bus.forEach((snaps, s) => {
    if (s === reader) return; // a stream never reads its own notes
    for (const n of snaps) {
      if (n.round === null || n.round + lag <= round) { notes.push(n.snapshot); labels.push([s, n.round]); }
    }
  });
  return { notes, labels };
}

// Decode `streams` names together through the bus, round by round, streams in order within
// a round (lag 0: a later stream reads what an earlier one posted this round). Each stream's
// bus starts with its plan seed (the trunk on its first token at position 0, through
// planner_proj); after position p a live stream posts notes_proj(hidden) when
// (p + 1) % cadence == 0; a stream that samples BOS stops and posts nothing more.
// settings (each optional): gate (null: sigmoid(snc_gate) as trained; a number in [0, 1]
// replaces that value in every layer and step), cadence, lag, streams (defaults: the
// checkpoint's bus, else 3, 0, 2), temperature (0.5), seed (42; Number, BigInt or digits),
// prompts (per stream null or a string whose characters are taken as the first tokens of
// the name, without a draw), starts (per stream null or its start letter, the one character
// it starts from and seeds its plan from instead of BOS), rng (a PyRandom to draw from instead
// of a new one seeded with `seed`: the reference draws all its samples from one generator).
// Returns {texts, tokens, rounds, steps, events, posts, seeds, gate, starts} where
//   texts: each stream's start letter and prompt, then what it drew; tokens: what it wrote;
//   events: one per step, {stream, pos, token, forced (a prompt's token, no draw),
//     notes: labels [stream, round | null (plan seed)], logits, probs,
//     probsTrunk (the trunk alone, gate 0, on the same prefix), attn: [layer][head],
//     snc: [layer][head] weights over `notes` ([] without notes),
//     sncDelta: [layer] vectors, deltaNorm: [layer], residNorm: [layer]};
//   posts: {stream, round, snapshot}; seeds: the plan seed of each stream; gate: the one used;
//   starts: each stream's start letter, or null.
// Same settings as sample_parallel(bcfg=BusConfig(streams, cadence, lag), rng=random.Random(seed),
// temperature, starts, gate, prompts) -> same names. The probabilities agree to ~1e-14,
// not to the last bit (summation order; libm vs V8 exp), so a draw could differ only if
// random() * total landed within a few ulps of a cumulative sum: odds of ~1e-14 per draw.
export function decode(model, settings = {}) {
  const s = checkSettings(model, settings), { cfg, params: p, BOS } = model, S = s.streams;
  const rng = s.rng ?? new PyRandom(s.seed);
  const gate = s.gate === null ? gateValue(model) : s.gate;
  const seeds = s.startIds.map(t => linear(p.planner_proj, forward(model, newCache(model), t, 0).hidden));
  const bus = seeds.map(snapshot => [{ round: null, snapshot }]);
  const caches = seeds.map(() => newCache(model)), trunks = seeds.map(() => null);
  const tok = [...s.startIds], samples = seeds.map(() => []), done = seeds.map(() => false);
  const events = [], posts = [];
  let rounds = 0, steps = 0;
  // A stream's gate-0 twin, the trunk alone on the same prefix: the same forward passes without
  // notes, run the first time one of its steps is asked for probsTrunk (a view shows one step)
  const trunkOf = si => {
    if (!trunks[si]) {
      const cache = newCache(model), mine = events.filter(e => e.stream === si);
      trunks[si] = mine.map((e, i) => probs(forward(model, cache, i ? mine[i - 1].token : s.startIds[si], e.pos).logits,
                                            s.temperature));
    }
    return trunks[si];
  };
  for (let pos = 0; pos < cfg.block_size; pos++) {
    rounds++;
    for (let si = 0; si < S; si++) {
      if (done[si]) continue;
      steps++;
      const { notes, labels } = busRead(bus, s.lag, si, pos);
      const f = forward(model, caches[si], tok[si], pos, notes, gate);
      const pr = probs(f.logits, s.temperature);
      const forced = s.forced[si][pos];
      const token = forced ?? rng.choice(pr); // sampling.draw: a forced token leaves the rng alone
      events.push({ stream: si, pos, token, forced: forced !== null, notes: labels, logits: f.logits,
                    probs: pr, get probsTrunk() { return trunkOf(si)[pos]; }, attn: f.attn,
                    snc: f.snc.map(l => l.weights), sncDelta: f.snc.map(l => l.delta),
                    deltaNorm: f.snc.map(l => l.deltaNorm), residNorm: f.snc.map(l => l.residNorm) });
      if (token === BOS) { done[si] = true; continue; }
      samples[si].push(token);
      tok[si] = token;
      if ((pos + 1) % s.cadence === 0) { // bus.emits
        const snapshot = linear(p.notes_proj, f.hidden);
        bus[si].push({ round: pos, snapshot });
        posts.push({ stream: si, round: pos, snapshot });
      }
    }
    if (done.every(Boolean)) break;
  }
  return { texts: samples.map((t, si) => toText(model, [s.startIds[si], ...t])), tokens: samples, rounds, steps,
           events, posts, seeds, gate, starts: s.startIds.map(t => (t === BOS ? null : model.uchars[t])) };
}

// One name from BOS with the trunk alone (sample_single, and its prompt; rng as decode's):
// {tokens, text, probs, attn, forced}.
export function sampleSingle(model, { temperature = 0.5, seed = 42, prompt = null, rng = null } = {}) {
  checkNumber('temperature', temperature, limitsOf(model).temperature);
  rng ??= new PyRandom(seed); const cache = newCache(model), forcedAt = forcedBy(model, prompt);
  const tokens = [], ps = [], attn = [], forced = [];
  let token = model.BOS;
  for (let pos = 0; pos < model.cfg.block_size; pos++) {
    const f = forward(model, cache, token, pos);
    const pr = probs(f.logits, temperature);
    token = forcedAt[pos] ?? rng.choice(pr);
    ps.push(pr); attn.push(f.attn); forced.push(forcedAt[pos] !== null);
    if (token === model.BOS) break;
    tokens.push(token);
  }
  return { tokens, text: toText(model, tokens), probs: ps, attn, forced };
}

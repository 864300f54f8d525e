// Training in the page: Adam and the two phases of the numpy engine (vector/train.py,
// loss.py), on grad.js's flat arrays, and the reference script's whole run (reference.py
// replicate) line for line. Same draws as Python: random.Random(seed) shuffles the names and
// draws the parameters (reference.setup, vector.init_params), the phase-2 groups of a Part III
// task come from the same generator (study/tasks.py make_groups), then it samples.
//
// The API (the trainer UI and tests code against these names):
//   new Trainer(spec, settings)  spec: specFrom(payload) (spec.js); settings: trainSettings's
//                                (seed, steps, sncSteps, learningRate, sncLearningRate, n_layer,
//                                n_head, n_embd, block_size, cadence, lag, streams, gateInit, task,
//                                heldout, temperature)
//     .step()         one Adam step: {phase, step, num_steps, loss, lr, gate} (gate in phase 2,
//                     as vector.train_phase2's callback), or null when both phases are done
//     .advance(ms, sampleEvery)  steps for ~ms: {records, samples, done} (runTrainer's slices)
//     .samples(n, {seed, temperature})  n names from the model now (a fresh Random(seed))
//     .done           true once both phases have run
//     .model()        the trained model in engine.js's form (loadCheckpoint's), for decode() and
//                     the explorer: a copy of the weights now
//     .checkpointText()  the checkpoint file `python -m microdnb sample --checkpoint` reads
//     .lines()        once done: replicate's printed lines (its samples drawn on first call)
//     .log            every step's record so far
//   replicate(spec, {seed, steps, sncSteps}) -> the lines `python -m microdnb replicate
//     --engine numpy --seed S --steps N --snc-steps M` prints
//   docsLoss(net, docs), streamsLoss(net, streams, cadence, lag, trunk): the losses, with the
//     gradients in net.grad (vector.loss's docs_loss_and_grads, streams_loss_and_grads)
//   Adam, initParams, tokenizer, fmt: the numpy Adam, init_params, data.Tokenizer, f'{x:.4f}'

import { PyRandom } from './pyrandom.js';
import { checkpointText, decode, gateValue, sampleSingle } from './engine.js';
import { Net, netShape } from './grad.js';
import { encodeGroup, makeGroups } from './tasks.js';
import { trainSettings } from './spec.js';

const SEED_ROUND = -(2 ** 40); // vector/bus.py: a plan seed is readable in every round
const N_SAMPLES = 10, N_STREAMS_INFER = 3, N_BATCHES = 5; // reference.py's sampling

// Python's f'{x:.{d}f}': toFixed (both round the exact binary value), except at an exact tie,
// which toFixed rounds up and Python half to even. x is a tie iff x * 10^d is an odd multiple
// of 1/2, i.e. (a double being dyadic) iff x * 2^(d+1), exact, is an odd integer m.
export function fmt(x, d) {
  if (typeof x !== 'number' || !(Number.isInteger(d) && d >= 0 && d <= 20)) throw new Error(`fmt needs a number and 0..20 digits, got ${x}, ${d}`);
  const m = Math.abs(x) * 2 ** (d + 1);
  if (!(Number.isInteger(m) && m % 2 === 1 && m * 5 ** d < 2 ** 53)) return x.toFixed(d);
  const k = m * 5 ** d, n = (k - 1) / 2; // x * 10^d = n + 1/2 exactly
  return (x < 0 ? '-' : '') + ((n % 2 === 0 ? n : n + 1) / 10 ** d).toFixed(d);
}

// vector.train.Adam over theta[start, end): the numpy arithmetic elementwise
export class Adam {
  constructor(start, end, { beta1, beta2, eps_adam }) {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end)) {
      throw new Error(`Adam updates theta[start, end): integers with 0 <= start <= end, got ${start}, ${end}`);
    }
    if (![beta1, beta2, eps_adam].every(Number.isFinite)) throw new Error('Adam needs finite beta1, beta2 and eps_adam (TrainConfig)');
    Object.assign(this, { start, end, beta1, beta2, eps: eps_adam });
    this.m = new Float64Array(end - start);
    this.v = new Float64Array(end - start);
  }

  step(step, lr, theta, grad) {
    const { beta1, beta2, eps, m, v, start } = this;
    const c1 = 1 - beta1 ** (step + 1), c2 = 1 - beta2 ** (step + 1), a1 = 1 - beta1, a2 = 1 - beta2;
    for (let j = 0; j < m.length; j++) {
      const g = grad[start + j];
      m[j] = beta1 * m[j] + a1 * g;
      v[j] = beta2 * v[j] + a2 * (g * g);
      theta[start + j] -= lr * (m[j] / c1) / (Math.sqrt(v[j] / c2) + eps);
    }
  }
}

// The tokenizer (data.Tokenizer.from_docs): the sorted characters of the names, BOS after them
export function tokenizer(docs) {
  if (!Array.isArray(docs) || !docs.length || !docs.every(d => typeof d === 'string' && d)) {
    throw new Error('docs must be a non-empty list of non-empty strings');
  }
  const uchars = [...new Set(docs.join(''))].sort();
  const id = new Map(uchars.map((c, i) => [c, i])), BOS = uchars.length;
  return { uchars, BOS, vocab_size: BOS + 1, encode: name => [BOS, ...[...name].map(c => id.get(c)), BOS] };
}

// vector.init_params: one rng.gauss(0, init_std) per entry, in param_shapes order, row by
// row; the gate logit is gate_init, not a draw
export function initParams(net, rng) {
  if (!(net instanceof Net) || !rng || typeof rng.gauss !== 'function') throw new Error('initParams needs a Net and a PyRandom');
  const { theta, lay: { shapes, off } } = net, std = net.cfg.init_std;
  for (const [name, [r, c]] of Object.entries(shapes)) {
    if (name === 'snc_gate') theta[off[name]] = net.cfg.gate_init;
    else for (let j = 0; j < r * c; j++) theta[off[name] + j] = rng.gauss(0, std);
  }
}

// vector.model.check_tokens for each sequence, and that the net has the cache rows they need
function checkSeqs(net, seqs, rowsPer, what) {
  if (!Array.isArray(seqs) || !seqs.length || seqs.length * rowsPer > net.rows) {
    throw new Error(`${what} must be a non-empty list of at most ${Math.floor(net.rows / rowsPer)} token lists (the net's rows)`);
  }
  seqs.forEach((t, b) => {
    if (!Array.isArray(t) || t.length < 2 || !t.every(x => Number.isInteger(x) && x >= 0 && x < net.V)) {
      throw new Error(`${what}[${b}] must be a list of at least 2 token ids in 0..${net.V - 1}`);
    }
  });
}

// The mean over documents of each one's mean next-token loss; gradients of the trunk in net.grad
// (vector.loss.docs_loss_and_grads; net needs one cache row per document)
export function docsLoss(net, docs) {
  checkSeqs(net, docs, 1, 'docs');
  const B = docs.length, T = net.T;
  net.grad.fill(0);
  net.begin();
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const tok = docs[b], n = Math.min(T, tok.length - 1);
    let s = 0;
    for (let t = 0; t < n; t++) s += net.loss(net.forward(b, t, tok[t]), tok[t + 1]);
    loss += s * (1 / n);
  }
  net.zeroFlow();
  for (let b = 0; b < B; b++) {
    const tok = docs[b], n = Math.min(T, tok.length - 1);
    for (let t = n - 1; t >= 0; t--) net.backward(b, t, tok[t], tok[t + 1], 1 / n / B, null, true);
  }
  return loss / B;
}

// Streams decoded together through the bus, teacher forced (vector.loss.streams_loss_and_grads):
// their mean next-token loss, and in net.grad the gradients of SNC + planner, and of the trunk
// too if `trunk`. Rounds in order, a round's live streams in order: with lag 0 a stream reads
// what earlier streams posted this round. net needs 2 rows per stream (the plan seeds' caches)
// and 1 + block_size / cadence bus slots per stream.
export function streamsLoss(net, streams, cadence, lag, trunk) {
  checkSeqs(net, streams, 2, 'streams');
  if (!(Number.isInteger(cadence) && cadence >= 1)) throw new Error(`cadence must be an integer >= 1, got ${cadence}`);
  if (!(Number.isInteger(lag) && lag >= 0)) throw new Error(`lag must be an integer >= 0, got ${lag}`);
  const S = streams.length, T = net.T, Q = 1 + Math.floor(T / cadence);
  if (S * Q > net.M) throw new Error(`${S} streams need ${S} x ${Q} bus slots, more than the net's ${net.M}`);
  const bus = net.bus || (net.bus = { round: new Float64Array(net.M), reads: new Int32Array(net.M),
                                      count: new Int32Array(net.rows), order: new Int32Array(3 * net.rows * T) });
  const { round, reads, count, order } = bus;
  let maxLen = 0;
  for (let s = 0; s < S; s++) maxLen = Math.max(maxLen, Math.min(T, streams[s].length - 1));
  net.grad.fill(0);
  net.begin();
  // the planner: each stream's bus starts with the plan seed of its first token (trunk only)
  for (let s = 0; s < S; s++) {
    net.post(s * Q, net.forward(S + s, 0, streams[s][0]), 'planner_proj');
    round[s * Q] = SEED_ROUND;
    count[s] = 1;
  }
  let total = 0, nTokens = 0, nOrder = 0;
  for (let t = 0; t < maxLen; t++) {
    for (let s = 0; s < S; s++) {
      if (t >= Math.min(T, streams[s].length - 1)) continue;
      let nr = 0; // other streams' notes, stream by stream, oldest first, of round + lag <= t
      for (let u = 0; u < S; u++) {
        if (u === s) continue;
        for (let c = 0; c < count[u]; c++) if (round[u * Q + c] + lag <= t) reads[nr++] = u * Q + c;
      }
      const i = net.forward(s, t, streams[s][t], reads, nr);
      total += net.loss(i, streams[s][t + 1]);
      nTokens++;
      let slot = -1;
      if ((t + 1) % cadence === 0) { // bus.emits
        slot = s * Q + count[s]++;
        net.post(slot, i, 'notes_proj');
        round[slot] = t;
      }
      order[nOrder++] = s; order[nOrder++] = t; order[nOrder++] = slot;
    }
  }
  const scale = nTokens ** -1;
  net.zeroFlow();
  for (let o = nOrder - 3; o >= 0; o -= 3) {
    const s = order[o], t = order[o + 1], slot = order[o + 2], i = s * T + t;
    const dhidden = slot >= 0 ? net.noteBack(slot, i, 'notes_proj') : null;
    net.backward(s, t, streams[s][t], streams[s][t + 1], scale, dhidden, trunk);
  }
  for (let s = 0; s < S; s++) {
    const dseed = net.noteBack(s * Q, (S + s) * T, 'planner_proj');
    if (trunk) net.backward(S + s, 0, streams[s][0], -1, 0, dseed, true);
  }
  return total * scale;
}

export class Trainer {
  constructor(spec, settings = {}) {
    const s = this.settings = trainSettings(spec, settings);
    this.spec = spec;
    // reference.setup: shuffle the names with Random(seed), then draw the parameters from it
    const rng = this.rng = new PyRandom(s.seed);
    const docs = this.docs = rng.shuffle([...spec.names]);
    const tok = this.tok = tokenizer(docs);
    // both phases train on all but the last `heldout` names (the study's split: study/runs.py)
    const trainDocs = s.heldout ? docs.slice(0, docs.length - s.heldout) : docs;
    this.encoded = trainDocs.map(tok.encode); // once, so that a step allocates no token list
    this.cfg = { vocab_size: tok.vocab_size, n_layer: s.n_layer, n_embd: s.n_embd, block_size: s.block_size,
                 n_head: s.n_head, notes_dim: spec.cfg.notes_dim, init_std: spec.cfg.init_std, gate_init: s.gateInit };
    const S = s.streams, { rows, noteSlots } = netShape(this.cfg, S, s.cadence);
    const net = this.net = new Net(this.cfg, rows, noteSlots);
    initParams(net, rng);
    if (s.task !== 'names') {
      this.groups = makeGroups(s.task, trainDocs, S, s.sncSteps, rng).map(g => encodeGroup(s.task, g, tok.encode));
    }
    this.adam1 = new Adam(0, net.lay.nBase, spec.tcfg);
    this.adam2 = new Adam(net.lay.nBase, net.lay.size, spec.tcfg);
    this.phase = 1;
    this.at = 0;
    this.log = [];
    const nBase = net.lay.nBase, nAll = net.lay.size;
    this.printed = [`num docs: ${docs.length}`, `vocab size: ${tok.vocab_size}`,
                    `num params: ${nAll} (base: ${nBase}, snc: ${nAll - nBase})`,
                    '\n=== Phase 1: Training base GPT (1000 steps) ==='];
    this.sampled = null;
    this.nextPhase();
  }

  get done() { return this.phase === 3; }

  // the streams of phase-2 step `step`: consecutive names (data.phase2_docs) or the task's group
  group(step) {
    if (this.groups) return this.groups[step];
    const S = this.settings.streams, enc = this.encoded, g = this.groupRows || (this.groupRows = new Array(S));
    for (let i = 0; i < S; i++) g[i] = enc[(step * S + i) % enc.length];
    return g;
  }

  // past a phase with no step left (so `done` is true right after the last step)
  nextPhase() {
    const s = this.settings;
    if (this.phase === 1 && this.at >= s.steps) {
      this.phase = 2; this.at = 0;
      this.printed.push('\n=== Phase 2: Training SNC / Dynamic Notes Bus (300 steps) ===');
    }
    if (this.phase === 2 && this.at >= s.sncSteps) this.phase = 3;
  }

  step() {
    const s = this.settings, net = this.net, pad = (x, n) => String(x).padStart(n);
    if (this.phase === 3) return null;
    const step = this.at++;
    let info;
    if (this.phase === 1) {
      const num = s.steps, doc = this.oneDoc || (this.oneDoc = [null]);
      doc[0] = this.encoded[step % this.encoded.length];
      const loss = docsLoss(net, doc);
      const lr = s.learningRate * (1 - step / num);
      this.adam1.step(step, lr, net.theta, net.grad);
      info = { phase: 1, step, num_steps: num, loss, lr };
      if ((step + 1) % 100 === 0 || step === 0) this.printed.push(` step ${pad(step + 1, 4)} / ${pad(num, 4)} | loss ${fmt(loss, 4)}`);
    } else {
      const num = s.sncSteps;
      const loss = streamsLoss(net, this.group(step), s.cadence, s.lag, false);
      const lr = s.sncLearningRate * (1 - step / num);
      this.adam2.step(step, lr, net.theta, net.grad);
      net.begin();
      info = { phase: 2, step, num_steps: num, loss, lr, gate: net.gate };
      if ((step + 1) % 50 === 0 || step === 0) {
        this.printed.push(` step ${pad(step + 1, 3)} / ${pad(num, 3)} | loss ${fmt(loss, 4)} | gate ${fmt(net.gate, 4)}`);
      }
    }
    this.log.push(info);
    this.nextPhase();
    return info;
  }

  // Steps for about `ms` milliseconds (at least one, unless done): {records, samples, done};
  // every `sampleEvery` steps of a phase (0: never) it also samples names from the model as it
  // is then: samples = [{phase, step, texts}] (see samples())
  advance(ms, sampleEvery = 0) {
    const records = [], samples = [], end = performance.now() + ms;
    while (!this.done) {
      const info = this.step();
      records.push(info);
      if (sampleEvery && (info.step + 1) % sampleEvery === 0) samples.push({ phase: info.phase, step: info.step, texts: this.samples() });
      if (performance.now() >= end) break;
    }
    return { records, samples, done: this.done };
  }

  // `n` names from the trunk as trained so far (sampleSingle), drawn from their own
  // Random(seed), not the run's generator: the same draws at every step, so they show only
  // what the weights changed
  samples(n = 3, { seed = 42, temperature = this.settings.temperature } = {}) {
    const model = this.model(), rng = new PyRandom(seed);
    return Array.from({ length: n }, () => sampleSingle(model, { temperature, rng }).text);
  }

  // engine.js's model form (loadCheckpoint's) with a copy of the weights now
  model() {
    const { theta, lay: { shapes, off } } = this.net, params = {};
    for (const [name, [rows, cols]] of Object.entries(shapes)) {
      params[name] = { rows, cols, data: theta.slice(off[name], off[name] + rows * cols) };
    }
    const s = this.settings;
    return { cfg: { ...this.cfg }, bus: { n_streams: s.streams, cadence: s.cadence, lag: s.lag },
             uchars: [...this.tok.uchars], BOS: this.tok.BOS, meta: { trained_in: 'page', settings: this.shownSettings() },
             params, limits: this.spec.limits };
  }

  shownSettings() {
    return Object.fromEntries(Object.entries(this.settings).map(([k, v]) => [k, typeof v === 'bigint' ? String(v) : v]));
  }

  checkpointText() { return checkpointText(this.model()); }

  // replicate's lines: the training log so far, and once done its samples (drawn once, from
  // the generator where the parameters' draws left it, as the reference does)
  lines() {
    if (!this.done) throw new Error('lines() needs a finished run: call step() until it returns null');
    if (!this.sampled) {
      const model = this.model(), rng = this.rng, s = this.settings, out = ['\n--- single-stream inference (baseline) ---'];
      for (let k = 0; k < N_SAMPLES; k++) {
        out.push(` sample ${String(k + 1).padStart(2)}: ${sampleSingle(model, { temperature: s.temperature, rng }).text}`);
      }
      out.push(`\n--- parallel inference (${N_STREAMS_INFER} streams, DNB) ---`);
      for (let b = 0; b < N_BATCHES; b++) {
        const { texts } = decode(model, { streams: N_STREAMS_INFER, cadence: s.cadence, lag: s.lag, temperature: s.temperature, rng });
        out.push(` batch ${b + 1}: ${texts.map(t => t || '(empty)').join(' | ')}`);
      }
      out.push(`\nfinal gate value: ${fmt(gateValue(model), 4)}`);
      this.sampled = out;
    }
    return [...this.printed, ...this.sampled];
  }

  // run to the end; returns lines()
  run() {
    while (this.step());
    return this.lines();
  }
}

// reference.replicate(seed, steps, snc_steps, engine='numpy'): its printed lines
export function replicate(spec, { seed = 42, steps = 1000, sncSteps = 300 } = {}) {
  return new Trainer(spec, { seed, steps, sncSteps }).run();
}

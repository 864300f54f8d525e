// What the page's trainer is given: the payload Python writes (microdnb/page/training.py
// train_payload) unpacked into a spec, and a run's settings checked against it. One checker:
// every number goes through engine.js's checkNumber against the payload's limits, which are
// config.LIMITS (config.limits_json), so a refusal reads as Python's ("steps must be an
// integer in [0, 10000000], got -1").
//
// spec = {cfg, tcfg, uchars, names, defaults, limits, maxParams, maxNetBytes}
//   cfg       the ModelConfig defaults (block_size, notes_dim, init_std, ...)
//   tcfg      Adam's beta1, beta2, eps_adam (TrainConfig)
//   names     the 32,033 names in names.txt's order (the trainer shuffles them by seed)
//   defaults  the reference run's settings; limits: name -> {kind, low, high, ..., text}
//   maxParams config.MAX_PARAMS; maxNetBytes: the most a run's buffers may take (training.py)

import { paramShapes } from './engine.js';
import { checkNumber } from './settings.js';
import { netBytes, netShape } from './grad.js';
import { TASKS } from './tasks.js';

// the settings a run takes, each checked against limits[name]
const NUMBERS = ['seed', 'steps', 'sncSteps', 'learningRate', 'sncLearningRate', 'n_layer', 'n_head', 'n_embd',
                 'block_size', 'cadence', 'lag', 'streams', 'gateInit', 'heldout', 'temperature'];

// The payload (JSON) -> spec. Names come gzipped and base64-encoded; every current browser
// unpacks gzip with DecompressionStream.
export async function specFrom(payload) {
  if (!payload || typeof payload !== 'object') throw new Error('the trainer payload must be an object (training.train_payload)');
  for (const k of ['cfg', 'tcfg', 'uchars', 'names_gz', 'n_names', 'defaults', 'limits', 'max_params', 'max_net_bytes']) {
    if (!(k in payload)) throw new Error(`the trainer payload has no ${k} (training.train_payload writes it)`);
  }
  const bytes = Uint8Array.from(atob(payload.names_gz), c => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  const names = (await new Response(stream).text()).split('\n');
  if (names.length !== payload.n_names) throw new Error(`the payload's names unpack to ${names.length} names, not ${payload.n_names}`);
  const { cfg, tcfg, uchars, defaults, limits, max_params: maxParams, max_net_bytes: maxNetBytes } = payload;
  return { cfg, tcfg, uchars: [...uchars], names, defaults, limits, maxParams, maxNetBytes };
}

// A run's settings: the spec's defaults, overridden by `settings` (undefined = default), each
// checked. The seed may be digits (a text box's value), kept exact as a BigInt.
export function trainSettings(spec, settings = {}) {
  if (settings === null || typeof settings !== 'object') throw new Error('settings must be an object, e.g. {seed: 42, steps: 1000}');
  const s = { ...spec.defaults };
  for (const [k, v] of Object.entries(settings)) {
    if (!Object.hasOwn(s, k)) throw new Error(`${k} is not a setting; the settings are ${Object.keys(s).join(', ')}`);
    if (v !== undefined) s[k] = v;
  }
  if (typeof s.seed === 'string' && /^\d+$/.test(s.seed)) s.seed = BigInt(s.seed);
  for (const k of NUMBERS) checkNumber(k, s[k], spec.limits[k]);
  if (s.n_embd % s.n_head) throw new Error(`n_head must divide n_embd (${s.n_embd}), got ${s.n_head}`);
  if (!TASKS.includes(s.task)) throw new Error(`task must be one of ${TASKS.join(', ')}, got ${JSON.stringify(s.task)}`);
  const cfg = { ...spec.cfg, vocab_size: spec.uchars.length + 1, n_layer: s.n_layer, n_embd: s.n_embd, n_head: s.n_head,
                block_size: s.block_size };
  const n = Object.values(paramShapes(cfg)).reduce((sum, [r, c]) => sum + r * c, 0); // ModelConfig.n_params
  if (n > spec.maxParams) throw new Error(`n_layer ${s.n_layer} and n_embd ${s.n_embd} make ${n} parameters, over the limit of ${spec.maxParams}`);
  const { rows, noteSlots } = netShape(cfg, s.streams, s.cadence), mb = x => Math.ceil(x / 2 ** 20);
  const bytes = netBytes(cfg, rows, noteSlots);
  if (bytes > spec.maxNetBytes) {
    throw new Error(`n_layer ${s.n_layer}, n_embd ${s.n_embd}, block_size ${s.block_size}, streams ${s.streams} and cadence ` +
                    `${s.cadence} need ${mb(bytes)} MB of buffers, over the page's ${mb(spec.maxNetBytes)} MB`);
  }
  return s;
}

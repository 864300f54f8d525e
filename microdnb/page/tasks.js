// The coordination tasks of Part III (microdnb/study/tasks.py) for the page's trainer: what the
// streams of one phase-2 group are taught to write, drawn with CPython's random.Random
// (PyRandom) as tasks.make_groups draws them, and encoded as tasks.encode_group encodes them.
//   independent  k unrelated names (rng.sample)
//   split        one name (of at least k letters) cut into k consecutive pieces
//   copy         one name k times; stream 0, the leader, starts from its first letter
// 'names' is the reference's phase 2 (data.phase2_docs: k consecutive names), not a draw.

export const TASKS = ['names', 'independent', 'split', 'copy'];

// tasks.split_name: n_parts consecutive non-empty pieces, the earlier ones one longer
export function splitName(name, nParts) {
  if (!(Number.isInteger(nParts) && nParts >= 1) || typeof name !== 'string' || name.length < nParts) {
    throw new Error(`cannot cut ${JSON.stringify(name)} into ${nParts} non-empty pieces: it needs at least ${nParts} characters`);
  }
  const q = Math.floor(name.length / nParts), r = name.length % nParts, out = [];
  for (let i = 0, start = 0; i < nParts; i++) {
    const size = q + (i < r ? 1 : 0);
    out.push(name.slice(start, start + size));
    start += size;
  }
  return out;
}

// tasks.make_groups(task, names, k, n, rng) for the three drawn tasks
export function makeGroups(task, names, k, n, rng) {
  if (!TASKS.includes(task) || task === 'names') throw new Error(`task must be one of ${TASKS.slice(1).join(', ')}, got ${task}`);
  if (!(Number.isInteger(k) && k >= 1 && Number.isInteger(n) && n >= 0)) throw new Error(`k must be an integer >= 1 and n >= 0, got ${k}, ${n}`);
  if (!Array.isArray(names) || !names.length || !names.every(s => typeof s === 'string' && s)) {
    throw new Error('names must be a non-empty list of non-empty strings');
  }
  if (!rng || typeof rng.pick !== 'function') throw new Error('rng must be a PyRandom (seeded, for determinism)');
  const groups = [];
  if (task === 'independent') {
    if (new Set(names).size < k) throw new Error(`the independent task needs at least ${k} distinct names`);
    for (let g = 0; g < n; g++) groups.push(rng.sample(names, k));
  } else if (task === 'copy') {
    for (let g = 0; g < n; g++) groups.push(Array(k).fill(rng.pick(names)));
  } else {
    const eligible = names.filter(s => s.length >= k);
    if (!eligible.length) throw new Error(`the split task needs names of at least ${k} characters; none given`);
    for (let g = 0; g < n; g++) groups.push(splitName(rng.pick(eligible), k));
  }
  return groups;
}

// tasks.starts: per stream its start letter (the copy task's leader: its text's first letter) or null
export const startsOf = (task, group) => group.map((text, s) => (task === 'copy' && s === 0 ? text[0] : null));

// tasks.encode_group: [BOS, ids..., BOS] per stream, without the BOS for a stream given its start letter
export function encodeGroup(task, group, encode) {
  if (!TASKS.includes(task) || !Array.isArray(group) || typeof encode !== 'function') throw new Error('encodeGroup needs a task, a group of texts and an encode function');
  return group.map((text, s) => (task === 'copy' && s === 0 ? encode(text).slice(1) : encode(text)));
}

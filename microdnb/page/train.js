// STUB until train-core lands: fake progress, no model.
export async function specFrom(payload) {
  const bin = Uint8Array.from(atob(payload.names_gz), c => c.charCodeAt(0));
  const text = await new Response(new Blob([bin]).stream().pipeThrough(new DecompressionStream('gzip'))).text();
  return { names: text.split('\n'), kind: payload.kind };
}
export function replicate(spec, opts) { return [`stub ${opts.seed}`]; }
export function runTrainer(spec, settings, { onProgress }) {
  const n = settings.snc_steps && settings.steps === 1000 && spec.kind !== 'phase1' ? settings.snc_steps : settings.steps;
  let step = 0, timer = 0, resolve;
  const done = new Promise(r => { resolve = r; });
  const tick = () => {
    const batch = [];
    for (let i = 0; i < 20 && step < n; i++, step++) batch.push({ phase: 1, step, num_steps: n, loss: 3.3 * Math.exp(-step / 200) + 2 + Math.random(), lr: 0.01 * (1 - step / n), gate: 0.0067 + step * 1e-5 });
    onProgress(batch);
    if (step < n) timer = setTimeout(tick, 16); else resolve({ lines: [], checkpoint: null, log: [] });
  };
  timer = setTimeout(tick, 16);
  return { done, stop: () => clearTimeout(timer) };
}

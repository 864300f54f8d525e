// What the page's views share (explorer.js, lookthrough.js): the model Python embedded in a
// view's payload, and the page's registry window.microdnb, where each kind of view lists its
// instances in page order (window.microdnb.explorers, window.microdnb.lookthroughs).

import { loadCheckpoint } from './engine.js';

// The root of the view `id` of this kind ('explorer', 'lookthrough') not yet mounted (two outputs
// of the same model and settings share an id; each mounts its own), marked mounted, and its
// payload, read from and then removed from the page: {root, data}, or null if there is none
export function rootOf(kind, id) {
  const root = [...document.querySelectorAll(`div.microdnb-${kind}[data-microdnb-${kind}="${id}"]`)]
    .find(r => !r.hasAttribute('data-microdnb-ready'));
  if (!root) return null;
  root.setAttribute('data-microdnb-ready', '');
  const dataEl = root.querySelector('script.mdx-data'), data = JSON.parse(dataEl.textContent);
  dataEl.remove();
  return { root, data };
}

// The model Python embedded: the checkpoint's fields, and its weights as base64 of little-endian
// float64s in `layout` order, read into engine.js's matrices bit for bit (the matrices listed in
// `zeros`, left out of the payload, all zeros); with the limits its decode checks settings
// against (config.LIMITS, from the payload)
export function modelOf(data) {
  const bin = atob(data.params), view = new DataView(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
  const matrices = {};
  let at = 0;
  for (const [name, rows, cols] of data.layout) {
    matrices[name] = { rows, cols, data: Float64Array.from({ length: rows * cols }, (_, i) => view.getFloat64(8 * (at + i), true)) };
    at += rows * cols;
  }
  if (8 * at !== bin.length) throw new Error(`the embedded weights hold ${bin.length / 8} numbers, the layout ${at}`);
  for (const [name, rows, cols] of data.zeros ?? []) matrices[name] = { rows, cols, data: new Float64Array(rows * cols) };
  return loadCheckpoint(data.checkpoint, matrices, data.limits);
}

// window.microdnb, with window.microdnb[kind] ('explorers', 'lookthroughs'): the views of that
// kind whose output is still in the page, in page order (a fresh array on each read); a view
// registers itself with reg[`_${kind}`].push(api), api.root its root element. reg.nextId
// numbers the views of every kind, so each gets a page-unique prefix for its element ids.
export function registry(kind) {
  const reg = (window.microdnb = window.microdnb || {}), all = `_${kind}`;
  if (!reg[all]) {
    reg[all] = [];
    const inOrder = () => reg[all].filter(x => x.root.isConnected)
      .sort((a, b) => (a.root.compareDocumentPosition(b.root) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    Object.defineProperty(reg, kind, { get: inOrder, enumerable: true, configurable: true });
  }
  reg.nextId = reg.nextId || 0;
  return reg;
}

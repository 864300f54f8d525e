// window.microdnb: the page's entry point for tests and curious readers, shared by every
// output on the page. registry(kind) ('explorers', 'trainers') gives the object and makes
// window.microdnb[kind] a getter: the mounted ones whose output is still on the page, in page
// order (a fresh array on each read). Each output's script has its own copy of this module,
// so what they share lives on window.microdnb itself.
export function registry(kind) {
  const reg = (window.microdnb = window.microdnb || {}), store = `_${kind}`;
  if (!reg[store]) {
    reg[store] = [];
    const inOrder = () => reg[store].filter(x => x.root.isConnected)
      .sort((a, b) => (a.root.compareDocumentPosition(b.root) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    Object.defineProperty(reg, kind, { get: inOrder, enumerable: true, configurable: true });
  }
  reg.nextId = reg.nextId || 0;
  return reg;
}

// An output's root and payload, taken once: the first <div class="microdnb-KIND"
// data-microdnb-KIND="ID"> not yet mounted (kind: 'explorer', 'trainer'; a module has no
// document.currentScript, so the id finds it), marked mounted, and the JSON of its
// script.mdx-data, which is removed. null if there is none (the output is gone).
export function takeRoot(kind, id) {
  const root = [...document.querySelectorAll(`div.microdnb-${kind}[data-microdnb-${kind}="${id}"]`)]
    .find(r => !r.hasAttribute('data-microdnb-ready'));
  if (!root) return null;
  root.setAttribute('data-microdnb-ready', '');
  const dataEl = root.querySelector('script.mdx-data'), data = JSON.parse(dataEl.textContent);
  dataEl.remove();
  return { root, data };
}

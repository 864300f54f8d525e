// microdnb's look-through: one forward pass of the GPT opened up in the reader's page. The
// reader types a name; for the selected position the view shows what engine.js's forward
// computes there (through its trace hook, the same forward that decodes): each head's
// attention over the positions so far, per layer; the size |x| of the residual stream after
// each stage; the next-letter distribution. The Python side (microdnb/page/lookthrough.py)
// writes one self-contained HTML output: a root <div class="microdnb-lookthrough"
// data-microdnb-lookthrough="ID"> holding its CSS, the model (payload.js modelOf) and a static
// fallback, then one inline module script (pyrandom.js, engine.js, payload.js,
// text.js and this file) ending in mount("ID").
//
// The JavaScript entry point, for tests and for curious readers in the browser console:
//
//   window.microdnb.lookthroughs     the page's look-throughs, in page order (a fresh array on
//                                    each read)
//   const v = window.microdnb.lookthroughs[0];
//   v.trace(name)                    the forward pass over BOS and `name` (a string of the
//                                    vocabulary's characters, shorter than block_size; '' =
//                                    BOS alone): {name, tokens, positions}, per position {pos,
//                                    token (read), next (the true next token; BOS after the
//                                    last letter), attn: [layer][head] weights over positions
//                                    0..pos, resid: [[stage, layer, |x|]] with stage 'embed'
//                                    (wte + wpe), 'norm' (after RMSNorm; layer -1), then per
//                                    layer 'attn' and 'mlp', logits, probs (temperature 1)};
//                                    lookthrough.py trace gives the same with the numpy engine
//   v.state()                        what the view shows: {name, pos}
//   v.set({name, pos})               show another name and/or position (pos: 0..len(name); a
//                                    new name alone selects its last position); a value that
//                                    does not fit throws, and nothing changes
//   v.shown                          the trace on screen; v.renders: draws so far; v.model
//
// Every control is a native labelled input: the name (text), the position (a range: arrow
// keys, Home, End); the letters above the views are buttons a mouse can click (the range
// is their keyboard equivalent). A live region says what the selected position shows.

import { forcedBy, forward, newCache, norm, probs } from './engine.js';
import { modelOf, registry, rootOf } from './payload.js';
import { esc, fmt, pct, tokenText } from './text.js';

const STAGE = { embed: 'token + position', norm: 'after RMSNorm', attn: 'after attention', snc: 'after SNC',
                mlp: 'after the MLP' };

// The forward pass over BOS and `name`, one position at a time with one key/value cache, as a
// decode runs it; the trace hook records |x| after each stage
export function traceName(model, name) {
  if (name !== null && name !== undefined && typeof name !== 'string') {
    throw new Error(`name must be a string of the letters '${model.uchars.join('')}', got ${typeof name}`);
  }
  const tokens = [model.BOS, ...forcedBy(model, name, 'name').filter(t => t !== null)];
  const cache = newCache(model);
  const positions = tokens.map((token, pos) => {
    const resid = [];
    const f = forward(model, cache, token, pos, null, undefined, (stage, layer, x) => resid.push([stage, layer, norm(x)]));
    return { pos, token, next: pos + 1 < tokens.length ? tokens[pos + 1] : model.BOS, attn: f.attn, resid,
             logits: f.logits, probs: probs(f.logits) };
  });
  return { name: name ?? '', tokens, positions };
}

// the `k` most likely tokens under `probs`, most likely first
const topOf = (probs, k) => Array.from(probs, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b).slice(0, k);

const bar = (frac, cls = 'mdx-with') =>
  `<span class="mdx-track"><span class="mdx-bar ${cls}" style="width:${(100 * Math.min(1, frac)).toFixed(2)}%"></span></span>`;
const stageName = (stage, layer, L) => (layer < 0 ? STAGE[stage] : `${L > 1 ? `layer ${layer}: ` : ''}${STAGE[stage]}`);

// Per layer, a table: a row per head, a column per position 0..pos, each cell the weight in %
// over a bar whose opacity grows with it (the numbers are the text alternative of the heat map)
export function attentionHTML(model, tr, pos) {
  const p = tr.positions[pos], L = model.cfg.n_layer;
  const cols = tr.tokens.slice(0, pos + 1).map((t, j) =>
    `<th scope="col" title="position ${j}">${esc(tokenText(model, t))}<span class="mlt-idx">${j}</span></th>`).join('');
  return p.attn.map((heads, li) => `<table class="mdx-grid mlt-attn"><caption>${L > 1 ? `Layer ${li}: ` : ''}` +
    `where each head of position ${pos} looks, in %</caption><thead><tr><th scope="col">head</th>${cols}</tr></thead><tbody>` +
    heads.map((w, h) => `<tr><th scope="row">head ${h}</th>` + w.map((x, j) =>
      `<td title="head ${h} on position ${j}: ${pct(x, 2)}%"${x === Math.max(...w) ? ' class="mlt-max"' : ''}>` +
      `<span class="mdx-heat" style="opacity:${(0.08 + 0.92 * x).toFixed(3)}"></span>${pct(x, 0)}</td>`).join('') +
      '</tr>').join('') + '</tbody></table>').join('');
}

// The residual stream's size after each stage, each bar relative to the largest at this position
export function residualHTML(model, tr, pos) {
  const rows = tr.positions[pos].resid, top = Math.max(...rows.map(r => r[2]));
  return `<table class="mlt-resid"><caption>|x| at position ${pos}, stage by stage</caption><thead><tr>` +
    '<th scope="col">stage</th><th scope="col">|x|</th></tr></thead><tbody>' +
    rows.map(([stage, layer, n]) => `<tr><th scope="row">${stageName(stage, layer, model.cfg.n_layer)}</th>` +
      `<td>${bar(n / top)}<span class="mdx-num">${fmt(n)}</span></td></tr>`).join('') + '</tbody></table>' +
    `<p class="mdx-note-text">RMSNorm scales x to |x| = \u221a${model.cfg.n_embd} \u2248 ${fmt(Math.sqrt(model.cfg.n_embd))}; ` +
    'attention and the MLP then add their outputs to it.</p>';
}

// The `k` most likely next letters, and the true next one if it is not among them
export function nextHTML(model, tr, pos, k) {
  const p = tr.positions[pos], ids = topOf(p.probs, k);
  if (!ids.includes(p.next)) ids.push(p.next);
  const rank = p.probs.filter(q => q > p.probs[p.next]).length + 1;
  return `<table class="mdx-dist"><caption>Next letter after position ${pos}, in %</caption><thead><tr>` +
    '<th scope="col">letter</th><th scope="col">probability</th></tr></thead><tbody>' +
    ids.map(t => `<tr${t === p.next ? ' class="mdx-drawn"' : ''}><th scope="row">${esc(tokenText(model, t))}` +
      `${t === p.next ? ' <span class="mdx-tag">true next</span>' : ''}</th><td>${bar(p.probs[t])}` +
      `<span class="mdx-num">${pct(p.probs[t])}</span></td></tr>`).join('') + '</tbody></table>' +
    `<p class="mdx-note-text">The true next letter is the model's guess number ${rank} of ${p.probs.length}.</p>`;
}

// One sentence for the live region
export function summaryText(model, tr, pos) {
  const p = tr.positions[pos], t = i => tokenText(model, i), last = p.resid[p.resid.length - 1][2];
  const looks = p.attn.map((heads, li) => heads.map((w, h) => {
    const j = w.indexOf(Math.max(...w));
    return `${model.cfg.n_layer > 1 ? `layer ${li} ` : ''}head ${h} on ${t(tr.tokens[j])} (position ${j}, ${pct(w[j], 0)}%)`;
  }).join(', ')).join('; ');
  const best = topOf(p.probs, 3).map(i => `${t(i)} ${pct(p.probs[i], 0)}%`).join(', ');
  return `Position ${pos} reads ${t(p.token)}. Strongest attention: ${looks}. |x| ends at ${fmt(last)}. ` +
    `Next letter: ${best}; the true next, ${t(p.next)}, ${pct(p.probs[p.next])}%.`;
}

function markup(u, model, title) {
  const n = model.cfg.block_size - 1;
  return `<p class="mdx-lead"><strong>${esc(title)}</strong> <span>(the model runs in this page)</span></p>` +
    '<div class="mdx-controls"><fieldset><legend>Read a name</legend>' +
    `<div class="mdx-row"><label for="${u}-name">Name</label><input type="text" id="${u}-name" data-k="name" ` +
    `maxlength="${n}" autocomplete="off" spellcheck="false" aria-describedby="${u}-name-msg">` +
    `<span class="mdx-hint" id="${u}-name-msg"></span></div>` +
    `<div class="mdx-row"><label for="${u}-pos">Position</label><input type="range" id="${u}-pos" data-k="pos" ` +
    `min="0" step="1" aria-describedby="${u}-pos-hint"><span class="mdx-val" id="${u}-pos-val"></span>` +
    `<span class="mdx-hint" id="${u}-pos-hint">arrow keys step through the name; or click a letter below</span></div>` +
    '</fieldset></div>' +
    `<div class="mlt-strip" role="group" aria-label="Positions (click to select)"></div>` +
    `<p class="mlt-summary" role="status" aria-live="polite" aria-atomic="true"></p>` +
    '<div class="mdx-views"><section class="mlt-v-attn"><h4>Self-attention</h4><div class="mdx-body" data-v="attn"></div></section>' +
    '<section class="mdx-v-dist"><h4>The residual stream</h4><div class="mdx-body" data-v="resid"></div></section>' +
    '<section class="mdx-v-dist"><h4>The next letter</h4><div class="mdx-body" data-v="next"></div></section></div>';
}

export function mount(id) {
  const mounted = rootOf('lookthrough', id);
  if (!mounted) return null;
  const { root, data } = mounted;
  const model = modelOf(data), reg = registry('lookthroughs'), u = `mlt${++reg.nextId}`;
  model.labels = data.labels; // each token's label as the book writes it (Tokenizer.labels)
  const ui = document.createElement('div');
  ui.className = 'mdx-ui';
  ui.innerHTML = markup(u, model, data.title);
  const $ = sel => ui.querySelector(sel);
  const nameEl = $(`#${u}-name`), posEl = $(`#${u}-pos`), msg = $(`#${u}-name-msg`), strip = $('.mlt-strip');
  const api = { root, id, title: data.title, model, renders: 0, shown: traceName(model, data.name), pos: data.pos };

  const draw = () => {
    const tr = api.shown, pos = api.pos;
    posEl.max = String(tr.tokens.length - 1);
    posEl.value = String(pos);
    posEl.setAttribute('aria-valuetext', `position ${pos}, reading ${tokenText(model, tr.tokens[pos])}`);
    $(`#${u}-pos-val`).textContent = `${pos} of ${tr.tokens.length - 1}: reads ${tokenText(model, tr.tokens[pos])}`;
    strip.innerHTML = tr.tokens.map((t, j) => `<button type="button" tabindex="-1" data-p="${j}" aria-pressed="${j === pos}" ` +
      `aria-label="position ${j}: ${esc(tokenText(model, t))}">${esc(tokenText(model, t))}</button>`).join('');
    $('[data-v=attn]').innerHTML = attentionHTML(model, tr, pos);
    $('[data-v=resid]').innerHTML = residualHTML(model, tr, pos);
    $('[data-v=next]').innerHTML = nextHTML(model, tr, pos, data.top);
    $('.mlt-summary').textContent = summaryText(model, tr, pos);
    api.renders++;
  };

  // every value checked before anything changes; a new name alone selects its last position
  const set = ({ name, pos } = {}) => {
    const tr = name === undefined ? api.shown : traceName(model, name);
    const p = pos === undefined ? (name === undefined ? api.pos : tr.tokens.length - 1) : pos;
    if (!Number.isInteger(p) || p < 0 || p >= tr.tokens.length) {
      throw new Error(`pos must be an integer in [0, ${tr.tokens.length - 1}] (a position of BOS + '${tr.name}'), got ${p}`);
    }
    api.shown = tr;
    api.pos = p;
    draw();
  };
  nameEl.value = api.shown.name;
  const hint = `letters ${model.uchars.join('')}, at most ${model.cfg.block_size - 1}`;
  nameEl.addEventListener('input', () => {
    try {
      set({ name: nameEl.value });
      nameEl.removeAttribute('aria-invalid');
      msg.textContent = hint;
    } catch (e) {
      nameEl.setAttribute('aria-invalid', 'true');
      msg.textContent = e.message; // the view keeps the last name that fits
    }
  });
  posEl.addEventListener('input', () => set({ pos: Number(posEl.value) }));
  strip.addEventListener('click', ev => {
    const b = ev.target.closest('button[data-p]');
    if (b) set({ pos: Number(b.dataset.p) });
  });
  Object.assign(api, {
    trace: name => traceName(model, name),
    state: () => ({ name: api.shown.name, pos: api.pos }),
    set,
  });
  msg.textContent = hint;
  draw(); // then the UI replaces the static fallback (which stays if anything above failed)
  const fallback = root.querySelector('.mdx-fallback');
  if (fallback) fallback.replaceWith(ui); else root.append(ui);
  reg._lookthroughs.push(api);
  return api;
}

// microdnb's explorer, its markup: the controls and the empty sections the views fill, as
// HTML strings (explorer.js puts them in the page once; explorer_render.js keeps them in step
// with the settings). Every control is a native labelled input in Tab order, its ids unique on
// the page (u: this explorer's prefix), its role named by data-k (and data-s: its stream).
// `show` lists the parts the explorer shows (explorer.py PARTS): the views of SECTIONS by
// key, and 'gate' for the gate slider and its two buttons; a part not listed is not built.

import { esc } from './html.js';
import { tokenText } from './explorer_views.js';

// The controls, in Tab order; ids are page-unique (u = this explorer's prefix)
export function controlsHTML(u, model, R, show) {
  const range = (k, label, [lo, hi], step, hint = '') => `<div class="mdx-row"><label for="${u}-${k}">${label}</label>` +
    `<input type="range" id="${u}-${k}" data-k="${k}" min="${lo}" max="${hi}" step="${step}"${hint ? ` aria-describedby="${u}-${k}-hint"` : ''}>` +
    `<span class="mdx-val" id="${u}-${k}-val"></span>${hint ? `<span class="mdx-hint" id="${u}-${k}-hint">${hint}</span>` : ''}</div>`;
  // per stream, one row: its start letter and its prompt (the letters it is given to write first). All
  // R.streams[1] rows are always there (beyond the streams in use: disabled), so changing the
  // number of streams moves no control on the page.
  const letters = model.uchars.map((ch, i) => `<option value="${esc(ch)}">${esc(tokenText(model, i))}</option>`).join('');
  const perStream = `<div class="mdx-streams"><div class="mdx-srow mdx-shead" aria-hidden="true"><span></span>` +
    `<span>start letter</span><span>prompt</span></div>` +
    Array.from({ length: R.streams[1] }, (_, s) => `<div class="mdx-srow" data-stream-row="${s}">` +
      `<span class="mdx-sname">Stream ${s}</span>` +
      `<label class="mdx-sr" for="${u}-start${s}">Stream ${s} start letter</label><select id="${u}-start${s}" ` +
      `data-k="start" data-s="${s}" aria-describedby="${u}-start-hint"><option value="">none</option>${letters}</select>` +
      `<label class="mdx-sr" for="${u}-prompt${s}">Stream ${s} prompt</label><input type="text" id="${u}-prompt${s}" ` +
      `data-k="prompt" data-s="${s}" maxlength="${model.cfg.block_size - 1}" autocomplete="off" spellcheck="false" ` +
      `aria-describedby="${u}-prompt${s}-msg"><span class="mdx-hint" id="${u}-prompt${s}-msg"></span></div>`).join('') +
    `<p class="mdx-hint" id="${u}-start-hint">Start letter: the letter a stream starts from instead of the start ` +
    `token, its input at position 0 and its plan seed's (the copy task's leader is given its name's first letter). ` +
    `Prompt: letters it is made to write first, without a draw.</p></div>`;
  return `<div class="mdx-controls">` +
    `<fieldset><legend>Notes</legend>` + (show.includes('gate')
      ? `${range('gate', 'SNC gate', R.gate, 0.01, 'multiplies what SNC adds; 0 = the trunk alone')}` +
        `<div class="mdx-row mdx-buttons"><button type="button" data-k="trained">As trained</button>` +
        `<button type="button" data-k="nonotes">No notes (gate 0)</button></div>` : '') +
    range('cadence', 'Cadence', R.cadence, 1, 'a stream posts a note after every this many positions') +
    range('lag', 'Lag', R.lag, 1, 'rounds before a posted note is readable') + '</fieldset>' +
    `<fieldset><legend>Decoding</legend><div class="mdx-row"><label for="${u}-streams">Streams</label>` +
    `<select id="${u}-streams" data-k="streams">` +
    Array.from({ length: R.streams[1] - R.streams[0] + 1 }, (_, i) => `<option>${R.streams[0] + i}</option>`).join('') +
    `</select></div>${range('temperature', 'Temperature', R.temperature, 0.05, 'lower: more likely letters')}` +
    `<div class="mdx-row"><label for="${u}-seed">Seed</label><input type="number" id="${u}-seed" data-k="seed" ` +
    `min="${R.seed[0]}" max="${R.seed[1]}" step="1" inputmode="numeric" aria-describedby="${u}-seed-msg">` +
    `<span class="mdx-hint" id="${u}-seed-msg">of the random draws</span></div>${perStream}</fieldset>` +
    `<fieldset><legend>Look at one step</legend><div class="mdx-row"><label for="${u}-stream">Stream</label>` +
    `<select id="${u}-stream" data-k="stream">` +
    Array.from({ length: R.streams[1] }, (_, s) => `<option value="${s}">stream ${s}</option>`).join('') + '</select></div>' +
    range('pos', 'Position', [0, model.cfg.block_size - 1], 1, 'or click a cell of the timeline') + '</fieldset></div>';
}

// The views, in page order: the key of their section (mdx-v-KEY) and its heading
export const SECTIONS = [['names', 'Names'], ['timeline', 'The parallel decode'], ['attn', 'SNC attention over the bus'],
  ['dist', 'Next character: with notes and without'], ['delta', 'How much the notes change the residual']];

// The sections `show` asks for, in page order
export const shownSections = show => SECTIONS.filter(([k]) => show.includes(k));

// The whole explorer: a lead line, the controls, the views' sections, a polite live region
export function explorerHTML(u, model, R, title, show) {
  return `<p class="mdx-lead"><strong>${esc(title)}</strong> <span>The model runs in this page: ` +
    `change a control and it decodes again.</span></p>${controlsHTML(u, model, R, show)}<div class="mdx-views">` +
    shownSections(show).map(([k, t]) => `<section class="mdx-v-${k}" aria-labelledby="${u}-h-${k}"><h4 id="${u}-h-${k}">${t}</h4>` +
      `<div class="mdx-body"${model.cfg.block_size > 24 && k !== 'names' ? ` tabindex="0" role="region" aria-label="${t}"` : ''}></div></section>`).join('') +
    `</div><div class="mdx-sr" role="status" aria-live="polite" aria-atomic="true"></div>`;
}

// microdnb's trainer, its markup: the controls, the buttons, the curve's canvas and the
// numbers beside it, as one HTML string (trainer.js puts it in the page once). Every control
// is a native labelled input in Tab order, its id unique on the page (u: this trainer's
// prefix), its setting named by data-k. Which controls a chapter offers, and their extent,
// come from Python (the payload's `controls`, trainer.py CONTROLS): nothing is decided here.

import { esc } from './text.js';

// One control from its descriptor {k, label, type: 'number' | 'range' | 'select', min, max,
// step, options: [[value, label], ...], hint}
function controlHTML(u, c) {
  const id = `${u}-${c.k}`, hint = c.hint ? ` aria-describedby="${id}-hint"` : '';
  const input = c.type === 'select'
    ? `<select id="${id}" data-k="${c.k}"${hint}>` +
      c.options.map(([v, t]) => `<option value="${esc(v)}">${esc(t)}</option>`).join('') + '</select>'
    : `<input type="${c.type}" id="${id}" data-k="${c.k}" min="${c.min}" max="${c.max}" step="${c.step}"` +
      `${c.type === 'number' ? ' inputmode="decimal"' : ''}${hint}>`;
  return `<div class="mdx-row"><label for="${id}">${esc(c.label)}</label>${input}` +
    (c.type === 'range' ? `<span class="mdx-val" id="${id}-val"></span>` : '') +
    (c.hint ? `<span class="mdx-hint" id="${id}-hint">${esc(c.hint)}</span>` : '') + '</div>';
}

// The whole trainer: a lead line, the controls and buttons, the curve with its numbers and
// text alternative, the samples, and a polite live region for the progress
export function trainerHTML(u, title, lead, controls, canExplore) {
  return `<p class="mdx-lead"><strong>${esc(title)}</strong> <span>${esc(lead)}</span></p>` +
    `<div class="mdx-controls"><fieldset><legend>Settings</legend>${controls.map(c => controlHTML(u, c)).join('')}` +
    `</fieldset><fieldset><legend>Run</legend><div class="mdx-row mdx-buttons">` +
    `<button type="button" data-k="train">Train</button><button type="button" data-k="stop" disabled>Stop</button></div>` +
    `<div class="mdx-row mdx-buttons"><button type="button" data-k="download" disabled>Download checkpoint</button>` +
    (canExplore ? `<button type="button" data-k="explore" disabled>Explore what you trained</button>` : '') +
    `</div><p class="mdx-hint" id="${u}-run-hint">Training runs in a background worker of this page: ` +
    `the page stays responsive, and Stop ends it at any step.</p></fieldset></div>` +
    `<div class="mdx-curve"><canvas class="mdx-canvas" width="640" height="260" role="img" ` +
    `aria-describedby="${u}-numbers"></canvas>` +
    `<dl class="mdx-numbers" id="${u}-numbers"></dl></div>` +
    `<p class="mdx-key mdx-hint" id="${u}-key"></p>` +
    `<section class="mdx-samples" aria-labelledby="${u}-h-samples"><h4 id="${u}-h-samples">Samples</h4>` +
    `<div class="mdx-body" data-k="samples"></div></section>` +
    `<div class="mdx-sr" role="status" aria-live="polite" aria-atomic="true"></div>`;
}

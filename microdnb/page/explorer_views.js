// microdnb's explorer, its views: pure functions from a decode (engine.js decode's result)
// to HTML strings, which explorer_render.js puts into the page. No state, no DOM, no dependencies.
//
// Each view takes v = {model (loadCheckpoint's), res (engine.js decode's result), step (stepContext's),
// colors (one CSS colour per stream), settings (the decode's)}. The views, for one decode
// and one selected step (a stream at a position):
//   namesHTML        the sampled names, given letters (a start letter, a prompt) underlined
//   timelineHTML     streams x positions, each cell the character drawn; who posted a note
//                    when; for the selected step, the notes it reads and those posted but
//                    not yet readable (the lag); how many passes run one after another
//                    (sequentialPasses)
//   attentionHTML    SNC attention of the selected step, per layer and head, over the notes
//                    on the bus, laid out like the timeline; unreadable notes hatched
//   distributionHTML the next-character distribution with notes against the trunk alone
//   deltaHTML        the size of SNC's update against the residual it is added to
//   summaryText      one sentence for the live region (v.show: the parts shown; the
//                    distribution only if it is)
// Every number is written out: colour is a second cue, never the only one.

import { esc } from './html.js';

// How the book names a note (figures/notes_bus.py bus_label): 'plan s0', 's1@p2'
export const busLabel = (s, r) => (r === null ? `plan s${s}` : `s${s}@p${r}`);
const key = (s, r) => `${s}:${r === null ? 'plan' : r}`;

// A token as the reader sees it: its label as the book writes it (Tokenizer.labels, from the
// payload: the character, and data.BOS_TEXT for BOS, the start and end of a name), ␠ for a space
export const tokenText = (model, t) => (model.uchars[t] === ' ' ? '\u2420' : model.labels[t]);

// One shape per stream beside its colour (figures/style.py STREAM_MARKERS: o s ^ D v P X *)
const SHAPES = ['<circle cx="5" cy="5" r="4.3"/>', '<rect x="1" y="1" width="8" height="8"/>',
  '<path d="M5 .5 9.7 9.3H.3z"/>', '<path d="M5 .2 9.8 5 5 9.8.2 5z"/>', '<path d="M.3.7h9.4L5 9.5z"/>',
  '<path d="M3.5 0h3v3.5H10v3H6.5V10h-3V6.5H0v-3h3.5z"/>', '<path d="M1.5 0 5 3.5 8.5 0 10 1.5 6.5 5 10 8.5 8.5 10 5 6.5 1.5 10 0 8.5 3.5 5 0 1.5z"/>',
  '<path d="M5 0l1.5 3.4 3.5.3-2.7 2.4.9 3.6L5 7.8 1.8 9.7l.9-3.6L0 3.7l3.5-.3z"/>'];
export const marker = (s, colors) => `<svg class="mdx-mark" viewBox="0 0 10 10" width="10" height="10" aria-hidden="true" ` +
  `focusable="false" fill="${colors[s % colors.length]}">${SHAPES[s % SHAPES.length]}</svg>`;
const streamName = (s, colors) => `${marker(s, colors)}stream\u00a0${s}`;

const note = text => `<p class="mdx-note-text">${text}</p>`;
const pct = (p, digits = 1) => (p === 0 ? '0' : p < 0.5 * 10 ** -(digits + 2) ? '<' + (10 ** -digits) : (100 * p).toFixed(digits));
// a size or a ratio in 3 significant digits, exponent form outside [0.001, 10000)
const fmt = x => (x === 0 ? '0' : Math.abs(x) < 1e-3 || Math.abs(x) >= 1e4 ? x.toExponential(2) : x.toPrecision(3));

// The selected step and the bus as it stands then: the other streams' notes in bus order
// (each stream's plan seed, then its posts oldest first), each with its index in the
// step's read list (ev.notes) or -1 if it was posted but is not readable yet.
export function stepContext(res, stream, pos) {
  const S = res.texts.length;
  stream = Math.min(Math.max(stream, 0), S - 1);
  const mine = res.events.filter(e => e.stream === stream);
  const ev = mine.find(e => e.pos === pos) ?? mine[mine.length - 1];
  const read = new Map(ev.notes.map(([s, r], j) => [key(s, r), j]));
  const notes = [];
  for (let s = 0; s < S; s++) {
    if (s === stream) continue;
    notes.push({ s, r: null, j: read.get(key(s, null)) ?? -1 });
    for (const p of res.posts) { // posted before this step: an earlier round, or this round by an earlier stream
      if (p.stream === s && (p.round < ev.pos || (p.round === ev.pos && s < stream))) {
        notes.push({ s, r: p.round, j: read.get(key(s, p.round)) ?? -1 });
      }
    }
  }
  return { ev, stream, pos: ev.pos, last: mine[mine.length - 1].pos, notes,
           byKey: new Map(notes.map(n => [key(n.s, n.r), n])) };
}

// A stream's given letters: its start letter, then its prompt's
const givenCount = (model, res, s) => (res.starts[s] === null ? 0 : 1) +
  res.events.filter(e => e.stream === s && e.forced && e.token !== model.BOS).length;

export function namesHTML({ model, res, colors }) {
  return '<ul class="mdx-names">' + res.texts.map((text, s) => {
    const forced = givenCount(model, res, s);
    const chars = [...text];
    const name = chars.length ? `<u>${esc(chars.slice(0, forced).join(''))}</u>${esc(chars.slice(forced).join(''))}`
      : '<i>(empty)</i>';
    return `<li>${streamName(s, colors)}: <b class="mdx-name">${name}</b></li>`;
  }).join('') + '</ul>';
}

// The timeline's column headers: plan, then the positions
const posHead = (first, rounds) => `<thead><tr><th scope="col">${first}</th><th scope="col">plan</th>` +
  Array.from({ length: rounds }, (_, p) => `<th scope="col">${p}</th>`).join('') + '</tr></thead>';

export function timelineHTML({ model, res, step, colors, settings }) {
  const S = res.texts.length, at = Array.from({ length: S }, () => []);
  for (const e of res.events) at[e.stream][e.pos] = e;
  const posted = new Set(res.posts.map(p => key(p.stream, p.round)));
  const mark = (s, r) => { // what the selected step makes of note (s, r)
    const n = step.byKey.get(key(s, r));
    if (!n) return ['', ''];
    return n.j >= 0 ? [' mdx-read', '<span class="mdx-sr">, readable now</span>']
      : [' mdx-wait', '<span class="mdx-sr">, posted but not readable yet</span>'];
  };
  let h = `<table class="mdx-grid mdx-tl"><caption>The character each stream draws at each position</caption>` +
    posHead('stream', res.rounds) + '<tbody>';
  for (let s = 0; s < S; s++) {
    const [c, t] = s === step.stream ? ['', ''] : mark(s, null);
    const given = res.starts[s] === null ? '' : esc(tokenText(model, model.uchars.indexOf(res.starts[s])));
    h += `<tr><th scope="row">${streamName(s, colors)}</th><td class="mdx-note mdx-plan${c}">plan` +
      `<span class="mdx-sr"> seed${given ? ', from its start letter' : ''}</span>` +
      `${given ? ` <u class="mdx-given">${given}</u>` : ''}${t}</td>`;
    for (let p = 0; p < res.rounds; p++) {
      const e = at[s][p];
      if (!e) { h += '<td></td>'; continue; }
      const post = posted.has(key(s, p));
      const [cls, txt] = s === step.stream ? ['', ''] : post ? mark(s, p) : ['', ''];
      const sel = s === step.stream && p === step.pos;
      h += `<td data-s="${s}" data-p="${p}" class="${post ? 'mdx-note' : ''}${cls}${sel ? ' mdx-sel' : ''}` +
        `${e.token === model.BOS ? ' mdx-end' : ''}${e.forced ? ' mdx-forced' : ''}"` +
        `${sel ? ' aria-current="true"' : ''}>${esc(tokenText(model, e.token))}` +
        `${e.forced ? '<span class="mdx-sr"> (prompt)</span>' : ''}${post ? '<span class="mdx-sr">, posts a note</span>' : ''}` +
        `${txt}${sel ? '<span class="mdx-sr">, selected step</span>' : ''}</td>`;
    }
    h += '</tr>';
  }
  const passes = sequentialPasses(res, settings), extra = passes - res.rounds;
  return h + '</tbody></table>' + note(`A corner flag: the stream posted a note after that position; plan: its ` +
    `plan seed${res.starts.some(c => c !== null) ? ' (an underlined letter: computed from that start letter)' : ''}. ` +
    `For the selected step (thick frame) a solid frame marks a note it reads, a dashed hatched one ` +
    `a note posted but not readable yet (lag ${settings.lag}). Click a cell to select its step.`) +
    note(`${res.steps} steps in ${res.rounds} rounds: ${passes} decoding passes one after another when every pass that ` +
    `can be batched is (measure.forward_passes), plus one before them for the plan seeds. ${settings.lag === 0
      ? `At lag 0 a later stream reads what an earlier one posts in the same round, so in a round where the streams ` +
        `post they run one at a time: ${extra} pass${extra === 1 ? '' : 'es'} more than rounds.`
      : `At lag ${settings.lag} no stream reads a note of its own round, so every round is one pass.`}`);
}

// Decoding passes one after another when every pass that can be batched is batched, as
// study/measure.py forward_passes counts them (vector.round_passes): a round
// is one pass, except at lag 0 in a round where the streams post ((p + 1) % cadence == 0):
// there a later stream reads what an earlier one posts in that round, so the round's
// streams run one at a time. The plan seeds (one pass before round 0) are not counted.
export function sequentialPasses(res, { cadence, lag }) {
  const live = new Map(); // round -> how many streams step in it
  for (const e of res.events) live.set(e.pos, (live.get(e.pos) || 0) + 1);
  let total = 0;
  for (const [p, n] of live) total += lag === 0 && (p + 1) % cadence === 0 ? n : 1;
  return total;
}

export function attentionHTML({ model, res, step, colors, settings }) {
  const { ev } = step, L = model.cfg.n_layer, H = model.cfg.n_head, S = res.texts.length;
  const head = `SNC attention of stream ${step.stream} at position ${step.pos}, in % per head`;
  const more = note(`Rows: layer, head and the stream whose notes are read; columns: its plan seed, and pN for ` +
    `the note posted after position N. Hatched "wait": posted but not readable yet under lag ${settings.lag}. ` +
    `The gate (${fmt(res.gate)}) scales what SNC adds, not where it looks.`);
  if (!step.notes.length) return `<p>${head}: no other stream, nothing on the bus to read.</p>`;
  const cols = [-1, ...new Set(step.notes.filter(n => n.r !== null).map(n => n.r))].sort((a, b) => a - b);
  let h = `<table class="mdx-grid mdx-attn"><caption>${head}</caption><thead><tr><th scope="col">layer, head, ` +
    `notes of</th>${cols.map(r => `<th scope="col">${r < 0 ? 'plan' : `p${r}`}</th>`).join('')}</tr></thead><tbody>`;
  for (let li = 0; li < L; li++) {
    for (let hd = 0; hd < H; hd++) {
      for (let s = 0; s < S; s++) {
        if (s === step.stream) continue;
        h += `<tr><th scope="row">` +
          `${L > 1 ? `L${li}\u00a0` : ''}h${hd} \u00b7 ${streamName(s, colors)}</th>`;
        for (const r of cols) {
          const n = step.byKey.get(key(s, r < 0 ? null : r));
          if (!n) { h += '<td></td>'; continue; }
          const label = busLabel(n.s, n.r);
          if (n.j < 0) {
            h += `<td class="mdx-wait" data-note="${label}" title="${label}: not readable yet">wait</td>`;
          } else {
            const w = ev.snc[li][hd][n.j];
            h += `<td class="mdx-read" data-note="${label}" title="${label}: ${pct(w, 2)}%">` +
              `<span class="mdx-heat" style="opacity:${(0.08 + 0.92 * w).toFixed(3)}"></span>${pct(w, 0)}</td>`;
          }
        }
        h += '</tr>';
      }
    }
  }
  return h + '</tbody></table>' + more;
}

// The k most likely next tokens under either distribution, with notes and trunk alone
export function topTokens(ev, k) {
  const ids = Array.from(ev.probs, (_, i) => i);
  ids.sort((a, b) => Math.max(ev.probs[b], ev.probsTrunk[b]) - Math.max(ev.probs[a], ev.probsTrunk[a]) || a - b);
  return ids.slice(0, k);
}

export function distributionHTML({ model, step, settings }, k = 8) {
  const { ev } = step;
  let tv = 0;
  for (let i = 0; i < ev.probs.length; i++) tv += Math.abs(ev.probs[i] - ev.probsTrunk[i]);
  const bar = (p, cls) => `<span class="mdx-track"><span class="mdx-bar ${cls}" style="width:${(100 * p).toFixed(2)}%"></span></span>`;
  let h = `<table class="mdx-dist"><caption>Stream ${step.stream}, position ${step.pos}: ` +
    `${ev.forced ? 'the prompt gives' : 'draws'} <b>${esc(tokenText(model, ev.token))}</b>; top ${k}, in %</caption>` +
    '<thead><tr><th scope="col">next</th><th scope="col">with notes</th><th scope="col">trunk alone</th></tr></thead><tbody>';
  for (const t of topTokens(ev, k)) {
    const drawn = t === ev.token;
    h += `<tr${drawn ? ' class="mdx-drawn"' : ''}><th scope="row">${esc(tokenText(model, t))}` +
      `${drawn ? ' <span class="mdx-tag">drawn</span>' : ''}</th>` +
      `<td>${bar(ev.probs[t], 'mdx-with')}<span class="mdx-num">${pct(ev.probs[t])}</span></td>` +
      `<td>${bar(ev.probsTrunk[t], 'mdx-trunk')}<span class="mdx-num">${pct(ev.probsTrunk[t])}</span></td></tr>`;
  }
  return h + '</tbody></table>' + note(`At temperature ${settings.temperature}: with the notes (solid bars) and ` +
    `the trunk alone, gate 0 (hatched bars). The notes move ${pct(tv / 2)}% of the probability.`);
}

export function deltaHTML({ model, res, step }) {
  const { ev } = step, L = model.cfg.n_layer;
  const ratios = res.events.map(e => e.deltaNorm.map((d, li) => (e.residNorm[li] > 0 ? d / e.residNorm[li] : 0)));
  let h = `<table class="mdx-delta"><caption>Stream ${step.stream}, position ${step.pos}</caption><thead><tr><th scope="col">layer</th><th scope="col">|\u03b4|</th>` +
    '<th scope="col">|x|</th><th scope="col">|\u03b4| / |x|</th><th scope="col">all steps: mean, max</th></tr></thead><tbody>';
  for (let li = 0; li < L; li++) {
    const r = ev.residNorm[li] > 0 ? ev.deltaNorm[li] / ev.residNorm[li] : 0;
    const all = ratios.map(x => x[li]), mean = all.reduce((a, b) => a + b, 0) / all.length;
    h += `<tr><th scope="row">${li}</th><td>${fmt(ev.deltaNorm[li])}</td><td>${fmt(ev.residNorm[li])}</td>` +
      `<td><span class="mdx-track"><span class="mdx-bar mdx-with" style="width:${Math.min(100, 100 * r).toFixed(2)}%">` +
      `</span></span><span class="mdx-num">${fmt(r)}</span></td><td>${fmt(mean)}, ${fmt(Math.max(...all))}</td></tr>`;
  }
  return h + '</tbody></table>' + note(`|\u03b4| is the size of SNC's gated update (gate ${fmt(res.gate)}), |x| the ` +
    `residual stream it is added to; the bar fills at |\u03b4| = |x|.`);
}

export function summaryText({ model, res, step, show }, k = 3) {
  const { ev } = step;
  const names = res.texts.map(t => t || '(empty)').join(', ');
  const top = p => topTokens({ probs: p, probsTrunk: p }, k).map(t => `${tokenText(model, t)} ${pct(p[t], 0)}%`).join(', ');
  const readable = step.notes.filter(n => n.j >= 0).length;
  return `Names: ${names}. Stream ${step.stream} at position ${step.pos} reads ${readable} of ${step.notes.length} ` +
    `notes` + (show.includes('dist') ? `; next character with notes: ${top(ev.probs)}; trunk alone: ${top(ev.probsTrunk)}.` : '.');
}

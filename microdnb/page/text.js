// How the page's views write text: HTML-escaped strings, tokens as the book labels them, and
// numbers (percentages, sizes). Shared by the explorer (explorer_views.js, explorer_markup.js,
// explorer_render.js) and the look-through (lookthrough.js); no dependencies.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = s => String(s).replace(/[&<>"']/g, c => ESC[c]);

// A token as the reader sees it: its label as the book writes it (Tokenizer.labels, from the
// payload: the character, and data.BOS_TEXT for BOS, the start and end of a name), ␠ for a space
export const tokenText = (model, t) => (model.uchars[t] === ' ' ? '\u2420' : model.labels[t]);

// a probability in %, with `digits` after the point ('<0.1' below what that shows)
export const pct = (p, digits = 1) => (p === 0 ? '0' : p < 0.5 * 10 ** -(digits + 2) ? '<' + (10 ** -digits) : (100 * p).toFixed(digits));
// a size or a ratio in 3 significant digits, exponent form outside [0.001, 10000)
export const fmt = x => (x === 0 ? '0' : Math.abs(x) < 1e-3 || Math.abs(x) >= 1e4 ? x.toExponential(2) : x.toPrecision(3));

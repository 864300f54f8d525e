// Text into HTML: the one escape every view and markup module of the page uses.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// `s` as HTML text or an attribute value (quotes escaped too)
export const esc = s => String(s).replace(/[&<>"']/g, c => ESC[c]);

"""The look-through: one forward pass of the GPT opened up in the reader's page.

``lookthrough(params, cfg, tokenizer, name='isabella')`` returns a `LookThrough`, which a
notebook shows as one self-contained ``text/html`` output, built as the explorer's is
(explorer.py): a root ``<div class="microdnb-lookthrough" data-microdnb-lookthrough="ID">``
holding its CSS (view.css, the rules it shares with the explorer, scoped to this root; and
lookthrough.css), the model
(`explorer.model_payload`: the checkpoint's fields, the trunk's weights as base64 float64; the
notes bus's, which the trunk never reads, are left out and filled with zeros in the page) and a static
fallback computed here with the numpy engine (`trace`); then one inline module script
(MODULES, joined by `inline.module_code`) ending in ``mount("ID")``.

In the page the reader types a name. For the selected position (a slider, the arrow keys, or a
click on a letter) the view shows what the trunk computes there, with engine.js's `forward`
(its trace hook): each head's attention over the positions so far, per layer; the size |x| of
the residual stream after each stage (the embeddings, RMSNorm, each layer's attention and
MLP); and the next-letter distribution. ``window.microdnb.lookthroughs`` lists the
look-throughs (see the top of lookthrough.js): ``trace(name)`` gives those numbers for every
position, the same as `trace` here to ~1e-14 (tests/test_lookthrough_page.py).
"""
from __future__ import annotations

import html

from .. import vector
from ..params import base_keys
from ..sampling import check_prompt
from .explorer import checked_model, model_payload
from .inline import page_output, view_stylesheet

__all__ = ['LookThrough', 'lookthrough', 'trace']

# the look-through's ES modules, each importing only from those before it
MODULES = ('pyrandom.js', 'settings.js', 'engine.js', 'payload.js', 'text.js', 'lookthrough.js')
TOP = 5   # letters shown in the next-letter distribution (the true next one is always shown too)


def trace(params, cfg, tokenizer, name):
    """The forward pass over BOS and `name`'s letters, with the numpy engine (vector.gpt_trace):
    {name, tokens, positions}, per position {pos, token (the one read), next (the true next
    token: the name's next letter, or BOS after its last), attn [layer][head] weights over
    positions 0..pos, resid [[stage, layer, |x|]] (gpt_trace's stages), logits, probs}.
    `name`: a string of the vocabulary's characters, shorter than block_size (sampling.check_prompt)."""
    if name is not None and not isinstance(name, str):
        raise ValueError(f"lookthrough: name must be a string of the letters {''.join(tokenizer.uchars)!r}, "
                         f"got {type(name).__name__}")
    ids = [t for t in check_prompt(name, tokenizer, cfg, 'lookthrough: name') if t is not None]
    tokens = [tokenizer.BOS] + ids
    t = vector.gpt_trace(params, cfg, tokens)
    probs = vector.softmax(t['logits'])
    return {'name': name or '', 'tokens': tokens, 'positions': [
        {'pos': p, 'token': tokens[p], 'next': (ids + [tokenizer.BOS])[p],
         'attn': t['attn'][:, :, p, :p + 1].tolist(),
         'resid': [[stage, layer, float(norms[p])] for stage, layer, norms in t['resid']],
         'logits': t['logits'][p].tolist(), 'probs': probs[p].tolist()} for p in range(len(tokens))]}


class LookThrough:
    """One look-through, ready to display: ``html`` (the text/html output), ``title``,
    ``name`` and ``pos`` (what it opens on), ``trace`` (the numpy engine's numbers for that name)."""

    def __init__(self, html_text, title, name, pos, trace_):
        self.html, self.title, self.name, self.pos, self.trace = html_text, title, name, pos, trace_

    def __repr__(self):
        return f"<lookthrough {self.title!r}: {self.name!r} at position {self.pos}>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {'text/html': self.html, 'text/plain': repr(self)}

    def _repr_html_(self):
        return self.html


def _fallback(title, tr, labels):
    """What a reader without JavaScript sees: at each position, the letter read and the model's
    top guess for the next one."""
    rows = ''.join(
        f'<li>position {p["pos"]} reads <b>{html.escape(labels[p["token"]])}</b>: top guess '
        f'<b>{html.escape(labels[top])}</b> ({100 * p["probs"][top]:.1f}%), the true next '
        f'<b>{html.escape(labels[p["next"]])}</b> {100 * p["probs"][p["next"]]:.1f}%</li>'
        for p in tr['positions'] for top in [max(range(len(p['probs'])), key=p['probs'].__getitem__)])
    return (f'<div class="mdx-fallback"><p><strong>{html.escape(title)}</strong></p>'
            f'<p>This view runs the model in the page and needs JavaScript (in Jupyter: run the cell, or '
            f'trust the notebook). Reading <b>{html.escape(tr["name"])}</b>, the model\'s guesses:</p>'
            f'<ul>{rows}</ul></div>')


def lookthrough(params, cfg, tokenizer, name='isabella', *, pos=None, title=None):
    """A look-through of this model's trunk (any engine's params, with its ModelConfig and
    Tokenizer), opening on `name` (a string of the vocabulary's characters, shorter than
    block_size; '' reads BOS alone) at position `pos` (0 .. len(name); default the last).
    Returns a `LookThrough` (display it, or take `.html`). Anything that does not fit is a
    one-line ValueError naming it."""
    title, doc, arrays = checked_model('lookthrough', params, cfg, tokenizer, title or 'Look through the forward pass')
    tr = trace(arrays, cfg, tokenizer, name)
    last = len(tr['tokens']) - 1
    if pos is None:
        pos = last
    if isinstance(pos, bool) or not isinstance(pos, int) or not 0 <= pos <= last:
        raise ValueError(f"lookthrough: pos must be an integer in [0, {last}] (a position of BOS + {tr['name']!r}), "
                         f"got {pos!r:.40}")
    payload = {'title': title, **model_payload(doc, cfg, carried=base_keys(cfg)), 'name': tr['name'], 'pos': pos, 'top': TOP,
               'labels': tokenizer.labels}
    css = view_stylesheet('lookthrough', 'lookthrough.css')
    page = page_output('lookthrough', title, payload, MODULES, css, _fallback(title, tr, tokenizer.labels))
    return LookThrough(page, title, tr['name'], pos, tr)

"""The explorer: the model itself in the reader's page, decoding again on every control change.

``explorer(params, cfg, tokenizer, bus_cfg)`` returns an `Explorer`, which a notebook shows
as one self-contained ``text/html`` output (about 100 kB for the reference model):

- a root ``<div class="microdnb-explorer" data-microdnb-explorer="ID">`` holding its CSS
  (``explorer.css``, every rule scoped to the root), the model as JSON (the fields of the
  checkpoint ``save_checkpoint`` writes, with the weights as base64 of their little-endian
  float64 bytes, so they arrive bit for bit) and a static fallback computed here with the
  numpy engine: the names the default settings decode, and a note that the explorer needs
  JavaScript;
- one inline ``<script type="module">``: the ES modules of MODULES (this folder's .js files),
  joined by `inline.module_code` (no bundler, nothing fetched), ending in ``mount("ID")``,
  which finds its root by that data attribute (a module has no ``document.currentScript``)
  and replaces the fallback with the controls and views.

The same output works on the static book (myst-nb copies text/html into the page; the
browser runs the module; file:// too, since nothing is imported from a URL) and in
JupyterLab, which runs the scripts of trusted outputs: there it shows the model the
reader has just trained. In the page, ``window.microdnb.explorers`` lists the explorers
(see the top of explorer.js): ``checkpoint()`` gives the model as a checkpoint file's text,
``decode(settings)`` the names for any settings.

Typical use in a chapter::

    from microdnb.page.explorer import explorer
    explorer(params, cfg, tokenizer, REFERENCE_BUS, title="Open the gate", settings={'streams': 3})

A chapter shows only what it has taught: ``show=BUS_PARTS`` (chapter 6: the names and the
parallel decode, with the cadence, lag and decoding controls) leaves out SNC's attention, the
distributions with and without the notes, the delta and the gate control (chapter 7 on).
"""
from __future__ import annotations

import base64
import hashlib
import html
import random

import numpy as np

from .. import vector
from ..checkpoint import checkpoint_doc
from ..config import LIMITS, REFERENCE_BUS, BusConfig, Range, check_int, limits_json
from ..params import param_shapes
from ..sampling import DECODE_LIMITS, check_prompts, check_starts
from ..figures.style import STREAM_COLORS
from .inline import json_for_script, module_code, stylesheet

__all__ = ['BUS_PARTS', 'Explorer', 'PARTS', 'RANGES', 'explorer', 'explorer_page']

# the explorer's ES modules, each importing only from those before it
MODULES = ('pyrandom.js', 'settings.js', 'engine.js', 'html.js', 'explorer_views.js', 'explorer_state.js',
           'explorer_markup.js', 'explorer_render.js', 'registry.js', 'explorer.js')
# What the controls offer (and `settings` may ask for), within config.LIMITS (a test keeps them
# there). The page gets both, as its payload's 'ranges' and 'limits' (config.limits_json):
# the controls' extent, and what x.decode(settings) accepts.
RANGES = {'gate': (0.0, 1.0), 'cadence': (1, 8), 'lag': (0, 2), 'streams': (2, 4),
          'temperature': (0.1, 2.0), 'seed': (0, 2 ** 32 - 1)}
DEFAULTS = {'gate': None, 'temperature': 0.5, 'seed': 42, 'prompts': None, 'starts': None}
SETTINGS = ('gate', 'cadence', 'lag', 'streams', 'temperature', 'seed', 'prompts', 'starts', 'stream', 'pos')
# What an explorer can show (`show`), in page order: the views (names; the parallel decode, a
# timeline; SNC's attention at one step; the next-character distribution with the notes and
# with the trunk alone; the size of SNC's delta against the residual) and the gate control
# (the slider and its two buttons). The cadence, lag and decoding controls are always there.
PARTS = ('names', 'timeline', 'attn', 'dist', 'delta', 'gate')
REQUIRED_PARTS = ('names', 'timeline')
BUS_PARTS = ('names', 'timeline')   # what chapter 6 has taught: the bus, cadence, lag, timeline, names


class Explorer:
    """One explorer, ready to display: ``html`` (the text/html output), ``names`` (what the
    initial settings decode, per stream), ``settings`` (the initial settings, checked),
    ``show`` (the parts it shows, in PARTS order)."""

    def __init__(self, html_text, title, names, settings, n_params, show=PARTS):
        self.html, self.title, self.names, self.settings = html_text, title, names, settings
        self.n_params, self.show = n_params, tuple(show)

    def __repr__(self):
        s = self.settings
        gate = 'as trained' if s['gate'] is None else f"{s['gate']:g}"
        shown = '' if self.show == PARTS else f"showing {', '.join(self.show)}; "
        return (f"<explorer {self.title!r}: {shown}a {self.n_params:,}-parameter model, {s['streams']} streams, "
                f"cadence {s['cadence']}, lag {s['lag']}"
                + (f", gate {gate}" if 'gate' in self.show else '')
                + f", temperature {s['temperature']:g}, "
                f"seed {s['seed']}: {' | '.join(n or '(empty)' for n in self.names)}>")

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {'text/html': self.html, 'text/plain': repr(self)}

    def _repr_html_(self):
        return self.html


def _check_settings(settings, cfg, tokenizer, bus):
    """The initial settings, with defaults from `bus` and DEFAULTS, each within RANGES; the
    prompts and start letters checked by sampling's checkers, and padded to one per stream."""
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise ValueError(f"explorer: settings must be a dict or None, got {type(settings).__name__}")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValueError(f"explorer: unknown setting(s) {', '.join(map(repr, unknown))}; the settings are {', '.join(SETTINGS)}")
    s = {**DEFAULTS, 'cadence': bus.cadence, 'lag': bus.lag, 'streams': bus.n_streams, **settings}
    for k, (low, high) in RANGES.items():
        where = ' (from bus_cfg: pass it in settings)' if k not in settings and k in ('cadence', 'lag', 'streams') else ''
        allowed = Range(LIMITS[DECODE_LIMITS[k]].kind, low, high)   # as the page's checkSetting builds it
        s[k] = None if k == 'gate' and s[k] is None else allowed.check(s[k], f"explorer: settings {k}{where}")
    check_prompts(s['prompts'], s['streams'], tokenizer, cfg, 'explorer: settings prompts')
    check_starts(s['starts'], s['streams'], tokenizer, 'explorer: settings starts')
    for k in ('prompts', 'starts'):
        s[k] = [v or '' for v in s[k] or []] + [''] * (s['streams'] - len(s[k] or []))
    s['stream'] = check_int(s.get('stream', min(1, s['streams'] - 1)), 'explorer: settings stream', 0, s['streams'] - 1)
    if s.get('pos') is not None:
        s['pos'] = check_int(s['pos'], 'explorer: settings pos', 0, cfg.block_size - 1)
    return s


def _check_show(show, settings):
    """The parts to show, in PARTS order (None: all of them)."""
    if show is None:
        return PARTS
    if isinstance(show, str) or not isinstance(show, (list, tuple, set, frozenset)):
        raise ValueError(f"explorer: show must be a list of parts from {', '.join(PARTS)}, got {show!r:.80}")
    unknown = [p for p in show if p not in PARTS]
    if unknown:
        raise ValueError(f"explorer: show has unknown part(s) {', '.join(map(repr, unknown))}; the parts are "
                         f"{', '.join(PARTS)}")
    missing = [p for p in REQUIRED_PARTS if p not in show]
    if missing:
        raise ValueError(f"explorer: show must include {' and '.join(REQUIRED_PARTS)}, got {sorted(set(show))}")
    if 'gate' not in show and settings and settings.get('gate') is not None:
        raise ValueError("explorer: settings gate needs the gate control: add 'gate' to show, or leave the gate as trained")
    return tuple(p for p in PARTS if p in show)


def _fallback_decode(arrays, cfg, tokenizer, s):
    """The initial settings' decode with the numpy engine (the page's engine.js draws the same)."""
    return vector.sample_parallel(arrays, cfg, BusConfig(n_streams=s['streams'], cadence=s['cadence'], lag=s['lag']),
                                  tokenizer, random.Random(s['seed']), s['temperature'], record=True, gate=s['gate'],
                                  prompts=[p or None for p in s['prompts']], starts=s['starts'])


def _default_pos(trace, stream):
    """The first step of `stream` that can read a posted note (not only plan seeds), else its last."""
    steps = [ev for ev in trace['events'] if ev['stream'] == stream]
    return next((ev['pos'] for ev in steps if any(r is not None for _, r in ev['notes'])), steps[-1]['pos'])


def explorer(params, cfg, tokenizer, bus_cfg=None, *, title=None, settings=None, meta=None, show=None):
    """An explorer of this model (any engine's params with its ModelConfig and Tokenizer).

    bus_cfg: the bus it was trained with (default REFERENCE_BUS): the initial streams,
    cadence and lag, and the checkpoint's `bus`. settings: initial values of the controls,
    each optional: gate (None = as trained, or in [0, 1]), cadence (1-8), lag (0-2), streams
    (2-4), temperature (0.1-2), seed (0 to 2**32 - 1), prompts (per stream a string of the
    vocabulary's characters, or None), starts (per stream None for the start token, or its start
    letter, the one character it starts from: its input at position 0 and its plan seed's, as the
    copy task's leader is given its name's first letter; the names then begin with it), stream
    and pos (the step the attention and distribution views show; default stream 1 at its first
    step that reads a posted note).
    meta: the checkpoint's meta dict. show: the parts to show, from PARTS (default all;
    'names' and 'timeline' always; BUS_PARTS is chapter 6's). Returns an `Explorer` (display
    it, or take `.html`).
    Anything that does not fit is a one-line ValueError naming it.
    """
    if tokenizer.vocab_size != cfg.vocab_size:
        raise ValueError(f"explorer: the tokenizer has {tokenizer.vocab_size} tokens but cfg.vocab_size is "
                         f"{cfg.vocab_size}: use the tokenizer the model was trained with")
    if title is not None and not isinstance(title, str):
        raise ValueError(f"explorer: title must be a string or None, got {type(title).__name__}")
    title = ' '.join((title or 'Explore the model').split())
    doc = checkpoint_doc(params, cfg, tokenizer, bus_cfg, meta, caller='explorer')
    arrays = vector.params_from(doc['params'])
    shown = _check_show(show, settings if isinstance(settings, dict) else None)
    s = _check_settings(settings, cfg, tokenizer, bus_cfg or REFERENCE_BUS)
    layout = [[name, rows, cols] for name, (rows, cols) in param_shapes(cfg).items()]
    weights = b''.join(np.array(doc['params'][name], dtype='<f8').tobytes() for name, _, _ in layout)
    trace = _fallback_decode(arrays, cfg, tokenizer, s)
    if s.get('pos') is None:
        s['pos'] = _default_pos(trace, s['stream'])
    payload = {'title': title, 'checkpoint': {k: v for k, v in doc.items() if k != 'params'}, 'layout': layout,
               'params': base64.b64encode(weights).decode('ascii'), 'settings': s, 'ranges': RANGES,
               'limits': limits_json(DECODE_LIMITS), 'colors': list(STREAM_COLORS), 'labels': tokenizer.labels,
               'show': list(shown)}
    data = json_for_script(payload)
    code, css = module_code(MODULES), stylesheet('page.css') + '\n' + stylesheet('explorer.css')
    uid = 'x' + hashlib.sha256('\0'.join((data, code, css)).encode()).hexdigest()[:16]
    names = trace['texts']
    gate = ('' if 'gate' not in shown else f"the gate as trained ({vector.gate_value(arrays):.3f}), "
            if s['gate'] is None else f"gate {s['gate']:g}, ")
    said = ', '.join(f"stream {i} <b>{html.escape(n) if n else '(empty)'}</b>" for i, n in enumerate(names))
    fallback = (f'<div class="mdx-fallback"><p><strong>{html.escape(title)}</strong></p>'
                f'<p>This explorer runs the model in the page and needs JavaScript (in Jupyter: run the cell, '
                f'or trust the notebook).</p><p>With {gate}cadence {s["cadence"]}, lag {s["lag"]}, '
                f'{s["streams"]} streams, temperature {s["temperature"]:g} and seed {s["seed"]}'
                + ''.join(f', stream {i} given the start letter <b>{html.escape(c)}</b>' for i, c in enumerate(s['starts']) if c)
                + f', the model '
                f'writes: {said}.</p></div>')
    page = (f'<div class="microdnb-explorer" data-microdnb-explorer="{uid}" role="group" '
            f'aria-label="{html.escape(title)}"><style>{css}</style>'
            f'<script type="application/json" class="mdx-data">{data}</script>{fallback}</div>\n'
            f'<script type="module">\n{code}\n__mdx_explorer.mount("{uid}");\n</script>\n')
    return Explorer(page, title, names, s, cfg.n_params, shown)


def explorer_page(explorers, title='microdnb explorer'):
    """A whole HTML page holding these explorers (for tests, benchmarks, or to open a model
    in a browser without a notebook)."""
    if isinstance(explorers, Explorer):
        explorers = [explorers]
    if not explorers or not all(isinstance(e, Explorer) for e in explorers):
        raise ValueError("explorer_page needs a list of Explorer objects (from explorer(...))")
    body = '\n'.join(e.html for e in explorers)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(title)}</title></head>\n<body><main>\n{body}\n</main></body></html>\n')

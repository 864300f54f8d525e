"""The explorer: the model itself in the reader's page, decoding again on every control change.

``explorer(params, cfg, tokenizer, bus_cfg)`` returns an `Explorer`, which a notebook shows
as one self-contained ``text/html`` output (about 100 kB for the reference model):

- a root ``<div class="microdnb-explorer" data-microdnb-explorer="ID">`` holding its CSS
  (every rule scoped to the root), the model as JSON (the checkpoint ``save_checkpoint``
  writes, with the weights as base64 of their little-endian float64 bytes, so they arrive
  bit for bit) and a static fallback computed here with the numpy engine: the names the
  default settings decode, and a note that the explorer needs JavaScript;
- one inline ``<script type="module">``: the package's ``js/pyrandom.js``, ``js/engine.js``,
  ``js/explorer_views.js`` and ``js/explorer.js``, each wrapped in a function whose
  imports and exports become plain names (no bundler, nothing fetched), ending in
  ``mount("ID")``, which finds its root by that data attribute (a module has no
  ``document.currentScript``) and replaces the fallback with the controls and views.

The same output works on the static book (myst-nb copies text/html into the page; the
browser runs the module; file:// too, since nothing is imported from a URL) and in
JupyterLab, which runs the scripts of trusted outputs: there it shows the model the
reader has just trained. In the page, ``window.microdnb.explorers`` lists the explorers
(see the top of js/explorer.js): ``checkpoint()`` gives the model as the JSON text
``save_checkpoint`` writes, ``decode(settings)`` the names for any settings.

Typical use in a chapter::

    from microdnb.figures.explorer import explorer
    explorer(params, cfg, tokenizer, REFERENCE_BUS, title="Open the gate", settings={'streams': 3})
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import random
import re
from pathlib import Path

import numpy as np

from .. import vector
from ..checkpoint import checkpoint_doc
from ..config import REFERENCE_BUS, BusConfig, Range, check_int, limits_json
from ..params import param_shapes
from ..sampling import DECODE_LIMITS, check_prompts, check_starts
from .style import STREAM_COLORS

__all__ = ['Explorer', 'RANGES', 'explorer', 'explorer_page']

JS_DIR = Path(__file__).resolve().parents[1] / 'js'
MODULES = ('pyrandom.js', 'engine.js', 'explorer_views.js', 'explorer.js')   # each imports only from earlier ones
# What the controls offer (and `settings` may ask for), within config.LIMITS (a test keeps them
# there). The page gets both, as its payload's 'ranges' and 'limits' (config.limits_json):
# the controls' extent, and what x.decode(settings) accepts.
RANGES = {'gate': (0.0, 1.0), 'cadence': (1, 8), 'lag': (0, 2), 'streams': (2, 4),
          'temperature': (0.1, 2.0), 'seed': (0, 2 ** 32 - 1)}
DEFAULTS = {'gate': None, 'temperature': 0.5, 'seed': 42, 'prompts': None, 'starts': None}
SETTINGS = ('gate', 'cadence', 'lag', 'streams', 'temperature', 'seed', 'prompts', 'starts', 'stream', 'pos')


class Explorer:
    """One explorer, ready to display: ``html`` (the text/html output), ``names`` (what the
    initial settings decode, per stream), ``settings`` (the initial settings, checked)."""

    def __init__(self, html_text, title, names, settings, n_params):
        self.html, self.title, self.names, self.settings = html_text, title, names, settings
        self.n_params = n_params

    def __repr__(self):
        s = self.settings
        gate = 'as trained' if s['gate'] is None else f"{s['gate']:g}"
        return (f"<explorer {self.title!r}: a {self.n_params:,}-parameter model, {s['streams']} streams, "
                f"cadence {s['cadence']}, lag {s['lag']}, gate {gate}, temperature {s['temperature']:g}, "
                f"seed {s['seed']}: {' | '.join(n or '(empty)' for n in self.names)}>")

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {'text/html': self.html, 'text/plain': repr(self)}

    def _repr_html_(self):
        return self.html


def _as_arrays(params, cfg):
    """Any engine's parameters (rows of Values or floats, 2-D arrays) as float64 arrays of
    exactly cfg's matrices; ValueError naming the first that does not fit."""
    if not isinstance(params, dict) or not params:
        raise ValueError(f"explorer: params must be a dict name -> matrix (any engine's), got {type(params).__name__}")
    shapes = param_shapes(cfg)
    missing, extra = [n for n in shapes if n not in params], sorted(set(params) - set(shapes))
    if missing or extra:
        raise ValueError(f"explorer: params do not match the config ({cfg}): "
                         + '; '.join(f"{what} {', '.join(map(repr, names[:4]))}{' ...' if len(names) > 4 else ''}"
                                     for what, names in (('missing', missing), ('not in it', extra)) if names))
    arrays = {}
    for name, shape in shapes.items():
        try:
            m = params[name].tolist() if hasattr(params[name], 'tolist') else params[name]  # numpy: plain floats
            arr = np.array([[float(getattr(v, 'data', v)) for v in row] for row in m], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"explorer: params[{name!r}] is not a {shape[0]}x{shape[1]} matrix of numbers") from None
        if arr.shape != shape:
            raise ValueError(f"explorer: params[{name!r}] is {'x'.join(map(str, arr.shape))}, but the config "
                             f"needs {shape[0]}x{shape[1]}")
        if not np.isfinite(arr).all():
            raise ValueError(f"explorer: params[{name!r}] has a non-finite number")
        arrays[name] = arr
    return arrays


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
        allowed = Range('float' if isinstance(low, float) else 'int', low, high)
        s[k] = None if k == 'gate' and s[k] is None else allowed.check(s[k], f"explorer: settings {k}{where}")
    check_prompts(s['prompts'], s['streams'], tokenizer, cfg, 'explorer: settings prompts')
    s['first'] = check_starts(s['starts'], s['streams'], tokenizer, 'explorer: settings starts')
    for k in ('prompts', 'starts'):
        s[k] = [v or '' for v in s[k] or []] + [''] * (s['streams'] - len(s[k] or []))
    s['stream'] = check_int(s.get('stream', min(1, s['streams'] - 1)), 'explorer: settings stream', 0, s['streams'] - 1)
    if s.get('pos') is not None:
        s['pos'] = check_int(s['pos'], 'explorer: settings pos', 0, cfg.block_size - 1)
    return s


def _fallback_decode(arrays, cfg, tokenizer, s, first):
    """The initial settings' decode with the numpy engine (the page's engine.js draws the same),
    `first` the streams' first tokens, its texts with a given first letter in front, as the page
    shows them."""
    trace = vector.sample_parallel(arrays, cfg, BusConfig(n_streams=s['streams'], cadence=s['cadence'], lag=s['lag']),
                                   tokenizer, random.Random(s['seed']), s['temperature'], record=True, gate=s['gate'],
                                   prompts=[p or None for p in s['prompts']], first_tokens=first)
    trace['texts'] = [c + t for c, t in zip(s['starts'], trace['texts'])]
    return trace


def _default_pos(trace, stream):
    """The first step of `stream` that can read a posted note (not only plan seeds), else its last."""
    steps = [ev for ev in trace['events'] if ev['stream'] == stream]
    return next((ev['pos'] for ev in steps if any(r is not None for _, r in ev['notes'])), steps[-1]['pos'])


_IMPORT = re.compile(r"^import \{([^}]*)\}\s*from '\./([\w.]+)';[ \t]*$", re.MULTILINE)
_EXPORT = re.compile(r"^export (?=(?:async\s+)?(?:function\*?|class|const|let)\s+([A-Za-z_$][\w$]*))", re.MULTILINE)


def _strip_comments(src):
    """Drop whole-line // comments and blank lines (the package's files keep them)."""
    return '\n'.join(line for line in src.splitlines() if line.strip() and not line.lstrip().startswith('//'))


def module_code():
    """The three ES modules as one script: each wrapped in a function returning its exports,
    its imports turned into names read from the modules before it."""
    parts, exports = [], {}
    for file in MODULES:
        src = (JS_DIR / file).read_text(encoding='utf-8')
        var = '__mdx_' + file[:-3]

        def imported(m, file=file):
            names, source = [n.strip() for n in m.group(1).split(',') if n.strip()], m.group(2)
            if source not in exports or not set(names) <= exports[source]:
                raise RuntimeError(f"{file}: imports {names} from {source!r}, which does not export them")
            return f"const {{ {', '.join(names)} }} = __mdx_{source[:-3]};"
        body = _IMPORT.sub(imported, src)
        exports[file] = set(_EXPORT.findall(body))
        body = _EXPORT.sub('', body)
        if re.search(r'^\s*(import|export)\b', body, re.MULTILINE) or re.search(r'</script|<!--', body, re.IGNORECASE):
            raise RuntimeError(f"{file}: an import/export form the inliner does not handle, or '</script'")
        parts.append(f"const {var} = (() => {{\n{_strip_comments(body)}\nreturn {{ {', '.join(sorted(exports[file]))} }};\n}})();")
    return '\n'.join(parts)


def _css():
    css = re.sub(r'/\*.*?\*/', '', (JS_DIR / 'explorer.css').read_text(encoding='utf-8'), flags=re.DOTALL)
    return re.sub(r'\s*\n\s*', '\n', css).strip()


def _json_for_script(obj):
    """JSON safe inside <script>: no '<', '>' or '&' characters (escaped as \\u003c ...)."""
    text = json.dumps(obj, allow_nan=False, separators=(',', ':'))
    return text.replace('<', '\\u003c').replace('>', '\\u003e').replace('&', '\\u0026')


def explorer(params, cfg, tokenizer, bus_cfg=None, *, title=None, settings=None, meta=None):
    """An explorer of this model (any engine's params with its ModelConfig and Tokenizer).

    bus_cfg: the bus it was trained with (default REFERENCE_BUS): the initial streams,
    cadence and lag, and the checkpoint's `bus`. settings: initial values of the controls,
    each optional: gate (None = as trained, or in [0, 1]), cadence (1-8), lag (0-2), streams
    (2-4), temperature (0.1-2), seed (0 to 2**32 - 1), prompts (per stream a string of the
    vocabulary's characters, or None), starts (per stream None for the start token, or the one
    character it starts from: its input at position 0 and its plan seed's, as the copy task's
    leader is given its name's first letter; the names then begin with it), stream and pos (the step the attention and
    distribution views show; default stream 1 at its first step that reads a posted note).
    meta: the checkpoint's meta dict. Returns an `Explorer` (display it, or take `.html`).
    Anything that does not fit is a one-line ValueError naming it.
    """
    if tokenizer.vocab_size != cfg.vocab_size:
        raise ValueError(f"explorer: the tokenizer has {tokenizer.vocab_size} tokens but cfg.vocab_size is "
                         f"{cfg.vocab_size}: use the tokenizer the model was trained with")
    if title is not None and not isinstance(title, str):
        raise ValueError(f"explorer: title must be a string or None, got {type(title).__name__}")
    title = ' '.join((title or 'Explore the model').split())
    arrays = _as_arrays(params, cfg)
    s = _check_settings(settings, cfg, tokenizer, bus_cfg or REFERENCE_BUS)
    doc = checkpoint_doc(arrays, cfg, tokenizer, bus_cfg, meta, caller='explorer')
    assert list(doc)[-1] == 'params'
    empty = json.dumps({**doc, 'params': {}}, allow_nan=False)   # save_checkpoint's json.dump, params left out
    head = empty[:-len('{}}')]
    assert empty.endswith('"params": {}}')
    layout = [[name, rows, cols] for name, (rows, cols) in param_shapes(cfg).items()]
    weights = b''.join(np.array(doc['params'][name], dtype='<f8').tobytes() for name, _, _ in layout)
    trace = _fallback_decode(arrays, cfg, tokenizer, s, s.pop('first'))
    if s.get('pos') is None:
        s['pos'] = _default_pos(trace, s['stream'])
    payload = {'title': title, 'head': head, 'layout': layout, 'params': base64.b64encode(weights).decode('ascii'),
               'settings': s, 'ranges': RANGES, 'limits': limits_json(DECODE_LIMITS), 'colors': list(STREAM_COLORS)}
    data = _json_for_script(payload)
    code, css = module_code(), _css()
    uid = 'x' + hashlib.sha256('\0'.join((data, code, css)).encode()).hexdigest()[:16]
    names = trace['texts']
    gate = (f"the gate as trained ({vector.gate_value(arrays):.3f})" if s['gate'] is None
            else f"gate {s['gate']:g}")
    said = ', '.join(f"stream {i} <b>{html.escape(n) if n else '(empty)'}</b>" for i, n in enumerate(names))
    fallback = (f'<div class="mdx-fallback"><p><strong>{html.escape(title)}</strong></p>'
                f'<p>This explorer runs the model in the page and needs JavaScript (in Jupyter: run the cell, '
                f'or trust the notebook).</p><p>With {gate}, cadence {s["cadence"]}, lag {s["lag"]}, '
                f'{s["streams"]} streams, temperature {s["temperature"]:g} and seed {s["seed"]}'
                + ''.join(f', stream {i} given the first letter <b>{html.escape(c)}</b>' for i, c in enumerate(s['starts']) if c)
                + f', the model '
                f'writes: {said}.</p></div>')
    page = (f'<div class="microdnb-explorer" data-microdnb-explorer="{uid}" role="group" '
            f'aria-label="{html.escape(title)}"><style>{css}</style>'
            f'<script type="application/json" class="mdx-data">{data}</script>{fallback}</div>\n'
            f'<script type="module">\n{code}\n__mdx_explorer.mount("{uid}");\n</script>\n')
    return Explorer(page, title, names, s, cfg.n_params)


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

"""Checkpoints: parameters + configs + vocabulary as strict JSON (no pickle), written atomically.

Floats are written with repr(), which round-trips exactly, so save -> load gives
bit-identical parameters. A file is written to a temporary name and renamed, so a
crash mid-write never leaves a truncated checkpoint behind (fileio.atomic_write).

Only finite numbers are written (json.dump(..., allow_nan=False), and a non-finite
parameter is refused by name before anything is written). Reading refuses, with one line
naming the file and the field: a path that is missing, a directory, a FIFO, a symbolic
link loop or unreadable; a file over MAX_BYTES; JSON nested deeper than MAX_DEPTH;
NaN / Infinity / out-of-range numbers; wrong types; configs out of range; wrong shapes.
"""
import json
import math
from dataclasses import asdict

from .config import BusConfig, ModelConfig
from .data import Tokenizer
from .fileio import as_path, atomic_write, load_json
from .params import float_rows, param_shapes

FORMAT = 'microdnb-checkpoint-v1'
MAX_BYTES = 50_000_000   # config.MAX_PARAMS (2,000,000) numbers at ~22 bytes each fit under it
MAX_DEPTH = 32           # a checkpoint nests 4 levels; `meta` gets some room


def checkpoint_doc(state_dict, cfg, tokenizer, bus_cfg=None, meta=None, caller='checkpoint_doc'):
    """The checkpoint as a JSON-ready dict, checked: what `save_checkpoint` writes with
    json.dump(doc, f, allow_nan=False), for callers that need it without a file (the
    in-page explorer embeds it). `caller` names the function in error messages."""
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"{caller} needs a ModelConfig, got {type(cfg).__name__}")
    if bus_cfg is not None and not isinstance(bus_cfg, BusConfig):
        raise ValueError(f"{caller}: bus_cfg must be a BusConfig or None, got {type(bus_cfg).__name__}")
    if meta is not None and not isinstance(meta, dict):
        raise ValueError(f"{caller}: meta must be a dict or None, got {type(meta).__name__}")
    if not isinstance(tokenizer, Tokenizer):
        raise ValueError(f"{caller} needs a Tokenizer, got {type(tokenizer).__name__}")
    params = _checked_params(state_dict, cfg, caller)
    if tokenizer.vocab_size != cfg.vocab_size:
        raise ValueError(f"tokenizer has {tokenizer.vocab_size} tokens but cfg.vocab_size = {cfg.vocab_size}")
    doc = {'format': FORMAT, 'model': asdict(cfg), 'bus': asdict(bus_cfg) if bus_cfg else None,
           'uchars': ''.join(tokenizer.uchars), 'meta': meta or {}, 'params': params}
    try:  # meta is the caller's: it must be JSON too, and finite
        json.dumps(doc['meta'], allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{caller}: meta cannot be written as strict JSON ({e})") from None
    return doc


def _checked_params(state_dict, cfg, caller):
    """Any engine's parameters as rows of floats (`params.float_rows`): exactly `cfg`'s
    matrices, each of its shape, every number finite; else ValueError naming the parameter."""
    params = float_rows(state_dict, f"{caller}: params")
    shapes = param_shapes(cfg)
    missing, extra = [n for n in shapes if n not in params], sorted(set(params) - set(shapes))
    if missing or extra:
        raise ValueError(f"{caller}: params do not match the config ({cfg}): "
                         + '; '.join(f"{what} {', '.join(map(repr, names[:4]))}{' ...' if len(names) > 4 else ''}"
                                     for what, names in (('missing', missing), ('not in it', extra)) if names))
    out = {}
    for name, (rows, cols) in shapes.items():
        m = params[name]
        if any(len(r) != len(m[0]) for r in m):
            raise ValueError(f"{caller}: params[{name!r}] is not a {rows}x{cols} matrix (its rows differ in length)")
        if (len(m), len(m[0]) if m else 0) != (rows, cols):
            raise ValueError(f"{caller}: params[{name!r}] is {len(m)}x{len(m[0]) if m else 0}, but the config "
                             f"needs {rows}x{cols}")
        for i, row in enumerate(m):
            for j, v in enumerate(row):
                if not math.isfinite(v):
                    raise ValueError(f"{caller}: params[{name!r}][{i}][{j}] is {v}: refusing to save a non-finite "
                                     f"parameter (did training diverge? try a smaller learning rate)")
        out[name] = m
    return out


def save_checkpoint(path, state_dict, cfg, tokenizer, bus_cfg=None, meta=None):
    """Write `state_dict` (Values or numpy arrays) with its configs to `path` atomically.

    An existing file is replaced (the command line asks for --force first). The folder
    must exist. Returns the Path written. The document is `checkpoint_doc`'s.
    """
    path = as_path(path, 'save_checkpoint: path')
    doc = checkpoint_doc(state_dict, cfg, tokenizer, bus_cfg, meta, caller='save_checkpoint')
    return atomic_write(path, lambda f: json.dump(doc, f, allow_nan=False))


def load_checkpoint(path, expect_cfg=None):
    """Read a checkpoint. Returns dict(params (name -> rows of floats), cfg, bus_cfg, tokenizer, meta).

    Turn `params` into an engine's parameters with that engine's `params_from`.

    Raises TypeError if `path` is not a file name, FileNotFoundError for a missing file,
    PermissionError for an unreadable one, and ValueError for anything else that does not
    fit: not a regular file, too large, not strict JSON, another format, a config out of
    range or different from `expect_cfg`, parameter shapes that do not match the file's
    own config. Every message is one line naming the file (and the field).
    """
    path = as_path(path, 'load_checkpoint: path')
    if expect_cfg is not None and not isinstance(expect_cfg, ModelConfig):
        raise TypeError(f"load_checkpoint: expect_cfg must be a ModelConfig or None, got {type(expect_cfg).__name__}")
    try:
        doc = load_json(path, 'checkpoint', MAX_BYTES, MAX_DEPTH)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e} (make one with `python -m microdnb train --out {path}`)") from None
    where = f"checkpoint {path}"
    if not isinstance(doc, dict) or doc.get('format') != FORMAT:
        raise ValueError(f"{where} is not a {FORMAT} file (its 'format' field)")
    for key, kinds, what in (('model', dict, 'an object'), ('uchars', str, 'a string'),
                             ('params', dict, 'an object'), ('bus', (dict, type(None)), 'an object or null'),
                             ('meta', dict, 'an object')):
        if key not in doc and key in ('bus', 'meta'):
            continue
        if not isinstance(doc.get(key), kinds):
            raise ValueError(f"{where}: field {key!r} is missing or not {what}: the file is damaged")
    try:  # unknown or missing fields (a hand-edited or newer file) are a TypeError here
        cfg = ModelConfig(**doc['model'])
    except TypeError as e:
        raise ValueError(f"{where}: field 'model' does not fit this version of microdnb ({e})") from None
    except ValueError as e:
        raise ValueError(f"{where}: field 'model': {e}") from None
    try:
        bus_cfg = BusConfig(**doc['bus']) if doc.get('bus') else None
    except TypeError as e:
        raise ValueError(f"{where}: field 'bus' does not fit this version of microdnb ({e})") from None
    except ValueError as e:
        raise ValueError(f"{where}: field 'bus': {e}") from None
    if expect_cfg is not None and cfg != expect_cfg:
        diff = {k: (v, getattr(cfg, k)) for k, v in asdict(expect_cfg).items() if getattr(cfg, k) != v}
        raise ValueError(f"{where} has a different model config: "
                         + ', '.join(f"{k} expected {a!r}, file has {b!r}" for k, (a, b) in diff.items()))
    try:
        tokenizer = Tokenizer(doc['uchars'])
    except ValueError as e:
        raise ValueError(f"{where}: field 'uchars': {e}") from None
    if tokenizer.vocab_size != cfg.vocab_size:
        raise ValueError(f"{where}: field 'uchars' has {len(doc['uchars'])} characters, which do not fit "
                         f"vocab_size {cfg.vocab_size}")
    shapes = param_shapes(cfg)
    params = doc['params']
    if set(params) != set(shapes):
        raise ValueError(f"{where}: parameters {sorted(set(params) ^ set(shapes))} "
                         f"do not match the config")
    state_dict = {}
    for name, (rows, cols) in shapes.items():
        m = params[name]
        if not isinstance(m, list) or len(m) != rows or any(not isinstance(r, list) or len(r) != cols for r in m):
            raise ValueError(f"{where}: parameter {name!r} is not {rows}x{cols} as its config says")
        for i, row in enumerate(m):
            for j, x in enumerate(row):
                if isinstance(x, bool) or not isinstance(x, (int, float)):
                    raise ValueError(f"{where}: params.{name}[{i}][{j}] is {x!r:.40}, not a number")
        # finite and within range already: fileio.parse_json refused NaN, Infinity, 1e400, huge ints
        state_dict[name] = [[float(x) for x in row] for row in m]
    return {'params': state_dict, 'cfg': cfg, 'bus_cfg': bus_cfg, 'tokenizer': tokenizer,
            'meta': doc.get('meta', {})}

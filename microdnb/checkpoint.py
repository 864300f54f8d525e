"""Checkpoints: parameters + configs + vocabulary as JSON (no pickle), written atomically.

Floats are written with repr(), which round-trips exactly, so save -> load gives
bit-identical parameters. A file is written to a temporary name and renamed, so a
crash mid-write never leaves a truncated checkpoint behind.
"""
import json
from dataclasses import asdict
from pathlib import Path

from .autograd import Value
from .config import BusConfig, ModelConfig
from .data import Tokenizer
from .fileio import atomic_write
from .model import param_shapes

FORMAT = 'microdnb-checkpoint-v1'


def _as_floats(matrix):
    """Rows of floats from rows of Values, or from a 2-D numpy array / nested lists of floats."""
    rows = matrix.tolist() if hasattr(matrix, 'tolist') else matrix
    return [[float(x.data) if isinstance(x, Value) else float(x) for x in row] for row in rows]


def save_checkpoint(path, state_dict, cfg, tokenizer, bus_cfg=None, meta=None):
    """Write `state_dict` (Values or numpy arrays) with its configs to `path` atomically."""
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"save_checkpoint needs a ModelConfig, got {type(cfg).__name__}")
    shapes = param_shapes(cfg)
    params = {}
    for name, (rows, cols) in shapes.items():
        if name not in state_dict:
            raise ValueError(f"state_dict has no parameter {name!r} required by {cfg}")
        m = _as_floats(state_dict[name])
        if len(m) != rows or any(len(r) != cols for r in m):
            raise ValueError(f"parameter {name!r} is not {rows}x{cols} as {cfg} requires")
        params[name] = m
    if tokenizer.vocab_size != cfg.vocab_size:
        raise ValueError(f"tokenizer has {tokenizer.vocab_size} tokens but cfg.vocab_size = {cfg.vocab_size}")
    doc = {'format': FORMAT, 'model': asdict(cfg), 'bus': asdict(bus_cfg) if bus_cfg else None,
           'uchars': ''.join(tokenizer.uchars), 'meta': meta or {}, 'params': params}
    return atomic_write(path, lambda f: json.dump(doc, f))


def load_checkpoint(path, expect_cfg=None):
    """Read a checkpoint. Returns dict(state_dict (Values), cfg, bus_cfg, tokenizer, meta).

    Raises FileNotFoundError for a missing file and ValueError for anything that does
    not fit: another format, a config that differs from `expect_cfg`, or parameter
    shapes that do not match the file's own config.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist (make one with `python -m microdnb train --out {path}`)")
    try:
        with open(path) as f:
            doc = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:  # text that is not JSON, or not text
        raise ValueError(f"checkpoint {path} is not valid JSON ({e}); was it written by microdnb?") from None
    if not isinstance(doc, dict) or doc.get('format') != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} file")
    for key, kind in (('model', dict), ('uchars', str), ('params', dict)):
        if not isinstance(doc.get(key), kind):
            raise ValueError(f"checkpoint {path} has no valid {key!r} entry: the file is damaged")
    try:  # unknown or missing fields (a hand-edited or newer file) are a TypeError here
        cfg = ModelConfig(**doc['model'])
        bus_cfg = BusConfig(**doc['bus']) if doc.get('bus') else None
    except TypeError as e:
        raise ValueError(f"checkpoint {path}: its configs do not fit this version of microdnb ({e})") from None
    if expect_cfg is not None and cfg != expect_cfg:
        diff = {k: (v, getattr(cfg, k)) for k, v in asdict(expect_cfg).items() if getattr(cfg, k) != v}
        raise ValueError(f"checkpoint {path} has a different model config: "
                         + ', '.join(f"{k} expected {a!r}, file has {b!r}" for k, (a, b) in diff.items()))
    tokenizer = Tokenizer(doc['uchars'])
    if tokenizer.vocab_size != cfg.vocab_size:
        raise ValueError(f"checkpoint {path}: {len(doc['uchars'])} characters do not fit vocab_size {cfg.vocab_size}")
    shapes = param_shapes(cfg)
    params = doc['params']
    if set(params) != set(shapes):
        raise ValueError(f"checkpoint {path}: parameters {sorted(set(params) ^ set(shapes))} "
                         f"do not match the config")
    state_dict = {}
    for name, (rows, cols) in shapes.items():
        m = params[name]
        if not isinstance(m, list) or len(m) != rows or any(not isinstance(r, list) or len(r) != cols for r in m):
            raise ValueError(f"checkpoint {path}: parameter {name!r} is not {rows}x{cols} as its config says")
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for r in m for x in r):
            raise ValueError(f"checkpoint {path}: parameter {name!r} holds something that is not a number")
        state_dict[name] = [[Value(float(x)) for x in row] for row in m]
    return {'state_dict': state_dict, 'cfg': cfg, 'bus_cfg': bus_cfg, 'tokenizer': tokenizer,
            'meta': doc.get('meta', {})}

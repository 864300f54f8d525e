"""Checkpoints: parameters + configs + vocabulary as strict JSON (no pickle), written atomically.

The format is the JSON Schema shipped beside this module, `checkpoint.schema.json`
(format 'microdnb-checkpoint-v1'). `check_doc` is its one checker, for the files
`load_checkpoint` reads and the documents `checkpoint_doc` builds alike, so that what
is written can be read back:
  * the file: at most MAX_BYTES (fileio.read_bytes), UTF-8, strict JSON parsed with the
    standard library (`parse_json`: no NaN or Infinity, no key twice in one object), at most
    MAX_DEPTH levels deep and within PARSE_CAPS, checked in one linear pass before anything
    is parsed, so that memory stays bounded;
  * the schema, validated with jsonschema: every field present, of its type, none unknown
    (except the numbers of `params`: 57 µs each in jsonschema, minutes for the largest
    model; Python checks them below, against the schema's own bound);
  * in Python what a schema cannot say: the configs within config.LIMITS, the vocabulary
    rule (data.check_characters), vocab_size = characters + 1, exactly the matrices of
    params.param_shapes with their shapes, every weight a number within +-MAX_WEIGHT,
    `meta` at most MAX_META_BYTES as JSON.
Every refusal is one line naming the file (or the function) and the field.

Floats are written with repr(), which round-trips exactly, so save -> load gives
bit-identical parameters. A file is written to a temporary name and renamed, so a
crash mid-write never leaves a truncated checkpoint behind (fileio.atomic_write).

MAX_WEIGHT = 1e9 (the schema's bound): Adam moves a weight by at most 2.89 learning rates
a step with the default betas (study.measure.adam_step_bound), so even the largest
settings config.LIMITS allow (learning rate 10, 10,000,000 steps a phase, decaying
linearly) keep every weight within 1.5e8 of its initial value. And within +-1e9, for every
model config.LIMITS allows, one pass of the trunk stays below about 1e56 (rmsnorm bounds
each layer's input, so a layer adds at most 5 n_embd^2 MAX_WEIGHT^2 to the residual),
far from float64's 1.8e308; 1e308 would overflow at the first matrix product. SNC reads
notes made from other streams' hidden states, so over many rounds it can compound: a
decode that overflows is refused by sampling.draw, which the command line reports
naming the checkpoint.
"""
import json
import math
import sys
from array import array
from dataclasses import asdict, fields, is_dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

from .config import BusConfig, ModelConfig, show
from .data import Tokenizer
from .fileio import as_path, atomic_write, read_bytes
from .params import float_rows, param_shapes

FORMAT = 'microdnb-checkpoint-v1'
SCHEMA_PATH = Path(__file__).resolve().parent / 'checkpoint.schema.json'
MAX_BYTES = 50_000_000       # config.MAX_PARAMS (2,000,000) numbers at ~22 bytes each fit under it
MAX_DEPTH = 10               # a checkpoint nests 4 levels; `meta` gets the rest
MAX_META_BYTES = 100_000
# Before parsing: every value takes 32-72 bytes once parsed, so these bound the memory a
# file of MAX_BYTES can take (about 160 MB), whatever it holds. A model within config.LIMITS
# has at most 2,000,000 weights in at most 21,921 rows; the rest is for meta.
PARSE_CAPS = {'values': 2_200_000, 'arrays and objects': 100_000, 'strings': 100_000, 'string bytes': MAX_META_BYTES}
MAX_JSON_DEPTH = 64      # parse_json's default
MAX_INT_DIGITS = 100     # integers in JSON: beyond this, refused (never converted)
_TYPES = {'object': 'an object', 'array': 'an array', 'string': 'a string', 'integer': 'an integer',
          'number': 'a number', 'null': 'null', 'boolean': 'true or false'}


SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding='utf-8'))
MAX_WEIGHT = SCHEMA['$defs']['weight']['maximum']   # 1e9: see the module's docstring


# ---- strict JSON ------------------------------------------------------------------------

class _Bad:
    """Marks a JSON value refused while parsing; the walk after parsing names its field."""
    __slots__ = ('text',)

    def __init__(self, text):
        self.text = text


_NOT_BRACKET = bytes(b for b in range(256) if b not in b'[]{}')   # deleted by translate
# a number's shape: its digits as '0', its exponent mark as 'e', the rest a space ('+' deleted)
_SHAPE = bytes(0x30 if 0x30 <= b <= 0x39 else 0x65 if b in b'eE' else 0x20 for b in range(256))
_DEPTH_STEP = bytes.maketrans(b'[{]}', b'\x01\x01\xff\xff')   # +1 / -1 as signed bytes


def _without_strings(raw):
    """(`raw` with its strings taken out, how many, the longest's length in bytes): one pass,
    each quote looked at once (memchr finds them), each backslash before a quote at most
    once, so linear (a regex that must find the closing quote restarts at every quote of an
    unclosed string: quadratic, 18-20 s for 80 kB of \\")."""
    view = memoryview(raw)   # slices of it are not copies
    pieces, strings, longest, start, i = [], 0, 0, 0, raw.find(b'"')
    while i >= 0:
        pieces.append(view[start:i])
        j = raw.find(b'"', i + 1)
        while j >= 0:  # a quote after an odd number of backslashes is escaped
            k = j
            while raw[k - 1] == 0x5C:
                k -= 1
            if (j - k) % 2 == 0:
                break
            j = raw.find(b'"', j + 1)
        end = len(raw) if j < 0 else j   # unclosed: to the end
        strings, longest, start = strings + 1, max(longest, end - i - 1), end + 1
        i = raw.find(b'"', start)
    pieces.append(view[start:])
    return b''.join(pieces), strings, longest


def _prescan(raw, source, max_depth, caps):
    """Refuse, in linear time and before json.loads allocates anything, JSON nested deeper
    than `max_depth` or holding more than caps['values'] values, caps['arrays and objects']
    containers, caps['strings'] strings or a string longer than caps['string bytes'] (a cap
    of None: no cap). Returns whether a number may be beyond the float range. Its copy of
    the text is gone when it returns, so the peak is about twice the file."""
    if caps.get('strings') is not None and raw.count(b'"') > 4 * caps['strings']:  # bounds the loop's work
        raise ValueError(f"{source} holds more than {4 * caps['strings']:,} quote characters: refused")
    skeleton, strings, longest = _without_strings(raw)
    if caps.get('string bytes') is not None and longest > caps['string bytes']:
        raise ValueError(f"{source} holds a string of {longest:,} bytes, over the {caps['string bytes']:,}-byte limit")
    containers = skeleton.count(b'[') + skeleton.count(b'{')
    counts = {'arrays and objects': containers, 'values': skeleton.count(b',') + containers + 1, 'strings': strings}
    for kind, count in counts.items():
        if caps.get(kind) is not None and count > caps[kind]:
            raise ValueError(f"{source} holds more than {caps[kind]:,} {kind}: refused")
    steps = array('b', skeleton.translate(_DEPTH_STEP, _NOT_BRACKET))
    if max(accumulate(steps), default=0) > max_depth:
        raise ValueError(f"{source} nests arrays/objects more than {max_depth} levels deep: refused")
    shape = skeleton.translate(_SHAPE, b'+')   # a float overflows only with an exponent over 99 or 300 digits
    return b'e000' in shape or b'0' * 300 in shape


def _field(parts):
    out = ''
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or '(the top level)'


def _find_bad(doc):
    stack = [(doc, ())]
    while stack:
        x, where = stack.pop()
        if isinstance(x, _Bad):
            return where, x
        if isinstance(x, dict):
            stack.extend((v, where + (k,)) for k, v in reversed(list(x.items())))
        elif isinstance(x, list) and not set(map(type, x)) <= {float, int}:  # a row of numbers holds none
            stack.extend((v, where + (i,)) for i, v in reversed(list(enumerate(x))))
    return None


def parse_json(raw, source, max_depth=MAX_JSON_DEPTH, caps=None):
    """Strict JSON from bytes: refuses non-UTF-8, nesting deeper than `max_depth`,
    more values / arrays and objects / strings than `caps` allows (see `_prescan`), NaN /
    Infinity, numbers beyond the float range, integers of over MAX_INT_DIGITS digits and a
    key given twice in one object, each with one ValueError line naming `source` (e.g.
    'checkpoint /x/ck.json') and the field."""
    huge = _prescan(raw, source, max_depth, caps or {})
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        raise ValueError(f"{source} is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}): "
                         f"is it a binary file?") from None
    bad = []

    def mark(text):
        bad.append(1)
        return _Bad(text)

    def constant(name):  # NaN, Infinity, -Infinity
        return mark(f"{name}, not a finite number")

    def integer(s):
        digits = len(s.lstrip('-'))
        if digits > MAX_INT_DIGITS:  # never converted: int() of a long one is slow or refused
            return mark(f"an integer of {digits} digits, over the limit of {MAX_INT_DIGITS}")
        return int(s)

    def real(s):
        x = float(s)
        if x in (float('inf'), float('-inf')):
            return mark(f"{s[:24]}{'...' if len(s) > 24 else ''}, beyond the range of a float")
        return x

    def pairs(items):
        obj = dict(items)
        if len(obj) < len(items):  # the last one would silently win
            seen = set()
            for key in [k for k, _ in items if k in seen or seen.add(k)]:
                obj[key] = mark("a key given more than once in its object")
        return obj
    try:
        doc = json.loads(text, parse_constant=constant, parse_int=integer, object_pairs_hook=pairs,
                         **({'parse_float': real} if huge else {}))   # a hook per number: only where needed
    except json.JSONDecodeError as e:
        raise ValueError(f"{source} is not valid JSON ({e.msg}: line {e.lineno} column {e.colno})") from None
    except RecursionError:  # _prescan should have caught it
        raise ValueError(f"{source} nests arrays/objects too deeply: refused") from None
    if bad:
        where, marker = _find_bad(doc)
        raise ValueError(f"{source}: {_field(where)} is {marker.text}")
    return doc


# ---- the schema and the rules --------------------------------------------------------------

@lru_cache(maxsize=None)
def _validator():
    """(the schema's jsonschema validator, jsonschema's best_match), imported when first needed."""
    # jsonschema imports every format checker it finds, among them rfc3987_syntax, which builds
    # ~35 Earley parsers on import (2-7 s; python-jsonschema/jsonschema#1428); our schema uses
    # no format, so that one is hidden while jsonschema is first imported.
    hide = 'jsonschema' not in sys.modules and 'rfc3987_syntax' not in sys.modules
    if hide:
        sys.modules['rfc3987_syntax'] = None
    try:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import best_match
    finally:
        if hide:
            del sys.modules['rfc3987_syntax']
    return Draft202012Validator(SCHEMA), best_match


def _schema_error(doc, where):
    """One line for the first way `doc` (its params' numbers left out) breaks the schema, or None."""
    validator, best_match = _validator()
    e = best_match(validator.iter_errors({**doc, 'params': dict.fromkeys(doc.get('params') or {}, [[0.0]])}
                                            if isinstance(doc.get('params'), dict) else doc))
    if e is None:
        return None
    field = '.'.join(map(str, e.absolute_path)) or 'the top level'
    if e.validator == 'required':
        missing = [k for k in e.validator_value if k not in e.instance]
        return f"{where}: {field} has no field {missing[0]!r} (every field is required)"
    if e.validator == 'additionalProperties':
        unknown = sorted(set(e.instance) - set(e.schema.get('properties', {})))
        return f"{where}: {field} has a field {unknown[0]!r:.60} that this version of microdnb does not know"
    if e.validator == 'type':
        kinds = [e.validator_value] if isinstance(e.validator_value, str) else e.validator_value
        return f"{where}: {field} must be {' or '.join(_TYPES[k] for k in kinds)}, got {show(e.instance)}"
    if 'propertyNames' in e.schema_path:
        return f"{where}: {field} has a matrix {e.instance!r:.60}, which is not a parameter name"
    return f"{where}: {field}: {e.message[:200]}"


def _check_matrix(name, m, shape, where):
    """`m` is rows x cols (shape) of numbers within +-MAX_WEIGHT; ValueError naming the first that is not."""
    rows, cols = shape
    widths = sorted({len(r) for r in m}) or [0]   # one width, unless its rows differ in length
    if (len(m), *widths) != shape:
        raise ValueError(f"{where}: params[{name!r}] is {len(m)}x{'/'.join(map(str, widths))}, "
                         f"but the config needs {rows}x{cols}")
    for i, row in enumerate(m):   # the fast path, in C; the sum is NaN if a number is (min and max may miss it)
        if set(map(type, row)) <= {float, int} and -MAX_WEIGHT <= min(row) and max(row) <= MAX_WEIGHT \
                and not math.isnan(sum(row)):
            continue
        for j, x in enumerate(row):
            if type(x) not in (float, int):
                raise ValueError(f"{where}: params.{name}[{i}][{j}] is {show(x)}, not a number")
            if not -MAX_WEIGHT <= x <= MAX_WEIGHT:
                raise ValueError(f"{where}: params.{name}[{i}][{j}] is {show(x)}, beyond +-{MAX_WEIGHT:,.0f}: "
                                 f"no trained model has weights that large")


def check_doc(doc, where):
    """The one checker of a checkpoint (see the module's docstring): returns (ModelConfig,
    BusConfig or None, Tokenizer) of `doc`, the parsed JSON, or raises ValueError naming
    `where` (e.g. 'checkpoint /x/ck.json') and the field."""
    if not isinstance(doc, dict) or doc.get('format') != FORMAT:
        raise ValueError(f"{where} is not a {FORMAT} file (its 'format' field)")
    error = _schema_error(doc, where)
    if error:
        raise ValueError(error)
    try:
        cfg = ModelConfig(**doc['model'])
    except ValueError as e:
        raise ValueError(f"{where}: field 'model': {e}") from None
    try:
        bus_cfg = None if doc['bus'] is None else BusConfig(**doc['bus'])
    except ValueError as e:
        raise ValueError(f"{where}: field 'bus': {e}") from None
    try:
        tokenizer = Tokenizer(doc['uchars'])
    except ValueError as e:
        raise ValueError(f"{where}: field 'uchars': {e}") from None
    if tokenizer.vocab_size != cfg.vocab_size:
        raise ValueError(f"{where}: field 'uchars' has {len(tokenizer.uchars)} characters, which do not fit "
                         f"vocab_size {cfg.vocab_size} (one token more, the start token)")
    try:
        size = len(json.dumps(doc['meta'], allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: meta cannot be written as strict JSON ({e})") from None
    if size > MAX_META_BYTES:
        raise ValueError(f"{where}: meta is {size:,} bytes as JSON, over the {MAX_META_BYTES:,}-byte limit")
    shapes = param_shapes(cfg)
    missing, extra = [n for n in shapes if n not in doc['params']], sorted(set(doc['params']) - set(shapes))
    if missing or extra:
        raise ValueError(f"{where}: params do not match the config ({cfg}): "
                         + '; '.join(f"{what} {', '.join(f'{n!r:.60}' for n in names[:4])}{' ...' if len(names) > 4 else ''}"
                                     for what, names in (('missing', missing), ('not in it', extra)) if names))
    for name, shape in shapes.items():
        _check_matrix(name, doc['params'][name], shape, where)
    return cfg, bus_cfg, tokenizer


def checkpoint_doc(state_dict, cfg, tokenizer, bus_cfg=None, meta=None, caller='checkpoint_doc'):
    """The checkpoint as a JSON-ready dict, its parameters read by `params.float_rows` (any
    engine's, as rows of finite floats) and the whole checked by `check_doc`: what `save_checkpoint`
    writes with json.dump(doc, f, allow_nan=False), for callers that need it without a file
    (the in-page explorer embeds it). `caller` names the function in error messages."""
    as_dict = (lambda c: asdict(c) if is_dataclass(c) else c)   # a dict that is not a config: check_doc says why
    doc = {'format': FORMAT, 'model': as_dict(cfg), 'bus': as_dict(bus_cfg), 'uchars': ''.join(tokenizer.uchars),
           'meta': {} if meta is None else meta, 'params': float_rows(state_dict, f"{caller}: params")}
    check_doc(doc, caller)
    return doc


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
    fit (`check_doc`), or a model config different from `expect_cfg` (a ModelConfig).
    Every message is one line naming the file (and the field).
    """
    path = as_path(path, 'load_checkpoint: path')
    where = f"checkpoint {path}"
    try:
        doc = parse_json(read_bytes(path, 'checkpoint', MAX_BYTES), where, MAX_DEPTH, PARSE_CAPS)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e} (make one with `python -m microdnb train --out {path}`)") from None
    cfg, bus_cfg, tokenizer = check_doc(doc, where)
    if expect_cfg is not None and cfg != expect_cfg:
        raise ValueError(f"{where} has a different model config: " + ', '.join(
            f"{f.name} expected {getattr(expect_cfg, f.name)!r}, file has {getattr(cfg, f.name)!r}"
            for f in fields(cfg) if getattr(cfg, f.name) != getattr(expect_cfg, f.name)))
    params = {name: [row if set(map(type, row)) == {float} else [float(x) for x in row] for row in m]
              for name, m in doc['params'].items()}   # JSON's integers (0) as floats too
    return {'params': params, 'cfg': cfg, 'bus_cfg': bus_cfg, 'tokenizer': tokenizer, 'meta': doc['meta']}

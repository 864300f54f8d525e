"""The checkpoint format's JSON Schema (microdnb/checkpoint.schema.json), the one vocabulary
rule, and the limits the page receives: each defined once, and the copies that must exist
(the README, the page's payload) kept equal to it."""
import json
import random
import re
import subprocess
import sys
import unicodedata

import pytest
from jsonschema import Draft202012Validator

from conftest import REPO, subprocess_env
from microdnb import checkpoint, vector
from microdnb.checkpoint import (MAX_BYTES, MAX_DEPTH, MAX_META_BYTES, MAX_WEIGHT, SCHEMA, SCHEMA_PATH,
                                 load_checkpoint, save_checkpoint)
from microdnb.config import LIMITS, MAX_PARAMS, BusConfig, ModelConfig, limits_json
from microdnb.data import check_characters, Tokenizer
from microdnb.page.explorer import RANGES, explorer
from microdnb.sampling import DECODE_LIMITS

VALIDATOR = Draft202012Validator(SCHEMA)


@pytest.fixture(scope='module')
def docs(tmp_path_factory):
    """Two checkpoints as save_checkpoint writes them: (path, JSON) with a bus and meta, and without."""
    out = []
    for bus, meta, n_layer in ((BusConfig(n_streams=3, cadence=2, lag=1), {'seed': 1, 'note': 'é'}, 2), (None, None, 1)):
        tok = Tokenizer('abc ')
        cfg = ModelConfig(vocab_size=tok.vocab_size, n_layer=n_layer, n_embd=4, n_head=2, block_size=6, notes_dim=2)
        path = tmp_path_factory.mktemp('ck') / 'ck.json'
        save_checkpoint(path, vector.init_params(cfg, random.Random(n_layer)), cfg, tok, bus, meta)
        out.append((path, json.loads(path.read_text())))
    return out


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA['properties']['format']['const'] == checkpoint.FORMAT


def test_what_save_checkpoint_writes_is_valid_against_the_whole_schema(docs):
    """All of it, params' numbers included (load_checkpoint leaves those to Python: too slow in jsonschema)."""
    for _, doc in docs:
        assert list(VALIDATOR.iter_errors(doc)) == []


def test_the_numbers_the_schema_states_are_the_packages():
    assert SCHEMA['$defs']['weight'] == {**SCHEMA['$defs']['weight'], 'minimum': -MAX_WEIGHT, 'maximum': MAX_WEIGHT}
    text = ' '.join(SCHEMA['description'].split())
    for number in (f'{MAX_PARAMS:,} parameters', f'{MAX_META_BYTES:,} bytes as JSON', f'{MAX_BYTES:,} bytes',
                   f'{MAX_DEPTH} levels deep'):
        assert number in text, number
    assert set(SCHEMA['properties']['model']['required']) == set(ModelConfig.__dataclass_fields__)
    assert set(SCHEMA['properties']['bus']['required']) == set(BusConfig.__dataclass_fields__)
    for name, field in SCHEMA['properties']['model']['properties'].items():   # int fields integer, float number
        assert field['type'] == ('integer' if LIMITS[name].kind == 'int' else 'number'), name


def _mutations(doc):
    """Documents the schema refuses, one change each."""
    for key in SCHEMA['required']:
        yield {k: v for k, v in doc.items() if k != key}
    yield {**doc, 'extra': 1}
    for part in ('model', 'bus'):
        for key in doc[part]:
            yield {**doc, part: {k: v for k, v in doc[part].items() if k != key}}
        yield {**doc, part: {**doc[part], 'extra': 1}}
        yield {**doc, part: {**doc[part], next(iter(doc[part])): 'text'}}
    yield {**doc, 'format': 'microdnb-checkpoint-v2'}
    yield {**doc, 'uchars': ''}
    yield {**doc, 'uchars': ['a', 'b', 'c', ' ']}
    yield {**doc, 'meta': []}
    yield {**doc, 'params': {**doc['params'], 'layer0.attn_wx': [[0.0]]}}
    yield {**doc, 'params': {**doc['params'], 'wte': [[0.0] * 4] * 4 + [[2e9, 0.0, 0.0, 0.0]]}}
    yield {**doc, 'params': {**doc['params'], 'wte': [[True] * 4] * 5}}
    yield {**doc, 'params': {**doc['params'], 'snc_gate': []}}


def test_whatever_the_schema_refuses_load_checkpoint_refuses_naming_the_file(docs, tmp_path):
    (_, doc), n = docs[0], 0
    for bad in _mutations(doc):
        assert list(VALIDATOR.iter_errors(bad)), bad
        path = tmp_path / f'bad{n}.json'
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError) as e:
            load_checkpoint(path)
        assert str(e.value).startswith(f'checkpoint {path}') and '\n' not in str(e.value)
        n += 1
    assert n >= 30


def test_loading_skips_the_slow_iri_checker(docs, tmp_path):
    """jsonschema imports rfc3987_syntax, which builds ~35 Earley parsers on import (2-17 s on a
    busy 2-core machine): a checkpoint refused after the schema check must not wait for it."""
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({**docs[0][1], 'extra': 1}))
    code = ("import sys, time; t = time.perf_counter(); import microdnb.checkpoint as c\n"
            "try: c.load_checkpoint(sys.argv[1])\nexcept ValueError as e: print(e)\n"
            "print(round(time.perf_counter() - t, 2), 'rfc3987_syntax' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', code, str(bad)], env=subprocess_env(), capture_output=True, text=True,
                         timeout=120)
    said, numbers = out.stdout.splitlines()
    seconds, loaded = numbers.split()
    assert "has a field 'extra'" in said and loaded == 'False' and float(seconds) < 2, out.stdout


def test_the_readme_documents_the_schema():
    readme = (REPO / 'README.md').read_text()
    assert 'microdnb/checkpoint.schema.json' in readme
    for key in SCHEMA['required'] + ['MAX_WEIGHT', 'object_pairs_hook', 'jsonschema']:
        assert key in readme, key


def test_the_schema_is_package_data():
    import fnmatch
    tomllib = pytest.importorskip('tomllib')
    globs = tomllib.loads((REPO / 'pyproject.toml').read_text())['tool']['setuptools']['package-data']['microdnb']
    assert any(fnmatch.fnmatch(SCHEMA_PATH.relative_to(REPO / 'microdnb').as_posix(), g) for g in globs)
    deps = tomllib.loads((REPO / 'pyproject.toml').read_text())['project']['dependencies']
    assert any(d.startswith('jsonschema') for d in deps)


# ---- the vocabulary rule -------------------------------------------------------------------------

REFUSED = {'Cc', 'Cf', 'Cs', 'Co', 'Cn', 'Zl', 'Zp', 'Zs'}


def test_the_vocabulary_rule_is_these_unicode_categories_for_every_code_point():
    """check_characters refuses exactly the categories the data module's docstring names
    (Zs except the space), on every code point of this Python's Unicode database."""
    for cp in range(0x110000):
        ch = chr(cp)
        allowed = ch == ' ' or unicodedata.category(ch) not in REFUSED
        assert ch.isprintable() == allowed, hex(cp)
    for ch in ('\x1b', '\n', '\0', '\ud800', '\u202e', '\u2066', '\u200d', '\ufeff', '\u00a0', '\ue000'):
        with pytest.raises(ValueError, match=rf'U\+{ord(ch):04X}'):
            check_characters('ab' + ch, 'a test')
    check_characters('zoë éa ß 李', 'a test')


# ---- the limits the page receives ------------------------------------------------------------------

def test_the_page_gets_config_limits_and_the_controls_lie_within_them():
    limits = limits_json(DECODE_LIMITS)
    for name, key in DECODE_LIMITS.items():
        r = LIMITS[key]
        assert limits[name]['kind'] == r.kind and limits[name]['text'] == r.text()
        assert int(limits[name]['high']) == r.high if r.kind == 'int' else limits[name]['high'] == r.high
        low, high = RANGES[name]
        assert r.check(low, name) == low and r.check(high, name) == high   # the controls offer a part of them
    assert limits['seed']['high'] == str(2 ** 64 - 1)   # beyond 2**53: a string, for BigInt
    assert json.loads(json.dumps(limits)) == limits


def test_the_explorer_payload_carries_the_limits(docs):
    path, _ = docs[0]
    ck = load_checkpoint(path)
    html = explorer(ck['params'], ck['cfg'], ck['tokenizer'], ck['bus_cfg']).html
    data = re.search(r'<script type="application/json" class="mdx-data">(.*?)</script>', html).group(1)
    assert json.loads(data)['limits'] == limits_json(DECODE_LIMITS)

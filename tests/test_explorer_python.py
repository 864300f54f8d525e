"""The explorer's Python function (microdnb.page.explorer.explorer), no browser: its
output is deterministic and small, any engine's parameters give the same explorer, bad
input is a one-line ValueError naming the problem, and what it inlines is package data."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO
from explorer_pages import models  # noqa: F401 (the fixture)
from microdnb import scalar
from microdnb.config import BusConfig, ModelConfig
from microdnb.data import Tokenizer
from microdnb.page.explorer import BUS_PARTS, explorer


def test_output_is_deterministic_and_small(models):
    m = models[0]
    again = explorer(m['params'], m['cfg'], m['tok'], m['bus'], title=m['title'], meta=m['meta'])
    assert again.html == m['explorer'].html
    assert len(m['explorer'].html.encode()) < 120_000
    bundle = m['explorer']._repr_mimebundle_()
    assert set(bundle) == {'text/html', 'text/plain'} and m['explorer'].names[0] in bundle['text/plain']
    assert '</script' not in m['explorer'].html.split('<script type="module">')[1][:-len('</script>\n')]


def test_any_engines_params_give_the_same_explorer(models):
    m = models[1]
    rows = {k: [[float(x) for x in row] for row in v] for k, v in m['params'].items()}
    for params in (rows, scalar.params_from(m['params'])):   # lists of floats; the scalar engine's Values
        assert explorer(params, m['cfg'], m['tok'], m['bus'], title=m['title'],
                        settings={'prompts': ['', 'ma'], 'seed': 3}).html == m['explorer'].html


def _bad(m, **change):
    args = {'params': m['params'], 'cfg': m['cfg'], 'tokenizer': m['tok'], 'bus_cfg': m['bus'], 'settings': None}
    args.update(change)
    return args


@pytest.mark.parametrize('change, match', [
    (lambda m: {'params': {**m['params'], 'wte': np.zeros((26, 16))}}, r"params\['wte'\] is 26x16, but the config needs 27x16"),
    (lambda m: {'params': {k: v for k, v in m['params'].items() if k != 'snc_gate'}}, r"missing 'snc_gate'"),
    (lambda m: {'cfg': ModelConfig(vocab_size=27, n_layer=2)}, r"params do not match the config .*missing 'layer1"),
    (lambda m: {'cfg': ModelConfig(vocab_size=27, n_embd=8, n_head=2)}, r"params\['wte'\] is 27x16, but the config needs 27x8"),
    (lambda m: {'params': {**m['params'], 'extra': np.zeros((1, 1))}}, r"params has a matrix 'extra', which is not a parameter name"),
    (lambda m: {'params': {**m['params'], 'lm_head': np.full((27, 16), np.nan)}}, r"params\['lm_head'\]\[0\]\[0\] is nan"),
    (lambda m: {'params': {**m['params'], 'wpe': [[1.0, 2.0], [3.0]]}}, r"params\['wpe'\] is not a matrix \(rows of numbers, all of one length\)"),
    (lambda m: {'params': [1, 2]}, r"params must be a dict"),
    (lambda m: {'tokenizer': Tokenizer('abc')}, r"tokenizer has 4 tokens but cfg.vocab_size is 27"),
    (lambda m: {'bus_cfg': BusConfig(cadence=12)}, r"settings cadence \(from bus_cfg.*\[1, 8\], got 12"),
    (lambda m: {'settings': {'prompts': ['Ma']}}, r"prompts 'Ma' \(stream 0\) has the character 'M', which is not in the vocabulary"),
    (lambda m: {'settings': {'prompts': ['a' * 16]}}, r"prompts 'a+' \(stream 0\) has 16 characters"),
    (lambda m: {'settings': {'prompts': ['a', 'b', 'c']}}, r"prompts has 3 entries for 2 stream\(s\)"),
    (lambda m: {'settings': {'prompts': [3]}}, r"prompts 3 \(stream 0\) must be a string"),
    (lambda m: {'settings': {'starts': ['ma']}}, r"starts 'ma' \(stream 0\) must be one character of the vocabulary .*or '' for the start token"),
    (lambda m: {'settings': {'starts': [None, 'M']}}, r"starts 'M' \(stream 1\) must be one character of the vocabulary"),
    (lambda m: {'settings': {'starts': ['a', 'b', 'c']}}, r"starts has 3 entries for 2 stream\(s\)"),
    (lambda m: {'settings': {'starts': [1]}}, r"starts 1 \(stream 0\) must be one character"),
    (lambda m: {'settings': {'cadence': 9}}, r"cadence must be an integer in \[1, 8\], got 9"),
    (lambda m: {'settings': {'lag': 3}}, r"lag must be an integer in \[0, 2\], got 3"),
    (lambda m: {'settings': {'streams': 1}}, r"streams must be an integer in \[2, 4\], got 1"),
    (lambda m: {'settings': {'streams': 5}}, r"streams must be an integer in \[2, 4\], got 5"),
    (lambda m: {'settings': {'temperature': 3.0}}, r"temperature must be a number in \[0.1, 2\], got 3.0"),
    (lambda m: {'settings': {'gate': 1.5}}, r"gate must be a number in \[0, 1\], got 1.5"),
    (lambda m: {'settings': {'seed': -1}}, r"seed must be an integer in \[0, 4294967295\], got -1"),
    (lambda m: {'settings': {'stream': 2}}, r"stream must be an integer in \[0, 1\], got 2"),
    (lambda m: {'settings': {'pos': 16}}, r"pos must be an integer in \[0, 15\], got 16"),
    (lambda m: {'settings': {'speed': 1}}, r"unknown setting\(s\) 'speed'"),
    (lambda m: {'settings': [('gate', 1)]}, r"settings must be a dict"),
    (lambda m: {'show': 'names'}, r"show must be a list of parts from names, timeline, attn, dist, delta, gate"),
    (lambda m: {'show': ['names', 'timeline', 'gates']}, r"show has unknown part\(s\) 'gates'"),
    (lambda m: {'show': ['names', 'attn']}, r"show must include names and timeline"),
    (lambda m: {'show': BUS_PARTS, 'settings': {'gate': 0.5}}, r"settings gate needs the gate control"),
])
def test_bad_input_is_a_one_line_value_error(models, change, match):
    m = models[0]
    args = _bad(m, **change(m))
    with pytest.raises(ValueError, match=match) as e:
        explorer(args.pop('params'), args.pop('cfg'), args.pop('tokenizer'), args.pop('bus_cfg'), **args)
    assert '\n' not in str(e.value) and str(e.value).startswith('explorer')


def test_the_files_it_inlines_are_package_data():
    """`pip install .` installs what explorer() reads (pyproject's package-data globs)."""
    import fnmatch
    tomllib = pytest.importorskip('tomllib')   # Python 3.11+
    from microdnb.page.explorer import MODULES
    from microdnb.page.inline import PAGE_DIR
    globs = tomllib.loads((REPO / 'pyproject.toml').read_text())['tool']['setuptools']['package-data']['microdnb']
    for name in (*MODULES, 'page.css', 'explorer.css'):
        rel = (PAGE_DIR / name).relative_to(REPO / 'microdnb').as_posix()
        assert (PAGE_DIR / name).is_file() and any(fnmatch.fnmatch(rel, g) for g in globs), rel


def test_inliner_reexports_and_keeps_each_modules_source():
    """engine.js re-exports settings.js's checks (`export {..} from`): the joined script
    declares each name once and engine's exports include them; every module's source is a
    function (__mdx_src_x) the trainer's worker is built from."""
    import re
    from microdnb.page.inline import module_code
    code = module_code(['pyrandom.js', 'settings.js', 'engine.js'])
    engine = code[code.index('const __mdx_src_engine'):]
    declared = [n.strip() for group in re.findall(r'const \{([^}]*)\} = __mdx_settings;', engine) for n in group.split(',')]
    assert sorted(declared) == sorted(set(declared)) and {'checkSettings', 'startId', 'rangeOf'} <= set(declared)
    exported = re.search(r'return \{([^}]*)\};\n\};\nconst __mdx_engine = __mdx_src_engine\(\);', engine).group(1)
    assert {'checkNumber', 'checkStart', 'forcedBy', 'perStream', 'rangeOf', 'startId', 'decode'} <= \
        {n.strip() for n in exported.split(',')}
    for name in ('pyrandom', 'settings', 'engine'):
        assert f'const __mdx_{name} = __mdx_src_{name}();' in code
    with pytest.raises(RuntimeError, match="imports .* from 'settings.js', which does not export them"):
        module_code(['pyrandom.js', 'engine.js'])

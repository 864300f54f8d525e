"""The trainer's Python function (microdnb.page.trainer.trainer), no browser: its output is
deterministic and self-contained, its payload holds what the page needs (the controls within
config.LIMITS, the settings checked, the chapter's runs, train.js's spec payload), and bad
input is a one-line ValueError naming the problem."""
from __future__ import annotations

import json
import re

import pytest

from microdnb.config import LIMITS
from microdnb.page.inline import module_code
from microdnb.page.training import SETTINGS, train_payload
from microdnb.page.trainer import KINDS, MODULES, trainer

LOSS = [3.3, 3.1, 2.9, 2.7]
GATE = [0.0067, 0.0068, 0.007, 0.0071]
RUNS = {'phase1': {'loss': LOSS}, 'phase2': {'loss': LOSS, 'gate': GATE},
        'copy': {-5.0: {'loss': LOSS, 'gate': GATE}, 0.0: {'loss': LOSS[::-1], 'gate': [0.5, 0.52, 0.53, 0.55]}}}


def payload(t):
    """The JSON the page reads (the <script type="application/json"> in the root)."""
    m = re.search(r'<script type="application/json" class="mdx-data">(.*?)</script>', t.html, re.S)
    return json.loads(m.group(1))


@pytest.mark.parametrize('kind', list(KINDS))
def test_output_is_deterministic_self_contained_and_carries_the_payload(kind):
    t = trainer(kind, RUNS[kind], title='Train <it>')
    assert trainer(kind, RUNS[kind], title='Train <it>').html == t.html
    root, script = t.html.split('<script type="module">')
    assert 'data-microdnb-trainer=' in root and 'class="mdx-fallback"' in root and 'Train &lt;it&gt;' in root
    assert module_code(MODULES) in script and script.rstrip().endswith('</script>')
    assert '</script' not in script[:-len('</script>\n')] and 'http' not in script and 'import(' not in script
    p = payload(t)
    assert p['title'] == 'Train <it>' and p['settings'] == {**KINDS[kind]['defaults']}
    assert set(p['fixed']) | set(p['settings']) <= set(p['train']['defaults'])   # train.js's settings
    assert p['train'] == train_payload() and p['count'] == KINDS[kind]['count']
    assert [c['k'] for c in p['controls']] == [c['k'] for c in KINDS[kind]['controls']]
    runs = dict((str(v), r) for v, r in p['reference']['runs'])
    if kind == 'copy':
        assert p['reference']['by'] == 'gateInit' and runs['0.0']['gate'][0] == 0.5 and runs['-5.0']['loss'] == LOSS
    else:
        assert p['reference']['by'] is None and runs['None']['loss'] == LOSS
    long = trainer(kind, {'loss': [1 / 3], 'gate': [2 / 3]} if kind == 'phase2' else RUNS[kind])
    assert kind != 'phase2' or payload(long)['reference']['runs'][0][1] == {'loss': [0.333333], 'gate': [0.666667]}
    bundle = t._repr_mimebundle_()
    assert set(bundle) == {'text/html', 'text/plain'} and f'{LOSS[0]:.4f}' in bundle['text/plain']


def test_controls_lie_within_the_package_limits():
    for kind, spec in KINDS.items():
        for c in spec['controls']:
            for end in (c['min'], c['max']):
                LIMITS[SETTINGS[c['k']]].check(end, f'{kind} {c["k"]}')
            if c['type'] == 'select':
                assert all(c['min'] <= v <= c['max'] for v, _ in c['options'])
            assert c['min'] <= spec['defaults'][c['k']] <= c['max'], (kind, c)


def test_settings_change_the_controls_initial_values():
    t = trainer('phase1', RUNS['phase1'], settings={'steps': 200, 'learningRate': 0.02, 'seed': 7})
    assert payload(t)['settings'] == {'seed': 7, 'steps': 200, 'learningRate': 0.02}
    assert trainer('copy', RUNS['copy'], settings={'gateInit': 0}).settings['gateInit'] == 0.0


@pytest.mark.parametrize('kind, reference, kwargs, match', [
    ('phase3', RUNS['phase1'], {}, r"kind must be one of phase1, phase2, copy, got 'phase3'"),
    ('phase1', [3.0], {}, r"reference must be a dict with 'loss'"),
    ('phase1', {'loss': LOSS, 'gate': GATE}, {}, r"reference for 'phase1' must have exactly the keys \['loss'\]"),
    ('phase2', {'loss': LOSS}, {}, r"exactly the keys \['gate', 'loss'\], got \['loss'\]"),
    ('phase1', {'loss': []}, {}, r"reference loss is empty"),
    ('phase1', {'loss': [3.0, float('nan')]}, {}, r"reference loss\[1\] must be a finite number"),
    ('phase1', {'loss': [3.0, 'x']}, {}, r"reference loss\[1\] must be a number, got 'x'"),
    ('phase1', {'loss': 3.0}, {}, r"reference loss must be a list of numbers, got float"),
    ('phase2', {'loss': LOSS, 'gate': [0.5] * 3}, {}, r"reference gate has 3 values for 4 losses"),
    ('phase2', {'loss': LOSS, 'gate': [1.5] * 4}, {}, r"reference gate\[0\] must be a finite number in \[0.0, 1.0\]"),
    ('copy', {'loss': LOSS, 'gate': GATE}, {}, r"one run per gateInit in -5.0, 0.0, got \['gate', 'loss'\]"),
    ('copy', {-5.0: RUNS['phase2']}, {}, r"one run per gateInit in -5.0, 0.0, got \['-5.0'\]"),
    ('phase1', RUNS['phase1'], {'settings': {'steps': 5000}}, r"settings steps must be an integer in \[10, 1000\], got 5000"),
    ('phase1', RUNS['phase1'], {'settings': {'learningRate': 0}}, r"settings learningRate must be a number in \[0.001, 0.05\]"),
    ('phase1', RUNS['phase1'], {'settings': {'cadence': 2}}, r"unknown setting\(s\) 'cadence' for 'phase1'; the settings are seed, steps, learningRate"),
    ('phase2', RUNS['phase2'], {'settings': {'lag': 3}}, r"settings lag must be an integer in \[0, 2\], got 3"),
    ('copy', RUNS['copy'], {'settings': {'gateInit': -2}}, r"settings gateInit must be one of -5.0, 0.0, got -2"),
    ('phase1', RUNS['phase1'], {'settings': [1]}, r"settings must be a dict or None, got list"),
    ('phase1', RUNS['phase1'], {'title': 3}, r"title must be a string or None, got int"),
    ('phase1', RUNS['phase1'], {'explore': 'yes'}, r"explore must be True or False, got 'yes'"),
])
def test_bad_arguments_are_refused_in_one_line(kind, reference, kwargs, match):
    with pytest.raises(ValueError, match=match) as e:
        trainer(kind, reference, **kwargs)
    assert '\n' not in str(e.value) and str(e.value).startswith('trainer: ')


def test_the_inliner_drops_indentation_but_not_inside_a_template_literal(tmp_path, monkeypatch):
    from microdnb.page import inline
    (tmp_path / 'm.js').write_text("export function f(a) {\n  // why\n  const s = `x\n    kept ${a\n  } too`;\n"
                                   "    return s;\n}\n", encoding='utf-8')
    monkeypatch.setattr(inline, 'PAGE_DIR', tmp_path)
    code = inline.module_code(['m.js'])
    assert 'const s = `x\n    kept ${a\n  } too`;\nreturn s;\n}' in code and '// why' not in code

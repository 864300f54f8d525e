"""The page trainer's payload (microdnb/page/training.py): the names packed and back, the
reference run's settings as defaults, config.LIMITS as the limits, every bad setting refused
with one line naming it. (The page's side, spec.js specFrom / trainSettings: test_js_trainer.py.)"""
import base64
import gzip
import json

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from microdnb.config import LIMITS, TrainConfig
from microdnb.data import load_docs
from microdnb.page.training import SETTINGS, check_settings, default_settings, pack_names, train_payload

NAME = st.text(alphabet=st.characters(blacklist_categories=('Cs',), blacklist_characters='\n'), min_size=1, max_size=12)


def unpack(text):
    return gzip.decompress(base64.b64decode(text)).decode('utf-8').split('\n')


def test_default_payload():
    p = train_payload()
    assert unpack(p['names_gz']) == load_docs() and p['n_names'] == len(load_docs()) == 32033
    assert 90_000 < len(p['names_gz']) < 150_000      # ~103 kB gzipped, 4/3 of it in base64
    assert p['uchars'] == 'abcdefghijklmnopqrstuvwxyz'
    assert p['defaults'] == default_settings()
    assert (p['defaults']['steps'], p['defaults']['sncSteps']) == (TrainConfig().steps, TrainConfig().snc_steps)
    for name, key in SETTINGS.items():
        assert p['limits'][name]['text'] == LIMITS[key].text()
    assert p['limits']['seed']['high'] == str(2 ** 64 - 1)   # beyond 2**53: a string, for BigInt
    json.dumps(p, allow_nan=False)  # JSON-able
    assert train_payload() == p      # the same bytes every build (gzip's mtime is 0)


@hsettings(max_examples=40, deadline=None)
@given(st.lists(NAME.filter(lambda s: '\r' not in s), min_size=1, max_size=30))
def test_names_round_trip(names):
    assert unpack(pack_names(names)) == names


@pytest.mark.parametrize('bad', [[], ['a', ''], ['a\nb'], 'abc', [1], None])
def test_bad_names_refused(bad):
    with pytest.raises(ValueError, match='docs must be'):
        pack_names(bad)


@hsettings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(SETTINGS)), st.one_of(st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True),
                                                     st.text(max_size=3), st.booleans(), st.none()))
def test_each_setting_checked_against_limits(name, value):
    r = LIMITS[SETTINGS[name]]
    try:
        want = r.check(value, name)
    except ValueError as e:
        with pytest.raises(ValueError) as got:
            check_settings({name: value})
        assert str(got.value) == str(e) and '\n' not in str(e) and name in str(e)
        return
    if name in ('n_head', 'n_embd'):   # the other is the default (n_embd 16, n_head 4)
        n_embd, n_head = (want, 4) if name == 'n_embd' else (16, want)
        if n_embd % n_head:
            with pytest.raises(ValueError, match='n_head must divide n_embd'):
                check_settings({name: value})
            return
    assert check_settings({name: value})[name] == want


def test_other_refusals():
    for settings, match in [({'task': 'dance'}, 'task must be one of'), ({'steps ': 3}, "'steps ' is not a setting"),
                            ('seed=1', 'settings must be a dict'), ({'n_head': 3}, r'n_head must divide n_embd \(16\)')]:
        with pytest.raises(ValueError, match=match):
            train_payload(settings)
    assert check_settings({'task': 'copy', 'gateInit': 2})['gateInit'] == 2.0
    assert train_payload({'heldout': 32032})['limits']['heldout']['text'] == 'an integer in [0, 32032]'
    with pytest.raises(ValueError, match=r'^heldout must be an integer in \[0, 2\], got 3$'):
        train_payload({'heldout': 3}, docs=['ab', 'cd', 'ef'])

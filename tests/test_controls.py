"""The control conditions (microdnb.study.controls): one vocabulary, one hook per condition,
one donor rule for 'shuffled' with its fallbacks counted.

Oracles: the GPT with no SNC at all for 'trunk'; a bus on which nobody posts for
'plan_only'; the group's own recorded notes for 'shuffled' (must change nothing).
"""
import random

import numpy as np
import pytest

from microdnb import vector
from microdnb.config import BusConfig, ModelConfig
from microdnb.data import Tokenizer
from microdnb.study import controls, tasks
from microdnb.study.metrics import evaluate
from microdnb.vector.layers import log_softmax

WORDS = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'al', 'bo', 'christopher', 'x']


@pytest.fixture
def open_bus():
    """A small model whose SNC is wide open (gate ~0.95, large weights), so that any note
    that gets through changes the logits a lot: a control that leaks cannot pass."""
    tok = Tokenizer.from_docs(WORDS)
    cfg = ModelConfig(vocab_size=tok.vocab_size, n_embd=8, n_head=2, block_size=16, notes_dim=4, init_std=0.5)
    params = vector.init_params(cfg, random.Random(0))
    params['snc_gate'][0, 0] = 3.0
    return tok, cfg, params


def _groups(task, tok, k=2, n=6, words=WORDS[:-1]):
    groups = tasks.make_groups(task, words, k, n, random.Random(4))
    return groups, [tasks.encode_group(task, g, tok) for g in groups]


def _trunk_logp(params, cfg, seq):
    return log_softmax(vector.gpt_sequence(params, cfg, seq[:len(seq) - 1])[0])


# ---------------------------------------------------------------- the vocabulary

def test_one_vocabulary_described_once():
    assert set(controls.DESCRIPTIONS) == set(controls.CONDITIONS)
    assert set(controls.TRAININGS) <= set(controls.CONDITIONS)
    text = controls.describe()
    assert all(c in text for c in controls.CONDITIONS)
    assert controls.describe(('trunk',)).split()[0] == 'trunk'
    # the old names are not conditions any more
    for old in ('full', 'masked'):
        with pytest.raises(ValueError, match='condition must be one of'):
            controls.check_condition(old)


def test_every_condition_but_the_data_made_ones_has_one_hook():
    assert controls.hook('notes') is None
    assert controls.hook('trunk') is controls.read_nothing
    assert controls.hook('posts_zeroed') is controls.zero_posts
    assert controls.hook('plan_only') is controls.plan_seeds_only
    for c in ('shuffled', 'repaired'):
        with pytest.raises(ValueError, match='decode'):
            controls.hook(c)


# ---------------------------------------------------------------- the hooks

@pytest.mark.parametrize('task', tasks.TASKS)
def test_trunk_is_exactly_the_gpt_without_snc(open_bus, task):
    tok, cfg, params = open_bus
    bcfg = BusConfig(n_streams=2, cadence=1, lag=0)
    _, token_groups = _groups(task, tok)
    for streams in token_groups:
        trunk = vector.streams_log_probs(params, cfg, bcfg, streams, notes_hook=controls.read_nothing)
        full = vector.streams_log_probs(params, cfg, bcfg, streams)
        for s, seq in enumerate(streams):
            np.testing.assert_allclose(trunk[s], _trunk_logp(params, cfg, seq), rtol=0, atol=1e-12)
            assert np.abs(full[s] - trunk[s]).max() > 1e-3  # the open bus does change the trunk's output


def test_zeroing_every_note_is_the_trunk_to_the_bit(open_bus):
    """Why 'trunk' also stands for 'every note zeroed' (the experiments' old 'masked'):
    SNC's keys and values have no bias, so zero notes give a delta of exactly 0."""
    tok, cfg, params = open_bus
    bcfg = BusConfig(n_streams=3, cadence=1, lag=0)
    _, token_groups = _groups('copy', tok, k=3)
    for streams in token_groups:
        zeroed = vector.streams_log_probs(params, cfg, bcfg, streams,
                                          notes_hook=lambda r, t, labels, notes: np.zeros_like(notes))
        trunk = vector.streams_log_probs(params, cfg, bcfg, streams, notes_hook=controls.read_nothing)
        for a, b in zip(zeroed, trunk):
            np.testing.assert_array_equal(a, b)


def test_trunk_makes_every_snc_delta_zero_when_sampling(open_bus):
    tok, cfg, params = open_bus
    bcfg = BusConfig(n_streams=3, cadence=1, lag=0)
    group = ('emma',) * 3
    traces = {c: vector.sample_parallel(params, cfg, bcfg, tok, random.Random(0), 1.0, record=True,
                                        starts=tasks.starts('copy', group), notes_hook=controls.hook(c))
              for c in ('trunk', 'notes')}
    assert len(traces['trunk']['events']) > 6
    for event in traces['trunk']['events']:
        assert event['notes'] == [] and not np.any(event['snc_delta'])
    assert all(e['notes'] and np.any(e['snc_delta']) for e in traces['notes']['events'])


def test_plan_only_is_a_bus_where_nobody_posts(open_bus):
    tok, cfg, params = open_bus
    _, token_groups = _groups('copy', tok, k=3)
    posting = BusConfig(n_streams=3, cadence=1, lag=0)
    silent = BusConfig(n_streams=3, cadence=cfg.block_size + 1, lag=0)  # (pos + 1) % cadence never 0
    for streams in token_groups:
        plan_only = vector.streams_log_probs(params, cfg, posting, streams, notes_hook=controls.plan_seeds_only)
        oracle = vector.streams_log_probs(params, cfg, silent, streams)
        full = vector.streams_log_probs(params, cfg, posting, streams)
        for a, b in zip(plan_only, oracle):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        assert max(np.abs(a - c).max() for a, c in zip(plan_only, full)) > 1e-3


def test_hooks_on_hand_made_notes():
    notes = np.arange(12.0).reshape(4, 3)
    labels = [(1, None), (1, 0), (2, None), (2, 1)]
    np.testing.assert_array_equal(controls.plan_seeds_only(0, 3, labels, notes), notes[[0, 2]])
    assert controls.plan_seeds_only(0, 0, [], notes[:0]).shape == (0, 3)
    zeroed = controls.zero_posts(0, 3, labels, notes)
    np.testing.assert_array_equal(zeroed[[0, 2]], notes[[0, 2]])
    assert not zeroed[[1, 3]].any() and notes[1].any()           # a copy: the given notes are untouched
    assert controls.read_nothing(0, 3, labels, notes).shape == (0, 3)


def test_donor_notes_from_the_group_itself_change_nothing_and_from_another_do(open_bus):
    tok, cfg, params = open_bus
    bcfg = BusConfig(n_streams=2, cadence=1, lag=0)
    a = tasks.encode_group('copy', ('emma', 'emma'), tok)
    b = tasks.encode_group('copy', ('olivia', 'olivia'), tok)  # runs longer: every label exists
    own, other = {}, {}
    vector.streams_log_probs(params, cfg, bcfg, a, notes_hook=controls.recorder(own))
    vector.streams_log_probs(params, cfg, bcfg, b, notes_hook=controls.recorder(other))
    full = vector.streams_log_probs(params, cfg, bcfg, a)
    same = controls.DonorNotes(own)
    for x, y in zip(full, vector.streams_log_probs(params, cfg, bcfg, a, notes_hook=same)):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)
    swapped = controls.DonorNotes(other)
    shuffled = vector.streams_log_probs(params, cfg, bcfg, a, notes_hook=swapped)
    assert np.abs(shuffled[1] - full[1]).max() > 1e-3
    assert same.dropped == swapped.dropped == 0
    # the other way round the donor is shorter: the notes it never posted are dropped, and counted
    short = controls.DonorNotes(own)
    vector.streams_log_probs(params, cfg, bcfg, b, notes_hook=short)
    assert short.dropped > 0


# ---------------------------------------------------------------- the donor rule

def test_donors_write_something_else_run_as_long_and_fallbacks_are_counted(open_bus):
    tok, cfg, _ = open_bus
    groups, token_groups = _groups('split', tok, n=30)
    names = [''.join(g) for g in groups]
    runs = [controls.positions(g, cfg) for g in token_groups]

    def fits(h, g):  # writes something else, and every stream runs at least as long
        return names[h] != names[g] and all(x >= y for x, y in zip(runs[h], runs[g]))
    donors, fallbacks = controls.choose_donors(token_groups, cfg, names)
    expected = 0
    for g, h in enumerate(donors):
        if any(fits(j, g) for j in range(len(groups))):
            assert fits(h, g)
            # the first that fits, going round from the next group
            assert all(not fits((g + d) % len(groups), g) for d in range(1, (h - g) % len(groups)))
        else:  # the longest name: nobody runs as long, so the next group's notes, some missing
            assert h == (g + 1) % len(groups)
            expected += 1
    assert fallbacks == expected and 0 < fallbacks < len(groups) // 4


def test_decode_reports_the_shuffled_fallbacks_and_dropped_notes(open_bus):
    tok, cfg, params = open_bus
    bcfg = BusConfig(n_streams=2, cadence=1, lag=0)
    names = ['ava', 'emma', 'christopher']               # only the last has no donor as long
    token_groups = [tasks.encode_group('copy', (n, n), tok) for n in names]
    losses, report = controls.losses_under(params, cfg, bcfg, token_groups, 'shuffled')
    assert report['fallbacks'] == 1 and report['dropped_notes'] > 0
    assert [len(g) for g in losses] == [2, 2, 2]
    for c in ('notes', 'trunk', 'plan_only', 'posts_zeroed'):
        assert controls.losses_under(params, cfg, bcfg, token_groups, c)[1] == {}
    # every group has a donor as long: nothing dropped
    _, report = controls.losses_under(params, cfg, bcfg, token_groups[:2] * 2, 'shuffled',
                                keys=['ava', 'emma', 'ava2', 'emma2'])
    assert report == {'fallbacks': 0, 'dropped_notes': 0}


def test_evaluate_counts_every_token_once(open_bus):
    tok, cfg, params = open_bus
    bcfg = BusConfig(n_streams=2, cadence=2, lag=1)
    groups, token_groups = _groups('split', tok)
    res = evaluate(params, cfg, bcfg, token_groups, 'trunk')
    assert res['n_tokens'] == sum(len(t) - 1 for g in token_groups for t in g)
    trunk = sum(-_trunk_logp(params, cfg, t)[np.arange(len(t) - 1), t[1:]].sum() for g in token_groups for t in g)
    assert res['loss'] == pytest.approx(trunk / res['n_tokens'], abs=1e-12)
    assert res['nats_per_group'] == pytest.approx(trunk / len(groups), abs=1e-10)
    shuffled = evaluate(params, cfg, bcfg, token_groups, 'shuffled', [''.join(g) for g in groups])
    assert {'fallbacks', 'dropped_notes'} <= set(shuffled) and shuffled['n_tokens'] == res['n_tokens']


def test_repaired_decodes_the_repaired_groups(open_bus):
    tok, cfg, params = open_bus
    bcfg = BusConfig(n_streams=2, cadence=1, lag=0)
    groups, token_groups = _groups('split', tok)
    repaired = [tasks.encode_group('split', g, tok) for g in tasks.repair(groups, random.Random(0))]
    got, _ = controls.losses_under(params, cfg, bcfg, token_groups, 'repaired', repaired=repaired)
    want, _ = controls.losses_under(params, cfg, bcfg, repaired, 'notes')
    for a, b in zip(got, want):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match='repaired groups'):
        controls.losses_under(params, cfg, bcfg, token_groups, 'repaired')
    with pytest.raises(ValueError, match='condition'):
        evaluate(params, cfg, bcfg, token_groups, 'masked')

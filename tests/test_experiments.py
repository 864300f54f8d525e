"""Coordination tasks, the controls of the experiments, and the `experiment` command."""
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from microdnb import engine, experiments, tasks
from microdnb.config import BusConfig, ModelConfig
from microdnb.data import Tokenizer

ROOT = Path(__file__).resolve().parents[1]

WORDS = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'al', 'bo', 'christopher', 'x']


# ------------------------------------------------------------------------- tasks

@given(name=st.text(alphabet='abcdefghijklmnopqrstuvwxyz', min_size=1, max_size=15),
       n_parts=st.integers(1, 6))
def test_split_name_pieces_join_back_and_are_balanced(name, n_parts):
    if len(name) < n_parts:
        with pytest.raises(ValueError, match='at least'):
            tasks.split_name(name, n_parts)
        return
    pieces = tasks.split_name(name, n_parts)
    assert ''.join(pieces) == name
    assert len(pieces) == n_parts and all(pieces)
    sizes = [len(p) for p in pieces]
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)  # earlier pieces take the extra characters


def test_split_name_examples():
    assert tasks.split_name('isabella', 2) == ['isab', 'ella']
    assert tasks.split_name('isabella', 3) == ['isa', 'bel', 'la']
    assert tasks.split_name('ava', 2) == ['av', 'a']


def test_split_groups_are_pieces_of_one_real_name():
    rng = random.Random(0)
    for k in (1, 2, 3, 4):
        groups = tasks.make_groups('split', WORDS, k, 200, rng)
        assert len(groups) == 200
        for g in groups:
            assert len(g) == k
            assert ''.join(g) in WORDS            # the streams write one name together
            assert g == tuple(tasks.split_name(''.join(g), k))
        used = {''.join(g) for g in groups}
        assert used == {w for w in WORDS if len(w) >= k}  # only names long enough, all of them drawn


def test_independent_groups_are_distinct_names():
    groups = tasks.make_groups('independent', WORDS, 3, 300, random.Random(1))
    for g in groups:
        assert len(set(g)) == 3 and set(g) <= set(WORDS)
    # each name is equally likely in each stream: no stream is special
    counts = Counter(g[1] for g in groups)
    assert set(counts) == set(WORDS) and max(counts.values()) < 3 * min(counts.values())


def test_make_groups_is_deterministic_in_its_rng():
    a = tasks.make_groups('split', WORDS, 2, 50, random.Random(7))
    b = tasks.make_groups('split', WORDS, 2, 50, random.Random(7))
    c = tasks.make_groups('split', WORDS, 2, 50, random.Random(8))
    assert a == b and a != c


@pytest.mark.parametrize('args, match', [
    (('nope', WORDS, 2, 1), 'task must be one of'),
    (('split', WORDS, 0, 1), 'n_streams'),
    (('split', WORDS, 2, -1), 'n_groups'),
    (('split', ['a', 'b'], 2, 1), 'at least 2 characters'),
    (('independent', ['ann', 'ann'], 2, 1), 'distinct names'),
])
def test_make_groups_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        tasks.make_groups(*args, random.Random(0))


def test_make_groups_needs_a_seeded_rng():
    with pytest.raises(ValueError, match='random.Random'):
        tasks.make_groups('split', WORDS, 2, 1, 42)


@settings(max_examples=50, deadline=None)
@given(n_groups=st.integers(1, 40), n_streams=st.integers(1, 5), seed=st.integers(0, 10**6))
def test_repair_sources_partners_come_from_different_groups(n_groups, n_streams, seed):
    if n_groups < n_streams:
        with pytest.raises(ValueError):
            tasks.repair_sources(n_groups, n_streams, random.Random(seed))
        return
    sources = tasks.repair_sources(n_groups, n_streams, random.Random(seed))
    assert len(sources) == n_groups
    for src in sources:
        assert len(set(src)) == n_streams           # no two partners from one group
    for s in range(n_streams):                       # every original stream used exactly once
        assert sorted(src[s] for src in sources) == list(range(n_groups))


def test_repair_keeps_roles_and_texts_but_breaks_groups():
    words = ['emma', 'olivia', 'isabella', 'sophia', 'christopher', 'bo']  # no two share a piece
    groups = [tuple(tasks.split_name(w, 2)) for w in words]
    repaired = tasks.repair(groups, random.Random(3))
    for s in range(2):  # same texts in the same roles
        assert Counter(g[s] for g in repaired) == Counter(g[s] for g in groups)
    assert not set(repaired) & set(groups)  # every pair is broken up


def test_copy_groups_are_one_name_and_only_the_leader_is_prompted():
    tok = Tokenizer.from_docs(WORDS)
    groups = tasks.make_groups('copy', WORDS, 3, 50, random.Random(2))
    for g in groups:
        assert len(set(g)) == 1 and g[0] in WORDS
        enc = tasks.encode_group('copy', g, tok)
        # the leader starts from the name's first letter, one token ahead of the followers
        assert enc[0] == enc[1][1:] == enc[2][1:]
        assert enc[1][0] == enc[2][0] == tok.BOS
        assert tasks.first_tokens('copy', g, tok) == [tok.encode(g[0])[1], tok.BOS, tok.BOS]
        assert [tok.decode(t) for t in enc] == [g[0]] * 3  # every stream writes the whole name
    assert tasks.written_texts('copy', ('emma',) * 2, ['mma', 'emma']) == ['emma', 'emma']


@pytest.mark.parametrize('task', ['independent', 'split'])
def test_unprompted_tasks_start_every_stream_from_bos(task):
    tok = Tokenizer.from_docs(WORDS)
    for g in tasks.make_groups(task, WORDS, 2, 20, random.Random(0)):
        enc = tasks.encode_group(task, g, tok)
        assert [tok.decode(t) for t in enc] == list(g)
        assert all(t[0] == tok.BOS and t[-1] == tok.BOS for t in enc)
        assert tasks.first_tokens(task, g, tok) == [tok.BOS, tok.BOS]
        assert tasks.written_texts(task, g, list(g)) == list(g)


# ------------------------------------------------------------------------- controls



@pytest.fixture
def open_bus():
    """A small model whose SNC is wide open (gate ~0.95, large weights), so that any note
    that gets through changes the logits a lot: a control that leaks cannot pass."""
    tok = Tokenizer.from_docs(WORDS)
    cfg = ModelConfig(vocab_size=tok.vocab_size, n_embd=8, n_head=2, block_size=16, notes_dim=4, init_std=0.5)
    params = engine.init_params(cfg, random.Random(0))
    params['snc_gate'][0, 0] = 3.0
    return tok, cfg, params


def _groups(task, tok, k=2, n=6):
    groups = tasks.make_groups(task, WORDS[:-1], k, n, random.Random(4))
    return groups, [tasks.encode_group(task, g, tok) for g in groups]


def _trunk_logp(params, cfg, seq):
    from microdnb.np_layers import log_softmax
    n = len(seq) - 1
    return log_softmax(engine.gpt_sequence(params, cfg, seq[:n])[0])


@pytest.mark.parametrize('task', tasks.TASKS)
def test_masked_notes_give_exactly_the_trunk(open_bus, task):
    tok, cfg, params = open_bus
    bcfg = BusConfig(n_streams=2, cadence=1, lag=0)
    _, token_groups = _groups(task, tok)
    for streams in token_groups:
        masked = engine.streams_log_probs(params, cfg, bcfg, streams, notes_hook=experiments.mask_hook)
        full = engine.streams_log_probs(params, cfg, bcfg, streams)
        for s, seq in enumerate(streams):
            trunk = _trunk_logp(params, cfg, seq)  # the oracle: the GPT with no SNC at all
            np.testing.assert_allclose(masked[s], trunk, rtol=0, atol=1e-12)
            assert np.abs(full[s] - trunk).max() > 1e-3  # the open bus does change the trunk's output


def test_masked_notes_make_the_snc_delta_exactly_zero(open_bus):
    tok, cfg, params = open_bus
    bcfg = BusConfig(n_streams=3, cadence=1, lag=0)
    group = ('emma',) * 3
    seen = 0
    for hook, zero in ((experiments.mask_hook, True), (None, False)):
        trace = engine.sample_parallel(params, cfg, bcfg, tok, random.Random(0), 1.0, record=True,
                                       first_tokens=tasks.first_tokens('copy', group, tok), notes_hook=hook)
        for event in trace['events']:
            assert event['notes']  # every step reads at least the other streams' plan seeds
            delta = np.array(event['snc_delta'])
            assert (np.all(delta == 0.0)) == zero
            seen += 1
    assert seen > 6


def test_plan_only_is_a_bus_where_nobody_posts(open_bus):
    tok, cfg, params = open_bus
    _, token_groups = _groups('copy', tok, k=3)
    posting = BusConfig(n_streams=3, cadence=1, lag=0)
    silent = BusConfig(n_streams=3, cadence=cfg.block_size + 1, lag=0)  # (pos + 1) % cadence never 0
    for streams in token_groups:
        plan_only = engine.streams_log_probs(params, cfg, posting, streams, notes_hook=experiments.plan_only_hook)
        oracle = engine.streams_log_probs(params, cfg, silent, streams)
        full = engine.streams_log_probs(params, cfg, posting, streams)
        for a, b, c in zip(plan_only, oracle, full):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        assert max(np.abs(a - c).max() for a, c in zip(plan_only, full)) > 1e-3


def test_plan_only_hook_keeps_exactly_the_plan_seeds():
    notes = np.arange(12.0).reshape(4, 3)
    labels = [(1, None), (1, 0), (2, None), (2, 1)]
    np.testing.assert_array_equal(experiments.plan_only_hook(0, 3, labels, notes), notes[[0, 2]])
    assert experiments.plan_only_hook(0, 0, [], notes[:0]).shape == (0, 3)


def test_shuffled_notes_from_the_group_itself_change_nothing_and_from_another_do(open_bus):
    tok, cfg, params = open_bus
    bcfg = BusConfig(n_streams=2, cadence=1, lag=0)
    a = tasks.encode_group('copy', ('emma', 'emma'), tok)
    b = tasks.encode_group('copy', ('olivia', 'olivia'), tok)  # runs longer: every label exists
    own, other = {}, {}
    engine.streams_log_probs(params, cfg, bcfg, a, notes_hook=experiments.recorder(own))
    engine.streams_log_probs(params, cfg, bcfg, b, notes_hook=experiments.recorder(other))
    full = engine.streams_log_probs(params, cfg, bcfg, a)
    same = engine.streams_log_probs(params, cfg, bcfg, a, notes_hook=experiments.donor_hook(own, cfg.notes_dim))
    for x, y in zip(full, same):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)
    shuffled = engine.streams_log_probs(params, cfg, bcfg, a, notes_hook=experiments.donor_hook(other, cfg.notes_dim))
    assert np.abs(shuffled[1] - full[1]).max() > 1e-3


def test_donors_write_something_else_and_run_at_least_as_long():
    tok = Tokenizer.from_docs(WORDS)
    groups, token_groups = _groups('split', tok, n=30)
    names = [''.join(g) for g in groups]
    def fits(h, g):  # writes something else, and every stream runs at least as long
        return names[h] != names[g] and all(len(x) >= len(y) for x, y in zip(token_groups[h], token_groups[g]))
    fallbacks = 0
    for g, h in enumerate(experiments.choose_donors(token_groups, names)):
        if any(fits(j, g) for j in range(len(groups))):
            assert fits(h, g)
        else:  # the longest name: nobody runs as long, so the next group's notes, some missing
            assert h == (g + 1) % len(groups)
            fallbacks += 1
    assert fallbacks < len(groups) // 4


def test_evaluate_counts_every_token_once(open_bus):
    tok, cfg, params = open_bus
    bcfg = BusConfig(n_streams=2, cadence=2, lag=1)
    groups, token_groups = _groups('split', tok)
    res = experiments.evaluate(params, cfg, bcfg, token_groups, 'masked')
    assert res['n_tokens'] == sum(len(t) - 1 for g in token_groups for t in g)
    trunk = sum(-_trunk_logp(params, cfg, t)[np.arange(len(t) - 1), t[1:]].sum() for g in token_groups for t in g)
    assert res['loss'] == pytest.approx(trunk / res['n_tokens'], abs=1e-12)
    assert res['nats_per_group'] == pytest.approx(trunk / len(groups), abs=1e-10)


def test_task_metric_on_hand_made_samples():
    s = lambda *texts: {'texts': list(texts), 'rounds': 0, 'steps': 0}  # noqa: E731
    copy = experiments.task_metric('copy', [s('emma', 'emma', 'emmy'), s('ava', 'bob', 'ava')], WORDS)
    assert copy == {'copied': 0.5, 'first': 0.75, 'same_chars': (1 + 0.75 + 0 + 1) / 4}
    split = experiments.task_metric('split', [s('isab', 'ella'), s('em', 'ily')], WORDS)
    assert split == {'real': 0.5}
    ind = experiments.task_metric('independent', [s('emma', 'emma'), s('ava', 'zzz')], WORDS)
    assert ind == {'real': 0.75, 'duplicates': 0.5}


@pytest.mark.parametrize('kwargs, match', [
    ({'seeds': ()}, 'seeds'), ({'seeds': (1, 1)}, 'repeated'), ({'snc_steps': 0}, 'snc_steps'),
    ({'cadence': 4}, 'swept'), ({'snc_learning_rate': float('nan')}, 'snc_learning_rate'),
    ({'min_heldout_len': 3}, 'min_heldout_len'), ({'lags': (0, -1)}, 'lags'),
])
def test_settings_reject_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        experiments.Settings(**kwargs)


def test_load_results_explains_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match='microdnb experiment'):
        experiments.load_results(tmp_path / 'nope.json')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match='microdnb-experiments-v1'):
        experiments.load_results(bad)
    with pytest.raises(ValueError, match='made by experiments.run'):
        experiments.save_results({'runs': []}, tmp_path / 'x.json')


# ------------------------------------------------------------------------- results files

RESULTS = ROOT / 'book' / 'data' / 'experiments.json'


def _key(run):
    return (run['seed'], run['task'], run['n_streams'], run['cadence'], run['lag'], run['schedule'],
            run['train'], run['gate_init'])


def _spec_key(seed, spec):
    from microdnb.config import ModelConfig
    g0 = ModelConfig().gate_init if spec['gate_init'] is None else spec['gate_init']
    return (seed, spec['task'], spec['n_streams'], spec['cadence'], spec['lag'], spec['schedule'],
            spec['train'], g0)


def test_the_books_results_file_is_complete_and_small():
    """The chapter reads book/data/experiments.json: it must hold every run its settings plan."""
    results = experiments.load_results(RESULTS)
    settings = experiments.Settings(**results['settings'])
    expected = {_spec_key(seed, spec) for seed in settings.seeds for spec in experiments.plan_runs(settings)}
    assert {_key(r) for r in results['runs']} == expected
    assert len(results['runs']) == len(expected)
    assert RESULTS.stat().st_size < 1_000_000
    assert results['provenance']['command'].startswith('python -m microdnb experiment')


@pytest.mark.slow
def test_quick_experiment_command_writes_a_valid_results_file(tmp_path):
    from conftest import subprocess_env
    from microdnb.data import NAMES_SHA256
    out = tmp_path / 'sub' / 'quick.json'
    proc = subprocess.run([sys.executable, '-m', 'microdnb', 'experiment', '--quick', '--out', str(out)],
                          capture_output=True, text=True, env=subprocess_env(), timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'trunk trained' in proc.stderr and 'done in' in proc.stderr  # progress goes to stderr
    assert 'trained re-paired' in proc.stdout and f"wrote {out}" in proc.stdout
    results = experiments.load_results(out)
    prov = results['provenance']
    assert prov['command'] == f"python -m microdnb experiment --quick --out {out}"
    assert prov['names_sha256'] == NAMES_SHA256 and prov['wall_seconds'] > 0
    assert prov['microdnb_version'] and prov['date_utc'].endswith('UTC')
    assert experiments.Settings(**results['settings']) == experiments.QUICK
    runs = results['runs']
    assert len(runs) == len(experiments.plan_runs(experiments.QUICK))
    for r in runs:
        assert r['gate']['values'][0] == pytest.approx(1 / (1 + np.exp(-r['gate_init'])))
        assert r['gate']['steps'][-1] == r['snc_steps']
        for c, v in r['loss'].items():
            assert np.isfinite(v['loss']) and v['n_tokens'] > 0
    # masking gives the trunk, which every run of a seed shares: the same held-out loss
    masked = {}
    for r in runs:
        masked.setdefault((r['task'], r['n_streams']), set()).add(r['loss']['masked']['loss'])
    assert all(len(v) == 1 for v in masked.values())
    # even after the quick schedule the copy follower reads its leader's letters
    main = experiments.main_setting(results)
    copy = experiments.select(results, task='copy', schedule='ours', train='notes', **main)[0]['loss']
    assert copy['notes']['by_stream'][1] < copy['masked']['by_stream'][1] < copy['shuffled']['by_stream'][1]


def test_experiment_command_rejects_a_directory_and_bad_seeds(tmp_path):
    from conftest import subprocess_env
    for args, match in ((['--out', str(tmp_path)], 'is a directory'), (['--seeds', '-1'], 'seeds')):
        proc = subprocess.run([sys.executable, '-m', 'microdnb', 'experiment', '--quick'] + args,
                              capture_output=True, text=True, env=subprocess_env(), timeout=120)
        assert proc.returncode == 2 and match in proc.stderr

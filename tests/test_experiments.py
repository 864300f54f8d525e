"""The experiments of part III: settings and the typed run spec, the plan, the runs, the
metrics, the results file, the counting oracle, and the `experiment` command."""
import json
import math
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from microdnb.config import ModelConfig
from microdnb.study import controls, tasks
from microdnb.study.metrics import task_metric
from microdnb.study.oracle import split_counting_loss
from microdnb.study.results import FORMAT, RENAMED, load_results, main_setting, mean_std, save_results, select
from microdnb.study.spec import QUICK, RunSpec, Settings, plan_runs, run_spec, train_config
from tiny_study import TINY, tiny_results

ROOT = Path(__file__).resolve().parents[1]
WORDS = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'al', 'bo', 'christopher', 'x']


# ------------------------------------------------------------------------- settings and specs

@pytest.mark.parametrize('kwargs, match', [
    ({'seeds': ()}, 'seeds'), ({'seeds': (1, 1)}, 'repeated'), ({'snc_steps': 0}, 'snc_steps'),
    ({'cadence': 4}, 'swept'), ({'snc_learning_rate': float('nan')}, 'snc_learning_rate'),
    ({'min_heldout_len': 3}, 'min_heldout_len'), ({'lags': (0, -1)}, 'lags'), ({'seeds': 3}, 'list'),
    ({'gate_inits': (float('inf'),)}, 'gate_inits'), ({'trunk_steps': True}, 'trunk_steps'),
])
def test_settings_reject_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Settings(**kwargs)


def test_settings_store_plain_tuples_and_round_trip_through_json():
    s = Settings(seeds=[0, 1], scan_steps=[])
    assert s.seeds == (0, 1) and s.scan_steps == ()
    assert Settings(**json.loads(json.dumps(asdict(QUICK)))) == QUICK


def test_run_spec_is_made_in_one_place_with_one_set_of_defaults():
    spec = run_spec(QUICK, 'copy')
    assert spec == RunSpec('copy', QUICK.n_streams, QUICK.cadence, QUICK.lag)
    assert (spec.schedule, spec.train, spec.evals, spec.sample, spec.gate_init) == (
        'ours', 'notes', ('notes', 'trunk', 'shuffled'), False, None)
    assert spec.initial_gate_logit == ModelConfig().gate_init
    assert run_spec(QUICK, 'split', lag=1, gate_init=0).gate_init == 0.0
    assert spec.label() == 'copy k2 c1 l0 ours'
    assert run_spec(QUICK, 'copy', train='repaired').label().endswith('(trained: repaired)')
    with pytest.raises(Exception):
        spec.task = 'split'                                  # frozen


@pytest.mark.parametrize('task, changes, match', [
    ('nope', {}, 'task'), ('copy', {'train': 'shuffled'}, 'condition'),
    ('copy', {'evals': ('masked',)}, 'condition'), ('copy', {'n_streams': 0}, 'n_streams'),
    ('copy', {'sample': 1}, 'sample'), ('copy', {'gate_init': 'x'}, 'gate_init'),
])
def test_run_spec_rejects_bad_fields(task, changes, match):
    with pytest.raises(ValueError, match=match):
        run_spec(QUICK, task, **changes)


def test_plan_runs():
    runs = plan_runs(Settings())
    assert len(runs) == 25 and len(set(runs)) == 25          # no run twice
    assert all(isinstance(r, RunSpec) for r in runs)
    for r in runs:
        assert set(r.evals) <= set(controls.CONDITIONS) and 'posts_zeroed' not in r.evals
        assert 'trunk' in r.evals                              # every run is compared with the trunk
    sampled = [r for r in runs if r.sample]
    assert [r.task for r in sampled] == list(tasks.TASKS)
    assert {r.train for r in runs} == set(controls.TRAININGS)
    assert {r.schedule for r in runs} == {'ours', 'reference', '4000@0.01', '2000@0.02'}
    assert train_config(Settings(), '4000@0.01').snc_steps == 4000
    with pytest.raises(ValueError, match='STEPS@'):
        train_config(Settings(), 'x@y')


# ------------------------------------------------------------------------- metrics and the oracle

def test_task_metric_on_hand_made_samples():
    s = lambda *texts: {'texts': list(texts), 'rounds': 0, 'steps': 0}  # noqa: E731
    copy = task_metric('copy', [s('emma', 'emma', 'emmy'), s('ava', 'bob', 'ava')], WORDS)
    assert copy == {'copied': 0.5, 'first': 0.75, 'same_chars': (1 + 0.75 + 0 + 1) / 4}
    split = task_metric('split', [s('isab', 'ella'), s('em', 'ily')], WORDS)
    assert split == {'real': 0.5}
    ind = task_metric('independent', [s('emma', 'emma'), s('ava', 'zzz')], WORDS)
    assert ind == {'real': 0.75, 'duplicates': 0.5}


def test_split_counting_loss_orders_what_stream_1_knows():
    names = ['anna', 'anne', 'bella', 'belle', 'carla', 'carlo', 'dora', 'doro'] * 5
    loss = {v: split_counting_loss(names, names, v) for v in ('none', 'bus', 'all')}
    assert loss['all'] <= loss['bus'] <= loss['none']
    assert loss['all'] < loss['none'] - 0.1                   # the first half tells the second
    with pytest.raises(ValueError, match='visible'):
        split_counting_loss(names, names, 'some')


# ------------------------------------------------------------------------- a whole (tiny) run

@pytest.fixture(scope='module')
def results():
    return tiny_results()


@pytest.mark.slow
def test_run_makes_every_planned_run_with_the_new_names(results):
    assert results['format'] == FORMAT and results['provenance']['renamed'] == RENAMED
    assert Settings(**results['settings']) == TINY
    specs = plan_runs(TINY)
    assert len(results['runs']) == len(TINY.seeds) * len(specs)
    for r, spec in zip(results['runs'], specs * len(TINY.seeds)):
        assert (r['task'], r['n_streams'], r['train'], r['gate_init']) == (
            spec.task, spec.n_streams, spec.train, spec.initial_gate_logit)
        assert list(r['loss']) == list(spec.evals)
        assert r['gate']['values'][0] == pytest.approx(1 / (1 + math.exp(-r['gate_init'])))
        assert r['gate']['steps'][-1] == r['snc_steps']
        if 'shuffled' in r['loss']:
            fallbacks = r['loss']['shuffled']['fallbacks']
            assert 0 <= fallbacks <= TINY.n_eval_groups and r['loss']['shuffled']['dropped_notes'] >= 0
            assert (fallbacks == 0) <= (r['loss']['shuffled']['dropped_notes'] == 0)
        if spec.sample:
            assert set(r['samples']) == {'notes', 'trunk', 'plan_only'}
        assert r['passes'] >= r['rounds']
    # the trunk's loss depends only on the seed, the task and the streams: every run of a seed shares it
    trunk = {}
    for r in results['runs']:
        trunk.setdefault((r['seed'], r['task'], r['n_streams']), set()).add(r['loss']['trunk']['loss'])
    assert all(len(v) == 1 for v in trunk.values())


@pytest.mark.slow
def test_run_does_not_depend_on_jobs(results):
    other = tiny_results(jobs=2)
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ('seconds', 'train_seconds')}  # noqa: E731
                        for r in rs['runs']]
    assert strip(other) == strip(results)


@pytest.mark.slow
def test_results_round_trip_and_validation(results, tmp_path):
    path = save_results(results, tmp_path / 'r.json')
    back = load_results(path)
    assert back['runs'][0]['loss']['trunk']['loss'] == pytest.approx(results['runs'][0]['loss']['trunk']['loss'],
                                                                      rel=1e-5)
    assert select(back, task='copy', seed=1, train='notes', **main_setting(back))
    assert mean_std([1.0, 3.0]) == (2.0, math.sqrt(2)) and mean_std([4.0]) == (4.0, 0.0)
    with pytest.raises(ValueError, match='nothing'):
        mean_std([])
    with pytest.raises(FileNotFoundError, match='microdnb experiment'):
        load_results(tmp_path / 'nope.json')
    bad = tmp_path / 'bad.json'
    for text, match in (('{"format": "microdnb-experiments-v1"}', FORMAT), ('{', 'not valid JSON'),
                        (json.dumps({'format': FORMAT, 'provenance': {}, 'settings': {}, 'seeds': []}), "'runs'"),
                        (json.dumps({'format': FORMAT, 'provenance': {}, 'settings': {}, 'seeds': [],
                                     'runs': [{'seed': 0}]}), 'lacks')):
        bad.write_text(text)
        with pytest.raises(ValueError, match=match):
            load_results(bad)
    with pytest.raises(ValueError, match='made by runs.run'):
        save_results({'runs': []}, tmp_path / 'x.json')
    with pytest.raises(ValueError, match='directory'):
        save_results(results, tmp_path)
    nan = dict(results, runs=[dict(results['runs'][0], final_gate=float('nan'))])
    with pytest.raises(ValueError, match='non-finite'):
        save_results(nan, tmp_path / 'nan.json')


# ------------------------------------------------------------------------- the book's results file

RESULTS = ROOT / 'book' / 'data' / 'experiments.json'


def test_the_books_results_file_is_complete_and_small():
    """The chapter reads book/data/experiments.json: it must hold every run its settings plan."""
    results = load_results(RESULTS)
    settings = Settings(**results['settings'])
    key = lambda seed, s: (seed, s.task, s.n_streams, s.cadence, s.lag, s.schedule, s.train,  # noqa: E731
                           s.initial_gate_logit)
    expected = {key(seed, spec) for seed in settings.seeds for spec in plan_runs(settings)}
    got = {(r['seed'], r['task'], r['n_streams'], r['cadence'], r['lag'], r['schedule'], r['train'], r['gate_init'])
           for r in results['runs']}
    assert got == expected and len(results['runs']) == len(expected)
    assert RESULTS.stat().st_size < 1_000_000
    assert results['provenance']['command'].startswith('python -m microdnb experiment')
    assert results['provenance']['renamed'] == RENAMED


# ------------------------------------------------------------------------- the command

@pytest.mark.slow
def test_quick_experiment_command_writes_a_valid_results_file(tmp_path):
    from conftest import subprocess_env
    from microdnb.data import NAMES_SHA256
    out = tmp_path / 'quick.json'
    proc = subprocess.run([sys.executable, '-m', 'microdnb', 'experiment', '--quick', '--out', str(out)],
                          capture_output=True, text=True, env=subprocess_env(), timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'trunk trained' in proc.stderr and 'done in' in proc.stderr  # progress goes to stderr
    assert 'trained repaired' in proc.stdout and 'shuffled fallbacks' in proc.stdout
    assert f"wrote {out}" in proc.stdout
    results = load_results(out)
    prov = results['provenance']
    assert prov['command'] == f"python -m microdnb experiment --quick --out {out}"
    assert prov['names_sha256'] == NAMES_SHA256 and prov['wall_seconds'] > 0
    assert prov['microdnb_version'] and prov['date_utc'].endswith('UTC')
    assert Settings(**results['settings']) == QUICK
    assert len(results['runs']) == len(plan_runs(QUICK))
    for r in results['runs']:
        for v in r['loss'].values():
            assert np.isfinite(v['loss']) and v['n_tokens'] > 0
    # even after the quick schedule the copy follower reads its leader's letters
    copy = select(results, task='copy', schedule='ours', train='notes', **main_setting(results))[0]['loss']
    assert copy['notes']['by_stream'][1] < copy['trunk']['by_stream'][1] < copy['shuffled']['by_stream'][1]


def test_experiment_command_rejects_a_directory_and_bad_seeds(tmp_path):
    from conftest import subprocess_env
    for args, match in ((['--out', str(tmp_path)], 'directory'), (['--seeds', '-1'], 'seeds')):
        proc = subprocess.run([sys.executable, '-m', 'microdnb', 'experiment', '--quick'] + args,
                              capture_output=True, text=True, env=subprocess_env(), timeout=120)
        assert proc.returncode != 0 and match in proc.stderr

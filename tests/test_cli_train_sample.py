"""The command line, run as a user runs it (`python -m microdnb ...` in a subprocess): output
paths are checked before any work (refusals in one line, exit 1, no traceback), `train`
writes a checkpoint and reports on stderr, `sample` draws what the engines draw from it,
with --gate, --prompt and --start wired to the engines' keyword arguments.
"""
import json
import os
import random
import stat
import time
import types

import pytest

from cli_runner import TINY, assert_clean_error, checkpoint, data_file, refused_before_training, run  # noqa: F401 (fixtures)
from conftest import REPO
from microdnb import __main__ as cli
from microdnb import reference
from microdnb.checkpoint import load_checkpoint
from microdnb.config import BusConfig
from microdnb.scalar.model import params_from
from microdnb.scalar.sample import sample_parallel, sample_single

pytestmark = pytest.mark.slow   # trains and samples through the CLI end to end: `make test`, not `make check`


# ---- train --out: checked before any work -----------------------------------------------------

def test_out_that_is_a_directory(data_file, tmp_path):
    refused_before_training(run('train', *TINY, '--data', data_file, '--out', tmp_path), 'is a directory')


@pytest.mark.parametrize('make_out, words', [
    (lambda d: '', ['--out is empty']),
    (lambda d: f'{d}/', ['names a folder', "ends with '/'"]),
    (lambda d: f'{d}/new/', ['names a folder']),
    (lambda d: d / 'missing' / 'ck.json', ['folder', 'missing does not exist (create it first)']),
    (lambda d: d / ('x' * 300 + '.json'), ['name is too long']),
])
def test_out_that_cannot_be_a_file(data_file, tmp_path, make_out, words):
    refused_before_training(run('train', *TINY, '--data', data_file, '--out', make_out(tmp_path)), *words)
    assert not (tmp_path / 'missing').exists()


def test_out_whose_parent_is_a_file(data_file, tmp_path):
    (tmp_path / 'f.txt').write_text('x')
    refused_before_training(run('train', *TINY, '--data', data_file, '--out', tmp_path / 'f.txt' / 'ck.json'),
                            'f.txt is a file, not a folder')


def test_out_that_is_a_special_file(data_file, tmp_path):
    fifo = tmp_path / 'pipe'
    os.mkfifo(fifo)
    refused_before_training(run('train', *TINY, '--data', data_file, '--out', fifo, '--force', timeout=30),
                            'is a FIFO (named pipe), not a regular file')
    refused_before_training(run('train', *TINY, '--data', data_file, '--out', '/dev/null', '--force'),
                            'is a device')


def test_out_that_is_the_dataset(data_file, tmp_path):
    before = data_file.read_bytes()
    refused_before_training(run('train', *TINY, '--data', data_file, '--out', data_file, '--force'),
                            'is the dataset (--data)', 'would destroy it')
    link = tmp_path / 'alias.txt'
    link.symlink_to(data_file)
    refused_before_training(run('train', *TINY, '--data', link, '--out', data_file, '--force'),
                            'is the dataset (--data)')
    copy = tmp_path / 'names.txt'
    copy.write_bytes(before)
    refused_before_training(run('train', *TINY, '--out', copy, '--force', MICRODNB_NAMES=str(copy)),
                            'is the dataset ($MICRODNB_NAMES)')
    shipped = REPO / 'microdnb' / 'assets' / 'names.txt'
    refused_before_training(run('train', *TINY, '--out', shipped, '--force'), 'is the shipped names file')
    assert data_file.read_bytes() == before == copy.read_bytes()


def test_existing_out_needs_force(data_file, tmp_path):
    out = tmp_path / 'ck.json'
    out.write_text('the previous checkpoint')
    refused_before_training(run('train', *TINY, '--data', data_file, '--out', out),
                            'already exists; pass --force to replace it')
    assert out.read_text() == 'the previous checkpoint'
    out.chmod(0o444)
    refused_before_training(run('train', *TINY, '--data', data_file, '--out', out),
                            'already exists and is read-only; pass --force')
    # with --force it is replaced (read-only or not, as `cp -f`), keeping its mode, and nothing else is left
    proc = run('train', *TINY, '--data', data_file, '--out', out, '--force')
    assert proc.returncode == 0, proc.stderr
    assert load_checkpoint(out)['cfg'].n_embd == 4
    assert stat.S_IMODE(out.stat().st_mode) == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ck.json']


def test_experiment_out_is_checked_before_its_runs(tmp_path):
    out = tmp_path / 'results.json'
    out.write_text('{"previous": true}')
    for args, words in ((['--out', out], ['already exists; pass --force']),
                        (['--out', f'{tmp_path}/'], ['names a folder']),
                        (['--out', tmp_path], ['is a directory']),
                        (['--out', tmp_path / 'no' / 'r.json'], ['does not exist (create it first)']),
                        (['--out', REPO / 'microdnb' / 'assets' / 'names.txt', '--force'], ['shipped names file'])):
        start = time.perf_counter()
        proc = run('experiment', '--quick', *args, timeout=60)
        assert_clean_error(proc, *words)
        assert proc.stdout == '' and time.perf_counter() - start < 10
    assert out.read_text() == '{"previous": true}'


# ---- train, then sample from what it wrote ------------------------------------------------------

def test_train_reports_progress_on_stderr_and_writes_a_checkpoint(checkpoint):
    path, proc = checkpoint
    err = proc.stderr
    assert '[phase 1] step     1/3 | loss' in err and '[phase 1] step     3/3 | loss' in err
    assert '[phase 2] step     1/2 | loss' in err and '[phase 2] step     2/2 | loss' in err and 'gate' in err
    assert proc.stdout.startswith(f'saved {path} (final gate ') and '[phase' not in proc.stdout
    ck = load_checkpoint(path)
    assert (ck['cfg'].n_embd, ck['cfg'].n_head) == (8, 2)
    assert ck['bus_cfg'] == BusConfig(n_streams=2, cadence=3, lag=0)
    assert ck['meta'] == {'seed': 42, 'steps': 3, 'snc_steps': 2, 'engine': 'scalar'}
    assert sorted(p.name for p in path.parent.iterdir()) == ['tiny.json']


def test_sample_single_stream_from_the_checkpoint(checkpoint):
    path, _ = checkpoint
    proc = run('sample', '--checkpoint', path, '--num', 4, '--seed', 3)
    assert proc.returncode == 0, proc.stderr
    ck = load_checkpoint(path)
    rng = random.Random(3)
    expected = [sample_single(params_from(ck['params']), ck['cfg'], ck['tokenizer'], rng, 0.5)['text'] or '(empty)'
                for _ in range(4)]
    assert proc.stdout.splitlines() == expected


def _expected_groups(path, n, streams, temperature, seed):
    ck = load_checkpoint(path)
    rng = random.Random(seed)
    bcfg = BusConfig(n_streams=streams, cadence=3, lag=0)  # cadence and lag from the checkpoint
    return [sample_parallel(params_from(ck['params']), ck['cfg'], bcfg, ck['tokenizer'], rng, temperature)['texts']
            for _ in range(n)]


def test_sample_three_streams_from_the_checkpoint(checkpoint):
    path, _ = checkpoint
    proc = run('sample', '--checkpoint', path, '--num', 2, '--streams', 3, '--temperature', 0.8)
    assert proc.returncode == 0, proc.stderr
    expected = [' | '.join(t or '(empty)' for t in g) for g in _expected_groups(path, 2, 3, 0.8, 42)]
    lines = proc.stdout.splitlines()
    assert lines == expected and all(line.count(' | ') == 2 for line in lines)


def test_sample_json_prints_one_group(checkpoint):
    path, _ = checkpoint
    proc = run('sample', '--checkpoint', path, '--streams', 2, '--seed', 7, '--json', '--num', 1)  # --num 1 is allowed
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count('\n') == 1
    texts = json.loads(proc.stdout)['texts']
    assert {'texts': texts} == {'texts': _expected_groups(path, 1, 2, 0.5, 7)[0]}
    # the group drawn with random.Random(seed): the first line without --json
    plain = run('sample', '--checkpoint', path, '--streams', 2, '--seed', 7, '--num', 2)
    assert plain.stdout.splitlines()[0] == ' | '.join(t or '(empty)' for t in texts)
    single = run('sample', '--checkpoint', path, '--seed', 3, '--json')
    ck = load_checkpoint(path)
    text = sample_single(params_from(ck['params']), ck['cfg'], ck['tokenizer'], random.Random(3), 0.5)['text']
    assert single.stdout == json.dumps({'texts': [text]}) + '\n'


@pytest.mark.parametrize('args, words', [
    (['--json', '--num', 3], ['--json prints one group', '--num']),
    (['--cadence', 2], ['--cadence', '--streams 2']),
    (['--gate', 0.5, '--lag', 1], ['--lag, --gate', 'Notes Bus']),
    (['--streams', 2, '--prompt', 'em', '--prompt', 'ol', '--prompt', 'av'], ['--prompt has 3 entries for 2 stream(s)']),
    (['--prompt', 'e1'], ["--prompt 'e1'", "has the character '1', which is not in the vocabulary"]),
    (['--prompt', 'e' * 16], ['has 16 characters', 'at most 15']),
    (['--start', 'e'], ['--start', 'add --streams 2', '--prompt']),
    (['--streams', 2, '--start', 'em'], ["--start 'em'", 'one character', "'' for the start token"]),
    (['--streams', 2, '--start', 'E'], ["--start 'E'", "vocabulary"]),
    (['--streams', 2, '--start', 'e', '--start', '', '--start', 'a'], ['--start has 3 entries for 2 stream(s)']),
])
def test_sample_refuses_settings_that_do_not_fit(checkpoint, args, words):
    assert_clean_error(run('sample', '--checkpoint', checkpoint[0], *args), *words)


# ---- sample --gate / --prompt: wired to the engines' keyword arguments ---------------------------

def _fake_engine(calls):
    def trace(texts):
        return {'texts': texts, 'text': texts[0], 'tokens': []}
    return types.SimpleNamespace(
        params_from=lambda p: p,
        sample_single=lambda *a, **k: calls.append(('single', a[4], k)) or trace(['x']),
        sample_parallel=lambda *a, **k: calls.append(('parallel', a[2], a[5], k)) or trace(['a', '']),
    )


def test_sample_passes_gate_and_prompts_to_the_engine(checkpoint, monkeypatch, capsys):
    calls = []
    monkeypatch.setitem(reference.ENGINES, 'scalar', _fake_engine(calls))
    path = str(checkpoint[0])
    assert cli.main(['sample', '--checkpoint', path, '--streams', '3', '--gate', '0.25', '--prompt', 'em',
                     '--cadence', '2', '--lag', '1', '--temperature', '0.7', '--json']) == 0
    assert json.loads(capsys.readouterr().out) == {'texts': ['a', '']}
    (kind, bcfg, temperature, kwargs), = calls
    assert kind == 'parallel' and bcfg == BusConfig(n_streams=3, cadence=2, lag=1) and temperature == 0.7
    assert kwargs == {'gate': 0.25, 'prompts': ['em', '', '']}  # fewer prompts than streams: the rest empty
    calls.clear()
    assert cli.main(['sample', '--checkpoint', path, '--prompt', 'ol', '--num', '2']) == 0
    assert capsys.readouterr().out == 'x\nx\n'
    assert calls == [('single', 0.5, {'prompt': 'ol'})] * 2
    calls.clear()
    assert cli.main(['sample', '--checkpoint', path, '--streams', '2']) == 0  # nothing given: nothing passed
    assert calls[0][3] == {} and len(calls) == 10
    calls.clear()
    capsys.readouterr()
    assert cli.main(['sample', '--checkpoint', path, '--streams', '3', '--start', 'm', '--json']) == 0
    assert calls[0][3] == {'starts': ['m', '', '']}
    assert json.loads(capsys.readouterr().out) == {'texts': ['a', '']}   # the engine's texts, as they are


def test_sample_with_prompts_and_gate_on_the_real_engines(checkpoint):
    path, _ = checkpoint
    for engine in ('scalar', 'numpy'):
        proc = run('sample', '--checkpoint', path, '--streams', 3, '--prompt', 'em', '--prompt', 'a',
                   '--gate', 1, '--json', '--engine', engine)
        assert proc.returncode == 0, proc.stderr
        texts = json.loads(proc.stdout)['texts']
        assert len(texts) == 3 and texts[0].startswith('em') and texts[1].startswith('a')
        one = run('sample', '--checkpoint', path, '--prompt', 'ol', '--json', '--engine', engine)
        assert one.returncode == 0, one.stderr
        assert json.loads(one.stdout)['texts'][0].startswith('ol')


def test_sample_start_is_the_start_letter_on_both_engines(checkpoint):
    """--start: the stream's start letter (the copy task's leader), as starts of the numpy
    engine; both engines print the same names, each beginning with its start letter."""
    from microdnb import vector
    path, _ = checkpoint
    ck = load_checkpoint(path)
    tok = ck['tokenizer']
    bus = BusConfig(n_streams=3, cadence=ck['bus_cfg'].cadence, lag=ck['bus_cfg'].lag)
    want = vector.sample_parallel(vector.params_from(ck['params']), ck['cfg'], bus, tok, random.Random(8), 0.5,
                                  starts=['h', None, 'a'], prompts=[None, 'e', None])['texts']
    assert want[0].startswith('h') and want[2].startswith('a')
    for engine in ('scalar', 'numpy'):
        proc = run('sample', '--checkpoint', path, '--streams', 3, '--start', 'h', '--start', '', '--start', 'a',
                   '--prompt', '', '--prompt', 'e', '--seed', 8, '--json', '--engine', engine)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)['texts'] == want


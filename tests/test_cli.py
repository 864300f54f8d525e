"""The command line, run as a user runs it: `python -m microdnb ...` in a subprocess.

Every refusal is one line `microdnb: error: ...`, exit status 2 for a bad argument (argparse)
and 1 for what is found later, no traceback; output paths are checked before any work.
"""
import argparse
import json
import os
import random
import stat
import subprocess
import sys
import time
import types

import pytest

from conftest import REPO, subprocess_env
from microdnb import __main__ as cli
from microdnb import reference
from microdnb.checkpoint import load_checkpoint
from microdnb.config import BusConfig
from microdnb.scalar.model import params_from
from microdnb.scalar.sample import sample_parallel, sample_single

NAMES = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'amelia', 'harper', 'evelyn', 'abigail']
TINY = ['--steps', 2, '--snc-steps', 1, '--n-embd', 4, '--n-head', 2, '--block-size', 8]


def run(*args, timeout=300, **env):
    return subprocess.run([sys.executable, '-m', 'microdnb', *map(str, args)], cwd=REPO,
                          env=subprocess_env(**env), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope='module')
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('data') / 'names.txt'
    path.write_text('\n'.join(NAMES) + '\n')
    return path


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory, data_file):
    """`train` with tiny settings, once for the module: (path, the finished process)."""
    path = tmp_path_factory.mktemp('ck') / 'tiny.json'
    proc = run('train', '--steps', 3, '--snc-steps', 2, '--n-embd', 8, '--n-head', 2, '--streams', 2,
               '--data', data_file, '--out', path)
    assert proc.returncode == 0, proc.stderr
    return path, proc


def assert_clean_error(proc, *words, argparse_error=False):
    """Exit 2 (argparse) or 1 (ours), no traceback, and one line `microdnb: error: ...`
    that says what is wrong."""
    assert proc.returncode == (2 if argparse_error else 1), (proc.returncode, proc.stderr)
    assert 'Traceback' not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if 'error:' in line]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith('microdnb: error: '), errors[0]
    for w in words:
        assert w in errors[0], (w, errors[0])
    if not argparse_error:  # our own errors print nothing but that line
        assert proc.stderr.count('\n') == 1, proc.stderr
    return errors[0]


# ---- help ------------------------------------------------------------------------------------

@pytest.mark.parametrize('args', [['--help'], ['replicate', '--help'], ['train', '--help'], ['sample', '--help'],
                                  ['experiment', '--help']])
def test_help_exits_zero(args):
    proc = run(*args)
    assert proc.returncode == 0 and proc.stdout.startswith('usage: python -m microdnb')
    assert proc.stderr == ''


def _subparsers():
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_every_option_shows_its_default():
    for name, sub in _subparsers().items():
        formatter = sub._get_formatter()
        for action in sub._actions:
            if not action.option_strings or action.dest == 'help':
                continue
            text = formatter._get_help_string(action)
            assert action.help, (name, action.option_strings)
            assert 'default' in text or text.endswith('(required)'), (name, action.option_strings, text)


def test_help_text_shows_defaults_and_ranges():
    out = run('train', '--help').stdout
    assert '(default: 1000)' in out and '(default: 300)' in out and '(default: scalar)' in out
    assert 'replace --out if it exists (default: off)' in out and '(required)' in out
    out = run('sample', '--help').stdout
    for text in ('--gate', '--prompt', '--json', '(default: as trained)', '(default: 0.5)',
                 "(default: the checkpoint's)", '[0.01, 100]'):
        assert text in ' '.join(out.split()), text


def test_type_functions_are_named_for_messages():
    """argparse shows a type function's __name__ ("invalid _nonneg value"): none is private."""
    for sub in _subparsers().values():
        for action in sub._actions:
            if callable(action.type):
                assert not action.type.__name__.startswith('_'), action.type.__name__


def test_cli_engine_names_are_the_registry():
    assert sorted(cli.ENGINES) == sorted(reference.ENGINES)


# ---- bad arguments: refused by argparse, exit 2 ----------------------------------------------

@pytest.mark.parametrize('args, words', [
    (['replicate', '--steps', -5], ['--steps', 'must be an integer in [0, 10000000], got -5']),
    (['replicate', '--snc-steps', -1], ['--snc-steps', '[0, 10000000]']),
    (['replicate', '--engine', 'torch'], ['--engine', "invalid choice: 'torch'"]),
    (['train', '--out', 'x.json', '--steps', 'many'], ['--steps', "got 'many'"]),
    (['train', '--out', 'x.json', '--steps', 10**7 + 1], ['--steps', 'got 10000001']),
    (['train', '--out', 'x.json', '--n-embd', 0], ['--n-embd', 'must be an integer in [1, 1024], got 0']),
    (['train', '--out', 'x.json', '--n-layer', 17], ['--n-layer', '[1, 16]']),
    (['train', '--out', 'x.json', '--block-size', 5000], ['--block-size', '[1, 1024]']),
    (['train', '--out', 'x.json', '--streams', 65], ['--streams', '[1, 64]']),
    (['train', '--out', 'x.json', '--seed', -1], ['--seed', 'got -1']),
    (['train', '--out', 'x.json', '--seed', '9' * 5000], ['--seed', "got '999"]),
    (['train'], ['--out']),
    (['sample'], ['--checkpoint']),
    (['sample', '--checkpoint', 'x.json', '--temperature', 'hot'], ['--temperature', "got 'hot'"]),
    (['sample', '--checkpoint', 'x.json', '--gate', 1.5], ['--gate', 'must be a number in [0, 1], got 1.5']),
    (['sample', '--checkpoint', 'x.json', '--gate', 'nan'], ['--gate', 'got nan']),
    (['sample', '--checkpoint', 'x.json', '--num', 0], ['--num', 'must be an integer in [1, 100000], got 0']),
    (['experiment', '--seeds', -1], ['--seeds', 'got -1']),
    (['experiment', '--jobs', 0], ['--jobs', 'got 0']),
    ([], ['command']),
])
def test_bad_arguments(args, words):
    assert_clean_error(run(*args), *words, argparse_error=True)


def test_steps_1e3_says_what_to_write():
    line = assert_clean_error(run('train', '--out', 'x.json', '--steps', '1e3'), argparse_error=True)
    assert line == ("microdnb: error: argument --steps: must be an integer in [0, 10000000], got '1e3' "
                    "(write 1000)")
    assert 'invalid' not in line and '_nonneg' not in line


@pytest.mark.parametrize('t', [0, -1, 'nan', 'inf', '1e-320', 1000])
def test_bad_temperature(checkpoint, t):
    assert_clean_error(run('sample', '--checkpoint', checkpoint[0], '--temperature', t),
                       '--temperature', 'must be a number in [0.01, 100], got', argparse_error=True)


def test_huge_model_is_refused_at_once(tmp_path, capsys):
    start = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        cli.main(['train', '--n-embd', '100000', '--out', str(tmp_path / 'ck.json')])
    assert time.perf_counter() - start < 1 and e.value.code == 2
    assert 'must be an integer in [1, 1024], got 100000' in capsys.readouterr().err
    start = time.perf_counter()
    proc = run('train', '--n-embd', 100_000, '--out', tmp_path / 'ck.json')
    assert time.perf_counter() - start < 5  # the interpreter's start-up included, on a busy machine
    assert_clean_error(proc, '--n-embd', 'must be an integer in [1, 1024], got 100000', argparse_error=True)


def test_model_over_the_parameter_cap_is_refused_before_training(data_file, tmp_path):
    proc = run('train', '--n-embd', 1024, '--n-head', 4, '--data', data_file, '--out', tmp_path / 'ck.json')
    assert_clean_error(proc, 'parameters, over the limit of 2,000,000')
    assert not (tmp_path / 'ck.json').exists()


def test_n_embd_not_divisible_by_n_head(data_file, tmp_path):
    proc = run('train', '--n-embd', 10, '--n-head', 4, '--data', data_file, '--out', tmp_path / 'ck.json')
    assert_clean_error(proc, 'n_embd (10) must be divisible')
    assert not (tmp_path / 'ck.json').exists()


# ---- reading: checkpoints and data ------------------------------------------------------------

def test_missing_checkpoint(tmp_path):
    assert_clean_error(run('sample', '--checkpoint', tmp_path / 'nope.json'),
                       'does not exist', 'python -m microdnb train')


def test_damaged_checkpoint(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"format": "microdnb-checkpoint-v1"')
    assert_clean_error(run('sample', '--checkpoint', bad), str(bad), 'not valid JSON')


def test_checkpoint_that_is_not_a_file(tmp_path):
    assert_clean_error(run('sample', '--checkpoint', tmp_path), str(tmp_path), 'is a directory')
    fifo = tmp_path / 'pipe.json'
    os.mkfifo(fifo)
    assert_clean_error(run('sample', '--checkpoint', fifo, timeout=30), 'is a FIFO (named pipe)')  # no hang
    loop = tmp_path / 'loop.json'
    loop.symlink_to(loop)
    assert_clean_error(run('sample', '--checkpoint', loop), 'symbolic link loop')


def test_checkpoint_with_nan_names_file_and_parameter(checkpoint, tmp_path):
    doc = json.loads(checkpoint[0].read_text())
    doc['params']['wte'][1][0] = float('nan')
    bad = tmp_path / 'nan.json'
    bad.write_text(json.dumps(doc))
    assert_clean_error(run('sample', '--checkpoint', bad), str(bad), 'params.wte[1][0] is NaN')


def test_missing_data_file(tmp_path):
    assert_clean_error(run('train', '--data', tmp_path / 'none.txt', '--out', tmp_path / 'ck.json'),
                       'none.txt', 'does not exist')


def test_binary_data_file(tmp_path):
    bad = tmp_path / 'names.bin'
    bad.write_bytes(b'\x89PNG\r\n\x1a\n\x00\xff\xfe' * 10)
    assert_clean_error(run('train', '--data', bad, '--out', tmp_path / 'ck.json'), str(bad))
    assert not (tmp_path / 'ck.json').exists()


def test_missing_dataset_behind_env_var(tmp_path):
    proc = run('replicate', '--steps', 1, '--snc-steps', 1, MICRODNB_NAMES=str(tmp_path / 'gone.txt'))
    assert_clean_error(proc, 'MICRODNB_NAMES', 'gone.txt')
    assert proc.stdout == ''


# ---- train --out: checked before any work -----------------------------------------------------

def refused_before_training(proc, *words):
    assert_clean_error(proc, *words)
    assert '[phase' not in proc.stderr and proc.stdout == ''


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
    tok = load_checkpoint(path)['tokenizer']
    assert calls[0][3] == {'first_tokens': [tok.uchars.index('m'), tok.BOS, tok.BOS]}
    assert json.loads(capsys.readouterr().out) == {'texts': ['ma', '']}   # the given letter in front


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


def test_sample_start_is_the_first_input_on_both_engines(checkpoint):
    """--start: the stream's first token (the copy task's leader), as first_tokens of the
    numpy engine; both engines print the same names, each beginning with its given letter."""
    from microdnb import vector
    path, _ = checkpoint
    ck = load_checkpoint(path)
    tok = ck['tokenizer']
    bus = BusConfig(n_streams=3, cadence=ck['bus_cfg'].cadence, lag=ck['bus_cfg'].lag)
    want = vector.sample_parallel(vector.params_from(ck['params']), ck['cfg'], bus, tok, random.Random(8), 0.5,
                                  first_tokens=[tok.uchars.index('h'), tok.BOS, tok.uchars.index('a')],
                                  prompts=[None, 'e', None])['texts']
    want = ['h' + want[0], want[1], 'a' + want[2]]
    for engine in ('scalar', 'numpy'):
        proc = run('sample', '--checkpoint', path, '--streams', 3, '--start', 'h', '--start', '', '--start', 'a',
                   '--prompt', '', '--prompt', 'e', '--seed', 8, '--json', '--engine', engine)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)['texts'] == want

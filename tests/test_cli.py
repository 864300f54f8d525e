"""The command line, run as a user runs it: `python -m microdnb ...` in a subprocess."""
import random
import subprocess
import sys

import pytest

from conftest import REPO, subprocess_env
from microdnb.checkpoint import load_checkpoint
from microdnb.config import BusConfig
from microdnb.sample import sample_parallel, sample_single

NAMES = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'amelia', 'harper', 'evelyn', 'abigail']


def run(*args, **env):
    return subprocess.run([sys.executable, '-m', 'microdnb', *map(str, args)], cwd=REPO,
                          env=subprocess_env(**env), capture_output=True, text=True, timeout=300)


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


@pytest.mark.parametrize('args', [['--help'], ['replicate', '--help'], ['train', '--help'], ['sample', '--help'],
                                  ['experiment', '--help']])
def test_help_exits_zero(args):
    proc = run(*args)
    assert proc.returncode == 0 and proc.stdout.startswith('usage: python -m microdnb')
    assert proc.stderr == ''


def assert_clean_error(proc, *words, argparse_error=False):
    """Non-zero exit, no traceback, and the complaint on one line that says what is wrong."""
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if 'error:' in line]
    assert len(errors) == 1, proc.stderr
    for w in words:
        assert w in errors[0], (w, errors[0])
    if not argparse_error:  # our own errors print nothing but that line
        assert proc.stderr.count('\n') == 1, proc.stderr


@pytest.mark.parametrize('args, words', [
    (['replicate', '--steps', -5], ['--steps', 'must be >= 0, got -5']),
    (['replicate', '--snc-steps', -1], ['--snc-steps', '>= 0']),
    (['replicate', '--engine', 'torch'], ['--engine', "invalid choice: 'torch'"]),
    (['train', '--out', 'x.json', '--steps', 'many'], ['--steps', "'many'"]),
    (['train', '--out', 'x.json', '--n-embd', 0], ['--n-embd', '>= 1']),
    (['train'], ['--out']),
    (['sample'], ['--checkpoint']),
    (['sample', '--checkpoint', 'x.json', '--temperature', 'hot'], ['--temperature']),
    ([], ['command']),
])
def test_bad_arguments(args, words):
    assert_clean_error(run(*args), *words, argparse_error=True)


def test_n_embd_not_divisible_by_n_head(data_file, tmp_path):
    proc = run('train', '--n-embd', 10, '--n-head', 4, '--data', data_file, '--out', tmp_path / 'ck.json')
    assert_clean_error(proc, 'microdnb train: error:', 'n_embd (10) must be divisible')
    assert not (tmp_path / 'ck.json').exists()


def test_missing_checkpoint(tmp_path):
    assert_clean_error(run('sample', '--checkpoint', tmp_path / 'nope.json'),
                       'microdnb sample: error:', 'does not exist', 'python -m microdnb train')


def test_damaged_checkpoint(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"format": "microdnb-checkpoint-v1"')
    assert_clean_error(run('sample', '--checkpoint', bad), 'not valid JSON')


@pytest.mark.parametrize('t', [0, -1, 'nan', 'inf'])
def test_bad_temperature(checkpoint, t):
    assert_clean_error(run('sample', '--checkpoint', checkpoint[0], '--temperature', t),
                       'temperature must be a finite number > 0')


def test_missing_data_file(tmp_path):
    assert_clean_error(run('train', '--data', tmp_path / 'none.txt', '--out', tmp_path / 'ck.json'),
                       'none.txt', 'does not exist')


def test_missing_dataset_behind_env_var(tmp_path):
    proc = run('replicate', '--steps', 1, '--snc-steps', 1, MICRODNB_NAMES=str(tmp_path / 'gone.txt'))
    assert_clean_error(proc, 'MICRODNB_NAMES', 'gone.txt')
    assert proc.stdout == ''


def test_output_path_that_is_a_directory(data_file, tmp_path):
    proc = run('train', '--steps', 1, '--snc-steps', 1, '--n-embd', 4, '--n-head', 2,
               '--data', data_file, '--out', tmp_path)
    assert_clean_error(proc, 'microdnb train: error:', 'is a directory')


# ---- train, then sample from what it wrote ------------------------------------------

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


def test_sample_single_stream_from_the_checkpoint(checkpoint):
    path, _ = checkpoint
    proc = run('sample', '--checkpoint', path, '--num', 4, '--seed', 3)
    assert proc.returncode == 0, proc.stderr
    ck = load_checkpoint(path)
    rng = random.Random(3)
    expected = [sample_single(ck['state_dict'], ck['cfg'], ck['tokenizer'], rng, 0.5)['text'] or '(empty)'
                for _ in range(4)]
    assert proc.stdout.splitlines() == expected


def test_sample_three_streams_from_the_checkpoint(checkpoint):
    path, _ = checkpoint
    proc = run('sample', '--checkpoint', path, '--num', 2, '--streams', 3, '--temperature', 0.8)
    assert proc.returncode == 0, proc.stderr
    ck = load_checkpoint(path)
    rng = random.Random(42)
    bcfg = BusConfig(n_streams=3, cadence=3, lag=0)  # cadence and lag from the checkpoint
    expected = [' | '.join(t or '(empty)' for t in
                           sample_parallel(ck['state_dict'], ck['cfg'], bcfg, ck['tokenizer'], rng, 0.8)['texts'])
                for _ in range(2)]
    lines = proc.stdout.splitlines()
    assert lines == expected and all(line.count(' | ') == 2 for line in lines)

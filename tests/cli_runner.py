"""What the command line's tests (test_cli_args.py, test_cli_train_sample.py) share: running
`python -m microdnb ...` as a user does, in a subprocess, a tiny names file and a tiny
checkpoint trained by `train`, and what a clean refusal looks like."""
import subprocess
import sys

import pytest

from conftest import REPO, subprocess_env

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


def refused_before_training(proc, *words):
    assert_clean_error(proc, *words)
    assert '[phase' not in proc.stderr and proc.stdout == ''

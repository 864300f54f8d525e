"""The command line, run as a user runs it (`python -m microdnb ...` in a subprocess): help
shows every default and range; bad arguments, checkpoints and data files are refused in one
line `microdnb: error: ...`, exit status 2 for a bad argument (argparse) and 1 for what is
found later, no traceback. Output paths, training and sampling: test_cli_train_sample.py.
"""
import argparse
import json
import os
import time

import pytest

from cli_runner import assert_clean_error, checkpoint, data_file, run  # noqa: F401 (fixtures)
from microdnb import __main__ as cli
from microdnb import reference


# ---- help ------------------------------------------------------------------------------------

@pytest.mark.parametrize('args', [['--help'], ['replicate', '--help'], ['train', '--help'], ['sample', '--help'],
                                  ['experiment', '--help']])
@pytest.mark.slow
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


@pytest.mark.slow
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
@pytest.mark.slow
def test_bad_arguments(args, words):
    assert_clean_error(run(*args), *words, argparse_error=True)


@pytest.mark.slow
def test_steps_1e3_says_what_to_write():
    line = assert_clean_error(run('train', '--out', 'x.json', '--steps', '1e3'), argparse_error=True)
    assert line == ("microdnb: error: argument --steps: must be an integer in [0, 10000000], got '1e3' "
                    "(write 1000)")
    assert 'invalid' not in line and '_nonneg' not in line


@pytest.mark.slow
@pytest.mark.parametrize('t', [0, -1, 'nan', 'inf', '1e-320', 1000])
def test_bad_temperature(checkpoint, t):
    assert_clean_error(run('sample', '--checkpoint', checkpoint[0], '--temperature', t),
                       '--temperature', 'must be a number in [0.01, 100], got', argparse_error=True)


@pytest.mark.slow
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


@pytest.mark.slow
def test_model_over_the_parameter_cap_is_refused_before_training(data_file, tmp_path):
    proc = run('train', '--n-embd', 1024, '--n-head', 4, '--data', data_file, '--out', tmp_path / 'ck.json')
    assert_clean_error(proc, 'parameters, over the limit of 2,000,000')
    assert not (tmp_path / 'ck.json').exists()


@pytest.mark.slow
def test_n_embd_not_divisible_by_n_head(data_file, tmp_path):
    proc = run('train', '--n-embd', 10, '--n-head', 4, '--data', data_file, '--out', tmp_path / 'ck.json')
    assert_clean_error(proc, 'n_embd (10) must be divisible')
    assert not (tmp_path / 'ck.json').exists()


# ---- reading: checkpoints and data ------------------------------------------------------------

# (the one run of the CLI in `make check`: the others are marked slow)
def test_missing_checkpoint(tmp_path):
    assert_clean_error(run('sample', '--checkpoint', tmp_path / 'nope.json'),
                       'does not exist', 'python -m microdnb train')


@pytest.mark.slow
def test_damaged_checkpoint(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"format": "microdnb-checkpoint-v1"')
    assert_clean_error(run('sample', '--checkpoint', bad), str(bad), 'not valid JSON')


@pytest.mark.slow
def test_checkpoint_that_is_not_a_file(tmp_path):
    assert_clean_error(run('sample', '--checkpoint', tmp_path), str(tmp_path), 'is a directory')
    fifo = tmp_path / 'pipe.json'
    os.mkfifo(fifo)
    assert_clean_error(run('sample', '--checkpoint', fifo, timeout=30), 'is a FIFO (named pipe)')  # no hang
    loop = tmp_path / 'loop.json'
    loop.symlink_to(loop)
    assert_clean_error(run('sample', '--checkpoint', loop), 'symbolic link loop')


@pytest.mark.slow
def test_checkpoint_with_nan_names_file_and_parameter(checkpoint, tmp_path):
    doc = json.loads(checkpoint[0].read_text())
    doc['params']['wte'][1][0] = float('nan')
    bad = tmp_path / 'nan.json'
    bad.write_text(json.dumps(doc))
    assert_clean_error(run('sample', '--checkpoint', bad), str(bad), 'params.wte[1][0] is NaN')


@pytest.mark.slow
def test_missing_data_file(tmp_path):
    assert_clean_error(run('train', '--data', tmp_path / 'none.txt', '--out', tmp_path / 'ck.json'),
                       'none.txt', 'does not exist')


@pytest.mark.slow
def test_binary_data_file(tmp_path):
    bad = tmp_path / 'names.bin'
    bad.write_bytes(b'\x89PNG\r\n\x1a\n\x00\xff\xfe' * 10)
    assert_clean_error(run('train', '--data', bad, '--out', tmp_path / 'ck.json'), str(bad))
    assert not (tmp_path / 'ck.json').exists()


@pytest.mark.slow
def test_missing_dataset_behind_env_var(tmp_path):
    proc = run('replicate', '--steps', 1, '--snc-steps', 1, MICRODNB_NAMES=str(tmp_path / 'gone.txt'))
    assert_clean_error(proc, 'MICRODNB_NAMES', 'gone.txt')
    assert proc.stdout == ''

"""`replicate` prints what the reference script prints, byte for byte.

The oracle is the reference itself (../shared/reference/microgpt_dnb.py, run with
the same textual edits of its seed and step counts) and its recorded output,
seed_output.txt. Each reference run starts in the background, so it uses the
second core while microdnb runs on the first.
"""
import random
import subprocess
import sys

import pytest

from conftest import REPO, subprocess_env
from microdnb.config import BusConfig, ModelConfig, TrainConfig
from microdnb.data import Tokenizer, load_docs
from microdnb.model import init_params
from microdnb.replicate import replicate
from microdnb.train import train_phase1, train_phase2
from reference_runner import REFERENCE, REFERENCE_DIR, SEED_OUTPUT, finish, reference_training, start_reference


@pytest.fixture(scope='module')
def reference_dir():
    if not REFERENCE.is_file():
        pytest.skip(f"the reference script is absent ({REFERENCE_DIR} does not exist or lacks "
                    f"microgpt_dnb.py): fidelity to it cannot be checked here")
    return REFERENCE_DIR


def printed(lines):
    """What print() would have written for these out(...) calls."""
    return ''.join(line + '\n' for line in lines)


@pytest.mark.slow
@pytest.mark.parametrize('seed', [42, 7])
def test_short_run_equals_the_reference(reference_dir, names_file, tmp_path, seed):
    proc = start_reference(tmp_path, names_file, seed=seed, steps=30, snc_steps=6)
    lines = []
    try:
        replicate(seed=seed, steps=30, snc_steps=6, out=lines.append)
    finally:
        expected = finish(proc)
    assert printed(lines) == expected
    assert expected.count('\n') == 30 and 'final gate value' in expected  # the whole program ran


def test_parameters_after_training_equal_the_references_bit_for_bit(reference_dir, names_file):
    """Fast and sharper than the printed 4 decimals: after 3 phase-1 steps and 2 phase-2
    steps every one of the 5,217 parameters, and the last loss, equals the reference's."""
    ref = reference_training(names_file, seed=7, steps=3, snc_steps=2)
    rng = random.Random(7)
    docs = load_docs()
    rng.shuffle(docs)
    tok = Tokenizer.from_docs(docs)
    cfg = ModelConfig(vocab_size=tok.vocab_size)
    sd = init_params(cfg, rng)
    tcfg = TrainConfig(steps=3, snc_steps=2)
    losses = []
    train_phase1(sd, cfg, tcfg, docs, tok)
    train_phase2(sd, cfg, tcfg, BusConfig(n_streams=2, cadence=3, lag=0), docs, tok,
                 callback=lambda info: losses.append(info['loss']))
    assert list(sd) == list(ref['state_dict'])
    for key in sd:
        ours = [[v.data for v in row] for row in sd[key]]
        theirs = [[v.data for v in row] for row in ref['state_dict'][key]]
        assert ours == theirs, key
    assert losses[-1] == ref['loss'].data
    assert sd['snc_gate'][0][0].data != -5.0  # phase 2 did move SNC


class FirstStepDone(Exception):
    """Raised by `out` to stop the default (1000-step) run after its first phase-1 line."""


def test_default_run_starts_exactly_like_seed_output(reference_dir, names_file):
    if not SEED_OUTPUT.is_file():
        pytest.skip(f"{SEED_OUTPUT} is absent")
    lines = []

    def out(line):
        lines.append(line)
        if line.startswith(' step '):
            raise FirstStepDone
    with pytest.raises(FirstStepDone):
        replicate(out=out)  # the defaults: seed 42, 1000 steps, 300 SNC steps
    assert lines[-1] == ' step    1 / 1000 | loss 3.3660'
    recorded = SEED_OUTPUT.read_text().splitlines(keepends=True)
    assert printed(lines) == ''.join(recorded[:printed(lines).count('\n')])
    assert printed(lines).count('\n') == 6  # 3 header lines, a blank line, the phase header, step 1


@pytest.mark.slow
def test_cli_replicate_equals_the_reference(reference_dir, names_file, tmp_path):
    proc = start_reference(tmp_path, names_file, seed=42, steps=5, snc_steps=2)
    try:
        ours = subprocess.run([sys.executable, '-m', 'microdnb', 'replicate', '--steps', '5', '--snc-steps', '2'],
                              cwd=REPO, env=subprocess_env(MICRODNB_NAMES=str(names_file)),
                              capture_output=True, text=True, timeout=600)
    finally:
        expected = finish(proc)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == expected
    assert ' step    1 /    5 | loss 3.3660' in expected


@pytest.mark.parametrize('kwargs, match', [(dict(engine='torch'), 'engine must be one of'),
                                           (dict(steps=-1), 'TrainConfig.steps'),
                                           (dict(snc_steps=2.5), 'TrainConfig.snc_steps')])
def test_replicate_validates_before_doing_anything(kwargs, match):
    lines = []
    with pytest.raises(ValueError, match=match):
        replicate(out=lines.append, docs=['should', 'not', 'be', 'used'], **kwargs)
    assert lines == []

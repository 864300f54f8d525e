"""`replicate` prints what the reference script prints, byte for byte.

Two oracles. The reference's recorded output for its default run is a fixture of this
repository (tests/fixtures/reference_output.txt, a byte-identical copy of
../shared/reference/seed_output.txt), so the default run is checked in every clone.
The reference itself (../shared/reference/microgpt_dnb.py, run with the same textual
edits of its seed and step counts) is not part of the repository: the tests that run it
skip where it is absent, and fail instead under CI=true (reference_runner.reference_dir).
Each reference run starts in the background, so it uses the second core while microdnb
runs on the first.
"""
import hashlib
import random
import subprocess
import sys

import pytest

from conftest import REPO, subprocess_env
from microdnb.config import BusConfig, ModelConfig, TrainConfig
from microdnb.data import Tokenizer, load_docs
from microdnb.scalar.model import init_params
from microdnb.reference import replicate
from microdnb.scalar.train import train_phase1, train_phase2
from reference_runner import (EXPECTED_OUTPUT, EXPECTED_OUTPUT_SHA256, REFERENCE_DIR, finish,
                              reference_dir as require_reference_dir, reference_training, start_reference)


@pytest.fixture(scope='module')
def reference_dir():
    """The reference script's folder; skip where it is absent (fail under CI=true)."""
    return require_reference_dir()


SHORT = dict(steps=30, snc_steps=6)  # the short run both oracles below compare with


@pytest.fixture(scope='module')
def short_reference(reference_dir, names_file, tmp_path_factory):
    """expected(seed): the reference's output for the SHORT run of `seed`. Both seeds' runs
    start at once in the background (each takes about 40 s of one core) and each is read
    once, so the CLI test and the in-process test of seed 42 share one run."""
    folder = tmp_path_factory.mktemp('reference')
    procs = {seed: start_reference(folder, names_file, seed=seed, **SHORT) for seed in (42, 7)}
    outputs = {}

    def expected(seed):
        if seed not in outputs:
            outputs[seed] = finish(procs.pop(seed))
        return outputs[seed]
    yield expected
    for proc in procs.values():
        proc.kill()
        proc.communicate()


def printed(lines):
    """What print() would have written for these out(...) calls."""
    return ''.join(line + '\n' for line in lines)


@pytest.mark.reference
@pytest.mark.slow
@pytest.mark.parametrize('seed', [42, 7])
def test_short_run_equals_the_reference(short_reference, seed):
    lines = []
    replicate(seed=seed, **SHORT, out=lines.append)
    expected = short_reference(seed)
    assert printed(lines) == expected
    assert expected.count('\n') == 30 and 'final gate value' in expected  # the whole program ran


@pytest.mark.reference
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


def test_the_expected_output_fixture_is_the_references_recorded_output():
    raw = EXPECTED_OUTPUT.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == EXPECTED_OUTPUT_SHA256
    assert raw.startswith(b'num docs: 32033\n') and raw.endswith(b'final gate value: 0.0087\n')
    recorded = REFERENCE_DIR / 'seed_output.txt'
    if recorded.is_file():  # where the reference's own folder is present, the copy is exact
        assert raw == recorded.read_bytes()


@pytest.mark.slow
def test_default_numpy_run_prints_the_expected_output_byte_for_byte():
    """The whole default run (seed 42, 1000 + 300 steps, 20 + 5 samples), in about a second."""
    lines = []
    replicate(engine='numpy', out=lines.append)
    assert printed(lines).encode() == EXPECTED_OUTPUT.read_bytes()


@pytest.mark.slow
def test_cli_default_numpy_run_prints_the_expected_output_byte_for_byte(tmp_path):
    """What the README promises: `python -m microdnb replicate --engine numpy` prints the
    reference's output, byte for byte, on stdout (from any working directory)."""
    proc = subprocess.run([sys.executable, '-m', 'microdnb', 'replicate', '--engine', 'numpy'],
                          cwd=tmp_path, env=subprocess_env(), capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode(errors='replace')
    assert proc.stdout == EXPECTED_OUTPUT.read_bytes()


class FirstStepDone(Exception):
    """Raised by `out` to stop the default (1000-step) run after its first phase-1 line."""


def test_default_run_starts_exactly_like_the_expected_output():
    """The scalar engine (11 minutes for the whole run) up to its first training step."""
    lines = []

    def out(line):
        lines.append(line)
        if line.startswith(' step '):
            raise FirstStepDone
    with pytest.raises(FirstStepDone):
        replicate(out=out)  # the defaults: seed 42, 1000 steps, 300 SNC steps
    assert lines[-1] == ' step    1 / 1000 | loss 3.3660'
    recorded = EXPECTED_OUTPUT.read_text().splitlines(keepends=True)
    assert printed(lines) == ''.join(recorded[:printed(lines).count('\n')])
    assert printed(lines).count('\n') == 6  # 3 header lines, a blank line, the phase header, step 1


@pytest.mark.reference
@pytest.mark.slow
def test_cli_replicate_equals_the_reference(short_reference, names_file):
    ours = subprocess.run([sys.executable, '-m', 'microdnb', 'replicate', '--steps', str(SHORT['steps']),
                           '--snc-steps', str(SHORT['snc_steps'])],
                          cwd=REPO, env=subprocess_env(MICRODNB_NAMES=str(names_file)),
                          capture_output=True, text=True, timeout=600)
    assert ours.returncode == 0, ours.stderr
    expected = short_reference(42)
    assert ours.stdout == expected
    assert ' step    1 /   30 | loss 3.3660' in expected


@pytest.mark.parametrize('kwargs, match', [(dict(engine='torch'), 'engine must be one of'),
                                           (dict(steps=-1), 'TrainConfig.steps'),
                                           (dict(snc_steps=2.5), 'TrainConfig.snc_steps')])
def test_replicate_validates_before_doing_anything(kwargs, match):
    lines = []
    with pytest.raises(ValueError, match=match):
        replicate(out=lines.append, docs=['should', 'not', 'be', 'used'], **kwargs)
    assert lines == []

"""Shared fixtures for the tests.

The names dataset is the copy shipped inside the package (microdnb/assets/names.txt,
SHA-256 checked), or whatever MICRODNB_NAMES points at (checked likewise): nothing is
downloaded. The only tests that need something outside the clone are those that run the
reference script itself (reference_runner.reference_dir: skipped without it, failed
under CI=true).

Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (or pytest --hypothesis-profile):
  ci-fixed  (default) a fixed derivation of examples: every run tests the same cases
  explore   fresh random examples on every run, five times as many, and a
            @reproduce_failure blob printed with any failure
"""
import os
import random
import re
import sys
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]

# The Makefile pins the floating-point code numpy and OpenBLAS run (its comment says why);
# a pytest started by hand gets the same pins, read from the Makefile so they are written
# once. They must be in the environment before numpy is first imported (nbval's kernels and
# the CLI's subprocesses inherit them).
FLOAT_PINS = dict(re.findall(r'^export ((?:NPY|OPENBLAS)_[A-Z_]+) := (.*)$',
                             (REPO / 'Makefile').read_text(), re.M))
_unpinned = sorted(set(FLOAT_PINS) - set(os.environ))
if _unpinned and 'numpy' in sys.modules:
    raise RuntimeError(f"numpy was imported before tests/conftest.py could set {_unpinned}; "
                       "run the tests through `make`, or set them as the Makefile does")
for _name in _unpinned:
    os.environ[_name] = FLOAT_PINS[_name]
if str(REPO) not in sys.path:  # importable without `pip install -e .`
    sys.path.insert(0, str(REPO))

from microdnb.config import ModelConfig  # noqa: E402
from microdnb.data import Tokenizer, names_path, read_docs  # noqa: E402

# Neither profile writes an example database into the work tree or has a deadline (a
# shared 2-core machine is slow at times). Tests with their own @settings(max_examples=...)
# keep that number in both profiles.
settings.register_profile('ci-fixed', derandomize=True, deadline=None, database=None,
                          max_examples=60)
settings.register_profile('explore', derandomize=False, deadline=None, database=None,
                          max_examples=300, print_blob=True)
PROFILES = ('ci-fixed', 'explore')
settings.load_profile('ci-fixed')


def pytest_configure(config):
    if config.getoption('hypothesis_profile', None):  # --hypothesis-profile wins
        return
    name = os.environ.get('HYPOTHESIS_PROFILE') or 'ci-fixed'
    if name not in PROFILES:
        raise pytest.UsageError(f"HYPOTHESIS_PROFILE={name!r} is not a profile of this project: "
                                f"use one of {', '.join(PROFILES)}")
    settings.load_profile(name)


def pytest_report_header(config):
    return f"hypothesis profile: {settings.get_current_profile_name()} (HYPOTHESIS_PROFILE={PROFILES[0]}|{PROFILES[1]})"


@pytest.fixture(scope='session')
def names_file():
    """The verified names dataset: the package's copy, or $MICRODNB_NAMES."""
    return names_path()


@pytest.fixture(scope='session')
def all_docs(names_file):
    """The 32,033 names in file order (do not mutate: copy first)."""
    return tuple(read_docs(names_file))


@pytest.fixture
def tiny_docs():
    """A handful of short names: enough for training loops, cheap to run."""
    return ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'amelia', 'harper', 'evelyn', 'abigail']


@pytest.fixture
def tiny_tokenizer(tiny_docs):
    return Tokenizer.from_docs(tiny_docs)


@pytest.fixture
def tiny_cfg(tiny_tokenizer):
    """A small model: every code path of the default one, a fraction of the cost."""
    return ModelConfig(vocab_size=tiny_tokenizer.vocab_size, n_embd=8, n_head=2, block_size=8, notes_dim=4)


@pytest.fixture
def rng():
    return random.Random(1234)


def subprocess_env(**extra):
    """Environment for `python -m microdnb` in a subprocess: the package importable from REPO."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(REPO)] + [p for p in [env.get('PYTHONPATH')] if p])
    env.update(extra)
    return env

"""Shared fixtures for the tests of the scalar engine.

The names dataset is never downloaded by the tests: ../shared/data/names.txt (or
whatever MICRODNB_NAMES already points at) is used, and tests that need the real
dataset are skipped, with the reason, when neither exists.
"""
import os
import random
import sys
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # importable without `pip install -e .`
    sys.path.insert(0, str(REPO))

from microdnb.config import ModelConfig  # noqa: E402
from microdnb.data import Tokenizer, read_docs  # noqa: E402

SHARED_NAMES = REPO.parent / 'shared' / 'data' / 'names.txt'
if not os.environ.get('MICRODNB_NAMES') and SHARED_NAMES.is_file():
    os.environ['MICRODNB_NAMES'] = str(SHARED_NAMES)

# Property tests must be reproducible and must not fail because a shared 2-core
# machine is slow: a fixed derivation of examples, no deadline, no example database
# written into the work tree.
settings.register_profile('microdnb', derandomize=True, deadline=None, database=None,
                          max_examples=60)
settings.load_profile('microdnb')


def names_file_or_skip():
    env = os.environ.get('MICRODNB_NAMES')
    if env and Path(env).is_file():
        return Path(env)
    pytest.skip("the names dataset is not available: set MICRODNB_NAMES=/path/to/names.txt "
                f"(the tests never download it; expected a copy at {SHARED_NAMES})")


@pytest.fixture(scope='session')
def names_file():
    return names_file_or_skip()


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

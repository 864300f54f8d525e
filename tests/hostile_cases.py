"""What the tests of issue 20's eight hostile cases share (tests/test_hostile.py: cases 1-5,
tests/test_hostile_late.py: 6-8): the command line run as a new user runs it, the one-line
refusal each case must end in, and a tiny trained checkpoint to craft bad ones from."""
import json
import os
import random
import subprocess
import sys
import time

import pytest

from conftest import REPO, subprocess_env
from microdnb import vector
from microdnb.checkpoint import save_checkpoint
from microdnb.config import BusConfig, ModelConfig, TrainConfig
from microdnb.data import Tokenizer

ROOT = os.geteuid() == 0
NAMES = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'amelia', 'harper', 'evelyn', 'abigail']


def cli(*args, timeout=120, **kw):
    return subprocess.run([sys.executable, '-m', 'microdnb', *map(str, args)], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout, **kw)


def one_line_error(proc, *words, code=1):
    """Exit `code`, no traceback, stderr exactly one line `microdnb: error: ...` holding `words`."""
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert 'Traceback' not in proc.stderr and proc.stderr.count('\n') == 1, proc.stderr[-2000:]
    assert proc.stderr.startswith('microdnb: error: ') and proc.stderr.isprintable() is False  # just the '\n'
    assert proc.stderr[:-1].isprintable(), proc.stderr  # nothing a terminal would act on
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)
    return proc.stderr


def refused(call, *words, seconds=2.0):
    """`call()` raises one ValueError line holding `words`, within `seconds`."""
    start = time.perf_counter()
    with pytest.raises(ValueError) as e:
        call()
    assert time.perf_counter() - start < seconds
    msg = str(e.value)
    assert '\n' not in msg and msg.isprintable(), msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


@pytest.fixture(scope='module')
def ck(tmp_path_factory):
    """A tiny checkpoint (trained 3 steps): its path and its JSON."""
    tok = Tokenizer.from_docs(NAMES)
    cfg = ModelConfig(vocab_size=tok.vocab_size, n_embd=8, n_head=2, block_size=8, notes_dim=4)
    params = vector.init_params(cfg, random.Random(1))
    vector.train_phase1(params, cfg, TrainConfig(steps=3, snc_steps=1), NAMES, tok)
    path = save_checkpoint(tmp_path_factory.mktemp('ck') / 'ck.json', params, cfg, tok, BusConfig(), {'seed': 1})
    return path, json.loads(path.read_text())


def crafted(tmp_path, doc, name='bad.json'):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path

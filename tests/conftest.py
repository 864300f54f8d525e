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
import json
import os
import random
import re
import statistics
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


@pytest.hookimpl(tryfirst=True)   # before `-m` deselects and before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Every cell of a chapter (book/*.ipynb, collected by nbval) is marked `chapter`. Under
    `--dist loadgroup` (`make test`) each item gets an xdist group unless it has one: its
    chapter or its test file, so that a chapter's cells run in order in one kernel and a
    file's module fixtures are made once; tests that name their own group (the site's
    pages) are spread by that."""
    for item in items:
        if item.path.suffix == '.ipynb':
            item.add_marker(pytest.mark.chapter)
    if not getattr(config.option, 'loadgroup', False):   # what xdist's workers are told
        return
    for item in items:
        if item.get_closest_marker('xdist_group') is None:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))


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


@pytest.fixture(scope='session')
def trained_model(names_file):
    """A reference-size model (vocabulary a-z, 5,217 parameters) trained briefly by the numpy
    engine on 4,000 shuffled names: 300 phase-1 steps, then 60 SNC steps on the default bus.
    The explorer's and engine.js's tests share it (a few seconds to train, once per test
    process: each xdist worker that runs one of them trains it). Its arrays are read-only,
    so no test can change what the others see."""
    from microdnb import vector
    from microdnb.config import BusConfig, TrainConfig
    docs = list(read_docs(names_file))[:4000]
    random.Random(0).shuffle(docs)
    tok = Tokenizer('abcdefghijklmnopqrstuvwxyz')
    cfg = ModelConfig(vocab_size=tok.vocab_size)
    params = vector.init_params(cfg, random.Random(42))
    vector.train_phase1(params, cfg, TrainConfig(steps=300), docs, tok, batch_size=8)
    vector.train_phase2(params, cfg, TrainConfig(snc_steps=60, snc_learning_rate=0.02), BusConfig(), docs, tok)
    for array in params.values():
        array.flags.writeable = False
    return {'params': params, 'cfg': cfg, 'tok': tok, 'bus': BusConfig()}


def subprocess_env(**extra):
    """Environment for `python -m microdnb` in a subprocess: the package importable from REPO."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(REPO)] + [p for p in [env.get('PYTHONPATH')] if p])
    env.update(extra)
    return env


# ---- the site test's reports: each page visit (tests/test_site_pages.py) records its axe
# results and slider latencies as user properties of its report, which xdist carries from
# the workers; this process writes them to _build/a11y_report.json and _build/site_latency.json.
SITE_RECORDS = {'a11y': [], 'latency': []}


def pytest_runtest_logreport(report):
    if report.when == 'call':
        for name, value in report.user_properties:
            if name in SITE_RECORDS:
                SITE_RECORDS[name].append(value)


def pytest_terminal_summary(terminalreporter, config):
    if hasattr(config, 'workerinput') or not any(SITE_RECORDS.values()):
        return
    from site_pages import A11Y_REPORT, AXE, AXE_TAGS, LATENCY_FILE
    if SITE_RECORDS['a11y']:
        data = {f"{r['page']} {r['scheme']}": r['result']
                for r in sorted(SITE_RECORDS['a11y'], key=lambda r: (r['page'], r['scheme']))}
        try:
            version = json.loads((AXE.parent / 'package.json').read_text())['version']
        except OSError:
            version = '?'
        summary = {'axe_version': version, 'tags': AXE_TAGS, 'pages': len({r['page'] for r in SITE_RECORDS['a11y']}),
                   'violations': sum(len(v['violations']) for v in data.values()),
                   'nodes': sum(len(x['nodes']) for v in data.values() for x in v['violations']),
                   'incomplete_nodes': sum(len(x['nodes']) for v in data.values() for x in v['incomplete']),
                   'results': data}
        A11Y_REPORT.write_text(json.dumps(summary, indent=1) + '\n')
    if SITE_RECORDS['latency']:
        pages = {r['page']: r['rows'] for r in sorted(SITE_RECORDS['latency'], key=lambda r: r['page'])}
        samples = [row['ms'] for rows in pages.values() for row in rows]
        summary = {'pages': pages, 'n': len(samples), 'median_ms': round(statistics.median(samples), 1),
                   'max_ms': round(max(samples), 1)}
        LATENCY_FILE.write_text(json.dumps(summary, indent=1) + '\n')
        terminalreporter.write_line('')
        terminalreporter.write_line(f'slider-to-frame latency (ms), written to {LATENCY_FILE}:')
        for page, rows in pages.items():
            ms = [row['ms'] for row in rows]
            terminalreporter.write_line(f"  {page}: n={len(ms)} median={statistics.median(ms):.1f} "
                                        f"max={max(ms):.1f}  [{', '.join(f'{m:.0f}' for m in ms)}]")
        terminalreporter.write_line(f"  all: n={len(samples)} median={summary['median_ms']} max={summary['max_ms']}")


# the signals the tests send to a child process
SENT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGXCPU', 'SIGVTALRM',
                'SIGPROF', 'SIGPWR', 'SIGRTMIN', 'SIGRTMAX']


def default_signal_dispositions():
    """preexec_fn: in the child, before it runs Python, every signal a test sends at its
    default and none blocked, as in a program started from a terminal. Ignored dispositions
    are inherited across exec, and a test suite started in the background (`cmd &`: SIGINT
    and SIGQUIT ignored) or under nohup (SIGHUP ignored) would otherwise hand them to the
    child, which would then sleep through the signal the test sends."""
    import signal
    for name in SENT_SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])

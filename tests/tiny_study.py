"""A whole experiment in miniature, shared by the tests of the study and of part III's
figures: every kind of run `spec.plan_runs` makes, two seeds, a few steps each."""
import functools

import matplotlib
import pytest

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


from microdnb.data import load_docs  # noqa: E402
from microdnb.study.runs import run  # noqa: E402
from microdnb.study.spec import Settings  # noqa: E402

TINY = Settings(seeds=(0, 1), trunk_steps=30, snc_steps=20, ref_snc_steps=10, n_heldout=300,
                n_eval_groups=8, n_sample_groups=3, cadences=(1, 2), lags=(0, 1), streams=(2, 3),
                scan_steps=(12,), scan_learning_rates=(0.02,), gate_inits=(0.0,), gate_every=5)


@functools.lru_cache(maxsize=None)
def tiny_results(jobs=1):
    """The results dict of TINY (computed once per test process and jobs)."""
    return run(TINY, docs=load_docs()[:3000], progress=lambda line: None, jobs=jobs, argv=['experiment', '--tiny'])


@pytest.fixture(scope='module')
def results():
    """The TINY experiment's results, for the tests of Part III's tables and figures."""
    return tiny_results()


@pytest.fixture(autouse=True)
def close_figures():
    """Every figure a test draws is closed after it (imported, this runs around each test)."""
    yield
    plt.close('all')

"""The page never stutters while it trains: no main-thread task over 50 ms (PerformanceObserver
'longtask') during a whole run of each chapter's trainer, in the worker, on the built site.

A task's duration is wall time, so this check needs the machine to itself: under `make test`'s
parallel run a 20 ms task, sharing two cores with another test worker, was measured at 81-131 ms.
Marked `alone`: `make test` runs these after the parallel run, in one process (benchmarks/
bench_trainer.py measures the same on the reference run, with the numpy engine beside it).
"""
import pytest

from site_pages import browser, server, site, visit  # noqa: F401 (fixtures)
from trainer_checks import TRAINER_PAGES, long_tasks_while_training

pytestmark = [pytest.mark.alone, pytest.mark.site, pytest.mark.browser]


@pytest.mark.parametrize('page_name', sorted(TRAINER_PAGES))
def test_no_main_thread_task_over_50_ms_while_it_trains(page_name, site, server, browser):
    with visit(browser, server, page_name) as page:
        long = long_tasks_while_training(page, page_name)
    assert not long, f"{page_name}: main-thread tasks over 50 ms while training (ms): {long}"

"""The introduction's headline figure (figures.headline) draws, and describes, the copy
task's gains over the trunk as the results file holds them (positive = the notes help);
and part I's one spelling of BOS."""
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use('Agg')

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from microdnb.data import BOS_TEXT, Tokenizer  # noqa: E402
from microdnb.figures import headline, transformer  # noqa: E402
from microdnb.figures.experiments import condition_color  # noqa: E402
from microdnb.study.results import load_results, main_setting, select  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / 'book' / 'data' / 'experiments.json'


@pytest.fixture(scope='module')
def results():
    return load_results(RESULTS)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close('all')


def test_gains_are_trunk_minus_condition_for_the_follower_seed_by_seed(results):
    gains = headline.copy_gains(results)
    main = main_setting(results)
    assert list(gains) == [main['gate_init']] + list(results['settings']['gate_inits'])
    for g, row in gains.items():
        runs = sorted(select(results, task='copy', schedule='ours', train='notes', **dict(main, gate_init=g)),
                      key=lambda r: r['seed'])
        assert row['seeds'] == [r['seed'] for r in runs] == list(results['settings']['seeds'])
        assert row['gate'] == pytest.approx(1 / (1 + np.exp(-g)))
        for cond in headline.CONDITIONS:
            want = [r['loss']['trunk']['by_stream'][1] - r['loss'][cond]['by_stream'][1] for r in runs]
            assert row[cond] == pytest.approx(want)
    # the sign convention: positive = the notes help (the follower's real notes beat its trunk)
    assert all(v > 0 for v in gains[main['gate_init']]['notes'])


def test_figure_draws_each_mean_and_each_seed_and_says_them_in_its_alt(results):
    fig = headline.plot_copy_headline(results)
    gains = fig.microdnb_data
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    want = [np.mean(row[c]) for row in gains.values() for c in headline.CONDITIONS]
    assert heights == pytest.approx(want)
    colours = [to_hex(p.get_facecolor()) for p in ax.patches]
    assert colours == [to_hex(condition_color(c)) for _ in gains for c in headline.CONDITIONS]
    assert [bool(p.get_hatch()) for p in ax.patches] == [c == 'shuffled' for _ in gains for c in headline.CONDITIONS]
    dots = [y for line in ax.lines if line.get_marker() not in ('None', None, '')
            for y in line.get_ydata()]
    assert sorted(dots) == pytest.approx(sorted(v for row in gains.values() for c in headline.CONDITIONS
                                                for v in row[c]))
    alt = fig.microdnb_alt
    for row in gains.values():
        for c in headline.CONDITIONS:
            assert f"{np.mean(row[c]):+.2f}" in alt
            assert all(f"{v:+.2f}" in alt for v in row[c])
    assert 'above zero the notes help' in alt
    assert min(t.get_fontsize() for t in fig.findobj(Text) if t.get_text()) >= 8.5


def test_gains_need_the_runs(results):
    with pytest.raises(ValueError, match='gate_init 3'):
        headline.copy_gains(results, starts=[3.0])


def test_bos_is_written_one_way():
    tok = Tokenizer.from_docs(['ab', 'ba'])
    assert BOS_TEXT == '.'
    assert tok.labels == ['a', 'b', '.'] and tok.labels[tok.BOS] == BOS_TEXT


def test_attention_alt_says_where_each_heads_largest_weight_is():
    attn = [[[[1.0]]], [[[0.3, 0.7]]], [[[0.1, 0.8, 0.1]]]]
    alt = transformer.attention_heatmaps(attn, list('.ab')).microdnb_alt
    assert "its largest weight, 0.80, is in row 2 (b) on position 1 (a)" in alt

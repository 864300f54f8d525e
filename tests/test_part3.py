"""Part III's tables and figures (microdnb.figures.experiments, .conditions): each figure draws the numbers
its table (or its data function) gives, with the labels and colours of one vocabulary."""
import math

import matplotlib
import numpy as np
import pytest

matplotlib.use('Agg')

from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from microdnb.config import TrainConfig  # noqa: E402
from microdnb.figures import conditions, experiments  # noqa: E402
from microdnb.figures.style import GREY  # noqa: E402
from microdnb.figures.tables import format_table  # noqa: E402
from microdnb.study import tasks  # noqa: E402
from microdnb.study.measure import adam_step_bound  # noqa: E402
from microdnb.study.results import (TRAINED, control_gains, loss_stats, main_setting, mean_std,  # noqa: E402
                                    select, sweep_gains, sweep_rows)
from tiny_study import TINY, close_figures, results  # noqa: E402,F401 (fixtures)


def _mean(cell):
    return float(cell.split('±')[0])


def _bars(ax):
    """The bar containers of an axes (error bars aside), in drawing order."""
    return [c for c in ax.containers if isinstance(c, matplotlib.container.BarContainer)]


# ---------------------------------------------------------------- colours

def test_each_condition_has_its_own_colour():
    colours = [experiments.condition_color(c) for c in experiments.DRAWN]
    assert len(set(colours)) == len(colours)
    assert experiments.condition_color('trunk') == GREY and GREY not in colours
    with pytest.raises(ValueError):
        experiments.condition_color('masked')


# ---------------------------------------------------------------- tables

@pytest.mark.slow
def test_controls_table(results):
    rows = experiments.controls_table(results)
    assert rows[0] == ['task', 'stream', 'notes', 'trunk', 'shuffled', 'repaired', 'plan only',
                       'trained repaired', 'trained plan only', 'shuffled fallbacks']
    assert len(rows) == 1 + len(tasks.TASKS) * (1 + TINY.n_streams)
    main = main_setting(results)
    for row in rows[1:]:
        task, stream = row[0], None if row[1] == 'all' else int(row[1])
        runs = select(results, task=task, schedule='ours', train='notes', **main)
        assert _mean(row[3]) == pytest.approx(loss_stats(runs, 'trunk', stream)[0], abs=5e-4)
        trained = select(results, task=task, schedule='ours', train='repaired', **main)
        assert (row[7] == '-') == (not trained)
        if stream is None:
            n = sum(r['loss']['shuffled']['fallbacks'] for r in runs)
            assert row[-1] == f"{n}/{len(TINY.seeds) * TINY.n_eval_groups}"
        else:
            assert row[-1] == ''
    assert 'shuffled fallbacks' in format_table(rows)


@pytest.mark.slow
def test_gate_table_gives_the_steady_push_and_the_ceiling(results):
    rows = experiments.gate_table(results)
    assert len(rows) == 1 + 2 * len(tasks.TASKS)
    for row in rows[1:]:
        steps = TINY.ref_snc_steps if row[1] == 'reference' else TINY.snc_steps
        lr = TINY.ref_snc_learning_rate if row[1] == 'reference' else TINY.snc_learning_rate
        steady = sum(lr * (1 - i / steps) for i in range(steps))
        assert float(row[4]) == pytest.approx(steady, abs=5e-3)
        assert float(row[5]) == pytest.approx(adam_step_bound(TrainConfig()) * steady, abs=5e-3)
        assert (row[6] == '-') == (row[1] == 'reference')    # SNC's size is measured on the sampled runs


@pytest.mark.slow
def test_samples_schedule_and_rounds_tables(results):
    samples = experiments.samples_table(results)
    assert samples[0] == ['task', 'metric', 'notes', 'trunk', 'plan only']
    assert [r[1] for r in samples[1:]] == ['real', 'duplicates', 'real', 'copied', 'first', 'same_chars']
    schedules = experiments.schedule_table(results)
    # every schedule and initial gate of the copy task, sorted by steps, learning rate, gate
    assert [(r[0], r[1], r[2], r[3]) for r in schedules[1:]] == [
        ('reference', '10', '0.005', '-5'), ('12@0.01', '12', '0.01', '-5'), ('ours', '20', '0.01', '-5'),
        ('ours', '20', '0.01', '0'), ('20@0.02', '20', '0.02', '-5')]
    rounds = experiments.rounds_table(results)
    assert [(r[0], r[1]) for r in rounds[1:]] == [('0', '2'), ('0', '3'), ('1', '2'), ('1', '3')]
    for row in rounds[1:]:
        assert float(row[3]) >= float(row[2])                # forward passes >= rounds
        if row[0] == '1':
            assert row[3] == row[2]                           # lag 1: one pass per round
    assert all(len(r) == len(rounds[0]) for r in rounds)


# ---------------------------------------------------------------- figures

@pytest.mark.slow
def test_plot_controls_draws_each_conditions_gain_over_the_trunk(results):
    fig = experiments.plot_controls(results)
    ax = fig.axes[0]
    tasks_here, gains = control_gains(results)
    assert tasks_here == list(tasks.TASKS)
    bars = _bars(ax)
    assert len(bars) == len(gains) == 6
    table = {(r[0], r[1]): r for r in experiments.controls_table(results)[1:]}
    header = experiments.controls_table(results)[0]
    for container, (label, (means, _)) in zip(bars, gains.items()):
        heights = [b.get_height() for b in container]
        np.testing.assert_allclose(np.nan_to_num(heights), np.nan_to_num(means), atol=1e-12)
        assert to_hex(container[0].get_facecolor()) == experiments.condition_color(label).lower()
        assert (container[0].get_hatch() == '//') == (label in TRAINED)
        # a bar is the table's trunk minus the table's condition (to the table's 3 decimals):
        # a gain, positive when the condition's loss is lower
        column = header.index(experiments.label_text(label))
        for task, h in zip(tasks_here, heights):
            cell = table[(task, 'all')][column]
            if cell != '-':
                assert h == pytest.approx(_mean(table[(task, 'all')][3]) - _mean(cell), abs=1.5e-3)
            else:
                assert math.isnan(h)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [experiments.label_text(g) for g in gains]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(tasks.TASKS)
    assert '> 0: better' in ax.get_ylabel()


@pytest.mark.slow
def test_control_gains_are_the_trunks_loss_minus_the_conditions(results):
    # the book's one sign: positive when the condition does better than the trunk alone
    tasks_here, gains = control_gains(results)
    main = main_setting(results)
    for i, task in enumerate(tasks_here):
        runs = select(results, task=task, schedule='ours', train='notes', **main)
        for cond in ('notes', 'shuffled'):
            want = mean_std([r['loss']['trunk']['loss'] - r['loss'][cond]['loss'] for r in runs])
            assert gains[cond][0][i] == pytest.approx(want[0]) and gains[cond][1][i] == pytest.approx(want[1])
    # a made-up pair of runs in which the notes halve the trunk's loss: a positive gain
    fake = {'settings': dict(results['settings'], seeds=[0]), 'runs': [
        dict(r, loss={'trunk': {'loss': 2.0}, 'notes': {'loss': 1.0}}) for r in select(
            results, seed=0, task='copy', schedule='ours', train='notes', **main)]}
    _, fake_gains = control_gains(fake)
    assert fake_gains['notes'][0] == [1.0]


@pytest.mark.slow
def test_plot_gate_draws_the_mean_gate_and_the_runs_start(results):
    fig = experiments.plot_gate(results)
    main = main_setting(results)
    for ax, sched in zip(fig.axes, ('reference', 'ours')):
        lines = [l for l in ax.get_lines() if l.get_linestyle() == '-']
        assert [l.get_label() for l in lines] == list(tasks.TASKS)
        for line, task in zip(lines, tasks.TASKS):
            runs = select(results, task=task, schedule=sched, train='notes', **main)
            np.testing.assert_allclose(line.get_ydata(), np.mean([r['gate']['values'] for r in runs], 0))
            np.testing.assert_array_equal(line.get_xdata(), runs[0]['gate']['steps'])
            row = next(r for r in experiments.gate_table(results)[1:] if r[:2] == [task, sched])
            assert line.get_ydata()[-1] == pytest.approx(_mean(row[2]), abs=5e-5)
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == len(tasks.TASKS)
        start = [l for l in ax.get_lines() if l.get_linestyle() == ':']
        # the gate the plotted runs start from (their gate_init), which is what they recorded at step 0
        assert len(start) == 1 and start[0].get_ydata()[0] == pytest.approx(1 / (1 + math.exp(-main['gate_init'])))
        assert start[0].get_ydata()[0] == pytest.approx(lines[0].get_ydata()[0], rel=1e-5)


@pytest.mark.slow
def test_plot_sweeps_draws_the_sweep_gains(results):
    fig = experiments.plot_sweeps(results, 'copy')
    assert len(fig.axes) == 3
    for ax, axis in zip(fig.axes, ('cadence', 'lag', 'n_streams')):
        rows = sweep_gains(results, 'copy', axis)
        assert [r[0] for r in rows] == list(results['settings'][{'cadence': 'cadences', 'lag': 'lags',
                                                                'n_streams': 'streams'}[axis]])
        bars = [c for c in ax.containers if isinstance(c, matplotlib.container.ErrorbarContainer)]
        assert [c.get_label() for c in bars] == ['notes', 'shuffled']
        for container, cond in zip(bars, ('notes', 'shuffled')):
            line = container.lines[0]
            np.testing.assert_allclose(np.asarray(line.get_ydata(), dtype=float), [r[1][cond][0] for r in rows])
            assert to_hex(line.get_color()) == experiments.condition_color(cond).lower()
            tops = container.lines[2][0].get_segments()              # the error bars: mean ± std
            np.testing.assert_allclose([seg[1][1] - seg[0][1] for seg in tops], [2 * r[1][cond][1] for r in rows],
                                       atol=1e-12)
        assert [t for t in ax.get_xticks()] == [r[0] for r in rows]
        # zero is the trunk alone
        assert any(list(l.get_ydata()) == [0, 0] for l in ax.get_lines())
    copy = select(results, task='copy', schedule='ours', train='notes', **main_setting(results))
    value, gains = sweep_gains(results, 'copy', 'cadence')[0]
    assert gains['notes'] == pytest.approx(mean_std([r['loss']['trunk']['loss'] - r['loss']['notes']['loss']
                                                     for r in copy]))
    # the alt text lists every value drawn, shuffled notes included
    for axis in ('cadence', 'lag', 'n_streams'):
        for v, g in sweep_gains(results, 'copy', axis):
            assert f"{v}: notes {g['notes'][0]:+.3f}, shuffled {g['shuffled'][0]:+.3f}" in fig.microdnb_alt
    assert 'gain over the trunk' in fig.microdnb_alt
    assert f"; streams {TINY.streams[0]}: notes" in fig.microdnb_alt and 'n streams' not in fig.microdnb_alt


def test_plot_token_losses_draws_the_given_losses():
    losses = {'trunk': [1.0, 2.0, 3.0, 0.5], 'notes': [0.5, 1.0, 2.0, 0.25]}
    fig = conditions.plot_token_losses('abc', losses, title='t')
    ax = fig.axes[0]
    bars = _bars(ax)
    assert len(bars) == 2
    for container, (cond, vals) in zip(bars, losses.items()):
        assert [b.get_height() for b in container] == vals
        assert to_hex(container[0].get_facecolor()) == experiments.condition_color(cond).lower()
    assert [t.get_text() for t in ax.get_xticklabels()] == ['a', 'b', 'c', '.']      # data.BOS_TEXT
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ['trunk: 1.62 nats/token', 'notes: 0.94 nats/token']
    with pytest.raises(ValueError, match='per-position'):
        conditions.plot_token_losses('abc', {'notes': [1.0]})
    with pytest.raises(ValueError, match='condition'):
        conditions.plot_token_losses('a', {'masked': [1.0, 1.0]})


def test_plot_token_loss_grid_puts_one_stream_per_panel():
    targets = ['ab', 'xyz', 'q']
    losses = [{'trunk': [1.0] * (len(t) + 1), 'notes': [0.5] * (len(t) + 1)} for t in targets]
    fig = conditions.plot_token_loss_grid(targets, losses, title='grid', ymax=2.0)
    axes = fig.axes
    assert len(axes) == 4 and not axes[3].axison
    for ax, target in zip(axes, targets):
        assert ax.get_title().startswith(repr(target)) and 'trunk 1.00' in ax.get_title()
        assert sum(len(c) for c in _bars(ax)) == 2 * (len(target) + 1)
        assert ax.get_ylim() == (0.0, 2.0)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ['trunk', 'notes']
    with pytest.raises(ValueError, match='1 to 4'):
        conditions.plot_token_loss_grid(targets * 2, losses * 2)


# ---------------------------------------------------------------- what a reader who cannot see them reads

@pytest.mark.slow
def test_every_figure_says_what_it_draws_in_big_enough_print(results):
    from matplotlib.text import Text
    tasks_here, gains = control_gains(results)
    figs = {
        'controls': experiments.plot_controls(results),
        'gate': experiments.plot_gate(results),
        'sweeps': experiments.plot_sweeps(results, 'copy'),
        'tokens': conditions.plot_token_losses('ab', {'trunk': [1.0, 2.0, 0.5], 'notes': [0.5, 0.5, 0.5]}),
        'grid': conditions.plot_token_loss_grid(['ab'], [{'trunk': [1.0, 2.0, 0.5], 'notes': [0.5, 0.5, 0.5]}], title='T'),
    }
    for name, fig in figs.items():
        alt = fig.microdnb_alt
        assert len(alt) >= 60 and 'nan' not in alt and '{' not in alt, (name, alt)
        fig.canvas.draw()
        small = [t.get_text() for t in fig.findobj(Text)
                 if t.get_visible() and t.get_text().strip() and t.get_fontsize() < 8.5]
        assert not small, (name, small)
    split = tasks_here.index('split')
    assert f"split: notes {gains['notes'][0][split]:+.3f}" in figs['controls'].microdnb_alt
    # every bar drawn is in the alt text, with its sign (a gain: above zero is better), no 'lowest' pick
    for i, task in enumerate(tasks_here):
        said = ', '.join(f"{experiments.label_text(g)} {m[i]:+.3f}" for g, (m, _) in gains.items()
                         if not math.isnan(m[i]))
        assert f"{task}: {said}" in figs['controls'].microdnb_alt
    assert 'lowest' not in figs['controls'].microdnb_alt and 'above zero' in figs['controls'].microdnb_alt
    main = main_setting(results)
    end = np.mean([r['gate']['values'][-1] for r in select(results, task='copy', schedule='ours', train='notes',
                                                             **main)])
    assert f"copy {end:.4f}" in figs['gate'].microdnb_alt
    value, gains_l = sweep_gains(results, 'copy', 'lag')[-1]
    assert f"{value}: notes {gains_l['notes'][0]:+.3f}" in figs['sweeps'].microdnb_alt
    assert "trunk 1.17, notes 0.50" in figs['tokens'].microdnb_alt
    assert "gain over the trunk (trunk minus notes) is largest in size at 'b', +1.50 nats" in figs['tokens'].microdnb_alt
    assert figs['grid'].microdnb_alt.startswith('T. 1 panel. ')


# ---------------------------------------------------------------- one question's columns, and SEs over names

@pytest.mark.slow
def test_pick_takes_named_columns_in_order(results):
    rows = experiments.gate_table(results)
    picked = experiments.pick(rows, 'final gate', 'task')
    assert picked[0] == ['final gate', 'task']
    assert [r[1] for r in picked] == [r[0] for r in rows]
    with pytest.raises(ValueError, match='no column'):
        experiments.pick(rows, 'final gate', 'nonsense')


@pytest.mark.slow
def test_task_controls_table_is_controls_table_on_its_side(results):
    wide = experiments.controls_table(results)
    header = wide[0]
    for task in tasks.TASKS:
        rows = experiments.task_controls_table(results, task)
        assert len(rows[0]) <= 6
        assert rows[0] == ['condition', 'all streams'] + [f"stream {s}" for s in range(TINY.n_streams)] + ['gain over trunk']
        by_stream = {r[1]: r for r in wide[1:] if r[0] == task}
        tasks_here, gains = control_gains(results)
        for row in rows[1:]:
            column = header.index(row[0])
            assert row[1] == by_stream['all'][column]
            assert row[2:2 + TINY.n_streams] == [by_stream[str(s)][column] for s in range(TINY.n_streams)]
            label = {experiments.label_text(g): g for g in gains}.get(row[0])
            if row[0] == 'trunk':
                assert row[-1] == '0'
            else:
                assert _mean(row[-1]) == pytest.approx(gains[label][0][tasks_here.index(task)], abs=5e-4)
                # signed: the trunk's loss minus the condition's, to the table's 3 decimals
                assert _mean(row[-1]) == pytest.approx(_mean(rows[2][1]) - _mean(row[1]), abs=1.5e-3)
                assert row[-1][0] in '+-'
    with pytest.raises(ValueError, match='no'):
        experiments.task_controls_table(results, 'copy', sched='nonsense')


@pytest.mark.slow
def test_sweep_table_gives_the_trunks_loss_and_the_gains(results):
    rows = experiments.sweep_table(results, 'copy')
    assert rows[0] == ['setting', 'value', 'trunk loss', 'gain: notes', 'gain: shuffled']
    for axis, label in (('cadence', 'cadence'), ('lag', 'lag'), ('n_streams', 'streams')):
        mine = [r for r in rows[1:] if r[0] == label]
        swept = sweep_gains(results, 'copy', axis)
        assert [r[1] for r in mine] == [str(v) for v, _ in swept]
        for row, (_, gains), (_, conds, *_) in zip(mine, swept, sweep_rows(results, 'copy', axis)):
            assert _mean(row[3]) == pytest.approx(gains['notes'][0], abs=5e-4) and row[3][0] in '+-'
            assert _mean(row[2]) == pytest.approx(conds['trunk'][0], abs=5e-4)

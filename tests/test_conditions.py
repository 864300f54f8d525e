"""Part III's statistics over names and the figures of the live runs (microdnb.study.stats,
microdnb.figures.conditions): standard errors clustered by group, gains signed so that
positive = the notes help, the repaired streams put back with their group, the gate's steps."""
import matplotlib
import numpy as np
import pytest

matplotlib.use('Agg')


from microdnb.figures import conditions, experiments  # noqa: E402
from microdnb.study import stats, tasks  # noqa: E402
from microdnb.study.results import main_setting, select  # noqa: E402
from tiny_study import TINY, close_figures, results  # noqa: E402,F401 (fixtures)


def _bars(ax):
    """The bar containers of an axes (error bars aside), in drawing order."""
    return [c for c in ax.containers if isinstance(c, matplotlib.container.BarContainer)]


def test_name_difference_clusters_by_group():
    # two groups of two streams; group 0's tokens all differ by +1, group 1's by -1
    a = [[np.array([2.0, 2.0]), np.array([2.0])], [np.array([1.0]), np.array([1.0, 1.0, 1.0])]]
    b = [[np.array([1.0, 1.0]), np.array([1.0])], [np.array([2.0]), np.array([2.0, 2.0, 2.0])]]
    diff, se, n = stats.name_difference(a, b)
    assert n == 2
    assert diff == pytest.approx((3 - 4) / 7)                 # the per-token mean difference
    d, tokens = np.array([3.0, -4.0]), np.array([3.0, 4.0])
    assert se == pytest.approx(np.sqrt(2 * ((d - diff * tokens) ** 2).sum()) / 7)
    diff1, se1, _ = stats.name_difference(a, b, stream=1)
    assert diff1 == pytest.approx((1 - 3) / 4)
    # one value per group, all tokens equal within a group: far wider than a per-token SE
    flat = np.concatenate([np.ravel(x) for g in a for x in g]) - np.concatenate([np.ravel(x) for g in b for x in g])
    assert se > flat.std(ddof=1) / np.sqrt(len(flat))
    with pytest.raises(ValueError, match='same groups'):
        stats.name_difference(a, b[:1] + [[np.array([1.0]), np.array([1.0])]])
    with pytest.raises(ValueError, match='at least 2'):
        stats.name_difference(a[:1], b[:1])


def test_name_gain_is_positive_when_the_condition_does_better():
    trunk = [[np.array([2.0, 2.0])], [np.array([2.0, 1.0])], [np.array([3.0])]]
    notes = [[np.array([1.0, 1.0])], [np.array([1.5, 1.0])], [np.array([2.0])]]
    gain, se, n = stats.name_gain(notes, trunk)
    assert gain > 0 and n == 3
    assert (gain, se, n) == stats.name_difference(trunk, notes)
    back, se_back, _ = stats.name_gain(trunk, notes)
    assert back == pytest.approx(-gain) and se_back == pytest.approx(se)


def test_mean_se_and_heldout_table():
    m, se, n = stats.mean_se([1.0, 2.0, 3.0, 4.0])
    assert (m, n) == (2.5, 4) and se == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)
    with pytest.raises(ValueError):
        stats.mean_se([1.0])
    trunk = [[np.array([2.0, 2.0])], [np.array([2.0, 1.0])], [np.array([3.0])]]
    notes = [[np.array([1.0, 1.0])], [np.array([1.5, 1.0])], [np.array([2.0])]]
    rows = conditions.heldout_table({'notes': notes, 'trunk': trunk})
    assert rows[0] == ['condition', 'nats/token', 'gain over trunk', 'SE over names']
    gain, se, _ = stats.name_gain(notes, trunk)
    assert gain == pytest.approx((10 - 6.5) / 5) and gain > 0       # the notes' loss is lower: a positive gain
    assert rows[1] == ['notes', f"{6.5 / 5:.3f}", f"{gain:+.3f}", f"{se:.3f}"] and rows[1][2].startswith('+')
    assert rows[2] == ['trunk', f"{10 / 5:.3f}", '0', '-']
    with pytest.raises(ValueError, match='base'):
        conditions.heldout_table({'notes': notes})


def test_realign_puts_repaired_streams_back_with_their_own_group():
    import random
    groups = [('ab', 'cde'), ('f', 'gh'), ('ijk', 'l')]
    sources = tasks.repair_sources(len(groups), 2, random.Random(1))
    assert tasks.repair(groups, random.Random(1)) == [tuple(groups[src[s]][s] for s in range(2)) for src in sources]
    # losses of the re-paired groups: one number per position, the text's length + 1 of them
    repaired = [[np.full(len(groups[src[s]][s]) + 1, 10.0 * g + s) for s in range(2)] for g, src in enumerate(sources)]
    back = tasks.realign(repaired, sources)
    for h, group in enumerate(groups):
        for s, text in enumerate(group):
            assert len(back[h][s]) == len(text) + 1
            g = next(g for g, src in enumerate(sources) if src[s] == h)
            assert back[h][s][0] == 10.0 * g + s
    with pytest.raises(ValueError, match='twice'):
        tasks.realign(repaired, [[0, 0], [0, 1], [2, 2]])


@pytest.mark.slow
def test_plot_gate_starts_draws_each_start(results):
    fig = experiments.plot_gate_starts(results, 'copy')
    gates, moves = fig.axes
    main = {k: v for k, v in main_setting(results).items() if k != 'gate_init'}
    lines = [l for l in gates.get_lines()]
    assert len(lines) == 2                                       # TINY starts the gate at -5 and at 0
    for line, g0, move in zip(lines, (-5.0, 0.0), moves.get_lines()):
        runs = select(results, task='copy', schedule='ours', train='notes', gate_init=g0, **main)
        vals = np.array([r['gate']['values'] for r in runs])
        np.testing.assert_allclose(line.get_ydata(), vals.mean(0))
        assert move.get_ydata()[0] == pytest.approx(0.0, abs=1e-4)     # every run starts at its own start
        assert f"the gate ends at {vals.mean(0)[-1]:.4f}" in fig.microdnb_alt
    fig.canvas.draw()
    from matplotlib.text import Text
    assert not [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
                and t.get_fontsize() < 8.5]
    with pytest.raises(ValueError, match='no'):
        experiments.plot_gate_starts(results, 'copy', sched='nonsense')


def test_condition_losses_keep_what_seedstate_run_averages():
    from microdnb.data import load_docs
    from microdnb.study.runs import SeedState
    from microdnb.study.spec import run_spec
    state = SeedState(TINY, 0, load_docs()[:3000])
    spec = run_spec(TINY, 'copy', evals=('notes', 'trunk', 'shuffled', 'repaired'))
    measured = state.run(spec)
    params, _, _ = state.train(spec)
    losses, reports, groups = state.condition_losses(spec, params, spec.evals)
    assert len(groups) == TINY.n_eval_groups and set(losses) == set(spec.evals)
    for c in spec.evals:
        total, count = stats.name_sums(losses[c])
        assert total.sum() / count.sum() == pytest.approx(measured['loss'][c]['loss'], rel=1e-12)
        for s in range(spec.n_streams):
            t, n = stats.name_sums(losses[c], s)
            assert t.sum() / n.sum() == pytest.approx(measured['loss'][c]['by_stream'][s], rel=1e-12)
    assert reports['shuffled']['fallbacks'] == measured['loss']['shuffled']['fallbacks']
    # re-paired losses come back in the original groups' order: same token counts per name
    assert np.array_equal(stats.name_sums(losses['repaired'])[1], stats.name_sums(losses['notes'])[1])


def test_plot_gains_draws_the_gains_over_the_trunk_and_beyond_each_control():
    rng = np.random.default_rng(3)

    def losses(shift):
        return [[rng.random(4) + shift, rng.random(3) + shift] for _ in range(12)]
    L = {'notes': losses(0.0), 'trunk': losses(0.4), 'plan_only': losses(0.2), 'shuffled': losses(0.1)}
    fig = conditions.plot_gains(L, title='T')
    left, right = fig.axes
    data = fig.microdnb_data
    assert list(data['over_base']) == ['notes', 'plan_only', 'shuffled']
    assert list(data['beyond']) == ['plan_only', 'shuffled']
    for c, (g, se) in data['over_base'].items():
        assert (g, se) == pytest.approx(stats.name_gain(L[c], L['trunk'])[:2])
        assert f"{experiments.label_text(c)} {g:+.4f} (SE {se:.4f})" in fig.microdnb_alt
    for c, (g, se) in data['beyond'].items():
        assert (g, se) == pytest.approx(stats.name_gain(L['notes'], L[c])[:2])
    heights = [b.get_width() for b in _bars(left)[0]]
    np.testing.assert_allclose(heights, [data['over_base'][c][0] for c in data['over_base']])
    assert data['over_base']['notes'][0] > 0.3                    # lower loss: drawn above zero
    assert [t.get_text() for t in right.get_yticklabels()] == ['beyond plan only', 'beyond shuffled']
    fig1 = conditions.plot_gains(L, stream=1)
    assert fig1.microdnb_data['over_base']['notes'] == pytest.approx(stats.name_gain(L['notes'], L['trunk'], 1)[:2])
    assert 'stream 1' in fig1.microdnb_alt
    with pytest.raises(ValueError, match="'trunk'"):
        conditions.plot_gains({'notes': L['notes']})


def test_gate_steps_and_their_figure():
    lrs = np.full(200, 0.01)
    steady = np.concatenate([[-5.0], -5.0 + np.cumsum(lrs)])
    np.testing.assert_allclose(conditions.gate_steps(steady, lrs), 1.0)          # a steady push: +1 each step
    wobble = np.concatenate([[-5.0], -5.0 + np.cumsum(lrs * np.where(np.arange(200) % 4 == 0, -0.5, 0.5))])
    fig = conditions.plot_gate_steps(wobble, lrs, window=20)
    d = fig.microdnb_data
    assert d['median_abs'] == pytest.approx(0.5) and d['share_up'] == pytest.approx(0.75)
    assert d['share_flips'] == pytest.approx(99 / 199)      # - + + + - ...: 2 changes in every 4 steps
    assert d['moved'] == pytest.approx(0.01 * 0.5 * (150 - 50)) and d['steady'] == pytest.approx(2.0)
    assert 'median size 0.50' in fig.microdnb_alt and '75% of the steps open the gate' in fig.microdnb_alt
    with pytest.raises(ValueError, match=r'n \+ 1'):
        conditions.gate_steps(steady[:-1], lrs)


def test_plot_gain_by_step_says_each_steps_gain():
    fig = conditions.plot_gain_by_step([0, 10, 20], [0.0, 0.4, 0.9], [0.01, 0.02, 0.02], reference=0.5,
                                       reference_label='the other run')
    line = fig.axes[0].containers[0].lines[0]
    np.testing.assert_allclose(line.get_ydata(), [0.0, 0.4, 0.9])
    assert '10: +0.40' in fig.microdnb_alt and 'the other run, +0.50' in fig.microdnb_alt
    with pytest.raises(ValueError):
        conditions.plot_gain_by_step([0], [0.0], [0.0])

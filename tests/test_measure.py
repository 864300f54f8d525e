"""The measurements of microdnb.study.measure that need no model (the bus's counts, how far
Adam can move the gate, losses by position and by name) and the small statistics of
microdnb.study.stats (paired and cluster-robust standard errors). Those that run a model:
test_analysis.py.

Oracles: closed forms and hand-worked examples for the bus counts; the scalar Adam, pushed
by constant and by growing gradients, for how far the gate can move; for the clustered
standard error, a hand-worked example, with clusters of equal size the plain standard
error of the per-cluster mean differences (computed from the cluster means, not from the
residual sums `clustered_difference` uses), with every token its own cluster
`paired_difference` (np.std with ddof=1), and invariances any standard error of a mean
difference must have (order, labels, a shift of one condition, a scale).
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from microdnb.config import ModelConfig, TrainConfig
from microdnb.scalar import train
from microdnb.scalar.autograd import Value
from microdnb.study import measure
from microdnb.study import stats
from microdnb.study.stats import clustered_difference, name_of_token, paired_difference

finite = st.floats(-100, 100, allow_nan=False, allow_subnormal=False)


# ---------------------------------------------------------------- the bus, no model

@given(k=st.integers(1, 4), n=st.integers(1, 12), c=st.integers(1, 6))
def test_bus_stats_lag1_matches_closed_form(k, n, c):
    # k streams of equal length n, lag 1: every stream posts after each t < n with
    # (t + 1) % c == 0; at round t a stream reads (k - 1) plan seeds and (k - 1) * (t // c)
    # posts; the newest note from each other stream was posted after round c*(t//c) - 1.
    st_ = measure.bus_stats([n] * k, c, 1)
    assert st_['posts'] == k * (n // c)
    assert st_['note_reads'] == k * (k - 1) * sum(1 + t // c for t in range(n))
    if k > 1:
        assert st_['mean_age'] == pytest.approx(sum(t % c + 1 for t in range(n)) / n)


def test_bus_stats_lag0_hand_worked():
    # two streams of 3 positions, cadence 1. Stream 0 reads stream 1's plan seed and
    # its posts of earlier rounds (t + 1 notes, newest one round old); stream 1 runs
    # second and also reads stream 0's post of the same round (t + 2 notes, age 0).
    st_ = measure.bus_stats([3, 3], 1, 0)
    assert st_ == {'posts': 6, 'note_reads': (1 + 2 + 3) + (2 + 3 + 4), 'mean_age': 0.5}
    # a stream that ends (samples BOS) posts nothing at its last step
    assert measure.bus_stats([3, 3], 1, 0, ended=[0])['posts'] == 5


@pytest.mark.parametrize('bad', [[], [0], [2, 'a'], 'abc', [True]])
def test_bus_stats_rejects_bad_lengths(bad):
    with pytest.raises(ValueError, match='lengths'):
        measure.bus_stats(bad, 3, 0)


def test_forward_passes():
    assert measure.forward_passes([6, 9, 7], 3, 1) == 9              # one pass per round
    assert measure.forward_passes([6, 9, 7], 20, 0) == 9             # nobody ever posts
    # lag 0, cadence 3: rounds 2 and 5 have 3 live streams, round 8 only one
    assert measure.forward_passes([6, 9, 7], 3, 0) == 9 + 2 * 2
    assert measure.forward_passes([4], 1, 0) == 4                    # one stream: no waiting
    with pytest.raises(ValueError, match='cadence'):
        measure.forward_passes([3], 0, 0)
    with pytest.raises(ValueError, match='lengths'):
        measure.forward_passes([], 1, 0)


# ---------------------------------------------------------------- how far Adam moves the gate

def _adam_moves(tcfg, grads, lrs):
    """The scalar Adam on one parameter: how far each step moves it, for these gradients."""
    p = Value(0.0)
    adam = train.Adam([p], tcfg.beta1, tcfg.beta2, tcfg.eps_adam)
    moves = []
    for step, (g, lr) in enumerate(zip(grads, lrs)):
        before = p.data
        p.grad = g
        adam.step(step, lr)
        moves.append(before - p.data)
    return np.array(moves)


def test_adam_step_bound_value():
    tcfg = TrainConfig()
    b1, b2 = tcfg.beta1, tcfg.beta2
    assert measure.adam_step_bound(tcfg) == pytest.approx((1 - b1) / math.sqrt(1 - b2) / math.sqrt(1 - b1 ** 2 / b2))
    assert 2.88 < measure.adam_step_bound(tcfg) < 2.89
    assert measure.adam_step_bound(TrainConfig(beta1=0.99, beta2=0.9)) == math.inf   # b1^2 >= b2: no bound


def test_a_growing_gradient_moves_adam_almost_three_learning_rates_per_step():
    """|m_hat| <= sqrt(v_hat) is false: a gradient growing by b2 / b1 per step makes the
    Cauchy-Schwarz bound tight, and a step moves the parameter by ~2.89 learning rates."""
    tcfg = TrainConfig()
    b1, b2 = tcfg.beta1, tcfg.beta2
    bound = measure.adam_step_bound(tcfg)
    n = 1500
    moves = _adam_moves(tcfg, [(b2 / b1) ** i for i in range(n)], [1.0] * n)
    # step t moves by the Cauchy-Schwarz bound at t (equality), with Adam's bias corrections
    t = np.arange(1, n + 1)
    q = b1 ** 2 / b2
    tight = (1 - b1) / np.sqrt(1 - b2) * np.sqrt((1 - q ** t) / (1 - q)) * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    np.testing.assert_allclose(moves, tight, rtol=1e-6)
    assert moves[0] == pytest.approx(1.0)                # the first step is always 1 lr
    assert np.all(np.diff(moves) > 0) and moves.max() <= bound
    assert np.all(moves[100:] > 2) and moves[-1] == pytest.approx(bound, rel=1e-6)


@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False), min_size=1, max_size=60))
def test_no_gradient_sequence_beats_the_bound(grads):
    tcfg = TrainConfig()
    assert np.abs(_adam_moves(tcfg, grads, [1.0] * len(grads))).max() <= measure.adam_step_bound(tcfg) + 1e-9


def test_gate_reach_steady_push_and_ceiling():
    tcfg = TrainConfig()
    reach = measure.gate_reach(tcfg)
    total = 0.005 * (300 - 299 / 2)                       # sum of a linear decay
    g0 = ModelConfig().gate_init
    assert reach['lr_sum'] == pytest.approx(total)
    assert reach['steady_logit'] == pytest.approx(g0 + total)
    assert reach['steady_gate'] == pytest.approx(1 / (1 + math.exp(-(g0 + total))))
    assert reach['max_logit'] == pytest.approx(g0 + measure.adam_step_bound(tcfg) * total)
    assert reach['max_gate'] == pytest.approx(1 / (1 + math.exp(-reach['max_logit'])))
    lrs = [tcfg.snc_learning_rate * (1 - step / tcfg.snc_steps) for step in range(tcfg.snc_steps)]
    # the scalar Adam, pushed by the same gradient every step, moves by almost exactly the
    # steady sum; pushed by a growing gradient, by more than twice that, never past the ceiling
    steady = _adam_moves(tcfg, [-1.0] * tcfg.snc_steps, lrs).sum()
    assert total * 0.999 < -steady <= total + 1e-9
    growing = _adam_moves(tcfg, [(tcfg.beta2 / tcfg.beta1) ** i for i in range(tcfg.snc_steps)], lrs).sum()
    assert 2 * total < growing <= reach['max_logit'] - g0
    assert measure.gate_reach(tcfg, gate_init=0.0)['steady_logit'] == pytest.approx(total)
    assert measure.gate_reach(TrainConfig(snc_steps=0))['max_logit'] == g0


# ---------------------------------------------------------------- small statistics: paired, by position, by name

def test_paired_difference_and_positions():
    mean, se = stats.paired_difference([3.0, 4.0, 5.0], [2.0, 3.0, 4.0])
    assert (mean, se) == (1.0, 0.0)
    mean, se = stats.paired_difference([1.0, 3.0], [0.0, 0.0])
    assert mean == 2.0 and se == pytest.approx(math.sqrt(2) / math.sqrt(2))
    with pytest.raises(ValueError):
        stats.paired_difference([1.0], [1.0])
    m = {'positions': np.array([0, 1, 0, 1, 2]), 'losses': np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
         'groups': np.array([0, 0, 1, 1, 1])}
    pos, means, counts = measure.loss_by_position(m)
    assert pos.tolist() == [0, 1, 2] and means.tolist() == [2.0, 3.0, 5.0] and counts.tolist() == [2, 2, 1]
    assert measure.group_losses(m).tolist() == [1.5, 4.0]


# ---------------------------------------------------------------- the cluster-robust standard error


def test_hand_worked():
    # differences 0, 0, 0 | 4: mean 1; cluster sums of deviations -3 and 3;
    # SE = sqrt(2 / 1 * (9 + 9)) / 4 = 6 / 4
    assert clustered_difference([1, 2, 3, 9], [1, 2, 3, 5], [0, 0, 0, 1]) == (1.0, 1.5)
    # differences 1, 3 | 2, 6: cluster means 2 and 4, whose SE is sqrt(2) / sqrt(2) = 1
    mean, se = clustered_difference([1, 3, 2, 6], [0, 0, 0, 0], [0, 0, 1, 1])
    assert mean == 3.0 and se == pytest.approx(1.0)


@given(st.integers(2, 8), st.integers(1, 6), st.data())
def test_equal_clusters_give_the_se_of_the_cluster_means(n_clusters, size, data):
    d = np.array(data.draw(st.lists(finite, min_size=n_clusters * size, max_size=n_clusters * size)))
    labels = np.repeat(np.arange(n_clusters), size)
    cluster_means = d.reshape(n_clusters, size).mean(axis=1)
    oracle = cluster_means.std(ddof=1) / math.sqrt(n_clusters)
    mean, se = clustered_difference(d, np.zeros_like(d), labels)
    assert mean == pytest.approx(d.mean(), abs=1e-9)
    assert se == pytest.approx(oracle, rel=1e-9, abs=1e-9)


@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=40))
def test_one_token_per_cluster_is_the_paired_difference(pairs):
    a, b = (np.array(x) for x in zip(*pairs))
    got = clustered_difference(a, b, np.arange(len(a)))
    assert got == pytest.approx(paired_difference(a, b), rel=1e-9, abs=1e-9)


@given(st.lists(st.tuples(finite, st.integers(0, 4)), min_size=2, max_size=40), st.randoms(),
       st.floats(-50, 50), st.floats(0.1, 10))
def test_order_labels_shift_and_scale(rows, rng, shift, scale):
    d = np.array([x for x, _ in rows])
    labels = np.array([c for _, c in rows])
    if len(set(labels.tolist())) < 2:
        labels[0] = 5  # at least two clusters
    mean, se = clustered_difference(d, np.zeros_like(d), labels)
    order = list(range(len(d)))
    rng.shuffle(order)
    relabel = {c: 1000 - 7 * c for c in set(labels.tolist())}  # other, non-contiguous labels
    moved = clustered_difference(d[order], np.zeros_like(d), [relabel[c] for c in labels[order].tolist()])
    assert moved == pytest.approx((mean, se), rel=1e-9, abs=1e-9)
    shifted = clustered_difference(d + shift, np.zeros_like(d), labels)
    assert shifted == pytest.approx((mean + shift, se), rel=1e-9, abs=1e-7)
    scaled = clustered_difference(scale * d, np.zeros_like(d), labels)
    assert scaled == pytest.approx((scale * mean, scale * se), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize('a, b, clusters, match', [
    ([1.0, 2.0], [1.0], [0, 1], 'one length'),
    ([1.0, 2.0], [1.0, 2.0], [0, 1, 2], 'one length'),
    ([[1.0, 2.0]], [[1.0, 2.0]], [[0, 1]], '1-D'),
    ([1.0, 2.0], [1.0, 2.0], [0.0, 1.0], 'integer labels'),
    ([1.0, 2.0], [1.0, 2.0], [True, False], 'integer labels'),
    ([1.0, 2.0], [1.0, 2.0], ['x', 'y'], 'integer labels'),
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [4, 4, 4], 'at least 2'),
    ([], [], np.array([], dtype=int), 'at least 2'),
])
def test_rejects(a, b, clusters, match):
    with pytest.raises(ValueError, match=match):
        clustered_difference(a, b, clusters)


@given(st.lists(st.integers(1, 12), min_size=1, max_size=30))
def test_name_of_token_numbers_the_names(lengths):
    """Names of these lengths, their positions concatenated: every token gets its name's index."""
    positions = np.concatenate([np.arange(n) for n in lengths])
    want = np.repeat(np.arange(len(lengths)), lengths)
    assert np.array_equal(name_of_token({'positions': positions}), want)


@pytest.mark.parametrize('positions', [[1, 2, 0], [], [[0, 1]]])
def test_name_of_token_rejects_what_is_not_a_measure(positions):
    with pytest.raises(ValueError, match='positions'):
        name_of_token({'positions': np.array(positions)})

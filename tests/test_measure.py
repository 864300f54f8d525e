"""The small statistics of microdnb.study.stats: the cluster-robust standard error.

Oracles: a hand-worked example; with clusters of equal size, the plain standard error of
the per-cluster mean differences (computed from the cluster means, not from the
residual sums `clustered_difference` uses); with every token its own cluster,
`paired_difference` (np.std with ddof=1); and invariances any standard error of a mean
difference must have (order, labels, a shift of one condition, a scale).
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from microdnb.study.stats import clustered_difference, name_of_token, paired_difference

finite = st.floats(-100, 100, allow_nan=False, allow_subnormal=False)


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

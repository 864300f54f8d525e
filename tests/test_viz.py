"""The part-I figure functions: they draw what they are given, and reject bad input clearly.

Each check reads the numbers back out of the drawn artists and compares them with an
independent computation (Counter, a plain moving-average loop, the input arrays).
"""
import math
from collections import Counter

import matplotlib

matplotlib.use('Agg')  # no display in tests
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from microdnb.figures import dataset, decoding, graph, prep, source, training, transformer  # noqa: E402
from microdnb.scalar.autograd import Value  # noqa: E402

DOCS = ['emma', 'olivia', 'ava', 'isabella', 'mia', 'ava', 'zo']


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close('all')


def bar_heights(ax):
    return [p.get_height() for p in ax.patches]


def test_name_lengths_counts_every_length():
    fig = dataset.name_lengths(DOCS, block_size=16)
    ax = fig.axes[0]
    counts = Counter(len(d) for d in DOCS)
    assert bar_heights(ax) == [counts.get(n, 0) for n in range(1, max(counts) + 1)]
    # the block_size line sits between 15 and 16 characters
    (line,) = [l for l in ax.lines if l.get_linestyle() == '--']
    assert line.get_xdata()[0] == pytest.approx(15.5)


def test_char_frequencies_are_shares_in_percent():
    fig = dataset.char_frequencies(DOCS)
    ax = fig.axes[0]
    counts = Counter(''.join(DOCS))
    total = sum(counts.values())
    assert [t.get_text() for t in ax.get_xticklabels()] == sorted(counts)
    assert bar_heights(ax) == pytest.approx([100 * counts[c] / total for c in sorted(counts)])


@pytest.mark.parametrize('bad', [[], 'emma', [1, 2], None])
def test_data_figures_reject_non_lists_of_names(bad):
    with pytest.raises(ValueError, match='docs'):
        dataset.name_lengths(bad)
    with pytest.raises(ValueError, match='docs'):
        dataset.char_frequencies(bad)


def test_name_lengths_rejects_bad_block_size():
    with pytest.raises(ValueError, match='block_size'):
        dataset.name_lengths(DOCS, block_size=1)


def small_expression():
    a, b, c = Value(2.0), Value(-3.0), Value(10.0)
    L = (a * b + c).exp().log()
    L.backward()
    return L, {a: 'a', b: 'b', c: 'c', L: 'L'}


def test_expression_graph_has_one_box_per_node_with_data_and_grad():
    L, names = small_expression()
    fig = graph.expression_graph(L, names)
    texts = [t.get_text() for t in fig.axes[0].texts]
    nodes = L.topo_order()
    boxes = [t for t in texts if t.count('data ') == 1]
    assert len(boxes) == len(nodes)
    for v in nodes:
        expected = f"data {v.data:.4g}\ngrad {v.grad:.4g}"
        assert any(expected in t for t in boxes), expected
    for v, name in names.items():
        assert any(t.startswith(name + '\n') for t in boxes)
    # unnamed nodes are labelled with the operation read back from the graph
    for op in ['*', '+', 'exp']:  # (the log node is named L)
        assert any(t.startswith(op + '\n') for t in boxes), op
    # one arrow per edge (annotations with an empty text)
    n_edges = sum(len(v._children) for v in nodes)
    arrows = [t for t in fig.axes[0].texts if t.get_text() == '' and getattr(t, 'arrow_patch', None)]
    assert len(arrows) == n_edges


def test_expression_graph_labels_nodes_with_their_recorded_op():
    # 1 * 1 has local gradients (1, 1), which the old guess from the numbers drew as "+"
    a, b = Value(1), Value(1)
    fig = graph.expression_graph(a * b + (a * b).exp(), {a: 'a', b: 'b'})
    labels = [t.get_text().split('\n')[0] for t in fig.axes[0].texts if 'data ' in t.get_text()]
    assert sorted(labels) == sorted(['a', 'b', '*', '*', 'exp', '+'])


def test_expression_graph_validates():
    with pytest.raises(ValueError, match='Value'):
        graph.expression_graph(3.0)
    with pytest.raises(ValueError, match='names'):
        graph.expression_graph(Value(1.0), names=['x'])
    big = Value(0.0)
    for _ in range(50):
        big = big + 1
    with pytest.raises(ValueError, match='at most 40'):
        graph.expression_graph(big)


def test_attention_heatmaps_place_each_weight_at_query_and_key():
    rng = np.random.default_rng(0)
    T, H = 4, 2
    attn = []
    for t in range(T):
        heads = []
        for h in range(H):
            w = rng.random(t + 1)
            heads.append(list(w / w.sum()))
        attn.append([heads])  # one layer
    fig = transformer.attention_heatmaps(attn, list('.abc'))
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == H
    for h in range(H):
        for t in range(T):
            assert np.allclose(images[h][t, :t + 1], attn[t][0][h])
            # the future (keys after t) is blank, not zero
            assert np.all(np.ma.getmaskarray(images[h])[t, t + 1:])


def test_attention_heatmaps_are_readable_at_the_column_width():
    # four heads: two panels to a row, each over 3 in wide at the 8 in column (they were
    # four ~1.5 in panels in one row), and the strong weights written in their cells
    attn = [[[[1.0]] * 4], [[[0.8, 0.2], [0.5, 0.5], [0.1, 0.9], [0.25, 0.75]]]]
    fig = transformer.attention_heatmaps(attn, ['.', 'a'], annotate=0.3)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 4
    assert fig.get_figwidth() <= 8.0 + 1e-9
    widths = [ax.get_position().width * fig.get_figwidth() for ax in panels]
    assert min(widths) > 3.0
    assert len({round(ax.get_position().x0, 3) for ax in panels}) == 2   # two columns
    written = {(h, t.get_text()) for h, ax in enumerate(panels) for t in ax.texts}
    assert written == {(h, '1') for h in range(4)} | {(0, '.80'), (1, '.50'), (1, '.50'), (2, '.90'),
                                                       (3, '.75')}
    # annotate=None writes nothing; one head is one panel
    assert not any(ax.texts for ax in transformer.attention_heatmaps(attn, ['.', 'a'], annotate=None).axes)
    one = [[[[1.0]]], [[[0.3, 0.7]]]]
    assert len([ax for ax in transformer.attention_heatmaps(one, ['.', 'a']).axes if ax.images]) == 1


def test_attention_heatmaps_validate():
    with pytest.raises(ValueError, match='empty'):
        transformer.attention_heatmaps([], [])
    with pytest.raises(ValueError, match='tokens'):
        transformer.attention_heatmaps([[[[1.0]]]], ['a', 'b'])
    with pytest.raises(ValueError, match='weights'):
        transformer.attention_heatmaps([[[[0.5, 0.5]]]], ['a'])  # position 0 can only see itself
    with pytest.raises(ValueError, match='annotate'):
        transformer.attention_heatmaps([[[[1.0]]]], ['a'], annotate=2)


def test_prob_bars_top_sorts_and_highlights():
    probs = [0.1, 0.6, 0.05, 0.25]
    fig = transformer.prob_bars(probs, list('abcd'), highlight=3, top=3)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ['b', 'd', 'a']
    assert bar_heights(ax) == pytest.approx([0.6, 0.25, 0.1])
    colours = [matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches]
    assert colours[1] != colours[0] == colours[2]  # only 'd' highlighted


def test_prob_bars_accepts_values_and_validates():
    transformer.prob_bars([Value(0.5), Value(0.5)], ['a', 'b'])
    with pytest.raises(ValueError, match='sum to 1'):
        transformer.prob_bars([0.5, 0.6], ['a', 'b'])
    with pytest.raises(ValueError, match='labels'):
        transformer.prob_bars([0.5, 0.5], ['a'])
    with pytest.raises(ValueError, match='highlight'):
        transformer.prob_bars([0.5, 0.5], ['a', 'b'], highlight=2)
    with pytest.raises(ValueError, match='NaN'):
        transformer.prob_bars([math.nan, 1.0], ['a', 'b'])


def test_smooth_is_a_trailing_moving_average():
    x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]
    w = 3
    naive = [sum(x[max(0, i - w + 1):i + 1]) / len(x[max(0, i - w + 1):i + 1]) for i in range(len(x))]
    assert prep.smooth(x, w) == pytest.approx(naive)
    with pytest.raises(ValueError, match='window'):
        prep.smooth(x, 0)


def test_loss_curve_draws_raw_and_smoothed():
    losses = [3.3, 3.1, 2.9, 3.0, 2.5, 2.6]
    fig = training.loss_curve(losses, window=2, baseline=math.log(27))
    ax = fig.axes[0]
    raw, smoothed = ax.lines[0].get_ydata(), ax.lines[1].get_ydata()
    assert list(raw) == losses
    assert list(smoothed) == pytest.approx(prep.smooth(losses, 2))
    assert ax.lines[2].get_ydata()[0] == pytest.approx(math.log(27))
    with pytest.raises(ValueError, match='empty'):
        training.loss_curve([])


def test_lr_schedule_and_temperature_frame():
    fig = training.lr_schedule([0.01 * (1 - s / 10) for s in range(10)])
    assert fig.axes[0].lines[0].get_ydata()[0] == pytest.approx(0.01)
    fig = decoding.temperature_frame([0.5, 0.5], ['a', 'BOS'], ['ann', ''], 0.7)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert 'ann\n(empty)' in texts
    with pytest.raises(ValueError, match='temperature'):
        decoding.temperature_frame([0.5, 0.5], ['a', 'BOS'], [], 0)
    with pytest.raises(ValueError, match='names'):
        decoding.temperature_frame([0.5, 0.5], ['a', 'BOS'], 'ann', 1.0)


def test_matrix_heatmap_and_time_bars():
    fig = transformer.matrix_heatmap([[1.0, -2.0], [0.5, 0.0]], row_labels=['a', 'b'])
    assert np.array_equal(fig.axes[0].images[0].get_array(), [[1.0, -2.0], [0.5, 0.0]])
    with pytest.raises(ValueError, match='row_labels'):
        transformer.matrix_heatmap([[1.0]], row_labels=['a', 'b'])
    fig = training.time_bars({'step': {'scalar': 0.2, 'numpy': 0.001}, 'sample': {'scalar': 2.0, 'numpy': 5e-6}})
    ax = fig.axes[0]
    assert [p.get_width() for p in ax.patches] == pytest.approx([200.0, 1.0, 2000.0, 0.005])
    # one colour per engine, the same for every task
    colours = [matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches]
    assert colours[0] == colours[2] != colours[1] == colours[3]
    assert {'200 ms', '1 ms', '2 s', '5 µs'} <= {t.get_text() for t in ax.texts}
    with pytest.raises(ValueError, match='positive'):
        training.time_bars({'a': {'scalar': 0.0}})
    with pytest.raises(ValueError, match='dict'):
        training.time_bars([0.1])


def test_show_source_is_the_package_source():
    code = source.show_source(Value.backward)
    assert 'for v in reversed(self.topo_order())' in code.data
    with pytest.raises(ValueError, match='at least one'):
        source.show_source()
    with pytest.raises(ValueError, match='functions'):
        source.show_source(3)


def test_embedding_scatter_projects_on_principal_directions():
    # points on a line: direction 1 carries all the variance, in the order of the points
    mat = [[t, 2 * t, 0.0] for t in (-1.0, 0.0, 1.0, 2.0)]
    fig = transformer.embedding_scatter(mat, list('abcd'))
    ax = fig.axes[0]
    xs = [t.get_position()[0] for t in ax.texts]
    ys = [t.get_position()[1] for t in ax.texts]
    assert np.allclose(np.abs(np.diff(xs)), math.sqrt(5))
    assert np.allclose(ys, 0.0)
    assert '100%' in ax.get_xlabel()
    with pytest.raises(ValueError, match='labels'):
        transformer.embedding_scatter(mat, list('abc'))


def test_show_side_by_side_puts_both_sources_in_two_columns():
    from microdnb.scalar import layers
    from microdnb.vector import layers as np_layers
    out = source.show_side_by_side(layers.rmsnorm, (np_layers.rmsnorm, np_layers.rmsnorm_backward),
                                titles=('scalar', 'numpy'))
    assert out.data.count('flex: 1 1 0') == 2
    assert 'rmsnorm_backward' in out.data and '<b>scalar</b>' in out.data
    with pytest.raises(ValueError, match='titles'):
        source.show_side_by_side(layers.rmsnorm, layers.rmsnorm, titles=('one',))


def test_table_text_and_html():
    from microdnb.figures.tables import Table
    t = Table([['task', 'n', 'loss'], ['copy', '2', '2.109±0.137'], ['split<', '10', '-']])
    assert repr(t).splitlines() == ['task    n   loss', '------  --  -----------',
                                    'copy    2   2.109±0.137', 'split<  10  -']
    page = t._repr_html_()
    assert page.count('<tr>') == 3 and 'split&lt;' in page
    assert ('text-align: right; padding: 0.15em 0.45em"><span style="white-space: nowrap">2.109</span>'
            '<wbr><span style="white-space: nowrap">±0.137</span>') in page
    with pytest.raises(ValueError):
        Table([['a', 'b'], ['1']])
    with pytest.raises(ValueError):
        Table([])

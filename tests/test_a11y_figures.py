"""Accessibility of the figures, checked in Python (the built pages are checked in test_site.py).

Every figure function of figures.dataset, graph, transformer, training, decoding, notes_bus
and cross_attention:
- sets `fig.microdnb_alt`, a description computed from its inputs (two inputs that draw
  differently get different descriptions; the numbers the figure shows are in it);
- writes no text smaller than MIN_FONT_PT (see there: what that is on the page);
- takes its colours from the one Okabe-Ito palette in figures.style.
And `display` carries the description to the reader: `show` as the <img>'s alt,
`png` inside the PNG (where `widgets.scrubber` reads it).
"""
import math
import random
import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from microdnb import vector  # noqa: E402
from microdnb.config import BusConfig  # noqa: E402
from microdnb.figures import (cross_attention, dataset, decoding, display, graph, notes_bus, style,  # noqa: E402
                              training, transformer)
from microdnb.scalar.autograd import Value  # noqa: E402
from microdnb.scalar.model import init_params  # noqa: E402

pytestmark = pytest.mark.slow   # renders every figure function: `make test`, not `make check`

# Figures are 8 in wide (style.WIDTH), rendered at 100 dpi (800 px) and shown in a cell
# output 688 px wide at a 1280 px window (measured on the built book), so 1 pt of figure
# text is 1.19 px on screen and 8.5 pt is 10.2 px. The page's own smallest print is the
# package-source listings at 0.78 rem (12.5 px); the body text is 16 px. 8.5 pt is the
# floor the book adopted; matching the listings exactly would take 10.5 pt.
MIN_FONT_PT = 8.5


# ---------------------------------------------------------------- one instance of every figure

def _attn(T=5, H=2, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for t in range(T):
        heads = []
        for _ in range(H):
            w = rng.random(t + 1)
            heads.append(list(w / w.sum()))
        out.append([heads])
    return out


@pytest.fixture(scope="module")
def trace_and_tokenizer():
    from microdnb.data import Tokenizer
    docs = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'amelia', 'harper', 'evelyn', 'abigail']
    tokenizer = Tokenizer.from_docs(docs)
    from microdnb.config import ModelConfig
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, n_embd=8, n_head=2, block_size=8, notes_dim=4)
    state_dict = init_params(cfg, random.Random(7))
    state_dict['snc_gate'][0][0] = Value(0.0)
    trace = vector.sample_parallel(vector.params_from(state_dict), cfg, BusConfig(3, 2, 0), tokenizer,
                                   random.Random(0), record=True)
    return trace, tokenizer


def _sweep(tokenizer, gates=(0.01, 0.1, 1.0)):
    rng = np.random.default_rng(1)
    n = tokenizer.vocab_size
    out = []
    for g in gates:
        first = rng.random(n)
        trunk = rng.random(n)
        out.append({'gate': g, 'first': first / first.sum(), 'trunk_first': trunk / trunk.sum(),
                    'loss': 2.5 + g, 'ratios': np.array([0.01, 0.02]) * (1 + g),
                    'texts': [['emma', 'ava', ''], ['mia', 'ava', 'ivy']]})
    return out


def _docs():
    return ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'amelia', 'harper', 'evelyn', 'abigail',
            'emily', 'elizabeth', 'mila', 'ella', 'avery', 'sofia']


def figures(trace, tokenizer):
    """(name, figure) for every figure function, with small but real inputs."""
    labels = list('abcdefghij') + ['.']
    rng = np.random.default_rng(3)
    mat = rng.normal(size=(len(labels), 6))
    probs = rng.random(len(labels))
    probs /= probs.sum()
    a, b = Value(2.0), Value(-3.0)
    c = a * b
    L = c + Value(10.0)
    L.backward()
    losses = [3.3 * math.exp(-i / 80) + 1.8 + 0.05 * math.sin(i) for i in range(300)]
    n = 120
    p2 = {'loss': list(2.4 + 0.1 * np.sin(np.arange(n))), 'gate': list(np.linspace(0.0067, 0.0087, n))}
    sweep = _sweep(tokenizer)
    yield 'name_lengths', dataset.name_lengths(_docs(), block_size=8)
    yield 'char_frequencies', dataset.char_frequencies(_docs())
    yield 'expression_graph', graph.expression_graph(L, {a: 'a', b: 'b', c: 'c', L: 'L'})
    yield 'matrix_heatmap', transformer.matrix_heatmap(mat, row_labels=labels, title='wte')
    yield 'embedding_scatter', transformer.embedding_scatter(mat, labels, title='embeddings')
    yield 'attention_heatmaps', transformer.attention_heatmaps(_attn(), list('.emma'), title='attention')
    yield 'prob_bars', transformer.prob_bars(probs, labels, highlight=2, title='next')
    yield 'loss_curve', training.loss_curve(losses, window=20, baseline=math.log(27), title='phase 1')
    yield 'lr_schedule', training.lr_schedule([0.01 * (1 - i / 300) for i in range(300)])
    yield 'temperature_frame', decoding.temperature_frame(probs, labels, ['emma', '', 'ava'], 0.5)
    yield 'time_bars', training.time_bars({'step': {'scalar': 0.25, 'numpy': 3e-4},
                                        'sample': {'scalar': 0.01, 'numpy': 1e-3}}, title='engines')
    yield 'bus_timeline', notes_bus.bus_timeline([10, 7, 9], 3, 0)
    yield 'visibility_heatmap', notes_bus.visibility_heatmap([10, 7, 9], 3, 0)
    yield 'bus_figure', notes_bus.bus_figure([10, 7, 9], 3, 0)
    yield 'snc_attention_figure', cross_attention.snc_attention_figure(trace, 2, tokenizer)
    yield 'gate_frame', cross_attention.gate_frame(sweep, 1, tokenizer)
    yield 'position_gain_figure', cross_attention.position_gain_figure(
        np.arange(6), [3.0, 2.6, 2.4, 2.3, 2.2, 2.5], [100, 98, 90, 70, 40, 12],
        {'full': np.array([0.1, 0.02, 0.0, -0.01, 0.01, 0.0]),
         'plan_only': np.array([0.08, 0.0, 0.0, 0.0, 0.0, 0.0])})
    yield 'phase2_figure', training.phase2_figure(p2, list(2.41 + 0.1 * np.sin(np.arange(n))),
                                                list(np.linspace(0.0067, 0.02, n)))
    yield 'decode_figure', decoding.decode_figure(trace, tokenizer)


FIGURE_FUNCTIONS = {
    'dataset': ['name_lengths', 'char_frequencies'],
    'graph': ['expression_graph'],
    'transformer': ['matrix_heatmap', 'embedding_scatter', 'attention_heatmaps', 'prob_bars'],
    'training': ['loss_curve', 'lr_schedule', 'time_bars', 'phase2_figure'],
    'decoding': ['temperature_frame', 'decode_figure'],
    'notes_bus': ['bus_timeline', 'visibility_heatmap', 'bus_figure'],
    'cross_attention': ['snc_attention_figure', 'gate_frame', 'position_gain_figure'],
}


@pytest.fixture(scope="module")
def all_figures(trace_and_tokenizer):
    with matplotlib.rc_context({'figure.max_open_warning': 0}):   # all kept open on purpose
        figs = dict(figures(*trace_and_tokenizer))
    yield figs
    for fig in figs.values():
        plt.close(fig)


NOT_FIGURES = {'bus_label', 'visibility_table', 'snc_attention_table'}


def test_every_figure_function_is_covered(all_figures):
    """A new public function in these modules is either a figure checked here or listed as not one."""
    import inspect
    for name, module in {'dataset': dataset, 'graph': graph, 'transformer': transformer, 'training': training,
                         'decoding': decoding, 'notes_bus': notes_bus, 'cross_attention': cross_attention}.items():
        public = {f for f, obj in vars(module).items() if inspect.isfunction(obj)
                  and obj.__module__ == module.__name__ and not f.startswith('_')}
        unchecked = public - set(FIGURE_FUNCTIONS[name]) - NOT_FIGURES
        assert not unchecked, f"{name}: add these figure functions to FIGURE_FUNCTIONS: {unchecked}"
    assert set(all_figures) == {f for fs in FIGURE_FUNCTIONS.values() for f in fs}


# ---------------------------------------------------------------- alternative text

def test_every_figure_has_alt_text(all_figures):
    for name, fig in all_figures.items():
        alt = getattr(fig, 'microdnb_alt', None)
        assert isinstance(alt, str) and len(alt) >= 60, f"{name}: no (or a too short) alt text: {alt!r}"
        assert not re.search(r'\bnan\b|\binf\b|\{|\}', alt), f"{name}: alt text has a bad value: {alt}"
        assert not re.match(r'(figure|image|chart)\s*\d*$', alt, re.I), name


def _alt(fig):
    plt.close(fig)
    return fig.microdnb_alt


def test_alt_text_is_computed_from_the_data():
    """Alt texts state the numbers drawn, and change when the data changes."""
    docs = _docs()
    alt = _alt(dataset.name_lengths(docs, block_size=6))
    lengths = [len(d) for d in docs]
    assert f"{len(docs):,} names" in alt and f"from {min(lengths)} to {max(lengths)}" in alt
    assert f"{sum(n > 5 for n in lengths):,} longer names would be cut" in alt
    probs = [0.1, 0.6, 0.05, 0.25]
    alt = _alt(transformer.prob_bars(probs, list('abcd'), highlight=3))
    assert "'b' (0.600)" in alt and "'d', probability 0.250, rank 2 of 4" in alt
    assert _alt(transformer.prob_bars(probs, list('abcd'), highlight=0)) != alt
    alts = set()
    for c in (1, 2, 3):
        for lag in (0, 1):
            alts.add(_alt(notes_bus.bus_figure([6, 5], c, lag)))
    assert len(alts) == 6, "each cadence/lag frame must describe what differs"
    assert _alt(notes_bus.bus_figure([6, 5], 2, 1)).startswith("Cadence 2, lag 1.")
    times = {'step': {'scalar': 0.2, 'numpy': 0.002}}
    assert "numpy 100 times faster" in _alt(training.time_bars(times))


def test_decode_alt_names_the_names(trace_and_tokenizer):
    trace, tokenizer = trace_and_tokenizer
    alt = _alt(decoding.decode_figure(trace, tokenizer))
    for toks in trace['tokens']:
        assert "'" + ''.join(tokenizer.uchars[t] for t in toks) + "'" in alt
    assert f"{trace['rounds']} rounds" in alt


def _snc_trace(tokenizer):
    """A hand-made recorded decode of three streams (chapter 7's stream 0 of 'sanan | lileleon |
    amiren', shortened): stream 0 reads the two identical plan seeds, whose weights tie at
    0.5, for two steps, then s1@p1, which takes most of head 0's weight; stream 1 ends its name
    at position 1 (so it posts nothing there), stream 2 at position 2."""
    a, b, end = tokenizer.uchars.index('a'), tokenizer.uchars.index('m'), tokenizer.BOS
    seeds = [(1, None), (2, None)]

    def ev(s, pos, token, notes, heads):
        return {'stream': s, 'pos': pos, 'token': token, 'notes': notes, 'snc': [heads]}
    events = [ev(0, 0, a, seeds, [[0.5, 0.5], [0.5, 0.5]]),
              ev(1, 0, b, [(0, None), (2, None)], [[0.5, 0.5], [0.5, 0.5]]),
              ev(2, 0, a, [(0, None), (1, None)], [[0.5, 0.5], [0.5, 0.5]]),
              ev(0, 1, b, seeds, [[0.5, 0.5], [0.5, 0.5]]),
              ev(1, 1, end, [(0, None), (2, None)], [[0.5, 0.5], [0.5, 0.5]]),
              ev(2, 1, b, [(0, None), (1, None)], [[0.5, 0.5], [0.5, 0.5]]),
              ev(0, 2, a, seeds + [(2, 1)], [[0.04, 0.04, 0.92], [0.3, 0.45, 0.25]]),
              ev(2, 2, end, [(0, None), (1, None)], [[0.5, 0.5], [0.5, 0.5]]),
              ev(0, 3, end, seeds + [(2, 1)], [[0.1, 0.1, 0.8], [0.2, 0.2, 0.6]])]
    return {'events': events, 'texts': ['ama', 'm', 'am']}


def test_snc_attention_alt_says_where_the_weight_is_and_counts_no_tie_as_a_preference(trace_and_tokenizer):
    """Chapter 7's stream-0 figure: at the steps that read only the identical plan seeds every
    head splits its weight exactly evenly, and the alt says so instead of naming the first
    plan seed as the favourite; the largest weights are reported on the note that has them;
    the alt says where the other streams end their names (no column for a note nobody posted)."""
    _, tokenizer = trace_and_tokenizer
    alt = _alt(cross_attention.snc_attention_figure(_snc_trace(tokenizer), 0, tokenizer))
    assert "writes 'ama'" in alt and 'columns the 3 notes it read at some step (plan s1, plan s2 and s2@p1)' in alt
    assert ("Head 0: at p0 and p1 its largest weight is shared equally between plan s1 and plan s2 (0.50 each); "
            "at the other 2 steps its single largest weight is on s2@p1 at 2 of them (up to 0.92, at p2).") in alt
    assert ("Head 1: at p0 and p1 its largest weight is shared equally between plan s1 and plan s2 (0.50 each); "
            "at the other 2 steps its single largest weight is on plan s2 at 1 of them (up to 0.45, at p2) "
            "and on s2@p1 at 1 (up to 0.60, at p3).") in alt
    assert 'plan s1 at' not in alt   # a tie is never counted as a preference for its first note
    assert ("Its last step is position 3; stream 1 ends its name at position 1 and stream 2 ends its name at "
            "position 2 (writing '.'), and a stream posts no note at the step that ends its name.") in alt


def test_the_end_token_is_written_as_the_book_writes_it(trace_and_tokenizer):
    """'.' (data.BOS_TEXT, Tokenizer.labels) in the decode figure, the gate frame's ticks and the
    attention figure's rows, never 'end' or 'BOS'."""
    trace, tokenizer = trace_and_tokenizer
    fig = decoding.decode_figure(trace, tokenizer)
    cells = [t.get_text() for t in fig.axes[0].texts]
    assert '.' in cells and 'end' not in cells
    assert "each name followed by the end token '.'" in _alt(fig)
    fig = cross_attention.gate_frame(_sweep(tokenizer), 1, tokenizer)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks[-1] == '.' and 'end' not in ticks
    plt.close(fig)
    fig = cross_attention.snc_attention_figure(_snc_trace(tokenizer), 0, tokenizer)
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert rows[0] == 'p0 .\u2192a' and rows[-1] == 'p3 a\u2192.' and not any('BOS' in r for r in rows)
    plt.close(fig)


def test_phase2_figure_draws_the_gain_positive_when_snc_helps():
    """The book's one sign convention: the bottom-left panel is trunk minus phase 2, so a phase 2
    that lowers every pair's loss by 0.01 draws +0.01, and the alt says so."""
    n = 60
    trunk = 2.4 + 0.1 * np.sin(np.arange(n))
    p2 = {'loss': list(trunk - 0.01), 'gate': list(np.linspace(0.0067, 0.0087, n))}
    fig = training.phase2_figure(p2, list(trunk), list(np.linspace(0.0067, 0.014, n)))
    each = fig.axes[1].lines[0].get_ydata()
    np.testing.assert_allclose(each, 0.01, atol=1e-12)
    alt = _alt(fig)
    assert "SNC's gain over the trunk, trunk minus phase 2 (positive when SNC lowers the loss)" in alt
    assert 'the running mean ends at +0.0100' in alt


def test_position_gain_alt_counts_gains_above_and_below_zero_apart():
    """Chapter 8's text counts the positions where the gain is more than two SE above zero; the
    alt gives those and the ones below zero separately (one position below is not a gain)."""
    gains = {'notes': np.array([0.1, 0.05, 0.0, -0.1])}
    errors = {'notes': np.array([0.01, 0.01, 0.01, 0.01])}
    alt = _alt(cross_attention.position_gain_figure(np.arange(4), [3.0, 2.0, 1.5, 1.0], [9, 8, 7, 6], gains, errors))
    assert 'more than two error bars above zero at 2 of 4 positions and below zero at 1' in alt


# ---------------------------------------------------------------- text size

def _texts(fig):
    seen = set()
    for artist in fig.findobj(Text):
        if id(artist) in seen or not artist.get_visible() or not artist.get_text().strip():
            continue
        seen.add(id(artist))
        yield artist


def test_no_text_smaller_than_the_pages_small_print(all_figures):
    small = []
    for name, fig in all_figures.items():
        fig.canvas.draw()   # tick labels exist once drawn
        for t in _texts(fig):
            if t.get_fontsize() < MIN_FONT_PT - 1e-9:
                small.append(f"{name}: {t.get_text()!r} at {t.get_fontsize():g} pt")
    assert not small, f"text below {MIN_FONT_PT} pt:\n" + "\n".join(small[:30])


# ---------------------------------------------------------------- colour

def test_text_has_aa_contrast(all_figures):
    """Text drawn in a colour (stream-coloured labels, highlighted tokens) is darkened to
    4.5:1 on white, as WCAG AA asks of text; the hue stays as a cue."""
    low = []
    for name, fig in all_figures.items():
        fig.canvas.draw()
        for t in _texts(fig):
            ratio = display.contrast(t.get_color(), 'white')
            if ratio < 4.5:
                low.append(f"{name}: {t.get_text()!r} in {to_hex(t.get_color())} ({ratio:.2f}:1)")
    assert not low, "\n".join(low[:20])
    assert display.text_color('#000000') == '#000000'
    assert display.contrast(display.text_color(style.ORANGE), 'white') >= 4.5
    assert display.contrast(display.text_color(style.GREEN), 'white') < 4.6   # darkened no more than needed


OKABE_ITO = {to_hex(c) for c in style.STREAM_COLORS} | {to_hex(style.GREY)}


def test_stream_colours_are_the_okabe_ito_palette():
    assert [to_hex(style.stream_color(s)) for s in range(8)] == \
        ['#0072b2', '#d55e00', '#009e73', '#e69f00', '#cc79a7', '#56b4e9', '#f0e442', '#000000']
    assert len(set(style.STREAM_MARKERS)) == len(style.STREAM_COLORS)


def test_meaningful_colours_come_with_a_second_cue(all_figures):
    # the highlighted bar is hatched, not only orange
    ax = all_figures['prob_bars'].axes[0]
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 1
    # each engine / control has its own hatch beside its colour (and a legend)
    for name in ('time_bars', 'position_gain_figure'):
        ax = all_figures[name].axes[-1]
        hatches = {p.get_hatch() or '' for p in ax.patches}
        assert len(hatches) >= 2 and ax.get_legend() is not None, name
    # SNC: unreadable cells are hatched, not only grey
    assert all(ax.patch.get_hatch() for ax in all_figures['snc_attention_figure'].axes if ax.images)
    # the same-round cells carry a dot beside the darker blue
    ax = all_figures['visibility_heatmap'].axes[0]
    assert any(line.get_marker() == 'o' for line in ax.lines)
    # the sequential row says which stream wrote each stretch
    texts = [t.get_text() for t in all_figures['decode_figure'].axes[0].texts]
    assert sum(t.startswith('stream ') for t in texts) == len(all_figures['decode_figure'].axes[0].get_yticks()) - 1


def test_stream_colours_in_figures_are_from_the_palette(all_figures):
    for name in ('bus_timeline', 'decode_figure', 'position_gain_figure', 'phase2_figure'):
        used = set()
        for ax in all_figures[name].axes:
            used |= {to_hex(p.get_facecolor()) for p in ax.patches if p.get_facecolor()[3] > 0}
            used |= {to_hex(line.get_color()) for line in ax.lines}
        coloured = {c for c in used if c not in ('#ffffff', '#000000')}
        assert coloured <= OKABE_ITO | {'#7f7f7f'}, f"{name}: {coloured - OKABE_ITO}"


def test_chapter7_stream0_alt_on_the_reference_model():
    """Chapter 7's figure of stream 0 ('sanan', the reference's first parallel batch): the three
    steps that read only the two identical plan seeds are exact ties, said as such, and head 0's
    0.92 is on s1@p2, at position 5 (issue 19's example of an alt that misread its data)."""
    from microdnb.reference import reference_run
    run = reference_run()
    params, cfg, tokenizer, rng = run['params'], run['cfg'], run['tokenizer'], run['rng']
    for _ in range(10):
        vector.sample_single(params, cfg, tokenizer, rng)
    trace = vector.sample_parallel(params, cfg, BusConfig(3, 3, 0), tokenizer, rng, record=True)
    assert trace['texts'] == ['sanan', 'lileleon', 'amiren']
    alt = _alt(cross_attention.snc_attention_figure(trace, 0, tokenizer))
    for h in range(cfg.n_head):
        assert (f"Head {h}: at p0, p1 and p2 its largest weight is shared equally between plan s1 and plan s2 "
                f"(0.50 each); at the other 3 steps its single largest weight is on ") in alt
    assert "on s1@p2 at 3 of them (up to 0.92, at p5)" in alt
    assert "plan s1 at 3 of 6" not in alt
    assert "stream 1 ends its name at position 8 and stream 2 ends its name at position 6" in alt

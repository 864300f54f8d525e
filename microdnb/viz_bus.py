"""Matplotlib figures and widget frames for part II of the book (the Notes Bus, SNC,
the gate, the planner seed, phase 2).

Every figure function returns a `matplotlib.figure.Figure` and never calls
`plt.show()`; every `*_frames` function returns a dict of PNG bytes keyed as
`widgets.scrubber` expects. Sizes fit a book column about 8 inches wide.
"""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from matplotlib.transforms import ScaledTranslation
from matplotlib.ticker import NullLocator

from .bus import visibility

WIDTH = 8.0  # inches: one book column
STREAM_COLORS = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf')
GREY = '#7f7f7f'


# ---------------------------------------------------------------- helpers

def _color(stream):
    return STREAM_COLORS[stream % len(STREAM_COLORS)]


def bus_label(stream, round_):
    """How the book names a snapshot: 'plan s0' for stream 0's plan seed, 's1@p2' for the
    snapshot stream 1 posted after position 2."""
    return f"plan s{stream}" if round_ is None else f"s{stream}@p{round_}"


def _check_lengths(lengths):
    if isinstance(lengths, (str, bytes)) or not lengths or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in lengths):
        raise ValueError(f"lengths must be a non-empty list of integers >= 1 (positions each "
                         f"stream runs), got {lengths!r}")


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _fig_to_png(fig, dpi=80):
    """PNG bytes of a widget frame. 80 dpi keeps a chapter's dozens of frames small."""
    from .widgets import fig_to_png  # widgets imports ipywidgets; only frames need it
    return fig_to_png(fig, dpi=dpi)


# ---------------------------------------------------------------- chapter 6: the bus

def visibility_table(lengths, cadence, lag, ended=()):
    """The bus's read rule as a table, from `bus.visibility` (`ended` as there).

    Returns (snapshots, steps, seen): snapshots is the list of (stream, round) labels
    in bus order (plan seeds first, then posts by round and stream), steps the list
    of reader steps (stream, round) stream by stream, and seen[i, j] is 1 if step j
    can read snapshot i, 2 if it can read it although it was posted in that same
    round (lag 0 only: the round-robin order lets later streams see earlier ones), else 0.
    """
    _check_lengths(lengths)
    _check_int(cadence, 'cadence', 1)
    _check_int(lag, 'lag', 0)
    posts, reads = visibility(list(lengths), cadence, lag, ended)
    snapshots = [(s, None) for s in range(len(lengths))]
    snapshots += sorted(((s, r) for s, rs in enumerate(posts) for r in rs), key=lambda sr: (sr[1], sr[0]))
    steps = [(s, t) for s, n in enumerate(lengths) for t in range(n)]
    row = {label: i for i, label in enumerate(snapshots)}
    seen = np.zeros((len(snapshots), len(steps)), dtype=int)
    for j, (s, t) in enumerate(steps):
        for label in reads[(s, t)]:
            seen[row[label], j] = 2 if label[1] == t else 1
    return snapshots, steps, seen


def bus_timeline(lengths, cadence, lag, ax=None, ended=()):
    """Rounds x streams: each cell is one step of one stream, labelled with how many notes
    it can read; a dot marks a snapshot posted after that step; a diamond the plan seed."""
    _check_lengths(lengths)
    snapshots, steps, seen = visibility_table(lengths, cadence, lag, ended)
    posts, _ = visibility(list(lengths), cadence, lag, ended)
    n_streams, n_rounds = len(lengths), max(lengths)
    if ax is None:
        fig, ax = plt.subplots(figsize=(WIDTH, 0.55 * n_streams + 1.2))
    fig = ax.figure
    counts = (seen > 0).sum(axis=0)
    for j, (s, t) in enumerate(steps):
        ax.add_patch(plt.Rectangle((t - 0.45, s - 0.4), 0.9, 0.8, facecolor=_color(s), alpha=0.18,
                                   edgecolor=_color(s)))
        ax.text(t, s, str(counts[j]), ha='center', va='center', fontsize=9)
    for s in range(n_streams):
        ax.plot([-1], [s], marker='D', color=_color(s), markersize=8, linestyle='none')
        for r in posts[s]:
            ax.plot([r + 0.42], [s - 0.32], marker='o', color=_color(s), markersize=7,
                    markeredgecolor='black', linestyle='none')
    ax.set_xlim(-1.6, n_rounds - 0.4)
    ax.set_ylim(n_streams - 0.5, -0.5)
    ax.set_xticks(range(-1, n_rounds))
    ax.set_xticklabels(['plan'] + [str(t) for t in range(n_rounds)])
    ax.set_yticks(range(n_streams))
    ax.set_yticklabels([f"stream {s}" for s in range(n_streams)])
    ax.set_xlabel('round = position')
    ax.set_title(f"cadence {cadence}, lag {lag}: number in a cell = notes that step can read; "
                 f"dot = snapshot posted", fontsize=9)
    for side in ('top', 'right'):
        ax.spines[side].set_visible(False)
    return fig


def visibility_heatmap(lengths, cadence, lag, ax=None, ended=()):
    """Snapshots (rows) x reader steps (columns): which note each step can read."""
    snapshots, steps, seen = visibility_table(lengths, cadence, lag, ended)
    if ax is None:
        fig, ax = plt.subplots(figsize=(WIDTH, 0.17 * len(snapshots) + 1.6))
    fig = ax.figure
    # 0 = not readable, 1 = readable, 2 = readable though posted in the same round
    cmap = ListedColormap(['white', '#9ecae1', '#08519c'])
    ax.imshow(seen, cmap=cmap, vmin=0, vmax=2, aspect='auto', interpolation='nearest')
    ax.set_yticks(range(len(snapshots)))
    ax.set_yticklabels([bus_label(s, r) for s, r in snapshots], fontsize=8)
    for tick, (s, _) in zip(ax.get_yticklabels(), snapshots):
        tick.set_color(_color(s))
    ax.set_xticks(range(len(steps)))
    ax.set_xticklabels([f"p{t}" for _, t in steps], fontsize=8)
    for tick, (s, _) in zip(ax.get_xticklabels(), steps):
        tick.set_color(_color(s))
    # thin lines between streams' columns, and grid lines between cells
    ax.set_xticks(np.arange(-0.5, len(steps)), minor=True)
    ax.set_yticks(np.arange(-0.5, len(snapshots)), minor=True)
    ax.grid(which='minor', color='#dddddd', linewidth=0.5)
    ax.tick_params(which='minor', length=0)
    start = 0
    for s, n in enumerate(lengths):
        if start:
            ax.axvline(start - 0.5, color='black', linewidth=1.2)
        ax.text(start + (n - 1) / 2, -0.9, f"reader: stream {s}", ha='center', va='bottom',
                fontsize=8, color=_color(s))
        start += n
    ax.set_xlabel('reader step (position), grouped by reading stream')
    ax.set_ylabel('snapshot on the bus')
    handles = [Patch(facecolor='#9ecae1', label='readable'),
               Patch(facecolor='#08519c', label='readable, posted in this same round (lag 0)')]
    # A fixed distance below the axes (not a fraction of their height), so the legend clears
    # the tick labels and the x label however few snapshot rows the matrix has.
    below = ax.transAxes + ScaledTranslation(0, -0.48, fig.dpi_scale_trans)
    ax.legend(handles=handles, loc='upper center', bbox_to_anchor=(0.5, 0), bbox_transform=below,
              ncol=2, fontsize=8, frameon=False)
    return fig


def bus_figure(lengths, cadence, lag, n_rows=None, ended=()):
    """The timeline above the visibility matrix: one frame of the cadence widget.

    n_rows: size the matrix for this many snapshot rows (default: as many as it has),
    so frames with fewer snapshots keep the same height.
    """
    _check_lengths(lengths)
    n_snap = len(visibility_table(lengths, cadence, lag, ended)[0])
    n_snap = max(n_snap, n_rows or 0)
    n_streams = len(lengths)
    top = 0.55 * n_streams + 1.0
    bottom = 0.17 * n_snap + 1.9
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(WIDTH, top + bottom),
                                   gridspec_kw={'height_ratios': [top, bottom]})
    bus_timeline(lengths, cadence, lag, ax=ax1, ended=ended)
    visibility_heatmap(lengths, cadence, lag, ax=ax2, ended=ended)
    fig.tight_layout()
    return fig


def cadence_frames(lengths, cadences=range(1, 9), lags=(0, 1), ended=()):
    """PNG frames of `bus_figure` for every (cadence, lag), for a two-axis scrubber.

    The figure height is fixed by the most crowded frame (cadence 1), so the page does
    not jump while scrubbing.
    """
    cadences, lags = list(cadences), list(lags)
    if not cadences or not lags:
        raise ValueError("cadences and lags must each hold at least one value")
    n_rows = max(len(visibility_table(lengths, c, lag, ended)[0]) for c in cadences for lag in lags)
    frames = {}
    for c in cadences:
        for lag in lags:
            fig = bus_figure(lengths, c, lag, n_rows=n_rows, ended=ended)
            frames[(c, lag)] = _fig_to_png(fig)
            plt.close(fig)
    return frames


# ---------------------------------------------------------------- chapter 7: SNC and the gate

def _check_trace(trace):
    if not isinstance(trace, dict) or 'events' not in trace:
        raise ValueError("trace must come from sample_parallel(..., record=True) (it has no 'events')")


def snc_attention_table(trace, stream, layer=0):
    """SNC's attention of one stream over the bus, as arrays for plotting.

    Returns (rows, labels, weights): rows is [(pos, input token id, output token id)] for
    each step of `stream`; labels the (stream, round) of every note the stream read at
    some step, plan seeds first, then in posting order; weights has shape
    (n_head, n_rows, n_labels), NaN where a note was not (yet) readable.
    """
    _check_trace(trace)
    events = [e for e in trace['events'] if e['stream'] == stream]
    if not events:
        n = len(trace.get('texts', []))
        raise ValueError(f"stream {stream} has no recorded steps (the trace has {n} streams)")
    labels = sorted({tuple(l) for e in events for l in e['notes']},
                    key=lambda sr: (-1 if sr[1] is None else sr[1], sr[0]))
    col = {label: j for j, label in enumerate(labels)}
    n_head = len(events[0]['snc'][layer])
    weights = np.full((n_head, len(events), len(labels)), np.nan)
    rows = []
    prev = None
    for i, e in enumerate(events):
        rows.append((e['pos'], prev, e['token']))
        prev = e['token']
        for h, w in enumerate(e['snc'][layer]):
            for label, wt in zip(e['notes'], w):
                weights[h, i, col[tuple(label)]] = wt
    return rows, labels, weights


def snc_attention_figure(trace, stream, tokenizer, layer=0, title=None):
    """One heatmap per SNC head: the steps of `stream` (rows) x the notes it could read
    (columns), colour = attention weight; grey = not readable at that step."""
    rows, labels, weights = snc_attention_table(trace, stream, layer)
    n_head = weights.shape[0]
    ncols = 2 if n_head > 1 else 1
    nrows = (n_head + ncols - 1) // ncols
    height = nrows * (0.3 * len(rows) + 0.5) + 0.12 * max(len(bus_label(*l)) for l in labels) + 0.9
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, height), squeeze=False,
                             sharex=True, sharey=True, layout='constrained')
    cmap = plt.get_cmap('viridis').with_extremes(bad='#e6e6e6')  # grey: not readable

    def char(t):
        return 'BOS' if t is None or t == tokenizer.BOS else tokenizer.uchars[t]
    ylabels = [f"p{pos} {char(inp)}\u2192{char(out)}" for pos, inp, out in rows]
    image = None
    for h in range(nrows * ncols):
        ax = axes[h // ncols][h % ncols]
        if h >= n_head:
            ax.axis('off')
            continue
        image = ax.imshow(np.ma.masked_invalid(weights[h]), cmap=cmap, vmin=0, vmax=1,
                          aspect='auto', interpolation='nearest')
        ax.set_title(f"head {h}", fontsize=9)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([bus_label(s, r) for s, r in labels], rotation=90, fontsize=8)
        ax.tick_params(labelbottom=h // ncols == nrows - 1)
        for tick, (s, _) in zip(ax.get_xticklabels(), labels):
            tick.set_color(_color(s))
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(ylabels, fontsize=8)
    fig.suptitle(title or f"SNC attention of stream {stream} over the bus "
                          f"(rows: position, input\u2192sampled character)", fontsize=10)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label='attention weight')
    return fig


def _token_labels(tokenizer):
    return list(tokenizer.uchars) + ['end']


def _log_axes(ax):
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel('gate (log scale)')


def gate_frame(sweep, index, tokenizer, label=None):
    """One frame of the gate widget: sweep[index] (from analysis.gate_sweep) against the rest.

    Top: first-character distribution with the bus vs the trunk alone. Middle: held-out
    loss per token and the SNC delta's size relative to the residual, against the gate
    (log scales). Bottom: the names sampled with this gate.
    """
    if not sweep or not 0 <= index < len(sweep):
        raise ValueError(f"index must be in 0..{len(sweep) - 1}, got {index}")
    cur = sweep[index]
    gates = np.array([m['gate'] for m in sweep])
    # a fixed layout: constrained layout on log axes costs seconds per frame
    fig = plt.figure(figsize=(WIDTH, 8.0))
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 1, 0.75], hspace=0.55, wspace=0.3,
                            left=0.09, right=0.98, top=0.93, bottom=0.02)
    ax = fig.add_subplot(grid[0, :])
    labels = _token_labels(tokenizer)
    xs = np.arange(len(labels))
    ax.bar(xs, cur['first'], color=STREAM_COLORS[0], width=0.8, label='with SNC at this gate')
    ax.step(xs, cur['trunk_first'], where='mid', color='black', linewidth=1, label='trunk alone')
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylim(0, 1)
    ax.set_ylabel('probability')
    ax.set_title("first character of a name: stream 1 of 3, position 0 (it reads the two plan seeds)",
                 fontsize=9)
    ax.legend(fontsize=8, loc='upper right', frameon=False)

    ax = fig.add_subplot(grid[1, 0])
    ax.plot(gates, [m['loss'] for m in sweep], marker='o', color=GREY, markersize=4)
    ax.plot([cur['gate']], [cur['loss']], marker='o', color=STREAM_COLORS[3], markersize=9)
    _log_axes(ax)
    ax.set_ylabel('nats per token (log scale)')
    ax.set_title(f"held-out loss per token: {cur['loss']:.3f}", fontsize=9)

    ax = fig.add_subplot(grid[1, 1])
    ax.plot(gates, [100 * m['ratios'].mean() for m in sweep], marker='o', color=GREY, markersize=4)
    ax.plot([cur['gate']], [100 * cur['ratios'].mean()], marker='o', color=STREAM_COLORS[3],
            markersize=9)
    _log_axes(ax)
    ax.set_ylabel('|SNC delta| / |residual|, %')
    ax.set_title(f"SNC delta: {100 * cur['ratios'].mean():.1f} % of the residual (mean)", fontsize=9)

    ax = fig.add_subplot(grid[2, :])
    ax.axis('off')
    flat = [t for batch in cur['texts'] for t in batch]
    dup = len(flat) - len(set(flat))
    lines = ['   '.join(f"{t or '(empty)':<16}" for t in batch) for batch in cur['texts']]
    # frames are shown at 80 dpi, so 11 pt is about 12 px on the page
    ax.text(0.0, 1.0, f"names sampled in parallel (3 streams, same seed for every gate): "
                      f"{dup} repeats among {len(flat)}", va='top', ha='left', fontsize=10.5,
            transform=ax.transAxes)
    # the names start a fixed distance below the heading, whatever the axes' height
    below = ax.transAxes + ScaledTranslation(0, -22 / 72, fig.dpi_scale_trans)
    ax.text(0.0, 1.0, '\n'.join(lines), va='top', ha='left', family='monospace', fontsize=11,
            linespacing=1.25, transform=below)
    fig.suptitle(f"gate = {cur['gate']:.4g}" if label is None else f"gate = {label}", fontsize=11)
    return fig


def gate_frames(sweep, tokenizer, labels=None):
    """PNG frames of `gate_frame` for every gate of the sweep, keyed by `labels` (default:
    the gate values); returns (labels, frames) for `widgets.scrubber`."""
    labels = [f"{m['gate']:.4g}" for m in sweep] if labels is None else list(labels)
    if len(labels) != len(sweep):
        raise ValueError(f"{len(labels)} labels for {len(sweep)} gates")
    frames = {label: _fig_to_png(gate_frame(sweep, i, tokenizer, label)) for i, label in enumerate(labels)}
    return labels, frames


# ---------------------------------------------------------------- chapter 8: the planner seed

def position_gain_figure(positions, trunk_loss, counts, gains):
    """Left: the trunk's held-out loss at each position (token counts on the bars).
    Right: each control's gain over the trunk at each position (positive = lower loss).
    gains: {label: array per position}."""
    positions = np.asarray(positions)
    if not gains:
        raise ValueError("gains is empty: pass {label: gain per position}")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(WIDTH, 3.4), layout='constrained')
    ax1.bar(positions, trunk_loss, color=GREY, width=0.8)
    for p, l, n in zip(positions, trunk_loss, counts):
        ax1.annotate(f"{n}", (p, l), ha='center', va='bottom', fontsize=7, xytext=(0, 1),
                     textcoords='offset points')
    ax1.set_xlabel('position (0 predicts the first character)')
    ax1.set_ylabel('nats per token')
    ax1.set_title('trunk loss by position (number = tokens)', fontsize=9)
    ax1.set_xticks(positions)
    width = 0.8 / len(gains)
    for i, (label, g) in enumerate(gains.items()):
        ax2.bar(positions + (i - (len(gains) - 1) / 2) * width, g, width=width,
                color=STREAM_COLORS[i], label=label)
    ax2.axhline(0, color='black', linewidth=0.8)
    ax2.set_xlabel('position')
    ax2.set_ylabel('trunk loss - loss (nats)')
    ax2.set_title('gain over the trunk by position', fontsize=9)
    ax2.set_xticks(positions)
    ax2.legend(fontsize=8, frameon=False)
    for ax in (ax1, ax2):
        for side in ('top', 'right'):
            ax.spines[side].set_visible(False)
    return fig


# ---------------------------------------------------------------- chapter 9: phase 2 and decoding

def _running_mean(values, window):
    values = np.asarray(values, dtype=float)
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode='valid')


def phase2_figure(phase2, trunk_pair_loss, gate_ceiling, window=25):
    """Phase 2 step by step. Top: the loss it prints (one pair of names per step) and the
    frozen trunk's loss on the same pair. Bottom left: their difference, SNC's contribution
    (running mean over `window` steps). Bottom right: the gate, and the most Adam could have
    opened it (`gate_ceiling` per step, e.g. sigmoid(-5 + cumulative learning rate))."""
    loss = np.asarray(phase2['loss'], dtype=float)
    gate = np.asarray(phase2['gate'], dtype=float)
    trunk = np.asarray(trunk_pair_loss, dtype=float)
    if not (len(loss) == len(gate) == len(trunk) == len(gate_ceiling)) or len(loss) < window:
        raise ValueError(f"phase2 loss/gate, trunk_pair_loss and gate_ceiling need the same length "
                         f">= window ({window}); got {len(loss)}, {len(gate)}, {len(trunk)}, {len(gate_ceiling)}")
    steps = np.arange(1, len(loss) + 1)
    # two rows, so each panel is readable in one book column: the loss across the top,
    # SNC's contribution and the gate below it
    fig, axd = plt.subplot_mosaic([['loss', 'loss'], ['diff', 'gate']], figsize=(WIDTH, 6.4),
                                  layout='constrained')
    ax = axd['loss']
    ax.plot(steps, trunk, color=GREY, linewidth=2.2, label='trunk alone, same pair')
    ax.plot(steps, loss, color=STREAM_COLORS[0], linewidth=0.8, label='phase 2 (printed)')
    ax.set_xlabel('phase-2 step')
    ax.set_ylabel('loss of the step\'s pair')
    ax.set_title('loss per step', fontsize=11)
    low, high = min(loss.min(), trunk.min()), max(loss.max(), trunk.max())
    ax.set_ylim(low - 0.05, high + 0.3 * (high - low))  # room for the legend above the curves
    ax.legend(fontsize=9, frameon=False, loc='upper right', ncol=2)
    ax = axd['diff']
    diff = loss - trunk
    ax.plot(steps, diff, color=STREAM_COLORS[0], linewidth=0.5, alpha=0.5)
    ax.plot(steps[window - 1:], _running_mean(diff, window), color=STREAM_COLORS[3], linewidth=1.8,
            label=f'running mean ({window} steps)')
    ax.axhline(0, color='black', linewidth=0.8)
    ax.set_xlabel('phase-2 step')
    ax.set_ylabel('phase 2 - trunk (nats)')
    ax.set_title("SNC's contribution", fontsize=11)
    low, high = diff.min(), diff.max()
    ax.set_ylim(low - 0.3 * (high - low), high + 0.05 * (high - low))  # room for the legend below
    ax.legend(fontsize=9, frameon=False, loc='lower left')
    ax = axd['gate']
    ax.plot(steps, gate_ceiling, color=GREY, linestyle='--', label='most Adam could reach')
    ax.plot(steps, gate, color=STREAM_COLORS[0], label='gate')
    ax.set_xlabel('phase-2 step')
    ax.set_ylabel('sigmoid(gate logit)')
    ax.set_title('the gate', fontsize=11)
    ax.legend(fontsize=9, frameon=False, loc='upper left')
    for ax in axd.values():
        for side in ('top', 'right'):
            ax.spines[side].set_visible(False)
    return fig


def decode_figure(trace, tokenizer):
    """One parallel batch against the same names written one after another.

    Top row: a single stream writes the names in turn, one token per step (the end-of-name
    token included). Below: the parallel streams, one round per column, all at once."""
    tokens = trace.get('tokens') if isinstance(trace, dict) else None
    if not tokens:
        raise ValueError("trace must come from sample_parallel (it has no 'tokens')")
    n_streams = len(tokens)
    steps = sum(len(t) + 1 for t in tokens)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.42 * (n_streams + 2) + 0.9))
    x = 0
    for s, toks in enumerate(tokens):
        for t in list(toks) + [tokenizer.BOS]:
            ax.add_patch(plt.Rectangle((x, -0.4), 0.92, 0.8, facecolor=_color(s), alpha=0.3))
            ax.text(x + 0.46, 0, 'end' if t == tokenizer.BOS else tokenizer.uchars[t], ha='center',
                    va='center', fontsize=7 if t == tokenizer.BOS else 9)
            x += 1
    for s, toks in enumerate(tokens):
        y = s + 1.6
        for r, t in enumerate(list(toks) + [tokenizer.BOS]):
            ax.add_patch(plt.Rectangle((r, y - 0.4), 0.92, 0.8, facecolor=_color(s), alpha=0.3))
            ax.text(r + 0.46, y, 'end' if t == tokenizer.BOS else tokenizer.uchars[t], ha='center',
                    va='center', fontsize=7 if t == tokenizer.BOS else 9)
    ax.set_xlim(-0.2, steps + 0.2)
    ax.set_ylim(n_streams + 1.2, -0.7)
    ax.set_yticks([0] + [s + 1.6 for s in range(n_streams)])
    ax.set_yticklabels([f"one stream\n({steps} steps)"] +
                       [f"stream {s}" for s in range(n_streams)])
    ax.set_xticks(range(0, steps + 1, 2))
    ax.set_xlabel('step (top row) or round (parallel streams)')
    ax.set_title(f"{n_streams} names: {steps} forward passes one after another, or "
                 f"{trace['rounds']} rounds in parallel", fontsize=9)
    for side in ('top', 'right'):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig

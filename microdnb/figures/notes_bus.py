"""The Notes Bus drawn (chapter 6): who posts when, and which notes each stream can read at
each round, computed by `bus.visibility` (the rule itself, not a copy of it).

Every figure function returns a `matplotlib.figure.Figure` with its alternative text in
`fig.microdnb_alt` (see `display`); stream colours always come with a second cue: the row or
tick label names the stream.
"""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import ScaledTranslation

from ..bus import check_lengths, visibility
from ..config import check_int
from .display import text_color
from .style import WIDTH, stream_color
from .words import positions_text


def bus_label(stream, round_):
    """How the book names a snapshot: 'plan s0' for stream 0's plan seed, 's1@p2' for the
    snapshot stream 1 posted after position 2."""
    return f"plan s{stream}" if round_ is None else f"s{stream}@p{round_}"


def visibility_table(lengths, cadence, lag, ended=()):
    """The bus's read rule as a table, from `bus.visibility` (`ended` as there).

    Returns (snapshots, steps, seen): snapshots is the list of (stream, round) labels
    in bus order (plan seeds first, then posts by round and stream), steps the list
    of reader steps (stream, round) stream by stream, and seen[i, j] is 1 if step j
    can read snapshot i, 2 if it can read it although it was posted in that same
    round (lag 0 only: the round-robin order lets later streams see earlier ones), else 0.
    """
    check_lengths(lengths, 1)
    check_int(cadence, 'cadence', 1)
    check_int(lag, 'lag', 0)
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
    check_lengths(lengths, 1)
    snapshots, steps, seen = visibility_table(lengths, cadence, lag, ended)
    posts, _ = visibility(list(lengths), cadence, lag, ended)
    n_streams, n_rounds = len(lengths), max(lengths)
    if ax is None:
        fig, ax = plt.subplots(figsize=(WIDTH, 0.55 * n_streams + 1.2))
    fig = ax.figure
    counts = (seen > 0).sum(axis=0)
    for j, (s, t) in enumerate(steps):
        ax.add_patch(plt.Rectangle((t - 0.45, s - 0.4), 0.9, 0.8, facecolor=stream_color(s), alpha=0.18,
                                   edgecolor=stream_color(s)))
        ax.text(t, s, str(counts[j]), ha='center', va='center', fontsize=9)
    for s in range(n_streams):
        ax.plot([-1], [s], marker='D', color=stream_color(s), markersize=8, linestyle='none')
        for r in posts[s]:
            ax.plot([r + 0.42], [s - 0.32], marker='o', color=stream_color(s), markersize=7,
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
    fig.microdnb_alt = f"Cadence {cadence}, lag {lag}. " + _alt_timeline(lengths, steps, counts, posts)
    return fig


def _alt_timeline(lengths, steps, counts, posts):
    per_stream = []
    for s, n in enumerate(lengths):
        c = [int(counts[j]) for j, (s2, _) in enumerate(steps) if s2 == s]
        posted = (f"posts after position{'s' if len(posts[s]) > 1 else ''} {positions_text(posts[s])}"
                  if posts[s] else 'posts nothing')
        per_stream.append(f"{'Stream' if s == 0 else 'stream'} {s} runs {n} positions, {posted}, and its steps can read "
                          + (f"{c[0]} notes each" if min(c) == max(c) else f"{c[0]} notes at first, {c[-1]} at the end"))
    return (f"Timeline of {len(lengths)} streams (rows) by round: each cell is one step, "
            f"numbered with how many notes it can read; a diamond in the plan column marks a "
            f"stream's plan seed and a dot a snapshot posted after that step. "
            + '; '.join(per_stream) + '.')


def visibility_heatmap(lengths, cadence, lag, ax=None, ended=()):
    """Snapshots (rows) x reader steps (columns): which note each step can read."""
    snapshots, steps, seen = visibility_table(lengths, cadence, lag, ended)
    if ax is None:
        fig, ax = plt.subplots(figsize=(WIDTH, 0.17 * len(snapshots) + 1.6))
    fig = ax.figure
    # 0 = not readable, 1 = readable, 2 = readable though posted in the same round
    cmap = ListedColormap(['white', '#9ecae1', '#08519c'])
    ax.imshow(seen, cmap=cmap, vmin=0, vmax=2, aspect='auto', interpolation='nearest')
    # a second cue for "posted in this same round": a white dot, not only the darker blue
    same = np.argwhere(seen == 2)
    if len(same):
        ax.plot(same[:, 1], same[:, 0], linestyle='none', marker='o', markersize=2.5, color='white')
    ax.set_yticks(range(len(snapshots)))
    ax.set_yticklabels([bus_label(s, r) for s, r in snapshots], fontsize=8.5)
    for tick, (s, _) in zip(ax.get_yticklabels(), snapshots):
        tick.set_color(text_color(stream_color(s)))
    ax.set_xticks(range(len(steps)))
    ax.set_xticklabels([f"p{t}" for _, t in steps], fontsize=8.5)
    for tick, (s, _) in zip(ax.get_xticklabels(), steps):
        tick.set_color(text_color(stream_color(s)))
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
                fontsize=8.5, color=text_color(stream_color(s)))
        start += n
    ax.set_xlabel('reader step (position), grouped by reading stream')
    ax.set_ylabel('snapshot on the bus')
    handles = [Patch(facecolor='#9ecae1'),
               (Patch(facecolor='#08519c'),
                Line2D([], [], linestyle='none', marker='o', markersize=2.5, color='white'))]
    # A fixed distance below the axes (not a fraction of their height), so the legend clears
    # the tick labels and the x label however few snapshot rows the matrix has.
    below = ax.transAxes + ScaledTranslation(0, -0.48, fig.dpi_scale_trans)
    ax.legend(handles, ['readable', 'readable, posted in this same round (lag 0)'],
              handler_map={tuple: HandlerTuple(ndivide=1)},
              loc='upper center', bbox_to_anchor=(0.5, 0), bbox_transform=below,
              ncol=2, fontsize=8.5, frameon=False)
    fig.microdnb_alt = f"Cadence {cadence}, lag {lag}. Matrix of " + _alt_visibility(snapshots, steps, seen)
    return fig


def _alt_visibility(snapshots, steps, seen):
    reads = (seen > 0).sum(axis=0)
    same = int((seen == 2).sum())
    return (f"the {len(snapshots)} snapshots on the bus (rows, plan seeds first) against the "
            f"{len(steps)} reader steps (columns, grouped by stream): {int((seen > 0).sum())} of "
            f"{seen.size} cells are readable (blue)"
            + (f", {same} of them posted in the same round (dark blue with a white dot)" if same else '')
            + f"; a step can read {reads.min()} to {reads.max()} notes, {reads.mean():.1f} on average.")


def bus_figure(lengths, cadence, lag, n_rows=None, ended=()):
    """The timeline above the visibility matrix: one frame of the cadence widget.

    n_rows: size the matrix for this many snapshot rows (default: as many as it has),
    so frames with fewer snapshots keep the same height.
    """
    check_lengths(lengths, 1)
    n_snap = len(visibility_table(lengths, cadence, lag, ended)[0])
    n_snap = max(n_snap, n_rows or 0)
    n_streams = len(lengths)
    top = 0.55 * n_streams + 1.0
    bottom = 0.17 * n_snap + 1.9
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(WIDTH, top + bottom),
                                   gridspec_kw={'height_ratios': [top, bottom]})
    bus_timeline(lengths, cadence, lag, ax=ax1, ended=ended)
    top_alt = fig.microdnb_alt
    visibility_heatmap(lengths, cadence, lag, ax=ax2, ended=ended)
    fig.tight_layout()
    fig.microdnb_alt = (f"{top_alt} Below it, the same as a matrix of "
                        + _alt_visibility(*visibility_table(lengths, cadence, lag, ended)))
    return fig

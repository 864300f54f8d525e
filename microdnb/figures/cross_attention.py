"""SNC drawn (chapters 7 and 8): its attention over the notes, the model at one gate value,
and the loss it gains at each position. Each sets `fig.microdnb_alt` from the data it draws.
"""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.transforms import ScaledTranslation
from matplotlib.ticker import NullLocator

from .display import text_color
from .notes_bus import bus_label
from .style import GREY, HATCHES, NOT_READABLE_HATCH, STREAM_COLORS, WIDTH, stream_color
from .words import join_and, quote_token


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
    # not readable: hatched grey (the axes background shows through the masked cells)
    cmap = plt.get_cmap('viridis').with_extremes(bad=(0, 0, 0, 0))

    def char(t):   # position 0 reads the start token; '.' (data.BOS_TEXT) as the book writes it
        return tokenizer.labels[tokenizer.BOS if t is None else t]
    ylabels = [f"p{pos} {char(inp)}\u2192{char(out)}" for pos, inp, out in rows]
    image = None
    for h in range(nrows * ncols):
        ax = axes[h // ncols][h % ncols]
        if h >= n_head:
            ax.axis('off')
            continue
        ax.set_facecolor('#e6e6e6')
        ax.patch.set_hatch(NOT_READABLE_HATCH)
        ax.patch.set_edgecolor('#9a9a9a')
        image = ax.imshow(np.ma.masked_invalid(weights[h]), cmap=cmap, vmin=0, vmax=1,
                          aspect='auto', interpolation='nearest')
        ax.set_title(f"head {h}", fontsize=9)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([bus_label(s, r) for s, r in labels], rotation=90, fontsize=8.5)
        ax.tick_params(labelbottom=h // ncols == nrows - 1)
        for tick, (s, _) in zip(ax.get_xticklabels(), labels):
            tick.set_color(text_color(stream_color(s)))
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(ylabels, fontsize=8.5)
    fig.suptitle(title or f"SNC attention of stream {stream} over the bus "
                          f"(rows: position, input\u2192sampled character; hatched: not readable)",
                 fontsize=10)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label='attention weight')
    written = tokenizer.decode([out for _, _, out in rows])
    fig.microdnb_alt = _alt_snc(stream, rows, labels, weights, written, title,
                                _last_steps(trace, tokenizer), tokenizer.labels[tokenizer.BOS])
    return fig


def _last_steps(trace, tokenizer):
    """{stream: (its last position, whether it ended its name there)} from a recorded decode."""
    last = {}
    for e in trace['events']:
        last[e['stream']] = (e['pos'], e['token'] == tokenizer.BOS)
    return last


def _positions(rows, idx):
    """'p0, p1 and p2' for row indices `idx`."""
    return join_and([f"p{rows[i][0]}" for i in idx])


def _alt_head(h, rows, labels, w):
    """One head's sentence: where its single largest weight is, and where the largest weight
    is shared (a tie: identical notes, such as the plan seeds, get identical weights)."""
    tied, tops = [], []
    for i, row in enumerate(w):
        finite = np.isfinite(row)
        if not finite.any():
            continue
        m = np.nanmax(row)
        at = np.flatnonzero(finite & (np.abs(np.where(finite, row, -1.0) - m) <= 1e-12))
        (tied if len(at) > 1 else tops).append((i, at, m))
    parts = []
    if tied:
        sets = {tuple(at) for _, at, _ in tied}
        what = (f"between {join_and([bus_label(*labels[j]) for j in next(iter(sets))])} "
                f"({tied[0][2]:.2f} each)" if len(sets) == 1 and len({round(m, 12) for *_, m in tied}) == 1
                else "between two or more notes")
        parts.append(f"at {_positions(rows, [i for i, _, _ in tied])} its largest weight is shared equally {what}")
    if tops:
        counts = {}
        for i, at, m in tops:
            counts.setdefault(int(at[0]), []).append((m, i))
        order = sorted(counts, key=lambda j: (-len(counts[j]), j))
        said = []
        for k, j in enumerate(order):
            m, i = max(counts[j])
            said.append(f"on {bus_label(*labels[j])} at {len(counts[j])}{' of them' if k == 0 else ''} "
                        f"(up to {m:.2f}, at p{rows[i][0]})")
        parts.append(f"{'at the other' if tied else 'at all'} {len(tops)} step{'s' if len(tops) != 1 else ''} "
                     f"its single largest weight is " + join_and(said))
    return f" Head {h}: " + '; '.join(parts) + "." if parts else ""



def _alt_snc(stream, rows, labels, weights, written, title, last=None, end_text='.'):
    n_head, n_rows, _ = weights.shape
    text = ((title.rstrip('.') + '. ' if title else '')
            + f"{n_head} heatmap{'s' if n_head > 1 else ''}, one per SNC head, of stream {stream}'s "
            f"attention over the notes on the bus while it writes '{written}': rows are its {n_rows} "
            f"steps, columns the {len(labels)} notes it read at some step "
            f"({join_and([bus_label(s, r) for s, r in labels])}); brighter is more weight, hatched grey "
            f"not readable at that step.")
    for h in range(n_head):
        text += _alt_head(h, rows, labels, weights[h])
    if last:
        others = [s for s in sorted(last) if s != stream]
        ended = [s for s in others if last[s][1]]
        text += (f" Its last step is position {rows[-1][0]}"
                 + ("; " + join_and([f"stream {s} ends its name at position {last[s][0]}" for s in ended])
                    + f" (writing '{end_text}'), and a stream posts no note at the step that ends its name"
                    if ended else '') + ".")
    return text


def _token_labels(tokenizer):
    return tokenizer.labels   # the letters, and '.' (data.BOS_TEXT) for the end of a name


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
    ax.set_xticklabels(labels, fontsize=8.5)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylim(0, 1)
    ax.set_ylabel('probability')
    ax.set_title("first character of a name: stream 1 of 3, position 0 (it reads the two plan seeds)",
                 fontsize=9)
    ax.legend(fontsize=8.5, loc='upper right', frameon=False)

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
    fig.microdnb_alt = _alt_gate(sweep, index, labels, label, flat, dup)
    return fig


def _alt_gate(sweep, index, tokens, label, flat, dup):
    cur = sweep[index]
    first, trunk = np.asarray(cur['first'], float), np.asarray(cur['trunk_first'], float)
    top = int(first.argmax())
    diff = int(np.abs(first - trunk).argmax())
    losses = [m['loss'] for m in sweep]
    rank = sorted(losses).index(cur['loss'])
    where = ('the lowest' if rank == 0 else 'the highest' if rank == len(losses) - 1
             else f"ranked {rank + 1} from the lowest")
    return (f"Gate = {label if label is not None else format(cur['gate'], '.4g')}. Top: the "
            f"probability of each first character of stream 1, with SNC at this gate (bars) and "
            f"with the trunk alone (line): the most likely is {quote_token(tokens[top])} ({first[top]:.2f}, "
            f"trunk alone {trunk[top]:.2f}); the biggest difference is at {quote_token(tokens[diff])} "
            f"({first[diff]:.2f} against {trunk[diff]:.2f}). Middle: against the gate on log scales, "
            f"the held-out loss per token, {cur['loss']:.3f} here, {where} of the {len(sweep)} gates "
            f"({min(losses):.3f} to {max(losses):.3f}); and the SNC delta, "
            f"{100 * cur['ratios'].mean():.1f}% of the residual here. Bottom: {len(flat)} names "
            f"sampled in parallel, {dup} repeat{'' if dup == 1 else 's'}: "
            + ', '.join(t or '(empty)' for t in flat) + ".")


def position_gain_figure(positions, trunk_loss, counts, gains, errors=None, trunk_errors=None,
                         error_label='± 1 SE over names'):
    """Left: the trunk's held-out loss at each position (token counts on the bars).
    Right: each control's gain over the trunk at each position (positive = lower loss).
    gains: {label: array per position}. errors: {label: array per position}, the
    standard error of each gain (e.g. over names: at one position each name has one
    token), drawn as error bars; trunk_errors the same for the left panel. error_label
    says what the bars are (it goes into the titles)."""
    positions = np.asarray(positions)
    if not gains:
        raise ValueError("gains is empty: pass {label: gain per position}")
    if errors is not None and set(errors) != set(gains):
        raise ValueError(f"errors must have the labels of gains {sorted(gains)}, got {sorted(errors)}")
    for what, arrays in (('gains', gains), ('errors', errors or {}), ('trunk_errors', {'': trunk_errors})):
        for label, a in arrays.items():
            if a is not None and len(a) != len(positions):
                raise ValueError(f"{what} {label!r}: {len(a)} values for {len(positions)} positions")
    bars = f" (bars: {error_label})"
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(WIDTH, 3.6), layout='constrained')
    ax1.bar(positions, trunk_loss, color=GREY, width=0.8,
            yerr=trunk_errors, error_kw={'elinewidth': 1, 'capsize': 2})
    tops = np.asarray(trunk_loss, float) + (0 if trunk_errors is None else np.asarray(trunk_errors, float))
    for p, top, n in zip(positions, tops, counts):
        ax1.annotate(f"{n}", (p, top), ha='center', va='bottom', fontsize=8.5, xytext=(0, 1),
                     textcoords='offset points')
    ax1.set_xlabel('position (0 predicts the first character)')
    ax1.set_ylabel('nats per token')
    ax1.set_title('trunk loss by position (number = tokens)' + ('\n' + bars.strip() if trunk_errors is not None
                                                                else ''), fontsize=9)
    ax1.set_xticks(positions)
    width = 0.8 / len(gains)
    for i, (label, g) in enumerate(gains.items()):
        ax2.bar(positions + (i - (len(gains) - 1) / 2) * width, g, width=width,
                color=STREAM_COLORS[i], hatch=HATCHES[i % len(HATCHES)], edgecolor='white',
                label=label, yerr=None if errors is None else errors[label],
                error_kw={'elinewidth': 0.9, 'capsize': 1.5, 'ecolor': 'black'})
    ax2.axhline(0, color='black', linewidth=0.8)
    ax2.set_xlabel('position')
    ax2.set_ylabel('trunk loss - loss (nats)')
    ax2.set_title('gain over the trunk by position' + ('\n' + bars.strip() if errors is not None else ''),
                  fontsize=9)
    ax2.set_xticks(positions)
    ax2.legend(fontsize=8.5, frameon=False)
    for ax in (ax1, ax2):
        for side in ('top', 'right'):
            ax.spines[side].set_visible(False)
    fig.microdnb_alt = _alt_position_gain(positions, trunk_loss, counts, gains, errors, error_label)
    return fig


def _alt_position_gain(positions, trunk_loss, counts, gains, errors=None, error_label=''):
    loss, counts = np.asarray(trunk_loss, float), list(counts)
    hi, lo = int(loss.argmax()), int(loss.argmin())
    parts = []
    for label, g in gains.items():
        g = np.asarray(g, float)
        best = int(g.argmax())
        text = (f"{label} gains most at position {positions[best]} ({g[best]:+.3f} nats) and "
                f"{g.mean():+.3f} nats on average")
        if errors is not None:
            e = np.asarray(errors[label], float)
            above, below = int(np.sum(g > 2 * e)), int(np.sum(g < -2 * e))
            text += (f"; its error bar at that position is {e[best]:.3f}; the gain is more than two "
                     f"error bars above zero at {above} of {len(g)} positions and below zero at {below}")
        parts.append(text)
    bars = f" Error bars: {error_label}." if errors is not None else ""
    return (f"Two bar charts by position, {positions[0]} to {positions[-1]}. Left: the trunk's held-out "
            f"loss per token, highest at position {positions[hi]} ({loss[hi]:.2f} nats over "
            f"{counts[hi]} tokens) and lowest at position {positions[lo]} ({loss[lo]:.2f} nats over "
            f"{counts[lo]} tokens). Right: each control's gain over the trunk (positive is lower "
            f"loss), one hatched colour per control: " + '; '.join(parts) + "." + bars)

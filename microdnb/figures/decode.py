"""Figures of chapter 9: phase 2 step by step, and one parallel decode drawn round by round."""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .. import vector
from .prep import smooth
from .style import GREY, STREAM_COLORS, WIDTH, stream_color

# Every figure sets `fig.microdnb_alt`: what a reader should see in it, computed from the
# data drawn (the image's alt text; see `display`).


def phase2_figure(phase2, trunk_pair_loss, gate_steady, window=25, gate_max=None, printed_every=50):
    """Phase 2 step by step. Top: the loss of each step's pair (one pair of names per
    step; the reference prints every `printed_every`-th step, marked) and the frozen
    trunk's loss on the same pair. Bottom left: their difference, SNC's contribution, with
    its running mean over `window` steps and +-1 standard error of that mean (over the
    window's pairs). Bottom right: the gate, on a log scale, against what a steady gradient
    would reach (`gate_steady` per step, e.g. sigmoid(-5 + cumulative learning rate)) and,
    if given, the most any gradient could reach (`gate_max` per step, e.g. with
    `measure.adam_step_bound` times the cumulative learning rate)."""
    loss = np.asarray(phase2['loss'], dtype=float)
    gate = np.asarray(phase2['gate'], dtype=float)
    trunk = np.asarray(trunk_pair_loss, dtype=float)
    steady = np.asarray(gate_steady, dtype=float)
    if not (len(loss) == len(gate) == len(trunk) == len(steady)) or len(loss) < window or window < 2:
        raise ValueError(f"phase2 loss/gate, trunk_pair_loss and gate_steady need the same length "
                         f">= window ({window}, at least 2); got {len(loss)}, {len(gate)}, {len(trunk)}, "
                         f"{len(steady)}")
    most = None if gate_max is None else np.asarray(gate_max, dtype=float)
    if most is not None and len(most) != len(loss):
        raise ValueError(f"gate_max needs one value per step ({len(loss)}), got {len(most)}")
    if isinstance(printed_every, bool) or not isinstance(printed_every, int) or printed_every < 1:
        raise ValueError(f"printed_every must be an integer >= 1, got {printed_every!r}")
    steps = np.arange(1, len(loss) + 1)
    printed = np.array(sorted({1, *range(printed_every, len(loss) + 1, printed_every)}))
    # two rows, so each panel is readable in one book column: the loss across the top,
    # SNC's contribution and the gate below it
    fig, axd = plt.subplot_mosaic([['loss', 'loss'], ['diff', 'gate']], figsize=(WIDTH, 6.6),
                                  layout='constrained')
    ax = axd['loss']
    # the two curves nearly coincide: the wide pale one underneath, the trunk's thin dashes
    # on top, so both stay visible
    ax.plot(steps, loss, color=STREAM_COLORS[5], linewidth=3.0, label="phase 2, every step's pair")
    ax.plot(steps, trunk, color='black', linewidth=0.9, linestyle=(0, (3, 2)), zorder=3,
            label='trunk alone, same pair')
    ax.plot(printed, loss[printed - 1], linestyle='none', marker='o', markersize=6, color=STREAM_COLORS[1],
            markeredgecolor='black', zorder=4, label=f'the lines the reference prints (every {printed_every}th)')
    ax.set_xlabel('phase-2 step')
    ax.set_ylabel("loss of the step's pair")
    ax.set_title('loss per step (one pair of names each)', fontsize=11)
    low, high = min(loss.min(), trunk.min()), max(loss.max(), trunk.max())
    ax.set_ylim(low - 0.05, high + 0.35 * (high - low))  # room for the legend above the curves
    ax.legend(fontsize=9, frameon=False, loc='upper right', ncol=2)
    ax = axd['diff']
    diff = loss - trunk
    mean = smooth(diff, window)
    # standard error of the running mean: the spread of the window's per-pair differences
    sq = smooth(diff ** 2, window)
    n = np.minimum(steps, window)
    se = np.sqrt(np.maximum(sq - mean ** 2, 0.0) * n / np.maximum(n - 1, 1) / n)
    shown = slice(window - 1, None)
    ax.plot(steps, diff, color=STREAM_COLORS[0], linewidth=0.5, alpha=0.5, label='each step')
    ax.fill_between(steps[shown], (mean - se)[shown], (mean + se)[shown], color=STREAM_COLORS[3], alpha=0.35,
                    linewidth=0, label='running mean ± 1 SE')
    ax.plot(steps[shown], mean[shown], color=STREAM_COLORS[3], linewidth=1.8,
            label=f'running mean ({window} steps)')
    ax.axhline(0, color='black', linewidth=0.8)
    ax.set_xlabel('phase-2 step')
    ax.set_ylabel('phase 2 - trunk (nats)')
    ax.set_title("SNC's contribution", fontsize=11)
    low, high = diff.min(), diff.max()
    ax.set_ylim(low - 0.45 * (high - low), high + 0.05 * (high - low))  # room for the legend below
    ax.legend(fontsize=8.5, frameon=False, loc='lower left')
    ax = axd['gate']
    if most is not None:
        ax.plot(steps, most, color='black', linestyle=':', linewidth=1.4, label="Adam's bound")
    ax.plot(steps, steady, color=GREY, linestyle='--', label='steady gradient')
    ax.plot(steps, gate, color=STREAM_COLORS[0], linewidth=2, label='gate')
    ax.set_yscale('log')
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 4.0, 6.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel('phase-2 step')
    ax.set_ylabel('gate, sigmoid(logit) (log scale)')
    ax.set_title('the gate', fontsize=11)
    ax.legend(fontsize=8.5, frameon=False, loc='upper left')
    for ax in axd.values():
        for side in ('top', 'right'):
            ax.spines[side].set_visible(False)
    fig.microdnb_alt = _alt_phase2(loss, trunk, diff, gate, steady, most, window, printed, se)
    return fig


def _alt_phase2(loss, trunk, diff, gate, steady, most, window, printed, se):
    mean = smooth(diff, window)
    corr = np.corrcoef(loss, trunk)[0, 1] if len(loss) > 1 and loss.std() and trunk.std() else float('nan')
    bound = (f", and the most any gradient could reach (dotted, Adam's bound) {most[-1]:.4f}"
             if most is not None else "")
    return (f"Phase 2 over {len(loss)} steps, in three panels. Top: the loss of each step's pair "
            f"(wide pale line, mean {loss.mean():.3f}) with the frozen trunk's loss on the same pair "
            f"drawn over it in black dashes (mean {trunk.mean():.3f}); the two curves nearly coincide, "
            f"correlation {corr:.3f}. Dots mark the {len(printed)} steps the reference prints. "
            f"Bottom left: SNC's contribution, phase 2 minus trunk, per step and as a running mean over "
            f"{window} steps with a band of plus or minus one standard error; the running mean ends at "
            f"{mean[-1]:+.4f} ± {se[-1]:.4f} nats and stays between {mean[window - 1:].min():+.4f} and "
            f"{mean[window - 1:].max():+.4f}. Bottom right, log scale: the gate goes from {gate[0]:.4f} "
            f"to {gate[-1]:.4f}; a steady gradient (dashed) would have reached {steady[-1]:.4f}{bound}.")


def decode_figure(trace, tokenizer, bcfg=None):
    """One parallel batch against the same names written one after another.

    Top row: a single stream writes the names in turn, one token per step (the end-of-name
    token included). Below: the parallel streams, one round per column. With `bcfg` (the
    BusConfig the batch was decoded with) a row between them gives the forward passes each
    round needs one after another when every pass that can be batched is batched (with
    lag 0 a round in which the streams post runs them one at a time; see
    `measure.forward_passes`), and the title their total."""
    tokens = trace.get('tokens') if isinstance(trace, dict) else None
    if not tokens:
        raise ValueError("trace must come from sample_parallel (it has no 'tokens')")
    n_streams = len(tokens)
    if bcfg is not None and bcfg.n_streams != n_streams:
        raise ValueError(f"bcfg must be the BusConfig of the decode ({n_streams} streams), got {bcfg!r}")
    rounds = trace['rounds']
    # the positions each stream ran: its end step included, unless block_size cut it first
    # (then it ran every round without sampling the end)
    ended = [len(t) < rounds for t in tokens]
    lengths = [len(t) + e for t, e in zip(tokens, ended)]
    steps = sum(lengths)
    per_round = None
    if bcfg is not None:
        per_round = vector.round_passes(bcfg, lengths)
    top = 1.9 if per_round else 1.6   # where the parallel rows start
    fig, ax = plt.subplots(figsize=(WIDTH, 0.42 * (n_streams + 2) + (1.3 if per_round else 0.9)))
    x = 0
    cells = [list(toks) + [tokenizer.BOS] * e for toks, e in zip(tokens, ended)]
    for s, row in enumerate(cells):
        for t in row:
            ax.add_patch(plt.Rectangle((x, -0.4), 0.92, 0.8, facecolor=stream_color(s), alpha=0.3))
            ax.text(x + 0.46, 0, 'end' if t == tokenizer.BOS else tokenizer.uchars[t], ha='center',
                    va='center', fontsize=8.5 if t == tokenizer.BOS else 9)
            x += 1
        # a second cue beside the colour: which stream's name each stretch of the row is
        ax.text(x - len(row) * 0.54, -0.55, f"stream {s}", ha='center', va='bottom',
                fontsize=8.5, color='black')
    if per_round:
        for r, n in enumerate(per_round):
            ax.text(r + 0.46, top - 0.75, str(n), ha='center', va='center', fontsize=9,
                    fontweight='bold' if n > 1 else 'normal')
        ax.text(-0.3, top - 0.75, 'passes', ha='right', va='center', fontsize=10)
    for s, row in enumerate(cells):
        y = s + top
        for r, t in enumerate(row):
            ax.add_patch(plt.Rectangle((r, y - 0.4), 0.92, 0.8, facecolor=stream_color(s), alpha=0.3))
            ax.text(r + 0.46, y, 'end' if t == tokenizer.BOS else tokenizer.uchars[t], ha='center',
                    va='center', fontsize=8.5 if t == tokenizer.BOS else 9)
    ax.set_xlim(-0.2, steps + 0.2)
    ax.set_ylim(n_streams + top - 0.4, -1.0)
    ax.set_yticks([0] + [s + top for s in range(n_streams)])
    ax.set_yticklabels([f"one stream\n({steps} steps)"] +
                       [f"stream {s}" for s in range(n_streams)])
    ax.set_xticks(range(0, steps + 1, 2))
    ax.set_xlabel('step (top row) or round (parallel streams)')
    if per_round:
        passes = sum(per_round)
        how = ("one batched pass per round" if passes == rounds else
               f"{passes} passes one after another: in {sum(n > 1 for n in per_round)} posting rounds "
               f"the streams run in turn")
        title = (f"{n_streams} names: {steps} forward passes one after another by one stream; "
                 f"{rounds} rounds by {n_streams} streams,\nwhich lag {bcfg.lag} (cadence {bcfg.cadence}) "
                 f"runs as {how}")
    else:
        title = (f"{n_streams} names: {steps} forward passes one after another by one stream, "
                 f"or {rounds} rounds by {n_streams} streams")
    ax.set_title(title, fontsize=9)
    for side in ('top', 'right'):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    names = [''.join(tokenizer.uchars[t] for t in toks) for toks in tokens]
    alt = (f"{n_streams} names, " + ', '.join(f"'{n}'" for n in names) + ": written one after another "
           "by a single stream (top row, one token per step, each name followed by its end token"
           + ("" if all(ended) else ", unless the block size cut it") + f") they "
           f"take {steps} forward passes; written by {n_streams} streams (one row each, one "
           f"token per stream per round) they take {rounds} rounds"
           + (", as many as the longest name plus its end token" if rounds == max(lengths) and all(ended) else ""))
    if per_round:
        alt += (f". With lag {bcfg.lag} and cadence {bcfg.cadence}, the row 'passes' gives the forward "
                f"passes each round needs one after another: " + ' '.join(map(str, per_round))
                + f", {sum(per_round)} in all")
    fig.microdnb_alt = alt + "."
    return fig

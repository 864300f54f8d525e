"""Decoding drawn: the next-token distribution at a temperature (chapter 4), and one parallel
decode round by round, with the forward passes that must run one after another (chapter 9).
Each sets `fig.microdnb_alt` from the data it draws.
"""
import matplotlib.pyplot as plt

from ..study.measure import passes_per_round
from .transformer import prob_bars
from .prep import floats
from .style import WIDTH, stream_color
from .words import join_and, prob_text, quote_token


def temperature_frame(probs, labels, names, temperature):
    """One frame of the temperature widget: the first-character distribution and some samples."""
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ValueError("names must be a list of strings")
    fig, (ax, ax_txt) = plt.subplots(1, 2, figsize=(WIDTH, 3.0), gridspec_kw={'width_ratios': [3.2, 1]})
    prob_bars(probs, labels, ax=ax)
    ax.set_ylim(0, 1.0)
    ax.set_title(f'first character after BOS, temperature {temperature:g}', fontsize=11)
    ax_txt.axis('off')
    ax_txt.set_title('sampled names', fontsize=11)
    ax_txt.text(0.05, 0.97, '\n'.join(n if n else '(empty)' for n in names), va='top', ha='left',
                fontsize=10, family='monospace', transform=ax_txt.transAxes)
    fig.tight_layout()
    p = floats(probs, 'probs')
    ranked = sorted(range(len(p)), key=lambda i: -p[i])
    above = int((p > 0.01).sum())
    fig.microdnb_alt = (
        f"Temperature {temperature:g}. Left: the probability of each first character after BOS; the "
        f"most likely are " + join_and([f"{quote_token(labels[i])} ({prob_text(p[i])})" for i in ranked[:3]])
        + f", and {above} of {len(p)} tokens {'has' if above == 1 else 'have'} more than 1%. Right: "
        f"{len(names)} names sampled at this temperature: "
        + (', '.join(n if n else '(empty)' for n in names) if names else 'none') + ".")
    return fig


def decode_figure(trace, tokenizer, bcfg=None):
    """One parallel batch against the same names written one after another.

    Top row: a single stream writes the names in turn, one token per step (the end-of-name
    token included, written '.' as everywhere in the book: `Tokenizer.labels`). Below: the parallel streams, one round per column. With `bcfg` (the
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
        per_round = passes_per_round(lengths, bcfg.cadence, bcfg.lag)
    top = 1.9 if per_round else 1.6   # where the parallel rows start
    fig, ax = plt.subplots(figsize=(WIDTH, 0.42 * (n_streams + 2) + (1.3 if per_round else 0.9)))
    x = 0
    cells = [list(toks) + [tokenizer.BOS] * e for toks, e in zip(tokens, ended)]
    for s, row in enumerate(cells):
        for t in row:
            ax.add_patch(plt.Rectangle((x, -0.4), 0.92, 0.8, facecolor=stream_color(s), alpha=0.3))
            ax.text(x + 0.46, 0, tokenizer.labels[t], ha='center',
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
            ax.text(r + 0.46, y, tokenizer.labels[t], ha='center',
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
           "by a single stream (top row, one token per step, each name followed by the end token "
           f"'{tokenizer.labels[tokenizer.BOS]}'"
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

"""The names dataset drawn (chapter 1): how long the names are, and how often each character occurs.

Every function returns a `matplotlib.figure.Figure` with its alternative text, computed from
the data drawn, in `fig.microdnb_alt` (see `display`).
"""
from collections import Counter

import numpy as np

from .prep import check_docs, new_axes
from .style import BLUE, ORANGE, WIDTH
from .words import join_and, quote_token


def name_lengths(docs, block_size=None, ax=None):
    """Histogram of name lengths in characters; optionally the model's block_size as a line.

    A name of n characters is n + 1 predictions (each character, then BOS to end it), so the
    line is drawn at block_size - 1: names longer than that would be cut.
    """
    check_docs(docs)
    lengths = Counter(len(d) for d in docs)
    xs = np.arange(1, max(lengths) + 1)
    fig, ax = new_axes((WIDTH, 3.0), ax)
    ax.bar(xs, [lengths.get(x, 0) for x in xs], color=BLUE, width=0.8)
    for x in xs:
        if lengths.get(x, 0):
            ax.annotate(f"{lengths[x]}", (x, lengths[x]), ha='center', va='bottom', fontsize=8.5,
                        xytext=(0, 1), textcoords='offset points')
    if block_size is not None:
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 2:
            raise ValueError(f"block_size must be an integer >= 2, got {block_size!r}")
        ax.axvline(block_size - 1 + 0.5, color=ORANGE, ls='--', lw=1.5,
                   label=f"block_size - 1 = {block_size - 1} characters fit")
        ax.legend(fontsize=9, loc='upper right')
    ax.set_xticks(xs)
    ax.set_xlabel('characters in the name')
    ax.set_ylabel('number of names')
    ax.set_title(f'{len(docs):,} names by length', fontsize=11)
    ax.margins(y=0.12)
    fig.tight_layout()
    fig.microdnb_alt = _alt_name_lengths(lengths, len(docs), block_size)
    return fig


def _alt_name_lengths(lengths, n, block_size):
    # the shortest run of lengths that holds at least half of the names
    ks = sorted(lengths)
    best = None
    for i, a in enumerate(ks):
        total = 0
        for b in ks[i:]:
            total += lengths[b]
            if 2 * total >= n:
                if best is None or (b - a, -total) < (best[1] - best[0], -best[2]):
                    best = (a, b, total)
                break
    a, b, total = best
    mode = max(ks, key=lambda k: (lengths[k], -k))
    text = (f"Histogram of {n:,} names by length, from {ks[0]} to {ks[-1]} characters: "
            f"{100 * total / n:.0f}% have {a} to {b} characters, and the most common length, "
            f"{mode}, has {lengths[mode]:,} names.")
    if block_size is not None:
        cut = sum(c for k, c in lengths.items() if k > block_size - 1)
        text += (f" A dashed line after {block_size - 1} marks block_size - 1: "
                 + (f"{cut:,} longer names would be cut." if cut else "no name is longer."))
    return text


def char_frequencies(docs, ax=None):
    """Bar chart: how often each character occurs, as a share of all characters."""
    check_docs(docs)
    counts = Counter(''.join(docs))
    chars = sorted(counts)
    total = sum(counts.values())
    fig, ax = new_axes((WIDTH, 3.0), ax)
    shares = [100 * counts[c] / total for c in chars]
    ax.bar(range(len(chars)), shares, color=BLUE)
    ax.set_xticks(range(len(chars)))
    ax.set_xticklabels(chars, fontsize=10)
    ax.set_ylabel('% of all characters')
    ax.set_xlabel('character')
    ax.set_title(f'{total:,} characters, {len(chars)} distinct', fontsize=11)
    fig.tight_layout()
    ranked = sorted(chars, key=lambda c: (-counts[c], c))
    share = {c: 100 * counts[c] / total for c in chars}
    fig.microdnb_alt = (
        f"Bar chart of how often each of the {len(chars)} distinct characters occurs among "
        f"{total:,} characters: the most common are "
        + join_and([f"{quote_token(c)} ({share[c]:.1f}%)" for c in ranked[:3]])
        + (f"; the rarest is {quote_token(ranked[-1])} ({share[ranked[-1]]:.2f}%)." if len(chars) > 3 else "."))
    return fig

"""Inside the GPT, drawn (chapters 3 and 4): a parameter matrix, the embeddings in two
directions, each head's attention over the past, and a next-token distribution.

Every function returns a `matplotlib.figure.Figure` with its alternative text, computed from
the data drawn, in `fig.microdnb_alt` (see `display`). Inputs may be plain floats, numpy
arrays or `Value`s (their `.data` is used).
"""
import math

import matplotlib.pyplot as plt
import numpy as np

from .display import text_color
from .prep import floats, matrix, new_axes
from .style import BLUE, ORANGE, WIDTH
from .words import join_and, lead, quote_token


def matrix_heatmap(mat, row_labels=None, title=None, ax=None, xlabel='dimension'):
    """A parameter matrix (rows of floats/Values) as a diverging heatmap, one row per label."""
    arr = matrix(mat, 'mat')
    if row_labels is not None and len(row_labels) != arr.shape[0]:
        raise ValueError(f"row_labels has {len(row_labels)} entries for {arr.shape[0]} rows")
    fig, ax = new_axes((WIDTH, max(2.5, 0.16 * arr.shape[0] + 1.0)), ax)
    lim = float(np.abs(arr).max()) or 1.0
    im = ax.imshow(arr, cmap='RdBu_r', vmin=-lim, vmax=lim, aspect='auto')
    if row_labels is not None:
        ax.set_yticks(range(arr.shape[0]))
        ax.set_yticklabels(row_labels, fontsize=8.5, family='monospace')
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title, fontsize=11)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    fig.tight_layout()
    i, j = np.unravel_index(np.abs(arr).argmax(), arr.shape)
    row = quote_token(str(row_labels[i])) if row_labels is not None else str(i)
    fig.microdnb_alt = (
        f"{lead(title)}Heatmap of a {arr.shape[0]} × {arr.shape[1]} matrix, one row per "
        f"{'label' if row_labels is not None else 'row'} and one column per {xlabel}; blue is "
        f"negative, red positive, white zero. Values run from {arr.min():.2f} to {arr.max():.2f}; "
        f"the largest in size, {arr[i, j]:.2f}, is in row {row}, {xlabel} {j}.")
    return fig


def embedding_scatter(mat, labels, highlight='aeiouy', title=None, ax=None):
    """Rows of an embedding matrix projected on their two principal directions, labelled.

    Rows that are close here have similar embeddings; characters in `highlight` (e.g. the
    vowels) are drawn in a second colour.
    """
    arr = matrix(mat, 'mat')
    if len(labels) != arr.shape[0]:
        raise ValueError(f"labels has {len(labels)} entries for {arr.shape[0]} rows")
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(f"need at least 2 rows and 2 columns to project, got shape {arr.shape}")
    centred = arr - arr.mean(0)
    # principal directions = right singular vectors; fix each one's sign so the plot is stable
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    vt = vt * np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])[:, None]
    xy = centred @ vt[:2].T
    share = sv[:2] ** 2 / (sv ** 2).sum()
    fig, ax = new_axes((5.5, 4.5), ax)
    hot_rows = [lab in highlight for lab in labels]
    for (x, y), lab, hot in zip(xy, labels, hot_rows):
        ax.scatter(x, y, s=160, color=ORANGE if hot else BLUE, alpha=0.25, marker='s' if hot else 'o')
        ax.text(x, y, lab, ha='center', va='center', fontsize=10 if len(lab) == 1 else 8.5,
                color=text_color(ORANGE if hot else BLUE), weight='bold' if hot else 'normal')
    ax.set_xlabel(f'direction 1 ({100 * share[0]:.0f}% of the variance)')
    ax.set_ylabel(f'direction 2 ({100 * share[1]:.0f}% of the variance)')
    if title:
        ax.set_title(title, fontsize=11)
    ax.margins(0.08)
    fig.tight_layout()
    fig.microdnb_alt = _alt_embedding(xy, share, labels, hot_rows, title)
    return fig


def _alt_embedding(xy, share, labels, hot_rows, title, n_pairs=3):
    text = (f"{lead(title)}Scatter plot of {len(labels)} embeddings projected on their two principal "
            f"directions ({100 * share[0]:.0f}% and {100 * share[1]:.0f}% of the variance), each "
            f"point labelled with its token.")
    hot = np.array(hot_rows)
    if hot.any():
        names = join_and([quote_token(l) for l, h in zip(labels, hot_rows) if h])
        text += f" Highlighted in bold orange on squares: {names}"
        if (~hot).any():
            mh, mo = xy[hot].mean(0), xy[~hot].mean(0)
            text += (f"; on average they sit at ({mh[0]:+.2f}, {mh[1]:+.2f}), the others at "
                     f"({mo[0]:+.2f}, {mo[1]:+.2f})")
        text += "."
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    pairs = sorted((d[i, j], i, j) for i in range(len(xy)) for j in range(i + 1, len(xy)))[:n_pairs]
    text += " Closest pairs in this view: " + '; '.join(f"{quote_token(labels[i])} with {quote_token(labels[j])}"
                                                       for _, i, j in pairs) + "."
    return text


def attention_heatmaps(attn, tokens, layer=0, title=None, annotate=0.3):
    """One heatmap per head, two to a row: row t = how position t spreads its attention
    over positions 0..t.

    attn: per position, the `record['attn']` that `model.gpt` filled (per layer, per head, the
    weights over positions 0..t). tokens: the input characters, one per position (use '.' or
    'BOS' for BOS). annotate: write the weight (two decimals) in every cell that holds at
    least this much, so the strongest weights can be read, not only seen; None for none.
    Panels are 3.2 in square in an 8 in wide figure (a cell of a 9-token name is about
    0.36 in), and the colour scale stops at a mid blue so that black numbers stay legible.
    """
    if not attn:
        raise ValueError("attn is empty: run model.gpt with record={} over a name first")
    if len(tokens) != len(attn):
        raise ValueError(f"tokens has {len(tokens)} entries for {len(attn)} positions")
    if not 0 <= layer < len(attn[0]):
        raise ValueError(f"layer must be in 0..{len(attn[0]) - 1}, got {layer}")
    if annotate is not None and not 0 <= annotate <= 1:
        raise ValueError(f"annotate must be a weight in [0, 1] or None, got {annotate!r}")
    n_head = len(attn[0][layer])
    T = len(attn)
    mats = np.full((n_head, T, T), np.nan)
    for t, rec in enumerate(attn):
        if len(rec[layer]) != n_head:
            raise ValueError("every position must record the same number of heads")
        for h, w in enumerate(rec[layer]):
            if len(w) != t + 1:
                raise ValueError(f"position {t} head {h} has {len(w)} weights, expected {t + 1} "
                                 "(attn must start at position 0 and follow one KV cache)")
            mats[h, t, :t + 1] = w
    cols = min(n_head, 2)
    rows = math.ceil(n_head / cols)
    side = min((WIDTH - 1.6) / cols, 3.6)   # room on the left for labels, on the right for the scale
    gap, top = 0.6, (0.75 if title else 0.35)   # inches between rows (tick labels, head title); above
    width, height = side * cols + 1.6, side * rows + gap * (rows - 1) + 0.55 + top
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.85 / width, bottom=0.55 / height,
                        top=1 - top / height, wspace=0.08, hspace=gap / side)
    from matplotlib.colors import LinearSegmentedColormap
    # 'Blues' from white to a mid blue: dark enough to see, light enough for black numbers
    cmap = LinearSegmentedColormap.from_list(
        'attention', plt.get_cmap('Blues')(np.linspace(0, 0.7, 64)))
    cmap.set_bad('white')
    for h in range(rows * cols):
        ax = axes[h // cols][h % cols]
        if h >= n_head:
            ax.axis('off')
            continue
        im = ax.imshow(mats[h], cmap=cmap, vmin=0, vmax=1)
        ax.set_title(f'head {h}', fontsize=11)
        ax.set_xticks(range(T))
        ax.set_xticklabels(tokens, fontsize=10)
        ax.set_yticks(range(T))
        ax.set_yticklabels(tokens if h % cols == 0 else [], fontsize=10)
        if h % cols == 0:
            ax.set_ylabel('query (reading)', fontsize=10)
        if h // cols == rows - 1 or h + cols >= n_head:
            ax.set_xlabel('key (read)', fontsize=10)
        if annotate is not None:
            for t in range(T):
                for j in range(t + 1):
                    w = mats[h, t, j]
                    if w >= annotate:
                        ax.text(j, t, '1' if w >= 0.995 else f"{w:.2f}".lstrip('0'), ha='center',
                                va='center', fontsize=8.5, color='black')
    cax = fig.add_axes([1 - 0.62 / width, 0.25, 0.15 / width, 0.5])
    fig.colorbar(im, cax=cax, label='attention weight')
    if title:
        fig.suptitle(title, fontsize=12, y=1 - 0.2 / height)
    fig.microdnb_alt = _alt_attention(mats, tokens, layer, title)
    return fig


def _alt_attention(mats, tokens, layer, title):
    n_head, T, _ = mats.shape
    text = (f"{lead(title)}{n_head} heatmap{'s' if n_head > 1 else ''}, one per attention head of "
            f"layer {layer}, over the {T} input tokens {' '.join(tokens)}: row t shows how position t "
            f"spreads its attention over positions 0 to t (darker blue = more weight).")
    if T < 2:
        return text
    kinds = ('itself', 'the token before it', 'the first token')
    for h in range(n_head):
        top = [int(np.nanargmax(mats[h, t, :t + 1])) for t in range(1, T)]
        counts = {'itself': sum(a == t for t, a in zip(range(1, T), top)),
                  'the token before it': sum(a == t - 1 for t, a in zip(range(1, T), top)),
                  'the first token': sum(a == 0 for a in top)}
        kind = max(kinds, key=lambda k: counts[k])
        t_max, j_max = np.unravel_index(np.nanargmax(np.where(np.isnan(mats[h]), -1, mats[h])[1:]), (T - 1, T))
        t_max += 1
        text += (f" Head {h}: at {counts[kind]} of the {T - 1} positions after the first, the "
                 f"strongest weight is on {kind}; its largest weight, {mats[h, t_max, j_max]:.2f}, is in "
                 f"row {t_max} ({tokens[t_max]}) on position {j_max} ({tokens[j_max]}).")
    return text


def prob_bars(probs, labels, highlight=None, title=None, ax=None, top=None):
    """Bar chart of a probability distribution over the vocabulary.

    labels: one string per entry (e.g. the characters and 'BOS'). highlight: an index to colour
    (e.g. the true next character). top: show only the `top` most likely entries, sorted.
    """
    p = floats(probs, 'probs')
    if len(labels) != len(p):
        raise ValueError(f"labels has {len(labels)} entries for {len(p)} probabilities")
    if np.any(p < 0) or abs(p.sum() - 1) > 1e-6:
        raise ValueError(f"probs must be non-negative and sum to 1 (they sum to {p.sum():.6f})")
    if highlight is not None and not 0 <= highlight < len(p):
        raise ValueError(f"highlight must be an index in 0..{len(p) - 1}, got {highlight}")
    order = list(range(len(p)))
    if top is not None:
        if not 1 <= top <= len(p):
            raise ValueError(f"top must be in 1..{len(p)}, got {top}")
        order = sorted(order, key=lambda i: -p[i])[:top]
    fig, ax = new_axes((WIDTH, 2.8), ax)
    colors = [ORANGE if i == highlight else BLUE for i in order]
    bars = ax.bar(range(len(order)), p[order], color=colors)
    if highlight in order:
        bars[order.index(highlight)].set(hatch='//', edgecolor='black')
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([labels[i] for i in order], fontsize=9)
    ax.set_ylabel('probability')
    ax.set_ylim(0, max(0.05, float(p.max()) * 1.15))
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    ranked = sorted(range(len(p)), key=lambda i: -p[i])
    text = (f"{lead(title)}Bar chart of the probability of "
            + (f"the {len(order)} most likely of {len(p)} tokens" if top is not None
               else f"each of {len(p)} tokens")
            + ": the most likely are "
            + join_and([f"{quote_token(labels[i])} ({p[i]:.3f})" for i in ranked[:3]]) + ".")
    if highlight is not None:
        text += (f" Highlighted (orange, hatched): {quote_token(labels[highlight])}, probability "
                 f"{p[highlight]:.3f}, rank {ranked.index(highlight) + 1} of {len(p)}"
                 + ("" if highlight in order else ", not among the bars shown") + ".")
    fig.microdnb_alt = text
    return fig

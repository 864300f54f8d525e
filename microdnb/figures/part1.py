"""Matplotlib figures for chapters 1-3 of the book (data, autograd, the GPT).

Every function returns a `matplotlib.figure.Figure` and never calls `plt.show()`:
the notebook displays it, a test closes it, a widget turns it into PNG bytes.
Inputs may be plain floats, numpy arrays or `Value`s (their `.data` is used).
Sizes fit a book column about 8 inches wide.
"""
import math
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np

from ..scalar import Value
from .display import text_color
from .prep import as_float, check_docs, floats, matrix, new_axes
from .style import BLUE, GREY, ORANGE, WIDTH
from .words import join_and, lead, quote_token

# Every figure sets `fig.microdnb_alt`: what a reader should see in it, computed from the
# data drawn (shown as the image's alt text by `display.show` and `display.png`).
# Where colour marks something, a second cue does too (a hatch, a marker shape, bold text).
# ---------------------------------------------------------------- chapter 1: data

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


# ---------------------------------------------------------------- chapter 2: autograd

def expression_graph(root, names=None, ax=None, show_grad=True):
    """Draw the graph behind `root` (a Value): inputs on the left, `root` on the right.

    Each node shows its name (from `names`, a dict Value -> str; otherwise the operation that
    made it, as the node recorded it: '+', '*', '**-1', 'exp', 'log', 'relu'), its data
    and its grad. Each edge is labelled with its local gradient
    d(parent)/d(child): the number backward() multiplies the parent's grad by.
    """
    if not isinstance(root, Value):
        raise ValueError(f"root must be a Value, got {type(root).__name__}")
    names = names or {}
    if not isinstance(names, dict):
        raise ValueError("names must be a dict mapping Value -> label")
    topo = root.topo_order()
    if len(topo) > 40:
        raise ValueError(f"the graph has {len(topo)} nodes; draw one with at most 40 to keep it readable")
    # depth = longest path from the root, so every edge points right and each input sits
    # just left of the first operation that reads it
    depth = {root: 0}
    for v in reversed(topo):
        for c in v._children:
            depth[c] = max(depth.get(c, 0), depth[v] + 1)
    n_cols = max(depth.values()) + 1
    parents = {v: [] for v in topo}
    for v in topo:
        for c in v._children:
            parents[c].append(v)
    pos = {}
    for k in range(n_cols):  # from the root leftwards; order a column by its parents' heights
        nodes = [v for v in reversed(topo) if depth[v] == k]
        nodes.sort(key=lambda v: -np.mean([pos[p][1] for p in parents[v]]) if parents[v] else 0)
        for i, v in enumerate(nodes):
            pos[v] = (n_cols - 1 - k, (len(nodes) - 1) / 2 - i)
    n_rows = max(sum(1 for v in topo if depth[v] == k) for k in range(n_cols))
    fig, ax = new_axes((min(WIDTH, 1.7 * n_cols + 0.4), max(1.6, 0.95 * n_rows + 0.5)), ax)
    boxes = {}
    for v in topo:
        x, y = pos[v]
        label = names.get(v) or v._op
        lines = ([label] if label else []) + [f"data {v.data:.4g}"]
        if show_grad:
            lines.append(f"grad {as_float(v.grad):.4g}")
        leaf = not v._children
        boxes[v] = ax.text(x, y, '\n'.join(lines), ha='center', va='center', fontsize=9,
                           family='monospace', zorder=3,
                           bbox=dict(boxstyle='square,pad=0.35' if leaf else 'round,pad=0.35',
                                     fc='#e8f1fa' if leaf else '#fdf0e2', ec=BLUE if leaf else ORANGE))
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(-(n_rows - 1) / 2 - 0.55, (n_rows - 1) / 2 + 0.55)
    ax.axis('off')
    fig.tight_layout()
    # arrows go from box edge to box edge: measure the drawn boxes in data coordinates
    fig.canvas.draw()
    to_data = ax.transData.inverted()
    extent = {v: to_data.transform(t.get_bbox_patch().get_window_extent()) for v, t in boxes.items()}
    for v in topo:
        for c, lg in zip(v._children, v._local_grads):
            (x0, y0), (x1, y1) = (extent[c][1][0], pos[c][1]), (extent[v][0][0], pos[v][1])
            ax.annotate('', xy=(x1, y1), xytext=(x0, y0), zorder=1,
                        arrowprops=dict(arrowstyle='->', color=GREY, lw=1.0, shrinkA=1, shrinkB=1))
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{as_float(lg):.3g}", fontsize=10, color=text_color(ORANGE),
                    ha='center', va='center', zorder=2,
                    bbox=dict(boxstyle='round,pad=0.1', fc='white', ec='none'))
    fig.microdnb_alt = _alt_expression_graph(topo, root, names, show_grad)
    return fig


def _alt_expression_graph(topo, root, names, show_grad, most=12):
    leaves = [v for v in topo if not v._children]

    def node(v):
        label = names.get(v) or (f"the {v._op} node" if v._children else 'unnamed')
        where = 'output ' if v is root else ('input ' if not v._children else '')
        return (f"{where}{label} = {v.data:.4g}"
                + (f" (grad {as_float(v.grad):.4g})" if show_grad else ''))
    shown = [node(v) for v in topo[:most]]
    more = f"; and {len(topo) - most} more" if len(topo) > most else ''
    return (f"Computation graph of {len(topo)} values, from {len(leaves)} inputs (square boxes, left) "
            f"through operations (round boxes) to the output (right); each box gives its value's "
            f"data{' and gradient' if show_grad else ''}, each arrow is labelled with its local "
            f"gradient. In order: {'; '.join(shown)}{more}.")


# ---------------------------------------------------------------- chapter 3: the GPT

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
        peak = np.nanmax(mats[h, 1:])
        text += (f" Head {h}: at {counts[kind]} of the {T - 1} positions after the first, the "
                 f"strongest weight is on {kind}; its largest weight is {peak:.2f}.")
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

"""Matplotlib figures for part I of the book (data, autograd, the GPT, training).

Every function returns a `matplotlib.figure.Figure` and never calls `plt.show()`:
the notebook displays it, a test closes it, a widget turns it into PNG bytes.
Inputs may be plain floats, numpy arrays or `Value`s (their `.data` is used).
Sizes fit a book column about 8 inches wide.
"""
import math
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np

from .autograd import Value

WIDTH = 8.0  # inches: one book column
BLUE, ORANGE, GREY = '#1f77b4', '#ff7f0e', '#7f7f7f'


# ---------------------------------------------------------------- helpers

def _float(x):
    return float(x.data) if isinstance(x, Value) else float(x)


def _floats(xs, name):
    """A 1-D float array from floats / Values; a clear error otherwise."""
    try:
        arr = np.array([_float(x) for x in xs], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers (or Values)") from None
    if arr.size == 0:
        raise ValueError(f"{name} is empty: nothing to plot")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _matrix(rows, name):
    """A 2-D float array from a list of rows of floats / Values."""
    try:
        arr = np.array([[_float(x) for x in row] for row in rows], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of equal-length rows of numbers") from None
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D table of numbers, got shape {arr.shape}")
    return arr


def _new(figsize, ax=None):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _check_docs(docs):
    if isinstance(docs, str) or not docs or not all(isinstance(d, str) for d in docs):
        raise ValueError("docs must be a non-empty list of strings (e.g. from data.load_docs())")


def show_source(*objs):
    """The package's own source of functions/classes, syntax-highlighted, for a notebook cell.

    Chapters show code this way, never as a copy, so the book cannot drift from the package.
    """
    import inspect

    from IPython.display import Code
    if not objs:
        raise ValueError("show_source needs at least one function, class or module")
    try:
        text = '\n\n'.join(inspect.getsource(o).rstrip('\n') for o in objs)
    except TypeError:
        raise ValueError("show_source takes functions, classes, methods or modules "
                         f"(got {', '.join(type(o).__name__ for o in objs)})") from None
    return Code(text, language='python')


def show_side_by_side(left, right, titles=None):
    """Two pieces of the package's source next to each other (e.g. scalar vs numpy), for a notebook.

    left, right: a function/class or a tuple of them. titles: two column headings.
    """
    import html

    from IPython.display import HTML
    if titles is not None and len(titles) != 2:
        raise ValueError(f"titles must be two strings, got {titles!r}")
    cols = []
    for i, objs in enumerate((left, right)):
        objs = objs if isinstance(objs, tuple) else (objs,)
        heading = f"<div><b>{html.escape(titles[i])}</b></div>" if titles else ''
        body = show_source(*objs)._repr_html_()
        cols.append(f'<div style="flex: 1 1 0; min-width: 0; overflow-x: auto; font-size: 0.8em">'
                    f'{heading}{body}</div>')
    return HTML('<div style="display: flex; gap: 1em; align-items: flex-start">' + ''.join(cols) + '</div>')


class Table:
    """Rows of cells (the first row is the header) shown as a compact HTML table in a
    notebook or on the book's pages, and as aligned plain text everywhere else.

    Wide results tables fit the book column this way: header cells wrap, numbers do not.
    """

    def __init__(self, rows):
        rows = [list(r) for r in rows]
        if not rows or not rows[0] or any(len(r) != len(rows[0]) for r in rows):
            raise ValueError("Table needs a header row and rows of the same length")
        self.rows = [[str(c) for c in r] for r in rows]

    def text(self):
        widths = [max(len(r[i]) for r in self.rows) for i in range(len(self.rows[0]))]
        lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in self.rows]
        lines.insert(1, '  '.join('-' * w for w in widths))
        return '\n'.join(lines)

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        import html

        # a column of numbers (or '-') is right-aligned, the rest left-aligned
        right = [i > 0 and all(_numeric(r[i]) or r[i].strip() in ('', '-') for r in self.rows[1:])
                 for i in range(len(self.rows[0]))]

        def body_text(c):
            # numbers never break; "mean±std" may break before the "±" when the column is tight
            parts = [html.escape(p) for p in c.split('±')]
            parts = parts[:1] + ['±' + p for p in parts[1:]]
            return '<wbr>'.join(f'<span style="white-space: nowrap">{p}</span>' for p in parts)

        def cell(tag, c, i):
            align = 'right' if right[i] else 'left'
            text = html.escape(c) if tag == 'th' else body_text(c)
            return f'<{tag} style="text-align: {align}; padding: 0.15em 0.45em">{text}</{tag}>'
        head = ''.join(cell('th', c, i) for i, c in enumerate(self.rows[0]))
        body = ''.join('<tr>' + ''.join(cell('td', c, i) for i, c in enumerate(r)) + '</tr>'
                       for r in self.rows[1:])
        return ('<div style="overflow-x: auto"><table class="microdnb-table" '
                'style="font-size: 0.85em; border-collapse: collapse; font-variant-numeric: tabular-nums">'
                f'<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')


def _numeric(c):
    c = c.strip().lstrip('+-')
    return bool(c) and (c[0].isdigit() or c[0] == '.')


# ---------------------------------------------------------------- chapter 1: data

def name_lengths(docs, block_size=None, ax=None):
    """Histogram of name lengths in characters; optionally the model's block_size as a line.

    A name of n characters is n + 1 predictions (each character, then BOS to end it), so the
    line is drawn at block_size - 1: names longer than that would be cut.
    """
    _check_docs(docs)
    lengths = Counter(len(d) for d in docs)
    xs = np.arange(1, max(lengths) + 1)
    fig, ax = _new((WIDTH, 3.0), ax)
    ax.bar(xs, [lengths.get(x, 0) for x in xs], color=BLUE, width=0.8)
    for x in xs:
        if lengths.get(x, 0):
            ax.annotate(f"{lengths[x]}", (x, lengths[x]), ha='center', va='bottom', fontsize=7,
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
    return fig


def char_frequencies(docs, ax=None):
    """Bar chart: how often each character occurs, as a share of all characters."""
    _check_docs(docs)
    counts = Counter(''.join(docs))
    chars = sorted(counts)
    total = sum(counts.values())
    fig, ax = _new((WIDTH, 3.0), ax)
    shares = [100 * counts[c] / total for c in chars]
    ax.bar(range(len(chars)), shares, color=BLUE)
    ax.set_xticks(range(len(chars)))
    ax.set_xticklabels(chars, fontsize=10)
    ax.set_ylabel('% of all characters')
    ax.set_xlabel('character')
    ax.set_title(f'{total:,} characters, {len(chars)} distinct', fontsize=11)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- chapter 2: autograd

def _guess_op(v):
    """Which operation made `v`, read back from its children and local gradients (for labels)."""
    ch, lg = v._children, v._local_grads
    if len(ch) == 2:
        if tuple(lg) == (1, 1):
            return '+'
        return '×'
    if len(ch) == 1:
        c = ch[0].data
        if lg[0] == float(c > 0) and v.data == max(0, c):
            return 'relu'
        if abs(c) < 700 and v.data == math.exp(c):
            return 'exp'
        if c > 0 and v.data == math.log(c):
            return 'log'
        return '**'
    return ''


def expression_graph(root, names=None, ax=None, show_grad=True):
    """Draw the graph behind `root` (a Value): inputs on the left, `root` on the right.

    Each node shows its name (from `names`, a dict Value -> str; otherwise the operation that
    made it), its data and its grad. Each edge is labelled with its local gradient
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
    fig, ax = _new((min(WIDTH, 1.7 * n_cols + 0.4), max(1.6, 0.95 * n_rows + 0.5)), ax)
    boxes = {}
    for v in topo:
        x, y = pos[v]
        label = names.get(v) or _guess_op(v)
        lines = ([label] if label else []) + [f"data {v.data:.4g}"]
        if show_grad:
            lines.append(f"grad {_float(v.grad):.4g}")
        leaf = not v._children
        boxes[v] = ax.text(x, y, '\n'.join(lines), ha='center', va='center', fontsize=9,
                           family='monospace', zorder=3,
                           bbox=dict(boxstyle='round,pad=0.35', fc='#e8f1fa' if leaf else '#fdf0e2',
                                     ec=BLUE if leaf else ORANGE))
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
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{_float(lg):.3g}", fontsize=10, color=ORANGE,
                    ha='center', va='center', zorder=2,
                    bbox=dict(boxstyle='round,pad=0.1', fc='white', ec='none'))
    return fig


# ---------------------------------------------------------------- chapter 3: the GPT

def matrix_heatmap(mat, row_labels=None, title=None, ax=None, xlabel='dimension'):
    """A parameter matrix (rows of floats/Values) as a diverging heatmap, one row per label."""
    arr = _matrix(mat, 'mat')
    if row_labels is not None and len(row_labels) != arr.shape[0]:
        raise ValueError(f"row_labels has {len(row_labels)} entries for {arr.shape[0]} rows")
    fig, ax = _new((WIDTH, max(2.5, 0.16 * arr.shape[0] + 1.0)), ax)
    lim = float(np.abs(arr).max()) or 1.0
    im = ax.imshow(arr, cmap='RdBu_r', vmin=-lim, vmax=lim, aspect='auto')
    if row_labels is not None:
        ax.set_yticks(range(arr.shape[0]))
        ax.set_yticklabels(row_labels, fontsize=8, family='monospace')
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title, fontsize=11)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    fig.tight_layout()
    return fig


def embedding_scatter(mat, labels, highlight='aeiouy', title=None, ax=None):
    """Rows of an embedding matrix projected on their two principal directions, labelled.

    Rows that are close here have similar embeddings; characters in `highlight` (e.g. the
    vowels) are drawn in a second colour.
    """
    arr = _matrix(mat, 'mat')
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
    fig, ax = _new((5.5, 4.5), ax)
    for (x, y), lab in zip(xy, labels):
        hot = lab in highlight
        ax.scatter(x, y, s=160, color=ORANGE if hot else BLUE, alpha=0.25)
        ax.text(x, y, lab, ha='center', va='center', fontsize=10 if len(lab) == 1 else 8,
                color=ORANGE if hot else BLUE, weight='bold' if hot else 'normal')
    ax.set_xlabel(f'direction 1 ({100 * share[0]:.0f}% of the variance)')
    ax.set_ylabel(f'direction 2 ({100 * share[1]:.0f}% of the variance)')
    if title:
        ax.set_title(title, fontsize=11)
    ax.margins(0.08)
    fig.tight_layout()
    return fig


def attention_heatmaps(attn, tokens, layer=0, title=None):
    """One heatmap per head: row t = how position t spreads its attention over positions 0..t.

    attn: per position, the `record['attn']` that `model.gpt` filled (per layer, per head, the
    weights over positions 0..t). tokens: the input characters, one per position (use '.' or
    'BOS' for BOS).
    """
    if not attn:
        raise ValueError("attn is empty: run model.gpt with record={} over a name first")
    if len(tokens) != len(attn):
        raise ValueError(f"tokens has {len(tokens)} entries for {len(attn)} positions")
    if not 0 <= layer < len(attn[0]):
        raise ValueError(f"layer must be in 0..{len(attn[0]) - 1}, got {layer}")
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
    cols = min(n_head, 4)
    rows = math.ceil(n_head / cols)
    side = min(WIDTH / cols, 2.6)
    fig, axes = plt.subplots(rows, cols, figsize=(side * cols + 0.6, side * rows + 0.5), squeeze=False)
    for h in range(rows * cols):
        ax = axes[h // cols][h % cols]
        if h >= n_head:
            ax.axis('off')
            continue
        im = ax.imshow(mats[h], cmap='Blues', vmin=0, vmax=1)
        ax.set_title(f'head {h}', fontsize=10)
        ax.set_xticks(range(T))
        ax.set_xticklabels(tokens, fontsize=8)
        ax.set_yticks(range(T))
        ax.set_yticklabels(tokens if h % cols == 0 else [], fontsize=8)
        if h % cols == 0:
            ax.set_ylabel('query (reading)', fontsize=9)
        ax.set_xlabel('key (read)', fontsize=9)
    fig.colorbar(im, ax=axes, fraction=0.02, pad=0.02, label='attention weight')
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def prob_bars(probs, labels, highlight=None, title=None, ax=None, top=None):
    """Bar chart of a probability distribution over the vocabulary.

    labels: one string per entry (e.g. the characters and 'BOS'). highlight: an index to colour
    (e.g. the true next character). top: show only the `top` most likely entries, sorted.
    """
    p = _floats(probs, 'probs')
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
    fig, ax = _new((WIDTH, 2.8), ax)
    colors = [ORANGE if i == highlight else BLUE for i in order]
    ax.bar(range(len(order)), p[order], color=colors)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([labels[i] for i in order], fontsize=9)
    ax.set_ylabel('probability')
    ax.set_ylim(0, max(0.05, float(p.max()) * 1.15))
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- chapter 4: training

def smooth(values, window):
    """Trailing moving average over `window` steps (shorter at the start, so no step is lost)."""
    x = _floats(values, 'values')
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    c = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def loss_curve(losses, window=50, baseline=None, title=None, ax=None, label='loss per step'):
    """Raw per-step loss (faint) and its moving average; `baseline` e.g. ln(vocab_size)."""
    x = _floats(losses, 'losses')
    fig, ax = _new((WIDTH, 3.2), ax)
    steps = np.arange(1, len(x) + 1)
    ax.plot(steps, x, color=BLUE, alpha=0.25, lw=0.8, label=label)
    ax.plot(steps, smooth(x, window), color=BLUE, lw=2, label=f'mean of the last {window} steps')
    if baseline is not None:
        ax.axhline(float(baseline), color=GREY, ls='--', lw=1,
                   label=f'uniform guess: {float(baseline):.4f}')
    ax.set_xlabel('step')
    ax.set_ylabel('loss (nats per token)')
    ax.set_xlim(0, len(x) + 1)
    if title:
        ax.set_title(title, fontsize=11)
    # below the axes, so it never hides the curve
    ax.legend(fontsize=9, loc='upper center', bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def lr_schedule(lrs, ax=None, title='learning rate per step'):
    """The learning rate of each step (e.g. from the training callback's info['lr'])."""
    x = _floats(lrs, 'lrs')
    fig, ax = _new((WIDTH, 2.4), ax)
    ax.plot(np.arange(1, len(x) + 1), x, color=ORANGE, lw=2)
    ax.set_xlabel('step')
    ax.set_ylabel('learning rate')
    ax.set_ylim(0, float(x.max()) * 1.1)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


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
    return fig


# ---------------------------------------------------------------- chapter 5: efficiency

def _format_seconds(t):
    if t >= 1:
        return f'{t:.3g} s'
    if t >= 1e-3:
        return f'{t * 1e3:.3g} ms'
    return f'{t * 1e6:.3g} µs'


def time_bars(times, title=None, ax=None):
    """Grouped horizontal bars (log scale) of measured times.

    times: {task: {engine: seconds}}, e.g. {'phase 1 step': {'scalar': 0.25, 'numpy': 0.0003}};
    each engine keeps one colour across tasks.
    """
    if not isinstance(times, dict) or not times or not all(isinstance(v, dict) and v for v in times.values()):
        raise ValueError("times must be a non-empty dict {task: {engine: seconds}}")
    engines = list(dict.fromkeys(e for row in times.values() for e in row))
    for task, row in times.items():
        t = _floats(list(row.values()), f'times[{task!r}]')
        if np.any(t <= 0):
            raise ValueError(f"times must be positive, got {row} for {task!r}")
    colours = dict(zip(engines, [BLUE, ORANGE, GREY, '#2ca02c', '#9467bd']))
    height = 0.8 / len(engines)
    fig, ax = _new((WIDTH, 0.45 * len(times) * len(engines) + 1.3), ax)
    longest = max(v for row in times.values() for v in row.values())
    for i, (task, row) in enumerate(times.items()):
        for j, name in enumerate(engines):
            if name not in row:
                continue
            y = i + (j - (len(engines) - 1) / 2) * height
            ax.barh(y, row[name] * 1e3, height=height * 0.9, color=colours[name],
                    label=name if i == 0 else None)
            ax.text(row[name] * 1e3 * 1.1, y, _format_seconds(row[name]), va='center', fontsize=9)
    ax.set_yticks(range(len(times)))
    ax.set_yticklabels(list(times), fontsize=10)
    ax.invert_yaxis()
    ax.set_xscale('log')
    ax.set_xlim(right=longest * 1e3 * 8)
    ax.set_xlabel('milliseconds (log scale)')
    ax.legend(fontsize=9, loc='lower right')
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig

"""The computation graph of a scalar `Value` drawn (chapter 2): inputs on the left, the output on
the right, each node's data and gradient, each edge's local gradient (the op each node
records, as in micrograd). Sets `fig.microdnb_alt` from the graph drawn.
"""
import numpy as np

from ..scalar import Value
from .display import text_color
from .prep import as_float, new_axes
from .style import BLUE, GREY, ORANGE, WIDTH


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

"""Diagrams of the mechanisms, drawn from the package's own definitions so they cannot
drift from it: the GPT block with SNC (`gpt_block`), the bus's data flow with the plan
seed (`bus_dataflow`), and the read rule on a timeline (`read_rule`).

Sizes come from a `ModelConfig` through `params.param_shapes`; snapshot positions from
`bus.emits`; the read rule from `bus.visibility`, so the picture is the rule. Every
function returns a Figure with `fig.microdnb_alt`, an alt text made by the same code
from the same numbers (also available as `describe_*`); `display.show(fig)` displays it
with that alt text. The worked examples (Adam, attention, SNC) are re-exported from
`diagrams_worked`; the primitives and the light/dark-mode choice are in `diagrams_draw`.
"""
from matplotlib.patches import FancyBboxPatch, Rectangle

from ..bus import check_lengths, emits, visibility
from ..config import ModelConfig, check_int
from ..params import param_shapes
from ..scalar import Value, sigmoid
from .diagrams_draw import (BUS, FONT, GATE, GREY, INK, MUTED, NORM, PLAN, SMALL, SNC, TITLE, TRUNK, WIDTH,
                            arrow, box, canvas, gids, label, line, plus, tint)
from .diagrams_worked import adam_trace, adam_update, attention_worked_example, snc_worked_example
from .style import stream_color, stream_marker

__all__ = ['gpt_block', 'bus_dataflow', 'read_rule', 'first_reads', 'describe_gpt_block',
           'describe_bus_dataflow', 'describe_read_rule', 'adam_trace', 'adam_update',
           'attention_worked_example', 'snc_worked_example', 'gids']


def _shape(shapes, name):
    rows, cols = shapes[name]
    return f"{rows}×{cols}"



def gate_at_init(cfg):
    """sigmoid(cfg.gate_init), the gate SNC starts with (the scalar engine's sigmoid)."""
    return sigmoid(Value(cfg.gate_init)).data



# ---------------------------------------------------------------- the GPT block

def gpt_block(cfg=None):
    """One position of the GPT (`scalar.model.gpt`) along its residual stream, with SNC.

    Above the line: the trunk (embeddings, RMSNorm, self-attention, MLP, lm_head); below
    it: what part II adds, SNC between self-attention and the MLP, reading the notes on
    the bus with its query from the residual as it is (no RMSNorm), and the final hidden
    state leaving for `notes_proj`. Matrix sizes are `param_shapes(cfg)`.
    """
    cfg = ModelConfig() if cfg is None else cfg
    sh, e, d, nh = param_shapes(cfg), cfg.n_embd, cfg.notes_dim, cfg.n_head
    fig, ax = canvas(5.5)
    yl = 2.3  # the residual stream
    ax.text(0.25, 5.2, f"One position of the GPT, with SNC  (n_embd = {e}, n_head = {nh}, "
            f"notes_dim = {d}, n_layer = {cfg.n_layer})", fontsize=TITLE, color=INK, va='center')
    # embeddings: wte[token] + wpe[pos]
    te = box(ax, 'wte', 0.68, 4.3, 0.9, 0.55, f"wte[token]\n{_shape(sh, 'wte')}", TRUNK, fontsize=SMALL)
    pe = box(ax, 'wpe', 0.68, 3.4, 0.9, 0.55, f"wpe[pos]\n{_shape(sh, 'wpe')}", TRUNK, fontsize=SMALL)
    emb = plus(ax, 'embedding', 0.68, yl)
    line(ax, [te.left, (0.13, te.y), (0.13, yl)], color=TRUNK)
    arrow(ax, 'wte->embedding', (0.13, yl), emb.left, color=TRUNK)
    arrow(ax, 'wpe->embedding', pe.bottom, emb.top, color=TRUNK)
    n0 = box(ax, 'rmsnorm_emb', 1.43, yl, 0.58, 0.5, "RMS\nNorm", NORM, fontsize=SMALL)
    arrow(ax, 'embedding->rmsnorm_emb', emb.right, n0.left, color=MUTED, lw=1.6)
    # the layer frame
    ax.add_patch(FancyBboxPatch((1.84, 0.3), 5.08, 4.55, boxstyle='round,pad=0,rounding_size=0.1', fc='none',
                                ec=MUTED, lw=1, ls=(0, (4, 3)), zorder=1, gid='frame:layer'))
    label(ax, 1.92, 0.45, f"one layer\n(× n_layer = {cfg.n_layer})", va='bottom')

    def branch(name, x, xp, boxes, color):
        """A column of boxes above the line, from the line at x back into a + at xp."""
        drawn, y = [], yl + 0.42
        for i, (text, c) in enumerate(boxes):
            h = 0.2 + 0.17 * (text.count('\n') + 1)
            drawn.append(box(ax, f'{name}{i}', x, y + h / 2, 1.25, h, text, c, fontsize=SMALL))
            y += h + 0.2
        arrow(ax, f'x->{name}0', (x, yl), drawn[0].bottom, color=color)
        for i in range(1, len(drawn)):
            arrow(ax, f'{name}{i - 1}->{name}{i}', drawn[i - 1].top, drawn[i].bottom, color=color)
        top = drawn[-1].top
        line(ax, [top, (top[0], top[1] + 0.1), (xp, top[1] + 0.1)], color=color)
        add = plus(ax, name, xp, yl)
        arrow(ax, f'{name}->add', (xp, top[1] + 0.1), add.top, color=color)
        return add

    a_add = branch('attn', 2.55, 3.36, [("RMSNorm", NORM),
                                        (f"self-attention\n{nh} heads, own past\nq k v "
                                         f"{_shape(sh, 'layer0.attn_wq')} each", TRUNK),
                                        (f"attn_wo {_shape(sh, 'layer0.attn_wo')}", TRUNK)], TRUNK)
    # SNC, below the line
    xs = 3.62
    snc = box(ax, 'snc', 4.38, 1.45, 1.34, 0.86, f"cross-attention\n{nh} heads, q {_shape(sh, 'snc_wq')},\n"
              f"k v {_shape(sh, 'snc_wk')}, then\nsnc_wo {_shape(sh, 'snc_wo')}", SNC, fontsize=SMALL)
    g = f"{cfg.gate_init:g}".replace('-', '−')
    gate = box(ax, 'gate', 5.55, 1.45, 0.88, 0.66, f"× gate σ(g)\nσ({g}) =\n{gate_at_init(cfg):.4f}",
               GATE, fontsize=SMALL)
    s_add = plus(ax, 'snc', 5.55, yl)
    line(ax, [(xs, yl), (xs, snc.y)], color=SNC)
    arrow(ax, 'x->snc', (xs, snc.y), snc.left, color=SNC)
    label(ax, xs + 0.08, 2.02, "query: x as it is,\nnot normalised", va='center', fontsize=SMALL)
    arrow(ax, 'snc->gate', snc.right, gate.left, color=SNC)
    arrow(ax, 'gate->add', gate.top, s_add.bottom, color=SNC)
    bus = box(ax, 'bus', 4.9, 0.6, 3.5, 0.4, f"Notes Bus: other streams' notes, {d} numbers each", BUS,
              fontsize=SMALL)
    arrow(ax, 'bus->snc', (snc.x, bus.y + bus.h / 2), snc.bottom, color=BUS)
    label(ax, snc.x + 0.07, 0.92, "keys, values", va='center', fontsize=SMALL, color=INK)
    m_add = branch('mlp', 6.05, 6.8, [("RMSNorm", NORM), (f"mlp_fc1 {_shape(sh, 'layer0.mlp_fc1')}\nReLU", TRUNK),
                                      (f"mlp_fc2 {_shape(sh, 'layer0.mlp_fc2')}", TRUNK)], TRUNK)
    for a, b in [(n0.right, a_add.left), (a_add.right, s_add.left), (s_add.right, m_add.left)]:
        arrow(ax, 'residual', a, b, color=MUTED, lw=1.6)
    # the final x: to lm_head (logits) and to notes_proj (a snapshot for the bus)
    xe = 7.45
    line(ax, [m_add.right, (xe, yl)], color=MUTED, lw=1.6)
    head = box(ax, 'lm_head', xe, 3.35, 0.8, 0.55, f"lm_head\n{_shape(sh, 'lm_head')}", TRUNK, fontsize=SMALL)
    arrow(ax, 'x->lm_head', (xe, yl), head.bottom, color=TRUNK)
    arrow(ax, 'lm_head->logits', head.top, (xe, 4.05), color=TRUNK)
    label(ax, xe, 4.1, f"{cfg.vocab_size}\nlogits", ha='center', va='bottom', color=INK)
    proj = box(ax, 'notes_proj', xe, 1.45, 0.8, 0.55, f"notes_proj\n{_shape(sh, 'notes_proj')}", BUS,
               fontsize=SMALL)
    arrow(ax, 'x->notes_proj', (xe, yl), proj.top, color=BUS)
    line(ax, [proj.bottom, (xe, bus.y)], color=BUS)
    arrow(ax, 'notes_proj->bus', (xe, bus.y), bus.right, color=BUS)
    label(ax, xe - 0.1, 0.98, "snapshot at\nthe cadence", ha='right', va='center', fontsize=SMALL)
    label(ax, 1.0, 1.55, f"residual\nstream x:\n{e} numbers", ha='center', va='center', color=INK)
    fig.microdnb_alt = describe_gpt_block(cfg)
    return fig


def describe_gpt_block(cfg):
    sh = param_shapes(cfg)
    return (f"Diagram of one position of the GPT with SNC. Along the residual stream x of {cfg.n_embd} numbers, "
            f"left to right: the token embedding wte ({_shape(sh, 'wte')}) plus the position embedding wpe "
            f"({_shape(sh, 'wpe')}), then RMSNorm. In each of the {cfg.n_layer} layer(s): RMSNorm and "
            f"self-attention with {cfg.n_head} heads of {cfg.head_dim} over this stream's own past, projected "
            f"by attn_wo and added to x; then, drawn below the line, Shared Notes Cross-Attention: its query "
            f"comes from x as it is (not normalised), its keys and values from the other streams' notes of "
            f"{cfg.notes_dim} numbers on the Notes Bus, its output passes snc_wo and is multiplied by the gate "
            f"sigmoid(g), which starts at g = {cfg.gate_init:g} ({gate_at_init(cfg):.4f}), and is added to x; "
            f"then RMSNorm and the MLP ({cfg.n_embd} to {4 * cfg.n_embd}, ReLU, back to {cfg.n_embd}), added to "
            f"x. Finally lm_head gives {cfg.vocab_size} logits, and the same final x is projected by notes_proj "
            f"to a snapshot of {cfg.notes_dim} numbers that goes onto the bus at the cadence.")


# ---------------------------------------------------------------- the bus's data flow

def _post_positions(positions, cadence):
    return [p for p in range(positions) if emits(p, cadence)]


def bus_dataflow(cfg=None, n_streams=3, cadence=3, positions=9, reader=None):
    """Streams -> snapshots -> the bus -> SNC -> the reader's residual, with the plan seed.

    Each stream posts notes_proj(x) after every position p with `bus.emits(p, cadence)`
    (drawn for `positions` positions); the planner puts planner_proj of the BOS hidden
    state on every stream's lane first. Below, SNC of stream `reader` (default: the last)
    reads the other streams' lanes. Sizes are `param_shapes(cfg)`; 1 to 4 streams.
    """
    cfg = ModelConfig() if cfg is None else cfg
    n = check_int(n_streams, 'n_streams', 1, 4)  # stream colours stay apart from the planner's
    cadence = check_int(cadence, 'cadence', 1)
    positions = check_int(positions, 'positions', 1, 16)
    reader = n - 1 if reader is None else check_int(reader, 'reader', 0, n - 1)
    sh, e, nh = param_shapes(cfg), cfg.n_embd, cfg.n_head
    posts = _post_positions(positions, cadence)
    height = 3.95 + 0.52 * n
    fig, ax = canvas(height)
    ax.text(0.25, height - 0.3, f"The Notes Bus: {n} streams, a snapshot after every position p with "
            f"(p + 1) % {cadence} == 0", fontsize=TITLE, color=INK, va='center')
    lane_y = [height - 1.45 - 0.52 * s for s in range(n)]
    x0, x1 = 2.9, 7.75                       # the bus box
    xp = 3.4                                  # the plan column
    step = (x1 - 4.3) / positions
    xs = {p: 4.0 + (p + 0.5) * step for p in posts}  # placed by position
    slot, short = min(0.6, 0.92 * step * cadence), step * cadence < 0.66
    ax.add_patch(FancyBboxPatch((x0, lane_y[-1] - 0.3), x1 - x0, lane_y[0] - lane_y[-1] + 0.85, gid='box:bus',
                                boxstyle='round,pad=0,rounding_size=0.08', fc=tint(GREY, 0.1), ec=GREY, lw=1.3, zorder=1))
    label(ax, x0 + 0.25, lane_y[0] + 0.4, "Notes Bus: one lane per stream, oldest first", va='center', color=INK)
    planner = box(ax, 'planner', 1.2, lane_y[0] + 0.68, 2.0, 0.62, f"planner, before any token:\nplanner_proj "
                  f"{_shape(sh, 'planner_proj')} of the\nBOS hidden state, one for all", PLAN, fontsize=SMALL)
    line(ax, [planner.right, (3.02, planner.y), (3.02, lane_y[-1])], color=PLAN)
    for s, y in enumerate(lane_y):
        own = s == reader
        st = box(ax, f'stream{s}', 0.95, y, 1.3, 0.38, f"stream {s}: trunk", stream_color(s), fontsize=SMALL)
        arrow(ax, f'stream{s}->bus', st.right, (x0, y), color=stream_color(s))
        label(ax, 2.2, y + 0.04, "notes_proj", ha='center', va='bottom', fontsize=SMALL)
        arrow(ax, f'planner->plan{s}', (3.02, y), (xp - 0.3, y), color=PLAN)
        box(ax, f'plan{s}', xp, y, 0.6, 0.34, f"plan s{s}", PLAN, fontsize=SMALL)
        for p in posts:
            box(ax, f'note{s}@{p}', xs[p], y, slot, 0.34, f"p{p}" if short else f"s{s}@p{p}", stream_color(s),
                fontsize=SMALL, fill=0.12 if own else 0.3, dashed=own)
    label(ax, x1, lane_y[-1] - 0.45, f"dashed: stream {reader}'s own notes, which it never reads", ha='right',
          va='center')
    # SNC of the reader
    yk, yq = 1.62, 0.62
    kv = box(ax, 'keys_values', 3.9, yk, 2.3, 0.5, f"k = snc_wk n, v = snc_wv n\n{_shape(sh, 'snc_wk')} each, "
             f"for every note n read", SNC, fontsize=SMALL)
    arrow(ax, 'bus->keys_values', (kv.x, lane_y[-1] - 0.3), kv.top, color=MUTED)
    label(ax, kv.x - 0.08, (kv.y + kv.h / 2 + lane_y[-1] - 0.3) / 2, "the other streams' notes\nthat the read "
          "rule (lag) allows", ha='right', va='center', fontsize=SMALL)
    row = [('x', 0.95, 1.3, f"x of stream {reader}\n{e} numbers, as is", TRUNK),
           ('query', 2.2, 1.05, f"q = snc_wq x\n{_shape(sh, 'snc_wq')}", SNC),
           ('attention', 3.9, 1.9, f"softmax(q·k / √{cfg.head_dim}) over notes\nper head ({nh} heads), Σ a v", SNC),
           ('snc_wo', 5.42, 0.8, f"snc_wo\n{_shape(sh, 'snc_wo')}", SNC),
           ('gate', 6.33, 0.78, f"× σ(g)\n{gate_at_init(cfg):.4f}", GATE),
           ('delta', 7.24, 0.78, "x + δ", TRUNK)]
    drawn = [box(ax, name, x, yq, w, 0.56, text, c, fontsize=SMALL) for name, x, w, text, c in row]
    for (a, _, _, _, _), (b, _, _, _, _), da, db in zip(row, row[1:], drawn, drawn[1:]):
        arrow(ax, f'{a}->{b}', da.right, db.left, color=SNC if a != 'x' else TRUNK)
    arrow(ax, 'keys_values->attention', kv.bottom, drawn[2].top, color=SNC)
    xr = 0.14  # from the reader's stream box down to its residual
    line(ax, [(0.3, lane_y[reader]), (xr, lane_y[reader]), (xr, yq)], color=stream_color(reader))
    arrow(ax, f'stream{reader}->x', (xr, yq), drawn[0].left, color=stream_color(reader))
    label(ax, 0.25, yq + 0.38, f"SNC of stream {reader}, in every layer", va='bottom', color=INK)
    fig.microdnb_alt = describe_bus_dataflow(cfg, n, cadence, positions, reader)
    return fig


def describe_bus_dataflow(cfg, n_streams, cadence, positions, reader):
    posts = ', '.join(str(p) for p in _post_positions(positions, cadence)) or 'none'
    return (f"Diagram of the Notes Bus with {n_streams} streams. Each stream's trunk writes snapshots onto its "
            f"own lane of the bus: notes_proj turns its final hidden state ({cfg.n_embd} numbers) into a note of "
            f"{cfg.notes_dim} numbers after positions {posts} (cadence {cadence}, {positions} positions shown). "
            f"Before any token the planner puts snapshot 0, planner_proj of the BOS hidden state, on every lane: "
            f"the same plan seed for every stream. Below, SNC of stream {reader} reads the notes of the other "
            f"streams' lanes that the read rule allows, never its own: keys and values from each note "
            f"(snc_wk, snc_wv), the query from the stream's residual x as it is (snc_wq), a softmax over the "
            f"notes in each of {cfg.n_head} heads scaled by the square root of {cfg.head_dim}, the weighted sum of "
            f"the values, snc_wo, times the gate ({gate_at_init(cfg):.4f} at initialisation), and the result, "
            f"the delta, is added to the residual.")


# ---------------------------------------------------------------- the read rule

def first_reads(lengths, cadence, lag, ended=()):
    """From `bus.visibility`: the rounds each stream posts after, and for every post (s, r)
    and every other stream o that ever reads it, the first round o may: {(s, r, o): t}."""
    posts, reads = visibility(list(lengths), cadence, lag, ended)
    first = {}
    for (o, t), labels in sorted(reads.items(), key=lambda kv: kv[0][1]):
        for s, r in labels:
            if r is not None:
                first.setdefault((s, r, o), t)
    return posts, first


def read_rule(lengths, cadence, lag=(0, 1), ended=()):
    """The read rule on a timeline: streams as rows, rounds (= positions) as columns.

    A marker is a post (after that step, `bus.emits`); an arrow runs from each post to
    the first step of each other stream that may read it, as `bus.visibility` says, so the
    picture is the rule. `lag` is one lag or several (one panel each, one above the other:
    lag 0, the reference's round-robin, beside lag 1, the paper's). The plan seeds
    (column 'plan') are readable by every other stream from round 0.
    """
    check_lengths(lengths, 1)
    cadence = check_int(cadence, 'cadence', 1)
    lags = [check_int(l, 'lag', 0) for l in ((lag,) if isinstance(lag, int) else lag)]
    if not lags:
        raise ValueError("lag must be a lag or a non-empty list of lags")
    n, rounds = len(lengths), max(lengths)
    panel, row = 0.7 + 0.52 * n, 0.52
    fig, ax = canvas(0.85 + panel * len(lags))
    cw = min(0.75, (WIDTH - 1.45) / (rounds + 1))           # column width
    x_of = lambda t: 1.25 + cw * (t + 1.5)                  # noqa: E731 (round -1 is the plan column)
    fig.microdnb_marks = {}
    ax.text(0.25, fig.get_figheight() - 0.3, f"Who may read a post, and from when: cadence {cadence}, "
            f"streams of {', '.join(map(str, lengths))} positions", fontsize=TITLE, color=INK, va='center')
    label(ax, 0.25, fig.get_figheight() - 0.6, "marker: a post, made after that step;  arrow: to the first step of "
          "each other stream that may read it", va='center')
    for k, lg in enumerate(lags):
        top = fig.get_figheight() - 0.95 - k * panel
        y_of = lambda s: top - 0.55 - row * s              # noqa: E731
        posts, first = first_reads(lengths, cadence, lg, ended)
        fig.microdnb_marks[lg] = {'posts': posts, 'first_read': first}
        rule = ("a later stream reads a post in its own round, an earlier one a round later" if lg == 0 else
                f"every post becomes readable {lg} round{'s' if lg > 1 else ''} after it is made")
        label(ax, 0.25, top - 0.05, f"lag {lg}: {rule}", fontsize=FONT, color=INK, va='center', weight='bold')
        for t in range(-1, rounds):
            label(ax, x_of(t), top - 0.3, 'plan' if t < 0 else str(t), ha='center', va='center')
        for s, length in enumerate(lengths):
            y = y_of(s)
            label(ax, 0.25, y, f"stream {s}", va='center', color=INK, fontsize=FONT)
            ax.plot([1.05], [y], marker=stream_marker(s), color=stream_color(s), ms=7, ls='none')
            ax.add_patch(Rectangle((x_of(-1) - 0.4 * cw, y - 0.15), 0.8 * cw, 0.3, fc=tint(PLAN, 0.3), ec=PLAN,
                                   lw=1, zorder=1, gid=f'plan:{lg}:{s}'))
            for t in range(length):
                ax.add_patch(Rectangle((x_of(t) - 0.45 * cw, y - 0.15), 0.9 * cw, 0.3, fc=tint(stream_color(s), 0.16),
                                       ec=tint(stream_color(s), 0.6), lw=0.8, zorder=1, gid=f'step:{lg}:{s}:{t}'))
            for r in posts[s]:
                ax.plot([x_of(r) + 0.25 * cw], [y], marker=stream_marker(s), color=stream_color(s), ms=8,
                        mec=INK, mew=0.8, ls='none', zorder=4, gid=f'post:{lg}:{s}:{r}')
        for (s, r, o), t in sorted(first.items()):
            end = (x_of(t) - 0.2 * cw, y_of(o) + (0.07 if o > s else -0.07))
            arrow(ax, f'{lg}:s{s}@p{r}->s{o}@{t}', (x_of(r) + 0.25 * cw, y_of(s)), end, color=stream_color(s), lw=1.2)
    fig.microdnb_alt = describe_read_rule(lengths, cadence, lags, ended)
    return fig


def describe_read_rule(lengths, cadence, lags, ended=()):
    parts = []
    for lg in lags:
        posts, first = first_reads(lengths, cadence, lg, ended)
        same = sum(t == r for (s, r, o), t in first.items())
        parts.append(f"With lag {lg}, {len(first)} arrows run from a post to the first step of another stream "
                     f"that may read it; {same} of them stay in the round of the post"
                     + (" (a later stream in the round-robin order reads it at once, an earlier one only "
                        "in the next round)." if lg == 0 else f", the others point {lg} round(s) later."))
    posts, _ = first_reads(lengths, cadence, lags[0], ended)
    made = '; '.join(f"stream {s} after positions {', '.join(map(str, p)) or 'none'}" for s, p in enumerate(posts))
    return (f"Timeline of the read rule for {len(lengths)} streams running {', '.join(map(str, lengths))} positions "
            f"with cadence {cadence}: streams are rows, rounds (positions) are columns, and every stream's plan "
            f"seed sits in a first column, readable by the others from round 0. Posts are marked {made}. "
            + ' '.join(parts))

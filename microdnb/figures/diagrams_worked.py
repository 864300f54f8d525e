"""Worked examples small enough to follow by hand, computed by the package's own code.

`adam_trace` runs `scalar.train.Adam` on one parameter; `attention_worked_example` runs
`scalar.layers.multi_head_attention` on a 2-head toy; `snc_worked_example` runs
`scalar.snc.snc_cross_attention` on a tiny config. Each returns the numbers (a dict, for
glue) and a Figure that lays them out, with `fig.microdnb_alt` made from those numbers.
The toys are seeded random numbers rounded to one decimal, so a reader can redo them.
"""
import math
import random

from ..config import ModelConfig, TrainConfig, check_int
from ..scalar import Adam, Value, gate_value, linear, multi_head_attention, snc_cross_attention
from .diagrams_draw import FONT, GATE, GREY, INK, MUTED, SMALL, SNC, TITLE, TRUNK, arrow, box, canvas, label, tint

DEFAULT_GRADS = (0.5, 0.4, -0.3, 0.6, 0.5)  # made up: a sign flip at step 3


def _f(x, nd):
    text = f"{x:.{nd}f}"
    return text[1:] if text.startswith('-') and float(text) == 0 else text  # no '-0.00'


def _vec(xs, nd=1):
    return '(' + ', '.join(_f(x, nd) for x in xs) + ')'


def _table(ax, x0, y, widths, header, rows, color, row_h=0.27, last_bold=False):
    """Text in a grid: a shaded header, then rows. Returns the y below the table."""
    xs = [x0 + sum(widths[:i]) for i in range(len(widths) + 1)]
    ax.add_patch(_rect(xs[0], y - row_h, xs[-1] - xs[0], row_h, tint(color, 0.3), color))
    for i, text in enumerate(header):
        ax.text((xs[i] + xs[i + 1]) / 2, y - row_h / 2, text, ha='center', va='center', fontsize=SMALL, color=INK)
    for r, row in enumerate(rows):
        yr = y - row_h * (r + 1.5)
        bold = last_bold and r == len(rows) - 1
        if bold:
            ax.add_patch(_rect(xs[0], yr - row_h / 2, xs[-1] - xs[0], row_h, tint(GREY, 0.12), GREY))
        for i, text in enumerate(row):
            ax.text((xs[i] + xs[i + 1]) / 2, yr, text, ha='center', va='center', fontsize=SMALL, color=INK,
                    weight='bold' if bold else 'normal')
    ax.plot([xs[0], xs[-1]], [y - row_h * (len(rows) + 1)] * 2, color=MUTED, lw=0.8)
    return y - row_h * (len(rows) + 1)


def _rect(x, y, w, h, fc, ec):
    from matplotlib.patches import Rectangle
    return Rectangle((x, y), w, h, fc=fc, ec=ec, lw=0.8, zorder=1)


# ---------------------------------------------------------------- Adam

def adam_trace(tcfg=None, grads=DEFAULT_GRADS, phase=1, theta=0.0):
    """Adam on one parameter, with `scalar.train.Adam` and the learning rate of phase 1 (or 2).

    grads: the gradient at each step (made up). Returns one dict per step: t (from 1), g,
    lr_t, m, v (Adam's state after the step), m_hat, v_hat (bias-corrected), ratio =
    m_hat / (sqrt(v_hat) + eps) (the step in units of lr_t), step (how far the parameter
    moved: before - after) and theta (after).
    """
    tcfg = TrainConfig() if tcfg is None else tcfg
    check_int(phase, 'phase', 1, 2)
    lr0, num_steps = ((tcfg.learning_rate, tcfg.steps) if phase == 1 else (tcfg.snc_learning_rate, tcfg.snc_steps))
    grads = [float(g) for g in grads]
    if not grads or len(grads) > num_steps:
        raise ValueError(f"grads must hold 1 to {num_steps} gradients (the phase's steps), got {len(grads)}")
    p = Value(float(theta))
    adam = Adam([p], tcfg.beta1, tcfg.beta2, tcfg.eps_adam)
    rows = []
    for step, g in enumerate(grads):
        lr_t = lr0 * (1 - step / num_steps)  # the schedule of train_phase1 / train_phase2
        before, p.grad = p.data, g
        adam.step(step, lr_t)
        m, v = adam.m[0], adam.v[0]
        m_hat, v_hat = m / (1 - tcfg.beta1 ** (step + 1)), v / (1 - tcfg.beta2 ** (step + 1))
        rows.append({'t': step + 1, 'g': g, 'lr_t': lr_t, 'm': m, 'v': v, 'm_hat': m_hat, 'v_hat': v_hat,
                     'ratio': m_hat / (v_hat ** 0.5 + tcfg.eps_adam), 'step': before - p.data, 'theta': p.data})
    return rows


def adam_update(tcfg=None, grads=DEFAULT_GRADS, phase=1):
    """Adam's update for one parameter as a flow (with the TrainConfig's numbers) above a
    trace of `adam_trace(tcfg, grads, phase)`. Returns (rows, Figure)."""
    tcfg = TrainConfig() if tcfg is None else tcfg
    rows = adam_trace(tcfg, grads, phase)
    b1, b2, eps = tcfg.beta1, tcfg.beta2, tcfg.eps_adam
    lr0, n = (tcfg.learning_rate, tcfg.steps) if phase == 1 else (tcfg.snc_learning_rate, tcfg.snc_steps)
    fig, ax = canvas(3.05 + 0.27 * (len(rows) + 1))
    e_txt = f"{eps:g}".replace('e-0', 'e-')
    h = fig.get_figheight()
    ax.text(0.25, h - 0.3, f"Adam's update of one parameter, phase {phase}: β1 = {b1:g}, β2 = {b2:g}, "
            f"ε = {e_txt}", fontsize=TITLE, color=INK, va='center')
    y1, y2, ym = h - 0.98, h - 1.82, h - 1.4
    g1 = box(ax, 'g', 0.7, y1, 0.9, 0.5, "gradient g", TRUNK)
    g2 = box(ax, 'g2', 0.7, y2, 0.9, 0.5, "g²", TRUNK)
    m = box(ax, 'm', 2.3, y1, 1.9, 0.66, f"$m \\leftarrow {b1:g}\\,m + {1 - b1:.2g}\\,g$\nmean of g, "
            f"≈ {1 / (1 - b1):.0f} steps", SNC, fontsize=FONT)
    v = box(ax, 'v', 2.3, y2, 1.9, 0.66, f"$v \\leftarrow {b2:g}\\,v + {1 - b2:.2g}\\,g^2$\nmean of g², "
            f"≈ {1 / (1 - b2):.0f} steps", GATE, fontsize=FONT)
    mh = box(ax, 'm_hat', 4.25, y1, 1.6, 0.66, f"$\\hat m = m\\,/\\,(1 - {b1:g}^t)$\nbias correction",
             SNC, fontsize=FONT)
    vh = box(ax, 'v_hat', 4.25, y2, 1.6, 0.66, f"$\\hat v = v\\,/\\,(1 - {b2:g}^t)$\nt = s + 1", GATE,
             fontsize=FONT)
    st = box(ax, 'step', 6.5, ym, 2.3, 0.75, "$\\theta \\leftarrow \\theta - \\mathrm{lr}_t\\,\\hat m\\,/\\,"
             "(\\sqrt{\\hat v} + \\varepsilon)$\n" + f"lr_t = {lr0:g} (1 − s / {n})", TRUNK, fontsize=FONT)
    for name, a, b in [('g->m', g1.right, m.left), ('g2->v', g2.right, v.left), ('m->m_hat', m.right, mh.left),
                       ('v->v_hat', v.right, vh.left), ('m_hat->step', mh.right, (st.x - st.w / 2, st.y + 0.12)),
                       ('v_hat->step', vh.right, (st.x - st.w / 2, st.y - 0.12))]:
        arrow(ax, name, a, b, color=MUTED)
    label(ax, 0.25, h - 2.45, f"A trace with made-up gradients, computed by scalar.train.Adam "
          f"(step s = t − 1 of {n}):", color=INK, fontsize=FONT, va='center')
    header = ['t', 'g', 'lr_t', 'm', 'v', 'm̂', 'v̂', 'm̂ / √v̂', 'θ moves by']
    body = [[str(r['t']), _f(r['g'], 2), f"{r['lr_t']:.5f}", _f(r['m'], 4), _f(r['v'], 5), _f(r['m_hat'], 4),
             _f(r['v_hat'], 4), _f(r['ratio'], 3), f"{-r['step']:+.5f}"] for r in rows]
    _table(ax, 0.3, h - 2.72, [0.4, 0.65, 0.85, 0.85, 0.85, 0.85, 0.85, 0.95, 0.95], header, body, TRUNK)
    fig.microdnb_alt = (f"Flow of Adam's update for one parameter: the gradient g updates the first moment "
                        f"m with beta1 = {b1:g} and g squared updates the second moment v with beta2 = {b2:g}; "
                        f"both are divided by one minus beta to the power t (bias correction), and the parameter "
                        f"moves by lr_t times m_hat over the square root of v_hat plus {e_txt}, with lr_t = {lr0:g} "
                        f"decaying linearly over {n} steps. Below, a trace of {len(rows)} steps for the gradients "
                        f"{', '.join(_f(r['g'], 2) for r in rows)}: the first step moves the parameter by "
                        f"{rows[0]['step']:.5f}, exactly lr_t, and m_hat / sqrt(v_hat) is "
                        f"{', '.join(_f(r['ratio'], 3) for r in rows)}.")
    return rows, fig


# ---------------------------------------------------------------- attention, by hand

def _toy(rng, n):
    return [round(rng.uniform(-1, 1), 1) for _ in range(n)]


def _heads(q, keys, values, n_head, head_dim, weights):
    """Each head's numbers as a reader computes them; `weights` are the package's."""
    heads = []
    for h in range(n_head):
        hs = slice(h * head_dim, (h + 1) * head_dim)
        qh, kh, vh = q[hs], [k[hs] for k in keys], [v[hs] for v in values]
        scores = [sum(a * b for a, b in zip(qh, k)) for k in kh]
        scaled = [s / math.sqrt(head_dim) for s in scores]
        exps = [math.exp(s) for s in scaled]
        w = weights[h]
        out = [sum(w[t] * vh[t][j] for t in range(len(vh))) for j in range(head_dim)]
        heads.append({'q': qh, 'keys': kh, 'values': vh, 'scores': scores, 'scaled': scaled, 'exps': exps,
                      'weights': w, 'output': out})
    return heads


def _head_tables(ax, y, heads, head_dim, what, color, nd):
    """One table per head; `nd` decimals for its keys and values (1 for the toy's inputs)."""
    widths = [0.9, 1.05, 0.85, 0.8, 0.8, 0.95, 1.05, 1.1]
    for h, hd in enumerate(heads):
        label(ax, 0.3, y - 0.12, f"head {h}: q = {_vec(hd['q'], nd)}", color=INK, fontsize=FONT, va='center')
        header = [what, 'k', 'q·k', f'÷ √{head_dim}', 'e^(·)', 'a = e / Σe', 'v', 'a v']
        rows = [[f"{what[0]}{t}", _vec(k, nd), _f(s, nd + 1), _f(sc, 3), _f(e, 3), _f(a, 3), _vec(v, nd),
                 _vec([a * x for x in v], 3)]
                for t, (k, s, sc, e, a, v) in enumerate(zip(hd['keys'], hd['scores'], hd['scaled'], hd['exps'],
                                                           hd['weights'], hd['values']))]
        rows.append(['sum', '', '', '', _f(sum(hd['exps']), 3), _f(sum(hd['weights']), 3), '',
                     _vec(hd['output'], 3)])
        y = _table(ax, 0.3, y - 0.3, widths, header, rows, color, last_bold=True) - 0.2
    return y


def attention_worked_example(seed=0, n_positions=3, n_embd=4, n_head=2):
    """Self-attention for one token, by hand: a query against `n_positions` keys and values
    (seeded random numbers rounded to one decimal), computed by
    `scalar.layers.multi_head_attention`. Returns (numbers, Figure); numbers has q, keys,
    values, heads (per head: q, keys, values, scores q·k, scaled, exps, weights, output)
    and output (the heads concatenated)."""
    n_positions = check_int(n_positions, 'n_positions', 1, 6)
    n_head = check_int(n_head, 'n_head', 1, 4)
    n_embd = check_int(n_embd, 'n_embd', n_head, 8)
    if n_embd % n_head:
        raise ValueError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head})")
    head_dim = n_embd // n_head
    rng = random.Random(seed)
    q, keys, values = _toy(rng, n_embd), [_toy(rng, n_embd) for _ in range(n_positions)], \
        [_toy(rng, n_embd) for _ in range(n_positions)]
    weights = []
    out = multi_head_attention([Value(x) for x in q], [[Value(x) for x in k] for k in keys],
                               [[Value(x) for x in v] for v in values], n_head, head_dim, weights)
    ex = {'seed': seed, 'n_head': n_head, 'head_dim': head_dim, 'q': q, 'keys': keys, 'values': values,
          'heads': _heads(q, keys, values, n_head, head_dim, weights), 'output': [o.data for o in out]}
    fig, ax = canvas(1.0 + n_head * (0.62 + 0.27 * (n_positions + 2)))
    h = fig.get_figheight()
    ax.text(0.25, h - 0.3, f"Self-attention for one token, by hand: {n_head} heads of {head_dim}, "
            f"{n_positions} positions (seed {seed})", fontsize=TITLE, color=INK, va='center')
    label(ax, 0.3, h - 0.65, f"q = {_vec(q)}; each head takes {head_dim} of the numbers of q, of every key k "
          "and of every value v", color=INK, va='center')
    y = _head_tables(ax, h - 0.8, ex['heads'], head_dim, 'position', TRUNK, 1)
    label(ax, 0.3, y + 0.02, f"output: the heads side by side = {_vec(ex['output'], 3)}", color=INK,
          fontsize=FONT, va='center', weight='bold')
    fig.microdnb_alt = (f"Worked example of self-attention for one token with {n_head} heads of {head_dim} numbers "
                        f"over {n_positions} positions. Query q = {_vec(q)}. " + ' '.join(
                            f"Head {i}: scores q·k = {', '.join(_f(s, 3) for s in hd['scores'])}, divided by the "
                            f"square root of {head_dim}, softmax weights {', '.join(_f(w, 3) for w in hd['weights'])}"
                            f", weighted sum of the values {_vec(hd['output'], 3)}." for i, hd in enumerate(ex['heads']))
                        + f" Output {_vec(ex['output'], 3)}.")
    return ex, fig


# ---------------------------------------------------------------- SNC, by hand

def snc_worked_example(seed=0, gate_logit=None):
    """SNC over two snapshots, by hand, on a tiny config (n_embd 4, 2 heads, notes_dim 2):
    the hidden state x, two notes and the SNC matrices are seeded random numbers rounded to
    one decimal; the delta is `scalar.snc.snc_cross_attention`'s. gate_logit defaults to
    ModelConfig's gate_init (the reference's). Returns (numbers, Figure)."""
    gate_logit = ModelConfig().gate_init if gate_logit is None else float(gate_logit)
    cfg = ModelConfig(vocab_size=2, n_embd=4, n_head=2, notes_dim=2, block_size=1, gate_init=gate_logit)
    rng = random.Random(seed)
    e, d = cfg.n_embd, cfg.notes_dim
    x, notes = _toy(rng, e), [_toy(rng, d), _toy(rng, d)]
    mats = {name: [_toy(rng, cols) for _ in range(rows)]
            for name, rows, cols in [('snc_wq', e, e), ('snc_wk', e, d), ('snc_wv', e, d), ('snc_wo', e, e)]}
    sd = {name: [[Value(w) for w in row] for row in mat] for name, mat in mats.items()}
    sd['snc_gate'] = [[Value(gate_logit)]]
    weights = []
    delta = snc_cross_attention(sd, cfg, [Value(v) for v in x], [[Value(v) for v in n] for n in notes], weights)
    val = lambda vs: [v.data for v in vs]  # noqa: E731
    q = val(linear([Value(v) for v in x], sd['snc_wq']))
    keys = [val(linear([Value(v) for v in n], sd['snc_wk'])) for n in notes]
    values = [val(linear([Value(v) for v in n], sd['snc_wv'])) for n in notes]
    heads = _heads(q, keys, values, cfg.n_head, cfg.head_dim, weights)
    concat = [o for hd in heads for o in hd['output']]
    projected = val(linear([Value(c) for c in concat], sd['snc_wo']))
    g = gate_value(sd)
    ex = {'seed': seed, 'x': x, 'notes': notes, 'matrices': mats, 'q': q, 'keys': keys, 'values': values,
          'heads': heads, 'concat': concat, 'projected': projected, 'gate_logit': gate_logit, 'gate': g,
          'delta': val(delta), 'x_plus_delta': [a + b.data for a, b in zip(x, delta)]}
    fig, ax = canvas(7.3)
    h = fig.get_figheight()
    ax.text(0.25, h - 0.3, f"SNC over two notes, by hand: n_embd {e}, {cfg.n_head} heads of {cfg.head_dim}, "
            f"notes of {d} (seed {seed})", fontsize=TITLE, color=INK, va='center')
    label(ax, 0.3, h - 0.65, f"hidden state x = {_vec(x)}    notes n0 = {_vec(notes[0])},  n1 = {_vec(notes[1])}",
          color=INK, fontsize=FONT, va='center')
    xm = 0.3
    for name, mat in mats.items():  # the matrices, as grids of numbers
        label(ax, xm, h - 0.95, f"{name} ({len(mat)}×{len(mat[0])})", color=INK, va='center')
        for r, row in enumerate(mat):
            for c, w in enumerate(row):
                ax.text(xm + 0.2 + 0.42 * c, h - 1.2 - 0.22 * r, _f(w, 1), ha='center', va='center',
                        fontsize=SMALL, color=INK)
        xm += 0.42 * len(mat[0]) + 0.45
    y = h - 2.2
    for text in (f"q = snc_wq x = {_vec(q, 2)}",
                 f"k0 = snc_wk n0 = {_vec(keys[0], 2)},   k1 = snc_wk n1 = {_vec(keys[1], 2)}",
                 f"v0 = snc_wv n0 = {_vec(values[0], 2)},   v1 = snc_wv n1 = {_vec(values[1], 2)}"):
        label(ax, 0.3, y, text, color=INK, fontsize=FONT, va='center')
        y -= 0.27
    y = _head_tables(ax, y + 0.05, heads, cfg.head_dim, 'note', SNC, 2)
    steps = [('concat', f"the heads side by side\n{_vec(concat, 3)}", SNC, 2.05),
             ('projected', f"after snc_wo\n{_vec(projected, 3)}", SNC, 2.0),
             ('gate', f"× σ({gate_logit:g})\n= {g:.4f}", GATE, 0.85),
             ('delta', f"δ, added to x\n{_vec(ex['delta'], 4)}", TRUNK, 2.3)]
    xb, drawn = 0.3, []
    for name, text, color, w in steps:
        drawn.append((name, box(ax, name, xb + w / 2, y - 0.22, w, 0.56, text, color, fontsize=SMALL)))
        xb += w + 0.12
    for (a, da), (b, db) in zip(drawn, drawn[1:]):
        arrow(ax, f'{a}->{b}', da.right, db.left, color=MUTED)
    ex['delta_ratio'] = math.sqrt(sum(v * v for v in ex['delta']) / sum(v * v for v in x))
    label(ax, 0.3, y - 0.75, f"x + δ = {_vec(ex['x_plus_delta'], 4)}: the notes move x by "
          f"{100 * ex['delta_ratio']:.2f} % of its length (|δ| / |x|)", color=INK, fontsize=FONT, va='center')
    fig.microdnb_alt = (f"Worked example of SNC over two notes on a tiny configuration (hidden size {e}, "
                        f"{cfg.n_head} heads of {cfg.head_dim}, notes of {d} numbers). Hidden state x = {_vec(x)}, "
                        f"notes {_vec(notes[0])} and {_vec(notes[1])}, and the four SNC matrices are shown; the "
                        f"query q = {_vec(q, 2)} comes from x, keys and values from the notes. " + ' '.join(
                            f"Head {i} weights the two notes {', '.join(_f(w, 3) for w in hd['weights'])}."
                            for i, hd in enumerate(heads))
                        + f" The heads' outputs pass snc_wo, giving {_vec(projected, 3)}, and are multiplied by "
                        f"the gate sigmoid({gate_logit:g}) = {g:.4f}: the delta added to x is {_vec(ex['delta'], 4)}, "
                        f"{100 * ex['delta_ratio']:.2f} % of the length of x.")
    return ex, fig

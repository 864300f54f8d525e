"""The diagrams draw what they claim, from the package's own definitions.

Each check reads the drawing back (the gids of its boxes and arrows, its texts, the
marks it records) and compares it with an independent source: the scalar model's
actual order of operations, `param_shapes`, `bus.emits`, `bus.visibility`, and numpy
recomputations of the worked examples.
"""
import math
import random
import time

import matplotlib

matplotlib.use('Agg')  # no display in tests
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from microdnb.bus import emits, visibility  # noqa: E402
from microdnb.config import ModelConfig, TrainConfig  # noqa: E402
from microdnb.figures import diagrams as D, display  # noqa: E402
from microdnb.params import param_shapes  # noqa: E402
from microdnb.scalar import model  # noqa: E402
from microdnb.scalar.train import train_phase1  # noqa: E402

ODD = ModelConfig(vocab_size=30, n_embd=12, n_head=3, block_size=10, notes_dim=5, n_layer=2, gate_init=-3.0)
LENGTHS = [10, 7, 9]  # charlotte, amelia, theodore: chapter 6's streams


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close('all')


def boxes(fig):
    """name -> (x centre, y centre) of every box drawn."""
    out = {}
    for p in fig.axes[0].patches:
        gid = p.get_gid() or ''
        if gid.startswith('box:'):
            out[gid[4:]] = (p.get_x() + p.get_width() / 2, p.get_y() + p.get_height() / 2)
    return out


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def luminance(color):
    return float(np.dot(to_rgb(color), [0.2126, 0.7152, 0.0722]))


ALL = {
    'gpt_block': lambda: D.gpt_block(),
    'bus_dataflow': lambda: D.bus_dataflow(),
    'read_rule': lambda: D.read_rule(LENGTHS, 3, (0, 1)),
    'adam_update': lambda: D.adam_update()[1],
    'attention_worked_example': lambda: D.attention_worked_example()[1],
    'snc_worked_example': lambda: D.snc_worked_example()[1],
}


# ---------------------------------------------------------------- every diagram

@pytest.mark.slow
@pytest.mark.parametrize('name', ALL)
def test_renders_in_under_a_second(name):
    best = math.inf
    for _ in range(2):  # the better of two, in this process's CPU time: other load on the machine does not count
        t0 = time.process_time()
        png = display.png(ALL[name]())
        best = min(best, time.process_time() - t0)
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    assert best < 1.0, f"{name} took {best:.2f} s"


@pytest.mark.parametrize('name', ALL)
def test_reads_in_light_and_dark_mode(name):
    """A light card under everything, transparent around it, dark text of at least 9 pt."""
    fig = ALL[name]()
    assert fig.patch.get_alpha() == 0.0
    (card,) = [p for p in fig.axes[0].patches if p.get_gid() == 'card']
    assert luminance(card.get_facecolor()) > 0.95
    for t in fig.axes[0].texts:
        assert t.get_fontsize() >= 9, t.get_text()
        assert luminance(t.get_color()) < 0.35, t.get_text()
    assert fig.get_figwidth() == pytest.approx(8.0)


@pytest.mark.parametrize('name', ALL)
def test_has_an_alt_text(name):
    alt = ALL[name]().microdnb_alt
    assert len(alt) > 200 and '\n' not in alt


def test_show_carries_a_diagrams_alt_text(monkeypatch):
    shown = []
    monkeypatch.setattr('IPython.display.display', shown.append)
    display.show(D.gpt_block())  # how the chapters show a diagram, like any other figure
    out = shown[0]._repr_mimebundle_()['text/html']
    assert out.startswith('<img class="microdnb-figure" src="data:image/png;base64,')
    assert 'alt="Diagram of one position' in out
    assert "other streams&#x27; notes" in out  # quotes escaped


# ---------------------------------------------------------------- the GPT block

def model_order(cfg):
    """The stages of scalar.model.gpt, in the order it runs them for one position (layer 0)."""
    names = {}
    calls = []
    rng = random.Random(0)
    sd = model.init_params(cfg, rng)
    for name, mat in sd.items():
        names[id(mat)] = name
    orig = {f: getattr(model, f) for f in ('rmsnorm', 'linear', 'multi_head_attention', 'snc_cross_attention')}

    def spy(f):
        def run(*args, **kw):
            if f == 'linear':
                calls.append(names.get(id(args[1]), '?'))
            else:
                calls.append(f)
            return orig[f](*args, **kw)
        return run

    mp = pytest.MonkeyPatch()
    try:
        for f in orig:
            mp.setattr(model, f, spy(f))
        note = [model.Value(0.1)] * cfg.notes_dim
        model.gpt(sd, cfg, 0, 0, [[] for _ in range(cfg.n_layer)], [[] for _ in range(cfg.n_layer)], notes=[note])
    finally:
        mp.undo()
    # one layer's worth, mapped to the diagram's boxes
    stage = {'layer0.attn_wq': 'attn1', 'layer0.attn_wk': 'attn1', 'layer0.attn_wv': 'attn1',
             'multi_head_attention': 'attn1', 'layer0.attn_wo': 'attn2', 'snc_cross_attention': 'snc',
             'layer0.mlp_fc1': 'mlp1', 'layer0.mlp_fc2': 'mlp2', 'lm_head': 'lm_head'}
    norms = iter(['rmsnorm_emb', 'attn0', 'mlp0'])
    out = []
    for c in calls:
        s = next(norms, None) if c == 'rmsnorm' else stage.get(c)
        if s and (not out or out[-1] != s):
            out.append(s)
    return out


def test_gpt_block_follows_the_model_order():
    """Left to right (bottom to top within a column), the boxes are the order `gpt` runs."""
    cfg = ModelConfig(n_layer=1)
    order = model_order(cfg)
    assert order == ['rmsnorm_emb', 'attn0', 'attn1', 'attn2', 'snc', 'mlp0', 'mlp1', 'mlp2', 'lm_head']
    pos = boxes(D.gpt_block(cfg))
    drawn = sorted(order, key=lambda name: pos[name])
    assert drawn == order


def test_gpt_block_snc_reads_the_residual_unnormalised():
    """No RMSNorm between the attention's residual add and SNC, in the model and in the drawing."""
    order = model_order(ModelConfig())
    assert order[order.index('snc') - 1] == 'attn2'
    fig = D.gpt_block()
    arrows = D.gids(fig, 'arrow:')
    assert 'arrow:x->snc' in arrows and 'arrow:bus->snc' in arrows and 'arrow:gate->add' in arrows
    pos = boxes(fig)
    assert pos['snc'][1] < 2.3 < pos['attn0'][1]  # below the residual line, the trunk above it
    assert any('not normalised' in t for t in texts(fig))


def test_gpt_block_sizes_come_from_the_config():
    fig = D.gpt_block(ODD)
    sh = param_shapes(ODD)
    text = '\n'.join(texts(fig))
    for name in ('wte', 'wpe', 'lm_head', 'notes_proj', 'snc_wq', 'snc_wk', 'snc_wo', 'layer0.mlp_fc1'):
        rows, cols = sh[name]
        assert f"{rows}×{cols}" in text, name
    assert f"{ODD.n_head} heads" in text and 'n_layer = 2' in text
    assert f"{1 / (1 + math.exp(3)):.4f}" in text
    assert len(D.gids(fig, 'add:')) == 4  # embedding, attention, SNC, MLP
    alt = fig.microdnb_alt
    for piece in ('12 numbers', '3 heads of 4', 'notes of 5 numbers', '30 logits', 'g = -3', '12 to 48'):
        assert piece in alt, piece


# ---------------------------------------------------------------- the bus's data flow

def test_bus_dataflow_posts_where_emits_says():
    cfg = ModelConfig()
    fig = D.bus_dataflow(cfg, n_streams=4, cadence=2, positions=7, reader=1)
    names = boxes(fig)
    posts = [p for p in range(7) if emits(p, 2)]
    assert posts == [1, 3, 5]
    for s in range(4):
        assert f'stream{s}' in names and f'plan{s}' in names
        assert sorted(int(k.split('@')[1]) for k in names if k.startswith(f'note{s}@')) == posts
    arrows = D.gids(fig, 'arrow:')
    assert sum(a.startswith('arrow:planner->plan') for a in arrows) == 4
    assert sum(a.endswith('->bus') and a.startswith('arrow:stream') for a in arrows) == 4
    assert 'arrow:stream1->x' in arrows  # the reader's residual feeds its SNC
    dashed = {p.get_gid() for p in fig.axes[0].patches if p.get_linestyle() in ('--', 'dashed')}
    assert dashed == {f'box:note1@{p}' for p in posts}  # only the reader's own notes
    alt = fig.microdnb_alt
    for piece in ('4 streams', 'after positions 1, 3, 5', 'cadence 2', 'SNC of stream 1', 'note of 8 numbers',
                  '4 heads'):
        assert piece in alt, piece


def test_bus_dataflow_sizes_and_checks():
    text = '\n'.join(texts(D.bus_dataflow(ODD, n_streams=2)))
    assert '5×12' in text and '√4' in text and '3 heads' in text
    with pytest.raises(ValueError, match='n_streams'):
        D.bus_dataflow(n_streams=0)
    with pytest.raises(ValueError, match='reader'):
        D.bus_dataflow(n_streams=2, reader=2)


# ---------------------------------------------------------------- the read rule

CASES = [(LENGTHS, 3, ()), ([4, 4], 1, ()), ([5, 2, 6, 3], 2, (1,)), ([12, 12, 12], 6, ())]


@pytest.mark.parametrize('lengths,cadence,ended', CASES)
def test_read_rule_marks_are_bus_visibility(lengths, cadence, ended):
    fig = D.read_rule(lengths, cadence, (0, 1, 2), ended=ended)
    arrows = D.gids(fig, 'arrow:')
    for lag in (0, 1, 2):
        posts, reads = visibility(lengths, cadence, lag, ended)
        first = {}  # independently: the earliest round each other stream reads each post
        for (o, t), labels in reads.items():
            for s, r in labels:
                if r is not None:
                    first[(s, r, o)] = min(t, first.get((s, r, o), t))
        marks = fig.microdnb_marks[lag]
        assert marks['posts'] == posts and marks['first_read'] == first
        drawn = sorted(a for a in arrows if a.startswith(f'arrow:{lag}:'))
        assert drawn == sorted(f'arrow:{lag}:s{s}@p{r}->s{o}@{t}' for (s, r, o), t in first.items())
        dots = {l.get_gid() for l in fig.axes[0].lines if (l.get_gid() or '').startswith(f'post:{lag}:')}
        assert dots == {f'post:{lag}:{s}:{r}' for s, rs in enumerate(posts) for r in rs}
        for (s, r, o), t in first.items():
            assert t >= r + lag or (lag == 0 and t == r and o > s)


def test_read_rule_lag0_is_round_robin_and_lag1_symmetric():
    fig = D.read_rule(LENGTHS, 3, (0, 1))
    same0 = {k for k, t in fig.microdnb_marks[0]['first_read'].items() if t == k[1]}
    assert same0 and all(o > s for s, r, o in same0)  # only later streams, in the post's own round
    assert all(t == r + 1 for (s, r, o), t in fig.microdnb_marks[1]['first_read'].items())
    alt = fig.microdnb_alt
    n0, n1 = (len(fig.microdnb_marks[lag]['first_read']) for lag in (0, 1))
    assert f"With lag 0, {n0} arrows" in alt and f"{len(same0)} of them stay" in alt
    assert f"With lag 1, {n1} arrows" in alt
    assert 'stream 1 after positions 2, 5' in alt and 'cadence 3' in alt and '10, 7, 9' in alt


def test_read_rule_one_lag_and_bad_input():
    fig = D.read_rule([3, 3], 1, 1)
    assert list(fig.microdnb_marks) == [1]
    with pytest.raises(ValueError):
        D.read_rule([], 3, 0)
    with pytest.raises(ValueError, match='cadence'):
        D.read_rule([3], 0, 0)
    with pytest.raises(ValueError):
        D.read_rule([3], 1, ())


# ---------------------------------------------------------------- Adam

def numpy_adam(grads, lr0, num_steps, b1, b2, eps):
    m = v = theta = 0.0
    out = []
    for s, g in enumerate(grads):
        lr = lr0 * (1 - s / num_steps)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        mh, vh = m / (1 - b1 ** (s + 1)), v / (1 - b2 ** (s + 1))
        theta -= lr * mh / (np.sqrt(vh) + eps)
        out.append((lr, m, v, mh, vh, theta))
    return out


@pytest.mark.parametrize('phase', [1, 2])
def test_adam_trace_is_adam(phase):
    tcfg = TrainConfig(steps=50, snc_steps=20, learning_rate=0.03, snc_learning_rate=0.002, beta1=0.9, beta2=0.95)
    grads = [0.3, -0.1, 0.7, 0.7, 0.2, -2.0]
    rows = D.adam_trace(tcfg, grads, phase)
    lr0, n = (0.03, 50) if phase == 1 else (0.002, 20)
    ref = numpy_adam(grads, lr0, n, 0.9, 0.95, tcfg.eps_adam)
    for r, (lr, m, v, mh, vh, theta) in zip(rows, ref):
        assert (r['lr_t'], r['m'], r['v'], r['m_hat'], r['v_hat'], r['theta']) == pytest.approx(
            (lr, m, v, mh, vh, theta), rel=1e-12, abs=1e-15)
    assert rows[0]['step'] == pytest.approx(lr0, rel=1e-6)  # the first step moves by lr_t exactly


def test_adam_trace_uses_the_training_schedule(tiny_cfg, tiny_docs, tiny_tokenizer):
    """lr_t is what train_phase1 itself uses at each step."""
    tcfg = TrainConfig(steps=3, learning_rate=0.02)
    seen = []
    train_phase1(model.init_params(tiny_cfg, random.Random(0)), tiny_cfg, tcfg, tiny_docs, tiny_tokenizer,
                 callback=lambda info: seen.append(info['lr']))
    assert [r['lr_t'] for r in D.adam_trace(tcfg, [1.0, 1.0, 1.0])] == seen


def test_adam_update_shows_the_config_and_the_trace():
    tcfg = TrainConfig()
    rows, fig = D.adam_update(tcfg)
    text = '\n'.join(texts(fig))
    assert 'β1 = 0.85' in text and 'β2 = 0.99' in text and 'ε = 1e-8' in text and '0.01 (1 − s / 1000)' in text
    assert f"{rows[2]['ratio']:.3f}" in text and f"{-rows[4]['step']:+.5f}" in text
    assert len(D.gids(fig, 'arrow:')) == 6
    assert 'beta1 = 0.85' in fig.microdnb_alt and f"{rows[1]['ratio']:.3f}" in fig.microdnb_alt
    with pytest.raises(ValueError, match='grads'):
        D.adam_trace(TrainConfig(steps=2), [1, 2, 3])


# ---------------------------------------------------------------- worked examples

def numpy_attention(q, K, V, n_head):
    hd = len(q) // n_head
    out, weights = [], []
    for h in range(n_head):
        sl = slice(h * hd, (h + 1) * hd)
        s = K[:, sl] @ q[sl] / np.sqrt(hd)
        w = np.exp(s - s.max())
        w /= w.sum()
        weights.append(w)
        out.append(w @ V[:, sl])
    return np.concatenate(out), weights


@pytest.mark.parametrize('seed', [0, 1, 7])
def test_attention_example_is_attention(seed):
    ex, fig = D.attention_worked_example(seed=seed)
    q, K, V = np.array(ex['q']), np.array(ex['keys']), np.array(ex['values'])
    assert all(round(x, 1) == x for x in np.concatenate([q, K.ravel(), V.ravel()]))  # one decimal, by hand
    out, weights = numpy_attention(q, K, V, 2)
    np.testing.assert_allclose(ex['output'], out, rtol=0, atol=1e-12)
    for hd, w, h in zip(ex['heads'], weights, range(2)):
        np.testing.assert_allclose(hd['weights'], w, atol=1e-12)
        np.testing.assert_allclose(hd['scores'], K[:, 2 * h:2 * h + 2] @ q[2 * h:2 * h + 2], atol=1e-12)
        np.testing.assert_allclose(np.array(hd['exps']) / sum(hd['exps']), w, atol=1e-12)
    text = '\n'.join(texts(fig))
    assert f"{ex['heads'][1]['weights'][2]:.3f}" in text and f"{ex['output'][3]:.3f}" in text
    assert f"{ex['heads'][0]['weights'][0]:.3f}" in fig.microdnb_alt
    assert D.attention_worked_example(seed=seed)[0] == ex  # seeded


def test_attention_example_other_sizes():
    ex, _ = D.attention_worked_example(seed=3, n_positions=4, n_embd=6, n_head=3)
    out, _ = numpy_attention(np.array(ex['q']), np.array(ex['keys']), np.array(ex['values']), 3)
    np.testing.assert_allclose(ex['output'], out, atol=1e-12)
    with pytest.raises(ValueError):
        D.attention_worked_example(n_embd=5, n_head=2)


@pytest.mark.parametrize('seed,gate_logit', [(0, None), (4, 0.0), (9, 1.5)])
def test_snc_example_is_snc(seed, gate_logit):
    ex, fig = D.snc_worked_example(seed=seed, gate_logit=gate_logit)
    W = {k: np.array(v) for k, v in ex['matrices'].items()}
    x, notes = np.array(ex['x']), np.array(ex['notes'])
    q = W['snc_wq'] @ x
    K, V = notes @ W['snc_wk'].T, notes @ W['snc_wv'].T
    out, weights = numpy_attention(q, K, V, 2)
    g_logit = ModelConfig().gate_init if gate_logit is None else gate_logit
    gate = 1 / (1 + np.exp(-g_logit))
    delta = gate * (W['snc_wo'] @ out)
    np.testing.assert_allclose(ex['q'], q, atol=1e-12)
    np.testing.assert_allclose(ex['keys'], K, atol=1e-12)
    np.testing.assert_allclose(ex['concat'], out, atol=1e-12)
    np.testing.assert_allclose(ex['delta'], delta, atol=1e-12)
    np.testing.assert_allclose(ex['x_plus_delta'], x + delta, atol=1e-12)
    assert ex['gate'] == pytest.approx(gate, rel=1e-12)
    assert ex['delta_ratio'] == pytest.approx(np.linalg.norm(delta) / np.linalg.norm(x), rel=1e-12)
    for hd, w in zip(ex['heads'], weights):
        np.testing.assert_allclose(hd['weights'], w, atol=1e-12)
    text = '\n'.join(texts(fig))
    assert f"{ex['delta'][0]:.4f}" in text and f"{gate:.4f}" in text
    assert f"{ex['delta'][2]:.4f}" in fig.microdnb_alt and f"sigmoid({g_logit:g})" in fig.microdnb_alt
    assert len(D.gids(fig, 'box:')) == 4 and len(D.gids(fig, 'arrow:')) == 3

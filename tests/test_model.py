"""Parameters (shapes, RNG order), the building blocks and the forward pass."""
import math
import random

import pytest

from microdnb.scalar.autograd import Value
from microdnb.config import ModelConfig
from microdnb.scalar.layers import linear, multi_head_attention, rmsnorm, sigmoid, softmax
from microdnb.params import SNC_KEYS, base_keys, param_shapes
from microdnb.scalar.model import gpt, init_params, param_list
from microdnb.scalar.planner import plan_seed


def test_parameter_counts_are_the_references():
    cfg = ModelConfig()
    sd = init_params(cfg, random.Random(42))
    assert len(param_list(sd, base_keys(cfg))) == 4192
    assert len(param_list(sd, SNC_KEYS)) == 1025
    assert list(sd) == list(param_shapes(cfg))
    assert set(base_keys(cfg)) | set(SNC_KEYS) == set(sd) and not set(base_keys(cfg)) & set(SNC_KEYS)


def test_init_draws_in_the_reference_order():
    """Every matrix row by row, trunk first, then SNC; the gate is a constant, not a draw."""
    cfg = ModelConfig(vocab_size=5, n_layer=2, n_embd=4, n_head=2, block_size=3, notes_dim=2,
                      init_std=0.3, gate_init=-2.0)
    sd = init_params(cfg, random.Random(7))
    r = random.Random(7)
    order = ['wte', 'wpe', 'lm_head'] + [f'layer{i}.{k}' for i in range(2) for k in
                                         ('attn_wq', 'attn_wk', 'attn_wv', 'attn_wo', 'mlp_fc1', 'mlp_fc2')] \
        + ['notes_proj', 'planner_proj', 'snc_wq', 'snc_wk', 'snc_wv', 'snc_wo']
    shapes = {'wte': (5, 4), 'wpe': (3, 4), 'lm_head': (5, 4), 'attn_wq': (4, 4), 'attn_wk': (4, 4),
              'attn_wv': (4, 4), 'attn_wo': (4, 4), 'mlp_fc1': (16, 4), 'mlp_fc2': (4, 16),
              'notes_proj': (2, 4), 'planner_proj': (2, 4), 'snc_wq': (4, 4), 'snc_wk': (4, 2),
              'snc_wv': (4, 2), 'snc_wo': (4, 4)}
    for name in order:
        rows, cols = shapes[name.split('.')[-1]]
        expected = [[r.gauss(0, 0.3) for _ in range(cols)] for _ in range(rows)]
        assert [[v.data for v in row] for row in sd[name]] == expected, name
    assert [[v.data for v in row] for row in sd['snc_gate']] == [[-2.0]]


def test_trunk_init_is_microgpts_whatever_the_snc_settings():
    a = init_params(ModelConfig(), random.Random(42))
    b = init_params(ModelConfig(notes_dim=3, gate_init=1.0), random.Random(42))
    for key in base_keys(ModelConfig()):
        assert [[v.data for v in row] for row in a[key]] == [[v.data for v in row] for row in b[key]]


# ---- building blocks against plain float math ---------------------------------------

def test_linear_softmax_rmsnorm_sigmoid():
    x = [0.5, -1.0, 2.0]
    w = [[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]]
    assert [v.data for v in linear([Value(a) for a in x], [[Value(b) for b in row] for row in w])] == [4.5, 0.5]
    logits = [1.0, 2.0, 700.0]  # 700 would overflow exp without the max subtraction
    p = [v.data for v in softmax([Value(a) for a in logits])]
    e = [math.exp(a - 700.0) for a in logits]
    assert p == pytest.approx([a / sum(e) for a in e], rel=1e-15) and sum(p) == pytest.approx(1.0)
    n = [v.data for v in rmsnorm([Value(a) for a in x])]
    ms = sum(a * a for a in x) / 3
    assert n == pytest.approx([a / math.sqrt(ms + 1e-5) for a in x], rel=1e-14)
    assert sigmoid(Value(-5.0)).data == pytest.approx(1 / (1 + math.exp(5)), rel=1e-15)


def test_multi_head_attention_heads_are_independent_and_weights_sum_to_one():
    rng = random.Random(0)
    n_head, head_dim, T = 2, 3, 4
    vec = lambda: [Value(rng.uniform(-1, 1)) for _ in range(n_head * head_dim)]
    q, keys, values = vec(), [vec() for _ in range(T)], [vec() for _ in range(T)]
    weights = []
    out = multi_head_attention(q, keys, values, n_head, head_dim, weights)
    assert len(out) == n_head * head_dim and len(weights) == n_head
    for h in range(n_head):
        s = slice(h * head_dim, (h + 1) * head_dim)
        logits = [sum(a.data * b.data for a, b in zip(q[s], k[s])) / math.sqrt(head_dim) for k in keys]
        e = [math.exp(l) for l in logits]
        w = [a / sum(e) for a in e]
        assert weights[h] == pytest.approx(w, rel=1e-13)
        expected = [sum(w[t] * values[t][s][j].data for t in range(T)) for j in range(head_dim)]
        assert [v.data for v in out[s]] == pytest.approx(expected, rel=1e-13)


# ---- the forward pass ---------------------------------------------------------------

def test_gpt_forward_shapes_cache_and_record(tiny_cfg, rng):
    sd = init_params(tiny_cfg, rng)
    keys, values = [[] for _ in range(tiny_cfg.n_layer)], [[] for _ in range(tiny_cfg.n_layer)]
    notes = [[Value(0.1 * i) for _ in range(tiny_cfg.notes_dim)] for i in range(3)]
    for pos in range(3):
        rec = {}
        logits, hidden = gpt(sd, tiny_cfg, pos, pos, keys, values, notes=notes, record=rec)
        assert len(logits) == tiny_cfg.vocab_size and len(hidden) == tiny_cfg.n_embd
        assert len(keys[0]) == len(values[0]) == pos + 1  # this position's k, v appended
        assert [len(w) for w in rec['attn'][0]] == [pos + 1] * tiny_cfg.n_head
        assert [len(w) for w in rec['snc'][0]] == [3] * tiny_cfg.n_head
        assert len(rec['snc_delta'][0]) == tiny_cfg.n_embd
    # recording changes nothing
    k2, v2 = [[] for _ in range(tiny_cfg.n_layer)], [[] for _ in range(tiny_cfg.n_layer)]
    for pos in range(3):
        plain, _ = gpt(sd, tiny_cfg, pos, pos, k2, v2, notes=notes)
    assert [v.data for v in plain] == [v.data for v in logits]


def test_recorded_snc_delta_is_gate_times_projection(tiny_cfg, rng):
    """SNC's input does not depend on the gate, so the delta scales exactly with sigmoid(logit)."""
    sd = init_params(tiny_cfg, rng)
    notes = [[Value(1.0) for _ in range(tiny_cfg.notes_dim)]]
    deltas = {}
    for logit in (0.0, -30.0):
        sd['snc_gate'][0][0].data = logit
        rec = {}
        gpt(sd, tiny_cfg, 0, 0, [[]], [[]], notes=notes, record=rec)
        deltas[logit] = rec['snc_delta'][0]
    ratio = 1 / (1 + math.exp(30.0)) / 0.5
    assert deltas[-30.0] == pytest.approx([d * ratio for d in deltas[0.0]], rel=1e-9)
    assert max(map(abs, deltas[0.0])) > 1e-4


def test_plan_seed_is_the_projected_bos_hidden_state(tiny_cfg, rng):
    sd = init_params(tiny_cfg, rng)
    bos = tiny_cfg.vocab_size - 1
    seed = plan_seed(sd, tiny_cfg, bos)
    _, hidden = gpt(sd, tiny_cfg, bos, 0, [[]], [[]])
    assert [v.data for v in seed] == [v.data for v in linear(hidden, sd['planner_proj'])]
    assert [v.data for v in plan_seed(sd, tiny_cfg, bos)] == [v.data for v in seed]  # a constant
    assert len(seed) == tiny_cfg.notes_dim

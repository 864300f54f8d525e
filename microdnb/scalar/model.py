"""Parameters and the GPT forward pass (scalar engine).

`state_dict` maps a name to a matrix (list of rows of `Value`s), exactly as in
microgpt. The SNC / planner parameters are drawn after the trunk's, so the trunk
is initialised exactly as in the original microgpt for the same seed.
"""
from ..params import float_rows, param_shapes
from .autograd import Value
from .layers import linear, matrix, multi_head_attention, rmsnorm
from .snc import snc_cross_attention


def init_params(cfg, rng):
    """A fresh state_dict, drawing from `rng` (a random.Random) in the reference's order:
    `param_shapes` order, row by row, one rng.gauss per entry; the gate is a constant.
    The numpy `init_params` draws the same numbers in the same order (as float64 arrays)."""
    state_dict = {}
    for name, (nout, nin) in param_shapes(cfg).items():
        if name == 'snc_gate':
            state_dict[name] = [[Value(cfg.gate_init)]]  # a constant, not a draw
        else:
            state_dict[name] = matrix(rng, nout, nin, cfg.init_std)
    return state_dict


def params_from(params):
    """A state_dict of fresh `Value`s from any engine's parameters (`params.float_rows`)."""
    return {name: [[Value(x) for x in row] for row in rows] for name, rows in float_rows(params, 'params_from: params').items()}


def param_list(state_dict, keys):
    """The Values of the named matrices, flattened row by row (the order Adam updates them)."""
    return [p for key in keys for row in state_dict[key] for p in row]


def gpt(state_dict, cfg, token_id, pos_id, keys, values, notes=None, record=None, gate=None):
    """One position of the GPT. Returns (logits, hidden state).

    keys, values: per-layer KV caches of this stream; this position's k, v are appended.
    notes: None for the plain trunk; else the snapshots this stream can read, and
           Shared Notes Cross-Attention runs between self-attention and the MLP.
    gate: None for the trained gate; a number in [0, 1] replaces it in SNC.
    record: optional dict; receives 'attn' (per layer, per head weights over the
           past), 'snc' (per layer, per head weights over the notes) and 'snc_delta'
           (per layer, the gated SNC delta as floats). For plots only.
    """
    tok_emb = state_dict['wte'][token_id]
    pos_emb = state_dict['wpe'][pos_id]
    x = [t + p for t, p in zip(tok_emb, pos_emb)]
    x = rmsnorm(x)
    if record is not None:
        record.setdefault('attn', []); record.setdefault('snc', []); record.setdefault('snc_delta', [])
    for li in range(cfg.n_layer):
        # 1) Multi-head attention
        x_residual = x
        x = rmsnorm(x)
        q = linear(x, state_dict[f'layer{li}.attn_wq'])
        k = linear(x, state_dict[f'layer{li}.attn_wk'])
        v = linear(x, state_dict[f'layer{li}.attn_wv'])
        keys[li].append(k)
        values[li].append(v)
        weights = [] if record is not None else None
        x_attn = multi_head_attention(q, keys[li], values[li], cfg.n_head, cfg.head_dim, weights)
        x = linear(x_attn, state_dict[f'layer{li}.attn_wo'])
        x = [a + b for a, b in zip(x, x_residual)]
        if record is not None:
            record['attn'].append(weights)
        # SNC cross-attention, inserted between self-attention and the MLP
        if notes is not None:
            snc_weights = [] if record is not None else None
            snc_delta = snc_cross_attention(state_dict, cfg, x, notes, snc_weights, gate)
            x = [a + b for a, b in zip(x, snc_delta)]
            if record is not None:
                record['snc'].append(snc_weights)
                record['snc_delta'].append([d.data for d in snc_delta])
        # 2) MLP
        x_residual = x
        x = rmsnorm(x)
        x = linear(x, state_dict[f'layer{li}.mlp_fc1'])
        x = [xi.relu() for xi in x]
        x = linear(x, state_dict[f'layer{li}.mlp_fc2'])
        x = [a + b for a, b in zip(x, x_residual)]
    logits = linear(x, state_dict['lm_head'])
    return logits, x  # the hidden state is what snapshots are projected from

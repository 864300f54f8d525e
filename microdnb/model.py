"""Parameters and the GPT forward pass (scalar engine).

`state_dict` maps a name to a matrix (list of rows of `Value`s), exactly as in
microgpt. The SNC / planner parameters are drawn after the trunk's, so the trunk
is initialised exactly as in the original microgpt for the same seed.
"""
from .autograd import Value
from .config import ModelConfig
from .layers import linear, matrix, multi_head_attention, rmsnorm
from .snc import snc_cross_attention

SNC_KEYS = ('notes_proj', 'planner_proj', 'snc_wq', 'snc_wk', 'snc_wv', 'snc_wo', 'snc_gate')


def base_keys(cfg):
    keys = ['wte', 'wpe', 'lm_head']
    for i in range(cfg.n_layer):
        keys += [f'layer{i}.attn_wq', f'layer{i}.attn_wk', f'layer{i}.attn_wv',
                 f'layer{i}.attn_wo', f'layer{i}.mlp_fc1', f'layer{i}.mlp_fc2']
    return keys


def param_shapes(cfg):
    """name -> (rows, cols) for every parameter matrix, in initialisation order."""
    e, d = cfg.n_embd, cfg.notes_dim
    shapes = {'wte': (cfg.vocab_size, e), 'wpe': (cfg.block_size, e), 'lm_head': (cfg.vocab_size, e)}
    for i in range(cfg.n_layer):
        shapes.update({f'layer{i}.attn_wq': (e, e), f'layer{i}.attn_wk': (e, e),
                       f'layer{i}.attn_wv': (e, e), f'layer{i}.attn_wo': (e, e),
                       f'layer{i}.mlp_fc1': (4 * e, e), f'layer{i}.mlp_fc2': (e, 4 * e)})
    shapes.update({'notes_proj': (d, e),    # hidden -> notes, for evolving snapshots
                   'planner_proj': (d, e),  # hidden -> plan seed, snapshot 0 at t = 0
                   'snc_wq': (e, e),        # query from the hidden state
                   'snc_wk': (e, d),        # key from a note
                   'snc_wv': (e, d),        # value from a note
                   'snc_wo': (e, e),        # output projection
                   'snc_gate': (1, 1)})     # gate logit
    return shapes


def init_params(cfg, rng):
    """A fresh state_dict, drawing from `rng` (a random.Random) in the reference's order."""
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"init_params needs a ModelConfig, got {type(cfg).__name__}")
    state_dict = {}
    for name, (nout, nin) in param_shapes(cfg).items():
        if name == 'snc_gate':
            state_dict[name] = [[Value(cfg.gate_init)]]  # a constant, not a draw
        else:
            state_dict[name] = matrix(rng, nout, nin, cfg.init_std)
    return state_dict


def param_list(state_dict, keys):
    """The Values of the named matrices, flattened row by row (the order Adam updates them)."""
    return [p for key in keys for row in state_dict[key] for p in row]


def gpt(state_dict, cfg, token_id, pos_id, keys, values, notes=None, record=None):
    """One position of the GPT. Returns (logits, hidden state).

    keys, values: per-layer KV caches of this stream; this position's k, v are appended.
    notes: None for the plain trunk; else the snapshots this stream can read, and
           Shared Notes Cross-Attention runs between self-attention and the MLP.
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
            snc_delta = snc_cross_attention(state_dict, cfg, x, notes, snc_weights)
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

"""The parameter layout both engines and checkpoints share: names, shapes, init order.

The SNC / planner matrices come after the trunk's, so the trunk is drawn exactly as in
the original microgpt for the same seed.
"""

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


"""The parameter layout both engines and checkpoints share: names, shapes, init order; and
any engine's parameter matrix read as rows of floats.

The SNC / planner matrices come after the trunk's, so the trunk is drawn exactly as in
the original microgpt for the same seed.
"""
import math
import numbers

SNC_KEYS = ('notes_proj', 'planner_proj', 'snc_wq', 'snc_wk', 'snc_wv', 'snc_wo', 'snc_gate')


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


def base_keys(cfg):
    """The trunk's parameters (every one but SNC_KEYS), in initialisation order."""
    return [name for name in param_shapes(cfg) if name not in SNC_KEYS]


def float_rows(params, what='params'):
    """Any engine's parameters as name -> rows of Python floats: each matrix rows of the
    scalar engine's `Value`s (their .data) or of numbers, or a 2-D numpy array. Both
    engines' `params_from` and the checkpoint writer read parameters through it. ValueError
    naming `what` and the entry for anything that is not a dict of matrices (rows of one
    length) of finite real numbers."""
    if not isinstance(params, dict) or not params:
        raise ValueError(f"{what} must be a dict name -> matrix (any engine's, not empty), got "
                         f"{type(params).__name__}")
    return {name: _rows(matrix, f"{what}[{name!r}]") for name, matrix in params.items()}


def _rows(matrix, where):
    try:
        rows = [list(row) for row in (matrix.tolist() if hasattr(matrix, 'tolist') else matrix)]
    except TypeError:
        rows = None
    if not rows or any(len(row) != len(rows[0]) for row in rows) or not rows[0]:
        raise ValueError(f"{where} is not a matrix (rows of numbers, all of one length)")
    for i, row in enumerate(rows):
        for j, x in enumerate(row):
            v = getattr(x, 'data', x)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"{where}[{i}][{j}] is {v!r:.40}, not a number")
            try:
                row[j] = float(v)
            except OverflowError:  # an integer beyond the float range
                raise ValueError(f"{where}[{i}][{j}] is an integer beyond the range of a float") from None
        if not math.isfinite(sum(row)):  # one sum per row; the scan only when it is not finite
            j = next((j for j, v in enumerate(row) if not math.isfinite(v)), None)
            if j is not None:
                raise ValueError(f"{where}[{i}][{j}] is {row[j]}, not a finite number")
    return rows

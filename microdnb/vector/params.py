"""The numpy engine's parameters: a dict name -> 2-D float64 array, made from any engine's
parameters, and arranged once per call for the forward pass."""
import math

import numpy as np

from ..params import float_rows, param_shapes


def params_from(params):
    """Float64 arrays from any engine's parameters (`params.float_rows`)."""
    return {name: np.array(rows, dtype=np.float64) for name, rows in float_rows(params, 'params_from: params').items()}


def init_params(cfg, rng):
    """Fresh parameters from `rng` (a random.Random), drawn as the scalar `init_params` draws
    them: in `param_shapes` order, row by row, one rng.gauss per entry; the gate is a constant,
    not a draw. So the same rng gives the same numbers in both engines, and leaves it in the
    same state."""
    params = {}
    for name, (nout, nin) in param_shapes(cfg).items():
        if name == 'snc_gate':
            params[name] = np.full((1, 1), float(cfg.gate_init))
        else:
            params[name] = np.array([[rng.gauss(0, cfg.init_std) for _ in range(nin)] for _ in range(nout)],
                                    dtype=np.float64).reshape(nout, nin)
    return params


def check_params(params, cfg):
    """Fail clearly if `params` does not have every matrix of `cfg` as a float64 array of its shape.

    Kept, though the engine trusts its callers' types: the public functions are this engine's
    edge in a notebook, and the scalar engine's parameters (rows of Values), handed to them
    by mistake, would otherwise run as numpy object arrays, slowly, to a wrong or cryptic end."""
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict name -> 2-D array (see vector.init_params), "
                         f"got {type(params).__name__}")
    for name, shape in param_shapes(cfg).items():
        arr = params.get(name)
        if type(arr) is np.ndarray and arr.shape == shape and arr.dtype == np.float64:
            continue
        if arr is None:
            raise ValueError(f"params has no {name!r}; build them with vector.init_params(cfg, rng) "
                             f"or vector.params_from(state_dict)")
        got = (arr.shape, arr.dtype) if isinstance(arr, np.ndarray) else type(arr).__name__
        raise ValueError(f"params[{name!r}] must be a float64 array of shape {shape}, got {got}")


def gate_value(params):
    """sigmoid(gate logit) as a float, computed as the scalar engine does: 1 * (1 + e^-g)^-1."""
    logit = params.get('snc_gate') if isinstance(params, dict) else None
    if type(logit) is not np.ndarray or logit.shape != (1, 1):
        raise ValueError("params must be a dict whose 'snc_gate' is the (1, 1) array of the gate logit")
    g = float(logit[0, 0])
    if g < -700:  # e^-g would overflow; there 1 / (1 + e^-g) is e^g to the last bit
        return math.exp(g)
    return (1.0 + math.exp(-g)) ** -1


class Weights:
    """The parameters arranged once per call for the forward pass.

    q, k, v of each layer are stacked into one (3E, E) matrix, as are SNC's key and
    value projections, so each is one matmul; their gradients are split back apart.
    `gate` is the multiplier SNC applies to its output: the trained sigmoid(logit) by
    default, or a fixed number (sampling's gate override).
    """

    def __init__(self, params, cfg, gate=None):
        check_params(params, cfg)
        self.p = params
        self.qkv = [np.concatenate([params[f'layer{i}.attn_wq'], params[f'layer{i}.attn_wk'],
                                    params[f'layer{i}.attn_wv']]) for i in range(cfg.n_layer)]
        self.snc_kv = np.concatenate([params['snc_wk'], params['snc_wv']])
        self.gate = gate_value(params) if gate is None else gate

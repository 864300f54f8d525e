"""The scalar engine: microgpt's algorithm on `Value`s, line for line with the reference script.

Pure Python (no numpy), slow and readable. `vector` exposes the same engine functions with
the same arguments and contracts (`init_params`, `params_from`, `gate_value`, `Adam`,
`train_phase1`, `train_phase2`, `sample_single`, `sample_parallel`) on float64 arrays, so the
two swap freely.
"""
from .autograd import Value
from .layers import linear, multi_head_attention, sigmoid, softmax
from .model import gpt, init_params, param_list, params_from
from .sample import sample_parallel, sample_single
from .snc import gate_value, snc_cross_attention
from .train import Adam, train_phase1, train_phase2

# the engine's functions, and the building blocks the book's figures run on their own
__all__ = ['gpt', 'init_params', 'param_list', 'params_from', 'gate_value',
           'Adam', 'train_phase1', 'train_phase2', 'sample_single', 'sample_parallel',
           'Value', 'linear', 'multi_head_attention', 'sigmoid', 'softmax', 'snc_cross_attention']

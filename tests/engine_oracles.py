"""What the numpy engine's tests (test_engine_*.py) share: the oracle comparisons against
the scalar engine (relative tolerances, gradients, parameters), the models they start
from, and a few documents."""
import random

import numpy as np

from microdnb import vector
from microdnb.config import ModelConfig
from microdnb.data import Tokenizer, names_path
from microdnb.scalar import model
from microdnb.scalar.model import param_list

NAMES = names_path()
RTOL = 1e-9

DOCS = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'charlotte', 'amelia', 'harper', 'evelyn',
        'abigail', 'emily', 'ella', 'liam', 'noah', 'zoe']
SHORT_DOCS = ['ava', 'mia', 'zoe', 'ella', 'emma', 'liam', 'noah', 'amy']
TOKENIZER = Tokenizer.from_docs(DOCS)


def close(a, b, rtol=RTOL, atol=1e-15):
    """|a - b| <= rtol * (largest |entry|) + atol: relative to the matrix's scale, so that
    entries that are tiny by cancellation do not demand more digits than the computation
    has; `atol` for a matrix that is zero in exact arithmetic, where rounding leaves ~1e-18
    (the query gradient when every note a reader sees is the same plan seed)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(np.abs(a).max(initial=0), np.abs(b).max(initial=0))
    return np.abs(a - b).max(initial=0) <= rtol * scale + atol


def scalar_grads(state_dict, keys):
    return {k: np.array([[v.grad for v in row] for row in state_dict[k]]) for k in keys}


def zero_scalar_grads(state_dict):
    for p in param_list(state_dict, list(state_dict)):
        p.grad = 0


def assert_grads(state_dict, grads, keys):
    ref = scalar_grads(state_dict, keys)
    for k in keys:
        assert close(grads[k], ref[k]), (k, np.abs(grads[k] - ref[k]).max(), np.abs(ref[k]).max())


def assert_params(state_dict, params, rtol=1e-8):
    for k, arr in params.items():
        ref = np.array([[v.data for v in row] for row in state_dict[k]])
        assert close(arr, ref, rtol), (k, np.abs(arr - ref).max())


def make(cfg, seed=0, gate=None):
    state_dict = model.init_params(cfg, random.Random(seed))
    if gate is not None:  # open the gate so that SNC visibly matters
        state_dict['snc_gate'][0][0].data = gate
    return state_dict, vector.params_from(state_dict)


REF_CFG = ModelConfig(vocab_size=TOKENIZER.vocab_size)
BOS = TOKENIZER.BOS


HOOK_CFG = ModelConfig(vocab_size=TOKENIZER.vocab_size, block_size=10, n_embd=8, n_head=2, notes_dim=4,
                       init_std=0.3)
HOOK_STREAMS = [TOKENIZER.encode(d) for d in ('isabella', 'mia', 'evelyn')]


def assert_same_trace(ref, got):
    for key in ('texts', 'tokens', 'rounds', 'steps', 'text'):
        if key in ref:
            assert got[key] == ref[key], key
    for r, g in zip(ref.get('events', []), got.get('events', [])):
        assert (r['stream'], r['pos'], r['token'], r['notes']) == (g['stream'], g['pos'], g['token'], g['notes'])
        assert close(r['probs'], g['probs'])
        for key in ('snc', 'attn', 'snc_delta'):
            assert len(r[key]) == len(g[key])
            for a, b in zip(r[key], g[key]):
                assert close(a, b), key
    assert len(ref.get('events', [])) == len(got.get('events', []))
    assert [p[:2] for p in ref.get('posts', [])] == [p[:2] for p in got.get('posts', [])]
    for r, g in zip(ref.get('posts', []), got.get('posts', [])):
        assert close(r[2], g[2])

"""The numpy engine: the scalar engine's math on float64 arrays, with a hand-written backward.

Same parameters (a dict name -> 2-D array, shapes of `model.param_shapes`), same
functions and arguments as `train` and `sample`, same random draws: swap engines
freely. Two things make it fast at these tiny sizes, where each numpy call costs
more than its arithmetic:

* A *block* is the unit of work: B streams x T consecutive positions through the
  whole GPT in one set of numpy calls. Phase 1 runs a name as one block (T = n,
  causal mask); decoding with lag >= 1 runs every live stream of a round as one
  block (B = streams, T = 1). With lag 0 a later stream reads what an earlier one
  posted in the same round, so rounds in which streams post go one stream at a time
  (B = T = 1); the other rounds are batched (nobody posts, so the order is moot).
* Each block's forward keeps what its backward needs (`saved`); the backward walks
  the blocks in reverse, so every gradient that flows into a key/value cache entry
  or a note from later blocks has arrived before the block that made it is reached.
"""
import math
from collections import namedtuple

import numpy as np

from . import model as scalar_model
from .autograd import Value
from .bus import emits
from .config import BusConfig, ModelConfig, TrainConfig
from .model import SNC_KEYS, base_keys, param_shapes
from .np_layers import (attention, attention_backward, linear_grad, log_softmax, rmsnorm,
                        rmsnorm_backward, softmax)
from .sample import check_sampling, draw
from .train import phase2_docs

# ---------------------------------------------------------------------------------------
# Parameters: a dict of 2-D float64 arrays, convertible to and from the scalar state_dict
# ---------------------------------------------------------------------------------------


def from_state_dict(state_dict):
    """Scalar state_dict (rows of Values, or of floats) -> dict of 2-D float64 arrays."""
    if not isinstance(state_dict, dict) or not state_dict:
        raise ValueError("from_state_dict needs a non-empty dict name -> matrix (e.g. model.init_params)")
    return {name: np.array([[v.data if isinstance(v, Value) else float(v) for v in row] for row in mat],
                           dtype=np.float64)
            for name, mat in state_dict.items()}


def to_state_dict(params):
    """Dict of 2-D arrays -> scalar state_dict of Values (for the scalar engine or checkpoints)."""
    if not isinstance(params, dict) or not params:
        raise ValueError("to_state_dict needs a non-empty dict name -> 2-D array")
    return {name: [[Value(float(x)) for x in row] for row in np.asarray(arr, dtype=np.float64)]
            for name, arr in params.items()}


def init_params(cfg, rng):
    """Fresh parameters, drawn exactly as `model.init_params` draws them (same RNG order)."""
    return from_state_dict(scalar_model.init_params(cfg, rng))


def check_params(params, cfg):
    """Fail clearly if `params` does not have every matrix of `cfg` as a float64 array of its shape."""
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"expected a ModelConfig, got {type(cfg).__name__}")
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict name -> 2-D array (see engine.init_params), "
                         f"got {type(params).__name__}")
    for name, shape in param_shapes(cfg).items():
        arr = params.get(name)
        if type(arr) is np.ndarray and arr.shape == shape and arr.dtype == np.float64:
            continue
        if arr is None:
            raise ValueError(f"params has no {name!r}; build them with engine.init_params(cfg, rng) "
                             f"or engine.from_state_dict(state_dict)")
        got = (arr.shape, arr.dtype) if isinstance(arr, np.ndarray) else type(arr).__name__
        raise ValueError(f"params[{name!r}] must be a float64 array of shape {shape}, got {got}")


def gate_value(params):
    """sigmoid(gate logit) as a float, computed as the scalar engine does: 1 * (1 + e^-g)^-1."""
    g = float(params['snc_gate'][0, 0])
    if g < -700:  # e^-g would overflow; there 1 / (1 + e^-g) is e^g to the last bit
        return math.exp(g)
    return (1.0 + math.exp(-g)) ** -1


class _Weights:
    """The parameters arranged once per call for the forward pass.

    q, k, v of each layer are stacked into one (3E, E) matrix, as are SNC's key and
    value projections, so each is one matmul; their gradients are split back apart.
    """

    def __init__(self, params, cfg):
        check_params(params, cfg)
        self.p = params
        self.qkv = [np.concatenate([params[f'layer{i}.attn_wq'], params[f'layer{i}.attn_wk'],
                                    params[f'layer{i}.attn_wv']]) for i in range(cfg.n_layer)]
        self.snc_kv = np.concatenate([params['snc_wk'], params['snc_wv']])
        self.gate = gate_value(params)


def _add_grad(grads, name, dy, x):
    if name in grads:
        grads[name] += linear_grad(dy, x)


# ---------------------------------------------------------------------------------------
# The key/value cache and the notes bus, as preallocated arrays
# ---------------------------------------------------------------------------------------


class _KVCache:
    """Each layer's keys and values for n_streams x block_size positions (and their gradients)."""

    def __init__(self, cfg, n_streams):
        shape = (n_streams, cfg.block_size, cfg.n_embd)
        self.k = [np.zeros(shape) for _ in range(cfg.n_layer)]
        self.v = [np.zeros(shape) for _ in range(cfg.n_layer)]
        self.dk = self.dv = None

    def zero_grads(self):
        if self.dk is None:
            self.dk = [np.zeros_like(a) for a in self.k]
            self.dv = [np.zeros_like(a) for a in self.v]


SEED_ROUND = -(1 << 40)   # a plan seed is readable in every round
UNFILLED = 1 << 40        # an empty slot is readable in no round


class _Bus:
    """`bus.NotesBus` as arrays: one slot per (stream, snapshot), stream-major.

    Slot s*Q is stream s's plan seed and s*Q + k its k-th post, so the slots a
    stream may read, in slot order, are exactly what NotesBus.read gives, in its
    order. A stream reads slot j in round t iff j belongs to another stream and
    round[j] + lag <= t; with lag 0 and streams run one at a time that is the
    reference's round-robin rule (posts of later streams do not exist yet).
    """

    def __init__(self, cfg, n_streams, cadence, lag):
        self.Q = 1 + cfg.block_size // cadence  # the seed + at most one post per `cadence` positions
        self.lag = lag
        n = n_streams * self.Q
        self.notes = np.zeros((n, cfg.notes_dim))
        self.stream = np.repeat(np.arange(n_streams), self.Q)
        self.round = np.full(n, UNFILLED, dtype=np.int64)
        self.count = [0] * n_streams  # snapshots so far per stream (the seed included)
        self.dnotes = None            # gradients, one extra "sink" row for notes a hook made up

    def seed(self, snapshots):
        n_streams = len(self.count)
        slots = np.arange(n_streams) * self.Q
        self.notes[slots] = snapshots
        self.round[slots] = SEED_ROUND
        self.count = [1] * n_streams
        return slots

    def post(self, streams, round_, snapshots):
        slots = np.array([s * self.Q + self.count[s] for s in streams])
        for s in streams:
            self.count[s] += 1
        self.notes[slots] = snapshots
        self.round[slots] = round_
        return slots

    def visible(self, streams, round_):
        """(B, n_slots) booleans: which slots each of `streams` reads in `round_`."""
        return (self.stream[None, :] != streams[:, None]) & (self.round[None, :] + self.lag <= round_)

    def label(self, slot):
        r = int(self.round[slot])
        return int(self.stream[slot]), (None if r == SEED_ROUND else r)

    def zero_grads(self):
        self.dnotes = np.zeros((len(self.notes) + 1, self.notes.shape[1]))


class _Read:
    """The notes a block's rows read, and the bus slots they came from (`src`).

    Without a hook the rows share one (N, D) array of notes (the slots any of them may
    read), each row through its own (B, N) `visible` mask; `src` is (N,) slots. With a
    hook each row has its own (B, M, D) notes, padded, and `src` is (B, M), the sink
    slot for rows the hook made up.
    """

    def __init__(self, notes, visible, src, labels=None):
        self.notes, self.visible, self.src, self.labels = notes, visible, src, labels
        self.shared = notes.ndim == 2
        self.has = np.logical_or.reduce(visible, -1)  # (B,) rows with at least one note; the others
        self.has_all = bool(np.logical_and.reduce(self.has))  # get a zero delta
        # a row with no notes attends to anything (rather than to nothing, which is 0/0), and
        # its delta is then zeroed
        self.visible_eff = visible if self.has_all else visible | ~self.has[:, None]


def _read(bus, streams, round_, notes_hook=None):
    visible = bus.visible(streams, round_)
    if notes_hook is None:
        slots = np.logical_or.reduce(visible, 0).nonzero()[0]  # only what someone reads: empty slots cost time
        return _Read(bus.notes[slots], visible[:, slots], slots)
    sink = len(bus.notes)
    rows, srcs, labels = [], [], []
    for b, reader in enumerate(streams):
        slots = np.flatnonzero(visible[b])
        given = bus.notes[slots]
        row_labels = [bus.label(j) for j in slots]
        got = np.asarray(notes_hook(int(reader), round_, row_labels, given.copy()), dtype=np.float64)
        if got.ndim != 2 or (len(got) and got.shape[1] != bus.notes.shape[1]):
            raise ValueError(f"notes_hook must return an (n_notes, {bus.notes.shape[1]}) array, "
                             f"got shape {got.shape}")
        # gradients flow back through a returned row only if it is one of the notes the hook
        # was given (kept, dropped or reordered); rows it made up (zeros, noise) are data
        # (equal plan seeds are common: a row still in its place keeps its own slot)
        given_bytes = [g.tobytes() for g in given]
        where = {}
        for key, j in zip(given_bytes, slots):
            where.setdefault(key, j)
        got_bytes = [row.tobytes() for row in got]
        src = np.array([slots[i] if i < len(slots) and key == given_bytes[i] else where.get(key, sink)
                        for i, key in enumerate(got_bytes)], dtype=np.int64)
        rows.append(got)
        srcs.append(src)
        labels.append([bus.label(j) if j != sink else None for j in src])
    M = max(len(r) for r in rows)
    notes = np.zeros((len(streams), M, bus.notes.shape[1]))
    vis = np.zeros((len(streams), M), dtype=bool)
    src = np.full((len(streams), M), sink, dtype=np.int64)
    for b, (r, s) in enumerate(zip(rows, srcs)):
        notes[b, :len(r)], vis[b, :len(r)], src[b, :len(r)] = r, True, s
    return _Read(notes, vis, src, labels)


# ---------------------------------------------------------------------------------------
# One block through the GPT, forward and backward
# ---------------------------------------------------------------------------------------


# what each forward keeps for its backward (and for plots)
_SNCSaved = namedtuple('_SNCSaved', 'x o w att proj delta')
_LayerSaved = namedtuple('_LayerSaved', 'norm1 xn a w_attn att snc norm2 xn2 h hr')
_BlockSaved = namedtuple('_BlockSaved', 'streams p0 tokens norm0 layers read hidden')


def _snc_forward(W, cfg, x, read):
    """Gated cross-attention of x (B, T, E) over the notes of `read`. Returns (delta, saved)."""
    p, E = W.p, cfg.n_embd
    B, T, _ = x.shape
    qs = x @ p['snc_wq'].T
    kv = read.notes @ W.snc_kv.T  # (N, 2E) shared by all rows, or (B, M, 2E) per row
    if read.shared:
        # shared notes: the B*T queries form one sequence over one set of keys, each with its own mask
        visible = read.visible_eff if T == 1 else np.repeat(read.visible_eff, T, axis=0)
        visible = visible[None, None]  # (1, 1, B*T, N)
        o, w, att = attention(qs.reshape(1, B * T, E), kv[None, :, :E], kv[None, :, E:], cfg.n_head, visible)
        o = o.reshape(B, T, E)
    else:
        o, w, att = attention(qs, kv[..., :E], kv[..., E:], cfg.n_head, read.visible_eff[:, None, None, :])
    proj = o @ p['snc_wo'].T
    delta = W.gate * proj if read.has_all else W.gate * proj * read.has[:, None, None]
    return delta, _SNCSaved(x, o, w, att, proj, delta)


def _snc_backward(W, cfg, grads, read, bus, ddelta, saved):
    p, E = W.p, cfg.n_embd
    x, o, w, att, proj, _ = saved
    B, T, _ = x.shape
    if not read.has_all:
        ddelta = ddelta * read.has[:, None, None]
    g = W.gate
    if 'snc_gate' in grads:
        grads['snc_gate'] += (ddelta * proj).sum() * g * (1.0 - g)  # sigmoid' = g (1 - g)
    dproj = ddelta * g
    _add_grad(grads, 'snc_wo', dproj, o)
    do = dproj @ p['snc_wo']
    if read.shared:
        dqs, dk, dv = attention_backward(do.reshape(1, B * T, E), att)
        dqs = dqs.reshape(B, T, E)
    else:
        dqs, dk, dv = attention_backward(do, att)
    _add_grad(grads, 'snc_wq', dqs, x)
    dkv = np.concatenate([dk, dv], axis=-1)  # (1, N, 2E) shared, or (B, M, 2E)
    notes = read.notes[None] if read.shared else read.notes
    if 'snc_wk' in grads or 'snc_wv' in grads:
        dW = linear_grad(dkv, notes)
        grads['snc_wk'] += dW[:E]
        grads['snc_wv'] += dW[E:]
    dnotes = dkv @ W.snc_kv
    if read.shared:
        bus.dnotes[read.src] += dnotes[0]  # distinct slots
    else:
        np.add.at(bus.dnotes, read.src.ravel(), dnotes.reshape(-1, dnotes.shape[-1]))
    return dqs @ p['snc_wq']


def _forward(W, cfg, cache, streams, p0, tokens, read=None):
    """Tokens (B, T) at positions p0..p0+T-1 of `streams` (B,) through the GPT.

    Appends each layer's keys/values to `cache`; reads notes through SNC if `read`
    is given. Returns (logits (B, T, V), hidden (B, T, E), saved).
    """
    p = W.p
    B, T = tokens.shape
    P = p0 + T
    x, norm0 = rmsnorm(p['wte'][tokens] + p['wpe'][p0:P])
    # query i (position p0+i) sees keys 0..p0+i; with T = 1 it sees all of them
    causal = None if T == 1 else np.tri(T, P, p0, dtype=bool)
    layers = []
    for li in range(cfg.n_layer):
        # 1) multi-head self-attention over this stream's past
        x_in = x
        xn, norm1 = rmsnorm(x)
        qkv = xn @ W.qkv[li].T
        E = cfg.n_embd
        cache.k[li][streams, p0:P] = qkv[..., E:2 * E]
        cache.v[li][streams, p0:P] = qkv[..., 2 * E:]
        a, w_attn, att = attention(qkv[..., :E], cache.k[li][streams, :P], cache.v[li][streams, :P],
                                   cfg.n_head, causal)
        x = a @ p[f'layer{li}.attn_wo'].T + x_in
        # SNC cross-attention, between self-attention and the MLP
        snc = None
        if read is not None and (read.has_all or read.has.any()):
            delta, snc = _snc_forward(W, cfg, x, read)
            x = x + delta
        # 2) MLP
        x_mid = x
        xn2, norm2 = rmsnorm(x)
        h = xn2 @ p[f'layer{li}.mlp_fc1'].T
        hr = np.maximum(h, 0.0)
        x = hr @ p[f'layer{li}.mlp_fc2'].T + x_mid
        layers.append(_LayerSaved(norm1, xn, a, w_attn, att, snc, norm2, xn2, h, hr))
    logits = x @ p['lm_head'].T
    return logits, x, _BlockSaved(streams, p0, tokens, norm0, layers, read, x)


def _backward(W, cfg, cache, grads, saved, dlogits, dhidden, bus=None, trunk=True):
    """Backpropagate one block. dlogits / dhidden: (B, T, .) or None.

    trunk=False (phase 2, trunk frozen): stop below the lowest SNC, since nothing
    beneath it depends on a parameter we want.
    """
    p = W.p
    streams, p0, tokens, norm0, layers, read, hidden = saved
    P = p0 + tokens.shape[1]
    E = cfg.n_embd
    dx = 0.0
    if dlogits is not None:
        _add_grad(grads, 'lm_head', dlogits, hidden)
        dx = dlogits @ p['lm_head']
    if dhidden is not None:
        dx = dx + dhidden
    for li in reversed(range(cfg.n_layer)):
        norm1, xn, a, w_attn, att, snc, norm2, xn2, h, hr = layers[li]
        # MLP: x = fc2(relu(fc1(rmsnorm(x_mid)))) + x_mid
        _add_grad(grads, f'layer{li}.mlp_fc2', dx, hr)
        dh = (dx @ p[f'layer{li}.mlp_fc2']) * (h > 0)
        _add_grad(grads, f'layer{li}.mlp_fc1', dh, xn2)
        dx = dx + rmsnorm_backward(dh @ p[f'layer{li}.mlp_fc1'], norm2)
        # SNC: x_mid = x_att + gate * snc(x_att, notes)
        if snc is not None:
            dx = dx + _snc_backward(W, cfg, grads, read, bus, dx, snc)
        if not trunk and li == 0:
            return
        # self-attention: x_att = wo(attention(q, k, v)) + x_in
        _add_grad(grads, f'layer{li}.attn_wo', dx, a)
        dq, dK, dV = attention_backward(dx @ p[f'layer{li}.attn_wo'], att)
        cache.dk[li][streams, :P] += dK
        cache.dv[li][streams, :P] += dV
        # this block's own keys/values have now received every later block's gradient
        dqkv = np.concatenate([dq, cache.dk[li][streams, p0:P], cache.dv[li][streams, p0:P]], axis=-1)
        names = [f'layer{li}.attn_{w}' for w in ('wq', 'wk', 'wv')]
        if any(name in grads for name in names):
            dW = linear_grad(dqkv, xn)
            for j, name in enumerate(names):
                if name in grads:
                    grads[name] += dW[j * E:(j + 1) * E]
        dx = dx + rmsnorm_backward(dqkv @ W.qkv[li], norm1)
    dx0 = rmsnorm_backward(dx, norm0)
    if 'wte' in grads:
        np.add.at(grads['wte'], tokens.ravel(), dx0.reshape(-1, E))  # a token may repeat
    if 'wpe' in grads:
        grads['wpe'][p0:P] += dx0.sum(0)


# ---------------------------------------------------------------------------------------
# Losses and their gradients
# ---------------------------------------------------------------------------------------


def _check_tokens(tokens, cfg, what, min_len=2):
    if not isinstance(tokens, (list, tuple, np.ndarray)) or len(tokens) < min_len:
        raise ValueError(f"{what} must be a list of at least {min_len} token ids "
                         f"(tokenizer.encode(name) gives [BOS, ..., BOS]), got {tokens!r}")
    for t in tokens:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t < cfg.vocab_size:
            raise ValueError(f"{what} has token {t!r}, not an integer id in 0..{cfg.vocab_size - 1}")


def _grad_keys(cfg, keys):
    names = list(param_shapes(cfg))
    if keys is None:
        return names
    keys = list(keys)
    unknown = [k for k in keys if k not in names]
    if unknown:
        raise ValueError(f"keys {unknown} are not parameters of this model; choose from {names}")
    return keys


def _dlogits(logp, targets, scale):
    """d(loss)/d(logits) of -log softmax(logits)[target], times `scale`: (probs - onehot) * scale."""
    d = np.exp(logp)
    d[np.arange(len(targets)), targets] -= 1.0
    return d * scale


def gpt_sequence(params, cfg, tokens):
    """Logits (n, vocab) and hidden states (n, n_embd) of `tokens` at positions 0..n-1 (trunk only).

    The same numbers the scalar `model.gpt` gives position by position, in one block.
    """
    _check_tokens(tokens, cfg, 'tokens', min_len=1)
    if len(tokens) > cfg.block_size:
        raise ValueError(f"{len(tokens)} tokens do not fit block_size {cfg.block_size}")
    W = _Weights(params, cfg)
    logits, hidden, _ = _forward(W, cfg, _KVCache(cfg, 1), np.array([0]), 0, np.array([list(tokens)]))
    return logits[0], hidden[0]


def doc_loss_and_grads(params, cfg, tokens, keys=None):
    """Mean next-token loss of one document through the trunk, and its gradients.

    Like `train.doc_loss` + backward(): returns (loss float, grads dict name -> array)
    for `keys` (default every parameter; SNC's are zero, as SNC is not in this graph).
    """
    _check_tokens(tokens, cfg, 'tokens')
    return docs_loss_and_grads(params, cfg, [tokens], keys)


def docs_loss_and_grads(params, cfg, docs_tokens, keys=None):
    """The mean over documents of each one's mean next-token loss (trunk only), and its gradients.

    All documents run as one block: B documents x the longest length, the shorter ones
    padded at the end (causal attention keeps padding away from real positions, and
    padding carries no loss). One document is exactly `doc_loss_and_grads`.
    """
    if not isinstance(docs_tokens, (list, tuple)) or not docs_tokens:
        raise ValueError("docs_tokens must be a non-empty list of token lists")
    for i, tokens in enumerate(docs_tokens):
        _check_tokens(tokens, cfg, f'docs_tokens[{i}]')
    keys = _grad_keys(cfg, keys)
    W = _Weights(params, cfg)
    B = len(docs_tokens)
    ns = [min(cfg.block_size, len(t) - 1) for t in docs_tokens]
    inputs = np.zeros((B, max(ns)), dtype=np.int64)
    targets = np.zeros((B, max(ns)), dtype=np.int64)
    weight = np.zeros((B, max(ns), 1))  # d(loss)/d(token loss): 1 / (n B), 0 on padding
    for b, (tokens, n) in enumerate(zip(docs_tokens, ns)):
        inputs[b, :n], targets[b, :n], weight[b, :n] = tokens[:n], tokens[1:n + 1], 1 / n / B
    cache = _KVCache(cfg, B)
    logits, _, saved = _forward(W, cfg, cache, np.arange(B), 0, inputs)
    logp = log_softmax(logits)
    rows, cols = np.arange(B)[:, None], np.arange(max(ns))[None, :]
    picked = logp[rows, cols, targets]
    loss = sum(-picked[b, :n].sum() * (1 / n) for b, n in enumerate(ns)) / B  # as (1/n) * sum(losses)
    grads = {k: np.zeros_like(params[k]) for k in keys}
    if any(k not in SNC_KEYS for k in keys):
        dlogits = np.exp(logp)
        dlogits[rows, cols, targets] -= 1.0
        cache.zero_grads()
        _backward(W, cfg, cache, grads, saved, dlogits * weight, None)
    return float(loss), grads


def _decode_streams(W, cfg, bcfg, streams, notes_hook, groups):
    """Teacher-forced decoding of `streams` through the bus, as `train.streams_loss` does it.

    Returns the forward's record for the backward: the blocks in order, the bus, the
    caches and the plan-seed block.
    """
    S = len(streams)
    lengths = [min(cfg.block_size, len(s) - 1) for s in streams]
    tok = np.zeros((S, max(lengths) + 1), dtype=np.int64)
    for s, seq in enumerate(streams):
        tok[s, :lengths[s] + 1] = seq[:lengths[s] + 1]
    bus = _Bus(cfg, S, bcfg.cadence, bcfg.lag)
    # planner: each stream's bus starts with the plan seed of its first token (trunk only)
    seed_cache = _KVCache(cfg, S)
    _, seed_hidden, seed_saved = _forward(W, cfg, seed_cache, np.arange(S), 0, tok[:, :1])
    seed_slots = bus.seed(seed_hidden[:, 0] @ W.p['planner_proj'].T)
    cache = _KVCache(cfg, S)
    blocks = []
    for t in range(max(lengths)):
        live = [s for s in range(S) if t < lengths[s]]
        for group in groups(live, t):
            rows = np.array(group)
            read = _read(bus, rows, t, notes_hook)
            logits, hidden, saved = _forward(W, cfg, cache, rows, t, tok[rows, t:t + 1], read)
            logp = log_softmax(logits[:, 0])
            slots = None
            if emits(t, bcfg.cadence):
                slots = bus.post(group, t, hidden[:, 0] @ W.p['notes_proj'].T)
            blocks.append((saved, logp, tok[rows, t + 1], slots, hidden[:, 0]))
    seed = (seed_cache, seed_saved, seed_hidden[:, 0], seed_slots)
    return blocks, bus, cache, seed


def _check_streams(cfg, bcfg, streams):
    if not isinstance(bcfg, BusConfig):
        raise ValueError(f"expected a BusConfig, got {type(bcfg).__name__}")
    if not isinstance(streams, (list, tuple)) or not streams:
        raise ValueError("streams must be a non-empty list of token lists, one per stream")
    for s, seq in enumerate(streams):
        _check_tokens(seq, cfg, f"streams[{s}]")


def _scheduler(bcfg, batched):
    """groups(live, round) -> the blocks the live streams of a round run in, in order.

    batched=True: the whole round is one block (needs lag >= 1, so that nobody reads a
    post of its own round). batched=False: one stream at a time (the reference's
    round-robin). batched=None: as batched as the read rule allows: the whole round when
    lag >= 1, and also with lag 0 in rounds where nobody posts (every stream then reads
    the same notes whichever order they run in); one stream at a time otherwise.
    """
    if batched is not None:
        batched = bool(batched)
    if batched and bcfg.lag == 0:
        raise ValueError("batched decoding needs lag >= 1: with lag 0 a stream reads what earlier "
                         "streams posted in the same round, so the streams of a round must run in turn")

    def groups(live, round_):
        if batched is False or (batched is None and bcfg.lag == 0 and emits(round_, bcfg.cadence)):
            return [[s] for s in live]
        return [live]
    return groups


def streams_loss_and_grads(params, cfg, bcfg, streams, keys=None, notes_hook=None, batched=None):
    """Mean next-token loss of `streams` decoded together through the bus, and its gradients.

    The numpy twin of `train.streams_loss` + backward(). Returns (loss, grads, n_tokens);
    grads holds the parameters in `keys` (default all; phase 2 passes SNC_KEYS, and
    then the frozen trunk is only backpropagated as far as SNC needs). keys=() skips
    the backward.
    notes_hook(reader, round, labels, notes) -> notes may replace the (n_notes, notes_dim)
    array a stream reads in a round (labels: (stream, round) of each note, round None =
    the plan seed; `notes` is the hook's own copy), e.g. zeros to mask the bus, a
    shuffle, or only the plan seeds. Gradients flow back through every returned row
    equal to one of the notes given (kept, dropped, reordered, copied); rows the hook
    made up (zeros, noise, another group's notes) are data.
    batched: how streams are grouped into blocks, as in `sample_parallel`; it changes
    only the speed (and the last bits).
    """
    _check_streams(cfg, bcfg, streams)
    keys = _grad_keys(cfg, keys)
    W = _Weights(params, cfg)
    blocks, bus, cache, seed = _decode_streams(W, cfg, bcfg, streams, notes_hook, _scheduler(bcfg, batched))
    total, n_tokens = 0.0, 0
    for saved, logp, targets, slots, hidden in blocks:
        for loss_t in (-logp[np.arange(len(targets)), targets]).tolist():
            total += loss_t  # summed token by token, in the scalar engine's order
            n_tokens += 1
    loss = total * n_tokens ** -1
    grads = {k: np.zeros_like(params[k]) for k in keys}
    if keys:
        _streams_backward(W, cfg, grads, blocks, bus, cache, seed, n_tokens ** -1)
    return loss, grads, n_tokens


def _streams_backward(W, cfg, grads, blocks, bus, cache, seed, scale):
    trunk = any(k in grads for k in base_keys(cfg))
    cache.zero_grads()
    bus.zero_grads()
    for saved, logp, targets, slots, hidden in reversed(blocks):
        dhidden = None
        if slots is not None:  # the notes this block posted have all been read by now
            dnote = bus.dnotes[slots]
            _add_grad(grads, 'notes_proj', dnote, hidden)
            dhidden = (dnote @ W.p['notes_proj'])[:, None]
        _backward(W, cfg, cache, grads, saved, _dlogits(logp, targets, scale)[:, None], dhidden,
                  bus, trunk)
    seed_cache, seed_saved, seed_hidden, seed_slots = seed
    dseed = bus.dnotes[seed_slots]
    _add_grad(grads, 'planner_proj', dseed, seed_hidden)
    if trunk:
        seed_cache.zero_grads()
        _backward(W, cfg, seed_cache, grads, seed_saved, None,
                  (dseed @ W.p['planner_proj'])[:, None], bus, trunk)


def streams_log_probs(params, cfg, bcfg, streams, notes_hook=None, batched=None):
    """Per stream, the (n_positions, vocab) log-probabilities of the next token when `streams`
    are decoded together through the bus (teacher forcing), e.g. for per-token losses."""
    _check_streams(cfg, bcfg, streams)
    W = _Weights(params, cfg)
    blocks, *_ = _decode_streams(W, cfg, bcfg, streams, notes_hook, _scheduler(bcfg, batched))
    out = [[] for _ in streams]
    for saved, logp, targets, slots, hidden in blocks:
        rows = saved.streams
        for b, s in enumerate(rows):
            out[s].append(logp[b])
    return [np.array(o) for o in out]


def snc_trace(params, cfg, bcfg, streams, notes_hook=None, batched=None):
    """What SNC reads and adds at every position when `streams` are decoded together through
    the bus (teacher forcing, as in `streams_log_probs`). Per stream, a dict of arrays:

      'log_probs'  (n_positions, vocab)            the next token's log-probabilities
      'snc_input'  (n_positions, n_layer, n_embd)  the residual entering SNC (after self-attention)
      'snc_delta'  (n_positions, n_layer, n_embd)  the gated delta SNC adds to it (as the scalar
                                                   `model.gpt(record=...)` records it: 0 without notes)
      'read'       (n_positions,) bool             whether the stream read at least one note

    e.g. |snc_delta| / |snc_input|: how much SNC moves the residual stream.
    """
    _check_streams(cfg, bcfg, streams)
    W = _Weights(params, cfg)
    blocks, *_ = _decode_streams(W, cfg, bcfg, streams, notes_hook, _scheduler(bcfg, batched))
    out = [{'log_probs': [], 'snc_input': [], 'snc_delta': [], 'read': []} for _ in streams]
    zero = np.zeros(cfg.n_embd)
    for saved, logp, targets, slots, hidden in blocks:  # decoding blocks have T = 1
        for b, s in enumerate(saved.streams):
            out[s]['log_probs'].append(logp[b])
            out[s]['read'].append(bool(saved.read.has[b]))
            # a layer without SNC (nobody in the block read a note) passes its residual
            # unchanged to the MLP, whose rmsnorm kept it (norm2 = (x, scale))
            out[s]['snc_input'].append([layer.norm2[0][b, 0] if layer.snc is None else layer.snc.x[b, 0]
                                        for layer in saved.layers])
            out[s]['snc_delta'].append([zero if layer.snc is None else layer.snc.delta[b, 0]
                                        for layer in saved.layers])
    return [{key: np.array(rows) for key, rows in trace.items()} for trace in out]


# ---------------------------------------------------------------------------------------
# Adam and the two training phases
# ---------------------------------------------------------------------------------------


class Adam:
    """Adam with bias correction over the parameters `keys` of `params` (train.Adam's arithmetic).

    The moments live in one flat vector; each step gathers parameters and gradients
    into flat vectors, updates them elementwise with the scalar formulas and writes
    them back. (np.sqrt is correctly rounded, Python's v ** 0.5 is libm's pow, which
    is 1 ulp off in ~0.1 % of cases: the only difference from train.Adam.)
    """

    def __init__(self, params, keys, beta1=0.85, beta2=0.99, eps=1e-8):
        keys = list(keys)
        missing = [k for k in keys if k not in params]
        if missing:
            raise ValueError(f"Adam: params has no {missing}")
        self.params, self.keys = params, keys
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        n = sum(params[k].size for k in keys)
        self.m = np.zeros(n)
        self.v = np.zeros(n)

    def step(self, grads, step, lr_t):
        """Update every parameter in `keys` from grads[key]. `step` counts from 0."""
        beta1, beta2 = self.beta1, self.beta2
        g = np.concatenate([grads[k].ravel() for k in self.keys])
        p = np.concatenate([self.params[k].ravel() for k in self.keys])
        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * (g * g)
        m_hat = self.m / (1 - beta1 ** (step + 1))
        v_hat = self.v / (1 - beta2 ** (step + 1))
        p -= lr_t * m_hat / (np.sqrt(v_hat) + self.eps)
        start = 0
        for k in self.keys:
            arr = self.params[k]
            arr[...] = p[start:start + arr.size].reshape(arr.shape)
            start += arr.size


def _check_train(params, cfg, tcfg, docs, need_docs=True):
    check_params(params, cfg)
    if not isinstance(tcfg, TrainConfig):
        raise ValueError(f"expected a TrainConfig, got {type(tcfg).__name__}")
    if need_docs and not docs:
        raise ValueError("docs is empty: training needs at least one document")


def train_phase1(params, cfg, tcfg, docs, tokenizer, callback=None, batch_size=1):
    """Train the trunk, in place, on `batch_size` documents per step. Returns the Adam state.

    Step s uses docs[(s * batch_size + i) % len(docs)] for i < batch_size and their
    mean loss; batch_size=1 (the reference) is one document per step, docs[s % len(docs)].
    """
    _check_train(params, cfg, tcfg, docs)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    keys = base_keys(cfg)
    adam = Adam(params, keys, tcfg.beta1, tcfg.beta2, tcfg.eps_adam)
    num_steps = tcfg.steps
    for step in range(num_steps):
        batch = [tokenizer.encode(docs[(step * batch_size + i) % len(docs)]) for i in range(batch_size)]
        loss, grads = docs_loss_and_grads(params, cfg, batch, keys)
        lr_t = tcfg.learning_rate * (1 - step / num_steps)
        adam.step(grads, step, lr_t)
        if callback is not None:
            callback({'phase': 1, 'step': step, 'num_steps': num_steps, 'loss': loss, 'lr': lr_t})
    return adam


def train_phase2(params, cfg, tcfg, bcfg, docs, tokenizer, callback=None, groups_fn=None,
                 notes_hook=None):
    """Train only SNC + planner (trunk frozen), in place, on groups of streams. Returns Adam.

    Each step decodes `bcfg.n_streams` consecutive names (train.phase2_docs), or the
    token lists `groups_fn(step)` returns (for other tasks); `notes_hook` as in
    `streams_loss_and_grads`.
    """
    _check_train(params, cfg, tcfg, docs, need_docs=groups_fn is None)
    if not isinstance(bcfg, BusConfig):
        raise ValueError(f"expected a BusConfig, got {type(bcfg).__name__}")
    adam = Adam(params, SNC_KEYS, tcfg.beta1, tcfg.beta2, tcfg.eps_adam)
    num_steps = tcfg.snc_steps
    for step in range(num_steps):
        if groups_fn is None:
            streams = [tokenizer.encode(d) for d in phase2_docs(docs, step, bcfg.n_streams)]
        else:
            streams = groups_fn(step)
        loss, grads, _ = streams_loss_and_grads(params, cfg, bcfg, streams, SNC_KEYS, notes_hook)
        lr_t = tcfg.snc_learning_rate * (1 - step / num_steps)
        adam.step(grads, step, lr_t)
        if callback is not None:
            callback({'phase': 2, 'step': step, 'num_steps': num_steps, 'loss': loss,
                      'lr': lr_t, 'gate': gate_value(params)})
    return adam


# ---------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------


def _heads(w, b, mask=None):
    """Row b's attention weights as per-head lists of floats (the scalar `record` format)."""
    return [(w[b, h, -1] if mask is None else w[b, h, -1][mask]).tolist() for h in range(w.shape[1])]


def sample_single(params, cfg, tokenizer, rng, temperature=0.5, record=False):
    """Generate one name from BOS with the trunk alone. Returns the trace `sample.sample_single` returns."""
    check_sampling(cfg, tokenizer, rng, temperature)
    W = _Weights(params, cfg)
    cache = _KVCache(cfg, 1)
    stream = np.array([0])
    token_id = tokenizer.BOS
    tokens, probs, attn = [], [], []
    inv_t = temperature ** -1  # the scalar engine divides as l * temperature**-1
    for pos_id in range(cfg.block_size):
        logits, _, saved = _forward(W, cfg, cache, stream, pos_id, np.array([[token_id]]))
        weights = softmax(logits[0, 0] * inv_t).tolist()
        token_id = draw(weights, rng)
        if record:
            probs.append(weights)
            attn.append([_heads(layer.w_attn, 0) for layer in saved.layers])
        if token_id == tokenizer.BOS:
            break
        tokens.append(token_id)
    trace = {'tokens': tokens, 'text': tokenizer.decode(tokens)}
    if record:
        trace.update(probs=probs, attn=attn)
    return trace


def sample_parallel(params, cfg, bcfg, tokenizer, rng, temperature=0.5, record=False,
                    first_tokens=None, batched=None, notes_hook=None):
    """Generate `bcfg.n_streams` names together through the bus (see `sample.sample_parallel`).

    Same trace, same random draws as the scalar engine, whatever the batching: a batched
    round runs its live streams as one block, then draws for them in stream order.
    batched=True batches every round (needs lag >= 1); False runs one stream at a time
    (the reference's round-robin); None (default) batches every round when lag >= 1,
    and with lag 0 the rounds in which nobody posts.
    notes_hook as in `streams_loss_and_grads`; with record=True a made-up note's label is None.
    """
    check_sampling(cfg, tokenizer, rng, temperature)
    if not isinstance(bcfg, BusConfig):
        raise ValueError(f"expected a BusConfig, got {type(bcfg).__name__}")
    groups = _scheduler(bcfg, batched)
    W = _Weights(params, cfg)
    S = bcfg.n_streams
    if first_tokens is None:
        first_tokens = [tokenizer.BOS] * S
    if len(first_tokens) != S:
        raise ValueError(f"first_tokens has {len(first_tokens)} entries for {S} streams")
    _check_tokens(list(first_tokens), cfg, 'first_tokens', min_len=1)
    bus = _Bus(cfg, S, bcfg.cadence, bcfg.lag)
    stream_tokens = list(first_tokens)
    # plan seeds: one trunk pass per distinct first token (all BOS: one pass for every stream)
    firsts = sorted(set(first_tokens))
    _, seed_hidden, _ = _forward(W, cfg, _KVCache(cfg, len(firsts)), np.arange(len(firsts)), 0,
                                 np.array(firsts)[:, None])
    bus.seed((seed_hidden[:, 0] @ W.p['planner_proj'].T)[[firsts.index(t) for t in first_tokens]])
    cache = _KVCache(cfg, S)
    inv_t = temperature ** -1
    samples = [[] for _ in range(S)]
    done = [False] * S
    events, posts = [], []
    rounds = steps = 0
    for pos_id in range(cfg.block_size):
        rounds += 1
        live = [s for s in range(S) if not done[s]]
        post_now = emits(pos_id, bcfg.cadence)
        for group in groups(live, pos_id):
            rows = np.array(group)
            read = _read(bus, rows, pos_id, notes_hook)
            logits, hidden, saved = _forward(W, cfg, cache, rows, pos_id,
                                             np.array([[stream_tokens[s]] for s in group]), read)
            probs = softmax(logits[:, 0] * inv_t).tolist()
            posting = []
            for b, si in enumerate(group):
                steps += 1
                weights = probs[b]
                next_token = draw(weights, rng)
                if record:
                    events.append(_event(cfg, bus, read, saved, b, si, pos_id, next_token, weights))
                if next_token == tokenizer.BOS:
                    done[si] = True
                    continue
                samples[si].append(next_token)
                stream_tokens[si] = next_token
                if post_now:
                    posting.append(b)
            if posting:
                snapshots = hidden[posting, 0] @ W.p['notes_proj'].T
                bus.post([group[b] for b in posting], pos_id, snapshots)
                if record:
                    posts.extend((group[b], pos_id, snap.tolist()) for b, snap in zip(posting, snapshots))
        if all(done):
            break
    trace = {'texts': [tokenizer.decode(s) for s in samples], 'tokens': samples,
             'rounds': rounds, 'steps': steps}
    if record:
        trace.update(events=events, posts=posts)
    return trace


def _snc_heads(w, read, b, mask):
    """Row b's SNC weights over the notes it read, per head, as lists of floats."""
    if not read.shared:  # per-row notes: w is (B, H, T, M)
        return _heads(w, b, mask)
    B = len(read.visible)     # shared notes: w is (1, H, B*T, N), row b's queries at b*T .. b*T+T-1
    T = w.shape[2] // B
    return [w[0, h, b * T + T - 1][mask].tolist() for h in range(w.shape[1])]


def _event(cfg, bus, read, saved, b, si, pos_id, token, weights):
    """One decoding step in the scalar engine's record format."""
    mask = read.visible[b]
    labels = [bus.label(j) for j in read.src[mask]] if read.shared else read.labels[b]
    snc, delta = [], []
    for layer in saved.layers:
        if layer.snc is None or not read.has[b]:  # no notes: the scalar engine records nothing
            snc.append([])
            delta.append([0.0] * cfg.n_embd)
        else:
            snc.append(_snc_heads(layer.snc.w, read, b, mask))
            delta.append(layer.snc.delta[b, -1].tolist())
    return {'stream': si, 'pos': pos_id, 'token': token, 'probs': weights, 'snc': snc,
            'notes': labels, 'snc_delta': delta, 'attn': [_heads(layer.w_attn, b) for layer in saved.layers]}


# ---------------------------------------------------------------------------------------
# The backend `replicate` uses
# ---------------------------------------------------------------------------------------


def backend():
    """The dict of functions `replicate.replicate(engine='numpy')` calls (see replicate.scalar_backend)."""
    return {'convert': lambda state_dict, cfg: from_state_dict(state_dict),
            'train_phase1': train_phase1, 'train_phase2': train_phase2,
            'sample_single': sample_single, 'sample_parallel': sample_parallel,
            'gate': gate_value}

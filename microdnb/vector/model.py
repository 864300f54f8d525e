"""The GPT on blocks of float64 arrays, forward and backward (the scalar `model.gpt` and its
autograd, by hand).

A *block* is the unit of work: B streams x T consecutive positions through the whole
GPT in one set of numpy calls, which is what makes the engine fast at these tiny sizes,
where each numpy call costs more than its arithmetic. Phase 1 runs a name as one block
(T = n, causal mask); decoding with lag >= 1 runs every live stream of a round as one
block (B = streams, T = 1); see `bus.round_blocks` for lag 0.

Each block's forward keeps what its backward needs (`saved`); the backward walks the
blocks in reverse, so every gradient that flows into a key/value cache entry or a note
from later blocks has arrived before the block that made it is reached.
"""
from collections import namedtuple

import numpy as np

from .layers import attention, attention_backward, linear_grad, rmsnorm, rmsnorm_backward
from .params import Weights


class KVCache:
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


def add_grad(grads, name, dy, x):
    """grads[name] += dL/dW of y = x @ W.T, for the parameters being differentiated only."""
    if name in grads:
        grads[name] += linear_grad(dy, x)


def check_tokens(tokens, cfg, what, min_len=2):
    """Fail clearly unless `tokens` is a list of at least `min_len` token ids of `cfg`'s vocabulary."""
    if not isinstance(tokens, (list, tuple, np.ndarray)) or len(tokens) < min_len:
        raise ValueError(f"{what} must be a list of at least {min_len} token ids "
                         f"(tokenizer.encode(name) gives [BOS, ..., BOS]), got {tokens!r}")
    for t in tokens:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t < cfg.vocab_size:
            raise ValueError(f"{what} has token {t!r}, not an integer id in 0..{cfg.vocab_size - 1}")


# what each forward keeps for its backward (and for plots)
_SNCSaved = namedtuple('_SNCSaved', 'x o w att proj delta')
_LayerSaved = namedtuple('_LayerSaved', 'norm1 xn a w_attn att snc norm2 xn2 h hr')
_BlockSaved = namedtuple('_BlockSaved', 'streams p0 tokens norm0 layers read hidden')


def snc_forward(W, cfg, x, read):
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


def snc_backward(W, cfg, grads, read, bus, ddelta, saved):
    p, E = W.p, cfg.n_embd
    x, o, _, att, proj, _ = saved
    B, T, _ = x.shape
    if not read.has_all:
        ddelta = ddelta * read.has[:, None, None]
    g = W.gate
    if 'snc_gate' in grads:
        grads['snc_gate'] += (ddelta * proj).sum() * g * (1.0 - g)  # sigmoid' = g (1 - g)
    dproj = ddelta * g
    add_grad(grads, 'snc_wo', dproj, o)
    do = dproj @ p['snc_wo']
    if read.shared:
        dqs, dk, dv = attention_backward(do.reshape(1, B * T, E), att)
        dqs = dqs.reshape(B, T, E)
    else:
        dqs, dk, dv = attention_backward(do, att)
    add_grad(grads, 'snc_wq', dqs, x)
    dkv = np.concatenate([dk, dv], axis=-1)  # (1, N, 2E) shared, or (B, M, 2E)
    notes = read.notes[None] if read.shared else read.notes
    if 'snc_wk' in grads or 'snc_wv' in grads:
        dW = linear_grad(dkv, notes)
        for name, rows in (('snc_wk', dW[:E]), ('snc_wv', dW[E:])):
            if name in grads:
                grads[name] += rows
    dnotes = dkv @ W.snc_kv
    if read.shared:
        bus.dnotes[read.src] += dnotes[0]  # distinct slots
    else:
        np.add.at(bus.dnotes, read.src.ravel(), dnotes.reshape(-1, dnotes.shape[-1]))
    return dqs @ p['snc_wq']


def forward(W, cfg, cache, streams, p0, tokens, read=None):
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
            delta, snc = snc_forward(W, cfg, x, read)
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


def backward(W, cfg, cache, grads, saved, dlogits, dhidden, bus=None, trunk=True):
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
        add_grad(grads, 'lm_head', dlogits, hidden)
        dx = dlogits @ p['lm_head']
    if dhidden is not None:
        dx = dx + dhidden
    for li in reversed(range(cfg.n_layer)):
        norm1, xn, a, _, att, snc, norm2, xn2, h, hr = layers[li]
        # MLP: x = fc2(relu(fc1(rmsnorm(x_mid)))) + x_mid
        add_grad(grads, f'layer{li}.mlp_fc2', dx, hr)
        dh = (dx @ p[f'layer{li}.mlp_fc2']) * (h > 0)
        add_grad(grads, f'layer{li}.mlp_fc1', dh, xn2)
        dx = dx + rmsnorm_backward(dh @ p[f'layer{li}.mlp_fc1'], norm2)
        # SNC: x_mid = x_att + gate * snc(x_att, notes)
        if snc is not None:
            dx = dx + snc_backward(W, cfg, grads, read, bus, dx, snc)
        if not trunk and li == 0:
            return
        # self-attention: x_att = wo(attention(q, k, v)) + x_in
        add_grad(grads, f'layer{li}.attn_wo', dx, a)
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


def _trunk_block(params, cfg, tokens):
    """`tokens` at positions 0..n-1 through the trunk as one block: (logits, hidden, saved), each with B = 1."""
    W = Weights(params, cfg)
    check_tokens(tokens, cfg, 'tokens', min_len=1)
    if len(tokens) > cfg.block_size:
        raise ValueError(f"{len(tokens)} tokens do not fit block_size {cfg.block_size}")
    return forward(W, cfg, KVCache(cfg, 1), np.array([0]), 0, np.array([list(tokens)]))


def gpt_sequence(params, cfg, tokens):
    """Logits (n, vocab) and hidden states (n, n_embd) of `tokens` at positions 0..n-1 (trunk only).

    The same numbers the scalar `model.gpt` gives position by position, in one block.
    """
    logits, hidden, _ = _trunk_block(params, cfg, tokens)
    return logits[0], hidden[0]


def gpt_trace(params, cfg, tokens):
    """What the forward pass of `tokens` at positions 0..n-1 (trunk only) does inside, read from
    what `forward` keeps: dict(logits (n, vocab); attn (n_layer, n_head, n, n), row t position
    t's weights over positions 0..t, zero after t; resid, the residual stream's size |x| at each
    position after each stage, as a list of (stage, layer, norms (n,)): 'embed' (wte + wpe, before
    rmsnorm), 'norm' (after it), then per layer 'attn' and 'mlp' (the stages engine.js's
    forward reports to its trace hook)."""
    logits, hidden, saved = _trunk_block(params, cfg, tokens)
    size = lambda x: np.sqrt((x[0] * x[0]).sum(-1))   # noqa: E731 (|x| per position of the one row)
    layers = saved.layers
    resid = [('embed', -1, size(saved.norm0[0])), ('norm', -1, size(layers[0].norm1[0]))]
    for li, layer in enumerate(layers):   # rmsnorm keeps its input: x entering each norm
        after_mlp = layers[li + 1].norm1[0] if li + 1 < len(layers) else hidden
        resid += [('attn', li, size(layer.norm2[0])), ('mlp', li, size(after_mlp))]
    return {'logits': logits[0], 'attn': np.stack([layer.w_attn[0] for layer in layers]), 'resid': resid}

"""The building blocks of the scalar GPT, on lists of `Value`s (microgpt's helpers)."""
from .autograd import Value


def matrix(rng, nout, nin, std=0.08):
    """An nout x nin weight matrix of Gaussian draws, row by row (the reference's RNG order)."""
    return [[Value(rng.gauss(0, std)) for _ in range(nin)] for _ in range(nout)]


def linear(x, w):
    """y = W x, with W stored as a list of rows (nout x nin)."""
    return [sum(wi * xi for wi, xi in zip(wo, x)) for wo in w]


def softmax(logits):
    # subtracting the max changes nothing mathematically but keeps exp() from overflowing
    max_val = max(val.data for val in logits)
    exps = [(val - max_val).exp() for val in logits]
    total = sum(exps)
    return [e / total for e in exps]


def rmsnorm(x):
    ms = sum(xi * xi for xi in x) / len(x)
    scale = (ms + 1e-5) ** -0.5
    return [xi * scale for xi in x]


def sigmoid(x):
    """1 / (1 + exp(-x)), built from Value ops so it is differentiable."""
    return Value(1.0) / (Value(1.0) + (-x).exp())


def multi_head_attention(q, keys, values, n_head, head_dim, weights_out=None):
    """Scaled dot-product attention of one query over a list of keys/values, head by head.

    Used twice: causal self-attention (keys = this stream's past) and SNC
    (keys = notes on the bus). If `weights_out` is a list, each head's attention
    weights are appended to it as floats (for plots); nothing else changes.
    """
    x_attn = []
    for h in range(n_head):
        hs = h * head_dim
        q_h = q[hs:hs + head_dim]
        k_h = [ki[hs:hs + head_dim] for ki in keys]
        v_h = [vi[hs:hs + head_dim] for vi in values]
        attn_logits = [sum(q_h[j] * k_h[t][j] for j in range(head_dim)) / head_dim**0.5
                       for t in range(len(k_h))]
        attn_weights = softmax(attn_logits)
        if weights_out is not None:
            weights_out.append([w.data for w in attn_weights])
        head_out = [sum(attn_weights[t] * v_h[t][j] for t in range(len(v_h)))
                    for j in range(head_dim)]
        x_attn.extend(head_out)
    return x_attn

"""The numpy engine's building blocks, each a forward with its hand-written backward.

A forward returns its output and `saved`, what its backward needs; a backward takes
the gradient of the output and `saved` and returns the gradients of the inputs.
Arrays carry a leading batch of rows (streams), then positions, then features:
(B, T, E). Where the scalar engine fixes an order of operations that changes
rounding (x * (1/n) rather than x / n), these follow it; summation order still
differs in the last bits, which is why the two engines agree to rounding error, not
exactly: tests/test_engine.py holds logits, losses and every gradient to 1e-9 relative
to each matrix's largest entry, and the parameters after training to 1e-8.
"""
import numpy as np

NORM_EPS = 1e-5  # the 1e-5 inside rmsnorm's square root (scalar layers.rmsnorm)


def rmsnorm(x):
    """x / sqrt(mean(x^2) + 1e-5) over the last axis."""
    ms = (x * x).sum(-1, keepdims=True) * (1.0 / x.shape[-1])
    scale = (ms + NORM_EPS) ** -0.5
    return x * scale, (x, scale)


def rmsnorm_backward(dy, saved):
    # y = x s with s = (mean(x^2) + eps)^(-1/2), and ds/dx = -s^3 x / n
    x, scale = saved
    return scale * dy - (scale ** 3 * (1.0 / x.shape[-1])) * x * (dy * x).sum(-1, keepdims=True)


def softmax(logits):
    # subtracting the max changes nothing mathematically but keeps exp() from overflowing;
    # e * (1 / total) as the scalar engine's e / total = e * total**-1
    e = np.exp(logits - np.maximum.reduce(logits, axis=-1, keepdims=True))
    e *= 1.0 / np.add.reduce(e, axis=-1, keepdims=True)
    return e


def softmax_backward(dw, w):
    # d softmax: dlogits_i = w_i (dw_i - sum_j dw_j w_j)
    return w * (dw - (dw * w).sum(-1, keepdims=True))


def log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def split_heads(x, n_head):
    """(B, T, E) -> (B, n_head, T, head_dim)."""
    B, T, E = x.shape
    return x.reshape(B, T, n_head, E // n_head).transpose(0, 2, 1, 3)


def merge_heads(x):
    """(B, n_head, T, head_dim) -> (B, T, E): the heads' outputs side by side."""
    B, H, T, hd = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, H * hd)


def attention(q, k, v, n_head, visible=None):
    """Scaled dot-product attention, all heads at once.

    q: (B, T, E) queries; k, v: (Bk, P, E) keys and values, Bk = B (each row its own)
    or 1 (shared by every row); visible: None or booleans broadcastable to
    (B, n_head, T, P), True where a query may look at a key.
    Returns out (B, T, E), the weights (B, n_head, T, P) and `saved`.
    """
    qh, kh, vh = split_heads(q, n_head), split_heads(k, n_head), split_heads(v, n_head)
    scale = 1.0 / qh.shape[-1] ** 0.5
    logits = (qh @ kh.transpose(0, 1, 3, 2)) * scale
    if visible is not None:
        logits = np.where(visible, logits, -np.inf)  # exp(-inf) = 0: hidden keys get no weight
    w = softmax(logits)
    return merge_heads(w @ vh), w, (qh, kh, vh, w, scale)


def attention_backward(dout, saved):
    """Gradients of q, k, v (k and v summed over rows when they were shared)."""
    qh, kh, vh, w, scale = saved
    do = split_heads(dout, qh.shape[1])
    dw = do @ vh.transpose(0, 1, 3, 2)
    dvh = w.transpose(0, 1, 3, 2) @ do
    dlogits = softmax_backward(dw, w) * scale
    dqh = dlogits @ kh
    dkh = dlogits.transpose(0, 1, 3, 2) @ qh
    if kh.shape[0] != qh.shape[0]:  # one set of keys served every row
        dkh = dkh.sum(0, keepdims=True)
        dvh = dvh.sum(0, keepdims=True)
    return merge_heads(dqh), merge_heads(dkh), merge_heads(dvh)


def linear_grad(dy, x):
    """dL/dW for y = x @ W.T, summed over every leading axis: dy^T x as a 2-D matrix."""
    return dy.reshape(-1, dy.shape[-1]).T @ x.reshape(-1, x.shape[-1])

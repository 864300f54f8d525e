"""Shared Notes Cross-Attention (SNC): a stream's hidden state reads the notes bus."""
from .autograd import Value
from .layers import linear, multi_head_attention, sigmoid


def sigmoid_gate(state_dict):
    """sigmoid(gate logit), a `Value` in the graph: how much of SNC's output reaches the residual."""
    return sigmoid(state_dict['snc_gate'][0][0])


def gate_value(state_dict):
    """The gate as a float (the engines' common `gate_value`)."""
    if not isinstance(state_dict, dict) or 'snc_gate' not in state_dict:
        raise ValueError("state_dict must be a dict with the 'snc_gate' [[Value]] gate logit")
    return sigmoid_gate(state_dict).data


def snc_cross_attention(state_dict, cfg, x, notes, weights_out=None, gate=None):
    """Gated cross-attention of the hidden state `x` (n_embd) over `notes` (each notes_dim).

    Queries come from the hidden state, keys and values from the notes. Returns the
    gated delta to add to the residual (length n_embd); with no notes, a zero delta.
    If `weights_out` is a list, each head's attention weights over the notes are appended.
    gate: None multiplies by the trained gate; a number in [0, 1] replaces it (0: a zero delta).
    """
    if not notes:
        return [Value(0.0)] * cfg.n_embd
    keys_n = [linear(note, state_dict['snc_wk']) for note in notes]
    vals_n = [linear(note, state_dict['snc_wv']) for note in notes]
    q = linear(x, state_dict['snc_wq'])
    x_attn = multi_head_attention(q, keys_n, vals_n, cfg.n_head, cfg.head_dim, weights_out)
    projected = linear(x_attn, state_dict['snc_wo'])
    g = sigmoid_gate(state_dict) if gate is None else gate
    return [g * p for p in projected]

"""Teacher-forced runs of the numpy engine: losses and their gradients, for one document,
a batch of documents, or streams decoded together through the bus; and what the streams
see on the way (per-token log-probabilities, SNC's input and delta)."""
import numpy as np

from ..bus import emits
from ..params import SNC_KEYS, base_keys, param_shapes
from .bus import Bus, read_notes, round_blocks
from .layers import log_softmax
from .model import KVCache, add_grad, backward, check_tokens, forward
from .params import Weights


def _grad_keys(cfg, keys):
    """The parameters to differentiate: `keys` (checked), or all of them for None."""
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


def doc_loss_and_grads(params, cfg, tokens, keys=None):
    """Mean next-token loss of one document through the trunk, and its gradients.

    Like `train.doc_loss` + backward(): returns (loss float, grads dict name -> array)
    for `keys` (default every parameter; SNC's are zero, as SNC is not in this graph).
    """
    check_tokens(tokens, cfg, 'tokens')
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
        check_tokens(tokens, cfg, f'docs_tokens[{i}]')
    keys = _grad_keys(cfg, keys)
    W = Weights(params, cfg)
    B = len(docs_tokens)
    ns = [min(cfg.block_size, len(t) - 1) for t in docs_tokens]
    inputs = np.zeros((B, max(ns)), dtype=np.int64)
    targets = np.zeros((B, max(ns)), dtype=np.int64)
    weight = np.zeros((B, max(ns), 1))  # d(loss)/d(token loss): 1 / (n B), 0 on padding
    for b, (tokens, n) in enumerate(zip(docs_tokens, ns)):
        inputs[b, :n], targets[b, :n], weight[b, :n] = tokens[:n], tokens[1:n + 1], 1 / n / B
    cache = KVCache(cfg, B)
    logits, _, saved = forward(W, cfg, cache, np.arange(B), 0, inputs)
    logp = log_softmax(logits)
    rows, cols = np.arange(B)[:, None], np.arange(max(ns))[None, :]
    picked = logp[rows, cols, targets]
    loss = sum(-picked[b, :n].sum() * (1 / n) for b, n in enumerate(ns)) / B  # as (1/n) * sum(losses)
    grads = {k: np.zeros_like(params[k]) for k in keys}
    if any(k not in SNC_KEYS for k in keys):
        dlogits = np.exp(logp)
        dlogits[rows, cols, targets] -= 1.0
        cache.zero_grads()
        backward(W, cfg, cache, grads, saved, dlogits * weight, None)
    return float(loss), grads


def _decode_streams(params, cfg, bcfg, streams, notes_hook, batched):
    """Teacher-forced decoding of `streams` through the bus, as `train.streams_loss` does it,
    after checking the arguments every teacher-forced run shares.

    Returns the weights and the forward's record for the backward: the blocks in order,
    the bus, the caches and the plan-seed block.
    """
    W = Weights(params, cfg)
    if not isinstance(streams, (list, tuple)) or not streams:
        raise ValueError("streams must be a non-empty list of token lists, one per stream")
    for s, seq in enumerate(streams):
        check_tokens(seq, cfg, f"streams[{s}]")
    groups = round_blocks(bcfg, batched)
    S = len(streams)
    lengths = [min(cfg.block_size, len(s) - 1) for s in streams]
    tok = np.zeros((S, max(lengths) + 1), dtype=np.int64)
    for s, seq in enumerate(streams):
        tok[s, :lengths[s] + 1] = seq[:lengths[s] + 1]
    bus = Bus(cfg, S, bcfg.cadence, bcfg.lag)
    # planner: each stream's bus starts with the plan seed of its first token (trunk only)
    seed_cache = KVCache(cfg, S)
    _, seed_hidden, seed_saved = forward(W, cfg, seed_cache, np.arange(S), 0, tok[:, :1])
    seed_slots = bus.seed(seed_hidden[:, 0] @ W.p['planner_proj'].T)
    cache = KVCache(cfg, S)
    blocks = []
    for t in range(max(lengths)):
        live = [s for s in range(S) if t < lengths[s]]
        for group in groups(live, t):
            rows = np.array(group)
            read = read_notes(bus, rows, t, notes_hook)
            logits, hidden, saved = forward(W, cfg, cache, rows, t, tok[rows, t:t + 1], read)
            logp = log_softmax(logits[:, 0])
            slots = None
            if emits(t, bcfg.cadence):
                slots = bus.post(group, t, hidden[:, 0] @ W.p['notes_proj'].T)
            blocks.append((saved, logp, tok[rows, t + 1], slots, hidden[:, 0]))
    seed = (seed_cache, seed_saved, seed_hidden[:, 0], seed_slots)
    return W, blocks, bus, cache, seed


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
    W, blocks, bus, cache, seed = _decode_streams(params, cfg, bcfg, streams, notes_hook, batched)
    keys = _grad_keys(cfg, keys)
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
    """Backpropagate a teacher-forced decode, blocks in reverse, then the plan seeds."""
    trunk = any(k in grads for k in base_keys(cfg))
    cache.zero_grads()
    bus.zero_grads()
    for saved, logp, targets, slots, hidden in reversed(blocks):
        dhidden = None
        if slots is not None:  # the notes this block posted have all been read by now
            dnote = bus.dnotes[slots]
            add_grad(grads, 'notes_proj', dnote, hidden)
            dhidden = (dnote @ W.p['notes_proj'])[:, None]
        backward(W, cfg, cache, grads, saved, _dlogits(logp, targets, scale)[:, None], dhidden,
                 bus, trunk)
    seed_cache, seed_saved, seed_hidden, seed_slots = seed
    dseed = bus.dnotes[seed_slots]
    add_grad(grads, 'planner_proj', dseed, seed_hidden)
    if trunk:
        seed_cache.zero_grads()
        backward(W, cfg, seed_cache, grads, seed_saved, None,
                 (dseed @ W.p['planner_proj'])[:, None], bus, trunk)


def streams_log_probs(params, cfg, bcfg, streams, notes_hook=None, batched=None):
    """Per stream, the (n_positions, vocab) log-probabilities of the next token when `streams`
    are decoded together through the bus (teacher forcing), e.g. for per-token losses."""
    _, blocks, *_ = _decode_streams(params, cfg, bcfg, streams, notes_hook, batched)
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
    _, blocks, *_ = _decode_streams(params, cfg, bcfg, streams, notes_hook, batched)
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

"""Decoding with the numpy engine: one stream (the baseline) or several streams through the
bus, with the scalar `sample`'s arguments, random draws and traces."""
import numpy as np

from ..bus import emits
from ..sampling import check_parallel, check_prompt, check_sampling, decode_event, draw, parallel_trace, single_trace
from .bus import Bus, read_notes, round_blocks
from .layers import softmax
from .model import KVCache, forward
from .params import Weights, gate_value


def _heads(w, b, mask=None):
    """Row b's attention weights as per-head lists of floats (the scalar `record` format)."""
    return [(w[b, h, -1] if mask is None else w[b, h, -1][mask]).tolist() for h in range(w.shape[1])]


def sample_single(params, cfg, tokenizer, rng, temperature=0.5, record=False, prompt=None):
    """Generate one name from BOS with the trunk alone. Returns the trace the scalar
    `sample.sample_single` returns, with the same draws; `prompt` as there."""
    check_sampling(cfg, tokenizer, temperature)
    forced = check_prompt(prompt, tokenizer, cfg)
    W = Weights(params, cfg)
    cache = KVCache(cfg, 1)
    stream = np.array([0])
    token_id = tokenizer.BOS
    tokens, probs, attn = [], [], []
    inv_t = temperature ** -1  # the scalar engine divides as l * temperature**-1
    for pos_id in range(cfg.block_size):
        logits, _, saved = forward(W, cfg, cache, stream, pos_id, np.array([[token_id]]))
        weights = softmax(logits[0, 0] * inv_t).tolist()
        token_id = draw(weights, rng, forced[pos_id])
        if record:
            probs.append(weights)
            attn.append([_heads(layer.w_attn, 0) for layer in saved.layers])
        if token_id == tokenizer.BOS:
            break
        tokens.append(token_id)
    return single_trace(tokenizer, tokens, record, probs, attn, forced)


def sample_parallel(params, cfg, bcfg, tokenizer, rng, temperature=0.5, record=False,
                    starts=None, gate=None, prompts=None, batched=None, notes_hook=None):
    """Generate `bcfg.n_streams` names together through the bus: the scalar
    `sample.sample_parallel`, with its arguments (starts, gate, prompts), its trace and
    its random draws, whatever the batching: a batched round runs its live streams as one
    block, then draws for them in stream order.

    batched=True batches every round (needs lag >= 1); False runs one stream at a time
    (the reference's round-robin); None (default) batches every round when lag >= 1,
    and with lag 0 the rounds in which nobody posts.
    notes_hook as in `streams_loss_and_grads`; with record=True a made-up note's label is None.
    """
    start_tokens, forced, gate = check_parallel(cfg, bcfg, tokenizer, temperature,
                                                starts, gate, prompts)
    S = bcfg.n_streams
    groups = round_blocks(bcfg, batched)
    W = Weights(params, cfg, gate_value(params) if gate is None else gate)
    bus = Bus(cfg, S, bcfg.cadence, bcfg.lag)
    stream_tokens = list(start_tokens)
    # plan seeds: one trunk pass per distinct start token (all BOS: one pass for every stream)
    distinct = sorted(set(start_tokens))
    _, seed_hidden, _ = forward(W, cfg, KVCache(cfg, len(distinct)), np.arange(len(distinct)), 0,
                                np.array(distinct)[:, None])
    bus.seed((seed_hidden[:, 0] @ W.p['planner_proj'].T)[[distinct.index(t) for t in start_tokens]])
    cache = KVCache(cfg, S)
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
            read = read_notes(bus, rows, pos_id, notes_hook)
            logits, hidden, saved = forward(W, cfg, cache, rows, pos_id,
                                            np.array([[stream_tokens[s]] for s in group]), read)
            probs = softmax(logits[:, 0] * inv_t).tolist()
            posting = []
            for b, si in enumerate(group):
                steps += 1
                weights = probs[b]
                next_token = draw(weights, rng, forced[si][pos_id])
                if record:
                    events.append(_event(cfg, bus, read, saved, b, si, pos_id, next_token, weights,
                                         forced[si][pos_id] is not None))
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
    return parallel_trace(tokenizer, start_tokens, samples, rounds, steps, record, events, posts)


def _snc_heads(w, read, b, mask):
    """Row b's SNC weights over the notes it read, per head, as lists of floats."""
    if not read.shared:  # per-row notes: w is (B, H, T, M)
        return _heads(w, b, mask)
    B = len(read.visible)     # shared notes: w is (1, H, B*T, N), row b's queries at b*T .. b*T+T-1
    T = w.shape[2] // B
    return [w[0, h, b * T + T - 1][mask].tolist() for h in range(w.shape[1])]


def _event(cfg, bus, read, saved, b, si, pos_id, token, weights, forced):
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
    return decode_event(si, pos_id, token, forced, weights, snc, labels, delta,
                        [_heads(layer.w_attn, b) for layer in saved.layers])

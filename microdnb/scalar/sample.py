"""Decoding: one stream (the baseline) or several streams coordinating through the bus.

Both return traces (tokens, text, and, on request, attention weights and bus contents)
so the book can plot what happened. The random draws are the reference's:
`rng.choices(range(vocab_size), weights=probs)` once per generated token.
"""
from ..bus import NotesBus, emits
from ..sampling import check_parallel, check_prompt, check_sampling, decode_event, draw, parallel_trace, single_trace
from .layers import linear, softmax
from .model import gpt
from .planner import plan_seed


def _draw(logits, temperature, rng, forced=None):
    probs = softmax([l / temperature for l in logits])
    weights = [p.data for p in probs]
    return draw(weights, rng, forced), weights


def sample_single(state_dict, cfg, tokenizer, rng, temperature=0.5, record=False, prompt=None):
    """Generate one name from BOS with the trunk alone. Returns a trace dict.

    prompt: None, or a string (shorter than block_size) of the tokenizer's characters that
    the name starts with: at positions 0..len(prompt)-1 the next token is the prompt's
    character, with no draw; after it tokens are drawn as usual. The text includes it.
    With record=True the trace has per position 'probs', 'attn' and 'forced' (bool).
    """
    check_sampling(cfg, tokenizer, temperature)
    forced = check_prompt(prompt, tokenizer, cfg)
    keys, values = [[] for _ in range(cfg.n_layer)], [[] for _ in range(cfg.n_layer)]
    token_id = tokenizer.BOS
    tokens, probs, attn = [], [], []
    for pos_id in range(cfg.block_size):
        rec = {} if record else None
        logits, _ = gpt(state_dict, cfg, token_id, pos_id, keys, values, record=rec)
        token_id, weights = _draw(logits, temperature, rng, forced[pos_id])
        if record:
            probs.append(weights)
            attn.append(rec['attn'])
        if token_id == tokenizer.BOS:
            break
        tokens.append(token_id)
    return single_trace(tokenizer, tokens, record, probs, attn, forced)


def sample_parallel(state_dict, cfg, bcfg, tokenizer, rng, temperature=0.5, record=False,
                    starts=None, gate=None, prompts=None):
    """Generate `bcfg.n_streams` names together, round-robin, through the Notes Bus.

    Each stream starts from BOS, or from its start letter if `starts` (None, or one entry
    per stream: None or '' for BOS, or one character of the vocabulary) gives one, and its
    bus is seeded with the plan seed of that token. A stream that samples BOS stops and
    posts nothing more (as in the reference's inference loop).

    gate: None for the trained gate; a number in [0, 1] replaces the gate multiplier in
    every SNC call of this decode (0: the notes have no effect, the trunk's distributions).
    prompts: None, or one string per stream (each maybe empty, shorter than block_size, of
    the tokenizer's characters): at positions 0..len(prompt)-1 the stream's next token is
    the prompt's character, with no draw (the streams after it draw in their usual
    order); a forced token is part of the stream: it posts at the cadence, and its text
    includes the prompt.

    Returns {'texts' (each with its start letter and its prompt), 'tokens' (what each
    stream wrote), 'rounds', 'steps'} and, with record=True, 'events':
    one dict per generated position (stream, pos, token, forced (bool), probs, snc weights
    per layer and head, labels of the notes read as (stream, round) with None for the
    plan seed, the gated SNC delta), and 'posts': (stream, round, snapshot floats).
    """
    start_tokens, forced, gate = check_parallel(cfg, bcfg, tokenizer, temperature,
                                                starts, gate, prompts)
    n_streams = bcfg.n_streams
    stream_keys = [[[] for _ in range(cfg.n_layer)] for _ in range(n_streams)]
    stream_values = [[[] for _ in range(cfg.n_layer)] for _ in range(n_streams)]
    bus = NotesBus(n_streams, bcfg.lag)
    for si in range(n_streams):
        bus.seed(si, plan_seed(state_dict, cfg, start_tokens[si]))
    stream_tokens = list(start_tokens)
    samples = [[] for _ in range(n_streams)]
    done = [False] * n_streams
    events, posts = [], []
    rounds = steps = 0
    for pos_id in range(cfg.block_size):
        rounds += 1
        for si in range(n_streams):
            if done[si]:
                continue
            steps += 1
            other_notes = bus.read(si, pos_id)
            rec = {} if record else None
            logits, hidden = gpt(state_dict, cfg, stream_tokens[si], pos_id, stream_keys[si],
                                 stream_values[si], notes=other_notes, record=rec, gate=gate)
            next_token, weights = _draw(logits, temperature, rng, forced[si][pos_id])
            if record:
                events.append(decode_event(si, pos_id, next_token, forced[si][pos_id] is not None, weights,
                                           rec['snc'], bus.read_labels(si, pos_id), rec['snc_delta'],
                                           rec['attn']))
            if next_token == tokenizer.BOS:
                done[si] = True
                continue
            samples[si].append(next_token)
            stream_tokens[si] = next_token
            if emits(pos_id, bcfg.cadence):
                snapshot = linear(hidden, state_dict['notes_proj'])
                bus.post(si, pos_id, snapshot)
                if record:
                    posts.append((si, pos_id, [s.data for s in snapshot]))
        if all(done):
            break
    return parallel_trace(tokenizer, start_tokens, samples, rounds, steps, record, events, posts)

"""Decoding: one stream (the baseline) or several streams coordinating through the bus.

Both return traces (tokens, text, and, on request, attention weights and bus contents)
so the book can plot what happened. The random draws are the reference's:
`rng.choices(range(vocab_size), weights=probs)` once per generated token.
"""
from .bus import NotesBus, emits
from .config import ModelConfig, check_temperature
from .layers import linear, softmax
from .model import gpt
from .planner import plan_seed


def check_sampling(cfg, tokenizer, rng, temperature):
    """What both engines' samplers need: a model config, its own tokenizer, a random.Random, T > 0."""
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"expected a ModelConfig, got {type(cfg).__name__}")
    check_temperature(temperature)
    if getattr(tokenizer, 'vocab_size', None) != cfg.vocab_size:
        raise ValueError(f"the tokenizer has {getattr(tokenizer, 'vocab_size', '?')} tokens but "
                         f"cfg.vocab_size is {cfg.vocab_size}: use the tokenizer the model was trained with")
    if not callable(getattr(rng, 'choices', None)):
        raise ValueError(f"rng must be a random.Random (its choices() makes the draws), got {type(rng).__name__}")


def draw(weights, rng):
    """The reference's draw: one rng.choices over the vocabulary, weights as Python floats.
    Both engines draw here, so the same rng gives the same names."""
    return rng.choices(range(len(weights)), weights=weights)[0]


def _draw(logits, temperature, rng):
    probs = softmax([l / temperature for l in logits])
    weights = [p.data for p in probs]
    return draw(weights, rng), weights


def sample_single(state_dict, cfg, tokenizer, rng, temperature=0.5, record=False):
    """Generate one name from BOS with the trunk alone. Returns a trace dict."""
    check_sampling(cfg, tokenizer, rng, temperature)
    keys, values = [[] for _ in range(cfg.n_layer)], [[] for _ in range(cfg.n_layer)]
    token_id = tokenizer.BOS
    tokens, probs, attn = [], [], []
    for pos_id in range(cfg.block_size):
        rec = {} if record else None
        logits, _ = gpt(state_dict, cfg, token_id, pos_id, keys, values, record=rec)
        token_id, weights = _draw(logits, temperature, rng)
        if record:
            probs.append(weights)
            attn.append(rec['attn'])
        if token_id == tokenizer.BOS:
            break
        tokens.append(token_id)
    trace = {'tokens': tokens, 'text': tokenizer.decode(tokens)}
    if record:
        trace.update(probs=probs, attn=attn)
    return trace


def sample_parallel(state_dict, cfg, bcfg, tokenizer, rng, temperature=0.5, record=False,
                    first_tokens=None):
    """Generate `bcfg.n_streams` names together, round-robin, through the Notes Bus.

    Each stream's bus is seeded with the plan seed of its first token (BOS unless
    `first_tokens` says otherwise). A stream that samples BOS stops and posts nothing
    more (as in the reference's inference loop).

    Returns {'texts', 'tokens', 'rounds', 'steps'} and, with record=True, 'events':
    one dict per generated position (stream, pos, token, probs, snc weights per layer
    and head, labels of the notes read as (stream, round) with None for the plan
    seed, the gated SNC delta), and 'posts': (stream, round, snapshot floats).
    """
    check_sampling(cfg, tokenizer, rng, temperature)
    n_streams = bcfg.n_streams
    if first_tokens is None:
        first_tokens = [tokenizer.BOS] * n_streams
    if len(first_tokens) != n_streams:
        raise ValueError(f"first_tokens has {len(first_tokens)} entries for {n_streams} streams")
    stream_keys = [[[] for _ in range(cfg.n_layer)] for _ in range(n_streams)]
    stream_values = [[[] for _ in range(cfg.n_layer)] for _ in range(n_streams)]
    bus = NotesBus(n_streams, bcfg.lag)
    for si in range(n_streams):
        bus.seed(si, plan_seed(state_dict, cfg, first_tokens[si]))
    stream_tokens = list(first_tokens)
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
                                 stream_values[si], notes=other_notes, record=rec)
            next_token, weights = _draw(logits, temperature, rng)
            if record:
                events.append({'stream': si, 'pos': pos_id, 'token': next_token, 'probs': weights,
                               'snc': rec['snc'], 'notes': bus.read_labels(si, pos_id),
                               'snc_delta': rec['snc_delta'], 'attn': rec['attn']})
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
    trace = {'texts': [tokenizer.decode(s) for s in samples], 'tokens': samples,
             'rounds': rounds, 'steps': steps}
    if record:
        trace.update(events=events, posts=posts)
    return trace

"""The sampling rules both engines share: what a sampler needs, the decode settings it
checks (gate, prompts, start letters), and the reference's one draw.

Two ways to give a stream letters: its *start letter* replaces the start token as its input
at position 0 (and its plan seed's input), as the copy task's leader is given its name's
first letter; a *prompt* is letters it is made to write first, without a draw. The texts
a decode returns begin with both.

The draw is `rng.choices(range(vocab_size), weights=probs)`, one per generated token,
with the weights as Python floats: both engines draw here, so the same rng and the same
probabilities give the same names. A token a prompt forces is taken without a draw.
Both engines also build their traces here, so the two return the same keys.
"""
from .config import LIMITS, BusConfig, ModelConfig, check_temperature


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


def check_gate(gate):
    """A decode's gate: None (as trained: sigmoid of the logit), or a real number in [0, 1]
    (numpy's too) that replaces the gate multiplier in every SNC call, returned as a float.
    0 takes the notes out: every distribution is then exactly the trunk's."""
    return None if gate is None else LIMITS['gate'].check(gate, 'gate')


def check_prompt(prompt, tokenizer, cfg, name='prompt'):
    """The tokens a prompt forces, one per position 0..block_size-1: its characters' ids, then
    None (drawn as usual). None forces nothing. A prompt is a str (maybe empty) of the
    tokenizer's characters, shorter than block_size, so at least one token is drawn."""
    free = [None] * cfg.block_size
    if prompt is None:
        return free
    if not isinstance(prompt, str):
        raise TypeError(f"{name} must be a str of the tokenizer's characters, got {type(prompt).__name__}")
    if len(prompt) >= cfg.block_size:
        raise ValueError(f"{name} has {len(prompt)} characters; it must be shorter than "
                         f"block_size ({cfg.block_size})")
    index = {ch: i for i, ch in enumerate(tokenizer.uchars)}
    for ch in prompt:
        if ch not in index:
            raise ValueError(f"{name} has the character {ch!r}, which is not in the vocabulary "
                             f"{''.join(tokenizer.uchars)!r}")
    return [index[ch] for ch in prompt] + free[len(prompt):]


def check_prompts(prompts, n_streams, tokenizer, cfg):
    """Per stream, what `check_prompt` gives for its prompt: `prompts` is None (nothing forced)
    or a list of n_streams strings, prompts[s] forcing the start of stream s."""
    if prompts is None:
        return [check_prompt(None, tokenizer, cfg) for _ in range(n_streams)]
    if not isinstance(prompts, (list, tuple)):
        raise TypeError(f"prompts must be None or a list of {n_streams} strings, got {type(prompts).__name__}")
    if len(prompts) != n_streams:
        raise ValueError(f"prompts has {len(prompts)} entries for {n_streams} streams")
    return [check_prompt(p, tokenizer, cfg, f'prompts[{s}] (stream {s})') for s, p in enumerate(prompts)]


def start_token(start, tokenizer):
    """The token a stream starts from, given its start letter: '' or None is the start token
    (BOS), one character of the vocabulary is its id (the copy task's leader is given its
    name's first letter). None if `start` is anything else; each caller says so in its own
    words."""
    if start is None or start == '':
        return tokenizer.BOS
    if isinstance(start, str) and len(start) == 1 and start in tokenizer.uchars:
        return tokenizer.uchars.index(start)
    return None


def check_starts(starts, n_streams, tokenizer):
    """The token each stream starts from (and seeds its plan from), from `starts`: None (every
    stream from the start token), or a list of n_streams start letters (`start_token`)."""
    if starts is None:
        return [tokenizer.BOS] * n_streams
    if not isinstance(starts, (list, tuple)) or len(starts) != n_streams:
        raise ValueError(f"starts must be None or a list of {n_streams} start letters (one per stream), "
                         f"got {starts!r:.80}")
    tokens = [start_token(c, tokenizer) for c in starts]
    for s, (c, t) in enumerate(zip(starts, tokens)):
        if t is None:
            raise ValueError(f"starts[{s}] must be '' or None (the start token) or one character of the "
                             f"vocabulary {''.join(tokenizer.uchars)!r}, got {c!r:.40}")
    return tokens


def check_parallel(cfg, bcfg, tokenizer, rng, temperature, starts, gate, prompts):
    """What both engines' sample_parallel check: `check_sampling`'s arguments, a BusConfig,
    and the decode settings. Returns (the token each stream starts from (`check_starts`),
    forced tokens per stream and position (`check_prompts`), the gate as None or a float)."""
    check_sampling(cfg, tokenizer, rng, temperature)
    if not isinstance(bcfg, BusConfig):
        raise ValueError(f"expected a BusConfig, got {type(bcfg).__name__}")
    return (check_starts(starts, bcfg.n_streams, tokenizer),
            check_prompts(prompts, bcfg.n_streams, tokenizer, cfg), check_gate(gate))


def draw(weights, rng, forced=None):
    """The next token: `forced` if it is not None (a prompt's; the rng is not touched), else
    the reference's draw, one rng.choices over the vocabulary with the weights as floats."""
    if forced is not None:
        return forced
    return rng.choices(range(len(weights)), weights=weights)[0]


def single_trace(tokenizer, tokens, record, probs, attn, forced):
    """What sample_single returns: the tokens and their text and, with record=True, per
    position the distribution the token came from, the attention weights (per layer, per
    head) and whether the token was forced (a prompt's)."""
    trace = {'tokens': tokens, 'text': tokenizer.decode(tokens)}
    if record:
        trace.update(probs=probs, attn=attn, forced=[f is not None for f in forced[:len(probs)]])
    return trace


def decode_event(stream, pos, token, forced, probs, snc, notes, snc_delta, attn):
    """One step of a recorded sample_parallel: the stream, its position, the token it wrote
    (forced: a prompt's, not drawn), the distribution it came from, the SNC weights per
    layer and head over the notes read, their (stream, round) labels (round None: a plan
    seed), the gated SNC delta per layer and the self-attention weights per layer and head."""
    return {'stream': stream, 'pos': pos, 'token': token, 'forced': forced, 'probs': probs, 'snc': snc,
            'notes': notes, 'snc_delta': snc_delta, 'attn': attn}


def parallel_trace(tokenizer, start_tokens, samples, rounds, steps, record, events, posts):
    """What sample_parallel returns: per stream its tokens (those it wrote) and its text (its
    start letter, if it was given one, then what it wrote), the rounds and the steps (forward
    passes) taken and, with record=True, the events (`decode_event`) and the posts (stream,
    round, snapshot floats)."""
    trace = {'texts': [tokenizer.decode([t] + s) for t, s in zip(start_tokens, samples)], 'tokens': samples,
             'rounds': rounds, 'steps': steps}
    if record:
        trace.update(events=events, posts=posts)
    return trace

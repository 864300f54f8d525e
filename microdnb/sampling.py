"""The sampling rules both engines share: the decode settings and their checkers (one per
kind: the gate and temperature, the prompts, the start letters), and the reference's one draw.

The command line, the explorer and the engines' public samplers all check what they are
given with these functions, each naming its own flag or argument: `--prompt 'e1' (stream 0)`,
`prompts 'eQ' (stream 1)`, `explorer: settings starts 'em' (stream 0)`. The ranges are
config.LIMITS's (the explorer's controls offer a part of them, its RANGES); `DECODE_LIMITS`
names them as a decode's settings, for the page's payload (config.limits_json).

Two ways to give a stream letters: its *start letter* replaces the start token as its input
at position 0 (and its plan seed's input), as the copy task's leader is given its name's
first letter; a *prompt* is letters it is made to write first, without a draw. The texts
a decode returns begin with both.

The draw is `rng.choices(range(vocab_size), weights=probs)`, one per generated token,
with the weights as Python floats: both engines draw here, so the same rng and the same
probabilities give the same names. A token a prompt forces is taken without a draw.
Both engines also build their traces here, so the two return the same keys.
"""
from .config import LIMITS, show

# a decode's numeric settings (the explorer's and the page's names) -> their config.LIMITS entry
DECODE_LIMITS = {'gate': 'gate', 'temperature': 'temperature', 'seed': 'seed', 'streams': 'n_streams',
                 'cadence': 'cadence', 'lag': 'lag'}


def check_sampling(cfg, tokenizer, temperature):
    """What both engines' samplers check of their arguments: the temperature (config.LIMITS),
    and a tokenizer that is the model's own (a wrong one would decode silently wrong)."""
    LIMITS['temperature'].check(temperature, 'temperature')
    if tokenizer.vocab_size != cfg.vocab_size:
        raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but cfg.vocab_size is "
                         f"{cfg.vocab_size}: use the tokenizer the model was trained with")


def check_gate(gate, name='gate'):
    """A decode's gate: None (as trained: sigmoid of the logit), or a real number in [0, 1]
    (numpy's too) that replaces the gate multiplier in every SNC call, returned as a float.
    0 takes the notes out: every distribution is then exactly the trunk's."""
    return None if gate is None else LIMITS['gate'].check(gate, name)


def _per_stream(values, n_streams, name):
    """`values` (None, or a list of at most n_streams entries) padded with None to one per stream."""
    if values is None:
        values = []
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{name} must be None or a list of at most {n_streams} strings (one per stream), "
                        f"got {type(values).__name__}")
    if len(values) > n_streams:
        raise ValueError(f"{name} has {len(values)} entries for {n_streams} stream(s): at most one per stream")
    return list(values) + [None] * (n_streams - len(values))


def check_prompt(prompt, tokenizer, cfg, label='prompt'):
    """The tokens a prompt forces, one per position 0..block_size-1: its characters' ids, then
    None (drawn as usual). None or '' forces nothing. A prompt is a str of the tokenizer's
    characters, shorter than block_size, so at least one token is drawn."""
    free = [None] * cfg.block_size
    if prompt is None or prompt == '':
        return free
    if not isinstance(prompt, str):
        raise ValueError(f"{label} must be a string of the vocabulary's characters, got {type(prompt).__name__}")
    if len(prompt) >= cfg.block_size:
        raise ValueError(f"{label} has {len(prompt)} characters; it must be shorter than block_size "
                         f"({cfg.block_size}): at most {cfg.block_size - 1}")
    index = {ch: i for i, ch in enumerate(tokenizer.uchars)}
    for ch in prompt:
        if ch not in index:
            raise ValueError(f"{label} has the character {ch!r}, which is not in the vocabulary "
                             f"{''.join(tokenizer.uchars)!r}")
    return [index[ch] for ch in prompt] + free[len(prompt):]


def check_prompts(prompts, n_streams, tokenizer, cfg, name='prompts'):
    """Per stream, what `check_prompt` gives for its prompt: `prompts` is None (nothing forced)
    or a list of at most n_streams strings (or None), prompts[s] forcing the start of stream s."""
    return [check_prompt(p, tokenizer, cfg, f"{name} {p!r:.40} (stream {s})")
            for s, p in enumerate(_per_stream(prompts, n_streams, name))]


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


def check_starts(starts, n_streams, tokenizer, name='starts'):
    """The token each stream starts from (`start_token`): `starts` is None (the start token
    for all) or a list of at most n_streams entries, each None, '' or one character."""
    tokens = []
    for s, c in enumerate(_per_stream(starts, n_streams, name)):
        tokens.append(start_token(c, tokenizer))
        if tokens[-1] is None:
            raise ValueError(f"{name} {c!r:.40} (stream {s}) must be one character of the vocabulary "
                             f"{''.join(tokenizer.uchars)!r}, or '' for the start token")
    return tokens


def check_parallel(cfg, bcfg, tokenizer, temperature, starts, gate, prompts):
    """What both engines' sample_parallel check: `check_sampling`'s arguments and the decode
    settings. Returns (the token each stream starts from (`check_starts`), forced tokens per
    stream and position (`check_prompts`), the gate as None or a float)."""
    check_sampling(cfg, tokenizer, temperature)
    return (check_starts(starts, bcfg.n_streams, tokenizer),
            check_prompts(prompts, bcfg.n_streams, tokenizer, cfg), check_gate(gate))


def draw(weights, rng, forced=None):
    """The next token: `forced` if it is not None (a prompt's; the rng is not touched), else
    the reference's draw, one rng.choices over the vocabulary with the weights as floats.
    Weights that are not a distribution (one negative, a total that is 0, infinite or NaN:
    a model whose activations overflowed) are refused: ValueError."""
    if forced is not None:
        return forced
    try:
        if min(weights) >= 0:   # False for NaN too, when it comes first (choices refuses the other NaNs)
            return rng.choices(range(len(weights)), weights=weights)[0]
    except ValueError:  # a total of 0, or not finite
        pass
    raise ValueError(f"the next-token weights are not a distribution (min {show(min(weights))}, total "
                     f"{show(sum(weights))}): the model's activations overflowed")


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

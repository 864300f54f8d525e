"""The explorer's decode settings in both engines: a fixed gate and prompts.

* Over a grid of gates, prompts, lags and temperatures, the scalar and numpy engines
  give the same texts, tokens, events (forced marks included), posts and draws.
* gate=0 is the trunk exactly: every distribution equals the scalar trunk's with no notes
  at all, and the numpy decode equals one whose SNC never runs (a hook that reads nothing).
* gate=None is the trained gate: the same trace as passing gate_value(params) explicitly
  (and `replicate`, with gate=None, still prints the reference's output: test_engine).
* A prompt's characters are taken with no draw, in stream order, the rest drawn as
  usual; forced tokens post at the cadence and are part of the text.
* Bad settings fail with a ValueError / TypeError naming the argument.
"""
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microdnb import scalar, vector
from microdnb.bus import emits
from microdnb.config import BusConfig, ModelConfig
from microdnb.data import Tokenizer
from microdnb.scalar import model
from microdnb.scalar.autograd import Value
from microdnb.scalar.layers import softmax

TOKENIZER = Tokenizer.from_docs(['emma', 'olivia', 'ava', 'isabella', 'mia', 'zoe', 'liam', 'noah'])
BOS = TOKENIZER.BOS
CFG = ModelConfig(vocab_size=TOKENIZER.vocab_size, n_layer=2, block_size=8, n_embd=8, n_head=2,
                  notes_dim=4, init_std=0.2)
RTOL = 1e-9


class CountingRandom(random.Random):
    """A random.Random that counts its draws (rng.choices calls)."""
    draws = 0

    def choices(self, *args, **kwargs):
        self.draws += 1
        return super().choices(*args, **kwargs)


def models(seed=0):
    """A scalar state_dict and its numpy twin, the gate half open and SNC scaled up so that
    the notes visibly move the distributions."""
    state_dict = model.init_params(CFG, random.Random(seed))
    for name in ('notes_proj', 'planner_proj', 'snc_wq', 'snc_wk', 'snc_wv', 'snc_wo'):
        state_dict[name] = [[Value(2 * v.data) for v in row] for row in state_dict[name]]
    state_dict['snc_gate'][0][0] = Value(0.0)
    return state_dict, vector.params_from(state_dict)


STATE_DICT, PARAMS = models()


def close(a, b, rtol=RTOL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    return np.abs(a - b).max(initial=0) <= rtol * max(np.abs(a).max(initial=0), np.abs(b).max(initial=0))


def assert_same_trace(ref, got):
    for key in ('texts', 'tokens', 'rounds', 'steps', 'text'):
        assert got.get(key) == ref.get(key), key
    assert len(ref.get('events', [])) == len(got.get('events', []))
    for r, g in zip(ref.get('events', []), got.get('events', [])):
        assert (r['stream'], r['pos'], r['token'], r['forced'], r['notes']) == \
            (g['stream'], g['pos'], g['token'], g['forced'], g['notes'])
        assert close(r['probs'], g['probs'])
        for key in ('snc_delta', 'attn'):
            assert all(close(a, b) for a, b in zip(r[key], g[key])), key
    assert [p[:2] for p in ref.get('posts', [])] == [p[:2] for p in got.get('posts', [])]
    assert all(close(r[2], g[2]) for r, g in zip(ref.get('posts', []), got.get('posts', [])))


# ---- both engines, one grid ----------------------------------------------------------

GATES = [None, 0.0, 0.25, 1.0, np.float64(0.7)]
PROMPTS = [None, ['', 'em', 'a'], ['ava', '', 'zoe'], ['mi', 'mi', 'mi'], ['olivia', 'l', '']]
# every gate with two prompt settings and both lags, every prompt setting with two gates
GRID = [(gate, PROMPTS[(i + 2 * lag) % len(PROMPTS)], lag) for i, gate in enumerate(GATES) for lag in (0, 1)]


@pytest.mark.parametrize('k', [pytest.param(k, marks=() if k < 2 else pytest.mark.slow) for k in range(len(GRID))],
                         ids=[f'gate={g}-prompts={p}-lag={lag}' for g, p, lag in GRID])  # make check: the first two
def test_both_engines_decode_the_same_under_gate_and_prompts(k):
    gate, prompts, lag = GRID[k]
    bcfg = BusConfig(n_streams=3, cadence=2, lag=lag)
    temperature = (1.0, 0.6)[k % 2]
    rng_s, rng_n = CountingRandom(k), CountingRandom(k)
    ref = scalar.sample_parallel(STATE_DICT, CFG, bcfg, TOKENIZER, rng_s, temperature, record=True,
                                 gate=gate, prompts=prompts)
    got = vector.sample_parallel(PARAMS, CFG, bcfg, TOKENIZER, rng_n, temperature, record=True,
                                 gate=gate, prompts=prompts)
    assert_same_trace(ref, got)
    assert rng_s.draws == rng_n.draws == sum(not e['forced'] for e in ref['events'])
    assert rng_s.random() == rng_n.random()
    for s, prompt in enumerate(prompts or [''] * 3):
        assert ref['texts'][s].startswith(prompt)
        assert [e['forced'] for e in ref['events'] if e['stream'] == s] == \
            [pos < len(prompt) for pos in range(len(ref['tokens'][s]) + (len(ref['tokens'][s]) < CFG.block_size))]


@pytest.mark.parametrize('prompt', [None, '', 'a', 'isabel'])
def test_sample_single_prompt_in_both_engines(prompt):
    for seed in range(3):
        rng_s, rng_n = CountingRandom(seed), CountingRandom(seed)
        ref = scalar.sample_single(STATE_DICT, CFG, TOKENIZER, rng_s, 0.8, record=True, prompt=prompt)
        got = vector.sample_single(PARAMS, CFG, TOKENIZER, rng_n, 0.8, record=True, prompt=prompt)
        assert got['text'] == ref['text'] and got['tokens'] == ref['tokens']
        assert got['forced'] == ref['forced'] == [i < len(prompt or '') for i in range(len(ref['probs']))]
        assert all(close(a, b) for a, b in zip(ref['probs'], got['probs']))
        assert ref['text'].startswith(prompt or '')
        assert rng_s.draws == rng_n.draws == len(ref['probs']) - len(prompt or '')
        assert rng_s.random() == rng_n.random()


@pytest.mark.slow
def test_a_prompt_is_the_same_as_drawing_its_characters():
    # forcing the tokens a decode drew, and replaying its other draws in order, gives that
    # decode back: forced tokens go through the model as drawn ones do, and the draws of the
    # other streams keep their order (stream order, the forced stream skipped)
    bcfg = BusConfig(n_streams=3, cadence=2, lag=0)
    for engine, params in ((scalar, STATE_DICT), (vector, PARAMS)):
        # a decode in which stream 0 writes at least two characters
        free = next(trace for trace in (engine.sample_parallel(params, CFG, bcfg, TOKENIZER, random.Random(seed),
                                                               1.0, record=True) for seed in range(50))
                    if len(trace['tokens'][0]) >= 2)
        head = TOKENIZER.decode(free['tokens'][0][:2])  # stream 0's first two tokens
        replay = ReplayRandom([e['token'] for e in free['events'] if not (e['stream'] == 0 and e['pos'] < 2)])
        forced = engine.sample_parallel(params, CFG, bcfg, TOKENIZER, replay, 1.0, record=True,
                                        prompts=[head, '', ''])
        assert forced['texts'] == free['texts'] and not replay.tokens
        assert [e['probs'] for e in forced['events']] == [e['probs'] for e in free['events']]
        assert [p[:2] for p in forced['posts']] == [p[:2] for p in free['posts']]
        assert [e['forced'] for e in forced['events']] == [e['stream'] == 0 and e['pos'] < 2
                                                           for e in free['events']]


class ReplayRandom:
    """An rng whose draws are the given tokens, in order."""

    def __init__(self, tokens):
        self.tokens = list(tokens)

    def choices(self, population, weights):
        return [self.tokens.pop(0)]


def test_forced_streams_post_at_the_cadence():
    bcfg = BusConfig(n_streams=2, cadence=2, lag=0)
    for engine, params in ((scalar, STATE_DICT), (vector, PARAMS)):
        trace = engine.sample_parallel(params, CFG, bcfg, TOKENIZER, random.Random(0), 1.0, record=True,
                                       prompts=['olivia', ''])
        posted = [r for s, r, _ in trace['posts'] if s == 0]
        assert [r for r in range(6) if emits(r, 2)] == posted[:3] == [1, 3, 5]
        forced = [e for e in trace['events'] if e['forced']]
        assert [(e['stream'], e['pos'], e['token']) for e in forced] == \
            [(0, i, TOKENIZER.encode('olivia')[1 + i]) for i in range(6)]
        assert all(math.isclose(sum(e['probs']), 1.0) for e in forced)  # probs still recorded


# ---- gate = 0 is the trunk; gate = None the trained gate -------------------------------

def trunk_probs(tokens, temperature):
    """The scalar trunk's distribution after each prefix of BOS + tokens (no notes at all)."""
    keys, values = [[] for _ in range(CFG.n_layer)], [[] for _ in range(CFG.n_layer)]
    out = []
    for pos, token in enumerate(([BOS] + tokens)[:CFG.block_size]):
        logits, _ = model.gpt(STATE_DICT, CFG, token, pos, keys, values)
        out.append([p.data for p in softmax([l / temperature for l in logits])])
    return out


@pytest.mark.slow
@pytest.mark.parametrize('lag', [0, 1])
def test_gate_zero_is_exactly_the_trunk(lag):
    bcfg = BusConfig(n_streams=3, cadence=2, lag=lag)
    for seed in range(3):
        trace = scalar.sample_parallel(STATE_DICT, CFG, bcfg, TOKENIZER, random.Random(seed), 0.9,
                                       record=True, gate=0, prompts=['', 'e', ''])
        trunk = [trunk_probs(tokens, 0.9) for tokens in trace['tokens']]
        for e in trace['events']:
            assert e['probs'] == trunk[e['stream']][e['pos']]  # bit for bit
        assert any(e['notes'] for e in trace['events'])  # the notes were there, and read
        # numpy: the same decode with SNC taken out (a hook that gives no notes, so SNC never runs)
        no_snc = lambda reader, round_, labels, notes: notes[:0]  # noqa: E731
        got = vector.sample_parallel(PARAMS, CFG, bcfg, TOKENIZER, random.Random(seed), 0.9, record=True,
                                     gate=0.0, prompts=['', 'e', ''])
        ref = vector.sample_parallel(PARAMS, CFG, bcfg, TOKENIZER, random.Random(seed), 0.9, record=True,
                                     prompts=['', 'e', ''], notes_hook=no_snc)
        assert got['texts'] == ref['texts'] == trace['texts']
        assert [e['probs'] for e in got['events']] == [e['probs'] for e in ref['events']]  # bit for bit
        for e, f in zip(got['events'], trace['events']):
            assert close(e['probs'], f['probs'])


def test_the_notes_matter_at_other_gates():
    # (so that the gate tests above test something): the forced positions of three streams
    # run the same tokens at every gate, so their distributions can be compared one to one
    bcfg = BusConfig(n_streams=3, cadence=2, lag=0)

    def forced_probs(g):
        trace = vector.sample_parallel(PARAMS, CFG, bcfg, TOKENIZER, random.Random(0), 1.0, record=True,
                                       gate=g, prompts=['olivia', 'emma', 'ava'])
        return np.array([e['probs'] for e in trace['events'] if e['forced']])
    p0, p_half, p1 = forced_probs(0.0), forced_probs(0.5), forced_probs(1.0)
    assert p0.shape == p_half.shape == p1.shape == (6 + 4 + 3, CFG.vocab_size)
    assert np.abs(p0 - p_half).max() > 0.05 and np.abs(p_half - p1).max() > 0.05


@pytest.mark.parametrize('lag', [0, pytest.param(1, marks=pytest.mark.slow)])
def test_gate_none_is_the_trained_gate(lag):
    bcfg = BusConfig(n_streams=3, cadence=2, lag=lag)
    for engine, params in ((scalar, STATE_DICT), (vector, PARAMS)):
        trained = engine.gate_value(params)
        a = engine.sample_parallel(params, CFG, bcfg, TOKENIZER, random.Random(2), 1.0, record=True)
        b = engine.sample_parallel(params, CFG, bcfg, TOKENIZER, random.Random(2), 1.0, record=True,
                                   gate=trained)
        assert a['texts'] == b['texts']
        assert [e['probs'] for e in a['events']] == [e['probs'] for e in b['events']]  # bit for bit


# ---- bad settings --------------------------------------------------------------------

@pytest.mark.parametrize('engine', ['scalar', 'numpy'])
def test_bad_gates_and_prompts_fail_clearly(engine):
    eng, params = (scalar, STATE_DICT) if engine == 'scalar' else (vector, PARAMS)
    bcfg = BusConfig(n_streams=2)

    def decode(**kw):
        return eng.sample_parallel(params, CFG, bcfg, TOKENIZER, random.Random(0), **kw)
    for gate in (-0.1, 1.5, float('nan'), float('inf'), 'a', True, [0.5]):
        with pytest.raises(ValueError, match=r'gate must be a number in \[0, 1\]'):
            decode(gate=gate)
    with pytest.raises(ValueError, match=r"prompts 'eQ' \(stream 1\) has the character 'Q'"):
        decode(prompts=['em', 'eQ'])
    with pytest.raises(ValueError, match=r'prompts has 3 entries for 2 stream\(s\)'):
        decode(prompts=['', '', ''])
    with pytest.raises(ValueError, match=r"prompts 'isabella' \(stream 0\) has 8 characters; .* shorter than block_size"):
        decode(prompts=['isabella', ''])
    with pytest.raises(ValueError, match=r'prompts 3 \(stream 1\) must be a str'):
        decode(prompts=['', 3])
    with pytest.raises(ValueError, match='prompts must be None or a list of at most 2 strings'):
        decode(prompts='em')
    with pytest.raises(ValueError, match=r"starts 'Q' \(stream 1\) must be one character of the vocabulary"):
        decode(starts=[None, 'Q'])
    with pytest.raises(ValueError, match=r'starts has 3 entries for 2 stream\(s\)'):
        decode(starts=['e', '', 'a'])
    assert decode(starts=['e'])['texts'] == decode(starts=['e', None])['texts']   # one per stream at most
    with pytest.raises(ValueError, match="prompt has the character '!'"):
        eng.sample_single(params, CFG, TOKENIZER, random.Random(0), prompt='a!')
    with pytest.raises(ValueError, match='prompt must be a str'):
        eng.sample_single(params, CFG, TOKENIZER, random.Random(0), prompt=['a'])


@settings(max_examples=40)
@given(st.floats(0, 1), st.sampled_from([float, np.float64, np.float32]))
def test_property_any_gate_in_the_unit_interval_is_accepted_by_both(g, kind):
    g = kind(g)
    if not 0 <= float(g) <= 1:  # float32 rounding
        return
    bcfg = BusConfig(n_streams=2, cadence=2, lag=1)
    a = vector.sample_parallel(PARAMS, CFG, bcfg, TOKENIZER, random.Random(0), gate=g, prompts=['a', ''])
    b = vector.sample_parallel(PARAMS, CFG, bcfg, TOKENIZER, random.Random(0), gate=float(g), prompts=['a', ''])
    assert a == b


def test_start_token_is_bos_a_letter_or_nothing():
    """sampling.start_token: '' or None -> BOS, one vocabulary character -> its id, else None."""
    from microdnb.data import Tokenizer
    from microdnb.sampling import start_token
    tok = Tokenizer('abc')
    assert [start_token(c, tok) for c in ('', None, 'a', 'c')] == [tok.BOS, tok.BOS, 0, 2]
    assert [start_token(c, tok) for c in ('ab', 'd', 'A', 1, ' ')] == [None] * 5

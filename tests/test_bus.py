"""The Notes Bus: cadence, the lag rule, read order, and SNC on an empty bus.

Oracles: tables worked out by hand, an independent one-line statement of the read
rule, and the reference script's own way of gathering `other_notes`.
"""
import random

import pytest
from hypothesis import given, strategies as st

from microdnb.bus import NotesBus, emits, visibility
from microdnb.config import BusConfig, ModelConfig
from microdnb.data import Tokenizer
from microdnb.scalar.model import gpt, init_params
from microdnb.scalar.sample import sample_parallel
from microdnb.scalar.snc import snc_cross_attention

P = None  # the round of a plan seed


# ---- cadence ---------------------------------------------------------------------

def test_emits_every_cadence_positions():
    assert [p for p in range(12) if emits(p, 3)] == [2, 5, 8, 11]
    assert [p for p in range(4) if emits(p, 1)] == [0, 1, 2, 3]
    assert [p for p in range(12) if emits(p, 4)] == [3, 7, 11]


# ---- hand-worked tables: 3 streams of lengths 5, 4, 6, cadence 3 ------------------
# Posts are after rounds 2 and 5, so stream 0 (rounds 0..4) and stream 1 (0..3) post
# after round 2 only; stream 2 (0..5) after rounds 2 and 5. Nobody runs after round 5,
# so stream 2's post of round 5 is never read.

SEEDS_0 = [(1, P), (2, P)]
SEEDS_1 = [(0, P), (2, P)]
SEEDS_2 = [(0, P), (1, P)]

LAG0 = {  # a stream runs after the streams before it in the same round
    (0, 0): SEEDS_0, (0, 1): SEEDS_0, (0, 2): SEEDS_0,   # 1 and 2 post after 0 read in round 2
    (0, 3): [(1, P), (1, 2), (2, P), (2, 2)], (0, 4): [(1, P), (1, 2), (2, P), (2, 2)],
    (1, 0): SEEDS_1, (1, 1): SEEDS_1,
    (1, 2): [(0, P), (0, 2), (2, P)],                    # 0 posted earlier in round 2, 2 not yet
    (1, 3): [(0, P), (0, 2), (2, P), (2, 2)],
    (2, 0): SEEDS_2, (2, 1): SEEDS_2,
    (2, 2): [(0, P), (0, 2), (1, P), (1, 2)],            # both posted earlier in round 2
    (2, 3): [(0, P), (0, 2), (1, P), (1, 2)], (2, 4): [(0, P), (0, 2), (1, P), (1, 2)],
    (2, 5): [(0, P), (0, 2), (1, P), (1, 2)],
}
LAG1 = {  # a post of round 2 is readable from round 3, by everyone alike
    (0, 0): SEEDS_0, (0, 1): SEEDS_0, (0, 2): SEEDS_0,
    (0, 3): [(1, P), (1, 2), (2, P), (2, 2)], (0, 4): [(1, P), (1, 2), (2, P), (2, 2)],
    (1, 0): SEEDS_1, (1, 1): SEEDS_1, (1, 2): SEEDS_1,
    (1, 3): [(0, P), (0, 2), (2, P), (2, 2)],
    (2, 0): SEEDS_2, (2, 1): SEEDS_2, (2, 2): SEEDS_2,
    (2, 3): [(0, P), (0, 2), (1, P), (1, 2)], (2, 4): [(0, P), (0, 2), (1, P), (1, 2)],
    (2, 5): [(0, P), (0, 2), (1, P), (1, 2)],
}
LAG2 = {  # readable from round 4: stream 1 (rounds 0..3) only ever sees plan seeds
    (0, 0): SEEDS_0, (0, 1): SEEDS_0, (0, 2): SEEDS_0, (0, 3): SEEDS_0,
    (0, 4): [(1, P), (1, 2), (2, P), (2, 2)],
    (1, 0): SEEDS_1, (1, 1): SEEDS_1, (1, 2): SEEDS_1, (1, 3): SEEDS_1,
    (2, 0): SEEDS_2, (2, 1): SEEDS_2, (2, 2): SEEDS_2, (2, 3): SEEDS_2,
    (2, 4): [(0, P), (0, 2), (1, P), (1, 2)], (2, 5): [(0, P), (0, 2), (1, P), (1, 2)],
}


@pytest.mark.parametrize('lag, expected', [(0, LAG0), (1, LAG1), (2, LAG2)])
def test_hand_worked_table_cadence_3(lag, expected):
    posts, reads = visibility([5, 4, 6], cadence=3, lag=lag)
    assert posts == [[2], [2], [2, 5]]
    assert reads == expected


def test_hand_worked_table_cadence_1_lag_0():
    # 2 streams of lengths 3 and 2 posting after every position
    posts, reads = visibility([3, 2], cadence=1, lag=0)
    assert posts == [[0, 1, 2], [0, 1]]
    assert reads == {
        (0, 0): [(1, P)],
        (0, 1): [(1, P), (1, 0)],
        (0, 2): [(1, P), (1, 0), (1, 1)],
        (1, 0): [(0, P), (0, 0)],
        (1, 1): [(0, P), (0, 0), (0, 1)],
    }


def test_hand_worked_table_inference_rule_for_a_stream_that_ended():
    # stream 0 samples BOS at its last position (round 2): at inference it posts nothing then
    posts, reads = visibility([3, 4], cadence=3, lag=0, ended=[0])
    assert posts == [[], [2]]
    assert reads[(1, 3)] == [(0, P)]
    assert reads[(0, 2)] == [(1, P)]
    # without `ended` (the training rule) the same post is there and is read
    posts, reads = visibility([3, 4], cadence=3, lag=0)
    assert posts == [[2], [2]] and reads[(1, 2)] == reads[(1, 3)] == [(0, P), (0, 2)]


# ---- the rule stated independently, checked over many cases -------------------------

def oracle(lengths, cadence, lag, ended=()):
    """The read rule in one sentence per case, without simulating a bus."""
    posts = [[t for t in range(n) if (t + 1) % cadence == 0 and not (s in ended and t == n - 1)]
             for s, n in enumerate(lengths)]

    def readable(o, r, s, t):
        if lag == 0:  # earlier rounds, or this round from streams that ran before s
            return r < t or (r == t and o < s)
        return r + lag <= t

    reads = {(s, t): [(o, r) for o in range(len(lengths)) if o != s
                      for r in [P] + [r for r in posts[o] if readable(o, r, s, t)]]
             for s, n in enumerate(lengths) for t in range(n)}
    return posts, reads


LENGTHS = [[5, 4, 6], [1], [3, 3], [16, 1, 7, 9], [0, 4], [2, 9, 2]]


@pytest.mark.parametrize('lengths', LENGTHS)
@pytest.mark.parametrize('cadence', [1, 2, 3, 4])
@pytest.mark.parametrize('lag', [0, 1, 2])
def test_visibility_matches_the_rule(lengths, cadence, lag):
    assert visibility(lengths, cadence, lag) == oracle(lengths, cadence, lag)


@given(st.lists(st.integers(0, 12), min_size=1, max_size=5), st.integers(1, 4), st.integers(0, 3),
       st.data())
def test_property_visibility_matches_the_rule(lengths, cadence, lag, data):
    ended = data.draw(st.sets(st.sampled_from(range(len(lengths)))))
    assert visibility(lengths, cadence, lag, ended) == oracle(lengths, cadence, lag, ended)


@pytest.mark.parametrize('cadence', [1, 2, 3, 4])
@pytest.mark.parametrize('lag', [0, 1, 2])
def test_visibility_properties(cadence, lag):
    lengths = [7, 9, 4, 9]
    posts, reads = visibility(lengths, cadence, lag)
    for (s, t), labels in reads.items():
        readers_streams = [o for o, _ in labels]
        assert s not in readers_streams                              # never its own notes
        assert [(o, r) for o, r in labels if r is None] == [(o, P) for o in range(4) if o != s]  # seeds
        assert readers_streams == sorted(readers_streams)            # stream by stream
        for o in set(readers_streams):
            rounds = [r for oo, r in labels if oo == o]
            assert rounds[0] is None and rounds[1:] == sorted(rounds[1:])  # seed first, oldest first
        same_round = [o for o, r in labels if r == t]
        if lag == 0:
            assert all(o < s for o in same_round)                    # only from earlier streams
        else:
            assert same_round == []
    if lag >= 1:  # a post of round r is visible exactly from round r + lag on
        for o, rounds in enumerate(posts):
            for r in rounds:
                for (s, t), labels in reads.items():
                    if s != o:
                        assert ((o, r) in labels) == (t >= r + lag)


def test_visibility_validates():
    with pytest.raises(ValueError, match='cadence'):
        visibility([3, 3], 0, 0)
    with pytest.raises(ValueError, match='lag'):
        visibility([3, 3], 1, -1)
    with pytest.raises(ValueError, match='ended'):
        visibility([3, 3], 1, 0, ended=[2])


# ---- NotesBus itself -------------------------------------------------------------------

def test_notes_bus_read_order_equals_the_references_other_notes():
    """The reference keeps one list per stream and reads `for oi != si: extend(buses[oi])`.
    Replay a round-robin run with both and compare the very objects, in order."""
    n_streams, lengths, cadence = 3, [7, 5, 8], 2
    bus = NotesBus(n_streams, lag=0)
    buses = [[] for _ in range(n_streams)]
    for si in range(n_streams):
        seed = object()
        bus.seed(si, seed)
        buses[si].append(seed)
    reads = 0
    for pos in range(max(lengths)):
        for si in range(n_streams):
            if pos >= lengths[si]:
                continue
            other_notes = []
            for oi in range(n_streams):
                if oi != si:
                    other_notes.extend(buses[oi])
            got = bus.read(si, pos)
            assert len(got) == len(other_notes) and all(a is b for a, b in zip(got, other_notes))
            reads += len(got)
            if (pos + 1) % cadence == 0:
                snap = object()
                bus.post(si, pos, snap)
                buses[si].append(snap)
    assert reads > 3 * sum(lengths)  # the test did see evolving notes, not only seeds


def test_notes_bus_labels_match_its_snapshots():
    bus = NotesBus(2, lag=1)
    bus.seed(0, 'seed0')
    bus.seed(1, 'seed1')
    bus.post(0, 0, 'a')
    assert bus.read(1, 0) == ['seed0'] and bus.read_labels(1, 0) == [(0, P)]
    assert bus.read(1, 1) == ['seed0', 'a'] and bus.read_labels(1, 1) == [(0, P), (0, 0)]
    assert bus.read(0, 5) == ['seed1']


@pytest.mark.parametrize('kwargs, match', [(dict(n_streams=0), 'n_streams'), (dict(n_streams=1.0), 'n_streams'),
                                           (dict(n_streams=2, lag=-1), 'lag'),
                                           (dict(n_streams=2, lag=True), 'lag')])
def test_notes_bus_validates_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NotesBus(**kwargs)


def test_notes_bus_validates_stream_index():
    bus = NotesBus(2)
    for call, name in ((lambda: bus.seed(2, 'x'), 'stream'), (lambda: bus.post(-1, 0, 'x'), 'stream'),
                       (lambda: bus.read(5, 0), 'reader'), (lambda: bus.read_labels(2, 0), 'reader')):
        with pytest.raises(ValueError, match=rf'^{name} must be an integer in \[0, 1\], got'):
            call()


# ---- wrong argument types: one ValueError naming the argument, never a raw TypeError ------

@pytest.mark.parametrize('call, match', [
    (lambda b: b.seed('a', 'x'), r"^stream must be an integer in \[0, 1\], got 'a'$"),
    (lambda b: b.seed(None, 'x'), r'^stream must be .*got None$'),
    (lambda b: b.seed(True, 'x'), r'^stream must be .*got True$'),
    (lambda b: b.post(0.0, 0, 'x'), r'^stream must be .*got 0.0$'),
    (lambda b: b.post(0, 'r', 'x'), r"^round_ must be an integer >= 0, got 'r'$"),
    (lambda b: b.post(0, -1, 'x'), r'^round_ must be an integer >= 0, got -1$'),
    (lambda b: b.read(0, None), r'^round_ must be an integer >= 0, got None$'),
    (lambda b: b.read_labels('0', 1), r"^reader must be .*got '0'$"),
])
def test_notes_bus_argument_types(call, match):
    with pytest.raises(ValueError, match=match):
        call(NotesBus(2))


@pytest.mark.parametrize('args, match', [
    ((0, 0), r'^cadence must be an integer >= 1, got 0$'),
    ((0, '3'), r"^cadence must be an integer >= 1, got '3'$"),
    ((0, 1.5), r'^cadence must be .*got 1.5$'),
    (('1', 3), r"^pos must be an integer >= 0, got '1'$"),
    ((-1, 3), r'^pos must be an integer >= 0, got -1$'),
    ((None, 3), r'^pos must be .*got None$'),
])
def test_emits_argument_types(args, match):
    with pytest.raises(ValueError, match=match):
        emits(*args)


@pytest.mark.parametrize('kwargs, match', [
    (dict(lengths=[3, 3], cadence='3', lag=0), r"^cadence must be an integer >= 1, got '3'$"),
    (dict(lengths=[3, 3], cadence=None, lag=0), '^cadence must be'),
    (dict(lengths=[3, 3], cadence=3, lag='0'), "^lag must be an integer >= 0, got '0'$"),
    (dict(lengths=[3, 3], cadence=3, lag=1.0), '^lag must be'),
    (dict(lengths=[3, '3'], cadence=3, lag=0), r"^lengths\[1\] must be an integer >= 0, got '3'$"),
    (dict(lengths=[3, -1], cadence=3, lag=0), r'^lengths\[1\] must be an integer >= 0, got -1$'),
    (dict(lengths='33', cadence=3, lag=0), '^lengths must be a list of integers'),
    (dict(lengths=3, cadence=3, lag=0), '^lengths must be a list of integers'),
    (dict(lengths=[], cadence=3, lag=0), '^lengths must list at least one stream'),
    (dict(lengths=[3, 3], cadence=3, lag=0, ended=['0']), "^ended must be an integer >= 0, got '0'$"),
    (dict(lengths=[3, 3], cadence=3, lag=0, ended=5), '^ended must be a collection'),
])
def test_visibility_argument_types(kwargs, match):
    with pytest.raises(ValueError, match=match):
        visibility(**kwargs)


def test_numpy_integers_are_accepted():
    np = pytest.importorskip('numpy')
    assert emits(np.int64(2), np.int64(3)) and not emits(np.int32(1), 3)
    bus = NotesBus(np.int64(2), lag=np.int64(1))
    assert (bus.n_streams, bus.lag) == (2, 1) and type(bus.n_streams) is int
    bus.seed(np.int64(0), 's0')
    bus.post(np.int64(0), np.int64(0), 'a')
    assert bus.read(np.int64(1), np.int64(1)) == ['s0', 'a']
    assert visibility(np.array([5, 4, 6]), np.int64(3), np.int64(0)) == visibility([5, 4, 6], 3, 0)


# ---- SNC on an empty bus -------------------------------------------------------------

@pytest.fixture
def small_model():
    tok = Tokenizer('abcdefghij')
    cfg = ModelConfig(vocab_size=tok.vocab_size, n_embd=8, n_head=2, block_size=8, notes_dim=4,
                      gate_init=0.0)  # gate half open, so any nonzero SNC output would show
    return cfg, tok, init_params(cfg, random.Random(3))


def test_snc_with_no_notes_is_an_exact_zero_delta(small_model):
    cfg, tok, sd = small_model
    x = [sd['wte'][1][j] * 3.0 for j in range(cfg.n_embd)]
    delta = snc_cross_attention(sd, cfg, x, [])
    assert len(delta) == cfg.n_embd and all(d.data == 0.0 for d in delta)
    # and the whole forward pass is bit-identical to the trunk alone
    for tokens in ([tok.BOS, 2, 5], [tok.BOS, 0]):
        kv_a = [[] for _ in range(cfg.n_layer)], [[] for _ in range(cfg.n_layer)]
        kv_b = [[] for _ in range(cfg.n_layer)], [[] for _ in range(cfg.n_layer)]
        for pos, t in enumerate(tokens):
            la, ha = gpt(sd, cfg, t, pos, *kv_a, notes=None)
            lb, hb = gpt(sd, cfg, t, pos, *kv_b, notes=[])
            assert [v.data for v in la] == [v.data for v in lb]
            assert [v.data for v in ha] == [v.data for v in hb]


def test_snc_with_notes_changes_the_forward_pass(small_model):
    # the counterpart of the test above: with notes the output does change
    cfg, tok, sd = small_model
    note = [sd['wte'][2][j] * 5.0 for j in range(cfg.notes_dim)]
    la, _ = gpt(sd, cfg, tok.BOS, 0, [[]], [[]], notes=None)
    lb, _ = gpt(sd, cfg, tok.BOS, 0, [[]], [[]], notes=[note])
    assert max(abs(a.data - b.data) for a, b in zip(la, lb)) > 1e-6


# ---- sampling follows the same rule ---------------------------------------------------

# make check keeps cadence 2 at lag 0 (same-round reads, posts that skip positions); make test all nine
@pytest.mark.parametrize('cadence', [pytest.param(1, marks=pytest.mark.slow), 2, pytest.param(3, marks=pytest.mark.slow)])
@pytest.mark.parametrize('lag', [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_sample_parallel_reads_what_visibility_says(small_model, cadence, lag):
    cfg, tok, sd = small_model
    bcfg = BusConfig(n_streams=3, cadence=cadence, lag=lag)
    early_end = 0
    for seed in range(4):
        trace = sample_parallel(sd, cfg, bcfg, tok, random.Random(seed), temperature=1.0, record=True)
        events = trace['events']
        lengths = [sum(e['stream'] == s for e in events) for s in range(3)]
        ended = {s for s in range(3) if [e for e in events if e['stream'] == s][-1]['token'] == tok.BOS}
        posts, reads = visibility(lengths, cadence, lag, ended)
        assert [(e['stream'], e['pos']) for e in events] == sorted(reads, key=lambda k: (k[1], k[0]))
        for e in events:
            assert e['notes'] == reads[(e['stream'], e['pos'])]
            # SNC attended over exactly those notes: one weight per note, per head
            assert all(len(w) == len(e['notes']) for layer in e['snc'] for w in layer)
        assert sorted((s, r) for s, r, _ in trace['posts']) == sorted(
            (s, r) for s in range(3) for r in posts[s])
        early_end += any(s in ended and lengths[s] < max(lengths) for s in range(3))
    assert early_end  # some stream stopped while others went on, so the inference rule mattered

"""The numpy engine against independent oracles: the scalar engine (forward, every
gradient, training, sampling), the reference script's stored output, the bus's own
visibility rule, and finite differences where the scalar engine has no counterpart.
"""
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microdnb import vector
from microdnb.scalar import model, sample, train
from microdnb.bus import visibility
from microdnb.config import BusConfig, ModelConfig, TrainConfig
from microdnb.data import Tokenizer
from microdnb.params import SNC_KEYS, base_keys, param_shapes
from microdnb.scalar.model import param_list
from microdnb.data import names_path
from microdnb.reference import replicate
from microdnb.scalar.snc import gate_value, snc_cross_attention

NAMES = names_path()
RTOL = 1e-9

DOCS = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'charlotte', 'amelia', 'harper', 'evelyn',
        'abigail', 'emily', 'ella', 'liam', 'noah', 'zoe']
SHORT_DOCS = ['ava', 'mia', 'zoe', 'ella', 'emma', 'liam', 'noah', 'amy']
TOKENIZER = Tokenizer.from_docs(DOCS)


def close(a, b, rtol=RTOL, atol=1e-15):
    """|a - b| <= rtol * (largest |entry|) + atol: relative to the matrix's scale, so that
    entries that are tiny by cancellation do not demand more digits than the computation
    has; `atol` for a matrix that is zero in exact arithmetic, where rounding leaves ~1e-18
    (the query gradient when every note a reader sees is the same plan seed)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(np.abs(a).max(initial=0), np.abs(b).max(initial=0))
    return np.abs(a - b).max(initial=0) <= rtol * scale + atol


def scalar_grads(state_dict, keys):
    return {k: np.array([[v.grad for v in row] for row in state_dict[k]]) for k in keys}


def zero_scalar_grads(state_dict):
    for p in param_list(state_dict, list(state_dict)):
        p.grad = 0


def assert_grads(state_dict, grads, keys):
    ref = scalar_grads(state_dict, keys)
    for k in keys:
        assert close(grads[k], ref[k]), (k, np.abs(grads[k] - ref[k]).max(), np.abs(ref[k]).max())


def assert_params(state_dict, params, rtol=1e-8):
    for k, arr in params.items():
        ref = np.array([[v.data for v in row] for row in state_dict[k]])
        assert close(arr, ref, rtol), (k, np.abs(arr - ref).max())


def make(cfg, seed=0, gate=None):
    state_dict = model.init_params(cfg, random.Random(seed))
    if gate is not None:  # open the gate so that SNC visibly matters
        state_dict['snc_gate'][0][0].data = gate
    return state_dict, vector.params_from(state_dict)


REF_CFG = ModelConfig(vocab_size=TOKENIZER.vocab_size)
BOS = TOKENIZER.BOS


# --- parameters -------------------------------------------------------------------------


def test_init_params_draws_like_the_scalar_engine_and_round_trips():
    cfg = REF_CFG
    params = vector.init_params(cfg, random.Random(3))
    state_dict = model.init_params(cfg, random.Random(3))
    assert list(params) == list(param_shapes(cfg))
    for k, shape in param_shapes(cfg).items():
        assert params[k].shape == shape and params[k].dtype == np.float64
    assert_params(state_dict, params, rtol=0)
    back = vector.params_from(model.params_from(params))
    assert all(np.array_equal(back[k], params[k]) for k in params)
    assert vector.gate_value(params) == gate_value(state_dict)


def test_bad_params_fail_clearly():
    params = vector.init_params(REF_CFG, random.Random(0))
    del params['snc_wo']
    with pytest.raises(ValueError, match="no 'snc_wo'"):
        vector.doc_loss_and_grads(params, REF_CFG, [BOS, 1, BOS])
    params = vector.init_params(REF_CFG, random.Random(0))
    params['wte'] = params['wte'][:5]
    with pytest.raises(ValueError, match=r"params\['wte'\] must be a float64 array of shape"):
        vector.gpt_sequence(params, REF_CFG, [1, 2])
    params = vector.init_params(REF_CFG, random.Random(0))
    with pytest.raises(ValueError, match='not an integer id'):
        vector.doc_loss_and_grads(params, REF_CFG, [BOS, 99, BOS])
    with pytest.raises(ValueError, match='lag >= 1'):
        vector.streams_loss_and_grads(params, REF_CFG, BusConfig(lag=0), [[BOS, 1, BOS]], batched=True)
    with pytest.raises(ValueError, match='not parameters'):
        vector.doc_loss_and_grads(params, REF_CFG, [BOS, 1, BOS], keys=['nope'])
    with pytest.raises(ValueError, match='temperature'):
        vector.sample_single(params, REF_CFG, TOKENIZER, random.Random(0), temperature=0)
    with pytest.raises(ValueError, match='tokenizer has 27 tokens'):
        vector.sample_parallel(params, REF_CFG, BusConfig(), Tokenizer('abcdefghijklmnopqrstuvwxyz'),
                               random.Random(0))


# --- forward and gradients against the scalar engine -------------------------------------


def test_reference_config_logits_loss_and_grads():
    state_dict, params = make(REF_CFG, seed=42)
    tokens = TOKENIZER.encode('charlotte')
    logits, hidden = vector.gpt_sequence(params, REF_CFG, tokens[:-1])
    keys, values = [[]], [[]]
    for pos, tok in enumerate(tokens[:-1]):
        ref_logits, ref_hidden = model.gpt(state_dict, REF_CFG, tok, pos, keys, values)
        assert close(logits[pos], [v.data for v in ref_logits])
        assert close(hidden[pos], [v.data for v in ref_hidden])
    loss = train.doc_loss(state_dict, REF_CFG, tokens)
    loss.backward()
    np_loss, grads = vector.doc_loss_and_grads(params, REF_CFG, tokens)
    assert abs(np_loss - loss.data) <= RTOL * loss.data
    assert_grads(state_dict, grads, list(param_shapes(REF_CFG)))
    assert all(not grads[k].any() for k in SNC_KEYS)  # SNC is not in phase 1's graph


@st.composite
def setups(draw):
    n_head = draw(st.sampled_from([1, 2]))
    cfg = ModelConfig(vocab_size=draw(st.integers(3, 6)), n_layer=draw(st.integers(1, 2)),
                      n_embd=n_head * draw(st.integers(1, 3)), n_head=n_head,
                      block_size=draw(st.integers(2, 7)), notes_dim=draw(st.integers(1, 4)),
                      init_std=0.5, gate_init=draw(st.floats(-2, 2)))
    bcfg = BusConfig(n_streams=draw(st.integers(1, 3)), cadence=draw(st.integers(1, 4)),
                     lag=draw(st.integers(0, 2)))
    token = st.integers(0, cfg.vocab_size - 1)
    # up to block_size + 3 tokens, so that truncation to block_size is exercised too
    streams = draw(st.lists(st.lists(token, min_size=2, max_size=cfg.block_size + 3),
                            min_size=bcfg.n_streams, max_size=bcfg.n_streams))
    return cfg, bcfg, streams, draw(st.integers(0, 2**16))


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(setups())
def test_random_configs_doc_loss_and_grads(setup):
    cfg, _, streams, seed = setup
    state_dict, params = make(cfg, seed)
    loss = train.doc_loss(state_dict, cfg, streams[0])
    loss.backward()
    np_loss, grads = vector.doc_loss_and_grads(params, cfg, streams[0])
    assert abs(np_loss - loss.data) <= RTOL * abs(loss.data)
    assert_grads(state_dict, grads, list(param_shapes(cfg)))


@FAST
@given(setups())
def test_random_configs_streams_loss_and_grads(setup):
    cfg, bcfg, streams, seed = setup
    state_dict, params = make(cfg, seed)
    loss, n_tokens = train.streams_loss(state_dict, cfg, bcfg, streams)
    loss.backward()
    np_loss, grads, np_n = vector.streams_loss_and_grads(params, cfg, bcfg, streams)
    assert np_n == n_tokens
    assert abs(np_loss - loss.data) <= RTOL * abs(loss.data)
    assert_grads(state_dict, grads, list(param_shapes(cfg)))
    # phase 2 asks for SNC's gradients only: the same numbers, the trunk's skipped
    snc_loss, snc_grads, _ = vector.streams_loss_and_grads(params, cfg, bcfg, streams, keys=SNC_KEYS)
    assert snc_loss == np_loss and set(snc_grads) == set(SNC_KEYS)
    for k in SNC_KEYS:
        assert close(snc_grads[k], grads[k], 1e-12)
    if bcfg.lag >= 1:  # one block per round must equal one block per stream
        seq_loss, seq_grads, _ = vector.streams_loss_and_grads(params, cfg, bcfg, streams, batched=False)
        assert abs(seq_loss - np_loss) <= 1e-12 * abs(np_loss)
        for k in grads:
            assert close(seq_grads[k], grads[k], 1e-12)


def test_reference_config_streams_grads_with_open_gate():
    state_dict, params = make(REF_CFG, seed=5, gate=0.5)
    streams = [TOKENIZER.encode(d) for d in ('olivia', 'mia', 'ava')]
    for lag in (0, 1):
        bcfg = BusConfig(n_streams=3, cadence=3, lag=lag)
        zero_scalar_grads(state_dict)
        loss, _ = train.streams_loss(state_dict, REF_CFG, bcfg, streams)
        loss.backward()
        np_loss, grads, _ = vector.streams_loss_and_grads(params, REF_CFG, bcfg, streams)
        assert abs(np_loss - loss.data) <= RTOL * loss.data
        assert_grads(state_dict, grads, list(param_shapes(REF_CFG)))


# --- training ---------------------------------------------------------------------------


def test_adam_step_is_the_scalar_update():
    state_dict, params = make(REF_CFG, seed=1)
    keys = base_keys(REF_CFG)
    rng = np.random.default_rng(0)
    grads = {k: rng.normal(size=params[k].shape) for k in keys}
    scalar_adam = train.Adam(param_list(state_dict, keys))
    np_adam = vector.Adam([params[k] for k in keys])
    for step in range(3):
        for k in keys:
            for row, grow in zip(state_dict[k], grads[k]):
                for p, g in zip(row, grow):
                    p.grad = float(g)
        scalar_adam.step(step, 0.01 * (1 - step / 3))
        np_adam.step(step, 0.01 * (1 - step / 3), [grads[k] for k in keys])
    # the same formulas; only sqrt (numpy) vs x ** 0.5 (libm pow, off by 1 ulp in ~0.1 % of
    # cases) differ, so the parameters agree to a few ulps
    assert_params(state_dict, params, rtol=1e-15)


def test_adam_has_one_contract_in_both_engines():
    # Adam(list of the engine's parameters).step(step, lr_t, grads): the same call in both;
    # grads=None reads each Value's .grad (scalar), and numpy arrays have none to read
    state_dict, params = make(REF_CFG, seed=2)
    keys = ['wte', 'snc_wq']
    rng = np.random.default_rng(1)
    grads = {k: rng.normal(size=params[k].shape) for k in keys}
    scalar_adam = train.Adam(param_list(state_dict, keys))
    np_adam = vector.Adam([params[k] for k in keys])
    flat = [float(g) for k in keys for g in grads[k].ravel()]
    for step in range(2):
        scalar_adam.step(step, 0.01, flat)
        np_adam.step(step, 0.01, [grads[k] for k in keys])
    assert_params({k: state_dict[k] for k in keys}, {k: params[k] for k in keys}, rtol=1e-15)
    assert all(p.grad == 0 for p in param_list(state_dict, keys))  # zeroed, as with .grad
    with pytest.raises(ValueError, match='grads must be a list of 2 arrays'):
        np_adam.step(2, 0.01)
    with pytest.raises(ValueError, match='grads must be a list of 2 arrays'):
        np_adam.step(2, 0.01, [grads['wte']])
    with pytest.raises(ValueError, match='grads must have one float per parameter'):
        scalar_adam.step(2, 0.01, flat[:-1])
    with pytest.raises(ValueError, match='params must be a list of float64 arrays'):
        vector.Adam(params)
    with pytest.raises(ValueError, match='params must be a list of Values'):
        train.Adam(state_dict)


def test_five_steps_of_each_phase_end_at_the_same_parameters():
    cfg = ModelConfig(vocab_size=TOKENIZER.vocab_size, block_size=8, n_embd=8, n_head=2, notes_dim=4)
    state_dict, params = make(cfg, seed=9, gate=-1.0)
    tcfg = TrainConfig(steps=5, snc_steps=5)
    infos = {'scalar': [], 'numpy': []}
    train.train_phase1(state_dict, cfg, tcfg, SHORT_DOCS, TOKENIZER, callback=infos['scalar'].append)
    vector.train_phase1(params, cfg, tcfg, SHORT_DOCS, TOKENIZER, callback=infos['numpy'].append)
    assert_params(state_dict, params)
    for lag in (0, 1):
        bcfg = BusConfig(n_streams=3, cadence=2, lag=lag)
        train.train_phase2(state_dict, cfg, tcfg, bcfg, SHORT_DOCS, TOKENIZER, callback=infos['scalar'].append)
        vector.train_phase2(params, cfg, tcfg, bcfg, SHORT_DOCS, TOKENIZER, callback=infos['numpy'].append)
        assert_params(state_dict, params)
    assert len(infos['numpy']) == 15
    for a, b in zip(infos['scalar'], infos['numpy']):
        assert a.keys() == b.keys() and a['step'] == b['step'] and a['lr'] == b['lr']
        assert abs(a['loss'] - b['loss']) <= 1e-8 * a['loss']
        if 'gate' in a:
            assert abs(a['gate'] - b['gate']) <= 1e-8 * a['gate']


def test_groups_fn_replaces_the_phase2_documents():
    cfg = ModelConfig(vocab_size=TOKENIZER.vocab_size, block_size=8, n_embd=8, n_head=2, notes_dim=4)
    _, params = make(cfg, seed=2)
    a, b = dict((k, v.copy()) for k, v in params.items()), dict((k, v.copy()) for k, v in params.items())
    tcfg, bcfg = TrainConfig(steps=0, snc_steps=3), BusConfig(n_streams=2)
    vector.train_phase2(a, cfg, tcfg, bcfg, DOCS, TOKENIZER)
    vector.train_phase2(b, cfg, tcfg, bcfg, None, TOKENIZER,
                        groups_fn=lambda step: [TOKENIZER.encode(d)
                                                for d in train.phase2_docs(DOCS, step, 2)])
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = dict((k, v.copy()) for k, v in params.items())
    vector.train_phase2(c, cfg, tcfg, bcfg, None, TOKENIZER,
                        groups_fn=lambda step: [TOKENIZER.encode('emma')] * 2)
    assert not np.array_equal(a['snc_wq'], c['snc_wq'])


# --- sampling ---------------------------------------------------------------------------


def assert_same_trace(ref, got):
    for key in ('texts', 'tokens', 'rounds', 'steps', 'text'):
        if key in ref:
            assert got[key] == ref[key], key
    for r, g in zip(ref.get('events', []), got.get('events', [])):
        assert (r['stream'], r['pos'], r['token'], r['notes']) == (g['stream'], g['pos'], g['token'], g['notes'])
        assert close(r['probs'], g['probs'])
        for key in ('snc', 'attn', 'snc_delta'):
            assert len(r[key]) == len(g[key])
            for a, b in zip(r[key], g[key]):
                assert close(a, b), key
    assert len(ref.get('events', [])) == len(got.get('events', []))
    assert [p[:2] for p in ref.get('posts', [])] == [p[:2] for p in got.get('posts', [])]
    for r, g in zip(ref.get('posts', []), got.get('posts', [])):
        assert close(r[2], g[2])


def test_sample_single_same_draws_and_trace():
    state_dict, params = make(REF_CFG, seed=11)
    for temperature in (0.5, 1.3):
        rng_s, rng_n = random.Random(4), random.Random(4)
        for _ in range(2):
            ref = sample.sample_single(state_dict, REF_CFG, TOKENIZER, rng_s, temperature, record=True)
            got = vector.sample_single(params, REF_CFG, TOKENIZER, rng_n, temperature, record=True)
            assert got['text'] == ref['text'] and got['tokens'] == ref['tokens']
            assert all(close(a, b) for a, b in zip(ref['probs'], got['probs']))
            assert len(got['attn']) == len(ref['attn'])
            for x, y in zip(ref['attn'], got['attn']):  # per position, per layer, per head
                assert all(close(a, b) for a, b in zip(x, y))
        assert rng_s.random() == rng_n.random()  # the same number of draws


@pytest.mark.parametrize('lag', [0, 1, 2])
def test_sample_parallel_same_draws_and_trace(lag):
    cfg = ModelConfig(vocab_size=TOKENIZER.vocab_size, n_layer=2, block_size=8, n_embd=8, n_head=2,
                      notes_dim=4, init_std=0.3)
    state_dict, params = make(cfg, seed=lag, gate=0.0)
    bcfg = BusConfig(n_streams=3, cadence=2, lag=lag)
    rng_s, rng_n = random.Random(lag), random.Random(lag)
    first = [TOKENIZER.BOS, 0, 3]
    for kw in ({}, {'first_tokens': first}):
        ref = sample.sample_parallel(state_dict, cfg, bcfg, TOKENIZER, rng_s, 0.8, record=True, **kw)
        got = vector.sample_parallel(params, cfg, bcfg, TOKENIZER, rng_n, 0.8, record=True, **kw)
        assert_same_trace(ref, got)
        assert got['events']
    assert rng_s.random() == rng_n.random()


@pytest.mark.parametrize('lag', [1, 2])
def test_batched_decoding_equals_sequential_decoding(lag):
    cfg = ModelConfig(vocab_size=TOKENIZER.vocab_size, n_layer=2, block_size=12, n_embd=8, n_head=2,
                      notes_dim=4, init_std=0.3)
    _, params = make(cfg, seed=3, gate=0.5)
    bcfg = BusConfig(n_streams=8, cadence=2, lag=lag)
    for seed in range(3):
        seq = vector.sample_parallel(params, cfg, bcfg, TOKENIZER, random.Random(seed), 1.0,
                                     record=True, batched=False)
        bat = vector.sample_parallel(params, cfg, bcfg, TOKENIZER, random.Random(seed), 1.0,
                                     record=True, batched=True)
        assert_same_trace(seq, bat)
        assert len(set(map(len, seq['tokens']))) > 1  # streams ended at different rounds


# --- notes_hook -------------------------------------------------------------------------


HOOK_CFG = ModelConfig(vocab_size=TOKENIZER.vocab_size, block_size=10, n_embd=8, n_head=2, notes_dim=4,
                       init_std=0.3)
HOOK_STREAMS = [TOKENIZER.encode(d) for d in ('isabella', 'mia', 'evelyn')]


def test_hook_is_called_with_the_bus_visibility_labels():
    _, params = make(HOOK_CFG, seed=1)
    for lag in (0, 1, 2):
        bcfg = BusConfig(n_streams=3, cadence=2, lag=lag)
        seen = {}

        def hook(reader, round_, labels, notes):
            assert notes.shape == (len(labels), HOOK_CFG.notes_dim)
            seen[(reader, round_)] = labels
            return notes
        vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS, keys=(), notes_hook=hook)
        lengths = [min(HOOK_CFG.block_size, len(s) - 1) for s in HOOK_STREAMS]
        _, reads = visibility(lengths, bcfg.cadence, lag)
        assert seen == reads


def test_identity_and_copy_hooks_change_nothing():
    _, params = make(HOOK_CFG, seed=2, gate=0.5)
    for lag in (0, 1):
        bcfg = BusConfig(n_streams=3, cadence=2, lag=lag)
        loss, grads, _ = vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS)
        for hook in (lambda r, t, labels, notes: notes, lambda r, t, labels, notes: notes.copy()):
            h_loss, h_grads, _ = vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS,
                                                               notes_hook=hook)
            assert abs(h_loss - loss) <= 1e-13 * loss
            for k in grads:
                assert close(h_grads[k], grads[k], 1e-12), k
        ref = vector.sample_parallel(params, HOOK_CFG, bcfg, TOKENIZER, random.Random(0), record=True)
        got = vector.sample_parallel(params, HOOK_CFG, bcfg, TOKENIZER, random.Random(0), record=True,
                                     notes_hook=lambda r, t, labels, notes: notes)
        assert_same_trace(ref, got)


def test_zero_notes_hook_gives_the_trunk_alone():
    # zero notes give zero keys and values, hence a zero SNC delta: the loss is the trunk's,
    # i.e. the token-weighted mean of the scalar engine's per-document losses
    state_dict, params = make(HOOK_CFG, seed=3, gate=0.5)
    bcfg = BusConfig(n_streams=3, cadence=2, lag=0)
    zeros = lambda reader, round_, labels, notes: np.zeros_like(notes)  # noqa: E731
    masked, grads, n = vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS, notes_hook=zeros)
    normal, _, _ = vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS)
    lengths = [min(HOOK_CFG.block_size, len(s) - 1) for s in HOOK_STREAMS]
    trunk = sum(train.doc_loss(state_dict, HOOK_CFG, s).data * m for s, m in zip(HOOK_STREAMS, lengths)) / n
    assert abs(masked - trunk) <= 1e-12 * trunk
    assert abs(masked - normal) > 1e-4
    for k in ('notes_proj', 'planner_proj', 'snc_wq', 'snc_wo', 'snc_gate'):
        assert not grads[k].any(), k  # nothing reaches the notes, and SNC's output is zero


def test_plan_seed_only_hook_equals_a_bus_that_never_posts():
    # a cadence longer than the block never posts, so only the plan seeds are on the bus
    state_dict, params = make(HOOK_CFG, seed=4, gate=0.5)
    seeds_only = lambda reader, round_, labels, notes: notes[[r is None for _, r in labels]]  # noqa: E731
    never = BusConfig(n_streams=3, cadence=HOOK_CFG.block_size + 1, lag=0)
    loss, _ = train.streams_loss(state_dict, HOOK_CFG, never, HOOK_STREAMS)
    loss.backward()
    for lag in (0, 1):
        bcfg = BusConfig(n_streams=3, cadence=2, lag=lag)
        h_loss, grads, _ = vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS,
                                                         notes_hook=seeds_only)
        assert abs(h_loss - loss.data) <= RTOL * loss.data
        assert_grads(state_dict, grads, list(param_shapes(HOOK_CFG)))


def test_reordering_hook_gradients_match_finite_differences():
    _, params = make(HOOK_CFG, seed=6, gate=0.5)
    bcfg = BusConfig(n_streams=3, cadence=2, lag=1)
    reverse = lambda reader, round_, labels, notes: notes[::-1]  # noqa: E731
    _, grads, _ = vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS, notes_hook=reverse)
    rng = np.random.default_rng(0)
    for key in ('planner_proj', 'notes_proj', 'snc_wk', 'layer0.mlp_fc1'):
        for _ in range(2):
            i, j = (rng.integers(n) for n in params[key].shape)
            h, old = 1e-5, params[key][i, j]
            params[key][i, j] = old + h
            up = vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS, (), reverse)[0]
            params[key][i, j] = old - h
            down = vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS, (), reverse)[0]
            params[key][i, j] = old
            fd = (up - down) / (2 * h)
            assert abs(fd - grads[key][i, j]) <= 1e-6 * max(1e-3, abs(fd)), (key, fd, grads[key][i, j])


def test_hook_must_return_notes_shaped_rows():
    _, params = make(HOOK_CFG, seed=1)
    with pytest.raises(ValueError, match='notes_hook must return'):
        vector.streams_loss_and_grads(params, HOOK_CFG, BusConfig(n_streams=2), HOOK_STREAMS[:2],
                                      notes_hook=lambda r, t, labels, notes: np.zeros((2, 99)))


# --- replicate --------------------------------------------------------------------------


@pytest.mark.parametrize('seed', [1, 3])
def test_short_numpy_replicate_prints_what_the_scalar_engine_prints(seed):
    # the names of at most 3 letters: a model trained for 20 steps on them writes short
    # names, which keeps the scalar engine's 25 samples affordable in a test
    docs = [d for d in NAMES.read_text().split() if len(d) <= 3]
    scalar, numpy_ = [], []
    replicate(seed=seed, steps=20, snc_steps=2, engine='scalar', out=scalar.append, docs=docs)
    replicate(seed=seed, steps=20, snc_steps=2, engine='numpy', out=numpy_.append, docs=docs)
    assert numpy_ == scalar
    assert len(scalar) == 25 and scalar[0] == f'num docs: {len(docs)}'


def test_hook_may_modify_its_notes_in_place():
    # the hook gets its own copy: zeroing it in place is masking, not a change to the bus
    _, params = make(HOOK_CFG, seed=3, gate=0.5)
    bcfg = BusConfig(n_streams=3, cadence=2, lag=1)

    def zero_in_place(reader, round_, labels, notes):
        notes[:] = 0.0
        return notes
    zeros = lambda reader, round_, labels, notes: np.zeros_like(notes)  # noqa: E731
    a = vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS, notes_hook=zero_in_place)
    b = vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS, notes_hook=zeros)
    assert a[0] == b[0] and all(np.array_equal(a[1][k], b[1][k]) for k in a[1])


def test_streams_log_probs_are_the_per_token_losses():
    _, params = make(HOOK_CFG, seed=5, gate=0.5)
    bcfg = BusConfig(n_streams=3, cadence=2, lag=0)
    loss, _, n = vector.streams_loss_and_grads(params, HOOK_CFG, bcfg, HOOK_STREAMS, keys=())
    logp = vector.streams_log_probs(params, HOOK_CFG, bcfg, HOOK_STREAMS)
    assert [len(lp) for lp in logp] == [min(HOOK_CFG.block_size, len(s) - 1) for s in HOOK_STREAMS]
    assert all(np.allclose(np.exp(lp).sum(1), 1.0) for lp in logp)
    picked = [-lp[i, s[i + 1]] for lp, s in zip(logp, HOOK_STREAMS) for i in range(len(lp))]
    assert abs(sum(picked) / n - loss) <= 1e-12 * loss


@pytest.mark.parametrize('n_streams, lag', [(3, 0), (3, 1), (1, 0)])
def test_snc_trace_is_what_the_scalar_snc_reads_and_adds(monkeypatch, n_streams, lag):
    cfg = ModelConfig(vocab_size=TOKENIZER.vocab_size, block_size=10, n_embd=8, n_head=2, notes_dim=4,
                      n_layer=2, init_std=0.3)
    state_dict, params = make(cfg, seed=3, gate=0.5)
    bcfg = BusConfig(n_streams=n_streams, cadence=2, lag=lag)
    streams = HOOK_STREAMS[:n_streams]
    # the scalar engine's teacher forcing, with every SNC call's input and delta recorded in call order
    inputs, deltas = [], []

    def snc_recording(state_dict, cfg, x, notes, weights_out=None, gate=None):
        inputs.append([v.data for v in x])
        return snc_cross_attention(state_dict, cfg, x, notes, weights_out, gate)

    def gpt_recording(*args, **kwargs):
        record = {}
        out = model.gpt(*args, record=record, **kwargs)
        deltas.append(record['snc_delta'])
        return out
    monkeypatch.setattr(model, 'snc_cross_attention', snc_recording)
    monkeypatch.setattr(train, 'gpt', gpt_recording)
    train.streams_loss(state_dict, cfg, bcfg, streams)
    trace = vector.snc_trace(params, cfg, bcfg, streams)
    lengths = [min(cfg.block_size, len(s) - 1) for s in streams]
    order = [(s, t) for t in range(max(lengths)) for s in range(n_streams) if t < lengths[s]]  # round-robin
    assert len(deltas) == len(order) and len(inputs) == len(order) * cfg.n_layer
    for i, (s, t) in enumerate(order):
        assert close(trace[s]['snc_input'][t], inputs[i * cfg.n_layer:(i + 1) * cfg.n_layer]), (s, t)
        assert close(trace[s]['snc_delta'][t], deltas[i]), (s, t)
        assert trace[s]['read'][t] == (n_streams > 1)  # a lone stream has no one to read
    assert n_streams == 1 or all(np.abs(tr['snc_delta']).max() > 0 for tr in trace)
    logp = vector.streams_log_probs(params, cfg, bcfg, streams)
    assert all(np.array_equal(tr['log_probs'], lp) for tr, lp in zip(trace, logp))


def test_a_batch_of_documents_is_the_mean_of_their_losses_and_grads():
    state_dict, params = make(REF_CFG, seed=8)
    batch = [TOKENIZER.encode(d) for d in ('ava', 'charlotte', 'liam')]
    losses = []
    for tokens in batch:  # the scalar engine, one document after the other, gradients summed
        loss = train.doc_loss(state_dict, REF_CFG, tokens)
        loss.backward()
        losses.append(loss.data)
    np_loss, grads = vector.docs_loss_and_grads(params, REF_CFG, batch)
    assert abs(np_loss - sum(losses) / 3) <= RTOL * np_loss
    ref = scalar_grads(state_dict, base_keys(REF_CFG))
    for k in base_keys(REF_CFG):
        assert close(grads[k] * 3, ref[k]), k
    # and training on batches runs the same documents as the reference's schedule would
    seen = []
    vector.train_phase1(params, REF_CFG, TrainConfig(steps=2), DOCS, TOKENIZER, batch_size=3,
                        callback=seen.append)
    assert len(seen) == 2
    first = vector.docs_loss_and_grads(vector.params_from(state_dict), REF_CFG,
                                       [TOKENIZER.encode(d) for d in DOCS[:3]])[0]
    assert seen[0]['loss'] == first

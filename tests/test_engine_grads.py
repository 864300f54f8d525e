"""The numpy engine against the scalar engine: parameters (drawn alike, round trips,
checked), the forward pass, the loss and every gradient (reference config and random
configs, one document, a batch, streams on the bus), Adam and training steps."""
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_oracles import (BOS, DOCS, REF_CFG, RTOL, SHORT_DOCS, TOKENIZER, assert_grads, assert_params,
                            close, make, scalar_grads, zero_scalar_grads)
from microdnb import vector
from microdnb.config import BusConfig, ModelConfig, TrainConfig
from microdnb.data import Tokenizer, phase2_docs
from microdnb.params import SNC_KEYS, base_keys, param_shapes
from microdnb.scalar import model, train
from microdnb.scalar.model import param_list
from microdnb.scalar.snc import gate_value


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


@pytest.mark.slow
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


@pytest.mark.slow
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
                                                for d in phase2_docs(DOCS, step, 2)])
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = dict((k, v.copy()) for k, v in params.items())
    vector.train_phase2(c, cfg, tcfg, bcfg, None, TOKENIZER,
                        groups_fn=lambda step: [TOKENIZER.encode('emma')] * 2)
    assert not np.array_equal(a['snc_wq'], c['snc_wq'])


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

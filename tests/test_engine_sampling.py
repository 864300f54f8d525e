"""The numpy engine's sampling against the scalar engine's (the same draws and traces, one
stream and parallel streams, batched and sequential decoding), and a short `replicate`
printing what the scalar engine prints."""
import random

import pytest

from engine_oracles import NAMES, REF_CFG, TOKENIZER, assert_same_trace, close, make
from microdnb import vector
from microdnb.config import BusConfig, ModelConfig
from microdnb.reference import replicate
from microdnb.scalar import sample


# --- sampling ---------------------------------------------------------------------------


@pytest.mark.slow
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


@pytest.mark.parametrize('lag', [pytest.param(0, marks=pytest.mark.slow), 1, pytest.param(2, marks=pytest.mark.slow)])
def test_sample_parallel_same_draws_and_trace(lag):
    cfg = ModelConfig(vocab_size=TOKENIZER.vocab_size, n_layer=2, block_size=8, n_embd=8, n_head=2,
                      notes_dim=4, init_std=0.3)
    state_dict, params = make(cfg, seed=lag, gate=0.0)
    bcfg = BusConfig(n_streams=3, cadence=2, lag=lag)
    rng_s, rng_n = random.Random(lag), random.Random(lag)
    for kw in ({}, {'starts': [None, TOKENIZER.uchars[0], TOKENIZER.uchars[3]]}):
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


# --- replicate --------------------------------------------------------------------------


@pytest.mark.slow
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

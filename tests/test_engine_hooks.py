"""The numpy engine's notes_hook (what a reader gets from the bus, for the controls of part
II) against the bus's visibility rule, the scalar engine and finite differences; the
per-token log-probabilities and the SNC trace the measurements read."""
import random

import numpy as np
import pytest

from engine_oracles import HOOK_CFG, HOOK_STREAMS, assert_same_trace, RTOL, TOKENIZER, assert_grads, close, make
from microdnb import vector
from microdnb.bus import visibility
from microdnb.config import BusConfig, ModelConfig
from microdnb.params import param_shapes
from microdnb.scalar import model, train
from microdnb.scalar.snc import snc_cross_attention


# --- notes_hook -------------------------------------------------------------------------


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

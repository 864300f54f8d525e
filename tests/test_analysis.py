"""The measurements of part II (microdnb.analysis) and the figures built on them (viz_bus).

Oracles: the scalar engine, driven in ways that realise each control independently of the
notes hooks the analysis uses (a cadence no position reaches = "plan seeds only", a zero
`notes_proj` = "masked", a NotesBus that hands out other names' notes = "shuffled",
train.doc_loss = "trunk"); closed forms for the bus counts; the scalar Adam for the
gate bound; `replicate` for the recorded reference run.
"""
import math
import random

import matplotlib
import numpy as np
import pytest
from hypothesis import given, strategies as st

matplotlib.use('Agg')

from microdnb import analysis, engine, train, viz_bus  # noqa: E402
from microdnb.autograd import Value  # noqa: E402
from microdnb.bus import NotesBus, emits, visibility  # noqa: E402
from microdnb.config import BusConfig, TrainConfig  # noqa: E402
from microdnb.layers import linear, softmax  # noqa: E402
from microdnb.model import gpt, init_params  # noqa: E402
from microdnb.planner import plan_seed  # noqa: E402

TOL = 1e-9


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def open_model(tiny_cfg):
    """A random tiny model with the gate half open and SNC's weights scaled up, so that
    what is on the bus visibly changes the loss."""
    state_dict = init_params(tiny_cfg, random.Random(7))
    for name in ('notes_proj', 'planner_proj', 'snc_wq', 'snc_wk', 'snc_wv', 'snc_wo'):
        state_dict[name] = [[Value(8 * v.data) for v in row] for row in state_dict[name]]
    state_dict['snc_gate'][0][0] = Value(0.0)
    return state_dict


@pytest.fixture
def groups(tiny_docs):
    return [('emma', 'olivia'), ('ava', 'isabella'), ('sophia', 'mia'),
            ('amelia', 'harper'), ('evelyn', 'abigail')]


def scalar_group_loss(state_dict, cfg, bcfg, tokenizer, group):
    loss, n = train.streams_loss(state_dict, cfg, bcfg, [tokenizer.encode(x) for x in group])
    return loss.data, n


# ---------------------------------------------------------------- the bus, no model

@given(k=st.integers(1, 4), n=st.integers(1, 12), c=st.integers(1, 6))
def test_bus_stats_lag1_matches_closed_form(k, n, c):
    # k streams of equal length n, lag 1: every stream posts after each t < n with
    # (t + 1) % c == 0; at round t a stream reads (k - 1) plan seeds and (k - 1) * (t // c)
    # posts; the newest note from each other stream was posted after round c*(t//c) - 1.
    st_ = analysis.bus_stats([n] * k, c, 1)
    assert st_['posts'] == k * (n // c)
    assert st_['note_reads'] == k * (k - 1) * sum(1 + t // c for t in range(n))
    if k > 1:
        assert st_['mean_age'] == pytest.approx(sum(t % c + 1 for t in range(n)) / n)


def test_bus_stats_lag0_hand_worked():
    # two streams of 3 positions, cadence 1. Stream 0 reads stream 1's plan seed and
    # its posts of earlier rounds (t + 1 notes, newest one round old); stream 1 runs
    # second and also reads stream 0's post of the same round (t + 2 notes, age 0).
    st_ = analysis.bus_stats([3, 3], 1, 0)
    assert st_ == {'posts': 6, 'note_reads': (1 + 2 + 3) + (2 + 3 + 4), 'mean_age': 0.5}
    # a stream that ends (samples BOS) posts nothing at its last step
    assert analysis.bus_stats([3, 3], 1, 0, ended=[0])['posts'] == 5


@pytest.mark.parametrize('bad', [[], [0], [2, 'a'], 'abc', [True]])
def test_bus_stats_rejects_bad_lengths(bad):
    with pytest.raises(ValueError, match='lengths'):
        analysis.bus_stats(bad, 3, 0)


def test_forward_passes():
    assert analysis.forward_passes([6, 9, 7], 3, 1) == 9              # one pass per round
    assert analysis.forward_passes([6, 9, 7], 20, 0) == 9             # nobody ever posts
    # lag 0, cadence 3: rounds 2 and 5 have 3 live streams, round 8 only one
    assert analysis.forward_passes([6, 9, 7], 3, 0) == 9 + 2 * 2
    assert analysis.forward_passes([4], 1, 0) == 4                    # one stream: no waiting
    with pytest.raises(ValueError, match='cadence'):
        analysis.forward_passes([3], 0, 0)


def test_visibility_table_agrees_with_bus_visibility():
    lengths = [5, 4, 6]
    for lag in (0, 1):
        snapshots, steps, seen = viz_bus.visibility_table(lengths, 3, lag)
        posts, reads = visibility(lengths, 3, lag)
        assert len(snapshots) == len(lengths) + sum(len(p) for p in posts)
        for j, step in enumerate(steps):
            readable = {snapshots[i] for i in np.flatnonzero(seen[:, j])}
            assert readable == set(reads[step])
            same_round = {snapshots[i] for i in np.flatnonzero(seen[:, j] == 2)}
            assert all(r == step[1] for _, r in same_round)
            if lag:
                assert not same_round


# ---------------------------------------------------------------- the gate bound

def test_gate_bound_is_what_adam_can_do():
    tcfg = TrainConfig()
    total, gate = analysis.gate_bound(tcfg)
    assert total == pytest.approx(0.005 * (300 - 299 / 2))            # sum of a linear decay
    assert gate == pytest.approx(1 / (1 + math.exp(5 - total)))
    # the scalar Adam, pushed by the same gradient every step, moves one parameter by
    # almost exactly the bound (never more)
    p = Value(-5.0)
    adam = train.Adam([p], tcfg.beta1, tcfg.beta2, tcfg.eps_adam)
    for step in range(tcfg.snc_steps):
        p.grad = -1.0
        adam.step(step, tcfg.snc_learning_rate * (1 - step / tcfg.snc_steps))
    assert total * 0.999 < p.data + 5.0 <= total + 1e-9


# ---------------------------------------------------------------- held-out controls

def test_full_and_trunk_match_the_scalar_engine(open_model, tiny_cfg, tiny_tokenizer, groups):
    bcfg = BusConfig(2, 3, 0)
    full = analysis.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'full')
    oracle = [scalar_group_loss(open_model, tiny_cfg, bcfg, tiny_tokenizer, g) for g in groups]
    np.testing.assert_allclose(analysis.group_losses(full), [l for l, _ in oracle], atol=TOL)
    assert full['n_tokens'] == sum(n for _, n in oracle)
    total = sum(l * n for l, n in oracle) / sum(n for _, n in oracle)
    assert full['loss'] == pytest.approx(total, abs=TOL)

    trunk = analysis.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'trunk')
    docs = [n for g in groups for n in g]
    per_doc = [(train.doc_loss(open_model, tiny_cfg, tiny_tokenizer.encode(d)).data,
                min(tiny_cfg.block_size, len(d) + 1)) for d in docs]
    assert trunk['loss'] == pytest.approx(sum(l * n for l, n in per_doc) / sum(n for _, n in per_doc),
                                          abs=TOL)
    assert abs(trunk['loss'] - full['loss']) > 1e-3          # the open gate does matter here


def test_plan_only_is_a_bus_where_nobody_posts(open_model, tiny_cfg, tiny_tokenizer, groups):
    got = analysis.heldout_measure(open_model, tiny_cfg, BusConfig(2, 3, 0), tiny_tokenizer, groups,
                                   'plan_only')
    never = BusConfig(2, tiny_cfg.block_size + 1, 0)        # (pos + 1) % cadence never 0
    oracle = [scalar_group_loss(open_model, tiny_cfg, never, tiny_tokenizer, g)[0] for g in groups]
    np.testing.assert_allclose(analysis.group_losses(got), oracle, atol=TOL)


def test_masked_is_a_zero_notes_projection(open_model, tiny_cfg, tiny_tokenizer, groups):
    bcfg = BusConfig(2, 2, 0)
    got = analysis.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'masked')
    zeroed = dict(open_model)
    zeroed['notes_proj'] = [[Value(0.0) for _ in row] for row in open_model['notes_proj']]
    oracle = [scalar_group_loss(zeroed, tiny_cfg, bcfg, tiny_tokenizer, g)[0] for g in groups]
    np.testing.assert_allclose(analysis.group_losses(got), oracle, atol=TOL)
    full = analysis.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'full')
    assert abs(got['loss'] - full['loss']) > 1e-4


def test_shuffled_reads_other_names_notes(open_model, tiny_cfg, tiny_tokenizer, groups, monkeypatch):
    bcfg = BusConfig(2, 2, 0)
    donors = analysis._donors(groups, tiny_cfg)
    for group, donor in zip(groups, donors):
        assert not set(group) & set(donor)
        positions = lambda name: min(tiny_cfg.block_size, len(name) + 1)
        assert all(positions(d) >= positions(n) for n, d in zip(group, donor))  # its notes exist
    got = analysis.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'shuffled')

    # oracle: the scalar engine, with a NotesBus that records the donor run's snapshots and
    # then serves them, by (stream, round), to the group's run
    store = {}

    class RecordingBus(NotesBus):
        def post(self, stream, round_, snapshot):
            store[(stream, round_)] = snapshot
            super().post(stream, round_, snapshot)

    class DonorBus(NotesBus):
        def read(self, reader, round_):
            return [snap if r is None else store[(oi, r)] for oi, r, snap in self._readable(reader, round_)]

    oracle = []
    for group, donor in zip(groups, donors):
        store.clear()
        monkeypatch.setattr(train, 'NotesBus', RecordingBus)
        scalar_group_loss(open_model, tiny_cfg, bcfg, tiny_tokenizer, donor)
        monkeypatch.setattr(train, 'NotesBus', DonorBus)
        oracle.append(scalar_group_loss(open_model, tiny_cfg, bcfg, tiny_tokenizer, group)[0])
    monkeypatch.undo()
    np.testing.assert_allclose(analysis.group_losses(got), oracle, atol=TOL)
    full = analysis.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'full')
    assert abs(got['loss'] - full['loss']) > 1e-4


def test_unknown_control_and_bad_groups(open_model, tiny_cfg, tiny_tokenizer, groups):
    with pytest.raises(ValueError, match='control'):
        analysis.heldout_measure(open_model, tiny_cfg, BusConfig(), tiny_tokenizer, groups, 'bogus')
    with pytest.raises(ValueError, match='groups'):
        analysis.heldout_measure(open_model, tiny_cfg, BusConfig(), tiny_tokenizer, [], 'full')
    with pytest.raises(ValueError, match='full bus'):
        analysis.heldout_measure(open_model, tiny_cfg, BusConfig(), tiny_tokenizer, groups, 'trunk',
                                 ratios=True)


def test_heldout_groups():
    docs = [f"n{i}" for i in range(10)]
    assert analysis.heldout_groups(docs, n_groups=2, group_size=3, tail=6) == [
        ('n4', 'n5', 'n6'), ('n7', 'n8', 'n9')]
    with pytest.raises(ValueError, match='need'):
        analysis.heldout_groups(docs, n_groups=3, group_size=3, tail=6)
    with pytest.raises(ValueError, match='only 10'):
        analysis.heldout_groups(docs, n_groups=1, group_size=1, tail=11)


# ---------------------------------------------------------------- SNC's size, the plan seed

def test_snc_delta_ratio_matches_the_scalar_residual(open_model, tiny_cfg, tiny_tokenizer, groups):
    # with the MLP's output zeroed, the final hidden state is the residual SNC was added
    # to plus SNC's delta, so the scalar forward's `record` gives both
    sd = dict(open_model)
    sd['layer0.mlp_fc2'] = [[Value(0.0) for _ in row] for row in open_model['layer0.mlp_fc2']]
    bcfg = BusConfig(2, 3, 0)
    oracle = []
    for group in groups:
        streams = [tiny_tokenizer.encode(x) for x in group]
        n_pos = [min(tiny_cfg.block_size, len(s) - 1) for s in streams]
        caches = [([[]], [[]]) for _ in streams]
        notes = NotesBus(2, 0)
        for si, s in enumerate(streams):
            notes.seed(si, plan_seed(sd, tiny_cfg, s[0]))
        for t in range(max(n_pos)):
            for si, s in enumerate(streams):
                if t >= n_pos[si]:
                    continue
                rec = {}
                _, hidden = gpt(sd, tiny_cfg, s[t], t, *caches[si], notes=notes.read(si, t), record=rec)
                delta = np.array(rec['snc_delta'][0])
                x = np.array([h.data for h in hidden]) - delta
                oracle.append(np.linalg.norm(delta) / np.linalg.norm(x))
                if emits(t, bcfg.cadence):
                    notes.post(si, t, linear(hidden, sd['notes_proj']))
    got = analysis.snc_delta_ratios(sd, tiny_cfg, bcfg, tiny_tokenizer, groups)
    np.testing.assert_allclose(np.sort(got), np.sort(oracle), rtol=1e-8)
    # at position 0 a stream reads only the plan seed, which no gate can change, so there
    # the delta is gate * (a fixed projection): doubling the gate doubles the ratio
    m = analysis.heldout_measure(analysis.with_gate(sd, 0.25), tiny_cfg, bcfg, tiny_tokenizer,
                                 groups[:1], ratios=True)
    m2 = analysis.heldout_measure(analysis.with_gate(sd, 0.5), tiny_cfg, bcfg, tiny_tokenizer,
                                  groups[:1], ratios=True)
    assert m2['ratios'][0] == pytest.approx(2 * m['ratios'][0], rel=1e-9)


def test_plan_seeds_are_the_planner_of_bos(open_model, tiny_cfg, tiny_tokenizer, groups):
    seeds = analysis.plan_seeds(open_model, tiny_cfg, BusConfig(2, 3, 0), tiny_tokenizer, groups)
    expected = np.array([v.data for v in plan_seed(open_model, tiny_cfg, tiny_tokenizer.BOS)])
    # every step of every stream reads the other stream's seed once
    assert len(seeds) == sum(min(tiny_cfg.block_size, len(n) + 1) for g in groups for n in g)
    np.testing.assert_allclose(seeds, np.broadcast_to(expected, seeds.shape), atol=1e-12)


def test_first_token_probs(open_model, tiny_cfg, tiny_tokenizer):
    bcfg = BusConfig(3, 3, 0)
    with_bus, trunk = analysis.first_token_probs(open_model, tiny_cfg, bcfg, tiny_tokenizer, reader=1)
    bos = tiny_tokenizer.BOS
    logits, _ = gpt(open_model, tiny_cfg, bos, 0, [[]], [[]])
    np.testing.assert_allclose(trunk, [p.data for p in softmax(logits)], atol=TOL)
    seed = plan_seed(open_model, tiny_cfg, bos)
    logits, _ = gpt(open_model, tiny_cfg, bos, 0, [[]], [[]], notes=[seed, seed])
    np.testing.assert_allclose(with_bus, [p.data for p in softmax(logits)], atol=TOL)
    assert np.abs(with_bus - trunk).max() > 1e-3
    with pytest.raises(ValueError, match='reader'):
        analysis.first_token_probs(open_model, tiny_cfg, bcfg, tiny_tokenizer, reader=3)


def test_with_gate(open_model):
    for g in (0.0087, 0.3, 1.0):
        assert engine.gate_value(analysis.with_gate(open_model, g)) == pytest.approx(g, abs=1e-15)
    assert engine.gate_value(analysis.with_gate(open_model, 1)) == 1.0
    assert open_model['snc_gate'][0][0].data == 0.0               # the original is untouched
    for bad in (0, -0.1, 1.5, True, 'x'):
        with pytest.raises(ValueError, match='gate'):
            analysis.with_gate(open_model, bad)


def test_gate_sweep_changes_only_the_gate(open_model, tiny_cfg, tiny_tokenizer, groups):
    sweep = analysis.gate_sweep(open_model, tiny_cfg, tiny_tokenizer, groups[:2], [0.5, 0.5, 1.0],
                                n_batches=2, seed=3)
    assert [m['gate'] for m in sweep] == [0.5, 0.5, 1.0]
    assert sweep[0]['texts'] == sweep[1]['texts']                  # same seed, same gate
    forced = analysis.with_gate(open_model, 1.0)
    rng = random.Random(3)
    texts = [engine.sample_parallel(forced, tiny_cfg, BusConfig(3, 3, 0), tiny_tokenizer, rng)['texts']
             for _ in range(2)]
    assert sweep[2]['texts'] == texts
    assert sweep[2]['loss'] == pytest.approx(
        analysis.heldout_loss(forced, tiny_cfg, BusConfig(2, 3, 0), tiny_tokenizer, groups[:2])[0])


# ---------------------------------------------------------------- small statistics

def test_paired_difference_and_positions():
    mean, se = analysis.paired_difference([3.0, 4.0, 5.0], [2.0, 3.0, 4.0])
    assert (mean, se) == (1.0, 0.0)
    mean, se = analysis.paired_difference([1.0, 3.0], [0.0, 0.0])
    assert mean == 2.0 and se == pytest.approx(math.sqrt(2) / math.sqrt(2))
    with pytest.raises(ValueError):
        analysis.paired_difference([1.0], [1.0])
    m = {'positions': np.array([0, 1, 0, 1, 2]), 'losses': np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
         'groups': np.array([0, 0, 1, 1, 1])}
    pos, means, counts = analysis.loss_by_position(m)
    assert pos.tolist() == [0, 1, 2] and means.tolist() == [2.0, 3.0, 5.0] and counts.tolist() == [2, 2, 1]
    assert analysis.group_losses(m).tolist() == [1.5, 4.0]
    assert analysis.duplicates(['a', 'b', 'a', 'a', '']) == 2


# ---------------------------------------------------------------- the recorded reference run

def test_reference_run_is_replicate(all_docs):
    from microdnb.replicate import replicate
    docs = list(all_docs)
    run = analysis.reference_run(seed=3, steps=4, snc_steps=2, docs=docs)
    params = replicate(seed=3, steps=4, snc_steps=2, engine='numpy', out=lambda line: None, docs=docs)
    for name, value in params.items():
        np.testing.assert_array_equal(run['params'][name], value)
    assert len(run['phase1']['loss']) == 4 and len(run['phase2']['gate']) == 2
    assert run['phase2']['gate'][-1] == engine.gate_value(params)
    shuffled, tokenizer = analysis.reference_docs(seed=3, docs=docs)
    assert shuffled == run['docs'] and tokenizer.uchars == run['tokenizer'].uchars
    # the scalar engine records the same curves
    scalar = analysis.reference_run(seed=3, steps=4, snc_steps=2, engine='scalar', docs=docs)
    np.testing.assert_allclose(scalar['phase1']['loss'], run['phase1']['loss'], atol=1e-9)
    np.testing.assert_allclose(scalar['phase2']['loss'], run['phase2']['loss'], atol=1e-9)


# ---------------------------------------------------------------- figures and frames

def test_figures_and_frames(open_model, tiny_cfg, tiny_tokenizer, groups):
    import matplotlib.pyplot as plt
    frames = viz_bus.cadence_frames([4, 3], cadences=[1, 2], lags=[0, 1])
    assert set(frames) == {(1, 0), (1, 1), (2, 0), (2, 1)}
    assert all(png.startswith(b'\x89PNG') for png in frames.values())

    trace = engine.sample_parallel(engine.from_state_dict(open_model), tiny_cfg, BusConfig(3, 2, 0),
                                   tiny_tokenizer,
                                   random.Random(0), record=True)
    rows, labels, weights = viz_bus.snc_attention_table(trace, 2)
    events = [e for e in trace['events'] if e['stream'] == 2]
    assert len(rows) == len(events)
    # each head's weights over the readable notes sum to one; unreadable cells are NaN
    np.testing.assert_allclose(np.nansum(weights, axis=-1), 1.0, atol=1e-12)
    for i, e in enumerate(events):
        assert (~np.isnan(weights[0, i])).sum() == len(e['notes'])
    with pytest.raises(ValueError, match='stream 5'):
        viz_bus.snc_attention_table(trace, 5)

    figs = [viz_bus.bus_figure([4, 3], 2, 0), viz_bus.snc_attention_figure(trace, 0, tiny_tokenizer),
            viz_bus.decode_figure(trace, tiny_tokenizer)]
    sweep = analysis.gate_sweep(open_model, tiny_cfg, tiny_tokenizer, groups[:1], [0.1, 1.0], n_batches=1)
    labels, gframes = viz_bus.gate_frames(sweep, tiny_tokenizer)
    assert labels == ['0.1', '1'] and set(gframes) == set(labels)
    for fig in figs:
        assert isinstance(fig, matplotlib.figure.Figure)
        plt.close(fig)

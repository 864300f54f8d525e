"""The measurements of part II that run a model (microdnb.study.measure) and the figures
built on them (figures.notes_bus); those that need no model (bus counts, Adam's reach, the
small statistics) are in test_measure.py.

Oracles: the scalar engine, driven in ways that realise each condition independently of the
notes hooks the measurements use (a cadence no position reaches = 'plan_only', a zero
`notes_proj` = 'posts_zeroed', a NotesBus that hands out other names' notes = 'shuffled',
train.doc_loss = 'trunk'); the bus's own visibility rule; `replicate` for the recorded
reference run.
"""
import random

import matplotlib
import numpy as np
import pytest

matplotlib.use('Agg')

from microdnb.study import controls, measure, stats  # noqa: E402
from microdnb import reference, vector  # noqa: E402
from microdnb.scalar import train  # noqa: E402
from microdnb.figures import cross_attention, decoding, notes_bus, training  # noqa: E402
from microdnb.scalar.autograd import Value  # noqa: E402
from microdnb.bus import NotesBus, emits, visibility  # noqa: E402
from microdnb.config import BusConfig  # noqa: E402
from microdnb.scalar.layers import linear, softmax  # noqa: E402
from microdnb.scalar.model import gpt, init_params  # noqa: E402
from microdnb.scalar.planner import plan_seed  # noqa: E402

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


# ---------------------------------------------------------------- the bus, drawn (figures.notes_bus)

def test_visibility_table_agrees_with_bus_visibility():
    lengths = [5, 4, 6]
    for lag in (0, 1):
        snapshots, steps, seen = notes_bus.visibility_table(lengths, 3, lag)
        posts, reads = visibility(lengths, 3, lag)
        assert len(snapshots) == len(lengths) + sum(len(p) for p in posts)
        for j, step in enumerate(steps):
            readable = {snapshots[i] for i in np.flatnonzero(seen[:, j])}
            assert readable == set(reads[step])
            same_round = {snapshots[i] for i in np.flatnonzero(seen[:, j] == 2)}
            assert all(r == step[1] for _, r in same_round)
            if lag:
                assert not same_round


# ---------------------------------------------------------------- decoding speed

def test_decoding_speed_times_the_same_decode_both_ways(open_model, tiny_cfg, tiny_tokenizer):
    """Batched and one-at-a-time decoding at lag 1 draw the same names; the passes they count
    are the rounds (forward_passes at lag 1) and the token steps; a time per repeat each."""
    params = vector.params_from(open_model)
    got = measure.decoding_speed(params, tiny_cfg, tiny_tokenizer, n_streams=(1, 3), groups=3, repeats=2)
    assert set(got) == {1, 3}
    rounds = steps = 0
    for g in range(3):
        trace = vector.sample_parallel(params, tiny_cfg, BusConfig(3, 3, 1), tiny_tokenizer, random.Random(g))
        lengths = [len(t) + (len(t) < trace['rounds']) for t in trace['tokens']]
        rounds += measure.forward_passes(lengths, 3, 1)
        steps += trace['steps']
    three = got[3]
    assert three['passes'] == {'batched': rounds, 'one_at_a_time': steps} and three['steps'] == steps
    assert got[1]['passes']['batched'] == got[1]['passes']['one_at_a_time']    # one stream: nothing to batch
    for m in got.values():
        assert m['batched'].shape == m['one_at_a_time'].shape == (2,) and (m['batched'] > 0).all()
        np.testing.assert_allclose(m['ratio'], m['one_at_a_time'] / m['batched'])
    with pytest.raises(ValueError, match='n_streams'):
        measure.decoding_speed(params, tiny_cfg, tiny_tokenizer, n_streams=(0,))


# ---------------------------------------------------------------- held-out conditions

@pytest.mark.slow
def test_notes_and_trunk_match_the_scalar_engine(open_model, tiny_cfg, tiny_tokenizer, groups):
    bcfg = BusConfig(2, 3, 0)
    full = measure.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'notes')
    oracle = [scalar_group_loss(open_model, tiny_cfg, bcfg, tiny_tokenizer, g) for g in groups]
    np.testing.assert_allclose(measure.group_losses(full), [l for l, _ in oracle], atol=TOL)
    assert full['n_tokens'] == sum(n for _, n in oracle)
    total = sum(l * n for l, n in oracle) / sum(n for _, n in oracle)
    assert full['loss'] == pytest.approx(total, abs=TOL)

    trunk = measure.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'trunk')
    docs = [n for g in groups for n in g]
    per_doc = [(train.doc_loss(open_model, tiny_cfg, tiny_tokenizer.encode(d)).data,
                min(tiny_cfg.block_size, len(d) + 1)) for d in docs]
    assert trunk['loss'] == pytest.approx(sum(l * n for l, n in per_doc) / sum(n for _, n in per_doc),
                                          abs=TOL)
    assert abs(trunk['loss'] - full['loss']) > 1e-3          # the open gate does matter here


@pytest.mark.slow
def test_plan_only_is_a_bus_where_nobody_posts(open_model, tiny_cfg, tiny_tokenizer, groups):
    got = measure.heldout_measure(open_model, tiny_cfg, BusConfig(2, 3, 0), tiny_tokenizer, groups,
                                   'plan_only')
    never = BusConfig(2, tiny_cfg.block_size + 1, 0)        # (pos + 1) % cadence never 0
    oracle = [scalar_group_loss(open_model, tiny_cfg, never, tiny_tokenizer, g)[0] for g in groups]
    np.testing.assert_allclose(measure.group_losses(got), oracle, atol=TOL)


@pytest.mark.slow
def test_posts_zeroed_is_a_zero_notes_projection(open_model, tiny_cfg, tiny_tokenizer, groups):
    bcfg = BusConfig(2, 2, 0)
    got = measure.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'posts_zeroed')
    zeroed = dict(open_model)
    zeroed['notes_proj'] = [[Value(0.0) for _ in row] for row in open_model['notes_proj']]
    oracle = [scalar_group_loss(zeroed, tiny_cfg, bcfg, tiny_tokenizer, g)[0] for g in groups]
    np.testing.assert_allclose(measure.group_losses(got), oracle, atol=TOL)
    full = measure.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'notes')
    assert abs(got['loss'] - full['loss']) > 1e-4


@pytest.mark.slow
def test_shuffled_reads_other_names_notes(open_model, tiny_cfg, tiny_tokenizer, groups, monkeypatch):
    bcfg = BusConfig(2, 2, 0)
    token_groups = [[tiny_tokenizer.encode(n) for n in g] for g in groups]
    donors, fallbacks = controls.choose_donors(token_groups, tiny_cfg, groups)
    got = measure.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'shuffled')
    assert got['fallbacks'] == fallbacks == 1             # ('evelyn', 'abigail'): no pair runs as long
    assert got['dropped_notes'] > 0

    # oracle: the scalar engine, with a NotesBus that records the snapshots read in the donor's
    # run and then serves them, by (stream, round), to the group's run
    store = {}

    class RecordingBus(NotesBus):
        def read(self, reader, round_):
            got = list(self._readable(reader, round_))
            store.update({(oi, r): snap for oi, r, snap in got})
            return [snap for _, _, snap in got]

    class DonorBus(NotesBus):  # the donor's notes; one its run never read is not there
        def read(self, reader, round_):
            return [snap if r is None else store[(oi, r)] for oi, r, snap in self._readable(reader, round_)
                    if r is None or (oi, r) in store]

    oracle = []
    for group, donor in zip(groups, (groups[h] for h in donors)):
        store.clear()
        monkeypatch.setattr(train, 'NotesBus', RecordingBus)
        scalar_group_loss(open_model, tiny_cfg, bcfg, tiny_tokenizer, donor)
        monkeypatch.setattr(train, 'NotesBus', DonorBus)
        oracle.append(scalar_group_loss(open_model, tiny_cfg, bcfg, tiny_tokenizer, group)[0])
    monkeypatch.undo()
    np.testing.assert_allclose(measure.group_losses(got), oracle, atol=TOL)
    full = measure.heldout_measure(open_model, tiny_cfg, bcfg, tiny_tokenizer, groups, 'notes')
    assert abs(got['loss'] - full['loss']) > 1e-4


def test_unknown_condition_and_bad_groups(open_model, tiny_cfg, tiny_tokenizer, groups):
    for bad in ('bogus', 'full', 'masked', 'repaired'):
        with pytest.raises(ValueError, match='condition'):
            measure.heldout_measure(open_model, tiny_cfg, BusConfig(), tiny_tokenizer, groups, bad)
    with pytest.raises(ValueError, match='groups'):
        measure.heldout_measure(open_model, tiny_cfg, BusConfig(), tiny_tokenizer, [], 'notes')
    with pytest.raises(ValueError, match='notes as trained'):
        measure.heldout_measure(open_model, tiny_cfg, BusConfig(), tiny_tokenizer, groups, 'trunk',
                                 ratios=True)


def test_heldout_groups():
    docs = [f"n{i}" for i in range(10)]
    assert measure.heldout_groups(docs, n_groups=2, group_size=3, tail=6) == [
        ('n4', 'n5', 'n6'), ('n7', 'n8', 'n9')]
    with pytest.raises(ValueError, match='need'):
        measure.heldout_groups(docs, n_groups=3, group_size=3, tail=6)
    with pytest.raises(ValueError, match='only 10'):
        measure.heldout_groups(docs, n_groups=1, group_size=1, tail=11)


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
    got = measure.heldout_measure(sd, tiny_cfg, bcfg, tiny_tokenizer, groups, ratios=True)['ratios']
    np.testing.assert_allclose(np.sort(got), np.sort(oracle), rtol=1e-8)
    # at position 0 a stream reads only the plan seed, which no gate can change, so there
    # the delta is gate * (a fixed projection): doubling the gate doubles the ratio
    m = measure.heldout_measure(measure.with_gate(sd, 0.25), tiny_cfg, bcfg, tiny_tokenizer,
                                 groups[:1], ratios=True)
    m2 = measure.heldout_measure(measure.with_gate(sd, 0.5), tiny_cfg, bcfg, tiny_tokenizer,
                                  groups[:1], ratios=True)
    assert m2['ratios'][0] == pytest.approx(2 * m['ratios'][0], rel=1e-9)


def test_plan_seeds_are_the_planner_of_bos(open_model, tiny_cfg, tiny_tokenizer, groups):
    seeds = measure.plan_seeds(open_model, tiny_cfg, BusConfig(2, 3, 0), tiny_tokenizer, groups)
    expected = np.array([v.data for v in plan_seed(open_model, tiny_cfg, tiny_tokenizer.BOS)])
    # every step of every stream reads the other stream's seed once
    assert len(seeds) == sum(min(tiny_cfg.block_size, len(n) + 1) for g in groups for n in g)
    np.testing.assert_allclose(seeds, np.broadcast_to(expected, seeds.shape), atol=1e-12)


def test_first_token_probs(open_model, tiny_cfg, tiny_tokenizer):
    bcfg = BusConfig(3, 3, 0)
    with_bus, trunk = measure.first_token_probs(open_model, tiny_cfg, bcfg, tiny_tokenizer, reader=1)
    bos = tiny_tokenizer.BOS
    logits, _ = gpt(open_model, tiny_cfg, bos, 0, [[]], [[]])
    np.testing.assert_allclose(trunk, [p.data for p in softmax(logits)], atol=TOL)
    seed = plan_seed(open_model, tiny_cfg, bos)
    logits, _ = gpt(open_model, tiny_cfg, bos, 0, [[]], [[]], notes=[seed, seed])
    np.testing.assert_allclose(with_bus, [p.data for p in softmax(logits)], atol=TOL)
    assert np.abs(with_bus - trunk).max() > 1e-3
    with pytest.raises(ValueError, match='reader'):
        measure.first_token_probs(open_model, tiny_cfg, bcfg, tiny_tokenizer, reader=3)


def test_with_gate(open_model):
    for g in (0.0087, 0.3, 1.0):
        assert vector.gate_value(measure.with_gate(open_model, g)) == pytest.approx(g, abs=1e-15)
    assert vector.gate_value(measure.with_gate(open_model, 1)) == 1.0
    assert open_model['snc_gate'][0][0].data == 0.0               # the original is untouched
    for bad in (0, -0.1, 1.5, True, 'x'):
        with pytest.raises(ValueError, match='gate'):
            measure.with_gate(open_model, bad)


def test_gate_sweep_changes_only_the_gate(open_model, tiny_cfg, tiny_tokenizer, groups):
    sweep = measure.gate_sweep(open_model, tiny_cfg, tiny_tokenizer, groups[:2], [0.5, 0.5, 1.0],
                                n_batches=2, seed=3)
    assert [m['gate'] for m in sweep] == [0.5, 0.5, 1.0]
    assert all(m['reader'] == 1 and m['n_streams'] == 3 for m in sweep)   # stream 1 of the reference's 3
    assert sweep[0]['texts'] == sweep[1]['texts']                  # same seed, same gate
    forced = measure.with_gate(open_model, 1.0)
    rng = random.Random(3)
    texts = [vector.sample_parallel(forced, tiny_cfg, BusConfig(3, 3, 0), tiny_tokenizer, rng)['texts']
             for _ in range(2)]
    assert sweep[2]['texts'] == texts
    assert sweep[2]['loss'] == pytest.approx(
        measure.heldout_measure(forced, tiny_cfg, BusConfig(2, 3, 0), tiny_tokenizer, groups[:2])['loss'])


# ---------------------------------------------------------------- the recorded reference run

@pytest.mark.slow
def test_reference_run_is_replicate(all_docs):
    from microdnb.reference import replicate
    docs = list(all_docs)
    run = reference.reference_run(seed=3, steps=4, snc_steps=2, docs=docs)
    params = replicate(seed=3, steps=4, snc_steps=2, engine='numpy', out=lambda line: None, docs=docs)
    for name, value in params.items():
        np.testing.assert_array_equal(run['params'][name], value)
    assert len(run['phase1']['loss']) == 4 and len(run['phase2']['gate']) == 2
    assert run['phase2']['gate'][-1] == vector.gate_value(params)
    shuffled, tokenizer = reference.setup(seed=3, docs=docs, engine=None)[:2]
    assert shuffled == run['docs'] and tokenizer.uchars == run['tokenizer'].uchars
    # the scalar engine records the same curves
    scalar = reference.reference_run(seed=3, steps=4, snc_steps=2, engine='scalar', docs=docs)
    np.testing.assert_allclose(scalar['phase1']['loss'], run['phase1']['loss'], atol=1e-9)
    np.testing.assert_allclose(scalar['phase2']['loss'], run['phase2']['loss'], atol=1e-9)


# ---------------------------------------------------------------- figures and frames

def test_figures_and_frames(open_model, tiny_cfg, tiny_tokenizer, groups):
    import matplotlib.pyplot as plt
    trace = vector.sample_parallel(vector.params_from(open_model), tiny_cfg, BusConfig(3, 2, 0),
                                   tiny_tokenizer,
                                   random.Random(0), record=True)
    rows, labels, weights = cross_attention.snc_attention_table(trace, 2)
    events = [e for e in trace['events'] if e['stream'] == 2]
    assert len(rows) == len(events)
    # each head's weights over the readable notes sum to one; unreadable cells are NaN
    np.testing.assert_allclose(np.nansum(weights, axis=-1), 1.0, atol=1e-12)
    for i, e in enumerate(events):
        assert (~np.isnan(weights[0, i])).sum() == len(e['notes'])
    with pytest.raises(ValueError, match='stream 5'):
        cross_attention.snc_attention_table(trace, 5)

    figs = [notes_bus.bus_figure([4, 3], 2, 0), cross_attention.snc_attention_figure(trace, 0, tiny_tokenizer),
            decoding.decode_figure(trace, tiny_tokenizer)]
    sweep = measure.gate_sweep(open_model, tiny_cfg, tiny_tokenizer, groups[:1], [0.1, 1.0], n_batches=1)
    figs.append(cross_attention.gate_frame(sweep, 1, tiny_tokenizer))
    for fig in figs:
        assert isinstance(fig, matplotlib.figure.Figure)
        plt.close(fig)


def test_decode_figure_counts_the_sequential_passes(open_model, tiny_cfg, tiny_tokenizer):
    """With the bus config, the figure's 'passes' row is measure.forward_passes round by round."""
    import matplotlib.pyplot as plt
    for lag in (0, 1):
        bcfg = BusConfig(3, 2, lag)
        trace = vector.sample_parallel(vector.params_from(open_model), tiny_cfg, bcfg, tiny_tokenizer,
                                       random.Random(1))
        lengths = [len(t) + (len(t) < trace["rounds"]) for t in trace["tokens"]]  # a stream cut at block_size has no end step
        assert sum(lengths) == trace["steps"]
        fig = decoding.decode_figure(trace, tiny_tokenizer, bcfg)
        passes = measure.forward_passes(lengths, bcfg.cadence, lag)
        title = fig.axes[0].get_title()
        assert f"{trace['rounds']} rounds" in title
        assert (f"{passes} passes" in title) if lag == 0 and passes > trace['rounds'] else 'one batched pass' in title
        assert f"{passes} in all" in fig.microdnb_alt
        plt.close(fig)
    with pytest.raises(ValueError, match='BusConfig'):
        decoding.decode_figure(trace, tiny_tokenizer, BusConfig(2, 2, 0))


def test_position_gain_error_bars_and_phase2_bounds():
    import matplotlib.pyplot as plt
    gains = {'notes': np.array([0.1, 0.0, -0.02]), 'plan_only': np.array([0.05, 0.01, 0.0])}
    errors = {'notes': np.array([0.01, 0.02, 0.03]), 'plan_only': np.array([0.01, 0.01, 0.01])}
    fig = cross_attention.position_gain_figure(np.arange(3), [3.0, 2.0, 1.0], [10, 9, 3], gains, errors)
    ax = fig.axes[1]
    # one error bar per bar, spanning gain +- error
    segments = [seg for c in ax.collections for seg in c.get_segments()]
    spans = sorted(round(float(abs(s[1][1] - s[0][1])) / 2, 9) for s in segments)
    assert spans == sorted(round(float(e), 9) for es in errors.values() for e in es)
    assert '± 1 SE over names' in fig.microdnb_alt
    with pytest.raises(ValueError, match='labels'):
        cross_attention.position_gain_figure(np.arange(3), [3.0, 2.0, 1.0], [10, 9, 3], gains, {'notes': errors['notes']})
    n = 60
    p2 = {'loss': list(2.4 + 0.1 * np.sin(np.arange(n))), 'gate': list(np.linspace(0.0067, 0.0087, n))}
    steady, most = np.linspace(0.0067, 0.014, n), np.linspace(0.0067, 0.056, n)
    fig = training.phase2_figure(p2, list(2.41 + 0.1 * np.sin(np.arange(n))), steady, gate_max=most)
    gate_ax = fig.axes[-1]
    assert gate_ax.get_yscale() == 'log' and len(gate_ax.lines) == 3
    np.testing.assert_allclose(gate_ax.lines[0].get_ydata(), most)
    # the printed lines: step 1 and every 50th
    dots = [l for l in fig.axes[0].lines if l.get_marker() == 'o']
    assert list(dots[0].get_xdata()) == [1, 50]
    plt.close('all')

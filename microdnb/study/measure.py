"""Measurements the book's part II makes on the Notes Bus and on trained models.

Bus bookkeeping (`bus_stats`, `forward_passes`) needs no model; `decoding_speed` times it.
The model measurements
(held-out loss under the control conditions of `controls`, the SNC delta's size, the plan
seeds) run on the numpy engine, on any engine's parameters (read with `vector.params_from`),
so a test can build a model with the scalar engine and check these numbers against its own
forward.
"""
import math
import random
import time

import numpy as np

from .. import vector
from ..bus import check_lengths, visibility
from ..config import REFERENCE_BUS, BusConfig, ModelConfig, check_float, check_int
from ..reference import N_STREAMS_INFER
from . import controls


# ---------------------------------------------------------------- the bus, without a model

def bus_stats(lengths, cadence, lag, ended=()):
    """What a cadence and a lag cost and buy, for streams running `lengths` positions
    (`ended` as in `bus.visibility`: streams that stop without posting at their last step).

    Returns a dict:
      posts       snapshots posted (plan seeds not counted)
      note_reads  notes read, summed over every step of every stream (SNC's work grows with it)
      mean_age    over every step and every other stream: how many rounds old the newest
                  note from that stream is (t - round it was posted after; a plan seed
                  counts as posted at round -1). 0 means "posted this same round".
    """
    lengths = check_lengths(lengths, 1)
    posts, reads = visibility(lengths, check_int(cadence, 'cadence', 1), check_int(lag, 'lag', 0), ended)
    n_streams = len(lengths)
    ages = []
    note_reads = 0
    for (s, t), labels in reads.items():
        note_reads += len(labels)
        for o in range(n_streams):
            if o == s:
                continue
            newest = max((-1 if r is None else r) for oi, r in labels if oi == o)
            ages.append(t - newest)
    return {'posts': sum(len(p) for p in posts), 'note_reads': note_reads,
            'mean_age': sum(ages) / len(ages) if ages else 0.0}


def forward_passes(lengths, cadence, lag):
    """How many forward passes, one after another, a parallel decode of streams running
    `lengths` positions needs when every pass that can be batched is batched: the blocks
    the numpy engine runs (`vector.round_passes`, batched wherever the read rule allows).

    lag >= 1: one pass per round (no stream reads its own round's posts).
    lag 0: in a round where nobody posts, every stream reads the same notes whatever
    the order, so the round is one pass; in a posting round, later streams read earlier
    streams' fresh notes, so the live streams go one at a time.
    """
    return sum(passes_per_round(lengths, cadence, lag))


def passes_per_round(lengths, cadence, lag):
    """The forward passes of each round that `forward_passes` counts, round by round."""
    lengths = check_lengths(lengths, 1)
    return vector.round_passes(BusConfig(n_streams=len(lengths), cadence=cadence, lag=lag), lengths)


# ---------------------------------------------------------------- what batching buys, in time

def decoding_speed(params, cfg, tokenizer, n_streams=(1, 2, 3, 4, 8), groups=20, repeats=5, cadence=3,
                   temperature=0.5, seed=0):
    """Wall-clock time of parallel decoding at lag 1 with every live stream of a round in one
    forward pass (batched), against the same decode with one stream at a time
    (`sample_parallel(..., batched=False)`, the reference's round-robin: one pass per stream
    per round). At lag 1 no stream reads a note of its own round, so both draw the same names
    (checked: a ValueError if not).

    For each number of streams N: `groups` decodes (random seeds seed, seed + 1, ...), timed
    with time.perf_counter, both ways, `repeats` times; within a repeat the two ways take turns
    decode by decode (which goes first alternates), so a change in the machine's load falls on
    both alike. Returns {N: {'batched': seconds per repeat (array), 'one_at_a_time': the same,
    'ratio': one_at_a_time / batched per repeat, 'passes': {'batched': rounds, 'one_at_a_time':
    token steps} (forward passes one after another over the groups, the plan seeds' one pass per
    decode not counted), 'steps': token steps, 'rounds': rounds}}.
    """
    n_streams = [check_int(n, 'n_streams', 1, 16) for n in n_streams]
    groups, repeats = check_int(groups, 'groups', 1), check_int(repeats, 'repeats', 1)
    arrays = vector.params_from(params)
    out = {}
    for n in n_streams:
        bcfg = BusConfig(n_streams=n, cadence=cadence, lag=1)
        times = {True: np.zeros(repeats), False: np.zeros(repeats)}
        steps = rounds = 0
        for r in range(repeats):
            for g in range(groups):
                texts = {}
                for batched in ((True, False) if (r + g) % 2 == 0 else (False, True)):
                    start = time.perf_counter()
                    trace = vector.sample_parallel(arrays, cfg, bcfg, tokenizer, random.Random(seed + g),
                                                   temperature, batched=batched)
                    times[batched][r] += time.perf_counter() - start
                    texts[batched] = trace['texts']
                if texts[True] != texts[False]:
                    raise ValueError(f"batched and one-at-a-time decoding drew different names ({n} streams, "
                                     f"seed {seed + g}): {texts[True]} against {texts[False]}")
                if r == 0:
                    steps, rounds = steps + trace['steps'], rounds + trace['rounds']
        out[n] = {'batched': times[True], 'one_at_a_time': times[False], 'ratio': times[False] / times[True],
                  'passes': {'batched': rounds, 'one_at_a_time': steps}, 'steps': steps, 'rounds': rounds}
    return out


# ---------------------------------------------------------------- how far Adam moves the gate

def adam_step_bound(tcfg):
    """The most one Adam step can move a parameter, in units of the learning rate:
    sup |m_hat| / sqrt(v_hat) over all gradient sequences.

    With m = (1 - b1) sum_k b1^k g_{t-k} and v = (1 - b2) sum_k b2^k g_{t-k}^2, Cauchy-Schwarz
    gives |m| <= (1 - b1) sqrt(v / (1 - b2)) sqrt(sum_k (b1^2 / b2)^k), and the bias
    corrections only lower the ratio, so the bound is
    (1 - b1) / sqrt(1 - b2) / sqrt(1 - b1^2 / b2), about 2.89 for b1 = 0.85, b2 = 0.99.
    A gradient growing by b2 / b1 every step approaches it. Infinite if b1^2 >= b2.
    """
    q = tcfg.beta1 ** 2 / tcfg.beta2
    if q >= 1:
        return math.inf
    return (1 - tcfg.beta1) / math.sqrt(1 - tcfg.beta2) / math.sqrt(1 - q)


def gate_reach(tcfg, gate_init=None):
    """How far Adam moves the gate logit in phase 2, from `gate_init` (default the model's).

    Adam's step is lr_t * m_hat / (sqrt(v_hat) + eps). A gradient of the same value at every
    step gives m_hat / sqrt(v_hat) = 1, so the logit moves by the sum of the lr_t: what a
    steady push achieves, not a ceiling. No gradient sequence moves it by more than
    `adam_step_bound` times that sum. Returns a dict: lr_sum, steady_logit, steady_gate,
    max_logit, max_gate (the gate is sigmoid of the logit).
    """
    bound = adam_step_bound(tcfg)
    gate_init = ModelConfig().gate_init if gate_init is None else check_float(gate_init, 'gate_init')
    total = sum(tcfg.snc_learning_rate * (1 - step / tcfg.snc_steps) for step in range(tcfg.snc_steps))
    steady, most = gate_init + total, gate_init + (bound * total if total else 0.0)
    return {'lr_sum': total, 'steady_logit': steady, 'steady_gate': 1.0 / (1.0 + math.exp(-steady)),
            'max_logit': most, 'max_gate': 1.0 / (1.0 + math.exp(-most))}


# ---------------------------------------------------------------- held-out measurements

def heldout_groups(docs, n_groups=200, group_size=2, tail=400):
    """Groups of consecutive names from the last `tail` names of `docs` (no training step
    of the reference reaches them: phase 1 uses docs[:1000], phase 2 docs[:600])."""
    n_groups = check_int(n_groups, 'n_groups', 1)
    group_size = check_int(group_size, 'group_size', 1)
    tail = check_int(tail, 'tail', 1)
    if n_groups * group_size > tail:
        raise ValueError(f"{n_groups} groups of {group_size} need {n_groups * group_size} names, "
                         f"more than the last {tail}; lower n_groups or raise tail")
    if tail > len(docs):
        raise ValueError(f"tail={tail} but there are only {len(docs)} names")
    pool = list(docs[-tail:])
    return [tuple(pool[g * group_size:(g + 1) * group_size]) for g in range(n_groups)]


def _token_groups(groups, tokenizer):
    if not groups or any(isinstance(g, str) or not g for g in groups):
        raise ValueError("groups must be a non-empty list of tuples of names (see heldout_groups)")
    return [[tokenizer.encode(name) for name in group] for group in groups]


def heldout_measure(params, cfg, bcfg, tokenizer, groups, condition='notes', ratios=False):
    """Decode each group's names together through the bus under `condition` (one of
    controls.CONDITIONS but 'repaired'), teacher-forced, with the numpy engine.

    Returns a dict: loss (mean per token over every token of every group), n_tokens,
    losses (per token: group by group, stream by stream), positions and groups (the
    position and the group index of each of those tokens); for 'shuffled' also fallbacks
    and dropped_notes (see controls.losses_under); with ratios=True ('notes' only) ratios: per
    token and layer that read at least one note, |SNC delta| / |residual it is added to|.
    """
    controls.check_condition(condition, tuple(c for c in controls.CONDITIONS if c != 'repaired'))
    if ratios and condition != 'notes':
        raise ValueError("ratios are measured with the notes as trained only (condition='notes')")
    params = vector.params_from(params)
    token_groups = _token_groups(groups, tokenizer)
    report, snc_ratios = {}, []
    if ratios:  # the bus as trained, and what SNC added to the residual at each token
        per_group = []
        for streams in token_groups:
            traces = vector.snc_trace(params, cfg, bcfg, streams)
            per_group.append([controls.next_token_losses(seq, t['log_probs']) for seq, t in zip(streams, traces)])
            ratio = [np.linalg.norm(t['snc_delta'], axis=-1) / np.linalg.norm(t['snc_input'], axis=-1)
                     for t in traces]  # (n_positions, n_layer) per stream
            for t in range(max(map(len, ratio))):  # in decoding order: position by position, stream by stream
                for r, trace in zip(ratio, traces):
                    if t < len(r) and trace['read'][t]:
                        snc_ratios.extend(r[t])
    else:
        per_group, report = controls.losses_under(params, cfg, bcfg, token_groups, condition, keys=groups)
    losses, positions, group_index = [], [], []
    for g, streams in enumerate(per_group):
        for nll in streams:
            losses.extend(nll)
            positions.extend(range(len(nll)))
            group_index.extend([g] * len(nll))
    losses = np.array(losses, dtype=float)
    out = {'loss': float(losses.sum() / len(losses)), 'n_tokens': len(losses), 'losses': losses,
           'positions': np.array(positions), 'groups': np.array(group_index), **report}
    if ratios:
        out['ratios'] = np.array(snc_ratios)
    return out


def with_gate(params, gate):
    """A copy of numpy `params` whose SNC gate is `gate` (0 < gate <= 1; 1 means the logit 40,
    where sigmoid is 1.0 in float64)."""
    gate = check_float(gate, 'gate', 0.0, 1.0, min_open=True)
    out = vector.params_from(params)
    out['snc_gate'][0, 0] = 40.0 if gate == 1 else math.log(gate / (1 - gate))
    return out


def plan_seeds(params, cfg, bcfg, tokenizer, groups):
    """Every plan seed any stream read while the groups were decoded, as rows of an array
    (taken off the bus through the engine's notes hook, not recomputed)."""
    params = vector.params_from(params)
    seeds = []

    def grab(reader, round_, labels, notes):
        seeds.extend(note.copy() for (_, r), note in zip(labels, notes) if r is None)
        return notes
    for streams in _token_groups(groups, tokenizer):
        vector.streams_log_probs(params, cfg, bcfg, streams, notes_hook=grab)
    return np.array(seeds)


def first_token_probs(params, cfg, bcfg, tokenizer, reader=0):
    """The model's distribution (temperature 1) of a name's first character, for stream
    `reader` of `bcfg.n_streams` streams that all start from BOS (at position 0 SNC can
    only read plan seeds), and for the trunk alone. Returns (with_bus, trunk) arrays."""
    params = vector.params_from(params)
    reader = check_int(reader, 'reader', 0, bcfg.n_streams - 1)
    empty = [tokenizer.BOS, tokenizer.BOS]
    logp = vector.streams_log_probs(params, cfg, bcfg, [empty] * bcfg.n_streams)[reader][0]
    logits, _ = vector.gpt_sequence(params, cfg, [tokenizer.BOS])
    return np.exp(logp), vector.softmax(logits[0])


def gate_sweep(params, cfg, tokenizer, groups, gates, loss_bus=REFERENCE_BUS, sample_bus=None,
               n_batches=5, seed=0, temperature=0.5):
    """Force the gate to each value of `gates` and measure, each time:

      loss, losses, ratios  held-out loss per token and SNC delta ratios on `groups`
                            (decoded with `loss_bus`, default the reference's training bus)
      first, trunk_first    first-character distribution of stream `reader` (the second
                            stream) of `n_streams` (and of the trunk)
      texts                 n_batches parallel decodes with `sample_bus` (default the
                            reference's inference: reference.N_STREAMS_INFER streams on its
                            bus), from random.Random(seed) afresh for every gate, so only
                            the gate differs.
    Numpy engine. Returns a list of dicts, one per gate, with gate, reader and n_streams set.
    """
    if sample_bus is None:
        sample_bus = BusConfig(n_streams=N_STREAMS_INFER, cadence=REFERENCE_BUS.cadence, lag=REFERENCE_BUS.lag)
    check_int(n_batches, 'n_batches', 1)
    if not gates:
        raise ValueError("gates is empty: give the gate values to try, e.g. [0.0087, 0.1, 1.0]")
    reader = min(1, sample_bus.n_streams - 1)
    out = []
    for gate in gates:
        forced = with_gate(params, gate)
        m = heldout_measure(forced, cfg, loss_bus, tokenizer, groups, 'notes', ratios=True)
        first, trunk_first = first_token_probs(forced, cfg, sample_bus, tokenizer, reader=reader)
        rng = random.Random(seed)
        texts = [vector.sample_parallel(forced, cfg, sample_bus, tokenizer, rng, temperature)['texts']
                 for _ in range(n_batches)]
        out.append(dict(m, gate=gate, first=first, trunk_first=trunk_first, texts=texts,
                        reader=reader, n_streams=sample_bus.n_streams))
    return out


# ---------------------------------------------------------------- held-out measurements, summarised

def loss_by_position(measure):
    """Mean loss at each position, from a `heldout_measure` result: (positions, means, counts)."""
    pos, losses = measure['positions'], measure['losses']
    ps = np.arange(pos.max() + 1)
    counts = np.bincount(pos, minlength=len(ps))
    sums = np.bincount(pos, weights=losses, minlength=len(ps))
    return ps, sums / np.maximum(counts, 1), counts


def group_losses(measure):
    """Mean loss per token of each group, from a `heldout_measure` result (what
    `train.streams_loss` reports for one group, e.g. one phase-2 step)."""
    g, losses = measure['groups'], measure['losses']
    return np.bincount(g, weights=losses) / np.bincount(g)

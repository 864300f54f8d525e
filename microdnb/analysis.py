"""Measurements the book's part II makes on the Notes Bus and on trained models.

Bus bookkeeping (`bus_stats`) needs no model. The model measurements (held-out loss
under controls, the SNC delta's size, the plan seeds) run on the numpy engine when
it is given numpy parameters and on the scalar engine when given `Value`s, so the
tests can check one against the other.
"""
import numpy as np

from .bus import visibility


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


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
    if isinstance(lengths, (str, bytes)) or not lengths or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in lengths):
        raise ValueError(f"lengths must be a non-empty list of integers >= 1, got {lengths!r}")
    _check_int(cadence, 'cadence', 1)
    _check_int(lag, 'lag', 0)
    posts, reads = visibility(list(lengths), cadence, lag, ended)
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


# ---------------------------------------------------------------- the reference run

def reference_docs(seed=42, docs=None):
    """The names in the order the reference trains on them (shuffled by random.Random(seed)),
    and the tokenizer built from them. docs=None loads the verified names.txt."""
    import random
    from .data import Tokenizer, load_docs
    docs = list(load_docs() if docs is None else docs)
    if not docs:
        raise ValueError("docs is empty: pass a list of names, or None to load names.txt")
    random.Random(seed).shuffle(docs)
    return docs, Tokenizer.from_docs(docs)


def reference_run(seed=42, steps=1000, snc_steps=300, engine='numpy', docs=None):
    """Train as `replicate.replicate` does (same seed, same draws, same parameters), recording
    the curves it only prints every 50 or 100 steps.

    Returns a dict: params (numpy arrays, or Values with engine='scalar'), cfg, tokenizer,
    docs (shuffled, as trained on), rng (the random.Random, where the reference's sampling
    starts), phase1 {'loss', 'lr'} and phase2 {'loss', 'lr', 'gate'} per step.
    """
    import random
    from .config import BusConfig, ModelConfig, TrainConfig
    from .data import Tokenizer, load_docs
    from .model import init_params
    from .replicate import BACKENDS
    if engine not in BACKENDS:
        raise ValueError(f"engine must be one of {sorted(BACKENDS)}, got {engine!r}")
    tcfg = TrainConfig(steps=steps, snc_steps=snc_steps)
    be = BACKENDS[engine]()
    rng = random.Random(seed)
    docs = list(load_docs() if docs is None else docs)
    rng.shuffle(docs)  # the same generator then draws the parameters, as in the reference
    tokenizer = Tokenizer.from_docs(docs)
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size)
    params = be['convert'](init_params(cfg, rng), cfg)
    phase1 = {'loss': [], 'lr': []}
    phase2 = {'loss': [], 'lr': [], 'gate': []}

    def record(curves):
        def callback(info):
            for key in curves:
                curves[key].append(info[key])
        return callback
    be['train_phase1'](params, cfg, tcfg, docs, tokenizer, callback=record(phase1))
    be['train_phase2'](params, cfg, tcfg, BusConfig(n_streams=2, cadence=3, lag=0), docs, tokenizer,
                       callback=record(phase2))
    return {'params': params, 'cfg': cfg, 'tokenizer': tokenizer, 'docs': docs, 'rng': rng,
            'phase1': phase1, 'phase2': phase2}


def gate_bound(tcfg, gate_init=None):
    """How far Adam can move the gate logit in phase 2, and the gate that would give.

    Adam's step is lr_t * m_hat / (sqrt(v_hat) + eps), and |m_hat| <= sqrt(v_hat) for a
    gradient of constant sign, so one step moves a parameter by at most about lr_t.
    Returns (sum of lr_t over the phase-2 steps, sigmoid(gate_init + that sum)).
    """
    import math
    from .config import ModelConfig, TrainConfig
    if not isinstance(tcfg, TrainConfig):
        raise ValueError(f"expected a TrainConfig, got {type(tcfg).__name__}")
    if gate_init is None:
        gate_init = ModelConfig().gate_init
    total = sum(tcfg.snc_learning_rate * (1 - step / tcfg.snc_steps) for step in range(tcfg.snc_steps))
    return total, 1.0 / (1.0 + math.exp(-(gate_init + total)))


# ---------------------------------------------------------------- held-out measurements

CONTROLS = ('trunk', 'full', 'masked', 'shuffled', 'plan_only')
CONTROL_DESCRIPTIONS = {
    'trunk': 'no SNC at all (every stream reads nothing)',
    'full': 'SNC reads the bus as in training',
    'masked': "the other streams' notes replaced by zeros (plan seeds kept)",
    'shuffled': 'each note replaced by the same note (stream, round) of two other names',
    'plan_only': 'only the plan seeds on the bus, no notes',
}


def heldout_groups(docs, n_groups=200, group_size=2, tail=400):
    """Groups of consecutive names from the last `tail` names of `docs` (no training step
    of the reference reaches them: phase 1 uses docs[:1000], phase 2 docs[:600])."""
    for value, name, minimum in ((n_groups, 'n_groups', 1), (group_size, 'group_size', 1),
                                 (tail, 'tail', 1)):
        _check_int(value, name, minimum)
    if n_groups * group_size > tail:
        raise ValueError(f"{n_groups} groups of {group_size} need {n_groups * group_size} names, "
                         f"more than the last {tail}; lower n_groups or raise tail")
    if tail > len(docs):
        raise ValueError(f"tail={tail} but there are only {len(docs)} names")
    pool = list(docs[-tail:])
    return [tuple(pool[g * group_size:(g + 1) * group_size]) for g in range(n_groups)]


def _np_params(params):
    """numpy parameters from numpy or scalar (Value) parameters."""
    from . import engine
    first = next(iter(params.values()))
    return engine.from_state_dict(params) if isinstance(first, list) else params


def _check_groups(groups, tokenizer):
    if not groups or any(isinstance(g, str) or not g for g in groups):
        raise ValueError("groups must be a non-empty list of tuples of names (see heldout_groups)")
    return [[tokenizer.encode(name) for name in group] for group in groups]


def _donors(groups, cfg):
    """For each group, another group of names to take shuffled notes from: for every stream,
    the next name in the pool (cyclically, skipping the group's own names) that runs at
    least as many positions, so every note the group reads exists in the donor's run."""
    pool = [name for group in groups for name in group]
    size = len(groups[0])
    positions = [min(cfg.block_size, len(n) + 1) for n in pool]
    donors = []
    for g, group in enumerate(groups):
        chosen = []
        for s, name in enumerate(group):
            start = g * size + s
            for k in range(1, len(pool)):
                j = (start + size * k) % len(pool)
                cand = pool[j]
                if positions[j] >= positions[start] and cand not in group and cand not in chosen:
                    chosen.append(cand)
                    break
            else:
                raise ValueError(f"no name in the pool is as long as {name!r} for the shuffled "
                                 f"control; use more groups")
        donors.append(tuple(chosen))
    return donors


def _hook(control, donor=None):
    """The engine's notes_hook for a control (None = read the bus unchanged)."""
    if control == 'full':
        return None
    if control == 'trunk':
        return lambda reader, round_, labels, notes: notes[:0]
    if control == 'plan_only':
        return lambda reader, round_, labels, notes: notes[[r is None for _, r in labels]]
    if control == 'masked':
        def masked(reader, round_, labels, notes):
            out = notes.copy()
            out[[r is not None for _, r in labels]] = 0.0
            return out
        return masked
    if control == 'shuffled':
        def shuffled(reader, round_, labels, notes):
            return np.array([donor[label] for label in labels]).reshape(len(labels), notes.shape[1])
        return shuffled
    raise ValueError(f"control must be one of {CONTROLS}, got {control!r}")


def _recorder(store):
    def hook(reader, round_, labels, notes):
        for label, note in zip(labels, notes):
            store[label] = note.copy()
        return notes
    return hook


def heldout_measure(params, cfg, bcfg, tokenizer, groups, control='full', ratios=False):
    """Decode each group's names together through the bus under `control` (see CONTROLS,
    CONTROL_DESCRIPTIONS), teacher-forced, with the numpy engine.

    Returns a dict: loss (mean per token over every token of every group), n_tokens,
    losses (per token: group by group, stream by stream), positions and groups (the
    position and the group index of each of those tokens) and, with ratios=True (full bus
    only), ratios: per token and layer that read at least one note, |SNC delta| / |residual
    it is added to|.
    """
    from . import engine
    if control not in CONTROLS:
        raise ValueError(f"control must be one of {CONTROLS}, got {control!r}")
    if ratios and control != 'full':
        raise ValueError("ratios are measured on the full bus only (control='full')")
    params = _np_params(params)
    token_groups = _check_groups(groups, tokenizer)
    donors = _donors(groups, cfg) if control == 'shuffled' else None
    losses, positions, group_index, snc_ratios = [], [], [], []
    for g, streams in enumerate(token_groups):
        if ratios:  # the full bus, and what SNC added to the residual at each token
            traces = engine.snc_trace(params, cfg, bcfg, streams)
            logps = [trace['log_probs'] for trace in traces]
            ratio = [np.linalg.norm(trace['snc_delta'], axis=-1) / np.linalg.norm(trace['snc_input'], axis=-1)
                     for trace in traces]  # (n_positions, n_layer) per stream
            for t in range(max(map(len, ratio))):  # in decoding order: position by position, stream by stream
                for r, trace in zip(ratio, traces):
                    if t < len(r) and trace['read'][t]:
                        snc_ratios.extend(r[t])
        else:
            donor = None
            if donors is not None:
                donor = {}  # label -> note, as the donor names' run put them on the bus
                engine.streams_log_probs(params, cfg, bcfg, [tokenizer.encode(n) for n in donors[g]],
                                         notes_hook=_recorder(donor))
            logps = engine.streams_log_probs(params, cfg, bcfg, streams, notes_hook=_hook(control, donor))
        for seq, logp in zip(streams, logps):
            losses.extend(-logp[np.arange(len(logp)), seq[1:len(logp) + 1]])
            positions.extend(range(len(logp)))
            group_index.extend([g] * len(logp))
    losses = np.array(losses, dtype=float)
    out = {'loss': float(losses.sum() / len(losses)), 'n_tokens': len(losses), 'losses': losses,
           'positions': np.array(positions), 'groups': np.array(group_index)}
    if ratios:
        out['ratios'] = np.array(snc_ratios)
    return out


def heldout_loss(params, cfg, bcfg, tokenizer, groups, control='full'):
    """Mean next-token loss per token of the groups under `control`. Returns (loss, n_tokens)."""
    m = heldout_measure(params, cfg, bcfg, tokenizer, groups, control)
    return m['loss'], m['n_tokens']


def control_losses(params, cfg, bcfg, tokenizer, groups, controls=CONTROLS):
    """{control: held-out loss per token} for several controls on the same groups."""
    return {c: heldout_loss(params, cfg, bcfg, tokenizer, groups, c)[0] for c in controls}


def with_gate(params, gate):
    """A copy of numpy `params` whose SNC gate is `gate` (0 < gate <= 1; 1 means the logit 40,
    where sigmoid is 1.0 in float64)."""
    import math
    if isinstance(gate, bool) or not isinstance(gate, (int, float)) or not 0 < gate <= 1:
        raise ValueError(f"gate must be a number in (0, 1], got {gate!r}")
    out = {k: v.copy() for k, v in _np_params(params).items()}
    out['snc_gate'][0, 0] = 40.0 if gate == 1 else math.log(gate / (1 - gate))
    return out


def snc_delta_ratios(params, cfg, bcfg, tokenizer, groups):
    """Per token and layer, |SNC delta| / |residual it is added to| over the groups (full bus)."""
    return heldout_measure(params, cfg, bcfg, tokenizer, groups, 'full', ratios=True)['ratios']


def plan_seeds(params, cfg, bcfg, tokenizer, groups):
    """Every plan seed any stream read while the groups were decoded, as rows of an array
    (taken off the bus through the engine's notes hook, not recomputed)."""
    from . import engine
    params = _np_params(params)
    seeds = []

    def grab(reader, round_, labels, notes):
        seeds.extend(note.copy() for (_, r), note in zip(labels, notes) if r is None)
        return notes
    for streams in _check_groups(groups, tokenizer):
        engine.streams_log_probs(params, cfg, bcfg, streams, notes_hook=grab)
    return np.array(seeds)


def duplicates(texts):
    """How many names in `texts` repeat a name already in `texts` (empty names included)."""
    seen, dup = set(), 0
    for t in texts:
        dup += t in seen
        seen.add(t)
    return dup


def first_token_probs(params, cfg, bcfg, tokenizer, reader=0):
    """The model's distribution (temperature 1) of a name's first character, for stream
    `reader` of `bcfg.n_streams` streams that all start from BOS (at position 0 SNC can
    only read plan seeds), and for the trunk alone. Returns (with_bus, trunk) arrays."""
    from . import engine
    from .np_layers import softmax
    params = _np_params(params)
    _check_int(reader, 'reader', 0)
    if reader >= bcfg.n_streams:
        raise ValueError(f"reader must be a stream in 0..{bcfg.n_streams - 1}, got {reader}")
    empty = [tokenizer.BOS, tokenizer.BOS]
    logp = engine.streams_log_probs(params, cfg, bcfg, [empty] * bcfg.n_streams)[reader][0]
    logits, _ = engine.gpt_sequence(params, cfg, [tokenizer.BOS])
    return np.exp(logp), softmax(logits[0])


def gate_sweep(params, cfg, tokenizer, groups, gates, loss_bus=None, sample_bus=None,
               n_batches=5, seed=0, temperature=0.5):
    """Force the gate to each value of `gates` and measure, each time:

      loss, losses, ratios  held-out loss per token and SNC delta ratios on `groups`
                            (decoded with `loss_bus`, default the training setting: 2 streams)
      first, trunk_first    first-character distribution of stream 1 (and of the trunk)
      texts                 n_batches parallel decodes with `sample_bus` (default the
                            reference's inference: 3 streams), from random.Random(seed)
                            afresh for every gate, so only the gate differs.
    Numpy engine. Returns a list of dicts, one per gate, with 'gate' set.
    """
    import random

    from . import engine
    from .config import BusConfig
    loss_bus = loss_bus or BusConfig(n_streams=2, cadence=3, lag=0)
    sample_bus = sample_bus or BusConfig(n_streams=3, cadence=3, lag=0)
    _check_int(n_batches, 'n_batches', 1)
    if not gates:
        raise ValueError("gates is empty: give the gate values to try, e.g. [0.0087, 0.1, 1.0]")
    out = []
    for gate in gates:
        forced = with_gate(params, gate)
        m = heldout_measure(forced, cfg, loss_bus, tokenizer, groups, 'full', ratios=True)
        first, trunk_first = first_token_probs(forced, cfg, sample_bus, tokenizer,
                                               reader=min(1, sample_bus.n_streams - 1))
        rng = random.Random(seed)
        texts = [engine.sample_parallel(forced, cfg, sample_bus, tokenizer, rng, temperature)['texts']
                 for _ in range(n_batches)]
        out.append(dict(m, gate=gate, first=first, trunk_first=trunk_first, texts=texts))
    return out


def paired_difference(a, b):
    """Mean of a - b over paired per-token losses, and its standard error (the spread of
    the differences / sqrt(n)): is a difference between two controls bigger than noise?"""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"need two 1-D arrays of the same length >= 2, got shapes {a.shape}, {b.shape}")
    d = a - b
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


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


def forward_passes(lengths, cadence, lag):
    """How many forward passes, one after another, a parallel decode of streams running
    `lengths` positions needs when every pass that can be batched is batched.

    lag >= 1: one pass per round (no stream reads its own round's posts).
    lag 0: in a round where nobody posts, every stream reads the same notes whatever
    the order, so the round is one pass; in a posting round, later streams read earlier
    streams' fresh notes, so the live streams go one at a time.
    """
    from .bus import emits
    if isinstance(lengths, (str, bytes)) or not lengths or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in lengths):
        raise ValueError(f"lengths must be a non-empty list of integers >= 1, got {lengths!r}")
    _check_int(cadence, 'cadence', 1)
    _check_int(lag, 'lag', 0)
    passes = 0
    for t in range(max(lengths)):
        live = sum(1 for n in lengths if t < n)
        passes += live if (lag == 0 and emits(t, cadence) and live > 1) else 1
    return passes

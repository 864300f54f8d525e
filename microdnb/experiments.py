"""Experiments: does the Notes Bus help when the streams have something to share?

For each seed: train a trunk once (phase 1), then train SNC + planner (phase 2, trunk
frozen) on a coordination task (see `tasks`) under several bus settings, and measure
on held-out names, which no training step saw:

* the held-out loss per token with the notes, and under five controls (CONDITIONS);
* the gate's trajectory during training, and how large SNC's delta ends up;
* a task metric on sampled groups (copied names, real joined names, duplicates);
* sweeps of cadence, lag and number of streams; rounds versus token steps.

`run(settings)` does it all and returns a JSON-able dict; `save_results` / `load_results`
write and read it; the `plot_*` and `*_table` functions draw the book's figures from it.
Everything runs on the numpy engine and is deterministic in the seeds.
"""
import json
import math
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__, engine, tasks
from .analysis import forward_passes
from .config import BusConfig, ModelConfig, TrainConfig
from .data import Tokenizer, load_docs, names_path, sha256_of
from .fileio import atomic_write

FORMAT = 'microdnb-experiments-v1'

CONDITIONS = ('notes', 'masked', 'shuffled', 'repaired', 'plan_only')
CONDITION_DESCRIPTIONS = {
    'notes': 'the bus as in training',
    'masked': 'every note, plan seeds included, replaced by zeros: the SNC delta is exactly 0 (the trunk alone)',
    'shuffled': "each note replaced by the note with the same (stream, round) from another group's run",
    'repaired': 'each stream decoded beside partners taken from other groups',
    'plan_only': 'only the plan seeds on the bus (the notes posted at the cadence removed)',
}
# phase-2 training variants: 'notes' is the task itself; the other two are trained controls
TRAININGS = ('notes', 'repaired', 'plan_only')


# ----------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class Settings:
    """What `run` does. The defaults are the full run; QUICK is the one-minute version."""
    seeds: tuple = (0, 1, 2)
    trunk_steps: int = 1000            # phase 1, the reference's
    snc_steps: int = 2000              # phase 2, our schedule ...
    snc_learning_rate: float = 0.01
    ref_snc_steps: int = 300           # ... and the reference's
    ref_snc_learning_rate: float = 0.005
    n_heldout: int = 2000              # the last names of the shuffled list: never trained on
    min_heldout_len: int = 4           # held-out names this long can be split into 4 pieces
    n_eval_groups: int = 200
    n_sample_groups: int = 100
    temperature: float = 0.5
    n_streams: int = 2                 # the main bus setting ...
    cadence: int = 1
    lag: int = 0
    cadences: tuple = (1, 2, 3, 6)     # ... and the sweeps around it
    lags: tuple = (0, 1, 2)
    streams: tuple = (2, 3, 4)
    scan_steps: tuple = (4000,)        # copy task, main setting: other phase-2 lengths (our lr) ...
    scan_learning_rates: tuple = (0.02,)  # ... other learning rates (our length) ...
    gate_inits: tuple = (0.0,)         # ... and other initial gate logits (our schedule)
    gate_every: int = 10               # record the gate every this many phase-2 steps

    def __post_init__(self):
        def number(v, positive):
            return (not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
                    and (v > 0 or not positive))
        for f in fields(self):
            name, value = f.name, getattr(self, f.name)
            if f.type is tuple:
                value = tuple(value)
                object.__setattr__(self, name, value)
            if name in ('seeds', 'cadences', 'lags', 'streams'):  # non-empty, distinct integers
                low = 1 if name in ('cadences', 'streams') else 0
                if not value or any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in value):
                    raise ValueError(f"Settings.{name} must be a non-empty list of integers >= {low}, "
                                     f"got {value!r}")
                if len(set(value)) != len(value):
                    raise ValueError(f"Settings.{name} has repeated values: {value!r}")
            elif name == 'scan_steps':  # the scans may be empty
                if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
                    raise ValueError(f"Settings.scan_steps must be integers >= 1, got {value!r}")
            elif name in ('scan_learning_rates', 'gate_inits'):
                if not all(number(v, positive=name != 'gate_inits') for v in value):
                    raise ValueError(f"Settings.{name} must be finite numbers"
                                     f"{' > 0' if name != 'gate_inits' else ''}, got {value!r}")
            elif name in ('snc_learning_rate', 'ref_snc_learning_rate', 'temperature'):
                if not number(value, positive=True):
                    raise ValueError(f"Settings.{name} must be a finite number > 0, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == 'lag' else 1):
                raise ValueError(f"Settings.{name} must be an integer >= {0 if name == 'lag' else 1}, "
                                 f"got {value!r}")
        if self.min_heldout_len < max(self.streams):
            raise ValueError(f"Settings.min_heldout_len ({self.min_heldout_len}) must be >= the largest "
                             f"number of streams ({max(self.streams)}), or the split task cannot use the names")
        for name, main, sweep in (('cadence', self.cadence, self.cadences), ('lag', self.lag, self.lags),
                                  ('n_streams', self.n_streams, self.streams)):
            if main not in sweep:
                raise ValueError(f"Settings.{name}={main} must be one of the swept values {sweep}")


QUICK = Settings(seeds=(0,), snc_steps=300, n_eval_groups=40, n_sample_groups=16,
                 scan_steps=(), scan_learning_rates=(), gate_inits=(),
                 cadences=(1, 3), lags=(0, 1), streams=(2, 3))


def schedule_name(steps, learning_rate):
    """How a scanned schedule is named: '4000@0.01' (phase-2 steps @ initial learning rate)."""
    return f"{steps}@{learning_rate:g}"


def schedule(settings, name):
    """The phase-2 TrainConfig of schedule 'ours', 'reference', or 'STEPS@LR' (see schedule_name)."""
    if isinstance(name, str) and '@' in name:
        steps, lr = name.split('@', 1)
        try:
            return TrainConfig(steps=settings.trunk_steps, snc_steps=int(steps), snc_learning_rate=float(lr))
        except ValueError:
            raise ValueError(f"schedule {name!r} is not STEPS@LEARNING_RATE, e.g. '4000@0.01'") from None
    if name == 'ours':
        return TrainConfig(steps=settings.trunk_steps, snc_steps=settings.snc_steps,
                           snc_learning_rate=settings.snc_learning_rate)
    if name == 'reference':
        return TrainConfig(steps=settings.trunk_steps, snc_steps=settings.ref_snc_steps,
                           snc_learning_rate=settings.ref_snc_learning_rate)
    raise ValueError(f"schedule must be 'ours', 'reference' or 'STEPS@LR', got {name!r}")


def plan_runs(settings):
    """The phase-2 runs of one seed, in order: dicts of task, bus, schedule, training, what to measure.

    Every task at the main bus setting with both schedules (all controls, sampled metric);
    split and copy also with the two trained controls; copy swept over cadence, lag and
    streams, split over streams at lag 0 and at lag 1 (rounds versus token steps), each one
    change from the main;
    copy with other phase-2 lengths, learning rates and initial gate logits.
    """
    s = settings
    runs = []

    def add(task, n_streams=s.n_streams, cadence=s.cadence, lag=s.lag, sched='ours', train='notes',
            evals=('notes', 'masked', 'shuffled'), sample=False, gate_init=None):
        runs.append({'task': task, 'n_streams': n_streams, 'cadence': cadence, 'lag': lag,
                     'schedule': sched, 'train': train, 'evals': list(evals), 'sample': sample,
                     'gate_init': gate_init})
    for task in tasks.TASKS:
        add(task, evals=CONDITIONS, sample=True)
        add(task, sched='reference', evals=CONDITIONS)
    for task in ('split', 'copy'):
        add(task, train='repaired', evals=('notes', 'masked'))
        add(task, train='plan_only', evals=('plan_only', 'masked'))
    for c in s.cadences:
        if c != s.cadence:
            add('copy', cadence=c)
    for lag in s.lags:
        if lag != s.lag:
            add('copy', lag=lag)
    for k in s.streams:
        if k != s.n_streams:
            add('split', n_streams=k)
            add('copy', n_streams=k)
    if 1 in s.lags and s.lag != 1:  # split again with the lag that lets a round run as one batch
        for k in s.streams:
            add('split', n_streams=k, lag=1)
    for steps in s.scan_steps:
        add('copy', sched=schedule_name(steps, s.snc_learning_rate))
    for lr in s.scan_learning_rates:
        add('copy', sched=schedule_name(s.snc_steps, lr))
    for g in s.gate_inits:
        add('copy', gate_init=g)
    return runs


# ----------------------------------------------------------------------------- controls

def mask_hook(reader, round_, labels, notes):
    """Every note zero. SNC's keys and values have no bias, so zero notes give zero values
    and the attention-weighted sum, hence the delta, is exactly zero."""
    return np.zeros_like(notes)


def plan_only_hook(reader, round_, labels, notes):
    """Keep only the plan seeds (round None): drop every note posted at the cadence."""
    return notes[np.array([r is None for _, r in labels], dtype=bool)]


def recorder(store):
    """A hook that changes nothing and records every note read into store[(stream, round)]."""
    def hook(reader, round_, labels, notes):
        for label, note in zip(labels, notes):
            store[label] = note.copy()
        return notes
    return hook


def donor_hook(donor_notes, notes_dim):
    """Read, for each label (stream, round), the note with that label from another group's
    run (recorded with `recorder`); labels the donor never posted are dropped."""
    def hook(reader, round_, labels, notes):
        rows = [donor_notes[label] for label in labels if label in donor_notes]
        return np.array(rows, dtype=np.float64).reshape(len(rows), notes_dim)
    return hook


def choose_donors(token_groups, names):
    """For each group, another group to take shuffled notes from: the next one (cyclically)
    whose streams all run at least as many positions and write a different text, so every
    note the group reads exists in the donor's run. Falls back to the next group."""
    n = len(token_groups)
    lengths = [[len(t) for t in g] for g in token_groups]
    donors = []
    for g in range(n):
        for step in range(1, n):
            h = (g + step) % n
            if names[h] != names[g] and all(a >= b for a, b in zip(lengths[h], lengths[g])):
                donors.append(h)
                break
        else:
            donors.append((g + 1) % n)
    return donors


def token_losses(params, cfg, bcfg, streams, hook=None):
    """Per stream, the next-token losses (nats), one per position, of a teacher-forced decode
    of the token lists `streams` through the bus (`hook` as the engine's notes_hook)."""
    out = []
    for seq, logp in zip(streams, engine.streams_log_probs(params, cfg, bcfg, streams, notes_hook=hook)):
        targets = np.asarray(seq[1:len(logp) + 1])
        out.append(-logp[np.arange(len(logp)), targets])
    return out


def evaluate(params, cfg, bcfg, token_groups, condition, names=None, repaired_groups=None):
    """Held-out loss of `token_groups` under `condition` (see CONDITION_DESCRIPTIONS).

    names: one string per group, to pick shuffled-note donors that write something else.
    repaired_groups: for 'repaired', the re-paired token groups (same streams, other partners).
    Returns {'loss' (mean per token), 'by_stream' (mean per token of each stream),
    'nats_per_group', 'n_tokens'}.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    if not token_groups:
        raise ValueError("token_groups is empty: nothing to evaluate")
    k = len(token_groups[0])
    groups, hooks = token_groups, [None] * len(token_groups)
    if condition == 'masked':
        hooks = [mask_hook] * len(groups)
    elif condition == 'plan_only':
        hooks = [plan_only_hook] * len(groups)
    elif condition == 'repaired':
        if repaired_groups is None or len(repaired_groups) != len(token_groups):
            raise ValueError("the 'repaired' condition needs repaired_groups, one per group")
        groups = repaired_groups
    elif condition == 'shuffled':
        donors = choose_donors(token_groups, names if names is not None else list(range(len(groups))))
        hooks = []
        for h in donors:
            store = {}
            token_losses(params, cfg, bcfg, token_groups[h], recorder(store))
            hooks.append(donor_hook(store, cfg.notes_dim))
    sums, counts = np.zeros(k), np.zeros(k)
    for streams, hook in zip(groups, hooks):
        for s, nll in enumerate(token_losses(params, cfg, bcfg, streams, hook)):
            sums[s] += nll.sum()
            counts[s] += len(nll)
    return {'loss': float(sums.sum() / counts.sum()), 'by_stream': (sums / counts).tolist(),
            'nats_per_group': float(sums.sum() / len(groups)), 'n_tokens': int(counts.sum())}


def snc_delta_norm(task, params, cfg, bcfg, tokenizer, groups, rng, temperature):
    """Mean length |SNC delta| of what SNC adds to the residual stream, over every decoding
    step that read at least one note, when the groups are sampled (with their prompts).

    The gate is only one factor of SNC's output; this measures the output itself, so that
    a gate that barely moves can be told apart from an SNC that does nothing.
    """
    norms = []
    for g in groups:
        trace = engine.sample_parallel(params, cfg, bcfg, tokenizer, rng, temperature, record=True,
                                       first_tokens=tasks.first_tokens(task, g, tokenizer))
        for event in trace['events']:
            if event['notes']:
                norms.extend(float(np.linalg.norm(d)) for d in event['snc_delta'])
    return float(np.mean(norms)) if norms else 0.0


# ----------------------------------------------------------------------------- sampling

def sample_groups(task, params, cfg, bcfg, tokenizer, groups, rng, temperature, hook=None):
    """Sample one parallel decode per group (prompted as the task says), drawing from `rng`
    (a random.Random). Returns the texts each stream wrote (prompt included), the rounds
    and the token steps of each decode."""
    if not isinstance(rng, random.Random):
        raise ValueError(f"rng must be a random.Random, got {type(rng).__name__}")
    out = []
    for g in groups:
        trace = engine.sample_parallel(params, cfg, bcfg, tokenizer, rng, temperature,
                                       first_tokens=tasks.first_tokens(task, g, tokenizer), notes_hook=hook)
        out.append({'texts': tasks.written_texts(task, g, trace['texts']),
                    'rounds': trace['rounds'], 'steps': trace['steps']})
    return out


def task_metric(task, samples, known_names):
    """What the task asks for, measured on sampled groups:

    copied      followers that wrote exactly the leader's name (copy)
    first       followers whose first letter is the leader's (copy)
    same_chars  characters equal to the leader's at the same place, over the longer name (copy)
    real        groups whose joined text is a name of the dataset (split), or names
                that are (independent)
    duplicates  groups in which two streams wrote the same text (independent)
    """
    known = set(known_names)
    if task == 'copy':
        pairs = [(s['texts'][0], t) for s in samples for t in s['texts'][1:]]
        return {'copied': float(np.mean([a == b for a, b in pairs])),
                'first': float(np.mean([a[:1] == b[:1] for a, b in pairs])),
                'same_chars': float(np.mean([sum(x == y for x, y in zip(a, b)) / max(len(a), len(b), 1)
                                             for a, b in pairs]))}
    if task == 'split':
        return {'real': float(np.mean([''.join(s['texts']) in known for s in samples]))}
    return {'real': float(np.mean([t in known for s in samples for t in s['texts']])),
            'duplicates': float(np.mean([len(set(s['texts'])) < len(s['texts']) for s in samples]))}


# ----------------------------------------------------------------------------- one seed

class SeedState:
    """What every run of one seed shares: the data split, the tokenizer, the trained trunk.

    Making one shuffles `docs` with random.Random(seed) (the reference's order), keeps the
    last `settings.n_heldout` names out of every training step and trains the trunk.
    """

    def __init__(self, settings, seed, docs, progress=None):
        if not isinstance(settings, Settings):
            raise ValueError(f"expected a Settings, got {type(settings).__name__}")
        progress = progress or (lambda line: None)
        t0 = time.perf_counter()
        self.settings, self.seed = settings, seed
        rng = random.Random(seed)
        docs = list(docs)
        rng.shuffle(docs)  # the reference's order: shuffle, then draw the parameters
        if settings.n_heldout >= len(docs):
            raise ValueError(f"n_heldout={settings.n_heldout} leaves no names to train on ({len(docs)} names)")
        self.all_names = docs
        self.train_names = docs[:-settings.n_heldout]
        self.heldout = docs[-settings.n_heldout:]
        self.eval_names = [n for n in self.heldout if len(n) >= settings.min_heldout_len]
        self.tokenizer = Tokenizer.from_docs(docs)
        self.cfg = ModelConfig(vocab_size=self.tokenizer.vocab_size)
        self.trunk = engine.init_params(self.cfg, rng)
        engine.train_phase1(self.trunk, self.cfg, schedule(settings, 'ours'), self.train_names, self.tokenizer)
        self.trunk_seconds = time.perf_counter() - t0
        progress(f"[seed {seed}] trunk trained ({settings.trunk_steps} steps) in {self.trunk_seconds:.1f} s")

    def spec(self, task, n_streams=None, cadence=None, lag=None, schedule='ours', train='notes'):
        """A run description as `plan_runs` makes them (main bus setting unless given)."""
        s = self.settings
        return {'task': task, 'n_streams': s.n_streams if n_streams is None else n_streams,
                'cadence': s.cadence if cadence is None else cadence, 'lag': s.lag if lag is None else lag,
                'schedule': schedule, 'train': train, 'evals': ['notes', 'masked'], 'sample': False,
                'gate_init': None}

    def rng(self, *parts):
        # string seeds are hashed with SHA-512 by random.Random: stable across runs and machines
        return random.Random(':'.join(map(str, (self.seed,) + parts)))

    def eval_groups(self, task, k):
        # the same held-out names for every k (one rng per task), so sweeps compare like with like
        groups = tasks.make_groups(task, self.eval_names, k, self.settings.n_eval_groups, self.rng(task, 'eval'))
        return groups, [tasks.encode_group(task, g, self.tokenizer) for g in groups]

    def train(self, spec, callback=None):
        """Phase 2 of `spec` from this seed's trunk. Returns (params, gate_steps, gate_values).

        callback(info, params) is called after every step (e.g. to keep copies of params).
        """
        s, tok, cfg = self.settings, self.tokenizer, self.cfg
        task, k = spec['task'], spec['n_streams']
        if spec['train'] not in TRAININGS:
            raise ValueError(f"train must be one of {TRAININGS}, got {spec['train']!r}")
        bcfg = BusConfig(n_streams=k, cadence=spec['cadence'], lag=spec['lag'])
        tcfg = schedule(s, spec['schedule'])
        train_groups = tasks.make_groups(task, self.train_names, k, tcfg.snc_steps, self.rng(task, k, 'train'))
        if spec['train'] == 'repaired':
            train_groups = tasks.repair(train_groups, self.rng(task, k, 'train-repair'))
        train_tokens = [tasks.encode_group(task, g, tok) for g in train_groups]
        params = {name: arr.copy() for name, arr in self.trunk.items()}
        if spec.get('gate_init') is not None:  # the trunk draws no random number for the gate
            params['snc_gate'][0, 0] = float(spec['gate_init'])
        gate_steps, gate_values = [0], [engine.gate_value(params)]

        def on_step(info):
            if (info['step'] + 1) % s.gate_every == 0 or info['step'] + 1 == info['num_steps']:
                gate_steps.append(info['step'] + 1)
                gate_values.append(info['gate'])
            if callback is not None:
                callback(info, params)
        engine.train_phase2(params, cfg, tcfg, bcfg, None, tok, callback=on_step,
                            groups_fn=lambda step: train_tokens[step],
                            notes_hook=plan_only_hook if spec['train'] == 'plan_only' else None)
        return params, gate_steps, gate_values

    def run(self, spec):
        """Train `spec` and measure it (losses under spec['evals'], gate, rounds, and with
        spec['sample'] the sampled task metric and SNC's output size). Returns a dict."""
        s, tok, cfg = self.settings, self.tokenizer, self.cfg
        task, k = spec['task'], spec['n_streams']
        bcfg = BusConfig(n_streams=k, cadence=spec['cadence'], lag=spec['lag'])
        tcfg = schedule(s, spec['schedule'])
        groups, token_groups = self.eval_groups(task, k)
        sample = groups[:s.n_sample_groups]
        if spec['sample']:  # SNC's output before phase 2, to compare with after
            delta_before = snc_delta_norm(task, self.trunk, cfg, bcfg, tok, sample, self.rng(task, k, 'delta'),
                                          s.temperature)
        t0 = time.perf_counter()
        params, gate_steps, gate_values = self.train(spec)
        train_seconds = time.perf_counter() - t0

        repaired = [tasks.encode_group(task, g, tok)
                    for g in tasks.repair(groups, self.rng(task, k, 'eval-repair'))]
        names = [''.join(g) for g in groups]
        loss = {c: evaluate(params, cfg, bcfg, token_groups, c, names, repaired) for c in spec['evals']}
        positions = [[len(t) - 1 for t in g] for g in token_groups]
        result = dict(
            seed=self.seed, task=task, n_streams=k, cadence=bcfg.cadence, lag=bcfg.lag,
            schedule=spec['schedule'], train=spec['train'], snc_steps=tcfg.snc_steps,
            snc_learning_rate=tcfg.snc_learning_rate,
            gate_init=cfg.gate_init if spec.get('gate_init') is None else float(spec['gate_init']),
            gate={'steps': gate_steps, 'values': gate_values},
            final_gate=engine.gate_value(params), gate_logit=float(params['snc_gate'][0, 0]),
            loss=loss,
            rounds=float(np.mean([max(p) for p in positions])),
            token_steps=float(np.mean([sum(p) for p in positions])),
            # forward passes one after another when every pass the read rule allows is batched
            passes=float(np.mean([forward_passes(p, bcfg.cadence, bcfg.lag) for p in positions])),
        )
        if task == 'split':  # the same names written by one stream, one token after another
            nats = [_seq_nats(engine.gpt_sequence(params, cfg, tok.encode(n)[:-1])[0], tok.encode(n)[1:])
                    for n in names]
            result['sequential'] = {'nats_per_group': float(np.mean(nats)),
                                    'token_steps': float(np.mean([len(n) + 1 for n in names]))}
        if spec['sample']:
            result['delta_norm'] = {'before': delta_before, 'after': snc_delta_norm(
                task, params, cfg, bcfg, tok, sample, self.rng(task, k, 'delta'), s.temperature)}
            result['samples'] = {}
            for c, hook in (('notes', None), ('masked', mask_hook), ('plan_only', plan_only_hook)):
                got = sample_groups(task, params, cfg, bcfg, tok, sample, self.rng(task, k, 'sample'),
                                    s.temperature, hook)
                result['samples'][c] = dict(task_metric(task, got, self.all_names),
                                            examples=[g['texts'] for g in got[:6]])
        result['seconds'] = time.perf_counter() - t0
        result['train_seconds'] = train_seconds
        return result


def _seq_nats(logits, targets):
    """Summed next-token loss of one sequence from its logits (n, vocab)."""
    from .np_layers import log_softmax
    logp = log_softmax(logits)
    return float(-logp[np.arange(len(targets)), targets].sum())


def run_label(spec):
    """A short readable name of a run: 'copy k2 c1 l0 ours (trained: notes)'."""
    return (f"{spec['task']} k{spec['n_streams']} c{spec['cadence']} l{spec['lag']} {spec['schedule']}"
            + ('' if spec.get('gate_init') is None else f" gate0 {spec['gate_init']:g}")
            + ('' if spec['train'] == 'notes' else f" (trained: {spec['train']})"))


def _run_chunk(settings, seed, docs, indices, progress):
    """Train seed `seed`'s trunk and do the runs plan_runs(settings)[i] for i in `indices`."""
    state = SeedState(settings, seed, docs, progress)
    specs = plan_runs(settings)
    out = []
    for i in indices:
        r = state.run(specs[i])
        main = 'notes' if 'notes' in r['loss'] else 'plan_only'
        progress(f"[seed {seed}] run {i + 1:2d}/{len(specs)} {run_label(specs[i]):42s} | "
                 f"loss {r['loss'][main]['loss']:.4f} ({main}) vs {r['loss']['masked']['loss']:.4f} (masked) | "
                 f"gate {r['final_gate']:.4f} | {r['seconds']:.1f} s")
        out.append((i, r))
    return {'seed': seed, 'trunk_seconds': state.trunk_seconds, 'n_train_names': len(state.train_names),
            'n_eval_names': len(state.eval_names), 'runs': out}


def _chunk_worker(args):
    settings, seed, docs, indices = args
    return _run_chunk(settings, seed, docs, indices, lambda line: print(line, file=sys.stderr, flush=True))


def run(settings=Settings(), docs=None, progress=None, jobs=1, argv=None):
    """Run every seed's experiments (`plan_runs`) and return the results dict (see FORMAT).

    docs: the names (default: the verified names.txt). progress(line) is called with a line
    per trunk and per run (default: print to stderr). jobs > 1 shares the runs out among
    that many processes (each retrains the seed's trunk it needs, about a second); the
    results do not depend on it.
    """
    if not isinstance(settings, Settings):
        raise ValueError(f"expected a Settings, got {type(settings).__name__}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    data_sha = None
    if docs is None:
        path = names_path()
        data_sha = sha256_of(path)
        docs = load_docs(path)
    docs = list(docs)
    n_runs = len(plan_runs(settings))
    progress(f"[experiment] {len(settings.seeds)} seed(s) x {n_runs} phase-2 runs, jobs={jobs}")
    if jobs == 1:
        chunks = [_run_chunk(settings, seed, docs, range(n_runs), progress) for seed in settings.seeds]
    else:
        import multiprocessing as mp
        # every seed's runs dealt out into `jobs` interleaved chunks, so the work stays balanced
        work = [(settings, seed, docs, list(range(n_runs))[j::jobs])
                for seed in settings.seeds for j in range(jobs)]
        with mp.get_context('spawn').Pool(min(jobs, len(work))) as pool:
            chunks = pool.map(_chunk_worker, work, chunksize=1)
    seeds, runs = {}, []
    for c in chunks:
        seeds.setdefault(c['seed'], {k: v for k, v in c.items() if k != 'runs'})
        runs.extend((c['seed'], i, r) for i, r in c['runs'])
    wall = time.perf_counter() - t0
    progress(f"[experiment] done in {wall:.0f} s")
    return {
        'format': FORMAT,
        'provenance': provenance(argv, wall, data_sha, jobs),
        'settings': _jsonable(asdict(settings)),
        'seeds': [seeds[s] for s in settings.seeds],
        'runs': [r for _, _, r in sorted(runs, key=lambda x: (settings.seeds.index(x[0]), x[1]))],
    }


# ----------------------------------------------------------------------------- results file

def _git_commit():
    repo = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(['git', '-C', str(repo), 'rev-parse', 'HEAD'], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(['git', '-C', str(repo), 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return commit, bool(dirty)
    except (OSError, subprocess.SubprocessError):
        return None, None


def provenance(argv, wall_seconds, data_sha=None, jobs=1):
    """Who made a results file and how: command line, git commit, versions, date, wall time."""
    commit, dirty = _git_commit()
    return {
        'command': 'python -m microdnb ' + ' '.join(argv) if argv is not None else None,
        'git_commit': commit, 'git_dirty': dirty,
        'microdnb_version': __version__,
        'python': sys.version.split()[0], 'numpy': np.__version__,
        'date_utc': datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC'),
        'wall_seconds': round(wall_seconds, 1), 'jobs': jobs,
        'cpu_count': os.cpu_count(), 'names_sha256': data_sha,
    }


def _jsonable(x, digits=6):
    """Plain JSON types, floats rounded to `digits` significant digits (keeps the file small)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v, digits) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if not math.isfinite(x):
            raise ValueError(f"refusing to write a non-finite number ({x}) to the results file")
        return float(f"{x:.{digits}g}")
    return x


def save_results(results, path):
    """Write `results` to `path` as JSON, atomically (a temporary file, then a rename)."""
    if not isinstance(results, dict) or results.get('format') != FORMAT:
        raise ValueError(f"results must be a dict made by experiments.run (format {FORMAT})")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give a file name such as {path / 'experiments.json'}")
    text = json.dumps(_jsonable(results), indent=1, sort_keys=False)
    return atomic_write(path, lambda f: f.write(text + '\n'))


def load_results(path):
    """Read a results file written by `save_results`, checking its format and fields."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; make it with "
                                f"`python -m microdnb experiment --out {path}`")
    try:
        with open(path) as f:
            results = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); re-run `python -m microdnb experiment`") from None
    if not isinstance(results, dict) or results.get('format') != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} file")
    for key in ('provenance', 'settings', 'seeds', 'runs'):
        if key not in results:
            raise ValueError(f"{path} has no {key!r}: it is incomplete; re-run the experiment")
    for r in results['runs']:
        missing = {'seed', 'task', 'n_streams', 'cadence', 'lag', 'schedule', 'train', 'gate_init', 'gate', 'loss'} - set(r)
        if missing:
            raise ValueError(f"{path}: a run lacks {sorted(missing)}")
    return results


# ----------------------------------------------------------------------------- summaries

def select(results, **where):
    """The runs whose fields equal `where` (e.g. task='copy', schedule='ours')."""
    return [r for r in results['runs'] if all(r.get(k) == v for k, v in where.items())]


def main_setting(results):
    """The main bus setting of a results file, and the model's own initial gate logit."""
    s = results['settings']
    return {'n_streams': s['n_streams'], 'cadence': s['cadence'], 'lag': s['lag'],
            'gate_init': ModelConfig().gate_init}


def mean_std(values):
    """(mean, sample standard deviation) of a list of numbers; std 0 for a single value."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("mean_std of nothing")
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def loss_stats(runs, condition, stream=None):
    """mean, std over the runs (seeds) of the held-out loss under `condition` (one stream's if given)."""
    vals = [r['loss'][condition]['loss'] if stream is None else r['loss'][condition]['by_stream'][stream]
            for r in runs if condition in r['loss']]
    return mean_std(vals)


def _fmt(ms, digits=3):
    m, s = ms
    return f"{m:.{digits}f}±{s:.{digits}f}"


def _fmt_g(ms):
    m, s = ms
    return f"{m:.2g}±{s:.1g}"


def controls_table(results, sched='ours'):
    """Rows (lists of strings) of held-out loss per task, stream and condition, mean±std over
    seeds, at the main bus setting; then the two trained controls (see TRAININGS)."""
    header = ['task', 'stream', 'notes', 'masked', 'shuffled', 're-paired', 'plan only',
              'trained re-paired', 'trained plan only']
    rows = [header]
    main = main_setting(results)
    for task in tasks.TASKS:
        runs = select(results, task=task, schedule=sched, train='notes', **main)
        if not runs:
            continue
        rep = select(results, task=task, schedule=sched, train='repaired', **main)
        plan = select(results, task=task, schedule=sched, train='plan_only', **main)
        for stream in [None] + list(range(runs[0]['n_streams'])):
            row = [task, 'all' if stream is None else str(stream)]
            row += [_fmt(loss_stats(runs, c, stream)) for c in CONDITIONS]
            row += [_fmt(loss_stats(rep, 'notes', stream)) if rep else '-',
                    _fmt(loss_stats(plan, 'plan_only', stream)) if plan else '-']
            rows.append(row)
    return rows


def gate_table(results):
    """Rows: per task and schedule, the final gate and its logit (mean±std over seeds), how far
    Adam could have moved the logit (the sum of the learning rates), and, where measured,
    the mean length of SNC's delta before and after phase 2."""
    rows = [['task', 'schedule', 'final gate', 'gate logit', 'logit could move', '|delta| before', '|delta| after']]
    main = main_setting(results)
    for task in tasks.TASKS:
        for sched in ('reference', 'ours'):
            runs = select(results, task=task, schedule=sched, train='notes', **main)
            if not runs:
                continue
            bound = sum(runs[0]['snc_learning_rate'] * (1 - i / runs[0]['snc_steps'])
                        for i in range(runs[0]['snc_steps']))
            delta = [r['delta_norm'] for r in runs if 'delta_norm' in r]
            rows.append([task, sched, _fmt(mean_std([r['final_gate'] for r in runs]), 4),
                         _fmt(mean_std([r['gate_logit'] for r in runs]), 2), f"{bound:.2f}",
                         _fmt_g(mean_std([d['before'] for d in delta])) if delta else '-',
                         _fmt_g(mean_std([d['after'] for d in delta])) if delta else '-'])
    return rows


def samples_table(results):
    """Rows: the sampled task metric per task, with the notes, masked and plan seeds only
    (mean±std over seeds, our schedule, main setting)."""
    rows = [['task', 'metric', 'notes', 'masked', 'plan only']]
    main = main_setting(results)
    for task in tasks.TASKS:
        runs = [r for r in select(results, task=task, schedule='ours', train='notes', **main) if 'samples' in r]
        if not runs:
            continue
        for metric in (k for k in runs[0]['samples']['notes'] if k != 'examples'):
            rows.append([task, metric] + [_fmt(mean_std([r['samples'][c][metric] for r in runs]), 2)
                                          for c in ('notes', 'masked', 'plan_only')])
    return rows


def schedule_table(results, task='copy'):
    """Rows: the task at the main bus setting under every phase-2 schedule and initial gate
    logit in the results: held-out loss with the notes, masked and shuffled, and the gate."""
    rows = [['schedule', 'steps', 'lr', 'gate init', 'notes', 'masked', 'shuffled', 'final gate']]
    main = {k: v for k, v in main_setting(results).items() if k != 'gate_init'}
    seen = []
    for r in select(results, task=task, train='notes', **main):
        key = (r['snc_steps'], r['snc_learning_rate'], r['gate_init'], r['schedule'])
        if key not in seen:
            seen.append(key)
    for steps, lr, g0, sched in sorted(seen):
        runs = select(results, task=task, train='notes', schedule=sched, gate_init=g0, **main)
        conds = [_fmt(loss_stats(runs, c)) if c in runs[0]['loss'] else '-' for c in ('notes', 'masked', 'shuffled')]
        rows.append([sched, str(steps), f"{lr:g}", f"{g0:g}"] + conds
                    + [_fmt(mean_std([r['final_gate'] for r in runs]), 4)])
    return rows


def rounds_table(results, task='split'):
    """Rows: for each read lag and number of streams, what writing the held-out names in
    parallel costs (rounds, forward passes one after another, token steps) and buys, against
    one stream writing each whole name: nats per name with the notes, masked, and sequentially."""
    rows = [['lag', 'streams', 'rounds', 'passes', 'token steps', 'sequential steps',
             'nats/name notes', 'nats/name masked', 'nats/name sequential']]
    main = main_setting(results)
    for lag in sorted({r['lag'] for r in select(results, task=task)}):
        for k in results['settings']['streams']:
            runs = select(results, task=task, schedule='ours', train='notes',
                          **dict(main, n_streams=k, lag=lag))
            if not runs:
                continue
            seq = [r['sequential'] for r in runs if 'sequential' in r]
            rows.append([str(lag), str(k), f"{runs[0]['rounds']:.2f}", f"{runs[0].get('passes', float('nan')):.2f}",
                         f"{runs[0]['token_steps']:.2f}", f"{seq[0]['token_steps']:.2f}" if seq else '-',
                         _fmt(mean_std([r['loss']['notes']['nats_per_group'] for r in runs]), 2),
                         _fmt(mean_std([r['loss']['masked']['nats_per_group'] for r in runs]), 2),
                         _fmt(mean_std([q['nats_per_group'] for q in seq]), 2) if seq else '-'])
    return rows


def format_table(rows):
    """Rows of strings as an aligned plain-text table."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def sweep_rows(results, task, axis):
    """For a sweep over `axis` ('cadence', 'lag' or 'n_streams') of `task`, one row per value:
    (value, {condition: (mean, std)}, gate (mean, std), rounds, token_steps)."""
    main = main_setting(results)
    values = results['settings'][{'cadence': 'cadences', 'lag': 'lags', 'n_streams': 'streams'}[axis]]
    out = []
    for v in values:
        where = dict(main, **{axis: v})
        runs = select(results, task=task, schedule='ours', train='notes', **where)
        if not runs:
            continue
        conds = {c: loss_stats(runs, c) for c in ('notes', 'masked', 'shuffled') if c in runs[0]['loss']}
        out.append((v, conds, mean_std([r['final_gate'] for r in runs]),
                    runs[0]['rounds'], runs[0]['token_steps']))
    return out


# ----------------------------------------------------------------------------- figures

COLORS = {'notes': '#1f77b4', 'masked': '#7f7f7f', 'shuffled': '#ff7f0e', 'repaired': '#d62728',
          'plan_only': '#2ca02c', 'trained re-paired': '#9467bd', 'trained plan only': '#8c564b'}


def plot_controls(results, sched='ours'):
    """Bars: held-out loss minus the trunk's (masked), per task and condition, mean ± std over seeds.
    Below zero the condition beats the trunk alone."""
    import matplotlib.pyplot as plt
    main = main_setting(results)
    labels = ['notes', 'shuffled', 'repaired', 'plan_only', 'trained re-paired', 'trained plan only']
    fig, ax = plt.subplots(figsize=(8, 4.0))
    width = 0.13
    tasks_here = [t for t in tasks.TASKS if select(results, task=t, schedule=sched, **main)]
    for j, label in enumerate(labels):
        means, stds = [], []
        for task in tasks_here:
            base = {r['seed']: r['loss']['masked']['loss']
                    for r in select(results, task=task, schedule=sched, train='notes', **main)}
            if label.startswith('trained'):
                train = 'repaired' if 're-paired' in label else 'plan_only'
                cond = 'notes' if train == 'repaired' else 'plan_only'
                runs = select(results, task=task, schedule=sched, train=train, **main)
            else:
                cond, runs = label, select(results, task=task, schedule=sched, train='notes', **main)
            diffs = [r['loss'][cond]['loss'] - base[r['seed']] for r in runs if cond in r['loss']]
            m, s = mean_std(diffs) if diffs else (np.nan, 0.0)
            means.append(m)
            stds.append(s)
        x = np.arange(len(tasks_here)) + (j - (len(labels) - 1) / 2) * width
        ax.bar(x, means, width, yerr=stds, capsize=2, color=COLORS[label], label=label.replace('_', ' '))
    ax.axhline(0, color='k', lw=0.8)
    ax.set_xticks(np.arange(len(tasks_here)))
    ax.set_xticklabels(tasks_here)
    ax.set_ylabel('held-out loss − trunk alone\n(nats per token)')
    ax.set_title(f"What the bus is worth, and what each control keeps "
                 f"({'our' if sched == 'ours' else 'the reference'} schedule; "
                 f"{main['n_streams']} streams, cadence {main['cadence']}, lag {main['lag']})", fontsize=10)
    ax.legend(fontsize=8, ncol=6, loc='upper center', bbox_to_anchor=(0.5, -0.1), frameon=False,
              handlelength=1.2, columnspacing=1.0)
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    return fig


def plot_gate(results):
    """The gate during phase 2, per task, with our schedule and the reference's (mean over seeds,
    band = min..max)."""
    import matplotlib.pyplot as plt
    main = main_setting(results)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    for ax, sched in zip(axes, ('reference', 'ours')):
        for i, task in enumerate(tasks.TASKS):
            runs = select(results, task=task, schedule=sched, train='notes', **main)
            if not runs:
                continue
            steps = np.array(runs[0]['gate']['steps'])
            vals = np.array([r['gate']['values'] for r in runs])
            color = ('#7f7f7f', '#ff7f0e', '#1f77b4')[i % 3]
            ax.plot(steps, vals.mean(0), color=color, label=task)
            ax.fill_between(steps, vals.min(0), vals.max(0), color=color, alpha=0.2, lw=0)
        r0 = select(results, schedule=sched, **main)
        if r0:
            ax.set_title(f"{'our' if sched == 'ours' else 'the reference'} schedule: {r0[0]['snc_steps']} "
                         f"steps, lr {r0[0]['snc_learning_rate']:g}", fontsize=10)
        ax.axhline(1 / (1 + math.exp(5)), color='k', ls=':', lw=0.8)
        ax.set_xlabel('phase-2 step')
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('gate = sigmoid(logit)')
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_sweeps(results, task='copy'):
    """Held-out loss against cadence, lag and number of streams (one change from the main
    setting each), with the notes, masked and shuffled; mean ± std over seeds."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(8, 3.0), sharey=True)
    for ax, axis in zip(axes, ('cadence', 'lag', 'n_streams')):
        rows = sweep_rows(results, task, axis)
        xs = [r[0] for r in rows]
        for cond in ('notes', 'shuffled', 'masked'):
            pts = [(x, r[1][cond]) for x, r in zip(xs, rows) if cond in r[1]]
            if pts:
                ax.errorbar([p[0] for p in pts], [p[1][0] for p in pts], yerr=[p[1][1] for p in pts],
                            marker='o', ms=4, capsize=2, color=COLORS[cond], label=cond)
        ax.set_xticks(xs)
        ax.set_xlabel({'n_streams': 'streams'}.get(axis, axis))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('held-out loss (nats/token)')
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{task} task: one setting changed at a time", fontsize=10)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- a counting oracle

def split_counting_loss(train_names, eval_names, visible='bus', prior=5.0):
    """How well a counting model (no network) predicts stream 1 of the 2-stream split task.

    Stream 1 writes the second half of a name. Its token j+1 is predicted from its own
    tokens 1..j and from what it can know of the first half:
      visible='none'  nothing (the bus masked)
      visible='bus'   the first half's first j characters: what stream 0's notes hold in
                      round j with cadence 1 and lag 0 (a note holds the tokens up to its round)
      visible='all'   the whole first half (as if stream 0 had finished first)
    Probabilities are counts of (context, next token) in `train_names`, interpolated with
    the 'none' model (and that one with character frequencies) with weight `prior`.
    Returns the mean loss per token (nats) over `eval_names`.
    """
    from collections import Counter, defaultdict
    if visible not in ('none', 'bus', 'all'):
        raise ValueError(f"visible must be 'none', 'bus' or 'all', got {visible!r}")
    if not train_names or not eval_names:
        raise ValueError("split_counting_loss needs training names and names to evaluate on")

    def events(names, what):
        for name in names:
            if len(name) < 2:
                continue
            first, second = tasks.split_name(name, 2)
            target = second + '.'  # '.' stands for the closing BOS
            for j, ch in enumerate(target):
                seen = {'none': '', 'bus': first[:j], 'all': first}[what]
                yield (seen, second[:j]), ch

    freq = Counter(ch for n in train_names for ch in n + '.')
    total = sum(freq.values())
    alphabet = len(freq) + 1

    def p_char(ch):
        return (freq[ch] + 1) / (total + alphabet)

    def fit(what):
        table = defaultdict(Counter)
        for ctx, ch in events(train_names, what):
            table[ctx][ch] += 1
        return table

    own = fit('none')

    def p_own(ctx, ch):
        c = own.get(('', ctx[1]), Counter())
        return (c[ch] + prior * p_char(ch)) / (sum(c.values()) + prior)

    table = own if visible == 'none' else fit(visible)
    nll, n = 0.0, 0
    for ctx, ch in events(eval_names, visible):
        c = table.get(ctx, Counter())
        back = p_char(ch) if visible == 'none' else p_own(ctx, ch)
        nll -= math.log((c[ch] + prior * back) / (sum(c.values()) + prior))
        n += 1
    return nll / n


def plot_token_losses(target, losses, title=None, ymax=None, ax=None, legend=True):
    """Bars of one stream's loss at each of its positions, one bar group per condition.

    target: the characters the stream had to write (the end of the name is added as 'end');
    losses: {condition: per-position losses} (from `token_losses`), each len(target) + 1 long.
    legend=False puts each condition's mean in the title instead of a legend (for grids).
    """
    import matplotlib.pyplot as plt
    labels = list(target) + ['end']
    if not losses or any(len(v) != len(labels) for v in losses.values()):
        raise ValueError(f"losses must map conditions to {len(labels)} per-position losses "
                         f"(one per character of {target!r}, and the end)")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 2.8))
    else:
        fig = ax.figure
    width = 0.8 / len(losses)
    x = np.arange(len(labels))
    means = []
    for j, (cond, vals) in enumerate(losses.items()):
        vals = np.asarray(vals, dtype=float)
        means.append(f"{cond.replace('_', ' ')} {vals.mean():.2f}")
        ax.bar(x + (j - (len(losses) - 1) / 2) * width, vals, width, color=COLORS.get(cond, None),
               label=f"{cond.replace('_', ' ')}: {vals.mean():.2f} nats/token" if legend else cond.replace('_', ' '))
    ax.set_xticks(x)
    ax.set_xticklabels(labels)
    ax.set_ylabel('loss (nats)')
    if ymax is not None:
        ax.set_ylim(0, ymax)
    ax.grid(axis='y', alpha=0.3)
    if legend:
        ax.set_xlabel('character the stream has to write next')
        ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title or not legend:
        ax.set_title(' '.join(filter(None, [title, '' if legend else '(' + ', '.join(means) + ')'])), fontsize=9)
    fig.tight_layout()
    return fig


def plot_token_loss_grid(targets, losses, title=None, ymax=None):
    """`plot_token_losses` for up to four streams side by side (2 x 2), one shared legend."""
    import matplotlib.pyplot as plt
    if not 1 <= len(targets) <= 4 or len(losses) != len(targets):
        raise ValueError("plot_token_loss_grid takes 1 to 4 targets, with one losses dict each")
    fig, axes = plt.subplots(2, 2, figsize=(8, 4.8), sharey=True)
    for ax, target, loss in zip(axes.flat, targets, losses):
        plot_token_losses(target, loss, title=repr(target), ymax=ymax, ax=ax, legend=False)
    for ax in list(axes.flat)[len(targets):]:
        ax.axis('off')
    for ax in axes[:, 1]:
        ax.set_ylabel('')
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center', ncol=len(labels), frameon=False, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig

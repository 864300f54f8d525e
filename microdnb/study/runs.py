"""Running the experiments: does the Notes Bus help when the streams have something to share?

For each seed: train a trunk once (phase 1), then train SNC + planner (phase 2, trunk
frozen) on a coordination task (see `tasks`) under several bus settings (`spec.plan_runs`),
and measure on held-out names, which no training step saw: the held-out loss under the
conditions of `controls`, the gate's trajectory, SNC's output size, a task metric on
sampled groups, rounds and forward passes. `run(settings)` does it all, on the numpy
engine, optionally in several processes, and returns the results dict of `results`;
everything is deterministic in the seeds.
"""
import multiprocessing as mp
import random
import signal
import sys
import time
from dataclasses import asdict

import numpy as np

from .. import vector
from ..config import BusConfig, check_int
from ..data import load_docs, names_path, sha256_of
from ..reference import setup
from . import controls, tasks
from .measure import forward_passes
from .metrics import evaluate, sample_groups, sequential_nats, snc_delta_norm, task_metric
from .results import FORMAT, jsonable, provenance
from .spec import RunSpec, Settings, plan_runs, train_config

# the conditions the sampled task metric is measured under
SAMPLED = ('notes', 'trunk', 'plan_only')


class SeedState:
    """What every run of one seed shares: the data split, the tokenizer, the trained trunk.

    Making one does the reference's set-up (`reference.setup`: shuffle `docs` with
    random.Random(seed), the tokenizer, the parameters drawn from the same generator), keeps
    the last `settings.n_heldout` names out of every training step and trains the trunk.
    """

    def __init__(self, settings, seed, docs, progress=None):
        if not isinstance(settings, Settings):
            raise ValueError(f"expected a Settings, got {type(settings).__name__}")
        progress = progress or (lambda line: None)
        t0 = time.perf_counter()
        self.settings, self.seed = settings, seed
        docs, self.tokenizer, self.cfg, self.trunk, _ = setup(seed, docs, 'numpy')
        if settings.n_heldout >= len(docs):
            raise ValueError(f"n_heldout={settings.n_heldout} leaves no names to train on ({len(docs)} names)")
        self.all_names = docs
        self.train_names = docs[:-settings.n_heldout]
        self.heldout = docs[-settings.n_heldout:]
        self.eval_names = [n for n in self.heldout if len(n) >= settings.min_heldout_len]
        vector.train_phase1(self.trunk, self.cfg, train_config(settings, 'ours'), self.train_names, self.tokenizer)
        self.trunk_seconds = time.perf_counter() - t0
        progress(f"[seed {seed}] trunk trained ({settings.trunk_steps} steps) in {self.trunk_seconds:.1f} s")

    def rng(self, *parts):
        # string seeds are hashed with SHA-512 by random.Random: stable across runs and machines
        return random.Random(':'.join(map(str, (self.seed,) + parts)))

    def eval_groups(self, task, k):
        # the same held-out names for every k (one rng per task), so sweeps compare like with like
        groups = tasks.make_groups(task, self.eval_names, k, self.settings.n_eval_groups, self.rng(task, 'eval'))
        return groups, [tasks.encode_group(task, g, self.tokenizer) for g in groups]

    def repaired_eval_groups(self, task, k):
        """`eval_groups`' groups re-paired (tasks.repair) as token lists, and where each
        re-paired stream came from (tasks.repair_sources, the same draw)."""
        groups, _ = self.eval_groups(task, k)
        key = (task, k, 'eval-repair')
        return ([tasks.encode_group(task, g, self.tokenizer) for g in tasks.repair(groups, self.rng(*key))],
                tasks.repair_sources(len(groups), k, self.rng(*key)))

    def train(self, spec, callback=None):
        """Phase 2 of `spec` (a RunSpec) from this seed's trunk. Returns (params, gate_steps, gate_values).

        callback(info, params) is called after every step (e.g. to keep copies of params).
        """
        if not isinstance(spec, RunSpec):
            raise ValueError(f"expected a RunSpec (see spec.run_spec), got {type(spec).__name__}")
        s, tok, cfg = self.settings, self.tokenizer, self.cfg
        task, k = spec.task, spec.n_streams
        bcfg = BusConfig(n_streams=k, cadence=spec.cadence, lag=spec.lag)
        tcfg = train_config(s, spec.schedule)
        train_groups = tasks.make_groups(task, self.train_names, k, tcfg.snc_steps, self.rng(task, k, 'train'))
        if spec.train == 'repaired':
            train_groups = tasks.repair(train_groups, self.rng(task, k, 'train-repair'))
        train_tokens = [tasks.encode_group(task, g, tok) for g in train_groups]
        params = {name: arr.copy() for name, arr in self.trunk.items()}
        if spec.gate_init is not None:  # the trunk draws no random number for the gate
            params['snc_gate'][0, 0] = spec.gate_init
        gate_steps, gate_values = [0], [vector.gate_value(params)]

        def on_step(info):
            if (info['step'] + 1) % s.gate_every == 0 or info['step'] + 1 == info['num_steps']:
                gate_steps.append(info['step'] + 1)
                gate_values.append(info['gate'])
            if callback is not None:
                callback(info, params)
        vector.train_phase2(params, cfg, tcfg, bcfg, None, tok, callback=on_step,
                            groups_fn=lambda step: train_tokens[step],
                            notes_hook=controls.hook('plan_only') if spec.train == 'plan_only' else None)
        return params, gate_steps, gate_values

    def run(self, spec):
        """Train `spec` and measure it (losses under spec.evals, gate, rounds, and with
        spec.sample the sampled task metric and SNC's output size). Returns a dict."""
        s, tok, cfg = self.settings, self.tokenizer, self.cfg
        task, k = spec.task, spec.n_streams
        bcfg = BusConfig(n_streams=k, cadence=spec.cadence, lag=spec.lag)
        tcfg = train_config(s, spec.schedule)
        groups, token_groups = self.eval_groups(task, k)
        sample = groups[:s.n_sample_groups]
        if spec.sample:  # SNC's output before phase 2, to compare with after
            delta_before = snc_delta_norm(task, self.trunk, cfg, bcfg, tok, sample, self.rng(task, k, 'delta'),
                                          s.temperature)
        t0 = time.perf_counter()
        params, gate_steps, gate_values = self.train(spec)
        train_seconds = time.perf_counter() - t0

        repaired, _ = self.repaired_eval_groups(task, k)
        names = [''.join(g) for g in groups]
        loss = {c: evaluate(params, cfg, bcfg, token_groups, c, names, repaired) for c in spec.evals}
        positions = [controls.positions(g, cfg) for g in token_groups]
        result = dict(
            seed=self.seed, task=task, n_streams=k, cadence=bcfg.cadence, lag=bcfg.lag,
            schedule=spec.schedule, train=spec.train, snc_steps=tcfg.snc_steps,
            snc_learning_rate=tcfg.snc_learning_rate,
            gate_init=cfg.gate_init if spec.gate_init is None else spec.gate_init,
            gate={'steps': gate_steps, 'values': gate_values},
            final_gate=vector.gate_value(params), gate_logit=float(params['snc_gate'][0, 0]),
            loss=loss,
            rounds=float(np.mean([max(p) for p in positions])),
            token_steps=float(np.mean([sum(p) for p in positions])),
            # forward passes one after another when every pass the read rule allows is batched
            passes=float(np.mean([forward_passes(p, bcfg.cadence, bcfg.lag) for p in positions])),
        )
        if task == 'split':  # the same names written by one stream, one token after another
            result['sequential'] = {
                'nats_per_group': float(np.mean([sequential_nats(params, cfg, tok, n) for n in names])),
                'token_steps': float(np.mean([len(n) + 1 for n in names]))}
        if spec.sample:
            result['delta_norm'] = {'before': delta_before, 'after': snc_delta_norm(
                task, params, cfg, bcfg, tok, sample, self.rng(task, k, 'delta'), s.temperature)}
            result['samples'] = {}
            for c in SAMPLED:
                got = sample_groups(task, params, cfg, bcfg, tok, sample, self.rng(task, k, 'sample'),
                                    s.temperature, controls.hook(c))
                result['samples'][c] = dict(task_metric(task, got, self.all_names),
                                            examples=[g['texts'] for g in got[:6]])
        result['seconds'] = time.perf_counter() - t0
        result['train_seconds'] = train_seconds
        return result

    def condition_losses(self, spec, params, conditions=controls.CONDITIONS):
        """The held-out groups of `spec` (a RunSpec) decoded under each condition with `params`
        exactly as `run` decodes them (the same groups, shuffled donors and re-paired
        partners), but with every name's losses kept, so that standard errors can be taken
        over names (`stats.name_difference`). Returns (losses, reports, groups):
        losses[condition][g][s] per-position losses, 'repaired' put back in the original
        groups' order (`tasks.realign`); reports[condition] what `controls.losses_under`
        reports ('shuffled': fallbacks and dropped notes); groups the texts of each group."""
        bus = BusConfig(n_streams=spec.n_streams, cadence=spec.cadence, lag=spec.lag)
        groups, token_groups = self.eval_groups(spec.task, spec.n_streams)
        repaired, sources = self.repaired_eval_groups(spec.task, spec.n_streams)
        names = [''.join(g) for g in groups]
        losses, reports = {}, {}
        for c in conditions:
            got, reports[c] = controls.losses_under(params, self.cfg, bus, token_groups, c, names, repaired)
            losses[c] = tasks.realign(got, sources) if c == 'repaired' else got
        return losses, reports, groups


def _run_chunk(settings, seed, docs, indices, progress):
    """Train seed `seed`'s trunk and do the runs plan_runs(settings)[i] for i in `indices`."""
    state = SeedState(settings, seed, docs, progress)
    specs = plan_runs(settings)
    out = []
    for i in indices:
        r = state.run(specs[i])
        main = 'notes' if 'notes' in r['loss'] else 'plan_only'
        progress(f"[seed {seed}] run {i + 1:2d}/{len(specs)} {specs[i].label():42s} | "
                 f"loss {r['loss'][main]['loss']:.4f} ({main}) vs {r['loss']['trunk']['loss']:.4f} (trunk) | "
                 f"gate {r['final_gate']:.4f} | {r['seconds']:.1f} s")
        out.append((i, r))
    return {'seed': seed, 'trunk_seconds': state.trunk_seconds, 'n_train_names': len(state.train_names),
            'n_eval_names': len(state.eval_names), 'runs': out}


def _print_progress(line):
    sys.stderr.write(line + '\n')   # one write: the workers' lines do not interleave (print writes the '\n' apart)
    sys.stderr.flush()


def _chunk_worker(args):
    settings, seed, docs, indices = args
    return _run_chunk(settings, seed, docs, indices, _print_progress)


def _worker_start():
    """A worker leaves Ctrl-C (sent to the whole foreground process group) to the main process,
    which ends the workers (Pool.terminate, leaving the `with` block): no traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run(settings=Settings(), docs=None, progress=None, jobs=1, argv=None):
    """Run every seed's experiments (`spec.plan_runs`) and return the results dict
    (results.FORMAT).

    docs: the names (default: the verified names.txt). progress(line) is called with a line
    per trunk and per run (default: print to stderr). jobs > 1 shares the runs out among
    that many processes (each retrains the seed's trunk it needs, about a second); the
    results do not depend on it.
    """
    if not isinstance(settings, Settings):
        raise ValueError(f"expected a Settings, got {type(settings).__name__}")
    jobs = check_int(jobs, 'jobs', 1)
    progress = progress or _print_progress
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
        # every seed's runs dealt out into `jobs` interleaved chunks, so the work stays balanced
        work = [(settings, seed, docs, list(range(n_runs))[j::jobs])
                for seed in settings.seeds for j in range(jobs)]
        with mp.get_context('spawn').Pool(min(jobs, len(work)), initializer=_worker_start) as pool:
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
        'settings': jsonable(asdict(settings)),
        'seeds': [seeds[s] for s in settings.seeds],
        'runs': [r for _, _, r in sorted(runs, key=lambda x: (settings.seeds.index(x[0]), x[1]))],
    }

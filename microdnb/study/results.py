"""The experiments' results file: where it came from, writing and reading it (checked),
picking runs out of it, the mean and spread over seeds, and what part III's tables and
figures summarise from it (each condition's gain over the trunk, positive = better than the
trunk alone; the sweeps)."""
import json
import math
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import ModelConfig
from ..fileio import atomic_write
from . import tasks
from .spec import SWEEPS

FORMAT = 'microdnb-experiments-v2'
# what changed from the previous format: the same measurements under the controls' new names
RENAMED = {
    'from': 'microdnb-experiments-v1',
    'keys': {"runs[].loss['masked']": "runs[].loss['trunk']",
             "runs[].samples['masked']": "runs[].samples['trunk']"},
    'note': "'masked' (every note zeroed) is the condition 'trunk' (SNC reads no note): "
            "both make SNC's delta exactly 0. New: runs[].loss['shuffled'] has "
            "'fallbacks' and 'dropped_notes'.",
}
RUN_FIELDS = ('seed', 'task', 'n_streams', 'cadence', 'lag', 'schedule', 'train', 'gate_init', 'gate', 'loss')


def _git_commit():
    repo = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(['git', '-C', str(repo), 'rev-parse', 'HEAD'], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(['git', '-C', str(repo), 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return commit, bool(dirty)
    except (OSError, subprocess.SubprocessError):
        return None, None


def provenance(argv, wall_seconds, data_sha=None, jobs=1):
    """Who made a results file and how: command line, git commit (and whether the work tree
    had uncommitted changes), versions, date, wall time, and what the format renamed."""
    commit, dirty = _git_commit()
    return {
        'command': 'python -m microdnb ' + ' '.join(argv) if argv is not None else None,
        'git_commit': commit, 'git_dirty': dirty,
        'microdnb_version': __version__,
        'python': sys.version.split()[0], 'numpy': np.__version__,
        'date_utc': datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC'),
        'wall_seconds': round(wall_seconds, 1), 'jobs': jobs,
        'cpu_count': os.cpu_count(), 'names_sha256': data_sha,
        'renamed': RENAMED,
    }


def jsonable(x, digits=6):
    """Plain JSON types, floats rounded to `digits` significant digits (keeps the file small)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v, digits) for v in x]
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
        raise ValueError(f"results must be a dict made by runs.run (format {FORMAT})")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give a file name such as {path / 'experiments.json'}")
    text = json.dumps(jsonable(results), indent=1, sort_keys=False)
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
        found = results.get('format') if isinstance(results, dict) else None
        raise ValueError(f"{path} is not a {FORMAT} file (format {found!r}); "
                         f"re-run `python -m microdnb experiment --out {path}`")
    for key in ('provenance', 'settings', 'seeds', 'runs'):
        if key not in results:
            raise ValueError(f"{path} has no {key!r}: it is incomplete; re-run the experiment")
    for r in results['runs']:
        missing = set(RUN_FIELDS) - set(r)
        if missing:
            raise ValueError(f"{path}: a run lacks {sorted(missing)}")
    return results


# ---------------------------------------------------------------- picking runs, and statistics

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


# the trained controls: label -> (what phase 2 trained under, the condition measured after it)
TRAINED = {'trained repaired': ('repaired', 'notes'), 'trained plan_only': ('plan_only', 'plan_only')}
# what control_gains compares with the trunk: the conditions, then the trained controls
GAINS = ('notes', 'shuffled', 'repaired', 'plan_only', *TRAINED)


def control_gains(results, sched='ours'):
    """{label: (means, stds)} over the tasks in the results, of each condition's gain over the
    trunk: the trunk's held-out loss minus the loss under the condition of GAINS (a trained
    control under the condition of TRAINED), seed by seed, at the main setting with schedule
    `sched`; positive when the condition does better than the trunk alone (what
    figures.experiments.plot_controls draws). Returns (tasks, gains)."""
    main = main_setting(results)
    tasks_here = [t for t in tasks.TASKS if select(results, task=t, schedule=sched, **main)]
    gains = {}
    for label in GAINS:
        train, cond = TRAINED.get(label, ('notes', label))
        means, stds = [], []
        for task in tasks_here:
            base = {r['seed']: r['loss']['trunk']['loss']
                    for r in select(results, task=task, schedule=sched, train='notes', **main)}
            runs = select(results, task=task, schedule=sched, train=train, **main)
            diffs = [base[r['seed']] - r['loss'][cond]['loss'] for r in runs if cond in r['loss']]
            m, s = mean_std(diffs) if diffs else (np.nan, 0.0)
            means.append(m)
            stds.append(s)
        gains[label] = (means, stds)
    return tasks_here, gains


def _swept_runs(results, task, axis):
    """(value, runs) for each value of the sweep over `axis` that has runs: the main setting
    with only `axis` changed, trained with the notes on our schedule."""
    main = main_setting(results)
    for v in results['settings'][SWEEPS[axis]]:
        runs = select(results, task=task, schedule='ours', train='notes', **dict(main, **{axis: v}))
        if runs:
            yield v, runs


def sweep_rows(results, task, axis):
    """For a sweep over `axis` ('cadence', 'lag' or 'n_streams') of `task`, one row per value:
    (value, {condition: (mean, std)}, gate (mean, std), rounds, token_steps)."""
    out = []
    for v, runs in _swept_runs(results, task, axis):
        conds = {c: loss_stats(runs, c) for c in ('notes', 'trunk', 'shuffled') if c in runs[0]['loss']}
        out.append((v, conds, mean_std([r['final_gate'] for r in runs]), runs[0]['rounds'], runs[0]['token_steps']))
    return out


def sweep_gains(results, task, axis, conditions=('notes', 'shuffled')):
    """For a sweep over `axis` of `task`, one row per value: (value, {condition: (mean, std)})
    of each condition's gain over the trunk (the trunk's held-out loss minus the condition's,
    over all streams, paired seed by seed; positive = better than the trunk alone)."""
    out = []
    for v, runs in _swept_runs(results, task, axis):
        out.append((v, {c: mean_std([r['loss']['trunk']['loss'] - r['loss'][c]['loss'] for r in runs])
                        for c in conditions if c in runs[0]['loss']}))
    return out

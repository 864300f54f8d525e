"""The experiments of part III drawn: tables and figures of a results dict
(`study.results.load_results`).

Every `*_table` function returns rows of strings, the header first (show them with
`tables.Table` or `tables.format_table`); every `plot_*` function returns a
`matplotlib.figure.Figure` and never calls `plt.show()`, with its alternative text, computed
from the numbers drawn, in `fig.microdnb_alt` (see `display`). Each condition has one colour
in every figure, and a second cue (a label, a hatch, a marker) where colour would carry it.
The live slice of a chapter (one seed retrained, every name's losses) is drawn by
`conditions`.

Every comparison with the trunk is drawn and tabled as a gain, the trunk's held-out loss
minus the condition's: positive when the condition does better than the trunk alone (the
book's one sign convention, `study.stats.name_gain`).
"""
import math

import matplotlib.pyplot as plt
import numpy as np

from ..config import TrainConfig
from ..study import tasks
from ..study.measure import gate_reach
from ..study.results import TRAINED, control_gains, loss_stats, main_setting, mean_std, select, sweep_gains
from ..study.spec import SWEEPS
from .style import GREY, WIDTH, stream_color, stream_marker

# what the bars and lines show, in the order that picks their colours ('trunk' is grey)
DRAWN = ('notes', 'shuffled', 'repaired', 'plan_only', 'posts_zeroed', 'trained repaired', 'trained plan_only')
# the columns of controls_table: the conditions measured after ordinary phase 2, then the
# two trained controls (results.TRAINED), each measured under the condition it was trained with
MEASURED = ('notes', 'trunk', 'shuffled', 'repaired', 'plan_only')
def condition_color(label):
    """The colour of a condition (or of a trained control) in every figure of part III."""
    return GREY if label == 'trunk' else stream_color(DRAWN.index(label))


def label_text(label):
    return label.replace('_', ' ')


def _fmt(ms, digits=3):
    m, s = ms
    return f"{m:.{digits}f}±{s:.{digits}f}"


def _fmt_gain(ms, digits=3):
    m, s = ms
    return f"{m:+.{digits}f}±{s:.{digits}f}"


def _fmt_g(ms):
    m, s = ms
    return f"{m:.2g}±{s:.1g}"


def _schedule_text(sched):
    return 'our' if sched == 'ours' else 'the reference'


def _and(items):
    items = list(items)
    return items[0] if len(items) == 1 else ', '.join(items[:-1]) + ' and ' + items[-1]


# ---------------------------------------------------------------- tables

def controls_table(results, sched='ours'):
    """Rows of held-out loss per task, stream and condition, mean±std over seeds, at the main
    bus setting; then the two trained controls; and, per task, how many groups' shuffled
    notes fell back to a donor that lacks some notes (over all seeds)."""
    rows = [['task', 'stream'] + [label_text(c) for c in MEASURED + tuple(TRAINED)] + ['shuffled fallbacks']]
    main = main_setting(results)
    for task in tasks.TASKS:
        runs = select(results, task=task, schedule=sched, train='notes', **main)
        if not runs:
            continue
        trained = {label: (select(results, task=task, schedule=sched, train=train, **main), cond)
                   for label, (train, cond) in TRAINED.items()}
        shuffled = [r['loss']['shuffled'] for r in runs if 'shuffled' in r['loss']]
        fallbacks = f"{sum(s['fallbacks'] for s in shuffled)}/{len(shuffled) * results['settings']['n_eval_groups']}"
        for stream in [None] + list(range(runs[0]['n_streams'])):
            row = [task, 'all' if stream is None else str(stream)]
            row += [_fmt(loss_stats(runs, c, stream)) for c in MEASURED]
            row += [_fmt(loss_stats(tr, cond, stream)) if tr else '-' for tr, cond in trained.values()]
            rows.append(row + [fallbacks if stream is None and shuffled else ''])
    return rows


def gate_table(results):
    """Rows: per task and schedule, the final gate and its logit (mean±std over seeds), how far
    Adam moves the logit under a steady push (the sum of the learning rates) and at most
    (measure.gate_reach), and, where measured, the mean length of SNC's delta before and
    after phase 2."""
    rows = [['task', 'schedule', 'final gate', 'gate logit', 'logit move, steady push', 'logit move, at most',
             '|delta| before', '|delta| after']]
    main = main_setting(results)
    for task in tasks.TASKS:
        for sched in ('reference', 'ours'):
            runs = select(results, task=task, schedule=sched, train='notes', **main)
            if not runs:
                continue
            reach = gate_reach(TrainConfig(snc_steps=runs[0]['snc_steps'],
                                           snc_learning_rate=runs[0]['snc_learning_rate']), runs[0]['gate_init'])
            delta = [r['delta_norm'] for r in runs if 'delta_norm' in r]
            rows.append([task, sched, _fmt(mean_std([r['final_gate'] for r in runs]), 4),
                         _fmt(mean_std([r['gate_logit'] for r in runs]), 2),
                         f"{reach['steady_logit'] - runs[0]['gate_init']:.2f}",
                         f"{reach['max_logit'] - runs[0]['gate_init']:.2f}",
                         _fmt_g(mean_std([d['before'] for d in delta])) if delta else '-',
                         _fmt_g(mean_std([d['after'] for d in delta])) if delta else '-'])
    return rows


def samples_table(results):
    """Rows: the sampled task metric per task, with the notes, the trunk alone and the plan
    seeds only (mean±std over seeds, our schedule, main setting)."""
    rows = [['task', 'metric', 'notes', 'trunk', 'plan only']]
    main = main_setting(results)
    for task in tasks.TASKS:
        runs = [r for r in select(results, task=task, schedule='ours', train='notes', **main) if 'samples' in r]
        if not runs:
            continue
        for metric in (k for k in runs[0]['samples']['notes'] if k != 'examples'):
            rows.append([task, metric] + [_fmt(mean_std([r['samples'][c][metric] for r in runs]), 2)
                                          for c in ('notes', 'trunk', 'plan_only')])
    return rows


def schedule_table(results, task='copy'):
    """Rows: the task at the main bus setting under every phase-2 schedule and initial gate
    logit in the results: held-out loss with the notes, the trunk alone and shuffled notes,
    and the final gate."""
    rows = [['schedule', 'steps', 'lr', 'gate init', 'notes', 'trunk', 'shuffled', 'final gate']]
    main = {k: v for k, v in main_setting(results).items() if k != 'gate_init'}
    seen = []
    for r in select(results, task=task, train='notes', **main):
        key = (r['snc_steps'], r['snc_learning_rate'], r['gate_init'], r['schedule'])
        if key not in seen:
            seen.append(key)
    for steps, lr, g0, sched in sorted(seen):
        runs = select(results, task=task, train='notes', schedule=sched, gate_init=g0, **main)
        conds = [_fmt(loss_stats(runs, c)) if c in runs[0]['loss'] else '-' for c in ('notes', 'trunk', 'shuffled')]
        rows.append([sched, str(steps), f"{lr:g}", f"{g0:g}"] + conds
                    + [_fmt(mean_std([r['final_gate'] for r in runs]), 4)])
    return rows


def rounds_table(results, task='split'):
    """Rows: for each read lag and number of streams, what writing the held-out names in
    parallel costs (rounds, forward passes one after another, token steps) and buys, against
    one stream writing each whole name: nats per name with the notes, the trunk alone, and
    sequentially. Counts per name are means over the held-out names of every seed (each seed
    draws its own); nats per name mean±sd over seeds."""
    rows = [['lag', 'streams', 'rounds', 'passes', 'token steps', 'sequential steps',
             'nats/name notes', 'nats/name trunk', 'nats/name sequential']]
    main = main_setting(results)
    for lag in sorted({r['lag'] for r in select(results, task=task)}):
        for k in results['settings']['streams']:
            runs = select(results, task=task, schedule='ours', train='notes', **dict(main, n_streams=k, lag=lag))
            if not runs:
                continue
            seq = [r['sequential'] for r in runs if 'sequential' in r]
            count = {key: float(np.mean([r[key] for r in runs])) for key in ('rounds', 'passes', 'token_steps')}
            rows.append([str(lag), str(k), f"{count['rounds']:.2f}", f"{count['passes']:.2f}",
                         f"{count['token_steps']:.2f}",
                         f"{np.mean([q['token_steps'] for q in seq]):.2f}" if seq else '-',
                         _fmt(mean_std([r['loss']['notes']['nats_per_group'] for r in runs]), 2),
                         _fmt(mean_std([r['loss']['trunk']['nats_per_group'] for r in runs]), 2),
                         _fmt(mean_std([q['nats_per_group'] for q in seq]), 2) if seq else '-'])
    return rows


def sweep_table(results, task='copy'):
    """Rows of what `plot_sweeps` draws: for each swept setting (cadence, lag, streams) and
    value, the trunk's held-out loss over all streams, and the gain over it with the notes and
    with shuffled notes (`sweep_gains`: the trunk's loss minus the condition's, seed by seed;
    positive = better than the trunk alone), mean±sd over seeds."""
    rows = [['setting', 'value', 'trunk loss', 'gain: notes', 'gain: shuffled']]
    for axis in SWEEPS:
        trunk = {v: runs for v, runs in _sweep_runs(results, task, axis)}
        for value, gains in sweep_gains(results, task, axis):
            rows.append([{'n_streams': 'streams'}.get(axis, axis), str(value),
                         _fmt(loss_stats(trunk[value], 'trunk'))]
                        + [_fmt_gain(gains[c]) if c in gains else '-' for c in ('notes', 'shuffled')])
    return rows


def _sweep_runs(results, task, axis):
    main = main_setting(results)
    for v in results['settings'][SWEEPS[axis]]:
        runs = select(results, task=task, schedule='ours', train='notes', **dict(main, **{axis: v}))
        if runs:
            yield v, runs


def pick(rows, *columns):
    """The columns named `columns` (header texts) of table rows, in that order: one
    question's columns out of a wide table (e.g. ``pick(gate_table(r), 'task', 'final gate')``)."""
    header = rows[0]
    missing = [c for c in columns if c not in header]
    if missing or not columns:
        raise ValueError(f"no column(s) {missing or '(none given)'}; the table has {header}")
    idx = [header.index(c) for c in columns]
    return [[row[i] for i in idx] for row in rows]


def task_controls_table(results, task, sched='ours'):
    """One task's `controls_table`, turned on its side for a book column: one row per
    condition (then the two trained controls), columns: the held-out loss over all streams
    and of each stream (mean±sd over seeds), and the condition's gain over the trunk alone,
    over all streams: the trunk's loss minus the condition's, paired seed by seed, positive
    when the condition does better (mean±sd, the bars of `plot_controls`)."""
    main = main_setting(results)
    runs = select(results, task=task, schedule=sched, train='notes', **main)
    if not runs:
        raise ValueError(f"the results hold no {task!r} run with the {sched!r} schedule at the main setting")
    k = runs[0]['n_streams']
    _, gains = control_gains(results, sched)
    column = [t for t in tasks.TASKS if select(results, task=t, schedule=sched, **main)].index(task)
    rows = [['condition', 'all streams'] + [f"stream {s}" for s in range(k)] + ['gain over trunk']]
    for c in MEASURED:
        base = c == 'trunk'
        rows.append([label_text(c)] + [_fmt(loss_stats(runs, c, s)) for s in [None] + list(range(k))]
                    + ['0' if base else _fmt_gain((gains[c][0][column], gains[c][1][column]))])
    for label, (train, cond) in TRAINED.items():
        tr = select(results, task=task, schedule=sched, train=train, **main)
        if tr:
            rows.append([label_text(label)] + [_fmt(loss_stats(tr, cond, s)) for s in [None] + list(range(k))]
                        + [_fmt_gain((gains[label][0][column], gains[label][1][column]))])
    return rows


# ---------------------------------------------------------------- figures

def plot_controls(results, sched='ours'):
    """Bars: each condition's gain over the trunk (the trunk's held-out loss minus the
    condition's, seed by seed), per task, mean over seeds; error bars: the sample standard
    deviation over seeds (`control_gains`). Above zero the condition beats the trunk alone."""
    main = main_setting(results)
    n_seeds = len(results['settings']['seeds'])
    tasks_here, gains = control_gains(results, sched)
    fig, ax = plt.subplots(figsize=(WIDTH, 4.0))
    width = 0.8 / len(gains)
    for j, (label, (means, stds)) in enumerate(gains.items()):
        x = np.arange(len(tasks_here)) + (j - (len(gains) - 1) / 2) * width
        ax.bar(x, means, width, yerr=stds, capsize=2, color=condition_color(label), label=label_text(label),
               hatch='//' if label in TRAINED else None, edgecolor='white', linewidth=0)
    ax.axhline(0, color='k', lw=0.8)
    ax.set_xticks(np.arange(len(tasks_here)))
    ax.set_xticklabels(tasks_here)
    ax.set_ylabel('gain over the trunk alone\n(nats per token; > 0: better)')
    ax.set_title(f"What the bus is worth, and what each control keeps ({_schedule_text(sched)} schedule; "
                 f"{main['n_streams']} streams, cadence {main['cadence']}, lag {main['lag']})\n"
                 f"bars: mean over {n_seeds} seeds; error bars: sd over seeds", fontsize=10)
    ax.legend(fontsize=8.5, ncol=3, loc='upper center', bbox_to_anchor=(0.5, -0.1), frameon=False,
              handlelength=1.2, columnspacing=1.0)
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    per_task = []
    for i, task in enumerate(tasks_here):
        drawn = [f"{label_text(label)} {means[i]:+.3f}" for label, (means, _) in gains.items()
                 if not math.isnan(means[i])]
        per_task.append(f"{task}: " + ', '.join(drawn))
    fig.microdnb_alt = (f"Grouped bars of each condition's gain over the trunk alone (the trunk's held-out loss "
                        f"minus the condition's, nats per token, mean over {n_seeds} seeds with error bars of one "
                        f"standard deviation over seeds; above zero the condition does better than the trunk) "
                        f"for {_and(label_text(g) for g in gains)}, per task: " + '; '.join(per_task) + ".")
    return fig


def _finish(fig, axes, title, size):
    """The legend on the first panel, the figure's title above all panels, the layout tightened."""
    axes[0].legend(fontsize=8.5)
    fig.suptitle(title, fontsize=size)
    fig.tight_layout()


def plot_gate(results):
    """The gate during phase 2, per task, with the reference's schedule and ours (mean over
    seeds, band = the lowest to the highest seed); the dotted line is the gate the runs start from."""
    main = main_setting(results)
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.2), sharey=True)
    ends = []
    for ax, sched in zip(axes, ('reference', 'ours')):
        starts, finals = set(), []
        for i, task in enumerate(tasks.TASKS):
            runs = select(results, task=task, schedule=sched, train='notes', **main)
            if not runs:
                continue
            steps = np.array(runs[0]['gate']['steps'])
            vals = np.array([r['gate']['values'] for r in runs])
            ax.plot(steps, vals.mean(0), color=stream_color(i), label=task, marker=stream_marker(i),
                    markevery=max(1, len(steps) // 6), ms=4)
            ax.fill_between(steps, vals.min(0), vals.max(0), color=stream_color(i), alpha=0.2, lw=0)
            starts.update(r['gate_init'] for r in runs)
            finals.append(f"{task} {vals.mean(0)[-1]:.4f}")
        if finals:
            ends.append(f"{_schedule_text(sched)} schedule ends at {_and(finals)}")
        for g0 in sorted(starts):
            ax.axhline(1 / (1 + math.exp(-g0)), color='k', ls=':', lw=0.8)
        r0 = select(results, schedule=sched, **main)
        if r0:
            ax.set_title(f"{_schedule_text(sched)} schedule: {r0[0]['snc_steps']} steps, "
                         f"lr {r0[0]['snc_learning_rate']:g}", fontsize=10)
        ax.set_xlabel('phase-2 step')
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('gate = sigmoid(logit)')
    _finish(fig, axes, f"lines: mean over {len(results['settings']['seeds'])} seeds; bands: lowest to highest seed; "
                       f"dotted: the gate at the start", 9)
    start = 1 / (1 + math.exp(-main['gate_init']))
    fig.microdnb_alt = (f"Two line charts of the SNC gate against the phase-2 step, one line per task (mean over "
                        f"seeds, band from the lowest to the highest seed), from the gate the runs start at, "
                        f"{start:.4f} (dotted): " + '; '.join(ends) + ".")
    return fig


def plot_gate_starts(results, task='copy', sched='ours'):
    """The gate during phase 2 of `task` from every initial gate logit in the results (our
    schedule, main bus setting): left the gate, right how far its logit moved from where it
    started. Lines: mean over seeds; bands: the lowest to the highest seed."""
    main = {k: v for k, v in main_setting(results).items() if k != 'gate_init'}
    starts = sorted({r['gate_init'] for r in select(results, task=task, schedule=sched, train='notes', **main)})
    if not starts:
        raise ValueError(f"the results hold no {task!r} run with the {sched!r} schedule at the main setting")
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.2))
    said = []
    for i, g0 in enumerate(starts):
        runs = select(results, task=task, schedule=sched, train='notes', gate_init=g0, **main)
        steps = np.array(runs[0]['gate']['steps'])
        gates = np.array([r['gate']['values'] for r in runs])
        logits = np.log(gates / (1 - gates)) - g0
        for ax, vals in zip(axes, (gates, logits)):
            ax.plot(steps, vals.mean(0), color=stream_color(i), marker=stream_marker(i),
                    markevery=max(1, len(steps) // 6), ms=4, label=f"started at sigmoid({g0:g}) = {1 / (1 + math.exp(-g0)):.4f}")
            ax.fill_between(steps, vals.min(0), vals.max(0), color=stream_color(i), alpha=0.2, lw=0)
        said.append(f"from {1 / (1 + math.exp(-g0)):.4f} the gate ends at {gates.mean(0)[-1]:.4f} "
                    f"(its logit moved {logits.mean(0)[-1]:+.2f})")
    axes[0].set_yscale('log')
    axes[0].set_ylabel('gate (log scale)')
    axes[1].set_ylabel('gate logit − its start')
    for ax in axes:
        ax.set_xlabel('phase-2 step')
        ax.grid(alpha=0.3)
    _finish(fig, axes, f"{task} task, {_schedule_text(sched)} schedule: the gate from each start (lines: mean over "
                       f"{len(results['settings']['seeds'])} seeds; bands: lowest to highest seed)", 9.5)
    fig.microdnb_alt = (f"Two line charts of the SNC gate during phase 2 of the {task} task, one line per "
                        f"initial gate (mean over seeds, band from the lowest to the highest seed): left the gate "
                        f"on a log scale, right how far its logit moved: " + '; '.join(said) + ".")
    return fig


def plot_sweeps(results, task='copy'):
    """The gain over the trunk alone (the trunk's held-out loss minus the condition's, over all
    streams, paired seed by seed: `sweep_gains`) against cadence, lag and number of streams
    (one change from the main setting each), with the notes and with shuffled notes; mean ±
    std over seeds. Zero is the trunk alone."""
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 3.0), sharey=True)
    said = []
    for ax, axis in zip(axes, SWEEPS):
        rows = sweep_gains(results, task, axis)
        xs = [r[0] for r in rows]
        said.append(f"{ {'n_streams': 'streams'}.get(axis, axis)} " + ', '.join(
            f"{x}: " + ', '.join(f"{label_text(c)} {g[c][0]:+.3f}" for c in ('notes', 'shuffled') if c in g)
            for x, g in rows))
        for cond in ('notes', 'shuffled'):
            pts = [(x, g[cond]) for x, g in rows if cond in g]
            if pts:
                ax.errorbar([p[0] for p in pts], [p[1][0] for p in pts], yerr=[p[1][1] for p in pts],
                            marker=stream_marker(('notes', 'shuffled').index(cond)), ms=4, capsize=2,
                            color=condition_color(cond), label=label_text(cond))
        ax.axhline(0, color=GREY, lw=1.2, label='trunk alone (0)')
        ax.set_xticks(xs)
        ax.set_xlabel({'n_streams': 'streams'}.get(axis, axis))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('gain over the trunk alone\n(nats/token; > 0: better)')
    _finish(fig, axes, f"{task} task: one setting changed at a time (mean over {len(results['settings']['seeds'])} "
                       f"seeds; error bars: sd over seeds)", 10)
    fig.microdnb_alt = (f"Three line charts of the {task} task's gain over the trunk alone (the trunk's held-out "
                        f"loss minus the loss, over all streams, nats per token, mean ± sd over seeds; above zero "
                        f"better than the trunk) with the notes and with shuffled notes, one setting changed at a "
                        f"time: " + '; '.join(said) + ".")
    return fig

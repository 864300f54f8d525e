"""The introduction's figure: part III's main result in one picture, drawn from a results
file (`study.results.load_results`).

The copy task (chapter 12) at the main bus setting, our phase-2 schedule: the follower's
(stream 1's) held-out gain over the trunk alone, seed by seed, with the notes and with
shuffled notes, for the gate started at the model's own closed value and started open
(chapter 13). A gain is loss(trunk) - loss(condition), in nats per token: positive means
the notes help (the book's one sign convention, stated in the glossary).
"""
import math

import matplotlib.pyplot as plt
import numpy as np

from ..study.results import main_setting, select
from .experiments import condition_color
from .style import WIDTH, stream_marker

CONDITIONS = ('notes', 'shuffled')
FOLLOWER = 1


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def copy_gains(results, task='copy', sched='ours', starts=None):
    """{gate_init: {'gate': sigma(gate_init), 'seeds': [...], 'notes': [...], 'shuffled': [...]}},
    the follower's gain over the trunk (trunk loss minus the condition's, the same seed's
    trunk) for each seed, per initial gate logit: the model's own (closed) and every other
    in the results (`settings['gate_inits']`), unless `starts` names them."""
    main = main_setting(results)
    starts = [main['gate_init']] + list(results['settings'].get('gate_inits', [])) if starts is None else list(starts)
    out = {}
    for g in starts:
        runs = sorted(select(results, task=task, schedule=sched, train='notes', **dict(main, gate_init=g)),
                      key=lambda r: r['seed'])
        if not runs:
            raise ValueError(f"the results hold no {task} run with schedule {sched!r} and gate_init {g}")
        row = {'gate': sigmoid(g), 'seeds': [r['seed'] for r in runs]}
        for cond in CONDITIONS:
            row[cond] = [r['loss']['trunk']['by_stream'][FOLLOWER] - r['loss'][cond]['by_stream'][FOLLOWER]
                         for r in runs]
        out[g] = row
    return out


def _start_label(g, gate):
    return f"gate starts at σ({g:g}) = {gate:.4f}" if gate < 0.01 else f"gate starts at σ({g:g}) = {gate:.1f}"


def plot_copy_headline(results, task='copy', sched='ours'):
    """Bars: the follower's gain over the trunk (mean over seeds) with the notes and with
    shuffled notes, one group per initial gate; dots: each seed (its own marker). Returns the
    Figure, its alt text in `fig.microdnb_alt`, and the numbers drawn in `fig.microdnb_data`
    (`copy_gains`)."""
    gains = copy_gains(results, task, sched)
    main = main_setting(results)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6))
    width = 0.36
    seeds = sorted({s for row in gains.values() for s in row['seeds']})
    for i, (g, row) in enumerate(gains.items()):
        for j, cond in enumerate(CONDITIONS):
            x = i + (j - 0.5) * width
            vals = np.array(row[cond])
            ax.bar(x, vals.mean(), width * 0.9, color=condition_color(cond), alpha=0.85,
                   hatch='//' if cond == 'shuffled' else None, edgecolor='white', linewidth=0,
                   label=('with the notes' if cond == 'notes' else 'with shuffled notes (another group\'s)')
                   if i == 0 else None)
            for s, v in zip(row['seeds'], vals):
                k = seeds.index(s)
                ax.plot(x + (k - (len(seeds) - 1) / 2) * 0.06, v, stream_marker(k), color='black', ms=4.5,
                        label=f'seed {s}' if i == 0 and j == 0 else None)
            up = vals.mean() >= 0   # the mean's label beyond the bar and every dot
            ax.text(x, (max(vals.max(), vals.mean()) + 0.1) if up else (min(vals.min(), vals.mean()) - 0.1),
                    f"mean {vals.mean():+.2f}", ha='center', va='bottom' if up else 'top', fontsize=9)
    ax.axhline(0, color='k', lw=0.8)
    ax.set_xticks(range(len(gains)))
    ax.set_xticklabels([_start_label(g, row['gate']) for g, row in gains.items()], fontsize=10)
    ax.set_ylabel("follower's gain over the trunk\n(nats per token; > 0: notes help)", fontsize=10)
    lo = min(min(row[c]) for row in gains.values() for c in CONDITIONS)
    hi = max(max(row[c]) for row in gains.values() for c in CONDITIONS)
    ax.set_ylim(lo - 0.55, hi + 0.55)
    ax.set_title(f"The copy task: the follower (stream {FOLLOWER}) reads the leader's notes\n"
                 f"{main['n_streams']} streams, cadence {main['cadence']}, lag {main['lag']}; bars: mean over "
                 f"{len(seeds)} seeds, dots: each seed", fontsize=10.5)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda k: labels[k].startswith('seed'))   # conditions first
    ax.legend([handles[k] for k in order], [labels[k] for k in order], fontsize=8.5, ncol=2 + len(seeds),
              loc='upper center', bbox_to_anchor=(0.5, -0.13), frameon=False, handlelength=1.2, columnspacing=1.0)
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    parts = []
    for g, row in gains.items():
        said = []
        for cond in CONDITIONS:
            text = 'with the notes' if cond == 'notes' else 'with shuffled notes'
            said.append(f"{text} {np.mean(row[cond]):+.2f} (seeds " +
                        ', '.join(f"{v:+.2f}" for v in row[cond]) + ")")
        parts.append(f"Gate started at {row['gate']:.4f}" if row['gate'] < 0.01 else
                     f"Gate started at {row['gate']:.1f}")
        parts[-1] += ": " + '; '.join(said)
    fig.microdnb_alt = (f"Bar chart of the copy task's follower: its held-out gain over the trunk alone "
                        f"(the trunk's loss minus the loss, nats per token; above zero the notes help), mean "
                        f"over {len(seeds)} seeds with each seed as a dot. " + '. '.join(parts) + ".")
    fig.microdnb_data = gains
    return fig

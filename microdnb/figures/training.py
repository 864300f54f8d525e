"""Figures of chapters 4 and 5: the loss and learning rate while training, sampling at a
temperature, and the two engines' times side by side. Each sets `fig.microdnb_alt` from
the data it draws.
"""

import matplotlib.pyplot as plt
import numpy as np

from .part1 import prob_bars
from .prep import floats, new_axes, smooth
from .style import BLUE, GREEN, GREY, HATCHES, ORANGE, PURPLE, WIDTH
from .words import join_and, lead, prob_text, quote_token


def loss_curve(losses, window=50, baseline=None, title=None, ax=None, label='loss per step'):
    """Raw per-step loss (faint) and its moving average; `baseline` e.g. ln(vocab_size)."""
    x = floats(losses, 'losses')
    fig, ax = new_axes((WIDTH, 3.2), ax)
    steps = np.arange(1, len(x) + 1)
    ax.plot(steps, x, color=BLUE, alpha=0.25, lw=0.8, label=label)
    ax.plot(steps, smooth(x, window), color=BLUE, lw=2, label=f'mean of the last {window} steps')
    if baseline is not None:
        ax.axhline(float(baseline), color=GREY, ls='--', lw=1,
                   label=f'uniform guess: {float(baseline):.4f}')
    ax.set_xlabel('step')
    ax.set_ylabel('loss (nats per token)')
    ax.set_xlim(0, len(x) + 1)
    if title:
        ax.set_title(title, fontsize=11)
    # below the axes, so it never hides the curve
    ax.legend(fontsize=9, loc='upper center', bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    fig.tight_layout()
    w = min(window, len(x))
    first, last = x[:w].mean(), x[-w:].mean()
    text = (f"{lead(title)}Line chart of the {label} over {len(x):,} steps (faint) and its mean over "
            f"the last {window} steps (bold): the mean {'falls' if last < first else 'rises'} from "
            f"{first:.3f} over the first {w} steps to {last:.3f} over the last {w}; the lowest "
            f"single step is {x.min():.3f}, the highest {x.max():.3f}.")
    if baseline is not None:
        text += f" A dashed line marks the uniform guess, {float(baseline):.4f}."
    fig.microdnb_alt = text
    return fig


def lr_schedule(lrs, ax=None, title='learning rate per step'):
    """The learning rate of each step (e.g. from the training callback's info['lr'])."""
    x = floats(lrs, 'lrs')
    fig, ax = new_axes((WIDTH, 2.4), ax)
    ax.plot(np.arange(1, len(x) + 1), x, color=ORANGE, lw=2)
    ax.set_xlabel('step')
    ax.set_ylabel('learning rate')
    ax.set_ylim(0, float(x.max()) * 1.1)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    peak = int(x.argmax())
    if np.allclose(x, x[0]):
        shape = f"constant at {x[0]:.3g}"
    elif 0 < peak < len(x) - 1:
        shape = (f"rising from {x[0]:.3g} at step 1 to a peak of {x[peak]:.3g} at step {peak + 1}, "
                 f"then falling to {x[-1]:.3g} at step {len(x)}")
    else:
        shape = (f"{'falling' if x[-1] < x[0] else 'rising'} from {x[0]:.3g} at step 1 to "
                 f"{x[-1]:.3g} at step {len(x)}")
    fig.microdnb_alt = f"{lead(title)}Line chart of the learning rate at each of {len(x):,} steps: {shape}."
    return fig


def temperature_frame(probs, labels, names, temperature):
    """One frame of the temperature widget: the first-character distribution and some samples."""
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ValueError("names must be a list of strings")
    fig, (ax, ax_txt) = plt.subplots(1, 2, figsize=(WIDTH, 3.0), gridspec_kw={'width_ratios': [3.2, 1]})
    prob_bars(probs, labels, ax=ax)
    ax.set_ylim(0, 1.0)
    ax.set_title(f'first character after BOS, temperature {temperature:g}', fontsize=11)
    ax_txt.axis('off')
    ax_txt.set_title('sampled names', fontsize=11)
    ax_txt.text(0.05, 0.97, '\n'.join(n if n else '(empty)' for n in names), va='top', ha='left',
                fontsize=10, family='monospace', transform=ax_txt.transAxes)
    fig.tight_layout()
    p = floats(probs, 'probs')
    ranked = sorted(range(len(p)), key=lambda i: -p[i])
    above = int((p > 0.01).sum())
    fig.microdnb_alt = (
        f"Temperature {temperature:g}. Left: the probability of each first character after BOS; the "
        f"most likely are " + join_and([f"{quote_token(labels[i])} ({prob_text(p[i])})" for i in ranked[:3]])
        + f", and {above} of {len(p)} tokens {'has' if above == 1 else 'have'} more than 1%. Right: "
        f"{len(names)} names sampled at this temperature: "
        + (', '.join(n if n else '(empty)' for n in names) if names else 'none') + ".")
    return fig


# ---------------------------------------------------------------- chapter 5: efficiency

def _format_seconds(t):
    if t >= 1:
        return f'{t:.3g} s'
    if t >= 1e-3:
        return f'{t * 1e3:.3g} ms'
    return f'{t * 1e6:.3g} µs'


def time_bars(times, title=None, ax=None):
    """Grouped horizontal bars (log scale) of measured times.

    times: {task: {engine: seconds}}, e.g. {'phase 1 step': {'scalar': 0.25, 'numpy': 0.0003}};
    each engine keeps one colour across tasks.
    """
    if not isinstance(times, dict) or not times or not all(isinstance(v, dict) and v for v in times.values()):
        raise ValueError("times must be a non-empty dict {task: {engine: seconds}}")
    engines = list(dict.fromkeys(e for row in times.values() for e in row))
    for task, row in times.items():
        t = floats(list(row.values()), f'times[{task!r}]')
        if np.any(t <= 0):
            raise ValueError(f"times must be positive, got {row} for {task!r}")
    colours = dict(zip(engines, [BLUE, ORANGE, GREY, GREEN, PURPLE]))
    height = 0.8 / len(engines)
    fig, ax = new_axes((WIDTH, 0.45 * len(times) * len(engines) + 1.3), ax)
    longest = max(v for row in times.values() for v in row.values())
    for i, (task, row) in enumerate(times.items()):
        for j, name in enumerate(engines):
            if name not in row:
                continue
            y = i + (j - (len(engines) - 1) / 2) * height
            ax.barh(y, row[name] * 1e3, height=height * 0.9, color=colours[name],
                    hatch=HATCHES[j % len(HATCHES)], edgecolor='white',
                    label=name if i == 0 else None)
            ax.text(row[name] * 1e3 * 1.1, y, _format_seconds(row[name]), va='center', fontsize=9)
    ax.set_yticks(range(len(times)))
    ax.set_yticklabels(list(times), fontsize=10)
    ax.invert_yaxis()
    ax.set_xscale('log')
    ax.set_xlim(right=longest * 1e3 * 8)
    ax.set_xlabel('milliseconds (log scale)')
    ax.legend(fontsize=9, loc='lower right')
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    parts = []
    for task, row in times.items():
        part = f"{task}: " + ', '.join(f"{name} {_format_seconds(t)}" for name, t in row.items())
        if len(row) == 2:
            (fast, ta), (_, tb) = sorted(row.items(), key=lambda kv: kv[1])
            ratio = tb / ta
            part += f" ({fast} {ratio:,.0f} times faster)" if ratio >= 10 else f" ({fast} {ratio:.2g} times faster)"
        parts.append(part)
    fig.microdnb_alt = (f"{lead(title)}Horizontal bars on a log scale, one per engine "
                        f"({join_and(engines)}) for each task: " + '; '.join(parts) + ".")
    return fig

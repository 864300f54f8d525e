"""Training drawn: the loss and learning rate per step (chapter 4), phase 2's loss and gate
step by step (chapter 9), and the two engines' times side by side (chapter 5). Each sets
`fig.microdnb_alt` from the data it draws.
"""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .prep import floats, new_axes, smooth
from .style import BLUE, GREEN, GREY, HATCHES, ORANGE, PURPLE, STREAM_COLORS, WIDTH
from .words import join_and, lead


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


def phase2_figure(phase2, trunk_pair_loss, gate_steady, window=25, gate_max=None, printed_every=50):
    """Phase 2 step by step. Top: the loss of each step's pair (one pair of names per
    step; the reference prints every `printed_every`-th step, marked) and the frozen
    trunk's loss on the same pair. Bottom left: SNC's gain over the trunk on each step's pair,
    trunk minus phase 2 (positive = SNC lowers the loss, the book's one sign convention), with
    its running mean over `window` steps and +-1 standard error of that mean (over the
    window's pairs). Bottom right: the gate, on a log scale, against what a steady gradient
    would reach (`gate_steady` per step, e.g. sigmoid(-5 + cumulative learning rate)) and,
    if given, the most any gradient could reach (`gate_max` per step, e.g. with
    `measure.adam_step_bound` times the cumulative learning rate)."""
    loss = np.asarray(phase2['loss'], dtype=float)
    gate = np.asarray(phase2['gate'], dtype=float)
    trunk = np.asarray(trunk_pair_loss, dtype=float)
    steady = np.asarray(gate_steady, dtype=float)
    if not (len(loss) == len(gate) == len(trunk) == len(steady)) or len(loss) < window or window < 2:
        raise ValueError(f"phase2 loss/gate, trunk_pair_loss and gate_steady need the same length "
                         f">= window ({window}, at least 2); got {len(loss)}, {len(gate)}, {len(trunk)}, "
                         f"{len(steady)}")
    most = None if gate_max is None else np.asarray(gate_max, dtype=float)
    if most is not None and len(most) != len(loss):
        raise ValueError(f"gate_max needs one value per step ({len(loss)}), got {len(most)}")
    if isinstance(printed_every, bool) or not isinstance(printed_every, int) or printed_every < 1:
        raise ValueError(f"printed_every must be an integer >= 1, got {printed_every!r}")
    steps = np.arange(1, len(loss) + 1)
    printed = np.array(sorted({1, *range(printed_every, len(loss) + 1, printed_every)}))
    # two rows, so each panel is readable in one book column: the loss across the top,
    # SNC's contribution and the gate below it
    fig, axd = plt.subplot_mosaic([['loss', 'loss'], ['diff', 'gate']], figsize=(WIDTH, 6.6),
                                  layout='constrained')
    ax = axd['loss']
    # the two curves nearly coincide: the wide pale one underneath, the trunk's thin dashes
    # on top, so both stay visible
    ax.plot(steps, loss, color=STREAM_COLORS[5], linewidth=3.0, label="phase 2, every step's pair")
    ax.plot(steps, trunk, color='black', linewidth=0.9, linestyle=(0, (3, 2)), zorder=3,
            label='trunk alone, same pair')
    ax.plot(printed, loss[printed - 1], linestyle='none', marker='o', markersize=6, color=STREAM_COLORS[1],
            markeredgecolor='black', zorder=4, label=f'the lines the reference prints (every {printed_every}th)')
    ax.set_xlabel('phase-2 step')
    ax.set_ylabel("loss of the step's pair")
    ax.set_title('loss per step (one pair of names each)', fontsize=11)
    low, high = min(loss.min(), trunk.min()), max(loss.max(), trunk.max())
    ax.set_ylim(low - 0.05, high + 0.35 * (high - low))  # room for the legend above the curves
    ax.legend(fontsize=9, frameon=False, loc='upper right', ncol=2)
    ax = axd['diff']
    diff = trunk - loss   # the gain over the trunk: positive when SNC helps
    mean = smooth(diff, window)
    # standard error of the running mean: the spread of the window's per-pair differences
    sq = smooth(diff ** 2, window)
    n = np.minimum(steps, window)
    se = np.sqrt(np.maximum(sq - mean ** 2, 0.0) * n / np.maximum(n - 1, 1) / n)
    shown = slice(window - 1, None)
    ax.plot(steps, diff, color=STREAM_COLORS[0], linewidth=0.5, alpha=0.5, label='each step')
    ax.fill_between(steps[shown], (mean - se)[shown], (mean + se)[shown], color=STREAM_COLORS[3], alpha=0.35,
                    linewidth=0, label='running mean ± 1 SE')
    ax.plot(steps[shown], mean[shown], color=STREAM_COLORS[3], linewidth=1.8,
            label=f'running mean ({window} steps)')
    ax.axhline(0, color='black', linewidth=0.8)
    ax.set_xlabel('phase-2 step')
    ax.set_ylabel('trunk - phase 2 (nats)')
    ax.set_title("SNC's gain over the trunk (positive: SNC helps)", fontsize=11)
    low, high = diff.min(), diff.max()
    ax.set_ylim(low - 0.05 * (high - low), high + 0.45 * (high - low))  # room for the legend above
    ax.legend(fontsize=8.5, frameon=False, loc='upper left')
    ax = axd['gate']
    if most is not None:
        ax.plot(steps, most, color='black', linestyle=':', linewidth=1.4, label="Adam's bound")
    ax.plot(steps, steady, color=GREY, linestyle='--', label='steady gradient')
    ax.plot(steps, gate, color=STREAM_COLORS[0], linewidth=2, label='gate')
    ax.set_yscale('log')
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 4.0, 6.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel('phase-2 step')
    ax.set_ylabel('gate, sigmoid(logit) (log scale)')
    ax.set_title('the gate', fontsize=11)
    ax.legend(fontsize=8.5, frameon=False, loc='upper left')
    for ax in axd.values():
        for side in ('top', 'right'):
            ax.spines[side].set_visible(False)
    fig.microdnb_alt = _alt_phase2(loss, trunk, diff, gate, steady, most, window, printed, se)
    return fig


def _alt_phase2(loss, trunk, diff, gate, steady, most, window, printed, se):
    mean = smooth(diff, window)
    corr = np.corrcoef(loss, trunk)[0, 1] if len(loss) > 1 and loss.std() and trunk.std() else float('nan')
    bound = (f", and the most any gradient could reach (dotted, Adam's bound) {most[-1]:.4f}"
             if most is not None else "")
    return (f"Phase 2 over {len(loss)} steps, in three panels. Top: the loss of each step's pair "
            f"(wide pale line, mean {loss.mean():.3f}) with the frozen trunk's loss on the same pair "
            f"drawn over it in black dashes (mean {trunk.mean():.3f})"
            + ("; the two curves nearly coincide" if corr > 0.95 else "") + f", correlation {corr:.3f}."
            f" Dots mark the {len(printed)} steps the reference prints. "
            f"Bottom left: SNC's gain over the trunk, trunk minus phase 2 (positive when SNC lowers the "
            f"loss), per step and as a running mean over "
            f"{window} steps with a band of plus or minus one standard error; the running mean ends at "
            f"{mean[-1]:+.4f} ± {se[-1]:.4f} nats and stays between {mean[window - 1:].min():+.4f} and "
            f"{mean[window - 1:].max():+.4f}. Bottom right, log scale: the gate goes from {gate[0]:.4f} "
            f"to {gate[-1]:.4f}; a steady gradient (dashed) would have reached {steady[-1]:.4f}{bound}.")

"""Losses under the control conditions, name by name (part III's live slice, one seed retrained
in a chapter): the held-out loss per condition with its standard error over names, and each
character's loss.
"""
import matplotlib.pyplot as plt
import numpy as np

from ..study.controls import check_condition
from ..study.stats import name_difference, name_sums
from .experiments import condition_color, label_text
from .style import WIDTH


def heldout_table(losses, stream=None, base='trunk'):
    """Rows: per condition of `losses` ({condition: controls.losses_under losses}, all decoded on
    the same groups), the held-out loss per token of `stream` (None: all streams), and the
    change from `base` with its standard error over names (`stats.name_difference`)."""
    if base not in losses:
        raise ValueError(f"losses must include the base condition {base!r}")
    rows = [['condition', 'nats/token', f"− {label_text(base)}", 'SE over names']]
    for cond, loss in losses.items():
        check_condition(cond)
        total, count = name_sums(loss, stream)
        diff, se, _ = name_difference(loss, losses[base], stream)
        rows.append([label_text(cond), f"{total.sum() / count.sum():.3f}",
                     '0' if cond == base else f"{diff:+.3f}", '-' if cond == base else f"{se:.3f}"])
    return rows


# ---------------------------------------------------------------- per-character figures

def plot_token_losses(target, losses, title=None, ymax=None, ax=None, legend=True):
    """Bars of one stream's loss at each of its positions, one bar group per condition.

    target: the characters the stream had to write (the end of the name is added as 'end');
    losses: {condition: per-position losses} (from `controls.token_losses`), each
    len(target) + 1 long. legend=False puts each condition's mean in the title instead of
    a legend (for grids).
    """
    labels = list(target) + ['end']
    if not losses or any(len(v) != len(labels) for v in losses.values()):
        raise ValueError(f"losses must map conditions to {len(labels)} per-position losses "
                         f"(one per character of {target!r}, and the end)")
    for cond in losses:
        check_condition(cond)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 2.8))
    else:
        fig = ax.figure
    width = 0.8 / len(losses)
    x = np.arange(len(labels))
    means = []
    for j, (cond, vals) in enumerate(losses.items()):
        vals = np.asarray(vals, dtype=float)
        means.append(f"{label_text(cond)} {vals.mean():.2f}")
        ax.bar(x + (j - (len(losses) - 1) / 2) * width, vals, width, color=condition_color(cond),
               label=f"{label_text(cond)}: {vals.mean():.2f} nats/token" if legend else label_text(cond))
    ax.set_xticks(x)
    ax.set_xticklabels(labels)
    ax.set_ylabel('loss (nats)')
    if ymax is not None:
        ax.set_ylim(0, ymax)
    ax.grid(axis='y', alpha=0.3)
    if legend:
        ax.set_xlabel('character the stream has to write next')
        ax.legend(fontsize=8.5, loc='upper left', bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title or not legend:
        ax.set_title(' '.join(filter(None, [title, '' if legend else '(' + ', '.join(means) + ')'])), fontsize=9)
    fig.tight_layout()
    fig.microdnb_alt = _alt_token_losses(target, losses, labels)
    return fig


def _alt_token_losses(target, losses, labels):
    conds = list(losses)
    text = (f"Bars of the loss at each character of {target!r} and at its end, per condition: "
            + ', '.join(f"{label_text(c)} {np.mean(losses[c]):.2f}" for c in conds) + " nats per token")
    if len(conds) >= 2:
        gap = np.asarray(losses[conds[0]], float) - np.asarray(losses[conds[1]], float)
        i = int(np.argmax(np.abs(gap)))
        text += (f"; the largest difference, {label_text(conds[0])} minus {label_text(conds[1])} "
                 f"{gap[i]:+.2f} nats, is at {labels[i]!r}")
    return text + "."


def plot_token_loss_grid(targets, losses, title=None, ymax=None):
    """`plot_token_losses` for up to four streams side by side (2 x 2), one shared legend."""
    if not 1 <= len(targets) <= 4 or len(losses) != len(targets):
        raise ValueError("plot_token_loss_grid takes 1 to 4 targets, with one losses dict each")
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 4.8), sharey=True)
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
    panels = f"{len(targets)} panel{'s' * (len(targets) > 1)}. "
    fig.microdnb_alt = (f"{title}. " if title else '') + panels + ' '.join(
        _alt_token_losses(t, loss, list(t) + ['end']) for t, loss in zip(targets, losses))
    return fig

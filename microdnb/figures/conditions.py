"""Part III's live slice (one seed retrained in a chapter), drawn: the held-out loss under
the control conditions with its standard error over names, each condition's gain and what
the true notes carry beyond each control, each character's loss, the follower's gain as
phase 2 trains, and the gate's Adam steps.

Every comparison is a gain (`study.stats.name_gain`): the baseline's loss minus the
condition's, positive when the condition does better; the gain over the trunk is positive
when the notes help. The start/end token is written `data.BOS_TEXT` ('.'), as everywhere
in the book.
"""
import matplotlib.pyplot as plt
import numpy as np

from ..data import BOS_TEXT
from ..study.controls import check_condition
from ..study.stats import name_gain, name_sums
from .experiments import condition_color, label_text
from .style import GREY, WIDTH, stream_color, stream_marker


def heldout_table(losses, stream=None, base='trunk'):
    """Rows: per condition of `losses` ({condition: controls.losses_under losses}, all decoded on
    the same groups), the held-out loss per token of `stream` (None: all streams), and its gain
    over `base` (the base's loss minus the condition's: positive = better than the base) with
    its standard error over names (`stats.name_gain`)."""
    if base not in losses:
        raise ValueError(f"losses must include the base condition {base!r}")
    rows = [['condition', 'nats/token', f"gain over {label_text(base)}", 'SE over names']]
    for cond, loss in losses.items():
        check_condition(cond)
        total, count = name_sums(loss, stream)
        gain, se, _ = name_gain(loss, losses[base], stream)
        rows.append([label_text(cond), f"{total.sum() / count.sum():.3f}",
                     '0' if cond == base else f"{gain:+.3f}", '-' if cond == base else f"{se:.3f}"])
    return rows


def condition_gains(losses, stream=None, base='trunk', reference='notes'):
    """The two comparisons of `plot_gains`, each (gain, se) over names (`stats.name_gain`):
    {'over_base': {condition: its gain over `base`} for every condition but the base,
    'beyond': {control: what `reference` (the true notes) carries beyond it, the control's
    loss minus the reference's} for every condition but the base and the reference}."""
    for key in (base, reference):
        if key not in losses:
            raise ValueError(f"losses must include {key!r}")
    over = {c: name_gain(losses[c], losses[base], stream)[:2] for c in losses if c != base}
    beyond = {c: name_gain(losses[reference], losses[c], stream)[:2] for c in losses if c not in (base, reference)}
    return {'over_base': over, 'beyond': beyond}


def plot_gains(losses, stream=None, title=None, base='trunk', reference='notes'):
    """Two panels of horizontal bars, from one model decoded under every condition on the same
    groups: left, each condition's gain over `base` (the trunk alone); right, what the true
    notes carry beyond each control (the control's loss minus the notes'). Error bars: two
    standard errors over names. Numbers drawn in `fig.microdnb_data` (`condition_gains`)."""
    data = condition_gains(losses, stream, base, reference)
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 0.5 + 0.42 * max(len(data['over_base']), 2)))
    panels = ((axes[0], data['over_base'], label_text,
               f"gain over the {label_text(base)} alone\n(nats per token; > 0: better)"),
              (axes[1], data['beyond'], lambda c: f"beyond {label_text(c)}",
               f"what the {label_text(reference)} carry beyond a control\n(control minus "
               f"{label_text(reference)}, nats per token; > 0: {label_text(reference)} better)"))
    for ax, values, name, xlabel in panels:
        conds = list(values)
        y = np.arange(len(conds))[::-1]
        g = np.array([values[c][0] for c in conds])
        se = np.array([values[c][1] for c in conds])
        ax.barh(y, g, xerr=2 * se, capsize=3, color=[condition_color(c) for c in conds], height=0.6)
        ax.set_yticks(y)
        ax.set_yticklabels([name(c) for c in conds])
        ax.axvline(0, color='k', lw=0.8)
        ax.set_xlabel(xlabel, fontsize=9.5)
        ax.grid(axis='x', alpha=0.3)
    who = 'all streams' if stream is None else f"stream {stream}"
    fig.suptitle((f"{title}: " if title else '') + f"{who}, {len(losses[base])} held-out groups; "
                 f"error bars: two standard errors over names", fontsize=9.5)
    fig.tight_layout()
    fig.microdnb_data = data
    fmt = lambda values, name: ', '.join(f"{name(c)} {g:+.4f} (SE {s:.4f})" for c, (g, s) in values.items())
    fig.microdnb_alt = ((f"{title}. " if title else '')
                        + f"Two bar charts for {who} on {len(losses[base])} held-out groups, error bars two "
                          f"standard errors over names, above zero better. Left, each condition's gain over the "
                          f"{label_text(base)} alone (its loss minus the condition's, nats per token): "
                        + fmt(data['over_base'], label_text)
                        + f". Right, what the {label_text(reference)} carry beyond each control (the control's "
                          f"loss minus the loss with the {label_text(reference)}): "
                        + fmt(data['beyond'], label_text) + ".")
    return fig


# ---------------------------------------------------------------- per-character figures

def _labels(target):
    return list(target) + [BOS_TEXT]


def _where(label):
    return f"{label!r} (the end of the name)" if label == BOS_TEXT else repr(label)


def plot_token_losses(target, losses, title=None, ymax=None, ax=None, legend=True):
    """Bars of one stream's loss at each of its positions, one bar group per condition.

    target: the characters the stream had to write (the end of the name is added, written
    `data.BOS_TEXT`); losses: {condition: per-position losses} (from `controls.token_losses`),
    each len(target) + 1 long. legend=False puts each condition's mean in the title instead of
    a legend (for grids).
    """
    labels = _labels(target)
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
        ax.set_xlabel(f"character the stream has to write next ({BOS_TEXT}: the end of the name)")
        ax.legend(fontsize=8.5, loc='upper left', bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title or not legend:
        ax.set_title(' '.join(filter(None, [title, '' if legend else '(' + ', '.join(means) + ')'])), fontsize=9)
    fig.tight_layout()
    fig.microdnb_alt = _alt_token_losses(target, losses, labels)
    return fig


# below this, a gain at every character is "about zero" in the alt text
SMALL = 0.05


def _alt_token_losses(target, losses, labels):
    conds = list(losses)
    text = (f"Bars of the loss at each character of {target!r} and at its end ({BOS_TEXT}), per condition: "
            + ', '.join(f"{label_text(c)} {np.mean(losses[c]):.2f}" for c in conds) + " nats per token")
    if len(conds) >= 2:
        base = 'trunk' if 'trunk' in losses else conds[0]
        other = next(c for c in conds if c != base)
        gain = np.asarray(losses[base], float) - np.asarray(losses[other], float)
        said = f"the {label_text(other)}' gain over the {label_text(base)} ({label_text(base)} minus {label_text(other)})"
        if np.abs(gain).max() < SMALL:
            text += f"; {said} is between {gain.min():+.2f} and {gain.max():+.2f} nats at every character"
        else:
            i = int(np.argmax(np.abs(gain)))
            text += f"; {said} is largest in size at {_where(labels[i])}, {gain[i]:+.2f} nats"
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
        _alt_token_losses(t, loss, _labels(t)) for t, loss in zip(targets, losses))
    return fig


# ---------------------------------------------------------------- as phase 2 trains

def plot_gain_by_step(steps, gains, ses, reference=None, reference_label=None, what="the follower's"):
    """`what` gain over the trunk (held-out, nats per token) at the kept phase-2 steps, with
    error bars of two standard errors over names; `reference`, if given, a dashed level
    (e.g. another run's gain after all its steps) labelled `reference_label`."""
    steps, gains, ses = np.asarray(steps), np.asarray(gains, float), np.asarray(ses, float)
    if not (len(steps) == len(gains) == len(ses) >= 2):
        raise ValueError("plot_gain_by_step needs at least two steps, with one gain and one SE each")
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    ax.errorbar(steps, gains, yerr=2 * ses, marker=stream_marker(0), ms=5, capsize=3,
                color=condition_color('notes'), label=f"{what} gain, this run")
    ax.axhline(0, color=GREY, lw=1.2, label='trunk alone (0)')
    said = ''
    if reference is not None:
        ax.axhline(reference, color=stream_color(1), ls='--', lw=1.2, label=reference_label)
        said = f" Dashed: {reference_label}, {reference:+.2f}."
    ax.set_xticks(steps)
    ax.set_xlabel('phase-2 step')
    ax.set_ylabel('gain over the trunk\n(nats per token; > 0: better)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc='upper left', frameon=False)
    fig.tight_layout()
    fig.microdnb_alt = (f"Line chart of {what} held-out gain over the trunk alone (the trunk's loss minus the "
                        f"loss with the notes, nats per token, error bars two standard errors over names) at "
                        f"phase-2 steps " + ', '.join(f"{s}: {g:+.2f}" for s, g in zip(steps, gains)) + "." + said)
    return fig


def gate_steps(logits, lrs):
    """Each phase-2 step's move of the gate logit in learning rates, (logit_t - logit_{t-1}) / lr_t:
    Adam's -m_hat / (sqrt(v_hat) + eps) for the gate, +1 under a steady push that opens it."""
    logits, lrs = np.asarray(logits, float), np.asarray(lrs, float)
    if logits.ndim != 1 or lrs.shape != (len(logits) - 1,) or len(lrs) < 2 or np.any(lrs <= 0):
        raise ValueError("gate_steps needs the logit before every step and after the last (n + 1 values) "
                         "and the n positive learning rates")
    return np.diff(logits) / lrs


def plot_gate_steps(logits, lrs, window=100):
    """Left: each step of the gate logit in learning rates (`gate_steps`; grey dots) and its
    running mean over `window` steps, against +1, a steady push. Right: how far the logit
    has moved, against how far a steady push would have moved it (the sum of the rates)."""
    r = gate_steps(logits, lrs)
    steps = np.arange(1, len(r) + 1)
    window = min(window, len(r))
    running = np.convolve(r, np.ones(window) / window, mode='valid')
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.0))
    axes[0].plot(steps, r, '.', color=GREY, ms=2, label='one step')
    axes[0].plot(steps[window - 1:], running, color=stream_color(0), lw=1.5, label=f"mean of {window} steps")
    axes[0].axhline(1, color=stream_color(1), ls='--', lw=1.2, label='a steady push (+1)')
    axes[0].axhline(0, color='k', lw=0.8)
    axes[0].set_ylabel('gate step\n(learning rates)')
    moved = np.asarray(logits, float) - logits[0]
    steady = np.concatenate([[0.0], np.cumsum(lrs)])
    axes[1].plot(np.arange(len(moved)), moved, color=stream_color(0), lw=1.5, label='the gate logit')
    axes[1].plot(np.arange(len(steady)), steady, color=stream_color(1), ls='--', lw=1.2, label='a steady push')
    axes[1].set_ylabel('logit moved from its start')
    for ax in axes:
        ax.set_xlabel('phase-2 step')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8.5, frameon=False)
    fig.tight_layout()
    up = float(np.mean(r > 0))
    flips = float(np.mean(np.sign(r[1:]) != np.sign(r[:-1])))
    fig.microdnb_data = {'steps': r, 'median_abs': float(np.median(np.abs(r))), 'share_up': up,
                         'share_flips': flips, 'moved': float(moved[-1]), 'steady': float(steady[-1])}
    fig.microdnb_alt = (f"Two line charts of the gate over {len(r)} phase-2 steps. Left: each step of the gate "
                        f"logit in learning rates (median size {np.median(np.abs(r)):.2f}; {up:.0%} of the steps "
                        f"open the gate, and the direction changes at {flips:.0%} of them), with its running mean "
                        f"over {window} steps, against +1 for a steady push. Right: the logit moved by "
                        f"{moved[-1]:+.2f} in all, where a steady push would have moved it by {steady[-1]:.2f}.")
    return fig

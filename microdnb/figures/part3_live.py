"""Part III's measurements on one seed retrained live, in a chapter: every name's losses
under each control condition (`decode_conditions`), differences with their standard errors
over names (clustered: a name's tokens count as one draw), and the per-character loss
figures of the live slice.

The results file (`study.results`) keeps one mean per run; these functions keep what a
standard error over names needs. Tables are rows of strings, the header first; every
`plot_*` function returns a Figure with its alternative text in `fig.microdnb_alt`.
"""
import math

import matplotlib.pyplot as plt
import numpy as np

from ..config import BusConfig
from ..study import controls, tasks
from ..study.controls import check_condition
from .part3 import condition_color, label_text
from .style import WIDTH


# ---------------------------------------------------------------- standard errors over names

def decode_conditions(state, spec, params, conditions=controls.CONDITIONS):
    """One seed's held-out groups of `spec` (a `study.runs.SeedState` and a RunSpec), decoded
    under each condition with `params` exactly as `SeedState.run` decodes them (the same
    groups, shuffled donors and re-paired partners), but with every name's losses kept, so
    that standard errors can be taken over names. Returns (losses, reports, groups):
    losses[condition][g][s] per-position losses, 'repaired' put back in the original groups'
    order (`realign`); reports[condition] what `controls.losses_under` reports ('shuffled':
    fallbacks and dropped notes); groups the texts of each group."""
    bus = BusConfig(n_streams=spec.n_streams, cadence=spec.cadence, lag=spec.lag)
    groups, token_groups = state.eval_groups(spec.task, spec.n_streams)
    key = (spec.task, spec.n_streams, 'eval-repair')
    repaired = [tasks.encode_group(spec.task, g, state.tokenizer) for g in tasks.repair(groups, state.rng(*key))]
    sources = tasks.repair_sources(len(groups), spec.n_streams, state.rng(*key))
    names = [''.join(g) for g in groups]
    losses, reports = {}, {}
    for c in conditions:
        got, reports[c] = controls.losses_under(params, state.cfg, bus, token_groups, c, names, repaired)
        losses[c] = realign(got, sources) if c == 'repaired' else got
    return losses, reports, groups


def name_sums(losses, stream=None):
    """Per group, the summed loss (nats) and the number of tokens, of one stream or of all
    streams: `losses` is what `controls.losses_under` returns (losses[g][s], per-position arrays).
    A group is one name (split, copy) or one set of names (independent): the unit whose
    tokens are correlated, so the unit a standard error counts."""
    if not losses:
        raise ValueError("no groups: losses is empty")
    streams = [list(g) if stream is None else [g[stream]] for g in losses]
    return (np.array([sum(float(np.sum(x)) for x in g) for g in streams]),
            np.array([sum(len(x) for x in g) for g in streams], dtype=float))


def realign(losses, sources):
    """The losses of re-paired groups (`controls.losses_under` under 'repaired'), put back in the
    original groups' order: out[h][s] is stream s's losses from the re-paired group that took
    it from original group h (`sources` is `tasks.repair_sources`, drawn as `tasks.repair`
    drew it). Then every group has the same texts as under the other conditions, and
    `name_difference` can pair them name by name."""
    n, k = len(losses), len(losses[0]) if losses else 0
    if len(sources) != n or any(len(src) != k for src in sources):
        raise ValueError(f"sources must give, for each of the {n} groups, the origin of its {k} streams")
    out = [[None] * k for _ in range(n)]
    for g, src in enumerate(sources):
        for s, h in enumerate(src):
            if out[h][s] is not None:
                raise ValueError(f"stream {s} of group {h} appears twice in sources")
            out[h][s] = losses[g][s]
    return out


def name_difference(losses_a, losses_b, stream=None):
    """Condition a minus condition b, in nats per token, decoded on the same groups, with
    its standard error over groups (clustered: a group's tokens count as one draw).

    The difference is sum(d_g) / sum(n_g) over groups g (d_g: the group's summed loss under
    a minus under b, n_g its tokens); its standard error is the ratio estimator's,
    sqrt(G / (G - 1) * sum((d_g - diff * n_g)^2)) / sum(n_g). Returns (diff, se, G)."""
    a, n = name_sums(losses_a, stream)
    b, n_b = name_sums(losses_b, stream)
    if a.shape != b.shape or not np.array_equal(n, n_b):
        raise ValueError("the two conditions must be decoded on the same groups (same tokens)")
    if len(a) < 2:
        raise ValueError("a standard error over groups needs at least 2 groups")
    d = a - b
    diff = d.sum() / n.sum()
    se = math.sqrt(len(d) / (len(d) - 1) * ((d - diff * n) ** 2).sum()) / n.sum()
    return float(diff), float(se), len(d)


def name_mean(values):
    """Mean of one number per name (or per pair of names) and its standard error over names,
    sd / sqrt(n). Returns (mean, se, n)."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or len(v) < 2:
        raise ValueError(f"need one number per name, at least 2, got shape {v.shape}")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))), len(v)


def heldout_table(losses, stream=None, base='trunk'):
    """Rows: per condition of `losses` ({condition: controls.losses_under losses}, all decoded on
    the same groups), the held-out loss per token of `stream` (None: all streams), and the
    change from `base` with its standard error over names (`name_difference`)."""
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

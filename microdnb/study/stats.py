"""Standard errors: of a mean, of a paired difference, and of a difference clustered by name;
and the gain of one condition over another, the book's one sign convention.

The tokens of one name need not be independent draws (a hard name can be hard at every position),
so a difference in loss between two conditions gets its standard error over names, the
clusters, not over tokens (chapter 8). One estimator (`clustered_se`) serves both forms the
book has its losses in: per token with a name label (`clustered_difference`, on
`measure.heldout_measure` results) and per group as `controls.losses_under` returns them
(`name_difference`).

Every comparison the book reports is a *gain* (`name_gain`): the baseline's loss minus the
condition's, positive when the condition does better. The gain over the trunk is
loss(trunk) - loss(with notes), positive when the notes help (the glossary's "Signs").
"""
import numpy as np


def mean_se(values):
    """Mean of one number per unit (a name, a pair of names, a token) and its standard
    error, sd / sqrt(n). Returns (mean, se, n)."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or len(v) < 2:
        raise ValueError(f"need one number per name, at least 2, got shape {v.shape}")
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))), len(v)


def paired_difference(a, b):
    """Mean of a - b over paired values (per-token losses, say), and its standard error (the
    spread of the differences / sqrt(n)): is a difference between two conditions bigger
    than noise?"""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"need two 1-D arrays of the same length >= 2, got shapes {a.shape}, {b.shape}")
    return mean_se(a - b)[:2]


def clustered_se(resid, n_tokens):
    """The cluster-robust standard error of a mean difference over `n_tokens` tokens, from
    `resid`, each cluster's summed deviations from that mean:
    sqrt(G / (G - 1) * sum(resid^2)) / n_tokens, for G clusters."""
    G = len(resid)
    return float(np.sqrt(G / (G - 1) * (resid ** 2).sum()) / n_tokens)


def clustered_difference(a, b, clusters):
    """Mean of a - b over paired per-token losses, and its standard error with the tokens
    grouped into `clusters` (one integer label per token, e.g. the name it belongs to:
    `name_of_token`).

    The clusters, not the tokens, are the independent units (a cluster-robust standard
    error): each cluster's deviations from the mean difference are summed (`clustered_se`).
    With every token its own cluster it is `paired_difference`'s SE.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    clusters = np.asarray(clusters)
    if a.shape != b.shape or a.shape != clusters.shape or a.ndim != 1:
        raise ValueError(f"a, b and clusters must be 1-D and of one length, got shapes "
                         f"{a.shape}, {b.shape}, {clusters.shape}")
    if not np.issubdtype(clusters.dtype, np.integer):
        raise ValueError(f"clusters must be integer labels, one per token, got dtype {clusters.dtype}")
    labels, index = np.unique(clusters, return_inverse=True)
    if len(labels) < 2:
        raise ValueError(f"clusters must hold at least 2 distinct labels, got {len(labels)}")
    d = a - b
    resid = np.bincount(index, weights=d - d.mean())
    return float(d.mean()), clustered_se(resid, len(d))


def name_of_token(measure):
    """The index of the name each token of a `heldout_measure` result belongs to (its
    positions restart at 0 with every name): the clusters of `clustered_difference`."""
    pos = np.asarray(measure['positions'])
    if pos.ndim != 1 or not len(pos) or pos[0] != 0:
        raise ValueError("measure['positions'] must be a 1-D array of positions starting at 0 "
                         "(a heldout_measure result)")
    return np.cumsum(pos == 0) - 1


def name_sums(losses, stream=None):
    """Per group, the summed loss (nats) and the number of tokens, of one stream or of all
    streams: `losses` is what `controls.losses_under` returns (losses[g][s], per-position
    arrays). A group is one name (split, copy) or one set of names (independent): the unit
    whose tokens are correlated, so the unit a standard error counts."""
    if not losses:
        raise ValueError("no groups: losses is empty")
    streams = [list(g) if stream is None else [g[stream]] for g in losses]
    return (np.array([sum(float(np.sum(x)) for x in g) for g in streams]),
            np.array([sum(len(x) for x in g) for g in streams], dtype=float))


def name_difference(losses_a, losses_b, stream=None):
    """Condition a minus condition b, in nats per token, decoded on the same groups
    (`controls.losses_under`), with its standard error over groups (`clustered_se`: a group's
    tokens count as one draw).

    The difference is sum(d_g) / sum(n_g) over groups g (d_g: the group's summed loss under
    a minus under b, n_g its tokens); a group's summed deviation from it is
    d_g - diff * n_g. Returns (diff, se, G)."""
    a, n = name_sums(losses_a, stream)
    b, n_b = name_sums(losses_b, stream)
    if a.shape != b.shape or not np.array_equal(n, n_b):
        raise ValueError("the two conditions must be decoded on the same groups (same tokens)")
    if len(a) < 2:
        raise ValueError("a standard error over groups needs at least 2 groups")
    d = a - b
    diff = d.sum() / n.sum()
    return float(diff), clustered_se(d - diff * n, n.sum()), len(d)


def name_gain(losses, over, stream=None):
    """The gain of a condition over another, in nats per token, on the same groups:
    loss(over) - loss(losses), positive when `losses`' condition has the lower loss, with its
    standard error over groups. `name_gain(losses['notes'], losses['trunk'])` is the notes'
    gain over the trunk (positive = the notes help); `name_gain(losses['notes'],
    losses['shuffled'])` what the true notes carry beyond shuffled ones. Returns (gain, se, G)
    as `name_difference(over, losses, stream)` does."""
    return name_difference(over, losses, stream)

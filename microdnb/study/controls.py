"""The control conditions: one vocabulary for every chapter and the experiments.

A condition says what a stream reads from the Notes Bus while a group of streams is
decoded teacher-forced. Each is made by a notes hook (the engine's `notes_hook`, which
may replace the notes a stream reads in a round) or, for 're-paired', by decoding other
groups; `losses_under` is the one place a condition is turned into teacher-forced decodes
and per-token losses.
"""
import numpy as np

from .. import vector

CONDITIONS = ('notes', 'trunk', 'posts_zeroed', 'plan_only', 'shuffled', 'repaired')
DESCRIPTIONS = {
    'notes': 'the bus as in training: every note the read rule allows',
    'trunk': "SNC reads nothing, so its delta is exactly 0: the trunk alone (zeroing every note "
             "gives the same, since SNC's keys and values have no bias)",
    'posts_zeroed': "the other streams' posts replaced by zeros, their plan seeds kept "
                    "(the zero notes still take attention weight)",
    'plan_only': 'only the plan seeds on the bus: every post removed',
    'shuffled': "each note replaced by the note with the same (stream, round) from another group's "
                "run; where no group runs as long, the next group's, and the notes it lacks are "
                "dropped (counted as fallbacks and dropped notes)",
    'repaired': 'each stream decoded beside partners taken from other groups (same texts, same roles)',
}
# the conditions phase 2 can also be trained under ('notes' is ordinary training)
TRAININGS = ('notes', 'repaired', 'plan_only')


def check_condition(condition, allowed=CONDITIONS):
    if condition not in allowed:
        raise ValueError(f"condition must be one of {allowed}, got {condition!r}")
    return condition


def describe(conditions=CONDITIONS):
    """One line per condition: its name and what it does."""
    width = max(len(c) for c in conditions)
    return '\n'.join(f"{check_condition(c):{width}s}  {DESCRIPTIONS[c]}" for c in conditions)


# ---------------------------------------------------------------- the hooks

def read_nothing(reader, round_, labels, notes):
    """'trunk': no note at all; the engine then adds a zero delta."""
    return notes[:0]


def zero_posts(reader, round_, labels, notes):
    """'posts_zeroed': every post zero, the plan seeds (round None) kept."""
    out = notes.copy()
    out[[r is not None for _, r in labels]] = 0.0
    return out


def plan_seeds_only(reader, round_, labels, notes):
    """'plan_only': keep only the plan seeds (round None), drop every post."""
    return notes[np.array([r is None for _, r in labels], dtype=bool)]


HOOKS = {'notes': None, 'trunk': read_nothing, 'posts_zeroed': zero_posts, 'plan_only': plan_seeds_only}


def hook(condition):
    """The notes hook of a condition made by a hook alone (None for 'notes')."""
    if condition in ('shuffled', 'repaired'):
        raise ValueError(f"{condition!r} needs other groups' decodes: use losses_under(...)")
    return HOOKS[check_condition(condition)]


def recorder(store):
    """A hook that changes nothing and records every note read into store[(stream, round)]."""
    def record(reader, round_, labels, notes):
        for label, note in zip(labels, notes):
            store[label] = note.copy()
        return notes
    return record


class DonorNotes:
    """'shuffled': a hook that reads, for each label (stream, round), the note with that
    label in another group's run (`notes`, recorded there with `recorder`). A label not
    read in the donor's run (never posted, or posted after its readers had stopped) is
    dropped, and counted in `dropped`."""

    def __init__(self, notes):
        self.notes, self.dropped = notes, 0

    def __call__(self, reader, round_, labels, notes):
        rows = [self.notes[label] for label in labels if label in self.notes]
        self.dropped += len(labels) - len(rows)
        return np.array(rows, dtype=np.float64).reshape(len(rows), notes.shape[1])


def positions(streams, cfg):
    """How many positions each stream of a group runs when decoded teacher-forced."""
    return [min(cfg.block_size, len(t) - 1) for t in streams]


def choose_donors(token_groups, cfg, keys=None):
    """For each group, the group whose notes it reads under 'shuffled': the next one
    (cyclically) that writes something else (keys differ; default: the token lists) and
    whose streams all run at least as many positions, so every note it reads exists there.
    Where none does, the next group (a fallback: some notes will be missing).
    Returns (donors, number of fallbacks)."""
    n = len(token_groups)
    keys = [tuple(map(tuple, g)) for g in token_groups] if keys is None else list(keys)
    if len(keys) != n:
        raise ValueError(f"{len(keys)} keys for {n} groups")
    runs = [positions(g, cfg) for g in token_groups]
    donors, fallbacks = [], 0
    for g in range(n):
        for step in range(1, n):
            h = (g + step) % n
            if keys[h] != keys[g] and all(a >= b for a, b in zip(runs[h], runs[g])):
                donors.append(h)
                break
        else:
            donors.append((g + 1) % n)
            fallbacks += 1
    return donors, fallbacks


# ---------------------------------------------------------------- decoding under a condition

def next_token_losses(tokens, log_probs):
    """The loss (nats) at each position of `tokens` from its (n_positions, vocab) log-probabilities."""
    targets = np.asarray(tokens[1:len(log_probs) + 1])
    return -log_probs[np.arange(len(log_probs)), targets]


def token_losses(params, cfg, bcfg, streams, hook=None):
    """Per stream, the next-token losses (nats), one per position, of a teacher-forced decode
    of the token lists `streams` through the bus, numpy engine (`hook` as its notes_hook)."""
    return [next_token_losses(seq, logp)
            for seq, logp in zip(streams, vector.streams_log_probs(params, cfg, bcfg, streams, notes_hook=hook))]


def losses_under(params, cfg, bcfg, token_groups, condition, keys=None, repaired=None):
    """Every group of token lists decoded teacher-forced under `condition` (numpy parameters):
    the per-token losses.

    keys: for 'shuffled', what each group writes (see choose_donors).
    repaired: for 'repaired', the re-paired token groups (same streams, other partners;
    see tasks.repair), one per group; those are decoded instead.
    Returns (losses, report): losses[g][s] the per-position losses of stream s of group g
    (`token_losses`); report {'fallbacks': groups whose donor lacks notes, 'dropped_notes':
    notes read as nothing} for 'shuffled', else {}.
    """
    check_condition(condition)
    if not token_groups:
        raise ValueError("token_groups is empty: nothing to decode")
    if condition == 'repaired':
        if repaired is None or len(repaired) != len(token_groups):
            raise ValueError("the 'repaired' condition needs repaired groups, one per group")
        return [token_losses(params, cfg, bcfg, g) for g in repaired], {}
    if condition != 'shuffled':
        return [token_losses(params, cfg, bcfg, g, HOOKS[condition]) for g in token_groups], {}
    donors, fallbacks = choose_donors(token_groups, cfg, keys)
    losses, dropped = [], 0
    for streams, h in zip(token_groups, donors):
        store = {}
        token_losses(params, cfg, bcfg, token_groups[h], recorder(store))
        replay = DonorNotes(store)
        losses.append(token_losses(params, cfg, bcfg, streams, replay))
        dropped += replay.dropped
    return losses, {'fallbacks': fallbacks, 'dropped_notes': dropped}

"""Coordination tasks: what the streams of one parallel-decoding group are asked to write.

A *group* is a tuple of strings, one per stream; stream s is trained (teacher forced)
to write group[s]. Three tasks:

independent  the reference's phase 2: k unrelated names. What one stream writes says
             nothing about what another will write: there is nothing to share.
split        one name cut into k consecutive pieces; stream s writes piece s
             ("isab" | "ella"). Every stream starts from BOS, so the plan seed is the
             same constant everywhere and a stream can learn which name it is helping
             to write only from the notes the others post.
copy         every stream writes the same name; stream 0, the leader, is given the
             name's first letter as its start letter (its first token instead of BOS),
             the others start from BOS. The leader therefore runs one token ahead, and
             its plan seed is computed from that letter, so the plan seed is informative
             too.

Why the leader needs its head start: a snapshot posted after position t is projected
from the hidden state whose input was token t, so it holds tokens 0..t and not the
token about to be written. A follower predicting its token t + 1 can use a note only
if token t + 1 of its text is among the tokens 0..t of someone else's: true for the
copy task's leader, and only weakly for split (the second half of a name barely
depends on how its first half begins).
"""
import random

from ..config import check_int

TASKS = ('independent', 'split', 'copy')

DESCRIPTIONS = {
    'independent': 'k unrelated names (the reference phase 2)',
    'split': 'one name cut into k consecutive pieces, stream s writes piece s',
    'copy': 'k copies of one name; stream 0 is given the first letter as its start letter (one token ahead)',
}


def _check_rng(rng):
    if not isinstance(rng, random.Random):
        raise ValueError(f"rng must be a random.Random (seeded, for determinism), got {type(rng).__name__}")


def _check_task(task):
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def split_name(name, n_parts):
    """Cut `name` into `n_parts` consecutive non-empty pieces, as equal as possible.

    Earlier pieces take the extra characters: split_name('isabella', 3) == ['isa', 'bel', 'la'].
    Joining the pieces gives the name back.
    """
    n_parts = check_int(n_parts, 'n_parts', 1)
    if not isinstance(name, str) or len(name) < n_parts:
        raise ValueError(f"cannot cut {name!r} into {n_parts} non-empty pieces: "
                         f"it needs at least {n_parts} characters")
    q, r = divmod(len(name), n_parts)
    pieces, start = [], 0
    for i in range(n_parts):
        size = q + (1 if i < r else 0)
        pieces.append(name[start:start + size])
        start += size
    return pieces


def make_groups(task, names, n_streams, n_groups, rng):
    """`n_groups` groups of `n_streams` strings for `task`, drawn from `names` with `rng`.

    independent: n_streams different names (drawn without replacement within a group).
    split: one name with at least n_streams characters, cut by `split_name`.
    copy: one name, n_streams times.
    """
    _check_task(task)
    n_streams = check_int(n_streams, 'n_streams', 1)
    n_groups = check_int(n_groups, 'n_groups', 0)
    _check_rng(rng)
    names = list(names)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError("names must be a non-empty list of non-empty strings")
    if task == 'independent':
        if len(set(names)) < n_streams:
            raise ValueError(f"the independent task needs at least {n_streams} distinct names, "
                             f"got {len(set(names))}")
        return [tuple(rng.sample(names, n_streams)) for _ in range(n_groups)]
    if task == 'copy':
        return [(rng.choice(names),) * n_streams for _ in range(n_groups)]
    eligible = [n for n in names if len(n) >= n_streams]
    if not eligible:
        raise ValueError(f"the split task needs names of at least {n_streams} characters; none given")
    return [tuple(split_name(rng.choice(eligible), n_streams)) for _ in range(n_groups)]


def given_start(task, stream):
    """Is `stream` given its text's first letter as its start letter (its first token,
    instead of BOS)?"""
    _check_task(task)
    return task == 'copy' and stream == 0


def encode_group(task, group, tokenizer):
    """Token lists of one group, one per stream, for teacher forcing.

    [BOS] + ids + [BOS] for every stream, except a stream given its start letter (the copy
    task's leader), which starts from its first character: ids + [BOS].
    """
    _check_task(task)
    out = []
    for s, text in enumerate(group):
        tokens = tokenizer.encode(text)
        out.append(tokens[1:] if _start_letter(task, s, text) else tokens)
    return out


def starts(task, group):
    """The start letters of a group when it is sampled: per stream its text's first letter
    if it is given one (`given_start`), else None (the start token)."""
    _check_task(task)
    return [_start_letter(task, s, text) for s, text in enumerate(group)]


def _start_letter(task, s, text):
    if not given_start(task, s):
        return None
    if not text:
        raise ValueError(f"stream {s} of {task!r} is given its first letter as its start letter; "
                         f"its text must not be empty")
    return text[0]


def repair_sources(n_groups, n_streams, rng):
    """Where each stream of each re-paired group comes from: sources[g][s] = original group.

    Stream s of new group g is stream s of original group perm[(g + s) % n_groups]
    for a random permutation perm, so the streams of a new group all come from
    different original groups (needs n_groups >= n_streams), and every original
    stream is used exactly once.
    """
    n_streams = check_int(n_streams, 'n_streams', 1)
    n_groups = check_int(n_groups, 'n_groups', n_streams)
    _check_rng(rng)
    perm = list(range(n_groups))
    rng.shuffle(perm)
    return [[perm[(g + s) % n_groups] for s in range(n_streams)] for g in range(n_groups)]


def realign(values, sources):
    """Per-stream values of re-paired groups (their losses under `controls.losses_under`, say)
    put back in the original groups' order: out[h][s] is stream s's value from the re-paired
    group that took it from original group h (`sources` is `repair_sources`, drawn as
    `repair` drew it). Then every group has the same texts as under the other conditions,
    and a difference can pair them name by name."""
    n, k = len(values), len(values[0]) if values else 0
    if len(sources) != n or any(len(src) != k for src in sources):
        raise ValueError(f"sources must give, for each of the {n} groups, the origin of its {k} streams")
    out = [[None] * k for _ in range(n)]
    for g, src in enumerate(sources):
        for s, h in enumerate(src):
            if out[h][s] is not None:
                raise ValueError(f"stream {s} of group {h} appears twice in sources")
            out[h][s] = values[g][s]
    return out


def repair(groups, rng):
    """The same streams with partners from different groups: the re-paired control.

    Every stream keeps its role and its text, so per-token losses are comparable with
    the original groups; only who writes beside whom changes.
    """
    groups = [tuple(g) for g in groups]
    if not groups:
        raise ValueError("repair needs at least one group")
    n_streams = len(groups[0])
    if any(len(g) != n_streams for g in groups):
        raise ValueError("every group must have the same number of streams")
    sources = repair_sources(len(groups), n_streams, rng)
    return [tuple(groups[src[s]][s] for s in range(n_streams)) for src in sources]

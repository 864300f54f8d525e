"""The notes bus as preallocated arrays (`bus.NotesBus`'s read rule), what a block reads
from it, and which streams of a round may run together as one block."""
import numpy as np

from ..bus import emits

SEED_ROUND = -(1 << 40)   # a plan seed is readable in every round
UNFILLED = 1 << 40        # an empty slot is readable in no round


class Bus:
    """`bus.NotesBus` as arrays: one slot per (stream, snapshot), stream-major.

    Slot s*Q is stream s's plan seed and s*Q + k its k-th post, so the slots a
    stream may read, in slot order, are exactly what NotesBus.read gives, in its
    order. A stream reads slot j in round t iff j belongs to another stream and
    round[j] + lag <= t; with lag 0 and streams run one at a time that is the
    reference's round-robin rule (posts of later streams do not exist yet).
    """

    def __init__(self, cfg, n_streams, cadence, lag):
        self.Q = 1 + cfg.block_size // cadence  # the seed + at most one post per `cadence` positions
        self.lag = lag
        n = n_streams * self.Q
        self.notes = np.zeros((n, cfg.notes_dim))
        self.stream = np.repeat(np.arange(n_streams), self.Q)
        self.round = np.full(n, UNFILLED, dtype=np.int64)
        self.count = [0] * n_streams  # snapshots so far per stream (the seed included)
        self.dnotes = None            # gradients, one extra "sink" row for notes a hook made up

    def seed(self, snapshots):
        n_streams = len(self.count)
        slots = np.arange(n_streams) * self.Q
        self.notes[slots] = snapshots
        self.round[slots] = SEED_ROUND
        self.count = [1] * n_streams
        return slots

    def post(self, streams, round_, snapshots):
        slots = np.array([s * self.Q + self.count[s] for s in streams])
        for s in streams:
            self.count[s] += 1
        self.notes[slots] = snapshots
        self.round[slots] = round_
        return slots

    def visible(self, streams, round_):
        """(B, n_slots) booleans: which slots each of `streams` reads in `round_`."""
        return (self.stream[None, :] != streams[:, None]) & (self.round[None, :] + self.lag <= round_)

    def label(self, slot):
        r = int(self.round[slot])
        return int(self.stream[slot]), (None if r == SEED_ROUND else r)

    def zero_grads(self):
        self.dnotes = np.zeros((len(self.notes) + 1, self.notes.shape[1]))


class Read:
    """The notes a block's rows read, and the bus slots they came from (`src`).

    Without a hook the rows share one (N, D) array of notes (the slots any of them may
    read), each row through its own (B, N) `visible` mask; `src` is (N,) slots. With a
    hook each row has its own (B, M, D) notes, padded, and `src` is (B, M), the sink
    slot for rows the hook made up.
    """

    def __init__(self, notes, visible, src, labels=None):
        self.notes, self.visible, self.src, self.labels = notes, visible, src, labels
        self.shared = notes.ndim == 2
        self.has = np.logical_or.reduce(visible, -1)  # (B,) rows with at least one note; the others
        self.has_all = bool(np.logical_and.reduce(self.has))  # get a zero delta
        # a row with no notes attends to anything (rather than to nothing, which is 0/0), and
        # its delta is then zeroed
        self.visible_eff = visible if self.has_all else visible | ~self.has[:, None]


def read_notes(bus, streams, round_, notes_hook=None):
    """What `streams` (B,) read in `round_`, through `notes_hook` if given (see
    loss.streams_loss_and_grads for the hook's contract)."""
    visible = bus.visible(streams, round_)
    if notes_hook is None:
        slots = np.logical_or.reduce(visible, 0).nonzero()[0]  # only what someone reads: empty slots cost time
        return Read(bus.notes[slots], visible[:, slots], slots)
    sink = len(bus.notes)
    rows, srcs, labels = [], [], []
    for b, reader in enumerate(streams):
        slots = np.flatnonzero(visible[b])
        given = bus.notes[slots]
        row_labels = [bus.label(j) for j in slots]
        got = np.asarray(notes_hook(int(reader), round_, row_labels, given.copy()), dtype=np.float64)
        if got.ndim != 2 or (len(got) and got.shape[1] != bus.notes.shape[1]):
            raise ValueError(f"notes_hook must return an (n_notes, {bus.notes.shape[1]}) array, "
                             f"got shape {got.shape}")
        # gradients flow back through a returned row only if it is one of the notes the hook
        # was given (kept, dropped or reordered); rows it made up (zeros, noise) are data
        # (equal plan seeds are common: a row still in its place keeps its own slot)
        given_bytes = [g.tobytes() for g in given]
        where = {}
        for key, j in zip(given_bytes, slots):
            where.setdefault(key, j)
        got_bytes = [row.tobytes() for row in got]
        src = np.array([slots[i] if i < len(slots) and key == given_bytes[i] else where.get(key, sink)
                        for i, key in enumerate(got_bytes)], dtype=np.int64)
        rows.append(got)
        srcs.append(src)
        labels.append([bus.label(j) if j != sink else None for j in src])
    M = max(len(r) for r in rows)
    notes = np.zeros((len(streams), M, bus.notes.shape[1]))
    vis = np.zeros((len(streams), M), dtype=bool)
    src = np.full((len(streams), M), sink, dtype=np.int64)
    for b, (r, s) in enumerate(zip(rows, srcs)):
        notes[b, :len(r)], vis[b, :len(r)], src[b, :len(r)] = r, True, s
    return Read(notes, vis, src, labels)


def round_blocks(bcfg, batched):
    """blocks(live, round) -> the blocks the live streams of a round run in, in order.

    batched=True: the whole round is one block (needs lag >= 1, so that nobody reads a
    post of its own round). batched=False: one stream at a time (the reference's
    round-robin). batched=None: as batched as the read rule allows: the whole round when
    lag >= 1, and also with lag 0 in rounds where nobody posts (every stream then reads
    the same notes whichever order they run in); one stream at a time otherwise.
    """
    if batched is not None and not isinstance(batched, (bool, np.bool_)):
        raise ValueError(f"batched must be True, False or None, got {batched!r}")
    if batched is not None:
        batched = bool(batched)
    if batched and bcfg.lag == 0:
        raise ValueError("batched decoding needs lag >= 1: with lag 0 a stream reads what earlier "
                         "streams posted in the same round, so the streams of a round must run in turn")

    def blocks(live, round_):
        if batched is False or (batched is None and bcfg.lag == 0 and emits(round_, bcfg.cadence)):
            return [[s] for s in live]
        return [live]
    return blocks


def round_passes(bcfg, lengths):
    """The forward passes, one after another, each round of a parallel decode takes when every
    pass that can be batched is (`round_blocks(bcfg, None)`): lengths[s] is how many positions
    stream s runs, so the live streams of round t are those with t < lengths[s]."""
    blocks = round_blocks(bcfg, None)
    return [len(blocks([s for s, n in enumerate(lengths) if t < n], t)) for t in range(max(lengths))]

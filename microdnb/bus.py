"""The Dynamic Notes Bus: where each stream posts snapshots and reads the others'.

A snapshot is a notes_dim vector projected from a stream's hidden state. A stream
posts one after position `pos` when `(pos + 1) % cadence == 0`; before any token,
the planner puts snapshot 0 (the plan seed) on every stream's bus.

Every argument is checked (config.check_int): a wrong one is a ValueError naming it.
"""
from .config import check_int


def emits(pos, cadence):
    """Does a stream post a snapshot after writing position `pos` (>= 0), with `cadence` (>= 1)?"""
    if not (type(pos) is int and type(cadence) is int and pos >= 0 and cadence >= 1):  # the hot path skips this
        pos = check_int(pos, 'pos', 0)
        cadence = check_int(cadence, 'cadence', 1)
    return (pos + 1) % cadence == 0


class NotesBus:
    """Snapshots per stream, with the read rule of `lag`.

    A snapshot posted in round r (round = position, streams advance round-robin) is
    readable by another stream in round t when r + lag <= t. With lag 0 the streams
    of a round run one after another (the reference), so a stream already sees what
    streams before it posted this round, and the others see it next round. With
    lag >= 1 no stream sees anything from its own round: the streams of a round are
    independent and can run as one batch. Plan seeds are readable from the start.
    A stream never reads its own notes (as in the reference).
    """

    def __init__(self, n_streams, lag=0):
        self.n_streams = check_int(n_streams, 'n_streams', 1)
        self.lag = check_int(lag, 'lag', 0)
        # per stream: list of (round or None for the plan seed, snapshot)
        self.snapshots = [[] for _ in range(self.n_streams)]

    def _check_stream(self, stream, name='stream'):
        if type(stream) is int and 0 <= stream < self.n_streams:  # the hot path
            return stream
        return check_int(stream, name, 0, self.n_streams - 1)

    def seed(self, stream, snapshot):
        """The planner's snapshot 0 for `stream`, readable at once."""
        stream = self._check_stream(stream)
        self.snapshots[stream].append((None, snapshot))

    def post(self, stream, round_, snapshot):
        """`stream`'s snapshot of round `round_` (>= 0)."""
        stream = self._check_stream(stream)
        round_ = round_ if type(round_) is int and round_ >= 0 else check_int(round_, 'round_', 0)
        self.snapshots[stream].append((round_, snapshot))

    def _readable(self, reader, round_):
        for oi in range(self.n_streams):
            if oi == reader:
                continue
            for r, snap in self.snapshots[oi]:
                if r is None or r + self.lag <= round_:
                    yield oi, r, snap

    def _check_read(self, reader, round_):
        reader = self._check_stream(reader, 'reader')
        return reader, round_ if type(round_) is int and round_ >= 0 else check_int(round_, 'round_', 0)

    def read(self, reader, round_):
        """The snapshots `reader` can attend to in `round_`: other streams in order, oldest first."""
        reader, round_ = self._check_read(reader, round_)
        return [snap for _, _, snap in self._readable(reader, round_)]

    def read_labels(self, reader, round_):
        """(stream, round) for each snapshot `read` returns; round None is the plan seed."""
        reader, round_ = self._check_read(reader, round_)
        return [(oi, r) for oi, r, _ in self._readable(reader, round_)]


def check_lengths(lengths, minimum=0):
    """How many positions each stream runs: a list of integers >= `minimum`, one per stream,
    at least one stream. Else ValueError naming what is wrong."""
    if isinstance(lengths, (str, bytes)) or not hasattr(lengths, '__iter__'):
        raise ValueError(f"lengths must be a list of integers >= {minimum} (one per stream), got {lengths!r:.60}")
    lengths = [check_int(n, f'lengths[{i}]', minimum) for i, n in enumerate(lengths)]
    if not lengths:
        raise ValueError("lengths must list at least one stream")
    return lengths


def visibility(lengths, cadence, lag, ended=()):
    """Which snapshots each stream can read at each round, without running a model.

    lengths: number of positions each stream runs (stream s runs rounds 0..lengths[s]-1).
    ended: streams whose last position sampled the end of the name (BOS). At inference
    such a stream stops without posting (the reference's inference loop); training, and
    every stream not listed, posts at each cadence position up to and including its last.
    Returns (posts, reads): posts[s] is the list of rounds after which stream s posts;
    reads[(s, t)] is the list of (stream, round) labels s reads at round t, in the
    order a `NotesBus` would give them (round None = plan seed). Streams run
    round-robin and post right after their token, so with lag 0 a later stream reads
    an earlier stream's post of the same round.
    """
    cadence = check_int(cadence, 'cadence', 1)
    lag = check_int(lag, 'lag', 0)
    lengths = check_lengths(lengths)
    if isinstance(ended, (str, bytes)) or not hasattr(ended, '__iter__'):
        raise ValueError(f"ended must be a collection of stream indices, got {ended!r:.60}")
    ended = {check_int(s, 'ended', 0) for s in ended}
    if not ended <= set(range(len(lengths))):
        raise ValueError(f"ended must list streams in 0..{len(lengths) - 1}, got {sorted(ended)}")
    bus = NotesBus(len(lengths), lag)
    for s in range(len(lengths)):
        bus.seed(s, None)
    posts = [[] for _ in lengths]
    reads = {}
    for t in range(max(lengths, default=0)):
        for s, n in enumerate(lengths):
            if t >= n:
                continue
            reads[(s, t)] = bus.read_labels(s, t)
            if emits(t, cadence) and not (s in ended and t == n - 1):
                bus.post(s, t, None)
                posts[s].append(t)
    return posts, reads

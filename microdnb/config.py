"""Settings as frozen dataclasses, and the one set of value checks the whole package uses.

Every field is checked when the object is made, so a bad value fails at once with a
ValueError naming the field and the allowed range. Numbers that Python treats as numbers
are accepted (numpy's int64 and float64 too) and stored as plain Python ints and floats;
bools are refused everywhere (True is not a model width).

The allowed ranges, defined once here (LIMITS) and used by the configs and the command
line alike, keep every setting where it can neither overflow nor exhaust memory:

  vocab_size  2 .. 4096         n_layer    1 .. 16        n_embd     1 .. 1024
  n_head      1 .. 1024 (and divides n_embd)              block_size 1 .. 1024
  notes_dim   1 .. 1024         n_streams  1 .. 64        cadence    1 .. 1024
  lag         0 .. 1024         steps, snc_steps  0 .. 10,000,000
  learning_rate, snc_learning_rate  (0, 10]    beta1, beta2  [0, 1)    eps_adam (0, 1]
  init_std    (0, 1]            gate_init  [-50, 50]      temperature [0.01, 100]
  gate (a sampling override)  [0, 1]                    seed (of random.Random)  0 .. 2**64 - 1
  and a model has at most MAX_PARAMS = 2,000,000 parameters (the reference has 5,217),
  so its checkpoint fits under checkpoint.MAX_BYTES (50 MB).

The validators, one argument order everywhere:
  check_int(value, name, minimum=None, maximum=None) -> int
  check_float(value, name, minimum=None, maximum=None, *, min_open=False, max_open=False) -> float
  check_temperature(value, name='temperature') -> float
"""
import math
import numbers
import sys
from dataclasses import dataclass, fields
from typing import NamedTuple

from .params import param_shapes


# ---- the validators ------------------------------------------------------------------

def show(value):
    """A value for an error message: its repr, shortened; a huge int by its number of digits
    (repr itself fails beyond Python's int-to-string limit)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -10**30 < value < 10**30:
        try:
            return f"an integer of {len(str(abs(value)))} digits"
        except ValueError:  # beyond sys.get_int_max_str_digits()
            return f"an integer of more than {sys.get_int_max_str_digits()} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _num(x):
    return f"{x:g}" if isinstance(x, float) else str(x)


def int_range_text(minimum=None, maximum=None):
    """'an integer in [1, 1024]', 'an integer >= 0', ... (the wording of every integer check)."""
    if minimum is not None and maximum is not None:
        return f"an integer in [{_num(minimum)}, {_num(maximum)}]"
    if minimum is not None:
        return f"an integer >= {_num(minimum)}"
    if maximum is not None:
        return f"an integer <= {_num(maximum)}"
    return "an integer"


def float_range_text(minimum=None, maximum=None, min_open=False, max_open=False):
    """'a number in (0, 10]', 'a number > 0', 'a finite number', ..."""
    if minimum is not None and maximum is not None:
        return (f"a number in {'(' if min_open else '['}{_num(minimum)}, {_num(maximum)}"
                f"{')' if max_open else ']'}")
    if minimum is not None:
        return f"a finite number {'>' if min_open else '>='} {_num(minimum)}"
    if maximum is not None:
        return f"a finite number {'<' if max_open else '<='} {_num(maximum)}"
    return "a finite number"


def check_int(value, name, minimum=None, maximum=None):
    """`value` as a plain int, if it is an integer (Python's or numpy's, not a bool and not
    2.0) within [minimum, maximum] (None: unbounded). Else ValueError naming `name`, the
    allowed range and what it got."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {int_range_text(minimum, maximum)}, got {show(value)}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {int_range_text(minimum, maximum)}, got {show(value)}")
    return value


def check_float(value, name, minimum=None, maximum=None, *, min_open=False, max_open=False):
    """`value` as a plain float, if it is a finite real number (int, float, numpy's; not a
    bool) within the interval (min_open / max_open exclude the end). Else ValueError naming
    `name`, the allowed range and what it got. NaN and infinity are always refused."""
    what = float_range_text(minimum, maximum, min_open, max_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {what}, got {show(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{name} must be {what}, got {show(value)}") from None
    if not math.isfinite(number) \
            or (minimum is not None and (number <= minimum if min_open else number < minimum)) \
            or (maximum is not None and (number >= maximum if max_open else number > maximum)):
        raise ValueError(f"{name} must be {what}, got {show(value)}")
    return number


class Range(NamedTuple):
    """An allowed range: kind 'int' or 'float', the ends (None = open-ended), and for
    floats whether each end is excluded."""
    kind: str
    low: object = None
    high: object = None
    low_open: bool = False
    high_open: bool = False

    def check(self, value, name):
        if self.kind == 'int':
            return check_int(value, name, self.low, self.high)
        return check_float(value, name, self.low, self.high, min_open=self.low_open, max_open=self.high_open)

    def text(self):
        if self.kind == 'int':
            return int_range_text(self.low, self.high)
        return float_range_text(self.low, self.high, self.low_open, self.high_open)


MAX_STEPS = 10_000_000
MAX_PARAMS = 2_000_000

LIMITS = {
    # ModelConfig
    'vocab_size': Range('int', 2, 4096),
    'n_layer': Range('int', 1, 16),
    'n_embd': Range('int', 1, 1024),
    'block_size': Range('int', 1, 1024),
    'n_head': Range('int', 1, 1024),
    'notes_dim': Range('int', 1, 1024),
    'init_std': Range('float', 0.0, 1.0, low_open=True),
    'gate_init': Range('float', -50.0, 50.0),
    # BusConfig
    'n_streams': Range('int', 1, 64),
    'cadence': Range('int', 1, 1024),
    'lag': Range('int', 0, 1024),
    # TrainConfig
    'steps': Range('int', 0, MAX_STEPS),
    'snc_steps': Range('int', 0, MAX_STEPS),
    'learning_rate': Range('float', 0.0, 10.0, low_open=True),
    'snc_learning_rate': Range('float', 0.0, 10.0, low_open=True),
    'beta1': Range('float', 0.0, 1.0, high_open=True),
    'beta2': Range('float', 0.0, 1.0, high_open=True),
    'eps_adam': Range('float', 0.0, 1.0, low_open=True),
    # sampling
    'temperature': Range('float', 0.01, 100.0),
    'gate': Range('float', 0.0, 1.0),
    'seed': Range('int', 0, 2 ** 64 - 1),
}


def limits_json(names):
    """The named LIMITS for a page's payload, {name: {kind, low, high, low_open, high_open,
    text}} (`names`: name in the page -> LIMITS key), so that its JavaScript checks settings
    against the package's ranges and words a refusal as Python does ("must be an integer in
    [1, 1024]"). Integer ends beyond 2**53 - 1, which a JavaScript number cannot hold
    exactly, are strings (for BigInt)."""
    def end(x):
        return str(x) if isinstance(x, int) and abs(x) > 2 ** 53 - 1 else x
    return {name: {**LIMITS[key]._asdict(), 'low': end(LIMITS[key].low), 'high': end(LIMITS[key].high),
                   'text': LIMITS[key].text()} for name, key in names.items()}


def _check_fields(obj):
    """Check every field of a config dataclass against LIMITS and store it as a plain number."""
    cls = type(obj).__name__
    for f in fields(obj):
        value = LIMITS[f.name].check(getattr(obj, f.name), f"{cls}.{f.name}")
        object.__setattr__(obj, f.name, value)


# ---- the configs -----------------------------------------------------------------------

@dataclass(frozen=True)
class ModelConfig:
    """The transformer and its SNC / planner additions. Defaults are the reference's."""
    vocab_size: int = 27
    n_layer: int = 1
    n_embd: int = 16
    block_size: int = 16
    n_head: int = 4
    notes_dim: int = 8       # width of one snapshot on the bus (the compressed channel)
    init_std: float = 0.08   # std of the Gaussian initialisation of every matrix
    gate_init: float = -5.0  # SNC gate logit at initialisation: sigmoid(-5) ~ 0.0067, nearly closed

    def __post_init__(self):
        _check_fields(self)
        if self.n_embd % self.n_head:
            raise ValueError(f"ModelConfig.n_embd ({self.n_embd}) must be divisible by "
                             f"ModelConfig.n_head ({self.n_head}); try n_head in "
                             f"{[h for h in range(1, self.n_embd + 1) if self.n_embd % h == 0]}")
        n = self.n_params
        if n > MAX_PARAMS:
            raise ValueError(f"ModelConfig has {n:,} parameters, over the limit of {MAX_PARAMS:,} "
                             f"(n_embd={self.n_embd}, n_layer={self.n_layer}, vocab_size={self.vocab_size}, "
                             f"block_size={self.block_size}, notes_dim={self.notes_dim}): make it smaller")

    @property
    def head_dim(self):
        return self.n_embd // self.n_head

    @property
    def n_params(self):
        """Number of parameters (every matrix of params.param_shapes)."""
        return sum(rows * cols for rows, cols in param_shapes(self).values())


@dataclass(frozen=True)
class BusConfig:
    """How streams share notes.

    cadence: a stream emits a snapshot after position p when (p + 1) % cadence == 0.
    lag: 0 is the reference's round-robin rule (a stream sees snapshots that streams
         before it emitted earlier in the same round); L >= 1 means a snapshot emitted
         in round r becomes visible to every other stream from round r + L on
         (the paper uses L = 1), so all streams of a round can run as one batch.
    """
    n_streams: int = 2
    cadence: int = 3
    lag: int = 0

    def __post_init__(self):
        _check_fields(self)


@dataclass(frozen=True)
class TrainConfig:
    """Adam settings for phase 1 (trunk) and phase 2 (SNC + planner, trunk frozen)."""
    steps: int = 1000
    learning_rate: float = 0.01
    snc_steps: int = 300
    snc_learning_rate: float = 0.005
    beta1: float = 0.85
    beta2: float = 0.99
    eps_adam: float = 1e-8

    def __post_init__(self):
        _check_fields(self)


# The reference script's bus in phase 2: 2 streams, a snapshot every 3 positions, round-robin reads.
REFERENCE_BUS = BusConfig(n_streams=2, cadence=3, lag=0)


def check_temperature(temperature, name='temperature'):
    """Sampling divides logits by the temperature: a number in [0.01, 100] (LIMITS), as a float."""
    return LIMITS['temperature'].check(temperature, name)


"""Settings as frozen dataclasses. Every field is checked when the object is made,
so a bad value fails at once with a message naming the field and what is allowed."""
import math
from dataclasses import asdict, dataclass


def _int(obj, name, minimum):
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{type(obj).__name__}.{name} must be an integer >= {minimum}, got {value!r}")


def _float(obj, name, low=None, high=None, low_open=True, high_open=True):
    value = getattr(obj, name)
    # NaN slips through every comparison below and infinity through the open-ended ones;
    # either would poison training, so both are rejected here
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{type(obj).__name__}.{name} must be a finite number, got {value!r}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = '-inf' if low is None else low
        hi = 'inf' if high is None else high
        interval = f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
        raise ValueError(f"{type(obj).__name__}.{name} must be in {interval}, got {value!r}")


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
        _int(self, 'vocab_size', 2)
        for name in ('n_layer', 'n_embd', 'block_size', 'n_head', 'notes_dim'):
            _int(self, name, 1)
        if self.n_embd % self.n_head:
            raise ValueError(f"ModelConfig.n_embd ({self.n_embd}) must be divisible by "
                             f"ModelConfig.n_head ({self.n_head}); try n_head in "
                             f"{[h for h in range(1, self.n_embd + 1) if self.n_embd % h == 0]}")
        _float(self, 'init_std', low=0)
        _float(self, 'gate_init')

    @property
    def head_dim(self):
        return self.n_embd // self.n_head


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
        _int(self, 'n_streams', 1)
        _int(self, 'cadence', 1)
        _int(self, 'lag', 0)


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
        _int(self, 'steps', 0)
        _int(self, 'snc_steps', 0)
        _float(self, 'learning_rate', low=0)
        _float(self, 'snc_learning_rate', low=0)
        _float(self, 'beta1', low=0, high=1, low_open=False)
        _float(self, 'beta2', low=0, high=1, low_open=False)
        _float(self, 'eps_adam', low=0)


def check_temperature(temperature):
    """Sampling divides logits by the temperature, so it must be a positive number."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not temperature > 0 or temperature != temperature or temperature == float('inf'):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return temperature


def to_dict(cfg):
    return asdict(cfg)

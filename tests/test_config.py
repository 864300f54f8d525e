"""Every settings field rejects bad values with a ValueError that names the field."""
import math

import pytest

from microdnb.config import BusConfig, ModelConfig, TrainConfig, check_temperature, to_dict

NAN, INF = float('nan'), float('inf')
NOT_INTS = [1.5, 2.0, '3', None, True]
NOT_NUMBERS = ['0.1', None, True, NAN, INF, -INF]

BAD = [
    # (class, field, bad values)
    (ModelConfig, 'vocab_size', [1, 0, -3] + NOT_INTS),
    (ModelConfig, 'n_layer', [0, -1] + NOT_INTS),
    (ModelConfig, 'n_embd', [0, -16] + NOT_INTS),
    (ModelConfig, 'block_size', [0, -1] + NOT_INTS),
    (ModelConfig, 'n_head', [0, -4] + NOT_INTS),
    (ModelConfig, 'notes_dim', [0, -8] + NOT_INTS),
    (ModelConfig, 'init_std', [0, 0.0, -0.08] + NOT_NUMBERS),
    (ModelConfig, 'gate_init', NOT_NUMBERS),
    (BusConfig, 'n_streams', [0, -2] + NOT_INTS),
    (BusConfig, 'cadence', [0, -3] + NOT_INTS),
    (BusConfig, 'lag', [-1] + NOT_INTS),
    (TrainConfig, 'steps', [-1] + NOT_INTS),
    (TrainConfig, 'snc_steps', [-1] + NOT_INTS),
    (TrainConfig, 'learning_rate', [0, -0.01] + NOT_NUMBERS),
    (TrainConfig, 'snc_learning_rate', [0, -0.005] + NOT_NUMBERS),
    (TrainConfig, 'beta1', [-0.1, 1, 1.0, 1.5] + NOT_NUMBERS),
    (TrainConfig, 'beta2', [-0.1, 1, 1.0, 1.5] + NOT_NUMBERS),
    (TrainConfig, 'eps_adam', [0, -1e-8] + NOT_NUMBERS),
]
CASES = [(cls, field, value) for cls, field, values in BAD for value in values]


@pytest.mark.parametrize('cls, field, value', CASES,
                         ids=[f'{c.__name__}.{f}={v!r}' for c, f, v in CASES])
def test_bad_field_value_names_the_field(cls, field, value):
    with pytest.raises(ValueError, match=rf'{cls.__name__}\.{field}\b') as e:
        cls(**{field: value})
    assert repr(value) in str(e.value)  # says what it got


GOOD = [
    (ModelConfig, dict(vocab_size=2, n_layer=3, n_embd=6, block_size=1, n_head=3, notes_dim=1,
                       init_std=1e-3, gate_init=0)),
    (BusConfig, dict(n_streams=1, cadence=1, lag=0)),
    (BusConfig, dict(n_streams=5, cadence=7, lag=3)),
    (TrainConfig, dict(steps=0, snc_steps=0, learning_rate=1, snc_learning_rate=0.5, beta1=0,
                       beta2=0.0, eps_adam=1)),
]


@pytest.mark.parametrize('cls, kwargs', GOOD)
def test_boundary_values_are_accepted(cls, kwargs):
    cfg = cls(**kwargs)
    assert to_dict(cfg) == {**to_dict(cls()), **kwargs}


def test_defaults_are_the_reference_settings():
    assert to_dict(ModelConfig()) == dict(vocab_size=27, n_layer=1, n_embd=16, block_size=16, n_head=4,
                                          notes_dim=8, init_std=0.08, gate_init=-5.0)
    assert to_dict(BusConfig()) == dict(n_streams=2, cadence=3, lag=0)
    assert to_dict(TrainConfig()) == dict(steps=1000, learning_rate=0.01, snc_steps=300,
                                          snc_learning_rate=0.005, beta1=0.85, beta2=0.99, eps_adam=1e-8)
    assert ModelConfig().head_dim == 4


def test_n_embd_not_divisible_by_n_head_suggests_divisors():
    with pytest.raises(ValueError, match=r'n_embd \(10\) must be divisible by ModelConfig.n_head \(4\)') as e:
        ModelConfig(n_embd=10, n_head=4)
    assert '[1, 2, 5, 10]' in str(e.value)


def test_configs_are_frozen():
    cfg = ModelConfig()
    with pytest.raises(Exception):  # dataclasses.FrozenInstanceError
        cfg.n_embd = 32


@pytest.mark.parametrize('t', [0, 0.0, -0.5, NAN, INF, -INF, True, '0.5', None])
def test_check_temperature_rejects(t):
    with pytest.raises(ValueError, match='temperature must be a finite number > 0'):
        check_temperature(t)


@pytest.mark.parametrize('t', [0.5, 1, 2.0, 1e-3])
def test_check_temperature_accepts_and_returns(t):
    assert check_temperature(t) == t and not math.isnan(t)

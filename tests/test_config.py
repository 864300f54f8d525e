"""Every settings field rejects bad values with a ValueError that names the field and the
allowed range; the validators everyone imports (check_int, check_float) behave alike."""
import math
import time
from dataclasses import asdict, fields

import numpy as np
import pytest

from microdnb.config import (LIMITS, MAX_PARAMS, BusConfig, ModelConfig, TrainConfig, check_float, check_int,
                             check_temperature, show)

NAN, INF = float('nan'), float('inf')
NOT_INTS = [1.5, 2.0, '3', None, True, np.float64(2.0), np.bool_(True)]
NOT_NUMBERS = ['0.1', None, True, NAN, INF, -INF, np.float64('nan'), [0.1]]

BAD = [
    # (class, field, bad values): below, above and not numbers at all
    (ModelConfig, 'vocab_size', [1, 0, -3, 4097] + NOT_INTS),
    (ModelConfig, 'n_layer', [0, -1, 17] + NOT_INTS),
    (ModelConfig, 'n_embd', [0, -16, 1025, 100_000] + NOT_INTS),
    (ModelConfig, 'block_size', [0, -1, 1025] + NOT_INTS),
    (ModelConfig, 'n_head', [0, -4, 1025] + NOT_INTS),
    (ModelConfig, 'notes_dim', [0, -8, 1025] + NOT_INTS),
    (ModelConfig, 'init_std', [0, 0.0, -0.08, 1.5] + NOT_NUMBERS),
    (ModelConfig, 'gate_init', [-51, 50.5, 1e300] + NOT_NUMBERS),
    (BusConfig, 'n_streams', [0, -2, 65] + NOT_INTS),
    (BusConfig, 'cadence', [0, -3, 1025] + NOT_INTS),
    (BusConfig, 'lag', [-1, 1025] + NOT_INTS),
    (TrainConfig, 'steps', [-1, 10**7 + 1] + NOT_INTS),
    (TrainConfig, 'snc_steps', [-1, 10**7 + 1] + NOT_INTS),
    (TrainConfig, 'learning_rate', [0, -0.01, 10.5, 1e300] + NOT_NUMBERS),
    (TrainConfig, 'snc_learning_rate', [0, -0.005, 11] + NOT_NUMBERS),
    (TrainConfig, 'beta1', [-0.1, 1, 1.0, 1.5] + NOT_NUMBERS),
    (TrainConfig, 'beta2', [-0.1, 1, 1.0, 1.5] + NOT_NUMBERS),
    (TrainConfig, 'eps_adam', [0, -1e-8, 2] + NOT_NUMBERS),
]
CASES = [(cls, field, value) for cls, field, values in BAD for value in values]


@pytest.mark.parametrize('cls, field, value', CASES,
                         ids=[f'{c.__name__}.{f}={v!r}' for c, f, v in CASES])
def test_bad_field_value_names_the_field_and_the_range(cls, field, value):
    if cls is ModelConfig and field == 'n_head' and value == 1025:
        kwargs = dict(n_embd=1024, n_head=1025)
    else:
        kwargs = {field: value}
    with pytest.raises(ValueError, match=rf'{cls.__name__}\.{field}\b') as e:
        cls(**kwargs)
    assert repr(value) in str(e.value)  # says what it got
    assert LIMITS[field].text() in str(e.value)  # and what is allowed


def test_every_config_field_has_its_range_in_limits():
    for cls in (ModelConfig, BusConfig, TrainConfig):
        for f in fields(cls):
            assert f.name in LIMITS, f.name
            LIMITS[f.name].check(getattr(cls(), f.name), f.name)  # the defaults are inside


@pytest.mark.parametrize('field, value', [('n_layer', 10**400), ('steps', -10**400), ('learning_rate', 10**400),
                                          ('n_embd', 10**5000)], ids=['n_layer', 'steps', 'learning_rate', 'n_embd'])
def test_huge_integers_are_refused_without_printing_them(field, value):
    cls = next(c for c in (ModelConfig, TrainConfig) if field in {f.name for f in fields(c)})
    with pytest.raises(ValueError, match=rf'{cls.__name__}\.{field} must be .*, got an integer of (401|more than \d+) digits'):
        cls(**{field: value})


def test_numpy_scalars_are_accepted_and_stored_as_python_numbers():
    m = ModelConfig(vocab_size=np.int64(27), n_embd=np.int32(8), n_head=np.int64(2), init_std=np.float64(0.05),
                    gate_init=np.float32(-2.0), n_layer=np.uint8(2))
    b = BusConfig(n_streams=np.int64(3), cadence=np.int16(2), lag=np.int64(1))
    t = TrainConfig(steps=np.int64(5), learning_rate=np.float64(0.02), beta1=np.float32(0.5), eps_adam=1)
    for cfg in (m, b, t):
        for f in fields(cfg):
            value = getattr(cfg, f.name)
            assert type(value) is (int if LIMITS[f.name].kind == 'int' else float), (f.name, type(value))
    assert m == ModelConfig(vocab_size=27, n_embd=8, n_head=2, init_std=0.05, gate_init=-2.0, n_layer=2)
    assert t.eps_adam == 1.0 and type(t.eps_adam) is float


def test_model_size_is_capped_quickly():
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r'ModelConfig\.n_embd must be an integer in \[1, 1024\], got 100000'):
        ModelConfig(n_embd=100_000)
    with pytest.raises(ValueError, match=rf'parameters, over the limit of {MAX_PARAMS:,}'):
        ModelConfig(n_embd=1024, n_head=4, n_layer=16)
    assert time.perf_counter() - start < 1
    assert ModelConfig().n_params == 5217  # the reference's 4,192 + 1,025


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
    assert asdict(cfg) == {**asdict(cls()), **kwargs}


def test_defaults_are_the_reference_settings():
    assert asdict(ModelConfig()) == dict(vocab_size=27, n_layer=1, n_embd=16, block_size=16, n_head=4,
                                          notes_dim=8, init_std=0.08, gate_init=-5.0)
    assert asdict(BusConfig()) == dict(n_streams=2, cadence=3, lag=0)
    assert asdict(TrainConfig()) == dict(steps=1000, learning_rate=0.01, snc_steps=300,
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


@pytest.mark.parametrize('t', [0, 0.0, -0.5, NAN, INF, -INF, True, '0.5', None, 1e-320, 0.0099, 100.5, 1e300,
                               10**400], ids=show)
def test_check_temperature_rejects(t):
    with pytest.raises(ValueError, match=r'temperature must be a number in \[0.01, 100\], got '):
        check_temperature(t)


@pytest.mark.parametrize('t', [0.5, 1, 2.0, 0.01, 100, np.float64(0.7)])
def test_check_temperature_accepts_and_returns_a_float(t):
    out = check_temperature(t)
    assert out == t and type(out) is float and not math.isnan(out)


# ---- the validators ---------------------------------------------------------------------------

def test_check_int():
    assert check_int(5, 'k') == 5 and check_int(np.int64(5), 'k', 0, 9) == 5
    assert type(check_int(np.int64(5), 'k')) is int
    assert check_int(0, 'k', minimum=0) == 0 and check_int(9, 'k', maximum=9) == 9
    for value, minimum, maximum, text in [(True, None, None, 'an integer, got True'),
                                          (2.0, None, None, 'an integer, got 2.0'),
                                          ('3', 0, None, "an integer >= 0, got '3'"),
                                          (-1, 0, None, 'an integer >= 0, got -1'),
                                          (10, None, 9, 'an integer <= 9, got 10'),
                                          (10, 1, 9, r'an integer in \[1, 9\], got 10'),
                                          (10**401, 1, 9, r'an integer in \[1, 9\], got an integer of 402 digits')]:
        with pytest.raises(ValueError, match=rf'^k must be {text}'):
            check_int(value, 'k', minimum, maximum)


def test_check_float():
    assert check_float(1, 'x') == 1.0 and type(check_float(1, 'x')) is float
    assert check_float(np.float32(0.5), 'x', 0, 1) == 0.5
    assert check_float(0, 'x', 0, 1) == 0.0 and check_float(1, 'x', 0, 1) == 1.0  # closed by default
    for value, kwargs, text in [(0, dict(minimum=0, maximum=1, min_open=True), r'a number in \(0, 1\]'),
                                (1, dict(maximum=1, max_open=True), 'a finite number < 1'),
                                (-1, dict(minimum=0), 'a finite number >= 0'),
                                (NAN, {}, 'a finite number, got nan'),
                                (-INF, dict(maximum=5), 'a finite number <= 5, got -inf'),
                                (True, {}, 'a finite number, got True'),
                                ('1', {}, "a finite number, got '1'"),
                                (10**400, {}, 'a finite number, got an integer of 401 digits')]:
        with pytest.raises(ValueError, match=rf'^x must be {text}'):
            check_float(value, 'x', **kwargs)

"""Checkpoints: exact round trip, atomic writes, and every way a file can be wrong."""
import errno
import json
import math
import os
import random
import time

import pytest

from microdnb.scalar.autograd import Value
from microdnb import fileio
from microdnb.checkpoint import FORMAT, MAX_BYTES, load_checkpoint, save_checkpoint
from microdnb.config import BusConfig, ModelConfig, TrainConfig
from microdnb.scalar.model import init_params, params_from
from microdnb.scalar.train import train_phase1


def floats_hex(sd):
    """Parameters as float.hex strings: equal only if bit-identical (sign of zero included)."""
    return {k: [[float(v.data if isinstance(v, Value) else v).hex() for v in row] for row in m]
            for k, m in sd.items()}


_TRAINED = {}   # (config, docs) -> the trained parameters as floats


@pytest.fixture
def trained(tiny_cfg, tiny_docs, tiny_tokenizer):
    """The tiny model after two training steps (trained once per test process), as fresh
    Values for each test, with awkward floats in it."""
    key = (repr(tiny_cfg), tuple(tiny_docs))
    if key not in _TRAINED:
        sd = init_params(tiny_cfg, random.Random(9))
        train_phase1(sd, tiny_cfg, TrainConfig(steps=2), tiny_docs, tiny_tokenizer)
        _TRAINED[key] = {k: [[v.data for v in row] for row in m] for k, m in sd.items()}
    sd = {k: [[Value(x) for x in row] for row in m] for k, m in _TRAINED[key].items()}
    # awkward floats that a lossy format would change
    sd['wte'][0][0].data = -0.0
    sd['wte'][0][1].data = 5e-324          # the smallest subnormal
    sd['wte'][0][2].data = 0.1 + 0.2       # 0.30000000000000004
    sd['wte'][0][3].data = -999999999.9999999  # near the bound (checkpoint.MAX_WEIGHT)
    return sd


def test_round_trip_is_exact(tmp_path, trained, tiny_cfg, tiny_tokenizer):
    bus = BusConfig(n_streams=3, cadence=2, lag=1)
    path = save_checkpoint(tmp_path / 'ck.json', trained, tiny_cfg, tiny_tokenizer, bus, meta={'seed': 9})
    ck = load_checkpoint(path, expect_cfg=tiny_cfg)
    assert floats_hex(params_from(ck['params'])) == floats_hex(trained)
    assert all(isinstance(v, Value) for m in params_from(ck['params']).values() for row in m for v in row)
    assert ck['cfg'] == tiny_cfg and ck['bus_cfg'] == bus and ck['meta'] == {'seed': 9}
    assert ck['tokenizer'].uchars == tiny_tokenizer.uchars
    assert ck['tokenizer'].encode('emma') == tiny_tokenizer.encode('emma')
    # saving what was loaded gives the same bytes
    again = save_checkpoint(tmp_path / 'ck2.json', params_from(ck['params']), ck['cfg'], ck['tokenizer'], ck['bus_cfg'],
                            meta=ck['meta'])
    assert again.read_bytes() == path.read_bytes()


def test_numpy_arrays_save_like_values(tmp_path, trained, tiny_cfg, tiny_tokenizer):
    np = pytest.importorskip('numpy')
    arrays = {k: np.array([[v.data for v in row] for row in m]) for k, m in trained.items()}
    a = save_checkpoint(tmp_path / 'a.json', trained, tiny_cfg, tiny_tokenizer)
    b = save_checkpoint(tmp_path / 'b.json', arrays, tiny_cfg, tiny_tokenizer)
    assert a.read_bytes() == b.read_bytes()
    assert load_checkpoint(b)['bus_cfg'] is None


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, trained, tiny_cfg, tiny_tokenizer, monkeypatch):
    path = tmp_path / 'sub' / 'ck.json'
    with pytest.raises(FileNotFoundError, match='folder .*sub does not exist'):  # not created silently
        save_checkpoint(path, trained, tiny_cfg, tiny_tokenizer)
    assert list(tmp_path.iterdir()) == []
    path.parent.mkdir()
    save_checkpoint(path, trained, tiny_cfg, tiny_tokenizer)
    assert sorted(p.name for p in path.parent.iterdir()) == ['ck.json']
    good = path.read_bytes()

    # crash in the middle of writing the new version: half a file has been written
    real_dump = json.dump

    def dump_half_then_fail(obj, f, **kw):
        f.write(json.dumps(obj)[:1000])
        raise OSError('disk full')
    monkeypatch.setattr(json, 'dump', dump_half_then_fail)
    trained['wte'][1][1].data += 1.0
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint(path, trained, tiny_cfg, tiny_tokenizer)
    monkeypatch.setattr(json, 'dump', real_dump)
    assert path.read_bytes() == good  # the previous checkpoint is intact
    assert sorted(p.name for p in path.parent.iterdir()) == ['ck.json']
    load_checkpoint(path)


def test_expect_cfg_mismatch_names_the_fields(tmp_path, trained, tiny_cfg, tiny_tokenizer):
    path = save_checkpoint(tmp_path / 'ck.json', trained, tiny_cfg, tiny_tokenizer)
    other = ModelConfig(vocab_size=tiny_cfg.vocab_size, n_embd=16, n_head=2, block_size=8, notes_dim=4)
    with pytest.raises(ValueError, match=r'n_embd expected 16, file has 8'):
        load_checkpoint(path, expect_cfg=other)


def edit(path, fn):
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize('change, match', [
    (lambda d: d['params']['wte'].pop(), r"params\['wte'\] is 15x8, but"),     # a row missing
    (lambda d: d['params']['snc_wq'][0].append(0.5), r"params\['snc_wq'\] is 8x8/9, but"),   # a column too many
    (lambda d: d['params'].pop('snc_gate'), r"snc_gate"),                         # a matrix missing
    (lambda d: d['params'].update(extra=[[1.0]]), r"extra"),                      # one too many
    (lambda d: d.update(uchars=d['uchars'][:-1]), 'vocab_size'),                  # vocabulary too short
    (lambda d: d['model'].update(n_head=3), 'divisible'),                         # invalid config
    (lambda d: d['model'].update(colour='red'), 'colour'),                        # unknown config field
    (lambda d: d.update(bus={'n_streams': 0, 'cadence': 3, 'lag': 0}), 'n_streams'),
    (lambda d: d.update(format='microdnb-checkpoint-v0'), FORMAT),
    (lambda d: d.pop('params'), 'params'),
    (lambda d: d.pop('model'), 'model'),
    (lambda d: d['params']['wte'][0].__setitem__(0, 'x'), 'wte'),                 # not a number
    (lambda d: d.update(uchars=7), 'uchars must be a string, got 7'),
    (lambda d: d['model'].pop('notes_dim'), "model has no field 'notes_dim'"),   # not a default: refused
])
def test_wrong_contents_raise_value_error(tmp_path, trained, tiny_cfg, tiny_tokenizer, change, match):
    path = save_checkpoint(tmp_path / 'ck.json', trained, tiny_cfg, tiny_tokenizer)
    edit(path, change)
    with pytest.raises(ValueError, match=match):
        load_checkpoint(path)


@pytest.mark.parametrize('content', [b'', b'not json at all', b'{"params": ', b'[1, 2, 3]', b'"microdnb"',
                                     b'null', b'\x89PNG\r\n\x1a\n\xff\xfe'])
def test_not_a_checkpoint_raises_value_error(tmp_path, content):
    path = tmp_path / 'ck.json'
    path.write_bytes(content)
    with pytest.raises(ValueError, match='ck.json'):
        load_checkpoint(path)


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json does not exist .*python -m microdnb train'):
        load_checkpoint(tmp_path / 'nope.json')


@pytest.mark.parametrize('bad', [None, 3, b'ck.json'])
def test_path_that_is_not_a_file_name_is_a_type_error_naming_the_argument(bad, tiny_cfg, tiny_tokenizer):
    with pytest.raises(TypeError, match='load_checkpoint: path must be a file name'):
        load_checkpoint(bad)
    with pytest.raises(TypeError, match='save_checkpoint: path must be a file name'):
        save_checkpoint(bad, {}, tiny_cfg, tiny_tokenizer)


def test_path_that_is_not_a_readable_file_says_exactly_what_it_is(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r'checkpoint .* is a directory, not a regular file'):
        load_checkpoint(tmp_path)
    fifo = tmp_path / 'pipe.json'
    os.mkfifo(fifo)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r'pipe.json is a FIFO \(named pipe\), not a regular file'):
        load_checkpoint(fifo)  # without blocking on the open
    assert time.perf_counter() - start < 1
    loop = tmp_path / 'loop.json'
    loop.symlink_to(loop)
    with pytest.raises(ValueError, match='loop.json is a symbolic link loop'):
        load_checkpoint(loop)
    dangling = tmp_path / 'dangling.json'
    dangling.symlink_to(tmp_path / 'gone.json')
    with pytest.raises(FileNotFoundError, match='dangling.json is a symbolic link to .*gone.json, which does not exist'):
        load_checkpoint(dangling)
    (tmp_path / 'locked.json').write_text('{}')

    def refuse(*a, **k):  # what the kernel says to a user without read permission (root always reads)
        raise PermissionError(errno.EACCES, 'Permission denied')
    monkeypatch.setattr(fileio.os, 'open', refuse)
    with pytest.raises(PermissionError, match='locked.json cannot be read: permission denied'):
        load_checkpoint(tmp_path / 'locked.json')


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path):
    big = tmp_path / 'big.json'
    with open(big, 'wb') as f:
        f.truncate(MAX_BYTES + 1)  # sparse
    with pytest.raises(ValueError, match=rf'big.json is {MAX_BYTES + 1:,} bytes, over the {MAX_BYTES:,}-byte limit'):
        load_checkpoint(big)


def test_deep_nesting_is_refused_before_json_recurses(tmp_path):
    path = tmp_path / 'deep.json'
    path.write_text('{"format": "microdnb-checkpoint-v1", "meta": ' + '[' * 2_000 + ']' * 2_000 + '}')
    with pytest.raises(ValueError, match='deep.json nests arrays/objects more than 10 levels deep'):
        load_checkpoint(path)


@pytest.mark.parametrize('change, match', [
    (lambda d: d['params']['wte'][0].__setitem__(1, float('nan')), r'params\.wte\[0\]\[1\] is NaN'),
    (lambda d: d['params']['snc_gate'][0].__setitem__(0, float('inf')), r'params\.snc_gate\[0\]\[0\] is Infinity'),
    (lambda d: d['params']['wpe'][2].__setitem__(0, float('-inf')), r'params\.wpe\[2\]\[0\] is -Infinity'),
    (lambda d: d['model'].update(init_std=float('nan')), r'model\.init_std is NaN'),
])
def test_non_finite_numbers_are_refused_naming_file_and_field(tmp_path, trained, tiny_cfg, tiny_tokenizer,
                                                              change, match):
    path = save_checkpoint(tmp_path / 'ck.json', trained, tiny_cfg, tiny_tokenizer)
    edit(path, change)  # json.dumps writes NaN and Infinity, as a careless tool would
    with pytest.raises(ValueError, match=rf'^checkpoint {path}: {match}'):
        load_checkpoint(path)


@pytest.mark.parametrize('old, new, match', [
    ('"n_embd": 8', '"n_embd": ' + '9' * 401, r'model\.n_embd is an integer of 401 digits'),
    ('"n_embd": 8', '"n_embd": ' + '9' * 5000, r'model\.n_embd is an integer of 5000 digits'),
    ('"n_embd": 8', '"n_embd": ' + '9' * 50, r"field 'model': ModelConfig\.n_embd must be an integer in \[1, 1024\], got an integer of 50 digits"),
    ('"n_embd": 8', '"n_embd": true', r"model\.n_embd must be an integer, got True"),
    ('"n_embd": 8', '"n_embd": 8.0', r"field 'model': ModelConfig\.n_embd must be .*got 8.0"),  # JSON Schema: 8.0 is an integer
    ('"n_embd": 8', '"n_embd": "8"', r"model\.n_embd must be an integer, got '8'"),
    ('"n_embd": 8', '"n_embd": 4096', r"field 'model': ModelConfig\.n_embd must be an integer in \[1, 1024\], got 4096"),
    ('"gate_init": -5.0', '"gate_init": 1e400', r'model\.gate_init is 1e400, beyond the range of a float'),
    ('"cadence": 2', '"cadence": 0', r"field 'bus': BusConfig\.cadence must be"),
    ('"snc_gate": [[-5.0', '"snc_gate": [[' + '1' * 401, r'params\.snc_gate\[0\]\[0\] is an integer of 401 digits'),
    ('"snc_gate": [[-5.0', '"snc_gate": [[1e999', r'params\.snc_gate\[0\]\[0\] is 1e999, beyond the range of a float'),
    ('"snc_gate": [[-5.0', '"snc_gate": [[true', r'params\.snc_gate\[0\]\[0\] is True, not a number'),
    ('"meta": {}', '"meta": [1]', r"meta must be an object, got \[1\]"),
    ('"lag": 0}', '"lag": 0, "extra": 1}', r"bus has a field 'extra' that this version of microdnb does not know"),
])
def test_wrong_values_name_file_and_field(tmp_path, trained, tiny_cfg, tiny_tokenizer, old, new, match):
    path = save_checkpoint(tmp_path / 'ck.json', trained, tiny_cfg, tiny_tokenizer,
                           BusConfig(n_streams=2, cadence=2, lag=0))
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ValueError, match=rf'^checkpoint {path}: {match}'):
        load_checkpoint(path)


def test_files_are_strict_json(tmp_path, trained, tiny_cfg, tiny_tokenizer):
    path = save_checkpoint(tmp_path / 'ck.json', trained, tiny_cfg, tiny_tokenizer, meta={'note': 'é'})

    def refuse(name):
        raise AssertionError(f'{name} in a checkpoint')
    doc = json.loads(path.read_bytes().decode('utf-8'), parse_constant=refuse)
    assert doc['format'] == FORMAT and doc['meta'] == {'note': 'é'}


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), float('-inf')])
def test_save_refuses_non_finite_parameters_by_name(tmp_path, trained, tiny_cfg, tiny_tokenizer, bad):
    path = tmp_path / 'ck.json'
    path.write_text('the previous checkpoint')
    trained['layer0.mlp_fc1'][3][2].data = bad
    with pytest.raises(ValueError, match=rf"params\['layer0.mlp_fc1'\]\[3\]\[2\] is {bad}, not a finite number"):
        save_checkpoint(path, trained, tiny_cfg, tiny_tokenizer)
    np = pytest.importorskip('numpy')
    arrays = {k: np.array([[v.data for v in row] for row in m]) for k, m in trained.items()}
    with pytest.raises(ValueError, match=r"params\['layer0.mlp_fc1'\]\[3\]\[2\]"):
        save_checkpoint(path, arrays, tiny_cfg, tiny_tokenizer)
    assert path.read_text() == 'the previous checkpoint' and os.listdir(tmp_path) == ['ck.json']


def test_save_refuses_meta_that_is_not_strict_json(tmp_path, trained, tiny_cfg, tiny_tokenizer):
    for meta, match in (({'loss': math.nan}, 'meta cannot be written as strict JSON'),
                        ({'f': object()}, 'meta cannot be written as strict JSON'),
                        ([1], r'meta must be an object, got \[1\]')):
        with pytest.raises(ValueError, match=match):
            save_checkpoint(tmp_path / 'ck.json', trained, tiny_cfg, tiny_tokenizer, meta=meta)
    with pytest.raises(ValueError, match="bus has no field 'n_streams'"):
        save_checkpoint(tmp_path / 'ck.json', trained, tiny_cfg, tiny_tokenizer, bus_cfg={'cadence': 3})
    assert os.listdir(tmp_path) == []


def test_save_validates(tmp_path, trained, tiny_cfg, tiny_tokenizer):
    sd = dict(trained)
    del sd['lm_head']
    with pytest.raises(ValueError, match="missing 'lm_head'"):
        save_checkpoint(tmp_path / 'a.json', sd, tiny_cfg, tiny_tokenizer)
    sd = dict(trained, wpe=trained['wpe'][:-1])
    with pytest.raises(ValueError, match=r"params\['wpe'\] is \d+x\d+, but the config needs"):
        save_checkpoint(tmp_path / 'b.json', sd, tiny_cfg, tiny_tokenizer)
    big = ModelConfig(vocab_size=tiny_cfg.vocab_size + 1, n_embd=8, n_head=2, block_size=8, notes_dim=4)
    with pytest.raises(ValueError, match="characters, which do not fit vocab_size"):
        save_checkpoint(tmp_path / 'c.json', init_params(big, random.Random(0)), big, tiny_tokenizer)
    with pytest.raises(ValueError, match="model has no field 'vocab_size'"):
        save_checkpoint(tmp_path / 'd.json', trained, {'n_embd': 8}, tiny_tokenizer)
    assert list(tmp_path.iterdir()) == []  # nothing written by a refused save

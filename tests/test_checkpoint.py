"""Checkpoints: exact round trip, atomic writes, and every way a file can be wrong."""
import json
import random

import pytest

from microdnb.autograd import Value
from microdnb.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from microdnb.config import BusConfig, ModelConfig, TrainConfig
from microdnb.model import init_params
from microdnb.train import train_phase1


def floats_hex(sd):
    """Parameters as float.hex strings: equal only if bit-identical (sign of zero included)."""
    return {k: [[float(v.data if isinstance(v, Value) else v).hex() for v in row] for row in m]
            for k, m in sd.items()}


@pytest.fixture
def trained(tiny_cfg, tiny_docs, tiny_tokenizer):
    sd = init_params(tiny_cfg, random.Random(9))
    train_phase1(sd, tiny_cfg, TrainConfig(steps=2), tiny_docs, tiny_tokenizer)
    # awkward floats that a lossy format would change
    sd['wte'][0][0].data = -0.0
    sd['wte'][0][1].data = 5e-324          # the smallest subnormal
    sd['wte'][0][2].data = 0.1 + 0.2       # 0.30000000000000004
    sd['wte'][0][3].data = 1.7976931348623157e308
    return sd


def test_round_trip_is_exact(tmp_path, trained, tiny_cfg, tiny_tokenizer):
    bus = BusConfig(n_streams=3, cadence=2, lag=1)
    path = save_checkpoint(tmp_path / 'ck.json', trained, tiny_cfg, tiny_tokenizer, bus, meta={'seed': 9})
    ck = load_checkpoint(path, expect_cfg=tiny_cfg)
    assert floats_hex(ck['state_dict']) == floats_hex(trained)
    assert all(isinstance(v, Value) for m in ck['state_dict'].values() for row in m for v in row)
    assert ck['cfg'] == tiny_cfg and ck['bus_cfg'] == bus and ck['meta'] == {'seed': 9}
    assert ck['tokenizer'].uchars == tiny_tokenizer.uchars
    assert ck['tokenizer'].encode('emma') == tiny_tokenizer.encode('emma')
    # saving what was loaded gives the same bytes
    again = save_checkpoint(tmp_path / 'ck2.json', ck['state_dict'], ck['cfg'], ck['tokenizer'], ck['bus_cfg'],
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
    (lambda d: d['params']['wte'].pop(), r"'wte' is not"),                       # a row missing
    (lambda d: d['params']['snc_wq'][0].append(0.5), r"'snc_wq' is not"),         # a column too many
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
    with pytest.raises(FileNotFoundError, match='python -m microdnb train'):
        load_checkpoint(tmp_path / 'nope.json')


def test_save_validates(tmp_path, trained, tiny_cfg, tiny_tokenizer):
    sd = dict(trained)
    del sd['lm_head']
    with pytest.raises(ValueError, match="no parameter 'lm_head'"):
        save_checkpoint(tmp_path / 'a.json', sd, tiny_cfg, tiny_tokenizer)
    sd = dict(trained, wpe=trained['wpe'][:-1])
    with pytest.raises(ValueError, match="'wpe' is not"):
        save_checkpoint(tmp_path / 'b.json', sd, tiny_cfg, tiny_tokenizer)
    big = ModelConfig(vocab_size=tiny_cfg.vocab_size + 1, n_embd=8, n_head=2, block_size=8, notes_dim=4)
    with pytest.raises(ValueError, match='tokens but cfg.vocab_size'):
        save_checkpoint(tmp_path / 'c.json', init_params(big, random.Random(0)), big, tiny_tokenizer)
    with pytest.raises(ValueError, match='ModelConfig'):
        save_checkpoint(tmp_path / 'd.json', trained, {'n_embd': 8}, tiny_tokenizer)
    assert list(tmp_path.iterdir()) == []  # nothing written by a refused save

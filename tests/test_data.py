"""The dataset (pinned file, SHA-256, cache, MICRODNB_NAMES, offline behaviour) and the tokenizer."""
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from microdnb import data
from microdnb.data import NAMES_SHA256, NAMES_URL, Tokenizer, load_docs, names_path, read_docs


# ---- the real dataset ------------------------------------------------------------

def test_load_docs_reads_the_verified_names(names_file):
    docs = load_docs()
    assert len(docs) == 32033
    assert docs[:3] == ['emma', 'olivia', 'ava']
    assert all(d == d.strip() and d for d in docs)
    assert data.sha256_of(names_file) == NAMES_SHA256


def test_vocabulary_of_the_names_is_the_reference_one(all_docs):
    tok = Tokenizer.from_docs(all_docs)
    assert tok.uchars == list('abcdefghijklmnopqrstuvwxyz')
    assert (tok.BOS, tok.vocab_size) == (26, 27)


# ---- MICRODNB_NAMES and the cache --------------------------------------------------

@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """No MICRODNB_NAMES, an empty cache in tmp, and every download attempt fails as offline."""
    monkeypatch.delenv('MICRODNB_NAMES', raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    calls = []

    def offline(url, filename=None, *args, **kwargs):
        calls.append((url, filename))
        raise urllib.error.URLError('[Errno -3] Temporary failure in name resolution')
    monkeypatch.setattr(urllib.request, 'urlretrieve', offline)
    return calls


def test_env_var_pointing_at_a_missing_file(monkeypatch, tmp_path):
    monkeypatch.setenv('MICRODNB_NAMES', str(tmp_path / 'nope.txt'))
    with pytest.raises(FileNotFoundError, match='MICRODNB_NAMES') as e:
        names_path()
    assert 'nope.txt' in str(e.value) and NAMES_URL in str(e.value)


def test_env_var_pointing_at_a_file_with_the_wrong_sha256(monkeypatch, tmp_path):
    bad = tmp_path / 'names.txt'
    bad.write_text('emma\nolivia\n')
    monkeypatch.setenv('MICRODNB_NAMES', str(bad))
    with pytest.raises(ValueError, match='SHA-256') as e:
        load_docs()
    assert 'MICRODNB_NAMES' in str(e.value) and NAMES_SHA256 in str(e.value)


def test_offline_with_nothing_cached_says_how_to_fix_it(no_network, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_docs()
    msg = str(e.value)
    assert NAMES_URL in msg and 'MICRODNB_NAMES' in msg and 'Offline' in msg
    assert no_network == [(NAMES_URL, no_network[0][1])]  # exactly one attempt, at the pinned URL
    cache = tmp_path / 'cache' / 'microdnb'
    assert not cache.exists() or list(cache.iterdir()) == []  # no partial file left behind


def test_no_download_requested_and_nothing_cached(no_network):
    with pytest.raises(FileNotFoundError, match='not cached'):
        names_path(download=False)
    assert no_network == []


def test_successful_download_is_verified_and_cached_atomically(monkeypatch, tmp_path, names_file):
    monkeypatch.delenv('MICRODNB_NAMES', raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    final = tmp_path / 'cache' / 'microdnb' / 'names.txt'
    seen = []

    def fake_download(url, filename):
        # the download goes to a temporary name: the final path must not exist yet
        seen.append((url, Path(filename)))
        assert not final.exists()
        shutil.copyfile(names_file, filename)
    monkeypatch.setattr(urllib.request, 'urlretrieve', fake_download)
    path = names_path()
    assert path == final and data.sha256_of(final) == NAMES_SHA256
    assert seen[0][0] == NAMES_URL and seen[0][1] != final
    assert sorted(p.name for p in final.parent.iterdir()) == ['names.txt']  # temp renamed away

    # second call: served from the cache, no download
    def must_not_download(*a, **k):
        raise AssertionError('downloaded although the file is cached')
    monkeypatch.setattr(urllib.request, 'urlretrieve', must_not_download)
    assert names_path() == final
    assert len(load_docs()) == 32033


def test_download_with_wrong_content_is_rejected_and_not_cached(monkeypatch, tmp_path):
    monkeypatch.delenv('MICRODNB_NAMES', raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    monkeypatch.setattr(urllib.request, 'urlretrieve',
                        lambda url, filename: Path(filename).write_text('<html>captive portal</html>'))
    with pytest.raises(ValueError, match='SHA-256'):
        names_path()
    assert list((tmp_path / 'cache' / 'microdnb').iterdir()) == []


def test_corrupted_cache_is_reported(monkeypatch, tmp_path):
    monkeypatch.delenv('MICRODNB_NAMES', raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    cached = tmp_path / 'cache' / 'microdnb' / 'names.txt'
    cached.parent.mkdir(parents=True)
    cached.write_text('truncated\n')
    with pytest.raises(ValueError, match='cached'):
        names_path()


# ---- read_docs on arbitrary files ---------------------------------------------------

def test_read_docs_strips_and_skips_blank_lines(tmp_path):
    f = tmp_path / 'n.txt'
    f.write_text('  anna \n\n\nbob\n   \ncy')
    assert read_docs(f) == ['anna', 'bob', 'cy']
    assert load_docs(f) == ['anna', 'bob', 'cy']  # an explicit path is not SHA-checked


def test_empty_dataset_file(tmp_path):
    f = tmp_path / 'empty.txt'
    f.write_text('\n  \n')
    with pytest.raises(ValueError, match='no non-empty lines'):
        read_docs(f)


def test_missing_dataset_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_docs(tmp_path / 'missing.txt')


# ---- tokenizer ----------------------------------------------------------------------

def test_encode_wraps_in_bos_and_decode_inverts(tiny_tokenizer):
    tok = tiny_tokenizer
    ids = tok.encode('emma')
    assert ids[0] == ids[-1] == tok.BOS
    assert [tok.uchars[i] for i in ids[1:-1]] == list('emma')
    assert tok.decode(ids) == 'emma'
    assert tok.encode('') == [tok.BOS, tok.BOS]


def test_encode_unknown_character(tiny_tokenizer):
    with pytest.raises(ValueError, match="'z'.*not in the vocabulary"):
        tiny_tokenizer.encode('zoe')


def test_decode_rejects_ids_outside_the_vocabulary(tiny_tokenizer):
    with pytest.raises(ValueError, match='outside the vocabulary'):
        tiny_tokenizer.decode([0, tiny_tokenizer.vocab_size])
    with pytest.raises(ValueError, match='outside the vocabulary'):
        tiny_tokenizer.decode([-1])


@pytest.mark.parametrize('uchars, match', [([], 'at least one'), (['a', 'a'], 'distinct'),
                                           (['ab'], 'single characters')])
def test_tokenizer_rejects_bad_vocabularies(uchars, match):
    with pytest.raises(ValueError, match=match):
        Tokenizer(uchars)


def test_tokenizer_from_empty_docs():
    with pytest.raises(ValueError, match='empty'):
        Tokenizer.from_docs([])

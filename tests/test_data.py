"""The dataset (shipped as package data, SHA-256 checked, MICRODNB_NAMES, bad files, no
network) and the tokenizer."""
import os
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, subprocess_env
from microdnb import data
from microdnb.data import NAMES_SHA256, NAMES_URL, Tokenizer, load_docs, names_path, read_docs

NAMES_BYTES = 228145


@pytest.fixture
def shipped(monkeypatch):
    """MICRODNB_NAMES unset: the package's own copy is the dataset."""
    monkeypatch.delenv('MICRODNB_NAMES', raising=False)
    return data.shipped_names_path()


# ---- the copy shipped with the package ------------------------------------------------

def test_the_package_ships_the_verified_names_and_its_licence(shipped):
    assert shipped == REPO / 'microdnb' / 'assets' / 'names.txt'
    assert names_path() == shipped
    assert shipped.stat().st_size == NAMES_BYTES
    assert data.sha256_of(shipped) == NAMES_SHA256
    licence = (shipped.parent / 'names.LICENSE').read_text()
    assert licence.startswith('MIT License') and 'Andrej Karpathy' in licence


def test_load_docs_reads_the_verified_names(shipped):
    docs = load_docs()
    assert len(docs) == 32033
    assert docs[:3] == ['emma', 'olivia', 'ava']
    assert all(d == d.strip() and d for d in docs)


def test_vocabulary_of_the_names_is_the_reference_one(all_docs):
    tok = Tokenizer.from_docs(all_docs)
    assert tok.uchars == list('abcdefghijklmnopqrstuvwxyz')
    assert (tok.BOS, tok.vocab_size) == (26, 27)


def test_provenance_is_documented_not_fetched():
    assert NAMES_URL == 'https://raw.githubusercontent.com/karpathy/makemore/988aa59/names.txt'
    assert NAMES_URL in data.__doc__ or 'NAMES_URL' in data.__doc__
    src = Path(data.__file__).read_text()
    for module in ('urllib', 'http.client', 'requests', 'socket'):
        assert f'import {module}' not in src


def test_no_network_is_needed(shipped, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError('the dataset must not touch the network')
    monkeypatch.setattr(socket, 'socket', no_network)
    monkeypatch.setattr(socket, 'create_connection', no_network)
    assert len(load_docs()) == 32033
    assert data.check_names().endswith('verified')


def test_a_missing_shipped_copy_says_how_to_fix_it(shipped, monkeypatch, tmp_path):
    monkeypatch.setattr(data, 'ASSETS', tmp_path / 'assets')
    with pytest.raises(FileNotFoundError) as e:
        load_docs()
    msg = str(e.value)
    assert '\n' not in msg and str(tmp_path / 'assets' / 'names.txt') in msg
    assert 'shipped with microdnb' in msg and 'git checkout' in msg and 'reinstall' in msg
    assert 'MICRODNB_NAMES' in msg


def test_a_damaged_shipped_copy_is_refused(shipped, monkeypatch, tmp_path):
    (tmp_path / 'names.txt').write_bytes(shipped.read_bytes()[:-1])  # the last name truncated
    monkeypatch.setattr(data, 'ASSETS', tmp_path)
    with pytest.raises(ValueError) as e:
        load_docs()
    msg = str(e.value)
    assert '\n' not in msg and str(tmp_path / 'names.txt') in msg
    assert 'SHA-256' in msg and NAMES_SHA256 in msg and 'shipped with microdnb' in msg and 'restore it' in msg


@pytest.mark.slow
def test_a_built_wheel_contains_the_dataset_its_licence_and_the_schema(tmp_path):
    """`pip install .` (not editable) installs the data: build a wheel from a copy of the
    project (the work tree stays clean) with the environment's setuptools, offline."""
    setuptools = pytest.importorskip('setuptools')
    if int(setuptools.__version__.split('.')[0]) < 68:
        pytest.skip(f"setuptools {setuptools.__version__} < 68 (pyproject's build requirement): "
                    f"reinstall the environment from requirements.lock")
    src = tmp_path / 'src'
    src.mkdir()
    for name in ('pyproject.toml', 'README.md'):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / 'microdnb', src / 'microdnb',
                    ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    proc = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                           '--no-index', '-q', '-w', str(tmp_path / 'dist'), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    [wheel] = (tmp_path / 'dist').glob('microdnb-*.whl')
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert {'microdnb/assets/names.txt', 'microdnb/assets/names.LICENSE', 'microdnb/checkpoint.schema.json',
                'microdnb/data.py', 'microdnb/__main__.py'} <= names
        page = {f'microdnb/page/{p.name}' for p in (REPO / 'microdnb' / 'page').iterdir() if p.suffix in ('.js', '.css')}
        assert len(page) >= 8 and page <= names   # the page's JavaScript and CSS
        assert z.read('microdnb/assets/names.txt') == data.shipped_names_path().read_bytes()
        subpackages = {n.split('/')[1] for n in names if n.count('/') == 2 and n.endswith('/__init__.py')}
        on_disk = {p.parent.name for p in (REPO / 'microdnb').glob('*/__init__.py')}
        assert subpackages == on_disk


def test_git_does_not_ignore_the_shipped_files():
    """A rule in .gitignore that matched them would leave them out of commits, and a fresh
    clone without its dataset (or expected output, or icon)."""
    if shutil.which('git') is None or not (REPO / '.git').exists():
        pytest.skip('not a git checkout')
    shipped = ['microdnb/assets/names.txt', 'microdnb/assets/names.LICENSE',
               'tests/fixtures/reference_output.txt', '_theme/favicon.svg', '_theme/site-root/favicon.ico',
               'requirements.lock']
    proc = subprocess.run(['git', 'check-ignore', '--no-index', '-v', *shipped], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, f"ignored by git:\n{proc.stdout}{proc.stderr}"


# ---- MICRODNB_NAMES -------------------------------------------------------------------

def test_env_var_points_at_another_verified_copy(monkeypatch, tmp_path, shipped):
    copy = tmp_path / 'my names.txt'
    shutil.copyfile(shipped, copy)
    monkeypatch.setenv('MICRODNB_NAMES', str(copy))
    assert names_path() == copy
    assert len(load_docs()) == 32033


def test_env_var_pointing_at_a_missing_file(monkeypatch, tmp_path):
    monkeypatch.setenv('MICRODNB_NAMES', str(tmp_path / 'nope.txt'))
    with pytest.raises(FileNotFoundError, match='MICRODNB_NAMES') as e:
        names_path()
    assert str(tmp_path / 'nope.txt') in str(e.value) and 'does not exist' in str(e.value)


def test_env_var_pointing_at_a_file_with_the_wrong_sha256(monkeypatch, tmp_path):
    bad = tmp_path / 'names.txt'
    bad.write_text('emma\nolivia\n')
    monkeypatch.setenv('MICRODNB_NAMES', str(bad))
    with pytest.raises(ValueError, match='SHA-256') as e:
        load_docs()
    msg = str(e.value)
    assert '\n' not in msg and str(bad) in msg
    assert 'MICRODNB_NAMES' in msg and NAMES_SHA256 in msg and data.sha256_of(bad) in msg


# ---- bad files: one line naming the file and what is wrong ------------------------------

def _binary(p):
    p.write_bytes(bytes(range(256)) * 4)


def _latin1(p):
    p.write_bytes('emma\nzoé\n'.encode('latin-1'))


def _empty(p):
    p.write_bytes(b'')


def _blank_lines(p):
    p.write_text('\n  \n\t\n')


def _directory(p):
    p.mkdir()


def _fifo(p):
    os.mkfifo(p)


def _huge(p):
    with open(p, 'wb') as f:  # sparse: 10 MB + 1 byte without writing them
        f.truncate(data.MAX_BYTES + 1)


def _control_char(p):
    p.write_text('emma\nol\x00ivia\n')


def _escape(p):
    p.write_text('emma\nava\n\x1b[31mred\n')


def _inner_tab(p):
    p.write_text('emma\nmary\tann\n')


def _bom(p):
    p.write_bytes('\ufeffemma\nava\n'.encode('utf-8'))


def _unreadable(p):
    p.write_text('emma\n')
    p.chmod(0)


BAD_FILES = [
    (_binary, ['not UTF-8', 'byte 0x80', 'binary']),
    (_latin1, ['not UTF-8', 'byte 0xe9', 'line 2']),
    (_empty, ['empty', '0 bytes']),
    (_blank_lines, ['no non-empty lines']),
    (_directory, ['is a directory']),
    (_fifo, ['FIFO']),
    (_huge, ['10,000,001 bytes', 'limit']),
    (_control_char, ['line 2', 'U+0000', 'not printable']),
    (_escape, ['line 3', 'U+001B', 'not printable']),
    (_inner_tab, ['line 2', 'U+0009', 'not printable']),
    (_bom, ['line 1', 'U+FEFF', 'not printable']),
    pytest.param(_unreadable, ['cannot be read', 'permission denied'],
                 marks=pytest.mark.skipif(os.geteuid() == 0, reason='root reads any file')),
]
BAD_IDS = [(case.values if hasattr(case, 'values') else case)[0].__name__.lstrip('_') for case in BAD_FILES]


def _call_with_timeout(fn, seconds=10):
    """fn() in a daemon thread: a FIFO opened for reading would block forever."""
    result = {}

    def run():
        try:
            result['value'] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            result['error'] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{fn} blocked (did it open a FIFO?)"
    if 'error' in result:
        raise result['error']
    return result['value']


def _assert_one_line(e, path, words):
    msg = str(e.value)
    assert '\n' not in msg, msg
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    # no codec traceback chained to it
    assert e.value.__cause__ is None and (e.value.__context__ is None or e.value.__suppress_context__)


@pytest.mark.parametrize('make, words', BAD_FILES, ids=BAD_IDS)
def test_bad_file_given_as_a_path(tmp_path, make, words):
    path = tmp_path / 'names.txt'
    make(path)
    with pytest.raises((ValueError, PermissionError)) as e:
        _call_with_timeout(lambda: load_docs(path))
    _assert_one_line(e, path, words)


@pytest.mark.parametrize('make, words', BAD_FILES, ids=BAD_IDS)
def test_bad_file_given_by_the_env_var(monkeypatch, tmp_path, make, words):
    """The content is diagnosed first: a binary file is 'not UTF-8', not just a wrong digest."""
    path = tmp_path / 'names.txt'
    make(path)
    monkeypatch.setenv('MICRODNB_NAMES', str(path))
    with pytest.raises((ValueError, PermissionError)) as e:
        _call_with_timeout(load_docs)
    _assert_one_line(e, path, words + ['MICRODNB_NAMES'])


def test_check_data_command_prints_one_line(tmp_path):
    """What `make book` runs first: success is one line on stdout; a bad file one line on
    stderr, exit status 1, no traceback."""
    cmd = [sys.executable, '-c', 'import sys, microdnb.data as d; sys.exit(d.main())']
    ok = subprocess.run(cmd, cwd=tmp_path, env=subprocess_env(MICRODNB_NAMES=''),
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count('\n') == 1 and '32,033 names' in ok.stdout and 'verified' in ok.stdout
    bad = tmp_path / 'bad.txt'
    _binary(bad)
    proc = subprocess.run(cmd, cwd=tmp_path, env=subprocess_env(MICRODNB_NAMES=str(bad)),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ''
    assert proc.stderr.count('\n') == 1 and 'Traceback' not in proc.stderr
    assert proc.stderr.startswith('microdnb: error: ') and str(bad) in proc.stderr and 'not UTF-8' in proc.stderr


# ---- read_docs on arbitrary files ---------------------------------------------------

def test_read_docs_strips_and_skips_blank_lines(tmp_path):
    f = tmp_path / 'n.txt'
    f.write_text('  anna \n\n\nbob\n   \ncy')
    assert read_docs(f) == ['anna', 'bob', 'cy']
    assert load_docs(f) == ['anna', 'bob', 'cy']  # an explicit path is not SHA-checked


def test_read_docs_accepts_any_newline_convention_and_non_ascii_letters(tmp_path):
    f = tmp_path / 'n.txt'
    f.write_bytes('zoë\r\nrené\rbob jr\n'.encode('utf-8'))
    assert read_docs(f) == ['zoë', 'rené', 'bob jr']


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

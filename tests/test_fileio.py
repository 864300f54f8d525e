"""fileio: output paths checked up front, atomic writes that survive failures, and reads
that refuse every kind of wrong file with one line naming it.

Real files in tmp_path throughout: FIFOs by os.mkfifo, symbolic-link loops, sparse files
for the size cap. The tests run as root in CI, where permission bits do not stop reads or
writes: the permission logic is tested by monkeypatching what the kernel would say, and the
one real chmod test is skipped for root, saying so. A signal during a write (13 signals,
the old file kept, no temporary file left): test_hostile_late.py, case 7.
"""
import errno
import json
import os
import stat
import time

import pytest

from microdnb import fileio
from microdnb.checkpoint import parse_json
from microdnb.fileio import atomic_write, check_output_path, read_bytes

ROOT = os.geteuid() == 0


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


# ---- check_output_path ------------------------------------------------------------------

def test_a_new_file_in_an_existing_folder_is_fine(tmp_path):
    assert check_output_path(tmp_path / 'ck.json') == tmp_path / 'ck.json'
    assert listing(tmp_path) == []  # checking writes nothing


def test_relative_name_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert str(check_output_path('ck.json')) == 'ck.json'


@pytest.mark.parametrize('bad, exc', [(None, TypeError), (3, TypeError), (b'x.json', TypeError), ('', ValueError),
                                      ('a\0b', ValueError)])
def test_not_a_file_name(bad, exc):
    with pytest.raises(exc, match='output file'):
        check_output_path(bad)


def test_trailing_slash_is_refused_even_for_a_missing_folder(tmp_path):
    for text in (f'{tmp_path}/', f'{tmp_path}/new/', '.', '..', f'{tmp_path}/.'):
        with pytest.raises(ValueError, match='names a folder'):
            check_output_path(text)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match='is a directory; give a file name such as'):
        check_output_path(tmp_path)


def test_special_files_are_refused(tmp_path):
    fifo = tmp_path / 'pipe'
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r'a FIFO \(named pipe\), not a regular file'):
        check_output_path(fifo, force=True)
    with pytest.raises(ValueError, match='a device'):
        check_output_path('/dev/null', force=True)


def test_missing_folder_is_an_error_not_created(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'folder .*new does not exist \(create it first\)'):
        check_output_path(tmp_path / 'new' / 'ck.json')
    assert listing(tmp_path) == []


def test_parent_that_is_a_file(tmp_path):
    (tmp_path / 'f.txt').write_text('x')
    with pytest.raises(ValueError, match=r'f\.txt is a file, not a folder'):
        check_output_path(tmp_path / 'f.txt' / 'ck.json')
    with pytest.raises(ValueError, match=r'f\.txt is a file, not a folder'):
        check_output_path(tmp_path / 'f.txt' / 'deeper' / 'ck.json')


def test_name_too_long(tmp_path):
    with pytest.raises(ValueError, match='name is too long'):
        check_output_path(tmp_path / ('x' * 300 + '.json'))
    with pytest.raises(ValueError, match='name is too long'):
        check_output_path(tmp_path / ('d' * 300) / 'ck.json')


def test_existing_file_needs_force_and_is_left_alone(tmp_path):
    path = tmp_path / 'ck.json'
    path.write_text('precious')
    with pytest.raises(FileExistsError, match='already exists; pass --force to replace it'):
        check_output_path(path)
    assert path.read_text() == 'precious'
    assert check_output_path(path, force=True) == path


def test_read_only_existing_file(tmp_path):
    """Refused without force (the message says read-only: the write bit is looked at, which
    works for root too); with force it may be replaced, as `cp -f` replaces it."""
    path = tmp_path / 'ck.json'
    path.write_text('precious')
    path.chmod(0o444)
    with pytest.raises(FileExistsError, match='already exists and is read-only; pass --force'):
        check_output_path(path)
    assert check_output_path(path, force=True) == path


def test_folder_not_writable_by_what_the_kernel_says(tmp_path, monkeypatch):
    """As root every folder is writable, so the kernel's answer is simulated."""
    real = os.access
    monkeypatch.setattr(fileio.os, 'access', lambda p, mode: False if os.fspath(p) == str(tmp_path) else real(p, mode))
    with pytest.raises(PermissionError, match='is not writable'):
        check_output_path(tmp_path / 'ck.json')


@pytest.mark.skipif(ROOT, reason='root can write into a 0o555 folder: covered by the monkeypatched test above')
def test_folder_not_writable_for_real(tmp_path):
    ro = tmp_path / 'ro'
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match='is not writable'):
            check_output_path(ro / 'ck.json')
    finally:
        ro.chmod(0o755)


def test_protected_files_are_refused_even_with_force(tmp_path, monkeypatch):
    data = tmp_path / 'names.txt'
    data.write_text('emma\n')
    for out in (data, tmp_path / '.' / 'names.txt'):
        with pytest.raises(ValueError, match=r'is the dataset \(--data\) .*would destroy it'):
            check_output_path(out, force=True, protect=[('the dataset (--data)', data)])
    link = tmp_path / 'link.txt'
    link.symlink_to(data)
    with pytest.raises(ValueError, match='would destroy it'):  # the same file under another name
        check_output_path(link, force=True, protect={'the dataset': data})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match='would destroy it'):  # relative against absolute
        check_output_path('names.txt', force=True, protect=[str(data)])
    assert data.read_text() == 'emma\n'
    # a protected path that does not exist yet is still protected
    with pytest.raises(ValueError, match='would destroy it'):
        check_output_path(tmp_path / 'later.txt', protect=[('the input', tmp_path / 'later.txt')])


def test_symlinks(tmp_path):
    target = tmp_path / 'real.json'
    target.write_text('{}')
    link = tmp_path / 'link.json'
    link.symlink_to(target)
    assert check_output_path(link, force=True) == target  # written through the link
    dangling = tmp_path / 'dangling.json'
    dangling.symlink_to(tmp_path / 'nowhere.json')
    with pytest.raises(FileNotFoundError, match='symbolic link to .*nowhere.json, which does not exist'):
        check_output_path(dangling, force=True)
    loop = tmp_path / 'loop'
    loop.symlink_to(loop)
    with pytest.raises(ValueError, match='symbolic link loop'):
        check_output_path(loop, force=True)


# ---- atomic_write --------------------------------------------------------------------------

def test_atomic_write_new_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write(tmp_path / 'a.txt', lambda f: f.write('hello'))
    finally:
        os.umask(old)
    assert path.read_text() == 'hello' and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert listing(tmp_path) == ['a.txt']


def test_atomic_write_keeps_the_mode_of_a_replaced_file(tmp_path):
    path = tmp_path / 'a.txt'
    path.write_text('old')
    path.chmod(0o600)
    atomic_write(path, lambda f: f.write('new'))
    assert path.read_text() == 'new' and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o444)  # read-only: replaced all the same (force is the caller's decision), still read-only
    atomic_write(path, lambda f: f.write('newer'))
    assert path.read_text() == 'newer' and stat.S_IMODE(path.stat().st_mode) == 0o444


def test_atomic_write_through_a_symlink(tmp_path):
    target = tmp_path / 'real.txt'
    target.write_text('old')
    link = tmp_path / 'link.txt'
    link.symlink_to(target)
    assert atomic_write(link, lambda f: f.write('new')) == target
    assert link.is_symlink() and target.read_text() == 'new'


def test_atomic_write_binary(tmp_path):
    path = atomic_write(tmp_path / 'b.bin', lambda f: f.write(b'\x00\xff'), binary=True)
    assert path.read_bytes() == b'\x00\xff'


@pytest.mark.parametrize('error', [OSError(errno.ENOSPC, 'No space left on device'), ValueError('bad'),
                                   KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, error):
    path = tmp_path / 'a.txt'
    path.write_text('precious')

    def write(f):
        f.write('half of it')
        raise error
    with pytest.raises(type(error)):
        atomic_write(path, write)
    assert path.read_text() == 'precious' and listing(tmp_path) == ['a.txt']


def test_atomic_write_refuses_what_it_must_not_replace(tmp_path):
    with pytest.raises(ValueError, match='is a directory'):
        atomic_write(tmp_path, lambda f: f.write('x'))
    os.mkfifo(tmp_path / 'pipe')
    with pytest.raises(ValueError, match='FIFO'):
        atomic_write(tmp_path / 'pipe', lambda f: f.write('x'))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        atomic_write(tmp_path / 'missing' / 'a.txt', lambda f: f.write('x'))
    assert listing(tmp_path) == ['pipe']


def test_a_long_name_still_gets_a_temp_file(tmp_path):
    name = 'n' * 250 + '.json'  # temp name = this + a suffix would exceed 255 bytes
    path = atomic_write(tmp_path / name, lambda f: f.write('{}'))
    assert listing(tmp_path) == [name] and path.read_text() == '{}'


# ---- read_bytes ------------------------------------------------------------------------------

def test_read_bytes_reads_a_file(tmp_path):
    (tmp_path / 'f').write_bytes(b'abc')
    assert read_bytes(tmp_path / 'f', 'thing', max_bytes=3) == b'abc'


@pytest.mark.parametrize('bad', [None, 1.5, b'bytes'])
def test_read_bytes_type_error_names_the_argument(bad):
    with pytest.raises(TypeError, match='thing must be a file name'):
        read_bytes(bad, 'thing')


def test_read_bytes_says_exactly_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'thing .*nope does not exist'):
        read_bytes(tmp_path / 'nope', 'thing')
    with pytest.raises(ValueError, match='is a directory, not a regular file'):
        read_bytes(tmp_path, 'thing')
    os.mkfifo(tmp_path / 'pipe')
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r'is a FIFO \(named pipe\), not a regular file'):
        read_bytes(tmp_path / 'pipe', 'thing')  # and it does not wait for a writer
    assert time.perf_counter() - start < 1
    with pytest.raises(ValueError, match='a device'):
        read_bytes('/dev/zero', 'thing')
    loop = tmp_path / 'loop'
    loop.symlink_to(loop)
    with pytest.raises(ValueError, match='symbolic link loop'):
        read_bytes(loop, 'thing')
    (tmp_path / 'dangling').symlink_to(tmp_path / 'gone')
    with pytest.raises(FileNotFoundError, match='symbolic link to .*gone, which does not exist'):
        read_bytes(tmp_path / 'dangling', 'thing')
    (tmp_path / 'f.txt').write_text('x')
    with pytest.raises(ValueError, match=r'f\.txt is a file, not a folder'):
        read_bytes(tmp_path / 'f.txt' / 'ck.json', 'thing')
    with pytest.raises(ValueError, match='name is too long'):
        read_bytes(tmp_path / ('x' * 300), 'thing')


def test_read_bytes_size_cap(tmp_path):
    big = tmp_path / 'big'
    with open(big, 'wb') as f:
        f.truncate(10_000_001)  # sparse: nothing is really written or read
    with pytest.raises(ValueError, match=r'is 10,000,001 bytes, over the 10,000,000-byte limit'):
        read_bytes(big, 'thing', max_bytes=10_000_000)


def test_read_bytes_unreadable_by_what_the_kernel_says(tmp_path, monkeypatch):
    (tmp_path / 'f').write_text('x')

    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, 'Permission denied')
    monkeypatch.setattr(fileio.os, 'open', refuse)
    with pytest.raises(PermissionError, match='cannot be read: permission denied'):
        read_bytes(tmp_path / 'f', 'thing')


@pytest.mark.skipif(ROOT, reason='root reads a 0o000 file: covered by the monkeypatched test above')
def test_read_bytes_unreadable_for_real(tmp_path):
    f = tmp_path / 'f'
    f.write_text('x')
    f.chmod(0)
    with pytest.raises(PermissionError, match='cannot be read: permission denied'):
        read_bytes(f, 'thing')


# ---- strict JSON -------------------------------------------------------------------------------

@pytest.mark.parametrize('text, field, what', [
    ('{"a": NaN}', 'a', 'NaN, not a finite number'),
    ('{"a": [1, Infinity]}', r'a\[1\]', 'Infinity'),
    ('{"a": {"b": [[0.5, -Infinity]]}}', r'a\.b\[0\]\[1\]', '-Infinity'),
    ('{"x": 1e400}', 'x', 'beyond the range of a float'),
    ('{"x": -1e400}', 'x', 'beyond the range of a float'),
    ('{"n": ' + '9' * 401 + '}', 'n', 'an integer of 401 digits'),
    ('{"n": -' + '9' * 5000 + '}', 'n', 'an integer of 5000 digits'),  # beyond int()'s own limit too
    ('[NaN]', r'\[0\]', 'NaN'),
])
def test_parse_json_refuses_non_finite_and_huge_numbers_naming_the_field(text, field, what):
    with pytest.raises(ValueError, match=rf'^src: {field} is .*{what}'):
        parse_json(text.encode(), 'src')


def test_parse_json_accepts_ordinary_numbers():
    doc = parse_json(b'{"a": [1, -2.5, 1e308, 5e-324, ' + b'9' * 100 + b'], "s": "NaN [[[["}', 'src')
    assert doc['a'][:4] == [1, -2.5, 1e308, 5e-324] and doc['a'][4] == int('9' * 100) and doc['s'] == 'NaN [[[['


def test_parse_json_refuses_deep_nesting_before_parsing():
    deep = '[' * 200_000 + ']' * 200_000
    start = time.perf_counter()
    with pytest.raises(ValueError, match='nests arrays/objects more than 64 levels deep'):
        parse_json(deep.encode(), 'src')
    with pytest.raises(ValueError, match='more than 3 levels'):
        parse_json(b'{"a": [[{"b": 1}]]}', 'src', max_depth=3)
    assert parse_json(b'{"a": [[1]]}', 'src', max_depth=3) == {'a': [[1]]}
    # brackets inside strings (escaped quotes too) do not count
    assert parse_json(b'["\\"[[[[[[", "]]]"]', 'src', max_depth=1) == ['"[[[[[[', ']]]']
    assert time.perf_counter() - start < 5


def test_parse_json_catches_recursion_error_as_a_last_resort():
    deep = ('[' * 200_000 + ']' * 200_000).encode()
    with pytest.raises(ValueError, match='nests arrays/objects too deeply'):
        parse_json(deep, 'src', max_depth=10**9)  # the pre-check passes it: json.loads recurses


@pytest.mark.parametrize('raw, match', [(b'\x89PNG\r\n\x1a\n\xff', 'not UTF-8 text'), (b'', 'not valid JSON'),
                                        (b'{"a": ', 'not valid JSON'), (b'{"a": 1} x', 'not valid JSON')])
def test_parse_json_refuses_what_is_not_json(raw, match):
    with pytest.raises(ValueError, match=f'^src is {match}'):
        parse_json(raw, 'src')


def test_load_json_names_the_file(tmp_path):
    path = tmp_path / 'r.json'
    path.write_text(json.dumps({'ok': [1, 2]}))
    assert parse_json(read_bytes(path), f'results file {path}') == {'ok': [1, 2]}
    path.write_text('{"bad": NaN}')
    with pytest.raises(ValueError, match=rf'^results file {path}: bad is NaN'):
        parse_json(read_bytes(path), f'results file {path}')

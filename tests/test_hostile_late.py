"""Issue 20's cases 6-8, each refused cleanly (cases 1-5: test_hostile.py; what both share:
hostile_cases.py): 6 late failures (another user's file in a sticky folder, a full disk), 7 signals, 8 library
edges. Some need root (a file of another user, a tmpfs to fill, running as uid 65534): they
skip without it, saying why; the logic they exercise is also tested in-process.
"""
import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, default_signal_dispositions, subprocess_env
from microdnb import fileio, vector
from microdnb.data import MAX_CHARS, Tokenizer, load_docs
from microdnb.scalar.autograd import Value

from hostile_cases import NAMES, ROOT, ck, cli, one_line_error, refused  # noqa: F401 (ck: a fixture)


# ---- 6 late failures ---------------------------------------------------------------------------

TINY = ['--steps', 2, '--snc-steps', 1, '--n-embd', 4, '--n-head', 2, '--block-size', 8]


@pytest.fixture
def shared_folder():
    """A sticky, world-writable folder (as /tmp is) in a folder anyone can reach, holding a file."""
    top = Path(tempfile.mkdtemp(prefix='microdnb-sticky-'))
    try:
        top.chmod(0o755)
        folder = top / 'shared'
        folder.mkdir()
        folder.chmod(0o1777)
        (folder / 'ck.json').write_text('the owner\'s checkpoint')
        (folder / 'ck.json').chmod(0o666)   # anyone may write into it; only its owner may replace it
        (top / 'names.txt').write_text('\n'.join(NAMES) + '\n')
        (top / 'names.txt').chmod(0o644)
        yield folder
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_6_another_users_file_in_a_sticky_folder_is_refused_up_front(shared_folder, monkeypatch):
    out = shared_folder / 'ck.json'
    monkeypatch.setattr(fileio.os, 'geteuid', lambda: out.stat().st_uid + 65534)   # as someone else
    with pytest.raises(PermissionError, match=r'belongs to another user \(uid \d+\) in the sticky folder'):
        fileio.check_output_path(out, force=True)
    monkeypatch.undo()
    assert fileio.check_output_path(out, force=True) == out   # its owner may


@pytest.mark.skipif(not ROOT or shutil.which('setpriv') is None, reason='needs root and setpriv to run as uid 65534')
def test_6_as_another_user_the_command_line_refuses_before_training(shared_folder):
    out = shared_folder / 'ck.json'
    data = shared_folder.parent / 'names.txt'
    proc = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', sys.executable, '-m',
                           'microdnb', 'train', *map(str, TINY), '--data', str(data), '--out', str(out), '--force'],
                          cwd='/', env=subprocess_env(HOME='/tmp'), capture_output=True, text=True, timeout=120)
    one_line_error(proc, f'--out {out} belongs to another user (uid 0)', 'choose another name')
    assert out.read_text() == "the owner's checkpoint" and sorted(os.listdir(shared_folder)) == ['ck.json']
    # a name of its own in the same folder works
    proc = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', sys.executable, '-m',
                           'microdnb', 'train', *map(str, TINY), '--data', str(data), '--out',
                           str(shared_folder / 'mine.json')],
                          cwd='/', env=subprocess_env(HOME='/tmp'), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (shared_folder / 'mine.json').stat().st_uid == 65534


def test_6_a_finished_file_that_cannot_replace_the_old_one_is_kept_and_named(tmp_path, monkeypatch):
    path = tmp_path / 'ck.json'
    path.write_text('old')

    def refuse(src, dst):
        raise PermissionError(errno.EPERM, 'Operation not permitted')
    monkeypatch.setattr(fileio.os, 'replace', refuse)
    with pytest.raises(PermissionError) as e:
        fileio.atomic_write(path, lambda f: f.write('the run'))
    kept = tmp_path / f'ck.{os.getpid()}.json'
    assert str(e.value) == f'[Errno 1] cannot replace {path}: Operation not permitted; the new file is {kept}'
    assert path.read_text() == 'old' and kept.read_text() == 'the run'
    assert sorted(os.listdir(tmp_path)) == sorted(['ck.json', kept.name])   # no temporary file


@pytest.fixture
def full_disk(tmp_path):
    """A 64 kB tmpfs (needs root and mount)."""
    mnt = tmp_path / 'mnt'
    mnt.mkdir()
    if not ROOT or subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', str(mnt)],
                                  capture_output=True).returncode:
        pytest.skip('cannot mount a tmpfs (needs root and CAP_SYS_ADMIN)')
    try:
        yield mnt
    finally:
        subprocess.run(['umount', str(mnt)], check=True)


def test_6_a_full_disk_is_refused_before_training_and_named_after(full_disk, tmp_path):
    data = tmp_path / 'names.txt'
    data.write_text('\n'.join(NAMES) + '\n')
    proc = cli('train', '--steps', 1, '--snc-steps', 1, '--data', data, '--out', full_disk / 'ck.json')
    one_line_error(proc, f'--out {full_disk}/ck.json: its file system has', 'bytes free', 'needs about')
    assert '[phase' not in proc.stderr and os.listdir(full_disk) == []
    # a write that runs out of room: errno 28, naming the file; the old file as it was
    (full_disk / 'small.txt').write_text('old')
    with pytest.raises(OSError) as e:
        fileio.atomic_write(full_disk / 'small.txt', lambda f: f.write('x' * 200_000))
    assert e.value.errno == errno.ENOSPC and str(full_disk / 'small.txt') in str(e.value)
    assert (full_disk / 'small.txt').read_text() == 'old' and os.listdir(full_disk) == ['small.txt']


def test_6_a_full_stdout_is_named(ck):
    if not os.path.exists('/dev/full'):
        pytest.skip('no /dev/full')
    with open('/dev/full', 'w') as full:
        proc = subprocess.run([sys.executable, '-m', 'microdnb', 'sample', '--checkpoint', str(ck[0]), '--num', '5'],
                              cwd=REPO, env=subprocess_env(), stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    one_line_error(proc, 'cannot write to stdout: No space left on device')


# ---- 7 signals -------------------------------------------------------------------------------------

WRITER = textwrap.dedent('''
    import sys, time
    from microdnb.fileio import atomic_write
    def write(f):
        f.write('half of the new version' * 1000)
        f.flush()
        print('writing', flush=True)
        time.sleep(60)
    atomic_write(sys.argv[1], write)
''')
SIGNALS = ['SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGTERM', 'SIGHUP', 'SIGINT', 'SIGXCPU', 'SIGVTALRM',
           'SIGPROF', 'SIGPWR', 'SIGRTMIN', 'SIGRTMAX']


@pytest.mark.parametrize('name', [n for n in SIGNALS if hasattr(signal, n)])
def test_7_every_signal_that_ends_the_process_leaves_no_temporary_file(tmp_path, name):
    sig = getattr(signal, name)
    path = tmp_path / 'ck.json'
    path.write_text('precious')
    proc = subprocess.Popen([sys.executable, '-c', WRITER, str(path)], cwd=REPO, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signal_dispositions)
    try:
        assert proc.stdout.readline() == 'writing\n'
        assert len(os.listdir(tmp_path)) == 2  # the temporary file exists now
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == (-signal.SIGINT if sig == signal.SIGINT else 128 + sig)
    assert path.read_text() == 'precious' and os.listdir(tmp_path) == ['ck.json']


def test_7_a_signal_during_training_stops_it_in_one_line(tmp_path):
    proc = subprocess.Popen([sys.executable, '-m', 'microdnb', 'train', '--steps', '100000', '--engine', 'numpy',
                             '--out', str(tmp_path / 'ck.json')], cwd=REPO, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signal_dispositions)
    try:
        assert '[phase 1] step     1/' in proc.stderr.readline() + proc.stderr.readline()
        proc.send_signal(signal.SIGUSR1)
        err = proc.communicate(timeout=30)[1]
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 128 + signal.SIGUSR1
    assert err.strip().splitlines()[-1] == 'microdnb: stopped by SIGUSR1' and 'Traceback' not in err
    assert os.listdir(tmp_path) == []


def _children(pid):
    out = set()
    for task in Path(f'/proc/{pid}/task').glob('*/children'):
        out |= {int(p) for p in task.read_text().split()}
    return out


def _alive(pid):
    try:
        return Path(f'/proc/{pid}/stat').read_text().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize('how', ['SIGTERM', 'SIGQUIT', 'Ctrl-C'])
def test_7_experiment_ends_its_workers_with_it(tmp_path, how):
    """`experiment --jobs 2` stopped while both workers run: every process gone within about a
    second, no traceback, no BrokenPipeError, no leaked-semaphore warning, no file written."""
    if not Path('/proc/self/task').exists():
        pytest.skip('needs /proc')
    proc = subprocess.Popen([sys.executable, '-m', 'microdnb', 'experiment', '--quick', '--jobs', '2', '--out',
                             str(tmp_path / 'results.json')], cwd=REPO, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=default_signal_dispositions)
    lines = []
    timer = threading.Timer(300, proc.kill)
    timer.start()
    try:
        while ''.join(lines).count('trunk trained') < 2:   # both workers are at work
            line = proc.stderr.readline()
            assert line, lines
            lines.append(line)
        workers = _children(proc.pid)
        assert len(workers) >= 2
        start = time.perf_counter()
        if how == 'Ctrl-C':
            os.killpg(proc.pid, signal.SIGINT)   # the terminal sends it to the whole process group
        else:
            proc.send_signal(getattr(signal, how))
        out, err = proc.communicate(timeout=60)
        gone = time.perf_counter() - start
        while any(_alive(w) for w in workers) and time.perf_counter() - start < 10:
            time.sleep(0.05)
        every = time.perf_counter() - start
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()
    err = ''.join(lines) + err
    assert not any(_alive(w) for w in workers), 'a worker outlived the experiment'
    assert gone < 3 and every < 3, (gone, every)   # about a second on a quiet machine
    for bad in ('Traceback', 'BrokenPipe', 'leaked', 'Error'):
        assert bad not in err, err
    assert err.splitlines()[-1] == ('microdnb: interrupted' if how == 'Ctrl-C' else f'microdnb: stopped by {how}')
    assert os.listdir(tmp_path) == [] and out == ''


# ---- 8 library edges -----------------------------------------------------------------------------

def test_8_the_square_root_of_zero_has_an_infinite_gradient():
    x = Value(0.0)
    y = x ** 0.5
    y.backward()
    assert (y.data, x.grad) == (0.0, float('inf'))     # the derivative from the right, as IEEE pow and PyTorch
    x = Value(4.0)
    (x ** 0.5).backward()
    assert x.grad == 0.25
    x = Value(0.0)
    (x ** 0).backward()
    assert x.grad == 0.0                               # x^0 is the constant 1
    with pytest.raises(ZeroDivisionError):
        Value(0.0) ** -1                               # 1 / 0 itself, as in Python


@pytest.mark.parametrize('matrix, words', [([[0.5, float('nan')]], ["params['w'][0][1] is nan"]),
                                           ([[float('-inf')]], ["params['w'][0][0] is -inf"]),
                                           ([[1.0, 2.0], [3.0]], ["params['w'] is not a matrix"]),
                                           ([1.0, 2.0], ["params['w'] is not a matrix"]),
                                           ([[[1.0]]], ["params['w'][0][0] is [1.0], not a number"]),
                                           ([], ["params['w'] is not a matrix"])])
def test_8_vector_params_from_refuses_what_is_not_a_finite_matrix(matrix, words):
    refused(lambda: vector.params_from({'v': [[1.0]], 'w': matrix}), 'params_from: ', *words)


def test_8_arguments_of_the_wrong_type_are_named():
    with pytest.raises(TypeError, match=r'^load_docs: path must be a file name \(str or os.PathLike\), got int$'):
        load_docs(123)
    with pytest.raises(TypeError, match=r'^Tokenizer: uchars must be a string or a list of characters, got NoneType$'):
        Tokenizer(None)


def test_8_a_dataset_with_too_many_characters_names_the_file_and_the_limit(tmp_path):
    path = tmp_path / 'names.txt'
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 5000)]   # 5,000 CJK characters
    path.write_text('\n'.join(''.join(chars[i:i + 10]) for i in range(0, 5000, 10)) + '\n')
    msg = refused(lambda: load_docs(path), str(path), '5,000 distinct characters', f'at most {MAX_CHARS:,}')
    assert 'vocab_size' in msg
    one_line_error(cli('train', '--data', path, '--out', tmp_path / 'ck.json'), str(path), '5,000 distinct characters')


def test_8_an_empty_flag_says_so(tmp_path):
    one_line_error(cli('train', '--data', '', '--out', tmp_path / 'ck.json'), '--data is empty')
    one_line_error(cli('sample', '--checkpoint', ''), '--checkpoint is empty')
    assert os.listdir(tmp_path) == []


def test_8_a_file_name_that_would_move_the_terminal_is_escaped(tmp_path):
    name = tmp_path / 'ck\x1bc\n.json'
    proc = cli('sample', '--checkpoint', name)
    one_line_error(proc, 'ck\\x1bc\\n.json', 'does not exist')

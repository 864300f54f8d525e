"""Issue 20's eight cases that got through, each refused cleanly: one line naming the file
(or flag) and the field, before any work, nothing lost.

1 quadratic stall  2 any character in a checkpoint's vocabulary  3 duplicate keys, missing
fields  4 absurd weights  5 memory  6 late failures (another user's file in a sticky
folder, a full disk)  7 signals  8 library edges.

Some need root (a file of another user, a tmpfs to fill, running as uid 65534): they skip
without it, saying why; the logic they exercise is also tested in-process.
"""
import errno
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, subprocess_env
from microdnb import fileio, sampling, vector
from microdnb.checkpoint import MAX_WEIGHT, load_checkpoint, save_checkpoint
from microdnb.config import BusConfig, ModelConfig, TrainConfig
from microdnb.data import MAX_CHARS, Tokenizer, load_docs
from microdnb.scalar.autograd import Value

ROOT = os.geteuid() == 0
NAMES = ['emma', 'olivia', 'ava', 'isabella', 'sophia', 'mia', 'amelia', 'harper', 'evelyn', 'abigail']


def cli(*args, timeout=120, **kw):
    return subprocess.run([sys.executable, '-m', 'microdnb', *map(str, args)], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout, **kw)


def one_line_error(proc, *words, code=1):
    """Exit `code`, no traceback, stderr exactly one line `microdnb: error: ...` holding `words`."""
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert 'Traceback' not in proc.stderr and proc.stderr.count('\n') == 1, proc.stderr[-2000:]
    assert proc.stderr.startswith('microdnb: error: ') and proc.stderr.isprintable() is False  # just the '\n'
    assert proc.stderr[:-1].isprintable(), proc.stderr  # nothing a terminal would act on
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)
    return proc.stderr


def refused(call, *words, seconds=2.0):
    """`call()` raises one ValueError line holding `words`, within `seconds`."""
    start = time.perf_counter()
    with pytest.raises(ValueError) as e:
        call()
    assert time.perf_counter() - start < seconds
    msg = str(e.value)
    assert '\n' not in msg and msg.isprintable(), msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


@pytest.fixture(scope='module')
def ck(tmp_path_factory):
    """A tiny checkpoint (trained 3 steps): its path and its JSON."""
    tok = Tokenizer.from_docs(NAMES)
    cfg = ModelConfig(vocab_size=tok.vocab_size, n_embd=8, n_head=2, block_size=8, notes_dim=4)
    params = vector.init_params(cfg, random.Random(1))
    vector.train_phase1(params, cfg, TrainConfig(steps=3, snc_steps=1), NAMES, tok)
    path = save_checkpoint(tmp_path_factory.mktemp('ck') / 'ck.json', params, cfg, tok, BusConfig(), {'seed': 1})
    return path, json.loads(path.read_text())


def crafted(tmp_path, doc, name='bad.json'):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


# ---- 1 quadratic stall --------------------------------------------------------------------------

@pytest.mark.parametrize('n, words', [(40_000, ['not valid JSON', 'Unterminated string']),       # 80 kB: 18-20 s before
                                      (500_000, ['more than 400,000 quote characters']),         # 1 MB: minutes before
                                      (4_000_000, ['more than 400,000 quote characters'])])
def test_1_an_unclosed_string_of_escaped_quotes_is_refused_at_once(tmp_path, n, words):
    path = crafted(tmp_path, '{"format": "' + '\\"' * n)
    refused(lambda: load_checkpoint(path), f'checkpoint {path}', *words, seconds=1.0)


def test_1_the_scan_is_linear_where_the_caps_allow_it(tmp_path):
    """What the caps let through (400,000 quotes, escaped, in 50 MB) is scanned in one pass."""
    path = crafted(tmp_path, '{"format": "' + '\\"' * 200_000 + 'x' * 45_000_000)
    refused(lambda: load_checkpoint(path), 'holds a string of 45,400,000 bytes', seconds=2.0)
    path = crafted(tmp_path, '["' + '", "'.join(['\\"'] * 100_000) + '"]')   # 100,000 strings, 200,000 quotes
    refused(lambda: load_checkpoint(path), 'not a microdnb-checkpoint-v1 file', seconds=2.0)


# ---- 2 any character in a checkpoint's vocabulary ----------------------------------------------

@pytest.mark.parametrize('ch, shown', [('\x1b', 'U+001B'), ('\n', 'U+000A'), ('\0', 'U+0000'),
                                       ('\ud800', 'U+D800'), ('\u202e', 'U+202E RIGHT-TO-LEFT OVERRIDE'),
                                       ('\u2066', 'U+2066 LEFT-TO-RIGHT ISOLATE'), ('\u00a0', 'U+00A0 NO-BREAK SPACE'),
                                       ('\ue000', 'U+E000')])
def test_2_a_vocabulary_character_that_is_not_printable_is_refused(tmp_path, ck, ch, shown):
    doc = json.loads(json.dumps(ck[1]))
    doc['uchars'] = doc['uchars'][:-1] + ch  # same size: only the rule can refuse it
    path = crafted(tmp_path, doc)
    refused(lambda: load_checkpoint(path), f"checkpoint {path}: field 'uchars'", shown, 'not printable')
    if ch == '\x1b':  # the reproduction: --prompt $'\x1bc' resets the terminal
        proc = cli('sample', '--checkpoint', path, '--prompt', '\x1bc')
        one_line_error(proc, str(path), 'U+001B')
        assert proc.stdout == '' and '\x1b' not in proc.stderr


def test_2_datasets_and_checkpoints_follow_the_same_rule(tmp_path):
    data = tmp_path / 'names.txt'
    data.write_text('emma\nav\u202ea\n')
    refused(lambda: load_docs(data), 'line 2', 'U+202E', 'not printable')
    with pytest.raises(ValueError, match=r'U\+202E'):
        Tokenizer('ab\u202e')


# ---- 3 duplicate keys, missing fields ----------------------------------------------------------

@pytest.mark.parametrize('edit, words', [
    (lambda t: t.replace('"uchars": ', '"uchars": "zyx", "uchars": ', 1), ['uchars is a key given more than once']),
    (lambda t: t.replace('"n_embd": 8', '"n_embd": 8, "n_embd": 8', 1), ['model.n_embd is a key given more than once']),
    (lambda t: t.replace('"notes_dim": 4, ', '', 1), ["model has no field 'notes_dim'"]),
    (lambda t: t.replace('"lag": 0', '"lag": 0, "cadence": 3', 1), ['bus.cadence is a key given more than once']),
])
def test_3_duplicate_keys_and_missing_fields_are_refused(tmp_path, ck, edit, words):
    text = ck[0].read_text()
    path = crafted(tmp_path, edit(text))
    assert path.read_text() != text
    refused(lambda: load_checkpoint(path), f'checkpoint {path}', *words)


# ---- 4 absurd weights --------------------------------------------------------------------------

@pytest.mark.parametrize('value', [1e308, -1e10, MAX_WEIGHT * (1 + 1e-15)])
def test_4_a_weight_beyond_the_bound_is_refused_naming_file_and_parameter(tmp_path, ck, value):
    doc = json.loads(json.dumps(ck[1]))
    doc['params']['lm_head'][2][5] = value
    path = crafted(tmp_path, doc)
    refused(lambda: load_checkpoint(path), f'checkpoint {path}: params.lm_head[2][5]', 'no trained model')
    if value == 1e308:
        one_line_error(cli('sample', '--checkpoint', path, '--streams', 2), str(path), 'params.lm_head[2][5]')


def test_4_within_the_bound_the_trunk_stays_finite_and_an_overflow_is_one_line(tmp_path, ck):
    """Every weight at +-MAX_WEIGHT: the trunk alone samples (finite, as the bound promises);
    whatever SNC's notes compound to, the command line says so in one line naming the file."""
    doc = json.loads(json.dumps(ck[1]))
    gen = random.Random(0)
    doc['params'] = {k: [[gen.choice((-MAX_WEIGHT, MAX_WEIGHT)) for _ in row] for row in m]
                     for k, m in doc['params'].items()}
    path = crafted(tmp_path, doc)
    loaded = load_checkpoint(path)
    for engine in ('scalar', 'numpy'):
        proc = cli('sample', '--checkpoint', path, '--num', 3, '--engine', engine)
        assert proc.returncode == 0 and proc.stderr == '', proc.stderr
        proc = cli('sample', '--checkpoint', path, '--streams', 3, '--gate', 1, '--num', 3, '--engine', engine)
        assert proc.returncode in (0, 1) and 'Traceback' not in proc.stderr and 'Warning' not in proc.stderr
        if proc.returncode:
            one_line_error(proc, f'checkpoint {path}: cannot sample from it')
    assert loaded['cfg'].vocab_size == len(loaded['tokenizer'].uchars) + 1


def test_4_draw_refuses_weights_that_are_not_a_distribution():
    rng = random.Random(0)
    for weights in ([-1.0, 2.0], [float('nan'), 1.0], [1.0, float('nan')], [0.0, 0.0], [float('inf'), 1.0]):
        state = rng.getstate()
        with pytest.raises(ValueError, match='not a distribution'):
            sampling.draw(weights, rng)
        assert rng.getstate() == state or weights[0] >= 0  # refused before drawing, where it can tell
    assert sampling.draw([0.0, 1.0], rng) == 1


# ---- 5 memory ------------------------------------------------------------------------------------

PEAK = textwrap.dedent('''
    import re, sys, time
    from pathlib import Path
    def hwm():  # this process's peak memory (ru_maxrss would count the parent's, kept across exec)
        return int(re.search(r'VmHWM:\\s+(\\d+) kB', Path('/proc/self/status').read_text()).group(1)) * 1024
    from microdnb.checkpoint import load_checkpoint
    base, start = hwm(), time.perf_counter()
    try:
        load_checkpoint(sys.argv[1])
        print('loaded')
    except ValueError as e:
        print(e)
    print(time.perf_counter() - start, hwm() - base)
''')


def _peak(path):
    """Seconds and peak memory (bytes, beyond the interpreter and microdnb's imports) of
    loading `path` in a fresh process, and what it said."""
    if not Path('/proc/self/status').exists():
        pytest.skip('needs /proc/self/status')
    proc = subprocess.run([sys.executable, '-c', PEAK, str(path)], env=subprocess_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    said, numbers = proc.stdout.splitlines()
    seconds, peak = numbers.split()
    return float(seconds), int(peak), said


@pytest.mark.parametrize('meta, words', [
    ('[' + '{},' * 16_000_000 + '{}]', ['more than 100,000 arrays and objects']),   # 48 MB: 1.46 GB before
    ('[' + '0,' * 24_000_000 + '0]', ['more than 2,200,000 values']),
    ('{"s": "' + 'x' * 40_000_000 + '"}', ['holds a string of 40,000,000 bytes, over the 100,000-byte limit']),
], ids=['16M empty objects', '24M zeros', 'a 40 MB string'])
def test_5_memory_stays_a_small_multiple_of_the_file(tmp_path, ck, meta, words):
    text = ck[0].read_text().replace('"meta": {"seed": 1}', '"meta": ' + meta)
    path = crafted(tmp_path, text)
    size = path.stat().st_size
    seconds, peak, said = _peak(path)
    for w in words:
        assert w in said, said
    assert seconds < 2.0 and peak < 2.5 * size, (seconds, peak, size)


def test_5_meta_is_bounded_in_depth_and_size(tmp_path, ck):
    doc = json.loads(json.dumps(ck[1]))
    doc['meta'] = {'a': [[[[[[[[[1]]]]]]]]]}
    refused(lambda: load_checkpoint(crafted(tmp_path, doc)), 'nests arrays/objects more than 10 levels deep')
    doc['meta'] = {'losses': [0.5] * 20_000}
    refused(lambda: load_checkpoint(crafted(tmp_path, doc)), 'meta is', 'over the 100,000-byte limit')


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
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
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
                                           ([[[1.0]]], ["params['w'] is not a matrix"]),
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

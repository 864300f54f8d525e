"""Files in and out, checked once, here.

Writing: `check_output_path` validates a path before any work starts (the command line
calls it for every --out); `atomic_write` writes a temporary file beside the target,
fsyncs it and renames it over the target, so a crash, a full disk or a signal leaves the
previous file intact and no temporary file behind.

Reading: `read_bytes` opens without blocking (a FIFO cannot hang it), refuses what is
not a regular file and anything over a size cap, and says exactly what is wrong;
`load_json` adds strict JSON on top: UTF-8, a nesting-depth cap checked before parsing,
NaN / Infinity / numbers beyond the float range / integers of over 100 digits refused
with the path of the field that holds them (e.g. `params.wte[3][1]`).

Every refusal is one line that names the file.

Decisions (the behaviour of `cp`, where there is one):
  * a missing output folder is an error, never created silently;
  * an existing output file is replaced only with force=True; with force, a read-only file
    is replaced too (as `cp -f` does), because replacing needs only the folder's write
    permission;
  * a replaced file keeps its permission bits (as `cp` keeps them when it overwrites);
    a new file gets 0o666 minus the umask, like any file a program creates;
  * an output path that is a symbolic link to a file writes through the link (the target
    is replaced, the link stays), as `cp` does; a dangling link or a link loop is refused;
  * SIGTERM and SIGHUP during `atomic_write` (main thread, default handlers only) become
    SystemExit(128 + signal number) after the temporary file is removed; Ctrl-C
    (KeyboardInterrupt) likewise removes it.
"""
import errno
import json
import os
import re
import signal
import stat
import tempfile
import threading
from collections import namedtuple
from contextlib import contextmanager
from pathlib import Path

MAX_JSON_DEPTH = 64      # microdnb's own files nest 4 levels deep at most
MAX_INT_DIGITS = 100     # integers in JSON files: beyond this, refused (never converted)
_SIGNALS = tuple(getattr(signal, s) for s in ('SIGINT', 'SIGTERM', 'SIGHUP') if hasattr(signal, s))


def as_path(path, argument='path'):
    """`path` (str or os.PathLike) as a Path; TypeError naming `argument` for anything else,
    ValueError for an empty name or one holding a NUL character."""
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if not isinstance(text, str):  # None, a number, bytes, a PathLike of bytes
        raise TypeError(f"{argument} must be a file name (str or os.PathLike), got {type(path).__name__}")
    if text == '':
        raise ValueError(f"{argument} is empty: give a file name")
    if '\0' in text:
        raise ValueError(f"{argument} {text!r} contains a NUL character")
    return Path(text)


def file_kind(mode):
    """'a directory', 'a FIFO (named pipe)', ... for a st_mode; None for a regular file."""
    for test, kind in ((stat.S_ISREG, None), (stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO (named pipe)'),
                       (stat.S_ISSOCK, 'a socket'), (stat.S_ISCHR, 'a device'), (stat.S_ISBLK, 'a device')):
        if test(mode):
            return kind
    return 'not a regular file'


def _blocked_parent(path):
    """The first ancestor of `path` that exists and is not a folder (for ENOTDIR), or None."""
    for parent in reversed(path.parents):
        try:
            if not stat.S_ISDIR(os.stat(parent).st_mode):
                return parent
        except OSError:
            return None
    return None


def _os_error(e, path, what):
    """One line for an OSError from looking at / opening `path`."""
    if e.errno == errno.ENOENT:
        if os.path.lexists(path) and os.path.islink(path):
            return FileNotFoundError(f"{what} {path} is a symbolic link to {os.readlink(path)}, which does not exist")
        return FileNotFoundError(f"{what} {path} does not exist")
    if e.errno == errno.ELOOP:
        return ValueError(f"{what} {path} is a symbolic link loop (or too many links deep)")
    if e.errno == errno.ENAMETOOLONG:
        return ValueError(f"{what} {path}: the name is too long for the file system")
    if e.errno == errno.ENOTDIR:
        blocker = _blocked_parent(path)
        where = f"{blocker} is a file, not a folder" if blocker else "a part of its folder path is not a folder"
        return ValueError(f"{what} {path}: {where}")
    if e.errno in (errno.EACCES, errno.EPERM):
        return PermissionError(f"{what} {path} cannot be read: permission denied")
    return OSError(e.errno, f"{what} {path} cannot be used: {e.strerror or e}")


# ---- writing ---------------------------------------------------------------------------

def _same_file(st, other):
    try:
        ost = os.stat(other)
    except (OSError, ValueError):
        return False
    return (st.st_dev, st.st_ino) == (ost.st_dev, ost.st_ino)


def _protect_items(protect):
    items = protect.items() if isinstance(protect, dict) else protect
    out = []
    for item in items:
        label, p = item if isinstance(item, tuple) else ('an input file', item)
        if p is not None and p != '':
            out.append((label, os.fspath(p)))
    return out


def check_output_path(path, force=False, protect=(), what='output file'):
    """Check, before any work, that `path` can be written: returns the Path to write
    (a symbolic link resolved to its target).

    Refused, with a ValueError / FileNotFoundError / PermissionError of one line:
    an empty name, a name ending in '/', a name too long, a directory, a FIFO, device or
    socket, a dangling symbolic link or a link loop, a path whose folder does not exist,
    is a file, or is not writable, any file in `protect` (pairs (label, path), a dict
    label -> path, or plain paths: the dataset, an input checkpoint...), and, unless
    `force`, an existing file. With `force` an existing file, read-only or not, is
    replaced (as `cp -f` does).
    """
    raw, path = path, as_path(path, what)
    text = os.fspath(raw)  # as given: Path() would drop a trailing '/' or '/.'
    if text.endswith((os.sep, '/')) or os.path.basename(text) in ('.', '..'):
        raise ValueError(f"{what} {text} names a folder (it ends with '/' or is '.' or '..'); give a "
                         f"file name such as {os.path.join(text, 'out.json')}")
    target = path
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _os_error(e, path, what) from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)  # follows the link
        except OSError as e:
            raise _os_error(e, path, what) from None
        target = Path(os.path.realpath(path))
    if st is not None:
        kind = file_kind(st.st_mode)
        if kind == 'a directory':
            raise ValueError(f"{what} {path} is a directory; give a file name such as {path / 'out.json'}")
        if kind:
            raise ValueError(f"{what} {path} is {kind}, not a regular file: refusing to write there")
    for label, other in _protect_items(protect):
        same = _same_file(st, other) if st is not None else \
            os.path.realpath(target) == os.path.realpath(other)
        if same:
            raise ValueError(f"{what} {path} is {label} ({other}): writing there would destroy it")
    if st is not None and not force:
        ro = '' if st.st_mode & 0o222 and os.access(target, os.W_OK) else ' and is read-only'
        raise FileExistsError(f"{what} {path} already exists{ro}; pass --force to replace it")
    folder = target.parent
    try:
        fst = os.stat(folder)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise FileNotFoundError(f"{what} {path}: folder {folder} does not exist (create it first)") from None
        raise _os_error(e, folder, f"folder of {what}") from None
    if not stat.S_ISDIR(fst.st_mode):
        raise ValueError(f"{what} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{what} {path}: folder {folder} is not writable")
    limit = os.pathconf(folder, 'PC_NAME_MAX') if hasattr(os, 'pathconf') else 255
    if st is None and len(os.fsencode(target.name)) > limit:  # where lstat does not say ENAMETOOLONG
        raise ValueError(f"{what} {path}: the name is too long for the file system ({limit} bytes at most)")
    return target


@contextmanager
def _blocked_signals():
    """Hold SIGINT/SIGTERM/SIGHUP while a few lines run (delivered when the block ends)."""
    if not hasattr(signal, 'pthread_sigmask'):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def _signals_raise():
    """While writing, SIGTERM / SIGHUP raise SystemExit(128 + signum) instead of killing the
    process at once, so that the temporary file is removed. Only in the main thread, and
    only where the handler is the default one (a program's own handler is left alone)."""
    installed = {}
    if threading.current_thread() is threading.main_thread():
        def handler(signum, frame):
            raise SystemExit(128 + signum)
        for name in ('SIGTERM', 'SIGHUP'):
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) == signal.SIG_DFL:
                installed[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in installed.items():
            signal.signal(sig, old)


def atomic_write(path, write, binary=False):
    """Call `write(f)` on a new file beside `path`, fsync it, then rename it over `path`.
    Returns the Path written (a symbolic link to a file is written through).

    The folder must exist (it is not created). On any failure, exception or signal that
    can be caught (Ctrl-C, SIGTERM, SIGHUP), the temporary file is removed and `path` is
    as it was. A replaced file keeps its permission bits; a new one gets 0o666 & ~umask.
    """
    path = as_path(path)
    target = Path(os.path.realpath(path)) if os.path.islink(path) else path
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    kind = file_kind(st.st_mode) if st is not None else None
    if kind:
        raise ValueError(f"{path} is a directory; give a file name inside it" if kind == 'a directory' else
                         f"{path} is {kind}, not a regular file: refusing to write there")
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {folder} does not exist (create it first)")
    if st is None:
        umask = os.umask(0o022)
        os.umask(umask)
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~umask
    tmp = None
    with _signals_raise():
        try:
            with _blocked_signals():  # so that `tmp` is known whenever the file exists
                fd, tmp = tempfile.mkstemp(prefix='.' + target.name[:80] + '.', suffix='.tmp', dir=folder)
            with os.fdopen(fd, 'wb' if binary else 'w', **({} if binary else {'encoding': 'utf-8'})) as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)  # mkstemp makes the file private (0o600)
            with _blocked_signals():
                os.replace(tmp, target)
                tmp = None
        except BaseException:
            if tmp is not None:
                with _blocked_signals():
                    try:
                        os.unlink(tmp)
                    except OSError:
                        pass
            raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path if target is path else target


# ---- reading ---------------------------------------------------------------------------

def read_bytes(path, what='file', max_bytes=None):
    """The bytes of the regular file `path`, at most `max_bytes` of them.

    Never blocks on a FIFO (it is opened non-blocking and refused). One-line errors that
    say what is wrong: FileNotFoundError (missing, or a dangling symbolic link),
    PermissionError (unreadable), ValueError (a directory, FIFO, device or socket, a
    symbolic link loop, a name too long, a parent that is a file, over `max_bytes`).
    TypeError if `path` is not a file name.
    """
    path = as_path(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_CLOEXEC', 0))
    except OSError as e:
        raise _os_error(e, path, what) from None
    try:
        st = os.fstat(fd)
        kind = file_kind(st.st_mode)
        if kind:
            raise ValueError(f"{what} {path} is {kind}, not a regular file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise ValueError(f"{what} {path} is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit")
        chunks, total = [], 0
        while True:
            try:
                chunk = os.read(fd, 1 << 20)
            except OSError as e:
                raise _os_error(e, path, what) from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if max_bytes is not None and total > max_bytes:  # it grew since the fstat
                raise ValueError(f"{what} {path} is over the {max_bytes:,}-byte limit")
        return b''.join(chunks)
    finally:
        os.close(fd)


# marks a JSON value refused while parsing; the walk after parsing names its field
_Bad = namedtuple('_Bad', 'text')


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r'[^\[\]{}]+')


def json_depth_exceeds(text, max_depth):
    """Does JSON `text` nest arrays/objects deeper than `max_depth`? (Strings skipped;
    checked without recursion, before json.loads could hit RecursionError.)"""
    depth = 0
    for ch in _NOT_BRACKET.sub('', _STRING.sub('""', text)):
        if ch in '[{':
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def _field(parts):
    out = ''
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or '(the top level)'


def _find_bad(doc):
    stack = [(doc, ())]
    while stack:
        x, where = stack.pop()
        if isinstance(x, _Bad):
            return where, x
        if isinstance(x, dict):
            stack.extend((v, where + (k,)) for k, v in reversed(list(x.items())))
        elif isinstance(x, list):
            stack.extend((v, where + (i,)) for i, v in reversed(list(enumerate(x))))
    return None


def parse_json(raw, source, max_depth=MAX_JSON_DEPTH):
    """Strict JSON from bytes (or str): refuses non-UTF-8, nesting deeper than `max_depth`,
    NaN / Infinity, numbers beyond the float range and integers of over MAX_INT_DIGITS
    digits, each with one ValueError line naming `source` (e.g. 'checkpoint /x/ck.json')
    and the field."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode('utf-8')
        except UnicodeDecodeError as e:
            raise ValueError(f"{source} is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}): "
                             f"is it a binary file?") from None
    else:
        text = raw
    if json_depth_exceeds(text, max_depth):
        raise ValueError(f"{source} nests arrays/objects more than {max_depth} levels deep: refused")
    bad = []

    def constant(name):  # NaN, Infinity, -Infinity
        bad.append(1)
        return _Bad(f"{name}, not a finite number")

    def integer(s):
        digits = len(s.lstrip('-'))
        if digits > MAX_INT_DIGITS:  # never converted: int() of a long one is slow or refused
            bad.append(1)
            return _Bad(f"an integer of {digits} digits, over the limit of {MAX_INT_DIGITS}")
        return int(s)

    def real(s):
        x = float(s)
        if x in (float('inf'), float('-inf')):
            bad.append(1)
            return _Bad(f"{s[:24]}{'...' if len(s) > 24 else ''}, beyond the range of a float")
        return x
    try:
        doc = json.loads(text, parse_constant=constant, parse_int=integer, parse_float=real)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source} is not valid JSON ({e.msg}: line {e.lineno} column {e.colno})") from None
    except RecursionError:  # json_depth_exceeds should have caught it
        raise ValueError(f"{source} nests arrays/objects too deeply: refused") from None
    if bad:
        where, marker = _find_bad(doc)
        raise ValueError(f"{source}: {_field(where)} is {marker.text}")
    return doc


def load_json(path, what='file', max_bytes=None, max_depth=MAX_JSON_DEPTH):
    """`read_bytes` then `parse_json`: the document, or one line naming the file and field."""
    path = as_path(path, what)
    return parse_json(read_bytes(path, what, max_bytes), f"{what} {path}", max_depth)

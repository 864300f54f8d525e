"""Files in and out, checked once, here.

Writing: `check_output_path` validates a path before any work starts (the command line
calls it for every --out, `check_space` once the size is known); `atomic_write` writes a
temporary file beside the target, fsyncs it and renames it over the target, so a crash, a
full disk or a signal leaves the previous file intact and no temporary file behind.

Reading: `read_bytes` opens without blocking (a FIFO cannot hang it), refuses what is
not a regular file and anything over a size cap, and says exactly what is wrong (the
checkpoint's strict JSON is checkpoint.parse_json's).

Every refusal is one line that names the file.

Decisions (the behaviour of `cp`, where there is one):
  * a missing output folder is an error, never created silently;
  * an existing output file is replaced only with force=True; with force, a read-only file
    is replaced too (as `cp -f` does), because replacing needs only the folder's write
    permission; but not another user's file in a sticky folder such as /tmp, which the
    kernel would refuse to replace (refused up front);
  * a replaced file keeps its permission bits (as `cp` keeps them when it overwrites);
    a new file gets 0o666 minus the umask, like any file a program creates;
  * an output path that is a symbolic link to a file writes through the link (the target
    is replaced, the link stays), as `cp` does; a dangling link or a link loop is refused;
  * while `atomic_write` runs (main thread, default handlers only), and for a whole
    command under `exit_on_signals`, every signal whose default action ends the process
    and that a program can catch (SIGHUP, SIGQUIT, SIGTERM, SIGUSR1/2, SIGALRM, SIGXCPU,
    the real-time signals, ...: `FATAL_SIGNALS`) becomes SystemExit(128 + signal number)
    after the temporary file is removed; Ctrl-C (KeyboardInterrupt) likewise removes it.
    SIGKILL cannot be caught: it leaves the hidden `.NAME.*.tmp` file (and the old file).
"""
import errno
import os
import signal
import stat
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

# default action "end the process", and catchable (SIGSEGV and the like are the program's own faults)
FATAL_SIGNALS = tuple(getattr(signal, s) for s in (
    'SIGHUP', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGVTALRM', 'SIGPROF', 'SIGXCPU',
    'SIGXFSZ', 'SIGIO', 'SIGPWR', 'SIGSTKFLT') if hasattr(signal, s)) + (
    tuple(range(signal.SIGRTMIN, signal.SIGRTMAX + 1)) if hasattr(signal, 'SIGRTMIN') else ())


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


def _os_error(e, path, what, where=''):
    """One line for an OSError from looking at / opening `path`."""
    if e.errno == errno.ENOENT:
        if os.path.lexists(path) and os.path.islink(path):
            return FileNotFoundError(f"{what} {path}{where} is a symbolic link to {os.readlink(path)}, which does not exist")
        return FileNotFoundError(f"{what} {path}{where} does not exist")
    if e.errno == errno.ELOOP:
        return ValueError(f"{what} {path}{where} is a symbolic link loop (or too many links deep)")
    if e.errno == errno.ENAMETOOLONG:
        return ValueError(f"{what} {path}{where}: the name is too long for the file system")
    if e.errno == errno.ENOTDIR:
        blocker = _blocked_parent(path)
        where = f"{blocker} is a file, not a folder" if blocker else "a part of its folder path is not a folder"
        return ValueError(f"{what} {path}{where}: {where}")
    if e.errno in (errno.EACCES, errno.EPERM):
        return PermissionError(f"{what} {path}{where} cannot be read: permission denied")
    return OSError(e.errno, f"{what} {path}{where} cannot be used: {e.strerror or e}")


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
    label -> path, or plain paths: the dataset, an input checkpoint...), another user's
    file in a sticky folder (which only its owner can replace), and, unless `force`, an
    existing file. With `force` an existing file, read-only or not, is replaced (as
    `cp -f` does).
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
    euid = os.geteuid() if hasattr(os, 'geteuid') else 0
    if st is not None and fst.st_mode & stat.S_ISVTX and euid not in (0, st.st_uid, fst.st_uid):
        raise PermissionError(f"{what} {path} belongs to another user (uid {st.st_uid}) in the sticky folder "
                              f"{folder}, where only its owner may replace it: choose another name")
    limit = os.pathconf(folder, 'PC_NAME_MAX') if hasattr(os, 'pathconf') else 255
    if st is None and len(os.fsencode(target.name)) > limit:  # where lstat does not say ENAMETOOLONG
        raise ValueError(f"{what} {path}: the name is too long for the file system ({limit} bytes at most)")
    return target


def check_space(path, size, what='output file'):
    """Refuse, before the work that makes it, a file of about `size` bytes that the file
    system holding `path`'s folder has no room for (OSError ENOSPC naming both)."""
    try:
        vfs = os.statvfs(Path(path).parent)
    except (OSError, AttributeError):
        return
    free = vfs.f_bavail * vfs.f_frsize
    if free < size:
        raise OSError(errno.ENOSPC, f"{what} {path}: its file system has {free:,} bytes free, and the file "
                                    f"needs about {size:,}: free some space or write elsewhere")


@contextmanager
def _blocked_signals():
    """Hold Ctrl-C and FATAL_SIGNALS while a few lines run (delivered when the block ends)."""
    if not hasattr(signal, 'pthread_sigmask'):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGINT,) + FATAL_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def exit_on_signals():
    """While the block runs, FATAL_SIGNALS raise SystemExit(128 + signum) instead of ending
    the process at once, so that `finally` blocks run: temporary files are removed, worker
    processes ended. Only in the main thread, and only where the handler is the default one
    (a program's own handler is left alone)."""
    installed = {}
    if threading.current_thread() is threading.main_thread():
        def handler(signum, frame):
            raise SystemExit(128 + signum)
        for sig in FATAL_SIGNALS:
            if signal.getsignal(sig) == signal.SIG_DFL:
                installed[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in installed.items():
            signal.signal(sig, old)


def _unlink(path):
    with _blocked_signals():
        try:
            os.unlink(path)
        except OSError:
            pass


def atomic_write(path, write, binary=False):
    """Call `write(f)` on a new file beside `path`, fsync it, then rename it over `path`.
    Returns the Path written (a symbolic link to a file is written through).

    The folder must exist (it is not created). On any failure, exception or signal that
    can be caught (Ctrl-C, FATAL_SIGNALS), the temporary file is removed and `path` is as
    it was; an OSError (a full disk: errno 28) names `path`. If the finished file cannot be
    renamed over `path` (its owner changed it, say), it is kept beside it under another
    name, which the OSError gives. A replaced file keeps its permission bits; a new one
    gets 0o666 & ~umask.
    """
    target = check_output_path(path, force=True, what='file')  # again: things may have changed since
    folder, st = target.parent, (os.stat(target) if os.path.exists(target) else None)
    if st is None:
        umask = os.umask(0o022)
        os.umask(umask)
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~umask
    tmp = None
    with exit_on_signals():
        try:
            with _blocked_signals():  # so that `tmp` is known whenever the file exists
                fd, tmp = tempfile.mkstemp(prefix='.' + target.name[:80] + '.', suffix='.tmp', dir=folder)
            with os.fdopen(fd, 'wb' if binary else 'w', **({} if binary else {'encoding': 'utf-8'})) as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)  # mkstemp makes the file private (0o600)
            with _blocked_signals():
                try:
                    os.replace(tmp, target)
                except OSError as e:  # kept, not lost: under a name of its own beside the target
                    kept = folder / f"{target.stem}.{os.getpid()}{target.suffix}"
                    try:
                        os.link(tmp, kept)
                    except OSError:
                        raise OSError(e.errno, f"cannot replace {target}: {e.strerror}") from None
                    raise OSError(e.errno, f"cannot replace {target}: {e.strerror}; the new file is {kept}") from None
                tmp = None
        except BaseException as e:
            if tmp is not None:
                _unlink(tmp)
            if isinstance(e, OSError) and e.errno is not None and str(target) not in str(e):
                raise OSError(e.errno, f"cannot write {target}: {e.strerror or e} "
                                       f"({'it is unchanged' if st else 'nothing was written'})") from None
            raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return target


# ---- reading ---------------------------------------------------------------------------

def read_bytes(path, what='file', max_bytes=None, where=''):
    """The bytes of the regular file `path` (a bytearray), at most `max_bytes`. Messages name it
    as f"{what} {path}{where}" (where: e.g. ' (from MICRODNB_NAMES)').

    Never blocks on a FIFO (it is opened non-blocking and refused). One-line errors that
    say what is wrong: FileNotFoundError (missing, or a dangling symbolic link),
    PermissionError (unreadable), ValueError (a directory, FIFO, device or socket, a
    symbolic link loop, a name too long, a parent that is a file, over `max_bytes`).
    TypeError if `path` is not a file name.
    """
    path = as_path(path, what)
    name = f"{path}{where}"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_CLOEXEC', 0))
    except OSError as e:
        raise _os_error(e, path, what, where) from None
    try:
        st = os.fstat(fd)
        kind = file_kind(st.st_mode)
        if kind:
            raise ValueError(f"{what} {name} is {kind}, not a regular file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise ValueError(f"{what} {name} is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit")
        buf, n = bytearray(st.st_size + 1), 0   # read in place (no second copy); one byte more: did it grow?
        with memoryview(buf) as view:
            try:
                while n < len(buf) and (k := os.readv(fd, [view[n:]])):
                    n += k
            except OSError as e:
                raise _os_error(e, path, what, where) from None
        if n == len(buf):  # it grew since the fstat
            raise ValueError(f"{what} {name} " + (f"is over the {max_bytes:,}-byte limit" if max_bytes is not None
                                                  and n > max_bytes else "grew while it was read: try again"))
        del buf[n:]
        return buf
    finally:
        os.close(fd)

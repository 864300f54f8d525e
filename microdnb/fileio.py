"""Writing files so that no data is lost: write a temporary file beside the target, then rename.

A crash or a full disk mid-write leaves the previous file intact and no temporary file behind.
"""
import os
import tempfile
from pathlib import Path


def atomic_write(path, write):
    """Call `write(f)` on a new text file, then atomically replace `path` with it. Returns the Path."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give a file name inside it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + '.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'w') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; these files are for everyone
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path

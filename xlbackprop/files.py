"""Writing files atomically: a half-written file never replaces a good one."""

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from xlbackprop.errors import WorkbookError


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; move it into place only if the block finishes."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise WorkbookError(f"{path}: folder {folder} does not exist")
    if path.is_dir():
        raise WorkbookError(f"{path}: is a folder, expected a file name")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot write in {folder} ({exc.strerror})") from None
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; the user expects an ordinary file
        os.replace(tmp, path)
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_durably(path, data):
    """Write `data` (bytes) to `path` so that it survives a crash or a power cut once this returns: written
    beside it, flushed to disk (fsync), renamed into place, and the folder's entry flushed too (fsync of the
    folder). A crash before the end leaves the old file, or none, never half a file."""
    path = Path(path)
    with atomic_path(path) as tmp:
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise WorkbookError(f"{path}: cannot write ({exc.strerror or exc})") from None
    sync_folder(path.parent)


def sync_folder(folder):
    """Flush a folder's entries (a file renamed into it, or removed) to disk."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        raise WorkbookError(f"{folder}: cannot open the folder to flush it ({exc.strerror})") from None
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

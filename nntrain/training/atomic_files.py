"""Crash-safe file writes: write to a temporary name in the same directory, flush and fsync,
then rename into place (orbax / TensorFlow CheckpointManager). A process killed at any instant
leaves either the old file or the new one, never a torn one.

This is the one place nntrain writes files, so it is also where a failing file system (disk
full, quota, read-only, permissions, I/O error) becomes one error type: `WriteError`, naming
the file and the errno, with the temporary removed and the old file untouched. What the file
belonged to (a run, and how to continue it) is added by the caller that knows.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Callable, IO

from nntrain.errors import WriteError
from nntrain.sizes import format_bytes

TMP_MARK = ".tmp-"


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_free_space(path: Path, size: int) -> None:
    """Refuse, before writing a byte, a file of `size` bytes the file system has no room for
    (a half-written checkpoint helps nobody)."""
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return
    if free < size:
        raise WriteError(path, errno.ENOSPC, f"no space left on device (it needs "
                                             f"{format_bytes(size)}, {format_bytes(free)} free)")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None], *,
                 size: int | None = None) -> None:
    """Call `write(f)` on a temporary file next to `path`, then rename it to `path`. With
    `size` (the bytes `write` will write), check the free space first. Any OSError becomes a
    `WriteError` naming `path`; the temporary is removed."""
    path = Path(path)
    tmp = path.parent / f".{path.name}{TMP_MARK}{os.getpid()}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if size is not None:
            check_free_space(path, size)
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise WriteError(path, e.errno) from e
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    data = text.encode("utf-8")
    atomic_write(path, lambda f: f.write(data))


def process_alive(pid) -> bool:
    """Whether process `pid` is running (anyone's; a pid that is not a positive int: no)."""
    if isinstance(pid, str) and pid.isdigit():
        pid = int(pid)
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:   # exists, but not ours to signal
        return True
    return True


def clean_stale_temporaries(directory: str | Path) -> list[Path]:
    """Remove temporaries a killed process left behind anywhere under `directory` (a run
    writes its history and index, and checkpoints wherever ModelCheckpoint.filepath says).
    A temporary of a process still running is not stale and stays."""
    directory = Path(directory)
    removed = []
    if directory.is_dir():
        for p in directory.rglob(f".*{TMP_MARK}*"):
            pid = p.name.rpartition(TMP_MARK)[2]
            if p.is_file() and (pid == str(os.getpid()) or not process_alive(pid)):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed

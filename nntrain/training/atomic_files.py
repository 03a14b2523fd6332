"""Crash-safe file writes: write to a temporary name in the same directory, flush and fsync,
then rename into place (orbax / TensorFlow CheckpointManager). A process killed at any instant
leaves either the old file or the new one, never a torn one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, IO

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


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write(f)` on a temporary file next to `path`, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}{TMP_MARK}{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


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

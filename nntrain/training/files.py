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


def clean_stale_temporaries(directory: str | Path) -> list[Path]:
    """Remove temporaries a killed process left behind in `directory` (not recursive)."""
    directory = Path(directory)
    removed = []
    if directory.is_dir():
        for p in directory.iterdir():
            if p.name.startswith(".") and TMP_MARK in p.name:
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed

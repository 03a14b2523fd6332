"""Whether a run is finished, interrupted, failed or running — read from its directory alone.

fit and resume write ``status.json`` (``{"status", "pid", "started", "ended", "message"}``) and
hold an exclusive ``flock`` on ``.lock`` while training, so a run whose status says running but
whose lock is free was killed: it is interrupted. A run written before status.json existed is
judged by its checkpoints: ``final`` in the index, or its epochs against ``fit.epochs``, or an
EarlyStopping that stopped it, mean finished; anything else is interrupted.
"""

from __future__ import annotations

import errno
import fcntl
import json
from pathlib import Path

import numpy as np
import yaml

from nntrain.errors import CheckpointError
from nntrain.training import checkpoint as ckpt

STATUS_FILE = "status.json"
LOCK_FILE = ".lock"
CHECKPOINTS = "checkpoints"
STATUSES = ("finished", "interrupted", "failed", "running")


def lock_held(path: Path) -> bool:
    """Whether some process holds a flock on `path` (probed with a shared, non-blocking lock,
    released at once)."""
    try:
        fd = open(path, "rb")
    except OSError:
        return False
    with fd:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as e:
            return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
        fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def read_status_file(run: Path) -> dict | None:
    """The run's status.json, or None when it is missing or unreadable."""
    try:
        data = json.loads((run / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("status") in STATUSES else None


def run_status(path: str | Path) -> str:
    """finished, interrupted, failed or running."""
    run = Path(path)
    if lock_held(run / LOCK_FILE):
        return "running"
    recorded = read_status_file(run)
    if recorded is not None:
        return "interrupted" if recorded["status"] == "running" else recorded["status"]
    return inferred_status(run)


def inferred_status(run: Path) -> str:
    """For runs without status.json: finished if fit ended (index ``final``), reached
    ``fit.epochs`` or was stopped by EarlyStopping, else interrupted."""
    try:
        index = ckpt.read_index(run / CHECKPOINTS)
    except CheckpointError:
        return "interrupted"
    if index.get("final"):
        return "finished"
    meta = latest_meta(run, index)
    if meta is None:
        return "interrupted"
    if meta.get("batch", 0) == 0 and meta.get("epoch", 0) >= planned_epochs(run):
        return "finished"
    for cb in meta.get("callbacks", []):
        if cb.get("type") == "EarlyStopping" and (cb.get("state") or {}).get("stopped_epoch"):
            return "finished"
    return "interrupted"


def latest_meta(run: Path, index: dict | None = None) -> dict | None:
    """The meta record of the run's newest checkpoint (only that member is read)."""
    try:
        path = ckpt.resolve_checkpoint(run / CHECKPOINTS, "latest")
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"]))
    except (CheckpointError, OSError, ValueError, KeyError):
        return None


def planned_epochs(run: Path) -> int:
    """``fit.epochs`` of the run's config.yaml (Keras's default 1)."""
    try:
        config = yaml.safe_load((run / "config.yaml").read_text()) or {}
        epochs = (config.get("fit") or {}).get("epochs", 1)
        return int(epochs)
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError):
        return 1


def has_checkpoint(run: Path) -> bool:
    try:
        ckpt.resolve_checkpoint(run / CHECKPOINTS, "latest")
        return True
    except CheckpointError:
        return False

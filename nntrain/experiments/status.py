"""Whether a run is finished, interrupted, failed or running.

fit and resume keep ``status.json`` current and hold the run's ``.lock`` while training; their
reading side is `nntrain.training.run_dir.run_status`. What this module adds is the judgement
of runs written before status.json existed, from their checkpoints: ``final`` in the index,
the newest checkpoint at the end of ``fit.epochs``, or an EarlyStopping that stopped the run,
mean finished; anything else is interrupted (a process still training such a run cannot be
told apart).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from nntrain.errors import CheckpointError
from nntrain.training import checkpoint as ckpt
from nntrain.training import run_dir

STATUSES = run_dir.STATUSES


def run_status(path: str | Path) -> str:
    """finished, interrupted, failed or running."""
    run = run_dir.RunDir(path)
    if run_dir.read_status(run) is None:
        if run_dir.lock_holder(run) is not None:
            return "running"
        return inferred_status(run)
    return run_dir.run_status(run)


def inferred_status(run: run_dir.RunDir) -> str:
    """For runs without status.json: finished if fit ended (index ``final``), the newest
    checkpoint closes epoch ``fit.epochs``, or EarlyStopping stopped it; else interrupted."""
    try:
        index = ckpt.read_index(run.checkpoints)
    except CheckpointError:
        return "interrupted"
    if index.get("final"):
        return "finished"
    meta = latest_meta(run)
    if meta is None:
        return "interrupted"
    if meta.get("batch", 0) == 0 and meta.get("epoch", 0) >= planned_epochs(run):
        return "finished"
    for cb in meta.get("callbacks", []):
        if cb.get("type") == "EarlyStopping" and (cb.get("state") or {}).get("stopped_epoch"):
            return "finished"
    return "interrupted"


def latest_meta(run: run_dir.RunDir) -> dict | None:
    """The meta record of the run's newest checkpoint (only that member is read)."""
    try:
        path = ckpt.resolve_checkpoint(run.checkpoints, "latest")
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"]))
    except (CheckpointError, OSError, ValueError, KeyError):
        return None


def planned_epochs(run: run_dir.RunDir) -> int:
    """``fit.epochs`` of the run's config.yaml (Keras's default 1)."""
    try:
        config = yaml.safe_load(run.config.read_text()) or {}
        return int((config.get("fit") or {}).get("epochs", 1))
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError):
        return 1


def has_checkpoint(path: str | Path) -> bool:
    try:
        ckpt.resolve_checkpoint(run_dir.RunDir(path).checkpoints, "latest")
        return True
    except CheckpointError:
        return False

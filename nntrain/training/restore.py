"""Reading a run back: which checkpoint a reader wants (final, latest or best), and a run's model
rebuilt with that checkpoint's weights and normalization — what evaluate, predict, diagnose and
`nntrain.load` start from. Readers never take the run's lock: checkpoints are written to a
temporary name and renamed, so they never see a half-written file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from nntrain.errors import CheckpointError
from nntrain.training import checkpoint as ckpt
from nntrain.training.run_dir import RunDir, lock_holder, recorded_status


def run_status(run: RunDir | str | Path) -> str:
    """finished, interrupted, failed or running: what status.json and the lock say; for a run
    written before status.json existed, judged from its checkpoints: finished when the index
    names a final model, the newest checkpoint closes epoch ``fit.epochs`` or EarlyStopping
    stopped the run, else interrupted (or running, while a process holds its lock)."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    status = recorded_status(run)
    if status is not None:
        return status
    if lock_holder(run) is not None:
        return "running"
    try:
        if ckpt.read_index(run.checkpoints).get("final"):
            return "finished"
    except CheckpointError:
        return "interrupted"
    meta = latest_meta(run)
    if meta is None:
        return "interrupted"
    if meta.get("batch", 0) == 0 and meta.get("epoch", 0) >= _planned_epochs(run):
        return "finished"
    if any(cb.get("type") == "EarlyStopping" and (cb.get("state") or {}).get("stopped_epoch")
           for cb in meta.get("callbacks", [])):
        return "finished"
    return "interrupted"


def latest_meta(run: RunDir) -> dict | None:
    """The meta record of the run's newest checkpoint (only that member is read), or None."""
    try:
        path = ckpt.resolve_checkpoint(run.checkpoints, "latest")
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"]))
    except (CheckpointError, OSError, ValueError, KeyError):
        return None


def _planned_epochs(run: RunDir) -> int:
    """``fit.epochs`` of the run's config.yaml (Keras's default 1)."""
    try:
        config = yaml.safe_load(run.config.read_text()) or {}
        return int((config.get("fit") or {}).get("epochs", 1))
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError):
        return 1


def default_which(run: RunDir) -> str:
    """`final` when the run finished (and wrote one), else `latest`."""
    index = ckpt.read_index(run.checkpoints)
    return "final" if index.get("final") and run_status(run) == "finished" else "latest"


def checkpoint_for(run: RunDir, which: str | None = None, path: str | Path | None = None) -> Path:
    """The file a reader asked for: an explicit path (absolute, relative to the current
    directory or to the run), else the index's `which` (default: `default_which`)."""
    if path:
        p = Path(path)
        return p if p.is_absolute() or p.exists() else run.file(p)
    if which is not None and which not in ckpt.WHICH:
        raise CheckpointError(f"expected which to be one of {', '.join(ckpt.WHICH)}, received "
                              f"{which!r}", file=str(run.path))
    return ckpt.resolve_checkpoint(run.checkpoints, which or default_which(run))


def checkpoint_normalizer(cp: ckpt.Checkpoint):
    """The normalization statistics training used (never recomputed from the data file)."""
    from nntrain.data import Normalizer
    state = cp.meta.get("normalizer")
    if not state:
        raise CheckpointError("the checkpoint has no normalization statistics", file=cp.path)
    return Normalizer.from_state(state)


def describe_checkpoint(run: RunDir, path: Path, cp: ckpt.Checkpoint) -> str:
    """What a file holds, in words: "final model (weights of epoch 10, restored by
    EarlyStopping)", "checkpoint of epoch 15"."""
    epoch = cp.meta.get("epoch")
    if cp.meta.get("batch"):
        return f"checkpoint of epoch {epoch + 1}, batch {cp.meta['batch']}"
    index = ckpt.read_index(run.checkpoints)
    if index.get("final") and ckpt.relative_name(path, run.checkpoints) == index["final"]:
        if cp.meta.get("imported_from"):
            return f"final model: weights imported from {cp.meta['imported_from']}"
        restored = cp.meta.get("restored_epoch")
        if restored:
            return (f"final model: weights of epoch {restored} restored by EarlyStopping "
                    f"after epoch {epoch}")
        return f"final model: weights after epoch {epoch}"
    return f"checkpoint of epoch {epoch}"

"""Reading a run back: which checkpoint a reader wants (final, latest or best), and a run's model
rebuilt with that checkpoint's weights and normalization — what evaluate, predict, diagnose and
`nntrain.load` start from. Readers never take the run's lock: checkpoints are written to a
temporary name and renamed, so they never see a half-written file.
"""

from __future__ import annotations

import json
import zipfile
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


def load_or_point_elsewhere(run: RunDir, path: Path | None, which: str | None = None, *,
                            resume: bool) -> tuple[Path, ckpt.Checkpoint]:
    """Read the checkpoint a command asked for (`checkpoint_for`); when it or the index
    cannot be read, the error names the newest intact checkpoint of the run and the command
    that uses it."""
    try:
        path = checkpoint_for(run, which, path)
        return path, ckpt.load_checkpoint(path)
    except CheckpointError as e:
        index_broken = e.file == str(run.index)
        if not index_broken and (path is None or not Path(path).is_file()):
            raise
        other = newest_intact(run, besides=None if index_broken else path, resume=resume)
        if other is not None:
            relative = ckpt.relative_name(other, run.path)
            use = (f"nntrain resume {run} --checkpoint {relative}" if resume
                   else f"give --checkpoint {relative}")
            if index_broken and resume:   # a new index is started when the old one is gone
                use = f"move {ckpt.relative_name(run.index, run.path)} aside and run: {use}"
            name = ckpt.relative_name(other, run.checkpoints)
            e.message += f"; the newest intact one is {name}: {use}"
        raise


def newest_intact(run: RunDir, besides: Path | None, *, resume: bool) -> Path | None:
    """The newest checkpoint of `run` that reads completely (every array, CRC-checked), other
    than `besides`: in the index's order or, when the index itself is unreadable, by training
    step. For `resume`, never the final model (it holds no training state)."""
    try:
        entries = [e for e in reversed(ckpt.read_index(run.checkpoints)["checkpoints"])
                   if not (resume and e.get("final"))]
        candidates = [run.checkpoints / e["file"] for e in entries]
    except (CheckpointError, KeyError, TypeError):
        candidates = sorted((p for p in run.checkpoints.rglob("*.npz")
                             if not (resume and p == run.final)),
                            key=lambda p: _step(run, p), reverse=True)
    skip = Path(besides).resolve() if besides is not None else None
    for candidate in candidates:
        if not candidate.is_file() or candidate.resolve() == skip:
            continue
        try:
            ckpt.load_checkpoint(candidate)
        except CheckpointError:
            continue
        return candidate
    return None


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


def _step(run: RunDir, path: Path) -> tuple:
    """Where in training a checkpoint file was written, read from its meta alone (the index's
    order: global step, then epoch; the final model after the checkpoint of its step)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
        return (meta.get("global_step", 0), meta.get("epoch", 0), path == run.final)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return (-1, -1, False)


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
    try:
        index = ckpt.read_index(run.checkpoints)
    except CheckpointError:   # a torn index: the file is still what it is
        index = {}
    if index.get("final") and ckpt.relative_name(path, run.checkpoints) == index["final"]:
        if cp.meta.get("imported_from"):
            return f"final model: weights imported from {cp.meta['imported_from']}"
        restored = cp.meta.get("restored_epoch")
        if restored:
            return (f"final model: weights of epoch {restored} restored by EarlyStopping "
                    f"after epoch {epoch}")
        return f"final model: weights after epoch {epoch}"
    return f"checkpoint of epoch {epoch}"

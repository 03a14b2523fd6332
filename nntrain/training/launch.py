"""Running a run: `train` runs the trainer as the run's one writer (the lock), keeps status.json
current and, when training ends normally, writes the final model; `start_resume` reopens a run
at a checkpoint. (A new run starts in the Python API: `nntrain.Model.prepare_fit`.)
"""

from __future__ import annotations

import copy
import errno
from contextlib import contextmanager, suppress
from pathlib import Path

import yaml

from nntrain import from_config
from nntrain.errors import CheckpointError, WriteError
from nntrain.training import checkpoint as ckpt
from nntrain.training.assembly import TrainingRun, assemble
from nntrain.training.atomic_files import atomic_write_text, clean_stale_temporaries
from nntrain.training.restore import checkpoint_normalizer, load_or_point_elsewhere
from nntrain.training.run_dir import RunDir, RunLock, write_status
from nntrain.training.trainer import Interrupted, StoppedAtOnce


def resolved_config(data: dict) -> dict:
    """The config with data and weight paths made absolute (what the run directory keeps, so
    resume and evaluate work from anywhere)."""
    from nntrain.data import resolve_data_paths
    data = copy.deepcopy(data)
    if isinstance(data.get("data"), dict):
        data["data"] = resolve_data_paths(data["data"])
    model = data.get("model") or {}
    if isinstance(model.get("weights"), str):
        model["weights"] = str(Path(model["weights"]).expanduser().resolve())
    return data


def write_config(run: RunDir, data: dict) -> None:
    atomic_write_text(run.config, yaml.safe_dump(data, sort_keys=False, default_flow_style=None))


def start_resume(run: RunDir | Path, checkpoint_path: Path | None, *, epochs: int | None,
                 weights_only_ok: bool, listeners=()) -> tuple[TrainingRun, ckpt.Checkpoint, bool]:
    """Reopen a run at a checkpoint (default: its latest); returns (the run, the checkpoint,
    whether the optimizer starts fresh from a weights-only checkpoint)."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    config = from_config.open_config(run.config, needs=("model", "compile.loss", "data"))
    prepared = assemble(config, run, listeners=listeners)
    clean_stale_temporaries(run.path)
    path, cp = load_or_point_elsewhere(run, checkpoint_path, "latest", resume=True)
    trainer = prepared.trainer
    if cp.meta.get("model_hash") != trainer.model_hash:
        raise CheckpointError("the config's model section changed since this checkpoint was "
                              "written; resume needs the same model", file=str(path))
    ckpt.load_weights_into(trainer.model, cp.weights, str(path))
    fresh = bool(cp.meta.get("weights_only"))
    if fresh and not weights_only_ok:
        raise CheckpointError("this checkpoint holds weights only (save_weights_only), so "
                              "training cannot continue exactly; pass --weights-only-ok to start "
                              "a fresh optimizer from these weights", file=str(path))
    trainer.dataset.normalizer = checkpoint_normalizer(cp)
    if fresh:
        trainer.state.epoch = cp.meta["epoch"]
        trainer.state.history = list(cp.meta.get("history", []))
    else:
        trainer.restore(cp)
    if epochs is not None:
        prepared.epochs = epochs
    return prepared, cp, fresh


def train(prepared: TrainingRun) -> Path | None:
    """Train as the run's only writer; returns the final model's path. status.json says
    running while it trains, then finished, interrupted (a signal's checkpoint was written:
    `Interrupted` propagates) or failed. A file the run cannot write (`WriteError`: disk
    full, ...) ends it here, with the checkpoint it is intact up to and how to continue."""
    trainer = prepared.trainer
    run = trainer.run
    try:
        with RunLock(run):
            try:
                write_status(run, "running")
                with from_config.located(prepared.config):
                    trainer.fit(prepared.epochs)
                final = save_final(trainer)
                write_status(run, "finished")
            except Interrupted:
                _record(run, "interrupted")
                raise
            except BaseException as e:
                if isinstance(e, WriteError):
                    e.advice = e.advice or continue_advice(run, e.errno)
                interrupted = isinstance(e, (KeyboardInterrupt, StoppedAtOnce))
                _record(run, "interrupted" if interrupted else "failed",
                        None if interrupted else str(e) or type(e).__name__)
                raise
    except WriteError as e:   # the lock file itself
        e.advice = e.advice or continue_advice(run, e.errno)
        raise
    return final


def _record(run: RunDir, status: str, message: str | None = None) -> None:
    """Write the status a run ended with, if the file system lets us: on a full disk this
    write fails too, and must not hide the error that ended the run."""
    try:
        write_status(run, status, message)
    except WriteError:
        pass


FIXES = {errno.ENOSPC: "free space", errno.EDQUOT: "free space (or raise the quota)",
         errno.EROFS: "make the file system writable", errno.EACCES: "fix the permissions",
         errno.EPERM: "fix the permissions", errno.EIO: "check the disk"}


def fix_for(err_no: int | None) -> str:
    """What the user must do about a failed write, in a few words."""
    return FIXES.get(err_no, "fix that")


def continue_advice(run: RunDir, err_no: int | None) -> str:
    """How a run that could not write a file continues: from the newest checkpoint the index
    names (every file it names is whole: checkpoints and the index are written atomically)."""
    try:
        latest = ckpt.resolve_checkpoint(run.checkpoints, "latest")
    except CheckpointError:
        return (f"no checkpoint of the run was written yet — {fix_for(err_no)} and train it "
                f"again: nntrain fit {run.config}")
    name = ckpt.relative_name(latest, run.checkpoints)
    return (f"the run is intact up to {name} — {fix_for(err_no)} and run: "
            f"nntrain resume {run} --latest")


@contextmanager
def creating(run: RunDir):
    """Writing a new run's first files (config.yaml, data.npz): if the file system refuses,
    remove the directory `new_run_dir` just made for it, so no half-made run is left."""
    try:
        yield
    except WriteError as e:
        for name in (RunDir.CONFIG, RunDir.DATA, RunDir.CHECKPOINTS):
            p = run.file(name)
            with suppress(OSError):
                p.rmdir() if p.is_dir() else p.unlink(missing_ok=True)
        with suppress(OSError):
            run.path.rmdir()
        e.advice = e.advice or f"nothing was trained — {fix_for(e.errno)} and run it again"
        raise


def save_final(trainer) -> Path:
    """The weights training ended with as the run's final model (a callback that restored an
    earlier epoch's weights, as EarlyStopping does, says which in `trainer.restored_epoch`)."""
    logs = trainer.state.history[-1] if trainer.state.history else {}
    return trainer.checkpoints.save_final(logs, restored_epoch=trainer.restored_epoch)


def files_message(trainer, final: Path | None) -> str:
    """After training: which file holds what."""
    run = trainer.run
    latest = ckpt.read_index(run.checkpoints).get("latest")
    resume = f"; latest checkpoint, to resume from: {run.checkpoints / latest}" if latest else ""
    if final is None:
        return f"Checkpoints in {run.checkpoints}{resume}"
    what = (f"the weights of epoch {trainer.restored_epoch}, restored by EarlyStopping"
            if trainer.restored_epoch else f"the weights after epoch {trainer.state.epoch}")
    return f"Final model: {final} ({what}){resume}"

"""Reading a run back: which checkpoint a reader wants (final, latest or best), and a run's model
rebuilt with that checkpoint's weights and normalization — what evaluate, predict, diagnose and
`nntrain.load` start from. Readers never take the run's lock: checkpoints are written to a
temporary name and renamed, so they never see a half-written file.
"""

from __future__ import annotations

from pathlib import Path

from nntrain.errors import CheckpointError
from nntrain.training import checkpoint as ckpt
from nntrain.training.run_dir import RunDir, run_status


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

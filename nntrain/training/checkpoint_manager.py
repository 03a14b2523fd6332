"""The one object that owns a run's checkpoints (orbax / TensorFlow's CheckpointManager).

Callbacks that save (ModelCheckpoint) `register` with it and `request_save`; the manager writes
the files at the end of the batch or epoch, after every callback has updated its state, so each
file holds every callback's latest state. It records each file in the index, prunes an owner's
old files once the new one is committed (`max_to_keep`, never the best one), writes the
checkpoint a signal asks for and the run's final model. It listens to the same events as the
callbacks (it sits in the trainer's event list after them), and what it must remember across a
resume (the files each owner wrote, oldest first) is in every checkpoint it writes.
"""

from __future__ import annotations

import math
from pathlib import Path

from nntrain.training import checkpoint as ckpt
from nntrain.training.callbacks.base import Callback
from nntrain.training.run_dir import RunDir


class CheckpointManager(Callback):
    def __init__(self, run: RunDir | None):
        self.run = run
        self._owners: list = []                  # callbacks that save, in registration order
        self._keep: list[int | None] = []         # each owner's max_to_keep
        self.written: list[list[str]] = []        # each owner's files, oldest first
        self._pending: list[tuple] = []

    # -- what saving callbacks call -------------------------------------------------------
    def register(self, owner, *, max_to_keep: int | None = None) -> None:
        if owner in self._owners:
            return
        self._owners.append(owner)
        self._keep.append(max_to_keep)
        self.written.append([])

    def request_save(self, owner, path: str, *, epoch: int, batch: int | None, is_best: bool,
                     weights_only: bool) -> None:
        """Save `path` (relative to the run) at the end of this batch or epoch."""
        self._pending.append((owner, path, is_best, weights_only))

    def display_path(self, path: str) -> str:
        return str(self.run.file(path)) if self.run else path

    # -- events -----------------------------------------------------------------------------
    def on_batch_end(self, epoch, batch, logs) -> None:
        self.flush(logs)

    def on_epoch_end(self, epoch, logs) -> None:
        self.flush(logs)

    def flush(self, logs: dict) -> None:
        pending, self._pending = self._pending, []
        # Each owner's list of files is part of the state a checkpoint holds, so it must name
        # this round's files before they are written: a run resumed from one of them can then
        # still prune it (max_to_keep).
        for owner, path, *_ in pending:
            self._note(self._owners.index(owner), path)
        for owner, path, is_best, weights_only in pending:
            self.write(path, weights_only=weights_only, is_best=is_best, logs=logs)
            self._prune(self._owners.index(owner))

    def save_interrupt(self, logs: dict) -> Path:
        """A checkpoint of exactly where training is (a signal asked to stop); it counts toward
        the first owner's `max_to_keep`, like that owner's own files."""
        path = self.run.checkpoint_name(self.trainer.state.epoch_number)
        if self._owners:
            self._note(0, path)
        self.write(path, weights_only=False, is_best=False, logs=logs)
        return self.run.file(path)

    def save_final(self, logs: dict, *, restored_epoch: int | None) -> Path:
        """The weights fit ended with (EarlyStopping may have restored an earlier epoch's) as
        the run's final model: weights only, recorded in the index as ``final``."""
        self.write(RunDir.FINAL, weights_only=True, is_best=False, logs=logs, final=True,
                   extra={"restored_epoch": restored_epoch})
        return self.run.final

    # -- writing ----------------------------------------------------------------------------
    def write(self, path: str, *, weights_only: bool, is_best: bool, logs: dict,
              final: bool = False, extra: dict | None = None) -> int:
        """Write one checkpoint file and record it in the index; returns its size in bytes."""
        full = self.run.file(path)
        weights, meta, opt_arrays, state_arrays = self.trainer.checkpoint_contents(
            weights_only=weights_only, logs=logs)
        if final:   # the final model is weights (and the meta a reader needs), nothing else
            state_arrays = {}
        size = ckpt.save_checkpoint(full, weights, {**meta, **(extra or {})}, opt_arrays,
                                    state_arrays)
        monitored = {k: v for k, v in logs.items() if isinstance(v, float) and math.isfinite(v)
                     and k != "seconds"}
        st = self.trainer.state
        entry = {"epoch": st.epoch_number, "batch": st.batch,
                 "global_step": int(self.trainer.optimizer.iterations),
                 "weights_only": weights_only, "size": size, "values": monitored,
                 **(extra or {})}
        ckpt.record_in_index(self.run.checkpoints, full, entry, is_best=is_best, final=final)
        return size

    def _note(self, i: int, path: str) -> None:
        """Record `path` as owner i's newest file (before it is written; see `flush`)."""
        if path in self.written[i]:
            self.written[i].remove(path)
        self.written[i].append(path)

    def _prune(self, i: int) -> None:
        """Keep owner i's newest `max_to_keep` files (and the best), after the new one is
        committed to the index."""
        keep, written = self._keep[i], self.written[i]
        if keep is None or len(written) <= keep:
            return
        index_dir = self.run.checkpoints
        best = ckpt.read_index(index_dir).get("best")
        drop = [p for p in written[:-keep]
                if ckpt.relative_name(self.run.file(p), index_dir) != best]
        self.written[i] = [p for p in written if p not in drop]
        ckpt.drop_from_index(index_dir, [ckpt.relative_name(self.run.file(p), index_dir)
                                         for p in drop])
        for p in drop:
            self.run.file(p).unlink(missing_ok=True)

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"written": [list(w) for w in self.written]}

    def load_state_dict(self, state: dict) -> None:
        written = state.get("written", [])
        for i in range(len(self.written)):
            self.written[i] = list(written[i]) if i < len(written) else []

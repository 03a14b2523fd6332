"""Training progress as JSON lines on stdout, for a program watching the run (a sweep's
worker): ``NNTRAIN_PROGRESS=jsonl nntrain fit ...``. One object per line with an ``event`` key:
message, train_begin, epoch_begin, batch, epoch_end, train_end. Batch events are sent at most
every `interval` seconds and at the end of each epoch, so a fast model does not flood the pipe.
Like the other progress displays (nntrain/cli/progress.py), the last callback of the run.
"""

from __future__ import annotations

import json
import math
import sys
import time

from nntrain.training.callbacks import Callback

INTERVAL = 0.2


def _clean(logs: dict) -> dict:
    """Numbers only, non-finite ones as null (JSON has no NaN)."""
    return {k: (v if math.isfinite(v) else None) for k, v in logs.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


class JsonlProgress(Callback):
    def __init__(self, stream=None, interval: float = INTERVAL):
        self.stream = stream or sys.stdout
        self.interval = interval
        self.last = -math.inf      # the first batch is always sent

    def _emit(self, event: str, **fields) -> None:
        self.stream.write(json.dumps({"event": event, **fields}) + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        self._emit("message", text=text)

    def on_message(self, text: str) -> None:
        self.message(text)

    def on_train_begin(self) -> None:
        p = self.trainer.params
        self._emit("train_begin", epochs=p["epochs"], samples=p["samples"], batches=p["steps"],
                   initial_epoch=p["initial_epoch"])

    def on_epoch_begin(self, epoch) -> None:
        p = self.trainer.params
        self._emit("epoch_begin", epoch=epoch, epochs=p["epochs"], batches=p["steps"],
                   start_batch=self.trainer.state.batch)

    def on_batch_end(self, epoch, batch, logs) -> None:
        now = time.monotonic()
        if now - self.last < self.interval and batch + 1 < self.trainer.params["steps"]:
            return
        self.last = now
        lr = self.trainer.optimizer.current_learning_rate()
        self._emit("batch", batch=batch + 1, logs=_clean(logs),
                   lr=float(lr) if lr is not None else None)

    def on_epoch_end(self, epoch, logs) -> None:
        self._emit("epoch_end", epoch=epoch, logs=_clean(logs))

    def on_train_end(self, logs) -> None:
        self._emit("train_end")

    def close(self) -> None:
        """Nothing to clean up (the display is the reader's)."""

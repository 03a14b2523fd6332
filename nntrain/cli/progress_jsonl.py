"""Training progress as JSON lines on stdout, for a program watching the run (a sweep's
worker): ``NNTRAIN_PROGRESS=jsonl nntrain fit ...``. One object per line with an ``event`` key
(message, train_begin, epoch_begin, batch, epoch_end, train_end); batch events are sent at most
every `interval` seconds and at the end of each epoch, so a fast model does not flood the pipe.
"""

from __future__ import annotations

import json
import math
import sys
import time

INTERVAL = 0.2


def _clean(logs: dict) -> dict:
    """Floats only, non-finite ones as null (JSON has no NaN)."""
    return {k: (v if math.isfinite(v) else None) for k, v in logs.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


class JsonlReporter:
    """The reporter interface of nntrain/cli/progress.py, written as JSON lines."""

    def __init__(self, stream=None, interval: float = INTERVAL):
        self.stream = stream or sys.stdout
        self.interval = interval
        self.last = -math.inf      # the first batch is always sent
        self.n_batches = 0

    def _emit(self, event: str, **fields) -> None:
        self.stream.write(json.dumps({"event": event, **fields}) + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        self._emit("message", text=text)

    def train_begin(self, *, epochs, samples, batches, initial_epoch) -> None:
        self._emit("train_begin", epochs=epochs, samples=samples, batches=batches,
                   initial_epoch=initial_epoch)

    def epoch_begin(self, epoch, epochs, n_batches, start_batch) -> None:
        self.n_batches = n_batches
        self._emit("epoch_begin", epoch=epoch, epochs=epochs, batches=n_batches,
                   start_batch=start_batch)

    def batch_end(self, batch, logs, lr) -> None:
        now = time.monotonic()
        if now - self.last < self.interval and batch < self.n_batches:
            return
        self.last = now
        self._emit("batch", batch=batch, logs=_clean(logs),
                   lr=float(lr) if lr is not None else None)

    def epoch_end(self, epoch, logs) -> None:
        self._emit("epoch_end", epoch=epoch, logs=_clean(logs))

    def train_end(self) -> None:
        self._emit("train_end")

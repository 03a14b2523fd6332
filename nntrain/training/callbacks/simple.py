"""Small callbacks: CSVLogger and TerminateOnNaN."""

from __future__ import annotations

import math

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.training.callbacks.base import Callback


class CSVLogger(Callback):
    """Write the history (one row per epoch) to `filename` in the run directory after every
    epoch. The history includes the epochs before a resume, so the file is always whole."""

    def __init__(self, filename="history.csv", separator=",", append=False):
        if not isinstance(filename, str) or not filename:
            raise ConfigError(f"expected a file name, received {filename!r}", key="filename")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ConfigError(f"expected one character, received {separator!r}",
                              key="separator")
        self.filename, self.separator = filename, separator
        self.append = validate.boolean("append", append)

    def on_epoch_end(self, epoch, logs):
        self.trainer.write_history_csv(self.filename, self.separator)


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite."""

    def on_batch_end(self, epoch, batch, logs):
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self.trainer.say(f"Batch {batch}: Invalid loss, terminating training")
            self.trainer.abort(f"the loss became {loss} at epoch {epoch + 1}, batch {batch + 1} "
                               f"(TerminateOnNaN); the last good checkpoint is kept")

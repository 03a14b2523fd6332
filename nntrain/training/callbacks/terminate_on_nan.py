"""TerminateOnNaN (keras/src/callbacks/terminate_on_nan.py)."""

from __future__ import annotations

import math

from nntrain.training.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite."""

    def on_batch_end(self, epoch, batch, logs):
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self.trainer.say(f"Batch {batch}: Invalid loss, terminating training")
            self.trainer.abort(f"the loss became {loss} at epoch {epoch + 1}, batch {batch + 1} "
                               f"(TerminateOnNaN); the last good checkpoint is kept")

"""EarlyStopping with Keras 3's rules (keras/src/callbacks/early_stopping.py)."""

from __future__ import annotations

import numpy as np

from nntrain import validate
from nntrain.training.callbacks.base import Monitor


class EarlyStopping(Monitor):
    """Stop when `monitor` has not improved for `patience` epochs; optionally restore the best
    weights at the end of training (also when training ran to its last epoch)."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=1, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = validate.non_negative_int("patience", patience)
        self.verbose = validate.non_negative_int("verbose", verbose)
        self.baseline = None if baseline is None else validate.number("baseline", baseline)
        self.restore_best_weights = validate.boolean("restore_best_weights",
                                                     restore_best_weights)
        self.start_from_epoch = validate.non_negative_int("start_from_epoch", start_from_epoch)
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = self.initial_best()
        self.best_weights: dict[str, np.ndarray] | None = None
        self._last_epoch = None    # the epoch this fit ended with (not state: fit ends after one)

    def on_epoch_end(self, epoch, logs):
        self._last_epoch = epoch
        current = logs.get(self.monitor)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self._copy_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self.improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self._copy_weights()
            if self.baseline is None or self.improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs):
        if self.stopped_epoch > 0 and self.verbose:
            self.trainer.say(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                self.trainer.say("Restoring model weights from the end of the best epoch: "
                                 f"{self.best_epoch + 1}.")
            for k, v in self.trainer.model.weights().items():
                v[...] = self.best_weights[k]
            if self.best_epoch != self._last_epoch:   # not simply the last epoch's weights
                self.trainer.restored_epoch = self.best_epoch + 1

    def _copy_weights(self):
        return {k: v.copy() for k, v in self.trainer.model.weights().items()}

    def state_dict(self):
        state = {"wait": self.wait, "stopped_epoch": self.stopped_epoch, "best": self.best,
                 "best_epoch": self.best_epoch}
        if self.best_weights is not None:
            state["arrays"] = dict(self.best_weights)
        return state

    def load_state_dict(self, state):
        self.wait, self.stopped_epoch = state["wait"], state["stopped_epoch"]
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        arrays = state.get("arrays")
        self.best_weights = dict(arrays) if arrays else None

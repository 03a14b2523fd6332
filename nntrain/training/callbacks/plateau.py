"""ReduceLROnPlateau with Keras 3's rules (keras/src/callbacks/reduce_lr_on_plateau.py)."""

from __future__ import annotations

import numpy as np

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.training.callbacks.base import Monitor


class ReduceLROnPlateau(Monitor):
    """Multiply the learning rate by `factor` after `patience` epochs without improvement."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=1, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        self.factor = validate.number("factor", factor, low=0, high=1, low_open=True,
                                      high_open=True)
        self.patience = validate.non_negative_int("patience", patience)
        self.verbose = validate.non_negative_int("verbose", verbose)
        self.cooldown = validate.non_negative_int("cooldown", cooldown)
        self.min_lr = validate.number("min_lr", min_lr, low=0)
        self.wait, self.cooldown_counter = 0, 0
        self.best = self.initial_best()

    def check(self):
        super().check()
        if not isinstance(self.trainer.optimizer.learning_rate, (int, float)):
            raise ConfigError("ReduceLROnPlateau needs a constant learning rate, but "
                              "compile.optimizer.learning_rate is a schedule",
                              key="compile.optimizer.learning_rate")

    def on_epoch_end(self, epoch, logs):
        current = logs.get(self.monitor)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improved(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.trainer.optimizer.learning_rate)
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    self.trainer.optimizer.set_learning_rate(new)
                    if self.verbose:
                        self.trainer.say(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing "
                                         f"learning rate to {new:g}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0

    def state_dict(self):
        return {"wait": self.wait, "cooldown_counter": self.cooldown_counter, "best": self.best}

    def load_state_dict(self, state):
        self.wait, self.cooldown_counter = state["wait"], state["cooldown_counter"]
        self.best = state["best"]

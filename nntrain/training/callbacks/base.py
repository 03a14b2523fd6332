"""The callback contract and the shared "monitor" logic (mode, min_delta, best value).

A callback reacts to the trainer's events and hands over its state (`state_dict`) so resume can
restore it exactly. It never writes a checkpoint itself: ModelCheckpoint asks the run's
checkpoint manager (``trainer.checkpoints``), which writes after every callback has updated its
state for that epoch or batch. It never prints: ``trainer.say(text)`` becomes an `on_message`
event, which the progress display (one more callback) shows.

Events: `on_train_begin` and `on_epoch_begin` also fire when a resumed run re-enters training
or an epoch part-way (``trainer.state.batch`` then says where); stateful callbacks keep what they
need in their state instead of resetting it there.
"""

from __future__ import annotations

import inspect
import math

from nntrain import validate
from nntrain.errors import ConfigError


class Callback:
    writes_files = False    # writes into the run directory (so needs one)

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self._arguments = (args, kwargs)   # for get_config: a run's config.yaml names it
        return self

    def get_config(self) -> dict:
        """The arguments it was constructed with (its config entry is ``{Class: these}``)."""
        args, kwargs = getattr(self, "_arguments", ((), {}))
        return dict(inspect.signature(type(self)).bind_partial(*args, **kwargs).arguments)

    def bind(self, trainer) -> None:
        self.trainer = trainer

    def required_logs(self) -> list[tuple[str, str]]:
        """(argument name, log key) pairs this callback needs; checked before training."""
        return []

    def check(self) -> None:
        """Raise an InputError for a setting this run cannot honour (once bound). Meant to run
        with the monitor check, before the run directory exists, so bad input costs nothing."""

    def on_train_begin(self) -> None: ...
    def on_epoch_begin(self, epoch: int) -> None: ...
    def on_batch_end(self, epoch: int, batch: int, logs: dict) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict) -> None: ...
    def on_train_end(self, logs: dict) -> None: ...
    def on_message(self, text: str) -> None: ...

    def state_dict(self) -> dict:
        """JSON-ready state; a key "arrays" may hold a dict of NumPy arrays."""
        return {}

    def load_state_dict(self, state: dict) -> None: ...


def maximizes(monitor: str) -> bool:
    """Keras's auto mode for a quantity whose metric does not say its direction: accuracy-like
    names go up, losses and errors go down. Metrics are logged under the name the config gives,
    which may be a class name (`BinaryAccuracy`)."""
    name = monitor.removeprefix("val_").lower()
    return "acc" in name or name.startswith(("fmeasure", "auc"))


class Monitor(Callback):
    """Watches one logged quantity; `improved(current, reference)` applies mode and min_delta."""

    def __init__(self, monitor: str, mode: str = "auto", min_delta: float = 0.0):
        if not isinstance(monitor, str) or not monitor:
            raise ConfigError(f"expected the name of a logged quantity, received {monitor!r}",
                              key="monitor")
        self.monitor = monitor
        self.mode = validate.choice("mode", mode, ["auto", "min", "max"])
        self.min_delta = abs(validate.number("min_delta", min_delta))
        self.maximize = self.mode == "max" or (self.mode == "auto" and maximizes(monitor))

    def initial_best(self) -> float:
        return -math.inf if self.maximize else math.inf

    def check(self) -> None:
        """In auto mode, follow the direction the monitored metric declares (as Keras reads a
        metric's ``_direction``) over the guess from its name."""
        if self.mode != "auto":
            return
        direction = self.trainer.metric_direction(self.monitor)
        if direction is not None and (direction == "up") != self.maximize:
            was_initial = getattr(self, "best", None) == self.initial_best()
            self.maximize = direction == "up"
            if was_initial:
                self.best = self.initial_best()

    def improved(self, current: float, reference: float) -> bool:
        if self.maximize:
            return current - self.min_delta > reference
        return current + self.min_delta < reference

    def required_logs(self):
        return [("monitor", self.monitor)]

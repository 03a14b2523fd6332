"""The trainer's one event list (Keras's ``CallbackList``): the loop raises each event once and
does not know who listens — the config's callbacks, then the checkpoint manager, then the
progress display, in that order, so a save holds every callback's state for that step and the
progress line comes after the callbacks' messages."""

from __future__ import annotations

from nntrain.training.callbacks.base import Callback


class CallbackList:
    def __init__(self, callbacks=()):
        self.callbacks: list[Callback] = list(callbacks)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def bind(self, trainer) -> None:
        for cb in self.callbacks:
            cb.bind(trainer)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def on_train_begin(self) -> None:
        for cb in self.callbacks:
            cb.on_train_begin()

    def on_epoch_begin(self, epoch: int) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch)

    def on_batch_end(self, epoch: int, batch: int, logs: dict) -> None:
        for cb in self.callbacks:
            cb.on_batch_end(epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_message(self, text: str) -> None:
        for cb in self.callbacks:
            cb.on_message(text)

"""How training shows itself: one more callback at the end of the trainer's event list (Keras's
ProgbarLogger). A rich progress bar per epoch on a terminal (ETA, live loss, metrics and learning
rate), plain lines otherwise, nothing with --quiet. Callbacks' messages arrive as `on_message`.
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from nntrain.training.callbacks import Callback


def format_logs(logs: dict, lr: float | None = None) -> str:
    parts = [f"{k}: {v:.4f}" for k, v in logs.items() if k not in ("lr", "seconds")
             and isinstance(v, float)]
    if lr is not None:
        parts.append(f"lr: {lr:.3g}")
    return " - ".join(parts)


class PlainProgress(Callback):
    """One line per epoch and every callback message; for logs and pipes. `message` is also
    what the commands print through before and after training."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False)

    def message(self, text: str) -> None:
        self.console.print(text, markup=False, soft_wrap=True)

    def on_message(self, text: str) -> None:
        self.message(text)

    def on_train_begin(self) -> None:
        p = self.trainer.params
        if p["initial_epoch"] >= p["epochs"]:   # nothing to train (resume writing a final model)
            return
        start = f" from epoch {p['initial_epoch'] + 1}" if p["initial_epoch"] else ""
        self.message(f"Training on {p['samples']} samples, {p['steps']} batches per epoch, "
                     f"{p['epochs']} epochs{start}")

    def on_epoch_end(self, epoch, logs) -> None:
        self.message(f"Epoch {epoch + 1}/{self.trainer.params['epochs']} - "
                     f"{logs['seconds']:.1f}s - {format_logs(logs, logs.get('lr'))}")

    def close(self) -> None:
        """Leave the display in a clean state (after an interrupt, too)."""


class RichProgress(PlainProgress):
    """A live bar over the epoch's batches, then the same per-epoch line as PlainProgress."""

    def __init__(self, console: Console | None = None):
        super().__init__(console)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            TextColumn("{task.fields[logs]}"), console=self.console, transient=True)
        self.task = None

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def on_train_begin(self) -> None:
        super().on_train_begin()
        self.progress.start()

    def on_epoch_begin(self, epoch) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(
            f"Epoch {epoch + 1}/{self.trainer.params['epochs']}",
            total=self.trainer.params["steps"], completed=self.trainer.state.batch, logs="")

    def on_batch_end(self, epoch, batch, logs) -> None:
        self.progress.update(self.task, completed=batch + 1, logs=format_logs(
            logs, self.trainer.optimizer.current_learning_rate()))

    def on_train_end(self, logs) -> None:
        self.close()

    def close(self) -> None:
        self.progress.stop()


class QuietProgress(PlainProgress):
    def message(self, text: str) -> None:
        pass

    def on_train_begin(self) -> None:
        pass

    def on_epoch_end(self, epoch, logs) -> None:
        pass


def make_progress(quiet: bool) -> PlainProgress:
    if os.environ.get("NNTRAIN_PROGRESS") == "jsonl":   # a sweep's worker: see progress_jsonl.py
        from nntrain.cli.progress_jsonl import JsonlProgress
        return JsonlProgress()
    console = Console(highlight=False)
    if quiet:
        return QuietProgress(console)
    return RichProgress(console) if console.is_terminal else PlainProgress(console)

"""How training shows itself: a rich progress bar per epoch on a terminal (ETA, live loss,
metrics and learning rate), plain lines otherwise, nothing with --quiet."""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)


def format_logs(logs: dict, lr: float | None = None) -> str:
    parts = [f"{k}: {v:.4f}" for k, v in logs.items() if k not in ("lr", "seconds")
             and isinstance(v, float)]
    if lr is not None:
        parts.append(f"lr: {lr:.3g}")
    return " - ".join(parts)


class PlainReporter:
    """One line per epoch and every callback message; for logs and pipes."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False)
        self.epochs = 0

    def message(self, text: str) -> None:
        self.console.print(text, markup=False, soft_wrap=True)

    def train_begin(self, *, epochs, samples, batches, initial_epoch) -> None:
        self.epochs = epochs
        start = f" from epoch {initial_epoch + 1}" if initial_epoch else ""
        self.message(f"Training on {samples} samples, {batches} batches per epoch, "
                     f"{epochs} epochs{start}")

    def epoch_begin(self, epoch, epochs, n_batches, start_batch) -> None:
        self.n_batches = n_batches

    def batch_end(self, batch, logs, lr) -> None:
        pass

    def epoch_end(self, epoch, logs) -> None:
        self.message(f"Epoch {epoch + 1}/{self.epochs} - {logs['seconds']:.1f}s - "
                     f"{format_logs(logs, logs.get('lr'))}")

    def train_end(self) -> None:
        pass


class RichReporter(PlainReporter):
    """A live bar over the epoch's batches, then the same per-epoch line as PlainReporter."""

    def __init__(self, console: Console | None = None):
        super().__init__(console)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            TextColumn("{task.fields[logs]}"), console=self.console, transient=True)
        self.task = None

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def train_begin(self, **info) -> None:
        super().train_begin(**info)
        self.progress.start()

    def epoch_begin(self, epoch, epochs, n_batches, start_batch) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(f"Epoch {epoch + 1}/{epochs}", total=n_batches,
                                           completed=start_batch, logs="")

    def batch_end(self, batch, logs, lr) -> None:
        self.progress.update(self.task, completed=batch, logs=format_logs(logs, lr))

    def train_end(self) -> None:
        self.progress.stop()


class QuietReporter(PlainReporter):
    def message(self, text: str) -> None:
        pass


def make_reporter(quiet: bool):
    if os.environ.get("NNTRAIN_PROGRESS") == "jsonl":   # a sweep's worker: see progress_jsonl.py
        from nntrain.cli.progress_jsonl import JsonlReporter
        return JsonlReporter()
    console = Console(highlight=False)
    if quiet:
        return QuietReporter(console)
    return RichReporter(console) if console.is_terminal else PlainReporter(console)

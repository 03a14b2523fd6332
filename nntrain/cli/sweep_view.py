"""How a sweep shows itself while it runs: on a terminal, an overall bar and one live progress
line per active run (epoch, position, latest logs); otherwise one plain line per run start and
end. It is the observer the sweep's executors report to (run_begin, run_event, run_end)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn)

from nntrain.cli.progress import format_logs
from nntrain.cli.runs_view import duration

MARK = {"finished": "[green]✓[/]", "interrupted": "[yellow]■[/]", "failed": "[red]✗[/]",
        "not started": "[dim]·[/]"}


class SweepDisplay:
    def __init__(self, console: Console, sweep, live: bool | None = None):
        self.console = console
        self.sweep = sweep
        self.runs = {r.id: r for r in sweep.runs}
        self.live = console.is_terminal if live is None else live
        self.tasks: dict[str, int] = {}
        self.shape: dict[str, tuple[int, int]] = {}       # run id → (epochs, batches)
        self.epoch: dict[str, int] = {}                   # run id → epoch in progress
        self.val: dict[str, dict] = {}                    # run id → last validation logs
        self.counts = {"finished": 0, "failed": 0, "interrupted": 0}
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
            TextColumn("{task.fields[epoch]}"), TimeElapsedColumn(),
            TextColumn("{task.fields[logs]}"), console=console, transient=True,
            disable=not self.live)
        self.overall = None

    # -- lifetime ---------------------------------------------------------------------------
    def __enter__(self):
        total = len(self.sweep.to_run())
        self.overall = self.progress.add_task(f"[bold]sweep {self.sweep.name}[/]", total=total,
                                              epoch="runs", logs="")
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def say(self, text: str) -> None:
        self.progress.console.print(text, highlight=False, soft_wrap=True)

    # -- what the executors report ------------------------------------------------------------
    def run_begin(self, run_id: str) -> None:
        run = self.runs[run_id]
        verb = "resuming" if run.action == "resume" else "starting"
        if self.live:
            self.tasks[run_id] = self.progress.add_task(f"  {run_id}", total=None,
                                                        epoch=verb, logs="")
        else:
            self.say(f"{verb} {run.directory}")

    def run_event(self, run_id: str, event: dict) -> None:
        task = self.tasks.get(run_id)
        if task is None:
            return
        kind = event.get("event")
        if kind == "train_begin":
            epochs, batches = event["epochs"], event["batches"]
            self.shape[run_id] = (epochs, batches)
            self.progress.update(task, total=epochs * batches,
                                 completed=event["initial_epoch"] * batches,
                                 epoch=f"epoch {event['initial_epoch'] + 1}/{epochs}")
        elif kind == "epoch_begin" and run_id in self.shape:
            epochs, batches = self.shape[run_id]
            self.epoch[run_id] = event["epoch"]
            self.progress.update(task, completed=event["epoch"] * batches + event["start_batch"],
                                 epoch=f"epoch {event['epoch'] + 1}/{epochs}")
        elif kind == "batch" and run_id in self.shape:
            batches = self.shape[run_id][1]
            logs = {**_floats(event.get("logs", {})), **self.val.get(run_id, {})}
            self.progress.update(task, completed=self.epoch.get(run_id, 0) * batches
                                 + event["batch"], logs=format_logs(logs, event.get("lr")))
        elif kind == "epoch_end":
            logs = _floats(event.get("logs", {}))
            self.val[run_id] = {k: v for k, v in logs.items() if k.startswith("val_")}
            self.progress.update(task, logs=format_logs(logs, logs.get("lr")))

    def run_end(self, run_id: str, outcome) -> None:
        task = self.tasks.pop(run_id, None)
        if task is not None:
            self.progress.remove_task(task)
        if outcome.status in self.counts:
            self.counts[outcome.status] += 1
        if outcome.status != "not started":
            self.progress.advance(self.overall)
        summary = ", ".join(f"{n} {k}" for k, n in self.counts.items() if n)
        self.progress.update(self.overall, logs=summary)
        run = self.runs[run_id]
        mark = MARK.get(outcome.status, "")
        if outcome.status == "failed":
            self.say(f"{mark} {run.directory} failed (exit {outcome.code}): {outcome.message}")
        elif outcome.status == "interrupted":
            self.say(f"{mark} {run.directory} interrupted; re-run the sweep to resume it")
        elif outcome.status == "finished":
            self.say(f"{mark} {run.directory} finished in {duration(outcome.seconds)}")


def _floats(logs: dict) -> dict:
    return {k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}

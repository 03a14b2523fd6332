"""The worker's JSON-lines progress stream and the sweep's live display that reads it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from nntrain.cli.progress_jsonl import JsonlProgress
from nntrain.cli.sweep_view import SweepDisplay
from nntrain.experiments.worker import Outcome, classify


def stream_of_a_run(interval: float) -> list[dict]:
    """The events a two-epoch run of four batches sends, as its trainer would call them."""
    out = io.StringIO()
    progress = JsonlProgress(out, interval=interval)
    state = SimpleNamespace(batch=0)
    progress.bind(SimpleNamespace(
        params={"epochs": 2, "samples": 40, "steps": 4, "initial_epoch": 0}, state=state,
        optimizer=SimpleNamespace(current_learning_rate=lambda: 0.01)))
    progress.message("Run directory: runs/s/a")
    progress.on_train_begin()
    for epoch in range(2):
        state.batch = 0
        progress.on_epoch_begin(epoch)
        for batch in range(4):
            progress.on_batch_end(epoch, batch, {"loss": 1.0 / (batch + 1),
                                                 "accuracy": float("nan")})
        progress.on_epoch_end(epoch, {"loss": 0.5, "val_loss": 0.6, "lr": 0.01, "seconds": 0.1})
    progress.on_train_end({})
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_the_stream_is_one_json_object_per_line_with_throttled_batches():
    events = stream_of_a_run(interval=3600)
    kinds = [e["event"] for e in events]
    assert kinds == ["message", "train_begin", "epoch_begin", "batch", "batch", "epoch_end",
                     "epoch_begin", "batch", "epoch_end", "train_end"]
    assert [e["batch"] for e in events if e["event"] == "batch"] == [1, 4, 4]   # + epoch ends
    assert events[3]["logs"] == {"loss": 1.0, "accuracy": None}      # NaN is not JSON
    assert len([e for e in stream_of_a_run(interval=0) if e["event"] == "batch"]) == 8


def test_the_live_display_follows_each_run_and_counts_outcomes():
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    runs = [SimpleNamespace(id=i, action="fit", directory=Path("runs/s") / i)
            for i in ("a", "b")]
    sweep = SimpleNamespace(name="s", runs=runs, to_run=lambda: runs)
    with SweepDisplay(console, sweep) as display:
        display.run_begin("a")
        for event in stream_of_a_run(interval=0)[:5]:        # up to batch 2 of epoch 1
            display.run_event("a", event)
        task = next(t for t in display.progress.tasks if t.description.strip() == "a")
        assert (task.total, task.completed, task.fields["epoch"]) == (8, 2, "epoch 1/2")
        display.run_event("b", {"event": "batch", "batch": 1})    # not begun: ignored
        display.run_end("a", Outcome("finished", 0, seconds=1.5))
        display.run_end("b", Outcome("failed", 1, "the loss became nan"))
        overall = display.progress.tasks[0]
        assert overall.completed == 2 and overall.fields["logs"] == "1 finished, 1 failed"
    text = console.file.getvalue()
    assert "runs/s/a finished in 1.5s" in text
    assert "runs/s/b failed (exit 1): the loss became nan" in text


def test_exit_statuses_become_outcomes():
    assert classify(0, []).status == "finished"
    assert {classify(c, []).status for c in (130, 143, -2, -15)} == {"interrupted"}
    failed = classify(2, ["Resuming ...", "error: c.yaml:3: fit.epochs: expected ...", ""])
    assert (failed.status, failed.message) == ("failed", "c.yaml:3: fit.epochs: expected ...")
    assert classify(-9, []).message == "killed by signal 9"

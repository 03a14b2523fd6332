"""Run status (finished / interrupted / failed / running) from a run directory: status.json and
the .lock flock that fit/resume write (DESIGN.md), and for runs from before status.json, the
checkpoints. The run directories are made here, file by file."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from nntrain.experiments.status import run_status
from nntrain.training import checkpoint as ckpt


def make_run(root: Path, name: str, *, epochs: int = 3, done: int | None = 3, batch: int = 0,
             callbacks=(), final: bool = False, status: str | None = None) -> Path:
    """A run of `epochs` planned epochs whose newest checkpoint is at (`done`, `batch`)."""
    run = root / name
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"fit": {"epochs": epochs}}))
    if done is not None:
        path = run / "checkpoints" / f"cp-{done:04d}.npz"
        meta = {"epoch": done, "batch": batch, "global_step": done * 10 + batch,
                "callbacks": [{"type": t, "state": s} for t, s in callbacks]}
        ckpt.save_checkpoint(path, {}, meta)
        ckpt.record_in_index(run / "checkpoints", path, {"epoch": done, "batch": batch,
                                                        "global_step": done * 10 + batch},
                             is_best=False)
    if final:
        index = json.loads((run / "checkpoints/checkpoint").read_text())
        (run / "checkpoints/checkpoint").write_text(json.dumps({**index, "final": "final.npz"}))
    if status:
        (run / "status.json").write_text(json.dumps(
            {"status": status, "pid": 1, "started": time.time(), "ended": None, "message": ""}))
    return run


@pytest.mark.parametrize("status", ["finished", "interrupted", "failed"])
def test_status_json_is_the_answer_when_no_process_holds_the_lock(tmp_path, status):
    run = make_run(tmp_path, "r", done=1, status=status)      # checkpoints say otherwise
    (run / ".lock").write_text(json.dumps({"pid": 1, "started": 0}))
    assert run_status(run) == status


def test_running_while_a_process_holds_the_lock_interrupted_once_it_is_gone(tmp_path):
    run = make_run(tmp_path, "r", done=1, status="running")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
         str(run / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert run_status(run) == "running"
        with open(run / ".lock") as f:        # the probe released its own lock at once
            with pytest.raises(BlockingIOError):
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        holder.kill()
        holder.wait()
    assert run_status(run) == "interrupted"      # says running, but nobody holds the lock


def test_runs_from_before_status_json_are_judged_by_their_checkpoints(tmp_path):
    assert run_status(make_run(tmp_path, "done", epochs=3, done=3)) == "finished"
    assert run_status(make_run(tmp_path, "final", epochs=9, done=2, final=True)) == "finished"
    stopped = [("ModelCheckpoint", {"best": 0.1}), ("EarlyStopping", {"stopped_epoch": 3})]
    assert run_status(make_run(tmp_path, "early", epochs=9, done=4, callbacks=stopped)) == \
        "finished"
    waiting = [("EarlyStopping", {"stopped_epoch": 0, "wait": 2})]
    assert run_status(make_run(tmp_path, "cut", epochs=9, done=4, callbacks=waiting)) == \
        "interrupted"
    assert run_status(make_run(tmp_path, "mid", epochs=3, done=3, batch=5)) == "interrupted"
    assert run_status(make_run(tmp_path, "none", epochs=3, done=None)) == "interrupted"
    broken = make_run(tmp_path, "broken", status=None)
    (broken / "status.json").write_text("{not json")
    assert run_status(broken) == "finished"         # unreadable status.json: as if absent

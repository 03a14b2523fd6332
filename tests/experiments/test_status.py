"""Run status (finished / interrupted / failed / running) from a run directory: status.json and
the .lock flock that fit/resume write, on real runs; and for runs from before status.json, the
checkpoints (those run directories are made here, file by file)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from nntrain.training.restore import run_status
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


CONFIG = """\
name: s
seed: 0
data: {path: d.npz, validation_split: 0.2}
model:
  input_shape: [8]
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
compile:
  optimizer: {name: sgd, learning_rate: 0.01}
  loss: sparse_categorical_crossentropy
fit:
  epochs: 2
  batch_size: 8
  callbacks:
    - TerminateOnNaN: {}
"""
CLI = [sys.executable, "-c", "from nntrain.cli.main import main; main()"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.standard_normal((100, 8)).astype("float32"),
             y_train=rng.integers(0, 3, 100))
    (tmp_path / "c.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # the diverging run
def test_the_status_of_real_runs(project, run_cli):
    """fit writes status.json and holds .lock while it trains; each status as runs end."""
    assert run_cli("fit", "c.yaml", "--run-dir", "done", "--quiet")[0] == 0
    assert run_status(project / "done") == "finished"
    code, _, err = run_cli("fit", "c.yaml", "--run-dir", "nan", "--quiet",
                           "--set", "compile.optimizer.learning_rate=1e30")
    assert code == 1 and "TerminateOnNaN" in err
    assert run_status(project / "nan") == "failed"

    long = ["fit", "c.yaml", "--set", "fit.epochs=100000", "--quiet"]
    for name, signum in (("stopped", signal.SIGINT), ("killed", signal.SIGKILL)):
        proc = subprocess.Popen([*CLI, *long, "--run-dir", name], cwd=project,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        index = project / name / "checkpoints/checkpoint"
        deadline = time.monotonic() + 60
        while not index.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        assert run_status(project / name) == "running"
        proc.send_signal(signum)
        proc.wait(timeout=60)
        assert run_status(project / name) == "interrupted"    # killed: "running", lock free
    assert json.loads((project / "killed/status.json").read_text())["status"] == "running"


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

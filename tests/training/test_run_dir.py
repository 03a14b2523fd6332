"""The run directory: one writer at a time (flock, released when the holder dies), the status
file for each way a run ends, and where fit writes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nntrain.errors import CheckpointError
from nntrain.training.restore import run_status
from nntrain.training.run_dir import (RunDir, RunLock, base_directory, lock_holder, new_run_dir,
                                      write_status)

HOLD = ("import sys, time; from nntrain.training.run_dir import RunDir, RunLock; "
        "RunLock(RunDir(sys.argv[1])).acquire(); print('locked', flush=True); time.sleep(60)")


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    run = RunDir(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert lock_holder(run)["pid"] == holder.pid
        with pytest.raises(CheckpointError, match=f"being trained by process {holder.pid}"):
            RunLock(run).acquire()
        write_status(run, "running")
        assert run_status(run) == "running"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # SIGKILL leaves no stale lock: the next writer gets it, and the run reads as interrupted
    assert lock_holder(run) is None
    assert run_status(run) == "interrupted"
    with RunLock(run):
        assert lock_holder(run)["pid"] == os.getpid()
    assert lock_holder(run) is None


@pytest.mark.parametrize("status", ["finished", "failed", "interrupted"])
def test_status_survives_as_written(tmp_path, status):
    run = RunDir(tmp_path)
    write_status(run, "running")
    started = json.loads(run.status_file.read_text())["started"]
    write_status(run, status, "boom" if status == "failed" else None)
    record = json.loads(run.status_file.read_text())
    assert run_status(run) == status and record["started"] == started and record["ended"]


def test_fit_records_its_status_and_a_failed_run_says_why(tmp_path, monkeypatch, run_cli):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.standard_normal((32, 3)).astype("float32"),
             y_train=rng.standard_normal((32, 1)).astype("float32") * 1e30)
    (tmp_path / "c.yaml").write_text(
        "data: {path: d.npz}\nmodel:\n  input_shape: [3]\n  layers:\n    - Dense: {units: 1}\n"
        "compile: {loss: mse, optimizer: {name: sgd, learning_rate: 1.0e+10}}\n"
        "fit:\n  epochs: 3\n  callbacks: [TerminateOnNaN]\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 1 and "TerminateOnNaN" in err
    record = json.loads((tmp_path / "runs/c/status.json").read_text())
    assert record["status"] == "failed" and "TerminateOnNaN" in record["message"]


def test_fit_targets_one_directory_and_says_when_it_moves_on(tmp_path, monkeypatch, run_cli):
    """A config without `name` writes runs/<file stem>; an occupied target moves to -2."""
    assert base_directory({}, None, "exp") == Path("runs/exp")
    assert base_directory({"name": "n", "run_dir": "elsewhere"}, None, "exp") == Path("elsewhere")
    assert base_directory({"name": "n"}, "given", "exp") == Path("given")
    np.savez(tmp_path / "d.npz", x_train=np.ones((8, 2), "float32"), y_train=np.zeros(8))
    (tmp_path / "exp.yaml").write_text(
        "data: {path: d.npz}\nmodel:\n  input_shape: [2]\n  layers:\n    - Dense: {units: 1}\n"
        "compile: {loss: mse}\n")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli("fit", "exp.yaml")
    assert code == 0 and "Run directory: runs/exp " in out and "already holds" not in out
    code, out, _ = run_cli("fit", "exp.yaml")
    assert "runs/exp already holds a run; writing runs/exp-2 instead" in out
    assert new_run_dir(Path("runs/exp")).path == Path("runs/exp-3")


def test_resuming_a_run_another_process_trains_is_refused(tmp_path, monkeypatch):
    """`fit --run-dir` never writes into a run: it moves on to RUN-2 (SPEC §1); `resume` of a
    run another process trains is refused with the holder's pid, exit 2."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.standard_normal((4000, 8)).astype("float32"),
             y_train=rng.integers(0, 2, 4000))
    (tmp_path / "c.yaml").write_text(
        "data: {path: d.npz}\nmodel:\n  input_shape: [8]\n  layers:\n"
        "    - Dense: {units: 256, activation: relu}\n    - Dense: {units: 2}\n"
        "compile: {loss: {name: sparse_categorical_crossentropy, from_logits: true}}\n"
        "fit: {epochs: 200, batch_size: 8}\n")
    cli = "from nntrain.cli.main import main; main()"
    first = subprocess.Popen([sys.executable, "-c", cli, "fit", "c.yaml", "--run-dir", "r",
                              "--quiet"], cwd=tmp_path)
    try:
        deadline = time.time() + 60
        while not (tmp_path / "r/checkpoints/checkpoint").exists() and time.time() < deadline:
            time.sleep(0.05)
        second = subprocess.run([sys.executable, "-c", cli, "resume", "r", "--latest"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        line, = second.stderr.strip().splitlines()
        assert line.startswith("error: r is being trained by process") and str(first.pid) in line
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

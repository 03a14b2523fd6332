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


CLI = "from nntrain.cli.main import main; main()"
BUSY = """\
seed: 3
data: {path: d.npz, validation_split: 0.25}
model:
  input_shape: [8]
  layers:
    - Dense: {units: 256, activation: relu}
    - Dense: {units: 2}
compile: {loss: {name: sparse_categorical_crossentropy, from_logits: true}, optimizer: adam}
fit: {epochs: %d, batch_size: 8}
"""


@pytest.fixture
def busy(tmp_path, monkeypatch):
    """A run long enough (a few hundred steps an epoch) to be caught while it trains."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.standard_normal((2000, 8)).astype("float32"),
             y_train=rng.integers(0, 2, 2000))
    (tmp_path / "c.yaml").write_text(BUSY % 4)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def start_cli(cwd, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CLI, *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def weights_and_meta(path: Path):
    from nntrain.training.checkpoint import load_checkpoint
    cp = load_checkpoint(path)
    for row in cp.meta.get("history", []):
        row.pop("seconds", None)
    cp.meta.get("logs", {}).pop("seconds", None)
    return cp


def assert_same_files(a: Path, b: Path) -> None:
    names = sorted(p.name for p in (a / "checkpoints").glob("*.npz"))
    assert names == sorted(p.name for p in (b / "checkpoints").glob("*.npz"))
    for name in names:
        x, y = (weights_and_meta(r / "checkpoints" / name) for r in (a, b))
        for part in ("weights", "optimizer", "state"):
            xs, ys = getattr(x, part), getattr(y, part)
            assert sorted(xs) == sorted(ys)
            for k in xs:
                assert np.array_equal(xs[k], ys[k]), (name, part, k)
        assert x.meta == y.meta, name


def test_two_processes_on_one_run(busy, run_cli):
    """While `fit` trains r: readers read r (never a torn file, never the lock), a second
    writer is refused with exit 2, `fit --run-dir r` writes r-2 and leaves r alone. The first
    run's files are bit-identical to those of the same run trained alone."""
    from nntrain.training import checkpoint as ckpt
    run = busy / "r"
    first = start_cli(busy, "fit", "c.yaml", "--run-dir", run, "--quiet")
    try:
        reads = 0
        while not (run / "checkpoints/checkpoint").exists() or reads < 3:
            assert first.poll() is None, first.communicate()
            if (run / "checkpoints/checkpoint").exists():   # a reader's view: always whole
                latest = ckpt.resolve_checkpoint(run / "checkpoints", "latest")
                ckpt.load_checkpoint(latest)
                assert (run / "history.csv").read_text().count("\n") >= 2
                reads += 1
            time.sleep(0.001)
        first.send_signal(signal.SIGSTOP)       # holding the lock, mid-run
        assert run_status(RunDir(run)) == "running"
        before = files(run)

        code, _, err = run_cli("resume", run, "--latest")     # this process: the second
        assert code == 2
        line, = err.strip().splitlines()
        assert line.startswith(f"error: {run} is being trained by process {first.pid} "
                               "(started ")

        code, out, err = run_cli("fit", "c.yaml", "--run-dir", run, "--set", "fit.epochs=1")
        assert code == 0, err
        assert f"{run} already holds a run; writing {run}-2 instead" in out

        for args in (["checkpoints", run, "--json"], ["evaluate", run, "--split", "val",
                                                       "--json"], ["summary", run]):
            code, _, err = run_cli(*args)
            assert code == 0, (args, err)
        import nntrain
        assert nntrain.load(run).predict(np.zeros((2, 8), "float32")).shape == (2, 2)
        assert lock_holder(RunDir(run))["pid"] == first.pid
        assert files(run) == before
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert run_status(RunDir(run)) == "finished"

    code, _, err = run_cli("fit", "c.yaml", "--run-dir", "alone", "--quiet")
    assert code == 0, err
    assert_same_files(run, busy / "alone")


def test_sigkill_of_the_lock_holder_then_resume(busy, run_cli):
    """`resume` of a run another process trains is refused with the holder's pid, exit 2;
    once the holder is killed (SIGKILL: no chance to clean up) the lock is gone with it,
    and `resume` continues the run to the end."""
    (busy / "c.yaml").write_text(BUSY % 200)
    first = start_cli(busy, "fit", "c.yaml", "--run-dir", "r", "--quiet")
    try:
        wait_until(lambda: (busy / "r/checkpoints/checkpoint").exists(), first)
        code, _, err = run_cli("resume", "r", "--latest")
        assert code == 2
        line, = err.strip().splitlines()
        assert line.startswith("error: r is being trained by process") and str(first.pid) in line
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    run = RunDir(busy / "r")
    assert lock_holder(run) is None and run_status(run) == "interrupted"
    from nntrain.training import checkpoint as ckpt
    epoch = ckpt.load_checkpoint(ckpt.resolve_checkpoint(run.checkpoints, "latest")).meta["epoch"]
    code, _, err = run_cli("resume", "r", "--latest", "--epochs", epoch + 1, "--quiet")
    assert code == 0, err
    assert run_status(run) == "finished"
    assert ckpt.read_index(run.checkpoints)["final"] == "final.npz"


CLAIM = ("import sys, time; from pathlib import Path; "
         "from nntrain.training.run_dir import new_run_dir; "
         "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); "
         "print(new_run_dir(Path(sys.argv[1])).path)")


def test_processes_asking_for_the_same_run_directory_get_different_ones(tmp_path):
    """A sweep's workers (or several `fit`s) naming one directory at the same instant: each
    gets its own, none writes into another's."""
    when = time.time() + 1.0
    procs = [subprocess.Popen([sys.executable, "-c", CLAIM, str(tmp_path / "runs/x"),
                               str(when)], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    got = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(got) == sorted(str(tmp_path / "runs" / n)
                                 for n in ["x", "x-2", "x-3", "x-4", "x-5", "x-6"])


def test_readers_probing_the_lock_never_keep_a_writer_out(tmp_path):
    """A reader asks whether a run is being trained (`run_status` on a run whose status says
    running) with a non-blocking shared flock held for microseconds; a writer starting at that
    instant retries, so readers polling in a loop never turn a writer away."""
    import threading
    run = RunDir(tmp_path)
    write_status(run, "running")
    stop, probes = threading.Event(), [0]

    def reader():
        while not stop.is_set():
            lock_holder(run)
            probes[0] += 1
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(50):
            with RunLock(run):
                assert lock_holder(run)["pid"] == os.getpid()
    finally:
        stop.set()
        thread.join()
    assert probes[0] > 50

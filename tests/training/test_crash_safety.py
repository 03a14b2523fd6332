"""Crash safety (SPEC §3, §5): whatever instant a process dies at — SIGKILL in the middle of a
large checkpoint write, right after an index update, while starting up — every checkpoint left
loads completely, the index names loadable files, the next `resume` removes stale temporaries
and `resume --latest` completes. Ctrl-C / SIGTERM finish the batch, write a checkpoint of that
exact position, say how to resume and exit 130 / 143; a second Ctrl-C stops at once.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nntrain.training import checkpoint as ckpt
from nntrain.training.atomic_files import atomic_write, atomic_write_text

CLI = "from nntrain.cli.main import main; main()"

# ~2.0M parameters: a full checkpoint (weights and Adam's two slots) is ~24 MB, tens of
# milliseconds to write, so a poll every millisecond finds its temporary file.
BIG = """\
name: big
seed: 0
data: {path: big.npz}
model:
  input_shape: [40]
  layers:
    - Dense: {units: 1400, activation: relu}
    - Dense: {units: 1400, activation: relu}
    - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {name: adam, learning_rate: 1.0e-4}
  loss: sparse_categorical_crossentropy
fit:
  epochs: 4
  batch_size: 32
  callbacks:
    - ModelCheckpoint: {filepath: "checkpoints/cp-{epoch:04d}-{batch:02d}.npz", save_freq: 2,
                        max_to_keep: 2, verbose: 0}
"""

SMALL = """\
name: small
seed: 1
data: {path: small.npz, validation_split: 0.2, normalize: standard}
model:
  input_shape: [8]
  layers:
    - Dense: {units: 16, activation: relu}
    - Dropout: {rate: 0.2}
    - Dense: {units: 3, activation: softmax}
compile:
  optimizer: {name: adam, learning_rate: 0.01}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: %(epochs)d
  batch_size: 8
  callbacks:
    - ModelCheckpoint: {filepath: "checkpoints/cp-{epoch:04d}.npz", max_to_keep: %(keep)d,
                        verbose: 0}
"""
SMALL_BATCHES = 20    # 160 training samples / 8


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "big.npz", x_train=rng.standard_normal((320, 40)).astype("float32"),
             y_train=rng.integers(0, 10, 320))
    x = rng.standard_normal((200, 8)).astype("float32")
    np.savez(tmp_path / "small.npz", x_train=x, y_train=(x[:, 0] > 0).astype(int) + (x[:, 1] > 1))
    (tmp_path / "big.yaml").write_text(BIG)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def small_config(project: Path, epochs: int, keep: int = 100) -> Path:
    path = project / "small.yaml"
    path.write_text(SMALL % {"epochs": epochs, "keep": keep})
    return path


# -- helpers ----------------------------------------------------------------------------------
def start(project: Path, *args) -> subprocess.Popen:
    """`nntrain ARGS...` as a real process; its output goes to a file next to the runs."""
    log = open(project / f"log-{time.monotonic_ns()}.txt", "w+")
    proc = subprocess.Popen([sys.executable, "-c", CLI, *map(str, args)], cwd=project,
                            stdout=log, stderr=subprocess.STDOUT)
    proc.log = log
    return proc


def output(proc) -> str:
    proc.log.seek(0)
    return proc.log.read()


def wait_for(proc, condition, timeout=30.0) -> None:
    """Poll `condition` every millisecond while `proc` runs."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the process ended first ({proc.returncode}):\n{output(proc)}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def kill(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


def temporaries(directory: Path, pid: int | None = None) -> list[Path]:
    found = [p for p in directory.rglob(".*.tmp-*") if p.is_file()]
    return [p for p in found if pid is None or p.name.endswith(f".tmp-{pid}")]


def load_every_array(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(str(arrays["meta"]))


def assert_consistent(run: Path) -> None:
    """Every checkpoint loads whole; the index parses and names only files that do."""
    ck = run / "checkpoints"
    for path in ck.glob("cp-*.npz"):
        load_every_array(path)
    index = json.loads((ck / "checkpoint").read_text())
    assert (ck / index["latest"]).is_file()
    for entry in index["checkpoints"]:
        meta = load_every_array(ck / entry["file"])
        assert meta["global_step"] == entry["global_step"]
    latest = ckpt.load_checkpoint(ckpt.resolve_checkpoint(ck, "latest"))
    assert latest.meta["global_step"] == max(e["global_step"] for e in index["checkpoints"])
    if (run / "history.csv").exists():
        with open(run / "history.csv", newline="") as f:
            rows = list(csv.reader(f))
        assert len({len(r) for r in rows}) == 1


def history_epochs(run: Path) -> list[str]:
    with open(run / "history.csv", newline="") as f:
        return [r["epoch"] for r in csv.DictReader(f)]


def index_text(run: Path) -> str:
    path = run / "checkpoints" / "checkpoint"
    return path.read_text() if path.exists() else ""


# -- SIGKILL ----------------------------------------------------------------------------------
def test_sigkill_at_any_instant_leaves_a_resumable_run(project):
    run = project / "runs/big"
    mid_write = []     # kills that landed while a checkpoint was being written

    def checkpoint_being_written(pid):
        return lambda: index_text(run) and [p for p in temporaries(run / "checkpoints", pid)
                                            if p.name.startswith(".cp-")]

    # 1. `fit`, killed while its second (or later) checkpoint is being written.
    proc = start(project, "fit", "big.yaml", "--run-dir", run, "--quiet")
    wait_for(proc, checkpoint_being_written(proc.pid))
    kill(proc)
    mid_write.append(bool(temporaries(run, proc.pid)))
    assert_consistent(run)
    stale = temporaries(run)

    # 2. `resume`, killed just after it commits a checkpoint to the index (while it prunes).
    before = index_text(run)
    proc = start(project, "resume", run, "--latest", "--quiet")
    wait_for(proc, lambda: index_text(run) != before)
    kill(proc)
    assert not any(p.exists() for p in stale), "resume did not clean stale temporaries"
    assert_consistent(run)

    # 3. `resume`, killed at an arbitrary instant (starting up, loading or training).
    proc = start(project, "resume", run, "--latest", "--quiet")
    time.sleep(0.3)
    kill(proc)
    assert_consistent(run)

    # 4. `resume` again, killed in the middle of a write.
    proc = start(project, "resume", run, "--latest", "--quiet")
    wait_for(proc, checkpoint_being_written(proc.pid))
    kill(proc)
    mid_write.append(bool(temporaries(run, proc.pid)))
    assert_consistent(run)

    assert any(mid_write), "no kill landed while a checkpoint was being written"
    stale = temporaries(run)
    done = subprocess.run([sys.executable, "-c", CLI, "resume", str(run), "--latest", "--quiet"],
                          cwd=project, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert bool(stale) == mid_write[-1], stale
    assert not temporaries(run), temporaries(run)
    assert_consistent(run)
    assert history_epochs(run) == ["1", "2", "3", "4"]
    assert ckpt.load_checkpoint(ckpt.resolve_checkpoint(run / "checkpoints", "latest")
                                ).meta["global_step"] == 40
    left = sorted(p.name for p in (run / "checkpoints").glob("cp-*.npz"))
    assert left == ["cp-0004-08.npz", "cp-0004-10.npz"], left      # max_to_keep: 2 held


@pytest.mark.parametrize("failing", ["cp-0003.npz", "checkpoint"])
def test_a_failed_write_leaves_the_previous_checkpoint_indexed_and_unpruned(
        project, run_cli, monkeypatch, failing):
    """A write of checkpoint 3 (or of the index naming it) fails: the index still names
    checkpoint 2, which max_to_keep: 1 has not pruned, and no temporary is left."""
    cfg = small_config(project, epochs=5, keep=1)
    real_replace = os.replace
    run = project / "runs/f"

    def replace(src, dst):
        dst = Path(dst)
        if dst.name == failing and (failing != "checkpoint"
                                    or (run / "checkpoints/cp-0003.npz").exists()):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    with monkeypatch.context() as m:
        m.setattr("nntrain.training.atomic_files.os.replace", replace)
        code, _, err = run_cli("fit", cfg, "--run-dir", run, "--quiet")
        assert code == 1 and "intact up to cp-0002.npz" in err
    assert not temporaries(run)
    index = json.loads((run / "checkpoints/checkpoint").read_text())
    assert index["latest"] == "cp-0002.npz"
    assert [e["file"] for e in index["checkpoints"]] == ["cp-0002.npz"]
    assert_consistent(run)
    code, _, err = run_cli("resume", run, "--latest", "--quiet")
    assert code == 0, err
    assert history_epochs(run) == ["1", "2", "3", "4", "5"]
    assert sorted(p.name for p in (run / "checkpoints").glob("cp-*")) == ["cp-0005.npz"]


def test_resume_removes_stale_temporaries_but_not_a_live_writers(project, run_cli):
    cfg = small_config(project, epochs=2)
    run = project / "runs/t"
    assert run_cli("fit", cfg, "--run-dir", run, "--quiet")[0] == 0
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = [run / f".history.csv.tmp-{gone.pid}",
             run / f"checkpoints/.cp-0003.npz.tmp-{gone.pid}",
             run / f"checkpoints/.checkpoint.tmp-{gone.pid}"]
    live = run / f"checkpoints/.cp-0003.npz.tmp-{os.getppid()}"
    for p in stale + [live]:
        p.write_bytes(b"PK\x03\x04 torn")
    code, _, err = run_cli("resume", run, "--latest", "--epochs", 3, "--quiet")
    assert code == 0, err
    assert not any(p.exists() for p in stale)
    assert live.exists()


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")

    def torn(f):
        f.write(b"new, but only ha")
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError):
        atomic_write(target, torn)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]


# -- SIGINT / SIGTERM -------------------------------------------------------------------------
def _arrays_and_meta(path: Path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    for row in meta["history"]:
        row.pop("seconds")
    meta["logs"].pop("seconds", None)
    return arrays, meta


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_checkpoints_the_exact_position_and_resume_completes(project, run_cli,
                                                                       signum, code):
    cfg = small_config(project, epochs=100_000)
    run = project / "runs/sig"
    proc = start(project, "fit", cfg, "--run-dir", run)
    wait_for(proc, lambda: index_text(run))
    time.sleep(0.05)
    proc.send_signal(signum)
    assert proc.wait(timeout=30) == code, output(proc)
    out = output(proc)
    assert "Stopping after this batch" in out
    saved = re.search(r"Interrupted; saved (\S+)\. Continue with: nntrain resume (\S+) --latest",
                      out)
    assert saved, out
    assert Path(saved.group(2)).resolve() == run.resolve()
    latest = ckpt.resolve_checkpoint(run / "checkpoints", "latest")
    assert Path(saved.group(1)).resolve() == latest.resolve()
    assert_consistent(run)
    _, meta = _arrays_and_meta(latest)
    assert meta["global_step"] == meta["epoch"] * SMALL_BATCHES + meta["batch"]
    assert not temporaries(run)

    # Resume to the end of the epoch after the stop; a straight run of as many epochs agrees.
    epochs = meta["epoch"] + 1
    code, out, err = run_cli("resume", run, "--latest", "--epochs", epochs)
    assert code == 0, err
    assert run_cli("fit", cfg, "--run-dir", "runs/straight", "--quiet",
                   "--set", f"fit.epochs={epochs}")[0] == 0
    name = f"checkpoints/cp-{epochs:04d}.npz"
    (a, meta_a), (b, meta_b) = _arrays_and_meta(run / name), _arrays_and_meta(
        project / "runs/straight" / name)
    assert sorted(a) == sorted(b)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert meta_a == meta_b


def test_a_second_ctrl_c_stops_at_once(project, run_cli, monkeypatch):
    """In-process: the first SIGINT asks for a stop after the batch, a second one during that
    batch stops at once (exit 130) without writing; the run stays resumable."""
    import nntrain.training.trainer as trainer_module
    cfg = small_config(project, epochs=3)
    run = project / "runs/twice"
    real = trainer_module.forward_backward
    calls = []

    def forward_backward(*args, **kwargs):
        calls.append(1)
        if len(calls) == SMALL_BATCHES + 5:      # epoch 2, batch 5
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)
    monkeypatch.setattr(trainer_module, "forward_backward", forward_backward)
    code, out, err = run_cli("fit", cfg, "--run-dir", run)
    assert code == 130
    assert "error: stopped at once by a second signal" in err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # handler restored
    assert_consistent(run)
    assert [p.name for p in (run / "checkpoints").glob("cp-*.npz")] == ["cp-0001.npz"]
    assert not temporaries(run)
    monkeypatch.undo()
    code, _, err = run_cli("resume", run, "--latest", "--quiet")
    assert code == 0, err
    assert history_epochs(run) == ["1", "2", "3"]


def _signal_during(monkeypatch, at_call: int, *signums):
    """Raise `signums` from inside the training step number `at_call` (1-based)."""
    import nntrain.training.trainer as trainer_module
    real, calls = trainer_module.forward_backward, []

    def forward_backward(*args, **kwargs):
        calls.append(1)
        if len(calls) == at_call:
            for s in signums:
                signal.raise_signal(s)
        return real(*args, **kwargs)
    monkeypatch.setattr(trainer_module, "forward_backward", forward_backward)


def test_a_second_sigterm_exits_143_at_once(project, run_cli, monkeypatch):
    cfg = small_config(project, epochs=3)
    run = project / "runs/term"
    _signal_during(monkeypatch, SMALL_BATCHES + 5, signal.SIGTERM, signal.SIGTERM)
    code, _, err = run_cli("fit", cfg, "--run-dir", run)
    assert code == 143
    assert "stopped at once" in err
    assert [p.name for p in (run / "checkpoints").glob("cp-*.npz")] == ["cp-0001.npz"]
    assert not temporaries(run)


def test_the_interrupt_checkpoint_counts_toward_max_to_keep(project, run_cli, monkeypatch):
    cfg = small_config(project, epochs=4, keep=1)
    cfg.write_text(cfg.read_text().replace("checkpoints/cp-{epoch:04d}.npz",
                                           "checkpoints/e{epoch:04d}.npz"))
    run = project / "runs/keep"
    _signal_during(monkeypatch, SMALL_BATCHES + 5, signal.SIGINT)
    code, _, err = run_cli("fit", cfg, "--run-dir", run)
    assert code == 130, err
    names = sorted(p.name for p in (run / "checkpoints").glob("*.npz"))
    assert names == ["cp-0002.npz", "e0001.npz"]
    monkeypatch.undo()
    code, _, err = run_cli("resume", run, "--latest", "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (run / "checkpoints").glob("*.npz")) == ["e0004.npz",
                                                                         "final.npz"]
    assert_consistent(run)

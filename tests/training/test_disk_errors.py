"""A file system that refuses a write (disk full, quota, read-only, permissions, I/O error) at
any of a run's write sites — a checkpoint, the index, history.csv, status.json, config.yaml,
the final model, the lock file, predict's output: one line naming the file, what the run is
intact up to and how to continue, exit 1, no traceback, no temporary left, the index naming
only whole files; and `resume` on a disk with room again finishes the run.

The failures are simulated: the write of the chosen file writes half its bytes, then raises
OSError(errno) the way a full disk does (a tmpfs cannot be mounted here).
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

import nntrain.training.atomic_files as atomic_files
from nntrain.training import checkpoint as ckpt

CONFIG = """\
name: t
seed: 0
data: {path: d.npz}
model:
  input_shape: [4]
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
compile: {loss: sparse_categorical_crossentropy, optimizer: adam}
fit: {epochs: 5, batch_size: 8}
"""
RUN = "runs/t"


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.standard_normal((32, 4)).astype("float32"),
             y_train=rng.integers(0, 3, 32))
    (tmp_path / "c.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    return tmp_path


class FullDisk:
    """Make the `nth` write (1-based; 0: every one) of files named `name` ("*": any) fail
    with `err` after half its bytes, as a full disk does; the lock file's holder record too."""

    def __init__(self, monkeypatch, name: str, nth: int = 1, err: int = errno.ENOSPC):
        self.name, self.nth, self.err, self.seen = name, nth, err, 0
        real_open = open

        def fake_open(path, mode="r", *args, **kwargs):
            f = real_open(path, mode, *args, **kwargs)
            target = Path(path).name.partition(atomic_files.TMP_MARK)[0][1:]
            if "w" in mode and self._fails(target):
                return _FailingFile(f, self.err)
            return f
        monkeypatch.setattr(atomic_files, "open", fake_open, raising=False)
        real_pwrite = os.pwrite

        def fake_pwrite(fd, data, offset):
            if self._fails(".lock"):
                raise OSError(self.err, os.strerror(self.err))
            return real_pwrite(fd, data, offset)
        monkeypatch.setattr(os, "pwrite", fake_pwrite)

    def _fails(self, target: str) -> bool:
        if self.name not in ("*", target):
            return False
        self.seen += 1
        return self.nth in (0, self.seen)


class _FailingFile:
    def __init__(self, f, err):
        self.f, self.err = f, err

    def write(self, data):
        self.f.write(bytes(data)[:len(data) // 2])
        self.f.flush()
        raise OSError(self.err, os.strerror(self.err))

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"*{atomic_files.TMP_MARK}*")]


def assert_index_names_whole_files(run: Path) -> None:
    index = ckpt.read_index(run / "checkpoints")
    for entry in index["checkpoints"]:
        ckpt.load_checkpoint(run / "checkpoints" / entry["file"])   # every array, CRC-checked
    for which in ("latest", "best", "final"):
        if index.get(which):
            assert (run / "checkpoints" / index[which]).is_file()


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


RESUME = f"free space and run: nntrain resume {RUN} --latest"
SITES = [
    # (the file, which of its writes fails, the expected line after "error: ")
    ("cp-0003.npz", 1, f"cannot write {RUN}/checkpoints/cp-0003.npz: no space left on device; "
                       f"the run is intact up to cp-0002.npz — {RESUME}"),
    ("checkpoint", 3, f"cannot write {RUN}/checkpoints/checkpoint: no space left on device; "
                      f"the run is intact up to cp-0002.npz — {RESUME}"),
    ("history.csv", 3, f"cannot write {RUN}/history.csv: no space left on device; the run is "
                       f"intact up to cp-0002.npz — {RESUME}"),
    ("final.npz", 1, f"cannot write {RUN}/checkpoints/final.npz: no space left on device; the "
                     f"run is intact up to cp-0005.npz — {RESUME}"),
    ("status.json", 1, f"cannot write {RUN}/status.json: no space left on device; no checkpoint "
                       f"of the run was written yet — free space and train it again: nntrain "
                       f"fit {RUN}/config.yaml"),
    (".lock", 1, f"cannot write {RUN}/.lock: no space left on device; no checkpoint of the run "
                 f"was written yet — free space and train it again: nntrain fit "
                 f"{RUN}/config.yaml"),
]


@pytest.mark.parametrize("name,nth,expected", SITES, ids=[s[0] for s in SITES])
def test_a_full_disk_at_each_write_site_is_one_line_and_the_run_resumes(
        project, run_cli, monkeypatch, name, nth, expected):
    with monkeypatch.context() as m:
        FullDisk(m, name, nth)
        code, _, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 1
    assert one_error_line(err) == f"error: {expected}"
    run = project / RUN
    assert not temporaries(project)
    assert_index_names_whole_files(run)
    if name not in ("status.json", ".lock"):   # without the lock, status.json is not ours
        status = json.loads((run / "status.json").read_text())
        assert status["status"] == "failed" and status["message"] == expected
    if "resume" not in expected:
        return
    code, _, err = run_cli("resume", RUN, "--latest", "--quiet")
    assert code == 0, err
    assert [r.split(",")[0] for r in (run / "history.csv").read_text().splitlines()[1:]] == [
        "1", "2", "3", "4", "5"]
    assert ckpt.read_index(run / "checkpoints")["final"] == "final.npz"
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    assert_index_names_whole_files(run)


def test_config_yaml_that_cannot_be_written_leaves_no_run(project, run_cli, monkeypatch):
    FullDisk(monkeypatch, "config.yaml")
    code, _, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 1
    assert one_error_line(err) == (f"error: cannot write {RUN}/config.yaml: no space left on "
                                   "device; nothing was trained — free space and run it again")
    assert not (project / RUN).exists()


@pytest.mark.parametrize("err,reason,fix", [
    (errno.EDQUOT, "disk quota exceeded", "free space (or raise the quota)"),
    (errno.EROFS, "read-only file system", "make the file system writable"),
    (errno.EACCES, "permission denied", "fix the permissions"),
    (errno.EIO, "input/output error", "check the disk"),
])
def test_each_file_system_error_says_what_happened_and_what_to_do(project, run_cli, monkeypatch,
                                                                  err, reason, fix):
    FullDisk(monkeypatch, "cp-0003.npz", err=err)
    code, _, stderr = run_cli("fit", "c.yaml", "--quiet")
    assert code == 1
    assert one_error_line(stderr) == (
        f"error: cannot write {RUN}/checkpoints/cp-0003.npz: {reason}; the run is intact up to "
        f"cp-0002.npz — {fix} and run: nntrain resume {RUN} --latest")
    assert not temporaries(project)


def test_resume_on_a_full_disk_is_the_same_one_line_and_changes_nothing(project, run_cli,
                                                                        monkeypatch):
    code, _, err = run_cli("fit", "c.yaml", "--quiet", "--set", "fit.epochs=2")
    assert code == 0, err
    run = project / RUN
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    with monkeypatch.context() as m:
        FullDisk(m, "*", 0)
        code, _, err = run_cli("resume", RUN, "--latest", "--epochs", 4, "--quiet")
    assert code == 1
    assert one_error_line(err) == (f"error: cannot write {RUN}/.lock: no space left on device; "
                                   f"the run is intact up to cp-0002.npz — {RESUME}")
    assert {p: p.read_bytes() for p in run.rglob("*")
            if p.is_file() and p.name != ".lock"} == before
    code, _, err = run_cli("resume", RUN, "--latest", "--epochs", 4, "--quiet")
    assert code == 0, err


def test_free_space_is_checked_before_a_checkpoint_is_written(project, run_cli, monkeypatch):
    """The checkpoint's size is known before its first byte is written: with less room than
    that, nothing is started and the message says how much was needed."""
    import shutil
    real = shutil.disk_usage
    run = project / RUN
    opened = []

    def disk_usage(path):
        usage = real(path)
        if (run / "checkpoints/cp-0002.npz").exists():
            return usage._replace(free=1000)
        return usage
    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    real_open = open
    monkeypatch.setattr(atomic_files, "open", lambda p, *a, **k: opened.append(Path(p).name)
                        or real_open(p, *a, **k), raising=False)
    code, _, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 1
    previous = ckpt.read_index(run / "checkpoints")["checkpoints"][-1]["size"]
    line = one_error_line(err)
    needs = re.fullmatch(rf"error: cannot write {RUN}/checkpoints/cp-0003.npz: no space left on "
                         rf"device \(it needs ([0-9.]+) KiB, 1000 B free\); the run is intact "
                         rf"up to cp-0002.npz — {RESUME}", line)
    assert needs, line
    assert previous < float(needs.group(1)) * 1024 < previous * 1.1   # the history grew a row
    assert not any(name.startswith(".cp-0003.npz") for name in opened)


def test_predict_output_on_a_full_disk(project, run_cli, monkeypatch):
    assert run_cli("fit", "c.yaml", "--quiet", "--set", "fit.epochs=1")[0] == 0
    np.save(project / "x.npy", np.zeros((3, 4), "float32"))
    (project / "p.csv").write_text("old")
    FullDisk(monkeypatch, "p.csv")
    code, _, err = run_cli("predict", RUN, "--input", "x.npy", "--output", "p.csv")
    assert code == 1
    assert one_error_line(err) == "error: cannot write p.csv: no space left on device"
    assert (project / "p.csv").read_text() == "old" and not temporaries(project)


def test_arrays_a_run_keeps_that_cannot_be_written_leave_no_run(project, monkeypatch):
    """`Model.fit(x, y, run_dir=...)` keeps the arrays in the run (data.npz) before training."""
    import nntrain
    FullDisk(monkeypatch, "data.npz")
    model = nntrain.Model.from_config("c.yaml")
    x = np.zeros((8, 4), "float32")
    with pytest.raises(nntrain.WriteError) as e:
        model.fit(x, np.zeros(8, int), epochs=1, run_dir="runs/api", verbose=0)
    assert str(e.value) == ("cannot write runs/api/data.npz: no space left on device; nothing "
                            "was trained — free space and run it again")
    assert not (project / "runs/api").exists()

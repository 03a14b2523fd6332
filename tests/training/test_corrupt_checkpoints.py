"""A checkpoint with a corrupted byte (or an unreadable index) is refused with one line that
names the newest intact checkpoint and the command that uses it; that command works."""

from __future__ import annotations

import numpy as np
import pytest

CONFIG = """\
name: t
seed: 0
data: {path: d.npz, validation_split: 0.25}
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
def run(tmp_path, monkeypatch, run_cli):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.standard_normal((32, 4)).astype("float32"),
             y_train=rng.integers(0, 3, 32))
    (tmp_path / "c.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 0, err
    return tmp_path / RUN


def corrupt(path) -> None:
    """Flip one byte in the middle of the file (inside an array: the zip's CRC catches it)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_resume_names_the_newest_intact_checkpoint_and_that_command_works(run, run_cli):
    corrupt(run / "checkpoints/cp-0005.npz")
    code, _, err = run_cli("resume", RUN, "--latest", "--epochs", 6)
    assert code == 2
    line = one_line(err)
    assert line.startswith(f"error: {RUN}/checkpoints/cp-0005.npz: not a readable checkpoint "
                           "(Bad CRC-32 for file ")
    assert line.endswith("; the newest intact one is cp-0004.npz: nntrain resume runs/t "
                         "--checkpoint checkpoints/cp-0004.npz")
    command = line.rsplit(": nntrain ", 1)[1].split()
    code, _, err = run_cli(*command, "--epochs", 6, "--quiet")
    assert code == 0, err


def test_several_corrupt_checkpoints_are_passed_over(run, run_cli):
    for name in ("cp-0005.npz", "cp-0004.npz"):
        corrupt(run / "checkpoints" / name)
    code, _, err = run_cli("resume", RUN, "--checkpoint", "checkpoints/cp-0004.npz")
    assert code == 2
    assert one_line(err).endswith("the newest intact one is cp-0003.npz: nntrain resume runs/t "
                                  "--checkpoint checkpoints/cp-0003.npz")


def test_readers_are_pointed_at_an_intact_file_too(run, run_cli):
    corrupt(run / "checkpoints/final.npz")
    code, _, err = run_cli("evaluate", RUN)
    assert code == 2
    line = one_line(err)
    assert line.startswith(f"error: {RUN}/checkpoints/final.npz: not a readable checkpoint")
    assert line.endswith("the newest intact one is cp-0005.npz: give --checkpoint "
                         "checkpoints/cp-0005.npz")
    code, _, err = run_cli("evaluate", RUN, "--checkpoint", "checkpoints/cp-0005.npz",
                           "--split", "val")
    assert code == 0, err


def test_an_unreadable_index_points_at_the_newest_file_that_reads(run, run_cli):
    (run / "checkpoints/checkpoint").write_text("{torn")
    code, _, err = run_cli("resume", RUN, "--latest", "--epochs", 6)
    assert code == 2
    assert one_line(err).startswith(f"error: {RUN}/checkpoints/checkpoint: unreadable "
                                    "checkpoint index")
    assert err.strip().endswith("the newest intact one is cp-0005.npz: move "
                                "checkpoints/checkpoint aside and run: nntrain resume runs/t "
                                "--checkpoint checkpoints/cp-0005.npz")
    (run / "checkpoints/checkpoint").rename(run / "checkpoints/checkpoint.torn")
    code, _, err = run_cli("resume", RUN, "--checkpoint", "checkpoints/cp-0005.npz", "--epochs",
                           6, "--quiet")
    assert code == 0, err
    (run / "checkpoints/checkpoint").write_text("{torn")
    code, _, err = run_cli("evaluate", RUN, "--split", "val")
    assert code == 2
    assert one_line(err).endswith("the newest intact one is final.npz: give --checkpoint "
                                  "checkpoints/final.npz")     # by its meta: after cp-0006
    code, _, err = run_cli("evaluate", RUN, "--split", "val", "--checkpoint",
                           "checkpoints/final.npz")
    assert code == 0, err

"""Files a callback writes are checked before training: not a directory, not too long for the
file system, not one of the run's own files (found by the fuzz test: `CSVLogger: {filename:
config.yaml}` overwrote the run's config with CSV, `filename: .` failed at the first epoch
with exit 1 after creating the run)."""

import numpy as np
import pytest

CONFIG = """\
data: {path: d.npz}
model:
  input_shape: [2]
  layers:
    - Dense: {units: 1}
compile: {loss: mse}
fit:
  callbacks:
    - %s
"""


@pytest.mark.parametrize("entry,message", [
    ("CSVLogger: {filename: .}", "filename: expected a file path (a file, not a directory)"),
    ("CSVLogger: {filename: 'logs/'}", "expected a file path (a file, not a directory)"),
    ("CSVLogger: {filename: %s}" % ("a" * 300), "whose names are at most 230 bytes long"),
    ("CSVLogger: {filename: config.yaml}", "'config.yaml' is a file of the run itself"),
    ("CSVLogger: {filename: ./checkpoints/checkpoint}", "is a file of the run itself"),
    ("CSVLogger: {filename: status.json}", "is a file of the run itself"),
    ("ModelCheckpoint: {filepath: checkpoints/final.npz}", "is a file of the run itself"),
    ("ModelCheckpoint: {filepath: 'x/../data.npz'}", "is a file of the run itself"),
    ("ModelCheckpoint: {filepath: 'cp-{epoch:0300d}.npz'}", "at most 230 bytes long"),
])
def test_a_callback_file_the_run_cannot_write_is_bad_input(tmp_path, monkeypatch, run_cli,
                                                           entry, message):
    np.savez(tmp_path / "d.npz", x_train=np.ones((8, 2), "float32"), y_train=np.ones((8, 1)))
    (tmp_path / "c.yaml").write_text(CONFIG % entry)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 2
    line, = err.strip().splitlines()
    assert line.startswith("error: c.yaml:9: fit.callbacks.0.") and message in line, line
    assert not (tmp_path / "runs").exists()


def test_names_the_file_system_refuses_are_bad_input(tmp_path, monkeypatch, run_cli):
    np.savez(tmp_path / "d.npz", x_train=np.ones((8, 2), "float32"), y_train=np.ones((8, 1)))
    (tmp_path / "c.yaml").write_text(CONFIG % "TerminateOnNaN: {}")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("fit", "c.yaml", "--quiet", "--run-dir", "r" * 300)
    assert code == 2 and err.strip().endswith("the name is too long for the file system")
    code, _, err = run_cli("fit", "c.yaml", "--quiet", "--set", f"run_dir={'r' * 300}")
    assert code == 2 and "run_dir: expected a directory path whose names are at most" in err
    code, _, err = run_cli("fit", "c.yaml", "--quiet", "--set", "name=..")
    assert code == 2 and "name: expected a run name" in err
    assert not (tmp_path / "runs").exists()

"""Bad data and callback input: exit 2, one 'error: FILE:LINE: key: ...' line naming what is
wrong, no traceback, and nothing overwritten — an existing run and its checkpoints stay
byte-identical and no new run directory appears."""

import re

import numpy as np
import pytest

GOOD = """\
name: t
seed: 0
data:
  path: d.npz
  validation_split: 0.25
model:
  input_shape: [4]
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 3, activation: softmax}
compile:
  optimizer: {name: adam, learning_rate: 1.0e-2}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: 2
  batch_size: 16
  callbacks:
    - CSVLogger: {}
"""


@pytest.fixture
def project(tmp_path, monkeypatch, run_cli):
    """A directory holding data files (good and bad) and one finished run, runs/t."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)).astype("float32")
    y = rng.integers(0, 3, 40)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y)
    y_bad = y.copy()
    y_bad[5] = 3
    np.savez(tmp_path / "bad_y.npz", x_train=x, y_train=y_bad)
    x_nan = x.copy()
    x_nan[7, 2] = np.nan
    np.savez(tmp_path / "nan_x.npz", x_train=x_nan, y_train=y)
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip file")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(GOOD)
    code, _, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 0, err
    return tmp_path


def snapshot(root):
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


# (name, replace this, with this, the line the error points at (text on it), what it says)
CASES = [
    ("missing data file", "path: d.npz", "path: nope.npz", "path: nope.npz",
     ["data.path", "nope.npz", "no such file"]),
    ("unreadable data file", "path: d.npz", "path: broken.npz", "path: broken.npz",
     ["data.path", "broken.npz"]),
    ("missing npz key", "path: d.npz", "path: d.npz\n  x: x_trian", "x: x_trian",
     ["data.x", "'x_trian'", "d.npz", "did you mean 'x_train'"]),
    ("shape mismatch", "input_shape: [4]", "input_shape: [5]", None,
     ["data.x", "d.npz", "[4]", "[5]"]),
    ("labels out of range", "path: d.npz", "path: bad_y.npz", None,
     ["data.y", "bad_y.npz", "3"]),
    ("NaN in x", "path: d.npz", "path: nan_x.npz", None,
     ["data.x", "nan_x.npz", "NaN", "[7, 2]"]),
    ("empty split", "validation_split: 0.25", "validation_split: 0.999",
     "validation_split: 0.999", ["data.validation_split", "no training samples"]),
    ("val_accuracy without validation data", "  validation_split: 0.25\n", "",
     None, None),   # filled in below: needs a second replacement
    ("monitor typo", "    - CSVLogger: {}",
     "    - ReduceLROnPlateau: {monitor: val_acuracy}", "ReduceLROnPlateau",
     ["fit.callbacks.0.ReduceLROnPlateau.monitor", "'val_acuracy'", "val_accuracy"]),
    ("unknown callback", "    - CSVLogger: {}", "    - EarlyStoping: {patience: 2}",
     "EarlyStoping", ["fit.callbacks.0.EarlyStoping", "did you mean 'EarlyStopping'"]),
    ("unknown callback argument", "    - CSVLogger: {}", "    - EarlyStopping: {patienc: 2}",
     "patienc", ["fit.callbacks.0.EarlyStopping.patienc", "did you mean 'patience'"]),
    ("bad callback argument value", "    - CSVLogger: {}",
     "    - ReduceLROnPlateau: {factor: 1.5}", "factor",
     ["fit.callbacks.0.ReduceLROnPlateau.factor", "1.5"]),
    ("checkpoint name template typo", "    - CSVLogger: {}",
     "    - ModelCheckpoint: {filepath: 'checkpoints/cp-{epoch:04d}-{val_los:.3f}.npz'}",
     "ModelCheckpoint", ["fit.callbacks.0.ModelCheckpoint.filepath", "'val_los'"]),
]


def config_for(case):
    name, old, new, _, _ = case
    assert old in GOOD
    text = GOOD.replace(old, new)
    if name == "val_accuracy without validation data":
        text = text.replace("    - CSVLogger: {}",
                            "    - EarlyStopping: {monitor: val_accuracy, patience: 2}")
    return text


EXPECT = {"val_accuracy without validation data": (
    "EarlyStopping", ["fit.callbacks.0.EarlyStopping.monitor", "'val_accuracy'",
                      "no validation data"])}


def check_rejected(project, run_cli, text, line_text, fragments, *args):
    (project / "bad.yaml").write_text(text)
    before = snapshot(project / "runs")
    code, out, err = run_cli("fit", "bad.yaml", *args)
    assert code == 2, err
    assert out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    line = lines[0]
    if line_text is None:
        assert re.match(r"error: bad\.yaml:\d+: ", line), line
    else:
        number = next(i for i, t in enumerate(text.splitlines(), 1) if line_text in t)
        assert line.startswith(f"error: bad.yaml:{number}: "), line
    for fragment in fragments:
        assert fragment in line, line
    assert snapshot(project / "runs") == before
    return line


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_and_touches_nothing(project, run_cli, case):
    line_text, fragments = EXPECT.get(case[0], (case[3], case[4]))
    check_rejected(project, run_cli, config_for(case), line_text, fragments)


@pytest.mark.parametrize("case", [CASES[2], CASES[5], CASES[8]], ids=lambda c: c[0])
def test_bad_input_with_run_dir_of_an_existing_run_touches_nothing(project, run_cli, case):
    line_text, fragments = EXPECT.get(case[0], (case[3], case[4]))
    check_rejected(project, run_cli, config_for(case), line_text, fragments,
                   "--run-dir", "runs/t")


def test_debug_shows_the_traceback(project, run_cli):
    (project / "bad.yaml").write_text(GOOD.replace("path: d.npz", "path: nope.npz"))
    code, out, err = run_cli("fit", "bad.yaml", "--debug")
    assert code == 2
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: ")


def test_reduce_lr_with_a_schedule_is_rejected_before_the_run_directory_exists(project,
                                                                               run_cli):
    text = GOOD.replace(
        "learning_rate: 1.0e-2",
        "learning_rate: {schedule: InverseTimeDecay, initial_learning_rate: 0.1, "
        "decay_steps: 10, decay_rate: 0.5}").replace(
        "    - CSVLogger: {}", "    - ReduceLROnPlateau: {monitor: val_loss}")
    check_rejected(project, run_cli, text, "learning_rate",
                   ["compile.optimizer.learning_rate", "schedule"])

"""`nntrain diagnose` end to end on tiny data: the JSON contract (SPEC §1), the terminal table,
the PNG, a run at a checkpoint (its weights, normalization and optimizer state), and bad input —
exit 2, one `error:` line, nothing written."""

from __future__ import annotations

import json
import struct
import sys

import numpy as np
import pytest

import nntrain.cli

from nntrain.diagnostics.subject import open_subject

CONFIG = """\
name: tiny
seed: 1
data:
  path: d.npz
  validation_split: 0.25
  normalize: standard
model:
  input_shape: [6]
  layers:
    - Dense: {units: 12, activation: relu, kernel_initializer: he_normal}
    - Dropout: {rate: 0.2}
    - Dense: {units: 8, activation: tanh}
    - Dense: {units: 3, activation: softmax}
compile:
  optimizer: {name: adam, learning_rate: 0.01}
  loss: sparse_categorical_crossentropy
fit:
  epochs: 2
  batch_size: 20
"""
SPEC_KEYS = {"name", "type", "mean", "std", "dead_fraction", "saturated_fraction", "grad_norm",
             "update_ratio"}


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((120, 6)) * 3 + 2).astype("float32")
    np.savez(tmp_path / "d.npz", x_train=x, y_train=(x[:, 0] > 2).astype(int) + (x[:, 1] > 2))
    (tmp_path / "c.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run(project, run_cli):
    code, _, err = run_cli("fit", "c.yaml", "--run-dir", "runs/r", "--quiet")
    assert code == 0, err
    return project / "runs/r"


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def snapshot(directory):
    return {str(p): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


# -- what it prints -----------------------------------------------------------------------------
def test_json_has_the_spec_keys_and_nothing_else_on_stdout(project, run_cli):
    code, out, err = run_cli("diagnose", "c.yaml", "--json", "--batch", 50)
    assert code == 0, err
    report = json.loads(out)
    assert {"layers", "warnings"} <= set(report)
    assert [r["name"] for r in report["layers"]] == ["dense", "dropout", "dense_1", "dense_2"]
    assert all(SPEC_KEYS <= set(r) for r in report["layers"])
    assert all(isinstance(w, str) for w in report["warnings"])
    dense, dropout, tanh, softmax = report["layers"]
    assert dense["dead_fraction"] is not None and dense["saturated_fraction"] is None
    assert tanh["saturated_fraction"] is not None and tanh["dead_fraction"] is None
    assert dropout["grad_norm"] is None and dense["grad_norm"] > 0 and dense["update_ratio"] > 0
    assert len(dense["histogram"]["counts"]) == 30
    assert report["samples"] == 50 and report["split"] == "train"
    assert report["checkpoint"] is None


def test_terminal_table_with_histograms_and_warnings(project, run_cli):
    code, out, err = run_cli("diagnose", "c.yaml")
    assert code == 0, err
    assert "at initialization: 90 train samples" in out        # all 90 (< --batch 256)
    for name in ("dense (Dense)", "dropout (Dropout)", "dense_2 (Dense)"):
        assert name in out
    assert any(c in out for c in "▁▂▃▄▅▆▇█")
    assert "Warnings" in out or "No warnings." in out


def test_validation_split(project, run_cli):
    code, out, _ = run_cli("diagnose", "c.yaml", "--split", "val", "--json")
    assert code == 0 and json.loads(out)["samples"] == 30


# -- the picture --------------------------------------------------------------------------------
def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_a_png(project, run_cli):
    code, out, err = run_cli("diagnose", "c.yaml", "--plot", "fig.png", "--json")
    assert code == 0, err
    json.loads(out)                               # stdout stays the JSON object alone
    assert "fig.png" in err
    width, height = png_size(project / "fig.png")
    assert 700 <= width <= 4000 and 300 <= height <= 1500
    assert 5_000 < (project / "fig.png").stat().st_size < 1_000_000     # a picture, not a blank


def test_plot_without_matplotlib_is_one_line_naming_the_extra(project, run_cli, monkeypatch):
    for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)                   # importing it fails
    monkeypatch.delitem(sys.modules, "nntrain.cli.diagnose_plot", raising=False)
    monkeypatch.delattr(nntrain.cli, "diagnose_plot", raising=False)   # a fresh import
    code, _, err = run_cli("diagnose", "c.yaml", "--plot", "fig.png")
    assert code == 2
    assert one_error_line(err) == 'error: --plot needs matplotlib: pip install "nntrain[plot]"'
    assert not (project / "fig.png").exists()


def test_plot_needs_a_png_name(project, run_cli):
    code, _, err = run_cli("diagnose", "c.yaml", "--plot", "fig.pdf")
    assert code == 2 and ".png" in one_error_line(err)


# -- at a checkpoint ----------------------------------------------------------------------------
def test_a_run_is_diagnosed_at_its_final_model_or_the_checkpoint_given(run, run_cli):
    before = snapshot(run)
    code, out, err = run_cli("diagnose", run, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["checkpoint"].endswith("final.npz") and report["epoch"] == 2   # finished run
    assert report["weights"].startswith("final model")
    assert report["fresh_optimizer"] is True              # final.npz holds weights only
    code, out, _ = run_cli("diagnose", run, "--checkpoint", "checkpoints/cp-0001.npz", "--json")
    first = json.loads(out)
    assert code == 0 and first["epoch"] == 1 and first["fresh_optimizer"] is False
    assert first["layers"][0]["mean"] != report["layers"][0]["mean"]
    code, out, _ = run_cli("diagnose", "c.yaml", "--checkpoint", run / "checkpoints/cp-0001.npz",
                           "--json")
    assert code == 0 and json.loads(out)["layers"] == first["layers"]   # config + checkpoint
    assert snapshot(run) == before                                       # nothing written


def test_at_a_checkpoint_normalization_and_optimizer_are_the_checkpoints(run, project):
    with np.load(project / "d.npz") as z:      # the data file changed since training
        np.savez(project / "d.npz", x_train=z["x_train"] * 3 - 1, y_train=z["y_train"])
    subject = open_subject(str(run), checkpoint="checkpoints/cp-0002.npz")
    with np.load(run / "checkpoints/cp-0002.npz") as z:
        meta = json.loads(str(z["meta"]))
    assert subject.dataset.normalizer.state() == meta["normalizer"]
    assert subject.optimizer.iterations == meta["global_step"] == 2 * 5
    assert not subject.fresh_optimizer


# -- bad input ----------------------------------------------------------------------------------
def test_a_run_without_checkpoints(project, run_cli):
    (project / "runs/empty").mkdir(parents=True)
    (project / "runs/empty/config.yaml").write_text(CONFIG)
    code, _, err = run_cli("diagnose", "runs/empty")
    assert code == 2 and "no checkpoint" in one_error_line(err)


def test_batch_zero(project, run_cli):
    code, _, err = run_cli("diagnose", "c.yaml", "--batch", 0)
    assert code == 2 and "--batch" in one_error_line(err)


def test_a_checkpoint_of_another_model(run, project, run_cli):
    other = CONFIG.replace("units: 8, activation: tanh", "units: 9, activation: tanh")
    (project / "other.yaml").write_text(other)
    before = snapshot(run)
    for target in ("other.yaml", run):
        code, _, err = run_cli("diagnose", target, "--checkpoint",
                               run / "checkpoints/cp-0001.npz")
        if target == run:   # the run's own model: fine
            assert code == 0, err
            continue
        assert code == 2 and "another model" in one_error_line(err)
    assert snapshot(run) == before


def test_a_model_with_no_data_section(project, run_cli):
    (project / "nodata.yaml").write_text(CONFIG.split("data:")[0] + "model:" +
                                         CONFIG.split("model:")[1])
    code, _, err = run_cli("diagnose", "nodata.yaml")
    line = one_error_line(err)
    assert code == 2 and "nodata.yaml" in line and "data:" in line


def test_no_validation_data_for_split_val(project, run_cli):
    (project / "noval.yaml").write_text(CONFIG.replace("  validation_split: 0.25\n", ""))
    code, _, err = run_cli("diagnose", "noval.yaml", "--split", "val")
    assert code == 2 and "validation" in one_error_line(err)


def test_not_a_run_directory(project, run_cli):
    (project / "nothing").mkdir()
    code, _, err = run_cli("diagnose", "nothing")
    assert code == 2 and "not a run directory" in one_error_line(err)

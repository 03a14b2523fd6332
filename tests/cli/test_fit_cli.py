"""End-to-end: `fit`, `evaluate`, `predict`, `checkpoints` on a tiny problem, and the files of
SPEC §3 that other programs read."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

CONFIG = """\
name: t
seed: 0
data:
  path: d.npz
  test: {{x: x_test, y: y_test}}
  validation_split: 0.2
  normalize: standard
model:
  input_shape: [4]
  layers:
    - Dense: {{units: 8, activation: relu}}
    - BatchNormalization: {{}}
    - Dense: {{units: 3, activation: softmax}}
compile:
  optimizer: {{name: adam, learning_rate: 1.0e-2}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: 3
  batch_size: 16
{callbacks}"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4)).astype("float32") * [1, 2, 3, 4] + [0, 1, 2, 3]
    np.savez(tmp_path / "d.npz", x_train=x.astype("float32"), y_train=rng.integers(0, 3, 60),
             x_test=rng.standard_normal((20, 4)).astype("float32"),
             y_test=rng.integers(0, 3, 20))
    (tmp_path / "c.yaml").write_text(CONFIG.format(callbacks=""))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def fitted(project, run_cli):
    code, out, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 0, err
    return project / "runs" / "t"


def test_fit_writes_the_run_files(fitted, project):
    run = fitted
    assert sorted(p.name for p in run.iterdir()) == [".lock", "checkpoints", "config.yaml",
                                                     "history.csv", "status.json"]
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    # the resolved config: absolute data path, so evaluate/resume work from anywhere
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert Path(config["data"]["path"]) == (project / "d.npz").resolve()
    assert config["fit"]["epochs"] == 3 and config["model"]["input_shape"] == [4]
    # no ModelCheckpoint in the config: still one checkpoint per epoch
    # and the model fit ended with, as the final model
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "checkpoint", "cp-0001.npz", "cp-0002.npz", "cp-0003.npz", "final.npz"]
    index = json.loads((run / "checkpoints" / "checkpoint").read_text())
    assert index["latest"] == "cp-0003.npz" and index["final"] == "final.npz"
    assert index["best"] in {"cp-0001.npz", "cp-0002.npz", "cp-0003.npz"}
    assert [e["file"] for e in index["checkpoints"]] == ["cp-0001.npz", "cp-0002.npz",
                                                         "cp-0003.npz", "final.npz"]
    with open(run / "history.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert all(float(r[5]) == 0.01 and float(r[6]) >= 0 for r in rows[1:])
    # best by val_loss (the default checkpoint's monitor when there is validation data)
    val = [float(r[3]) for r in rows[1:]]
    assert index["best"] == f"cp-{int(np.argmin(val)) + 1:04d}.npz"


def test_checkpoint_npz_layout(fitted, project):
    with np.load(fitted / "checkpoints" / "cp-0003.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    shapes = {k: v.shape for k, v in arrays.items() if k.startswith("weights/")}
    assert shapes == {
        "weights/dense/kernel": (4, 8), "weights/dense/bias": (8,),
        "weights/batch_normalization/gamma": (8,), "weights/batch_normalization/beta": (8,),
        "weights/batch_normalization/moving_mean": (8,),
        "weights/batch_normalization/moving_variance": (8,),
        "weights/dense_1/kernel": (8, 3), "weights/dense_1/bias": (3,)}
    opt = {k for k in arrays if k.startswith("optimizer/")}
    assert "optimizer/iterations" in opt
    assert int(arrays["optimizer/iterations"]) == 9           # 3 epochs of 3 batches of 16
    # Adam's slots for every trainable weight (moving statistics are not trained)
    for slot in ("m", "v"):
        assert f"optimizer/{slot}/dense/kernel" in opt
        assert arrays[f"optimizer/{slot}/dense/kernel"].shape == (4, 8)
    assert set(arrays) <= {*shapes, *opt, "meta"} | {k for k in arrays if k.startswith("state/")}
    meta_array = arrays["meta"]
    assert meta_array.shape == () and meta_array.dtype.kind == "U"
    meta = json.loads(str(meta_array))
    assert meta["epoch"] == 3 and meta["global_step"] == 9
    assert [h["epoch"] for h in meta["history"]] == [1, 2, 3]
    assert isinstance(meta["model_hash"], str) and meta["model_hash"]
    assert "format" in meta
    # normalization statistics of the training split only (the first 48 of 60 samples)
    x = np.load(project / "d.npz")["x_train"][:48]
    norm = meta["normalizer"]
    assert norm["method"] == "standard"
    np.testing.assert_allclose(np.ravel(norm["shift"]), x.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.ravel(norm["scale"]), x.std(axis=0), rtol=1e-4)


def test_second_fit_writes_name_2_and_says_so(fitted, project, run_cli):
    before = {p: p.read_bytes() for p in fitted.rglob("*") if p.is_file()}
    code, out, err = run_cli("fit", "c.yaml")
    assert code == 0, err
    assert "runs/t-2" in out + err
    assert (project / "runs" / "t-2" / "checkpoints" / "cp-0003.npz").is_file()
    assert {p: p.read_bytes() for p in fitted.rglob("*") if p.is_file()} == before
    code, out, err = run_cli("fit", "c.yaml", "--quiet", "--run-dir", "runs/t")
    assert code == 0, err
    assert (project / "runs" / "t-3" / "config.yaml").is_file()


def test_evaluate_json_prints_one_object_on_stdout(fitted, run_cli):
    code, out, err = run_cli("evaluate", "--json")
    assert code == 0, err
    result = json.loads(out)                      # the whole of stdout is one JSON object
    assert isinstance(result, dict)
    assert result["split"] == "test"
    # a finished run: its final model (here the last epoch's weights, as no callback restored
    # others), which is what the latest checkpoint holds too
    assert Path(result["checkpoint"]).resolve() == (fitted / "checkpoints/final.npz").resolve()
    assert 0 <= result["accuracy"] <= 1 and result["loss"] > 0
    # on the validation split the latest checkpoint scores what the last epoch logged
    code, out, err = run_cli("evaluate", str(fitted), "--split", "val", "--json")
    assert code == 0, err
    val = json.loads(out)
    with open(fitted / "history.csv") as f:
        last = list(csv.DictReader(f))[-1]
    assert val["loss"] == pytest.approx(float(last["val_loss"]), rel=1e-5)
    assert val["accuracy"] == pytest.approx(float(last["val_accuracy"]))
    code, out, err = run_cli("evaluate", str(fitted), "--best", "--json")
    index = json.loads((fitted / "checkpoints" / "checkpoint").read_text())
    assert Path(json.loads(out)["checkpoint"]).name == index["best"]


def test_predict_to_npy_and_csv(fitted, project, run_cli):
    x_test = np.load(project / "d.npz")["x_test"]
    np.save(project / "x.npy", x_test)
    code, out, err = run_cli("predict", "--input", "x.npy", "--output", "p.npy")
    assert code == 0, err
    probs = np.load(project / "p.npy", allow_pickle=False)
    assert probs.shape == (20, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    code, out, err = run_cli("predict", str(fitted), "--input", "x.npy", "--output", "p.csv")
    assert code == 0, err
    with open(project / "p.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["p0", "p1", "p2", "class"]
    table = np.array([[float(v) for v in r[:3]] for r in rows[1:]])
    np.testing.assert_allclose(table, probs, rtol=1e-4, atol=1e-6)
    assert [int(r[3]) for r in rows[1:]] == list(probs.argmax(axis=1))
    # the predicted classes agree with evaluate's accuracy on the same (test) data
    code, out, _ = run_cli("evaluate", "--json")
    y_test = np.load(project / "d.npz")["y_test"]
    assert json.loads(out)["accuracy"] == pytest.approx(np.mean(probs.argmax(1) == y_test))


def test_checkpoints_command_lists_files_latest_and_best(fitted, run_cli):
    code, out, err = run_cli("checkpoints", str(fitted))
    assert code == 0, err
    index = json.loads((fitted / "checkpoints" / "checkpoint").read_text())
    lines = {line.split()[1]: line for line in out.splitlines() if "cp-000" in line}
    assert sorted(lines) == ["cp-0001.npz", "cp-0002.npz", "cp-0003.npz"]
    assert "latest" in lines["cp-0003.npz"]
    assert "best" in lines[index["best"]]
    assert sum("best" in line for line in lines.values()) == 1


def test_fit_with_callbacks_but_no_model_checkpoint_still_checkpoints_every_epoch(project,
                                                                               run_cli):
    (project / "c.yaml").write_text(CONFIG.format(callbacks="""\
  callbacks:
    - EarlyStopping: {monitor: val_loss, patience: 10}
    - CSVLogger: {filename: log.csv}
"""))
    code, out, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 0, err
    run = project / "runs" / "t"
    assert sorted(p.name for p in (run / "checkpoints").glob("cp-*.npz")) == [
        "cp-0001.npz", "cp-0002.npz", "cp-0003.npz"]
    assert (run / "log.csv").read_text() == (run / "history.csv").read_text()

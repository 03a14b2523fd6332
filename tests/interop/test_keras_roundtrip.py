"""Export → import through a Keras `.weights.h5` without Keras (h5py only): the weights and the
predictions come back bit for bit, in the library and through the CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from interop_models import MODELS, inputs_for, random_model
from nntrain.interop.keras_weights import load_keras_weights, save_keras_weights
from nntrain.training.checkpoint import load_checkpoint, load_weights_into
from nntrain.training.run_dir import RunDir, write_status

pytest.importorskip("h5py")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_is_bit_identical(name, tmp_path):
    model = random_model(name, seed=1)
    path = tmp_path / "m.weights.h5"
    save_keras_weights(model, path)
    other = random_model(name, seed=2)
    loaded = load_keras_weights(other, path)
    # a layer the output does not use is not in a Keras model (see the last test)
    assert {k for k in model.weights() if k not in loaded} <= {"unused/kernel", "unused/bias"}
    load_weights_into(other, {**other.weights(), **loaded}, str(path))
    for key in loaded:
        w, got = model.weights()[key], other.weights()[key]
        assert got.dtype == w.dtype and np.array_equal(got, w), key
    xs = inputs_for(model, 6, np.random.default_rng(3))
    assert np.array_equal(model.predict(xs), other.predict(xs))


def test_round_trip_in_float64(tmp_path):
    cfg = MODELS["rnn"]
    from nntrain.builder import build_model
    model = build_model(cfg, dtype="float64", rng=np.random.default_rng(1))
    save_keras_weights(model, tmp_path / "m.weights.h5")
    other = build_model(cfg, dtype="float64", rng=np.random.default_rng(2))
    weights = load_keras_weights(other, tmp_path / "m.weights.h5")
    assert all(np.array_equal(weights[k], v) for k, v in model.weights().items())


# -- through the CLI ------------------------------------------------------------------------
CONFIG = """\
name: t
seed: 0
data:
  path: d.npz
  test: {x: x_test, y: y_test}
  validation_split: 0.25
  normalize: standard
model:
  input_shape: [12, 2]
  layers:
    - Conv1D: {filters: 4, kernel_size: 3, activation: relu}
    - BatchNormalization: {}
    - Bidirectional: {layer: {LSTM: {units: 3, return_sequences: true}}}
    - GRU: {units: 3}
    - Dense: {units: 3, activation: softmax}
compile:
  optimizer: {name: adam, learning_rate: 1.0e-2}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: 2
  batch_size: 16
"""


@pytest.fixture
def fitted(tmp_path, monkeypatch, run_cli):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz",
             x_train=(rng.standard_normal((48, 12, 2)) * 2 + 1).astype("float32"),
             y_train=rng.integers(0, 3, 48),
             x_test=(rng.standard_normal((16, 12, 2)) * 2 + 1).astype("float32"),
             y_test=rng.integers(0, 3, 16))
    (tmp_path / "c.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 0, err
    np.save(tmp_path / "x.npy", np.load(tmp_path / "d.npz")["x_test"])
    return tmp_path / "runs" / "t"


def test_export_then_import_gives_the_same_run(fitted, run_cli):
    code, _, err = run_cli("export", fitted, "--format", "keras", "--output", "m.weights.h5")
    assert code == 0, err
    assert "checkpoints/final.npz" in err   # a finished run: its final model
    code, _, err = run_cli("import-weights", fitted / "config.yaml", "m.weights.h5",
                           "--run-dir", "imported")
    assert code == 0, err
    run = fitted.parent.parent / "imported"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.yaml", "status.json"]
    assert yaml.safe_load((run / "config.yaml").read_text())["model"] == \
        yaml.safe_load((fitted / "config.yaml").read_text())["model"]
    index = json.loads((run / "checkpoints" / "checkpoint").read_text())
    assert index["final"] == "final.npz" and index["latest"] is None
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    original, imported = load_checkpoint(fitted / "checkpoints" / "final.npz"), \
        load_checkpoint(run / "checkpoints" / "final.npz")
    assert original.weights.keys() == imported.weights.keys()
    assert all(np.array_equal(original.weights[k], imported.weights[k]) for k in original.weights)
    # normalize: standard → statistics from the config's training split, as fit computed them
    assert imported.meta["normalizer"] == original.meta["normalizer"]
    assert imported.meta["weights_only"] is True
    for args in (["--output", "p1.npy"], ["--checkpoint", "checkpoints/final.npz",
                                          "--output", "p2.npy"]):
        code, _, err = run_cli("predict", run, "--input", "x.npy", *args)
        assert code == 0, err
    code, _, err = run_cli("predict", fitted, "--input", "x.npy", "--output", "p0.npy")
    assert code == 0, err
    p0, p1, p2 = (np.load(f"p{i}.npy") for i in range(3))
    assert np.array_equal(p0, p1) and np.array_equal(p0, p2)
    scores = []
    for target in (fitted, run):   # both finished: evaluate scores the final model
        code, out, err = run_cli("evaluate", target, "--json")
        assert code == 0, err
        scores.append(json.loads(out))
        assert scores[-1]["checkpoint"].endswith("final.npz")
    assert scores[0]["loss"] == scores[1]["loss"]
    assert scores[0]["accuracy"] == scores[1]["accuracy"]


def test_imported_run_lists_and_fine_tunes(fitted, run_cli):
    run_cli("export", fitted, "--format", "keras", "--output", "m.weights.h5")
    code, _, err = run_cli("import-weights", "c.yaml", "m.weights.h5", "--run-dir", "imp")
    assert code == 0, err
    code, out, err = run_cli("checkpoints", "imp", "--json")
    assert code == 0, err
    assert [e["file"] for e in json.loads(out)["checkpoints"]] == ["final.npz"]
    final = ["--checkpoint", "checkpoints/final.npz", "--epochs", "1"]
    code, _, err = run_cli("resume", "imp", *final)
    assert code == 2 and "weights only" in err
    code, _, err = run_cli("resume", "imp", *final, "--weights-only-ok", "--quiet")
    assert code == 0, err
    assert (Path("imp") / "checkpoints" / "cp-0001.npz").is_file()


def test_export_takes_the_final_model_or_the_given_checkpoint(fitted, run_cli):
    """As evaluate: the final model of a finished run, else the latest; or --checkpoint."""
    code, _, err = run_cli("export", fitted, "--format", "keras", "--output", "c.weights.h5",
                           "--checkpoint", "checkpoints/cp-0001.npz")
    assert code == 0 and "cp-0001.npz" in err, err
    run_cli("import-weights", "c.yaml", "c.weights.h5", "--run-dir", "a")
    first = load_checkpoint(fitted / "checkpoints" / "cp-0001.npz").weights
    got = load_checkpoint("a/checkpoints/final.npz").weights
    assert all(np.array_equal(first[k], got[k]) for k in first)
    write_status(RunDir(fitted), "interrupted")
    code, _, err = run_cli("export", fitted, "--format", "keras", "--output", "i.weights.h5")
    assert code == 0 and "cp-0002.npz" in err, err


def test_keras_config_export_describes_the_run(fitted, run_cli):
    code, _, err = run_cli("export", fitted, "--format", "keras-config", "--output", "m.json")
    assert code == 0, err
    spec = json.loads(open("m.json").read())
    assert spec["class_name"] == "Sequential" and spec["config"]["name"] == "t"
    layers = spec["config"]["layers"]
    assert [x["class_name"] for x in layers] == ["InputLayer", "Normalization", "Conv1D",
                                                 "BatchNormalization", "Bidirectional", "GRU",
                                                 "Dense"]
    assert layers[0]["config"]["batch_shape"] == [None, 12, 2]
    stats = load_checkpoint(fitted / "checkpoints" / "final.npz").meta["normalizer"]
    norm = layers[1]["config"]
    assert norm["mean"] == stats["shift"][0]
    assert norm["variance"] == [float(np.float64(s) ** 2) for s in stats["scale"][0]]
    assert layers[4]["config"]["layer"]["class_name"] == "LSTM"
    assert layers[4]["config"]["layer"]["config"]["units"] == 3


def test_layers_the_output_does_not_use_are_left_out(tmp_path, run_cli, monkeypatch):
    """A Keras model holds only what its output depends on; importing keeps such a layer's
    initial weights."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("""\
model:
  input_shape: [4]
  layers:
    - Dense: {units: 3}
    - Dense: {name: side, units: 7}
    - Dense: {units: 2, inputs: dense}
  outputs: dense_1
compile: {loss: mse}
""")
    model = random_model(yaml.safe_load((tmp_path / "c.yaml").read_text())["model"])
    save_keras_weights(model, tmp_path / "m.weights.h5")
    import h5py
    with h5py.File(tmp_path / "m.weights.h5") as f:
        assert sorted(f["layers"]) == ["dense", "dense_1", "input_layer"]
    code, _, err = run_cli("import-weights", "c.yaml", "m.weights.h5", "--run-dir", "r")
    assert code == 0, err
    got = load_checkpoint("r/checkpoints/final.npz").weights
    assert np.array_equal(got["dense_1/kernel"], model.weights()["dense_1/kernel"])
    assert got["side/kernel"].shape == (3, 7)

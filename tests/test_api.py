"""The Python API (nntrain/api.py): the documented example runs, the API and the command line
give the same numbers, a run the API writes resumes bit-identically, errors are the CLI's."""

import json
import re

import numpy as np
import pytest

import nntrain
from nntrain.training.callbacks import EarlyStopping
from tests.conftest import ROOT

CONFIG = {
    "name": "api", "seed": 3,
    "data": {"path": "d.npz", "test": {"x": "x_test", "y": "y_test"}, "validation_split": 0.25,
             "normalize": "standard"},
    "model": {"input_shape": [4], "layers": [
        {"Dense": {"units": 16, "activation": "relu"}},
        {"Dropout": {"rate": 0.1}},
        {"Dense": {"units": 3, "activation": "softmax"}}]},
    "compile": {"optimizer": {"name": "adam", "learning_rate": 0.02},
                "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
    "fit": {"epochs": 4, "batch_size": 16},
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((96, 4)) * [1, 2, 3, 4] + [5, 0, -5, 1]).astype("float32")
    y = (x[:, 0] > 5).astype(int) + (x[:, 1] > 1)
    np.savez(tmp_path / "d.npz", x_train=x[:80], y_train=y[:80], x_test=x[80:], y_test=y[80:])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_documented_example_runs(tmp_path, monkeypatch, capsys):
    text = (ROOT / "docs" / "python-api.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    for name in ("data", "configs"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/python-api.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Total params: 80,906" in out and "final model: weights after epoch 2" in out
    assert (tmp_path / "runs/api-example/checkpoints/final.npz").is_file()


def test_load_predicts_what_the_predict_command_writes(project, run_cli):
    (project / "c.json").write_text(json.dumps(CONFIG))   # YAML is a superset of JSON
    assert run_cli("fit", "c.json", "--run-dir", "runs/r", "--quiet")[0] == 0
    raw = np.load("d.npz")["x_test"]
    np.save("in.npy", raw)
    code, _, err = run_cli("predict", "runs/r", "--input", "in.npy", "--output", "p.npy")
    assert code == 0, err
    from_cli = np.load("p.npy")
    from_api = nntrain.load("runs/r").predict(raw)
    assert from_api.dtype == from_cli.dtype and np.array_equal(from_api, from_cli)
    # the CLI's evaluate and the API's evaluate of the same (final) model agree exactly
    code, out, _ = run_cli("evaluate", "runs/r", "--json")
    assert json.loads(out)["loss"] == nntrain.load("runs/r").evaluate(split="test")["loss"]


def test_fit_on_arrays_with_a_run_dir_resumes_bit_identically(project, run_cli):
    with np.load("d.npz") as z:
        x, y = z["x_train"], z["y_train"]

    def model():
        return nntrain.Model.from_config(CONFIG)
    straight = model()
    h = straight.fit(x, y, epochs=4, validation_split=0.25, run_dir="runs/straight", verbose=0)
    assert len(h.epoch) == 4 and set(h.history) >= {"loss", "val_loss", "accuracy", "lr"}
    model().fit(x, y, epochs=2, validation_split=0.25, run_dir="runs/part", verbose=0)
    code, _, err = run_cli("resume", "runs/part", "--latest", "--epochs", "4", "--quiet")
    assert code == 0, err
    a = np.load("runs/straight/checkpoints/cp-0004.npz")
    b = np.load("runs/part/checkpoints/cp-0004.npz")
    for k in a.files:
        if k != "meta":
            assert np.array_equal(a[k], b[k]), k
    # the API's in-memory model is the run's final model
    assert np.array_equal(nntrain.load("runs/straight").predict(x), straight.predict(x))


def test_fit_without_a_run_dir_writes_nothing_and_continues_like_keras(project):
    with np.load("d.npz") as z:
        x, y = z["x_train"], z["y_train"]
    m = nntrain.Model.from_config(CONFIG)
    first = m.fit(x, y, epochs=2, verbose=0).history["loss"]
    second = m.fit(x, y, epochs=2, verbose=0).history["loss"]
    assert second[0] < first[0]                       # continued from the trained weights
    assert sorted(p.name for p in project.iterdir()) == ["d.npz"]


def test_evaluate_and_the_fit_message_name_the_restored_weights(project, run_cli):
    config = {**CONFIG, "fit": {"epochs": 12, "batch_size": 16, "callbacks": [
        {"EarlyStopping": {"monitor": "val_loss", "patience": 12,
                           "restore_best_weights": True}}]},
              "compile": {**CONFIG["compile"], "optimizer": {"name": "adam",
                                                             "learning_rate": 0.3}}}
    (project / "c.json").write_text(json.dumps(config))
    code, out, err = run_cli("fit", "c.json", "--run-dir", "runs/es")
    assert code == 0, err
    best = nntrain.load("runs/es", which="best")
    final = nntrain.load("runs/es")
    restored = final.checkpoint_meta["restored_epoch"]
    assert restored is not None and restored < 12, "the big rate should overfit"
    assert f"Final model: runs/es/checkpoints/final.npz (the weights of epoch {restored}, " \
           "restored by EarlyStopping)" in out
    for a, b in zip(final.get_weights(), best.get_weights()):
        assert np.array_equal(a, b)                   # best by val_loss = what was restored
    code, out, _ = run_cli("evaluate", "runs/es")
    assert f"final model: weights of epoch {restored} restored by EarlyStopping" in out
    code, out, _ = run_cli("evaluate", "runs/es", "--latest", "--json")
    assert json.loads(out)["checkpoint"].endswith("cp-0012.npz")


def test_train_on_batch_steps_and_test_on_batch_does_not(project):
    with np.load("d.npz") as z:
        x, y = z["x_train"][:16], z["y_train"][:16]
    m = nntrain.Model.from_config(CONFIG)
    before = m.get_weights()
    assert m.test_on_batch(x, y, return_dict=True).keys() == {"loss", "accuracy"}
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
    losses = [m.train_on_batch(x, y)[0] for _ in range(20)]
    assert losses[-1] < losses[0] * 0.7
    assert m.predict_on_batch(x).shape == (16, 3)


def test_weights_round_trip_in_keras_order(project, tmp_path):
    m = nntrain.Model.from_config(CONFIG)
    shapes = [w.shape for w in m.get_weights()]
    assert shapes == [(4, 16), (16,), (16, 3), (3,)]      # kernel, bias per Dense, in order
    other = nntrain.Model.from_config({**CONFIG, "seed": 9})
    other.set_weights(m.get_weights())
    x = np.random.default_rng(1).standard_normal((5, 4)).astype("float32")
    assert np.array_equal(other.predict(x), m.predict(x))
    m.save_weights(tmp_path / "w.npz")
    third = nntrain.Model.from_config({**CONFIG, "seed": 5})
    third.load_weights(tmp_path / "w.npz")
    assert np.array_equal(third.predict(x), m.predict(x))
    with pytest.raises(nntrain.ConfigError, match="expected 4 arrays"):
        m.set_weights(m.get_weights()[:2])


def test_errors_are_the_command_line_s(project, run_cli):
    bad = {**CONFIG, "model": {"input_shape": [4], "layers": [{"Dense": {"unit": 3}}]}}
    with pytest.raises(nntrain.ConfigError) as e:
        nntrain.Model.from_config(bad)
    (project / "bad.json").write_text(json.dumps(bad))
    code, _, err = run_cli("summary", "bad.json")
    assert code == 2
    assert e.value.key == "model.layers.0.Dense.unit" and "did you mean 'units'" in str(e.value)
    assert err.strip().endswith(str(e.value).split(": ", 1)[1])
    m = nntrain.Model.from_config({k: v for k, v in CONFIG.items() if k != "compile"})
    with pytest.raises(nntrain.ConfigError, match="not compiled"):
        m.fit(np.zeros((4, 4)), np.zeros(4))
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(nntrain.DataError, match=r"per-sample shape \[5\]"):
        m.fit(np.zeros((4, 5)), np.zeros(4), verbose=0)
    with pytest.raises(nntrain.CheckpointError):
        nntrain.load(project / "nowhere")


def test_callback_objects_given_in_code_are_part_of_the_resumable_run(project, run_cli):
    with np.load("d.npz") as z:
        x, y = z["x_train"], z["y_train"]
    m = nntrain.Model.from_config(CONFIG)
    m.fit(x, y, epochs=2, validation_split=0.25, run_dir="runs/cb", verbose=0,
          callbacks=[EarlyStopping(monitor="val_loss", patience=50)])
    text = (project / "runs/cb/config.yaml").read_text()
    assert "EarlyStopping" in text and "patience: 50" in text
    code, _, err = run_cli("resume", "runs/cb", "--latest", "--epochs", "3", "--quiet")
    assert code == 0, err
    assert len(nntrain.load("runs/cb").checkpoint_meta["history"]) == 3

"""`nntrain evaluate --confusion`: the matrix agrees with accuracy and the test labels, a one-unit
output gives 2 x 2, the table is printed, and a regression model is refused."""

import json

import numpy as np
import pytest

CONFIG = """\
name: c
seed: 1
data:
  path: d.npz
  test: {x: x_test, y: y_test}
model:
  input_shape: [4]
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: %(units)d, activation: %(activation)s}
compile:
  optimizer: {name: adam, learning_rate: 0.02}
  loss: %(loss)s
  metrics: [accuracy]
fit: {epochs: 3, batch_size: 16}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 4)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.7)
    np.savez(tmp_path / "d.npz", x_train=x[:90], y_train=y[:90], x_test=x[90:], y_test=y[90:],
             b_train=(y[:90] > 0).astype(float), b_test=(y[90:] > 0).astype(float))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fit(project, run_cli, name, **values):
    text = CONFIG % values
    if values["units"] == 1:
        text = text.replace("path: d.npz\n", "path: d.npz\n  y: b_train\n").replace(
            "y: y_test", "y: b_test")
    (project / f"{name}.yaml").write_text(text)
    code, _, err = run_cli("fit", f"{name}.yaml", "--run-dir", f"runs/{name}", "--quiet")
    assert code == 0, err
    return f"runs/{name}"


def test_confusion_matrix_in_json_and_table(project, run_cli):
    run = fit(project, run_cli, "softmax", units=3, activation="softmax",
              loss="sparse_categorical_crossentropy")
    code, out, err = run_cli("evaluate", run, "--confusion", "--json")
    assert code == 0, err
    result = json.loads(out)
    matrix = np.array(result["confusion_matrix"])
    assert matrix.shape == (3, 3) and matrix.dtype.kind == "i"
    assert matrix.sum() == result["samples"] == 30
    assert np.trace(matrix) / matrix.sum() == pytest.approx(result["accuracy"])
    with np.load(project / "d.npz") as z:
        assert matrix.sum(axis=1).tolist() == np.bincount(z["y_test"], minlength=3).tolist()
    code, out, _ = run_cli("evaluate", run, "--confusion")
    assert code == 0 and "Confusion matrix" in out and "recall" in out
    code, out, _ = run_cli("evaluate", run, "--json")
    assert "confusion_matrix" not in json.loads(out)


def test_one_unit_output_gives_two_classes(project, run_cli):
    run = fit(project, run_cli, "sigmoid", units=1, activation="sigmoid",
              loss="binary_crossentropy")
    code, out, err = run_cli("evaluate", run, "--confusion", "--json")
    assert code == 0, err
    result = json.loads(out)
    matrix = np.array(result["confusion_matrix"])
    assert matrix.shape == (2, 2)
    assert np.trace(matrix) / 30 == pytest.approx(result["accuracy"])


def test_regression_is_refused(project, run_cli):
    run = fit(project, run_cli, "regression", units=1, activation="linear", loss="mse")
    np.savez(project / "d.npz", **{**dict(np.load(project / "d.npz")),
                                   "b_test": np.linspace(-1, 2, 30)})
    code, _, err = run_cli("evaluate", run, "--confusion")
    assert code == 2 and "error:" in err and "--confusion needs class labels" in err

"""A run whose loss overflows shows nan/inf in its logs and one hint, as Keras shows its logs;
NumPy's overflow warnings stay out of the output."""

import warnings

import numpy as np

CONFIG = ("data: {path: d.npz}\nmodel:\n  input_shape: [3]\n  layers:\n    - Dense: {units: 1}\n"
          "compile: {loss: mse, optimizer: {name: sgd, learning_rate: 1.0e+10}}\n"
          "fit: {epochs: 2, batch_size: 8}\n")


def test_a_diverging_fit_says_so_once_without_numpy_warnings(tmp_path, monkeypatch, run_cli):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.standard_normal((32, 3)).astype("float32"),
             y_train=rng.standard_normal((32, 1)).astype("float32") * 1e30)
    (tmp_path / "c.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run_cli("fit", "c.yaml")
    assert code == 0, err
    assert [w for w in caught if issubclass(w.category, RuntimeWarning)] == []
    text = out + err
    assert text.count("training diverged") == 1, text
    assert "Epoch 1, batch 1: the loss is inf" in text or "the loss is nan" in text
    history = (tmp_path / "runs/c/history.csv").read_text().splitlines()
    assert len(history) == 3 and ("inf" in history[1] or "nan" in history[1])

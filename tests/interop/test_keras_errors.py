"""Bad input to export / import-weights: one `error:` line naming the layer and the shapes,
exit 2, nothing created or overwritten; `CheckpointError` / `ConfigError` in the library."""

import re
import sys

import numpy as np
import pytest

from interop_models import random_model
from nntrain.builder import build_model
from nntrain.data import Normalizer
from nntrain.errors import CheckpointError, ConfigError, InputError
from nntrain.interop.keras_config import keras_model_config
from nntrain.interop.keras_weights import load_keras_weights, save_keras_weights
from nntrain.layers import LAYERS, Layer

h5py = pytest.importorskip("h5py")

CONFIG = """\
name: t
data: {path: d.npz, normalize: none}
model:
  input_shape: [6]
  layers:
    - Dense: {units: 5, activation: relu}
    - Dense: {units: 3, activation: softmax}
compile: {optimizer: adam, loss: sparse_categorical_crossentropy}
"""


def mlp(*units, use_bias=True):
    return {"input_shape": [6], "layers": [{"Dense": {"units": u, "use_bias": use_bias}}
                                           for u in units]}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(CONFIG)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.normal(size=(8, 6)).astype("float32"),
             y_train=rng.integers(0, 3, 8))
    return tmp_path


def write(cfg, path):
    save_keras_weights(random_model(cfg), path)
    return path


def import_error(project, run_cli, weights, run_dir="imp"):
    code, out, err = run_cli("import-weights", "c.yaml", weights, "--run-dir", run_dir)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert not (project / run_dir).exists()
    return err


def test_wrong_shapes_name_the_layer_and_both_shapes(project, run_cli):
    write(mlp(4, 3), project / "w.weights.h5")
    err = import_error(project, run_cli, "w.weights.h5")
    assert "layer 'dense' (Dense) weight kernel: shape [6, 4] in the file " \
           "(layers/dense/vars/0), the model expects [6, 5]" in err
    assert err.startswith("error: w.weights.h5: ")


def test_a_missing_layer(project, run_cli):
    write(mlp(5), project / "w.weights.h5")
    err = import_error(project, run_cli, "w.weights.h5")
    assert "layer 'dense_1' (Dense): no weights at layers/dense_1/vars" in err


def test_another_architecture(project, run_cli):
    cnn = {"input_shape": [6, 1], "layers": [{"Conv1D": {"filters": 2, "kernel_size": 3}},
                                             {"Flatten": {}}, {"Dense": {"units": 5}},
                                             {"Dense": {"units": 3}}]}
    write(cnn, project / "w.weights.h5")
    err = import_error(project, run_cli, "w.weights.h5")
    assert "layer 'dense' (Dense) weight kernel: shape [8, 5] in the file" in err
    write(mlp(5, 3, 2), project / "x.weights.h5")
    err = import_error(project, run_cli, "x.weights.h5")
    assert "holds weights at layers/dense_2 that the model has no layer for" in err


def test_a_layer_with_other_variables(tmp_path):
    path = write(mlp(5, 3, use_bias=False), tmp_path / "w.weights.h5")
    with pytest.raises(CheckpointError) as e:
        load_keras_weights(build_model(mlp(5, 3)), path)
    assert "layer 'dense' (Dense): layers/dense/vars holds 1 arrays, the model has 2 " \
           "(kernel, bias)" in str(e.value)


def test_files_that_are_not_keras_3_weights(project, run_cli):
    (project / "text.weights.h5").write_text("not hdf5")
    assert "not an HDF5 weights file" in import_error(project, run_cli, "text.weights.h5")
    with h5py.File(project / "k2.weights.h5", "w") as f:   # Keras 2's layout
        f.attrs["layer_names"] = [b"dense"]
        f.create_group("dense")
    err = import_error(project, run_cli, "k2.weights.h5")
    assert "not a Keras 3 .weights.h5 file" in err and "Keras 2" in err
    assert "no such weights file" in import_error(project, run_cli, "nope.weights.h5")


def test_an_existing_run_is_never_overwritten(project, run_cli):
    write(mlp(5, 3), project / "w.weights.h5")
    (project / "imp").mkdir()
    (project / "imp" / "config.yaml").write_text("keep me")
    code, _, err = run_cli("import-weights", "c.yaml", "w.weights.h5", "--run-dir", "imp")
    assert code == 0, err
    assert "imp already holds a run; writing imp-2 instead" in err
    assert (project / "imp" / "config.yaml").read_text() == "keep me"
    assert (project / "imp-2" / "checkpoints" / "final.npz").is_file()


def test_a_bad_config_creates_nothing(project, run_cli):
    write(mlp(5, 3), project / "w.weights.h5")
    (project / "c.yaml").write_text(CONFIG.replace("units: 5,", "units: -5,"))
    code, _, err = run_cli("import-weights", "c.yaml", "w.weights.h5", "--run-dir", "imp")
    assert code == 2 and err.startswith("error: c.yaml:6: model.layers.0.Dense.units")
    assert not (project / "imp").exists()


def test_export_output_names(project, run_cli):
    write(mlp(5, 3), project / "w.weights.h5")
    assert run_cli("import-weights", "c.yaml", "w.weights.h5", "--run-dir", "r")[0] == 0
    code, _, err = run_cli("export", "r", "--format", "keras", "--output", "m.h5")
    assert code == 2 and "writes a .weights.h5 file" in err and not (project / "m.h5").exists()
    code, _, err = run_cli("export", "r", "--format", "keras-config", "--output", "m.yaml")
    assert code == 2 and "writes a .json file" in err
    code, _, err = run_cli("export", "r", "--format", "onnx", "--output", "m.onnx")
    assert code == 2 and "onnx" in err
    code, _, err = run_cli("export", "nowhere", "--format", "keras", "--output", "m.weights.h5")
    assert code == 2 and "not a run directory" in err


def test_missing_h5py_is_a_one_line_error(project, run_cli, monkeypatch):
    write(mlp(5, 3), project / "w.weights.h5")
    assert run_cli("import-weights", "c.yaml", "w.weights.h5", "--run-dir", "r")[0] == 0
    monkeypatch.setitem(sys.modules, "h5py", None)   # `import h5py` raises ImportError
    code, _, err = run_cli("export", "r", "--format", "keras", "--output", "m.weights.h5")
    assert (code, err) == (2, 'error: --format keras needs h5py: pip install "nntrain[keras]"\n')
    code, _, err = run_cli("import-weights", "c.yaml", "w.weights.h5", "--run-dir", "s")
    assert (code, err) == (2, 'error: import-weights needs h5py: pip install "nntrain[keras]"\n')
    assert not (project / "s").exists()
    code, _, err = run_cli("export", "r", "--format", "keras-config", "--output", "m.json")
    assert code == 0, err   # the JSON config needs no h5py


class Mystery(Layer):
    """A layer Keras does not have."""

    def forward(self, x, training=False):
        return x


def test_keras_config_refuses_a_layer_without_keras_counterpart(monkeypatch):
    # registered for this test only (the registry's tables are restored afterwards)
    monkeypatch.setattr(LAYERS, "_entries", dict(LAYERS._entries))
    monkeypatch.setattr(LAYERS, "_names", dict(LAYERS._names))
    LAYERS.register(Mystery)
    cfg = {"input_shape": [4], "layers": [{"Dense": {"units": 3}}, {"Mystery": {}}]}
    model = build_model(cfg)
    with pytest.raises(ConfigError) as e:
        keras_model_config(cfg, model, Normalizer("none", [], []))
    assert e.value.key == "model.layers.1"
    assert "layer 'mystery' (Mystery) has no one-to-one Keras counterpart" in str(e.value)
    with pytest.raises(ConfigError, match="'mystery' .Mystery. has no one-to-one"):
        save_keras_weights(model, "never-written.weights.h5")


def test_a_scale_below_kerass_epsilon_is_refused():
    model = build_model(mlp(3))
    norm = Normalizer("standard", [np.zeros(6)], [np.array([1, 1, 5e-8, 1, 1, 1])])
    with pytest.raises(InputError, match="feature 2 has normalization scale 5e-08"):
        keras_model_config(mlp(3), model, norm)


NO_KERAS = """\
name: nk
data: {path: s.npz, normalize: none}
model:
  input_shape: [5, 6]
  layers:
    - Dense: {units: 4}
    - LAYER
    - Flatten: {}
    - Dense: {units: 3, activation: softmax}
compile: {optimizer: adam, loss: sparse_categorical_crossentropy}
fit: {epochs: 1, batch_size: 8}
"""


@pytest.mark.parametrize("layer, kind, why", [
    ("Maxout: {units: 3, pieces: 2}", "Maxout", "Keras 3 has no Maxout"),
    ("PositionEmbedding: {sequence_length: 5}", "PositionEmbedding", "keras_hub's layer")])
def test_a_layer_keras_lacks_is_refused_at_its_line(project, run_cli, layer, kind, why):
    """Export in either format and import: one line naming the layer and why, exit 2, and
    neither an output file nor a run directory."""
    rng = np.random.default_rng(0)
    np.savez(project / "s.npz", x_train=rng.normal(size=(8, 5, 6)).astype("float32"),
             y_train=rng.integers(0, 3, 8))
    (project / "nk.yaml").write_text(NO_KERAS.replace("LAYER", layer))
    code, _, err = run_cli("fit", "nk.yaml", "--quiet")
    assert code == 0, err
    snake = "maxout" if kind == "Maxout" else "position_embedding"
    expected = f"model.layers.1: layer '{snake}' ({kind}) has no one-to-one Keras counterpart: "
    for fmt, out in (("keras", "m.weights.h5"), ("keras-config", "m.json")):
        code, _, err = run_cli("export", "runs/nk", "--format", fmt, "--output", out)
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert re.search(r"runs/nk/config\.yaml:\d+: " + re.escape(expected), err), err
        assert why in err
        assert not (project / out).exists()
    write(mlp(5, 3), project / "w.weights.h5")
    code, _, err = run_cli("import-weights", "nk.yaml", "w.weights.h5", "--run-dir", "imp")
    assert code == 2 and err.startswith("error: nk.yaml:7: " + expected), err
    assert not (project / "imp").exists()

"""The `.weights.h5` we write has exactly Keras 3's layout (h5py only, no Keras needed).

Where the expected layout comes from: keras_3_15_layout.json was written by
record_keras_layout.py, which builds the Keras twin of each config in interop_models.MODELS,
fills every variable with its own number, calls real Keras 3.15.1's ``model.save_weights``
(torch backend) and lists every ``vars`` group and every dataset with its shape and the name of
the Keras variable stored there. It agrees with Keras's source (keras/src/saving/saving_lib.py:
`_save_state`, `_save_container_state` naming layers by snake_case class name, and
`Layer.save_own_variables` writing trainable then non-trainable variables as vars/0, 1, ...;
keras/src/ops/function.py `map_graph` for a functional model's layer order).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from interop_models import MODELS
from nntrain.builder import build_model
from nntrain.interop.keras_layout import is_sequential, keras_order, layer_paths
from nntrain.interop.keras_weights import save_keras_weights
from nntrain.layers import LAYERS, snake_case

h5py = pytest.importorskip("h5py")

PINNED = json.loads(Path(__file__).with_name("keras_3_15_layout.json").read_text())


def our_layout(model, path):
    """The same listing as record_keras_layout.layout, of our file: each weight is filled with
    its own number, so a dataset tells which of our weights it holds."""
    keys = list(model.weights())
    for i, w in enumerate(model.weights().values()):
        w[...] = i
    save_keras_weights(model, path)
    groups, datasets = [], []
    with h5py.File(path) as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                key = keys[int(obj[()].flat[0])]
                datasets.append([name, list(obj.shape), key.rsplit("/", 1)[1]])
            elif name == "vars" or name.endswith("/vars"):
                assert "name" in obj.attrs, name
                groups.append(name)
        f.visititems(visit)
    return {"groups": sorted(groups), "datasets": sorted(datasets)}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_layout_matches_real_keras(name, tmp_path):
    model = build_model(MODELS[name])
    assert our_layout(model, tmp_path / "m.weights.h5") == PINNED[name]


def test_functional_order_is_keras_graph_order_not_config_order():
    """Keras lists a functional model's layers by depth from the output (record_keras_layout's
    `dag` saved a, b, c as dense, dense_1, dense_2), so that is where their weights go."""
    model = build_model(MODELS["dag"])
    assert not is_sequential(model)
    assert keras_order(model) == ["input_layer", "a", "b", "c", "add", "dense"]
    assert dict(layer_paths(model))["layers/dense_2"] == "c"


def test_layer_paths_of_a_sequential_model_follow_the_config():
    model = build_model(MODELS["cnn"])
    assert is_sequential(model)
    assert [p for p, _ in layer_paths(model)] == [
        "layers/conv1d", "layers/max_pooling1d", "layers/conv1d_1",
        "layers/global_average_pooling1d", "layers/dropout", "layers/dense"]


def test_layer_names_do_not_change_paths(tmp_path):
    """Keras addresses layers by class and position, not by name: renaming changes nothing."""
    cfg = {"input_shape": [4], "layers": [{"Dense": {"units": 3, "name": "first"}},
                                           {"Dense": {"units": 2, "name": "dense"}}]}
    layout = our_layout(build_model(cfg), tmp_path / "m.weights.h5")
    assert [d[0] for d in layout["datasets"]] == [
        "layers/dense/vars/0", "layers/dense/vars/1", "layers/dense_1/vars/0",
        "layers/dense_1/vars/1"]
    assert layout["datasets"][0][1] == [4, 3]


def test_group_stems_are_kerass_snake_case():
    """keras.src.utils.naming.to_snake_case of each class name (as recorded from Keras)."""
    assert {k: snake_case(k) for k in ("PReLU", "LeakyReLU", "Conv1D", "SimpleRNN",
                                       "GlobalAveragePooling1D", "BatchNormalization",
                                       "InputLayer")} == {
        "PReLU": "p_re_lu", "LeakyReLU": "leaky_re_lu", "Conv1D": "conv1d",
        "SimpleRNN": "simple_rnn", "GlobalAveragePooling1D": "global_average_pooling1d",
        "BatchNormalization": "batch_normalization", "InputLayer": "input_layer"}


def test_the_table_names_registered_layers_only():
    from nntrain.interop.keras_layout import KERAS_LAYERS
    assert set(KERAS_LAYERS) <= set(LAYERS)


def test_the_file_is_written_in_the_models_dtype(tmp_path):
    model = build_model(MODELS["mlp_bn"], dtype="float64")
    save_keras_weights(model, tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5") as f:
        assert f["layers/dense/vars/0"].dtype == np.float64

import numpy as np
import pytest

from nntrain.builder import build_model
from nntrain.errors import ConfigError


def build(layers, **model):
    return build_model({"input_shape": [6], "layers": layers, **model})


def test_default_names_follow_keras():
    model = build([{"Dense": {"units": 4}}, {"Dense": {"units": 4}}, {"Dropout": {"rate": 0.1}},
                   {"BatchNormalization": {}}, {"Dense": {"units": 2}}])
    assert [l.name for l in model.layers] == [
        "dense", "dense_1", "dropout", "batch_normalization", "dense_2"]


def test_user_names_are_kept_and_default_names_skip_them():
    model = build([{"Dense": {"units": 4, "name": "dense_1"}}, {"Dense": {"units": 4}},
                   {"Dense": {"units": 4}}])
    assert [l.name for l in model.layers] == ["dense_1", "dense", "dense_2"]


def test_weights_are_keras_shaped_and_keyed_by_layer():
    model = build([{"Dense": {"units": 4}}, {"Dense": {"units": 2, "use_bias": False}}])
    shapes = {k: v.shape for k, v in model.weights().items()}
    assert shapes == {"dense/kernel": (6, 4), "dense/bias": (4,), "dense_1/kernel": (4, 2)}
    assert all(v.dtype == np.float32 for v in model.weights().values())


def test_same_seed_same_weights_other_seed_other_weights():
    layers = [{"Dense": {"units": 4, "kernel_initializer": "he_normal"}}]
    a = build_model({"input_shape": [6], "layers": layers}, rng=np.random.default_rng(1))
    b = build_model({"input_shape": [6], "layers": layers}, rng=np.random.default_rng(1))
    c = build_model({"input_shape": [6], "layers": layers}, rng=np.random.default_rng(2))
    assert np.array_equal(a.weights()["dense/kernel"], b.weights()["dense/kernel"])
    assert not np.array_equal(a.weights()["dense/kernel"], c.weights()["dense/kernel"])


def test_functional_graph_forward_and_backward_sum_over_branches():
    model = build_model({
        "inputs": {"a": [3], "b": [3]},
        "layers": [{"Dense": {"name": "p", "units": 2, "inputs": "a"}},
                   {"Dense": {"name": "q", "units": 2, "inputs": "a"}},
                   {"Add": {"inputs": ["p", "q"]}},
                   {"Concatenate": {"inputs": ["add", "b"]}}]}, dtype="float64")
    xa, xb = np.ones((2, 3)), np.zeros((2, 3))
    out = model.forward([xa, xb], training=True)   # a backward follows
    assert out.shape == (2, 5)
    da, db = model.backward(np.ones((2, 5)))
    w = model.weights()
    expected = np.ones((2, 2)) @ (w["p/kernel"] + w["q/kernel"]).T
    assert np.allclose(da, expected) and np.allclose(db, 1.0)


@pytest.mark.parametrize("model_cfg,key,match", [
    ({"input_shape": [6], "layers": [{"Dense": {"units": 4}}]}, None, None),
    ({"input_shape": [6], "layers": [{"Dens": {"units": 4}}]}, "model.layers.0.Dens",
     "did you mean 'Dense'"),
    ({"input_shape": [6], "layers": [{"Dense": {"unit": 4}}]}, "model.layers.0.Dense.unit",
     "did you mean 'units'"),
    ({"input_shape": [6], "layers": [{"Dense": {}}]}, "model.layers.0.Dense",
     "missing required argument 'units'"),
    ({"input_shape": [6], "layers": [{"Dense": {"units": 0}}]}, "model.layers.0.Dense.units",
     "positive integer"),
    ({"input_shape": [6], "layers": [{"Dense": {"units": 2, "activation": "rellu"}}]},
     "model.layers.0.Dense.activation", "did you mean 'relu'"),
    ({"input_shape": [6], "layers": [{"Dense": {"units": 2, "kernel_initializer": "he_norml"}}]},
     "model.layers.0.Dense.kernel_initializer", "did you mean 'he_normal'"),
    ({"input_shape": [6], "layers": [{"Dense": {"units": 2, "kernel_regularizer": {"l3": 1}}}]},
     "model.layers.0.Dense.kernel_regularizer", "unknown regularizer argument"),
    ({"input_shape": [6], "layers": [{"Conv1D": {"filters": 2, "kernel_size": 3}}]},
     "model.layers.0.Conv1D", "rank"),
    ({"input_shape": [6], "layers": [{"Dense": {"units": 2}}, {"Dense": {"units": 2,
      "name": "dense"}}]}, "model.layers.1.Dense.name", "already used"),
    ({"input_shape": [6], "layers": [{"Dense": {"units": 2, "inputs": "nowhere"}}]},
     "model.layers.0.Dense.inputs", "unknown layer or input"),
    ({"input_shape": [6], "layers": [{"Add": {}}]}, "model.layers.0.Add.inputs", "several"),
    ({"input_shape": [6], "layers": []}, "model.layers", "non-empty"),
    ({"layers": [{"Dense": {"units": 2}}]}, "model", "input_shape"),
    ({"input_shape": [6, -1], "layers": [{"Dense": {"units": 2}}]}, "model.input_shape",
     "positive integer"),
    ({"input_shape": [6], "layers": [{"Dense": {"units": 2}}], "outputs": "densee"},
     "model.outputs", "did you mean 'dense'"),
    ({"input_shape": [6], "layers": [{"Reshape": {"target_shape": [4]}}]},
     "model.layers.0.Reshape.target_shape", "cannot reshape"),
])
def test_bad_model_configs_name_the_key(model_cfg, key, match):
    if key is None:
        build_model(model_cfg)
        return
    with pytest.raises(ConfigError, match=match) as e:
        build_model(model_cfg)
    assert e.value.key == key


def test_merges_still_need_two_inputs_attention_takes_one():
    """`fewest_inputs`: a merge of one input is refused; MultiHeadAttention (self-attention)
    takes one."""
    with pytest.raises(ConfigError, match="merges several inputs") as e:
        build([{"Dense": {"units": 4}}, {"Add": {}}])
    assert e.value.key == "model.layers.1.Add.inputs"
    model = build_model({"input_shape": [5, 4], "layers": [
        {"MultiHeadAttention": {"num_heads": 2, "key_dim": 2}}]})
    assert model.nodes[0].input_shape == [(5, 4)]

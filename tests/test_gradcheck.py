"""Whole-model gradient checks (the code path of training, fused losses included), and proof
that the checker catches a wrong gradient."""

import numpy as np
import pytest

from nntrain import gradcheck
from nntrain.builder import build_model
from nntrain.losses import get_loss

MODELS = {
    "conv_bn_dropout_l2": ({"input_shape": [12, 2], "layers": [
        {"Conv1D": {"filters": 3, "kernel_size": 3, "padding": "causal", "activation": "elu",
                    "kernel_regularizer": {"l2": 0.01}}},
        {"BatchNormalization": {}},
        {"MaxPooling1D": {"pool_size": 2}},
        {"Conv1D": {"filters": 4, "kernel_size": 2, "strides": 2, "activation": "tanh"}},
        {"Flatten": {"activity_regularizer": {"l2": 0.01}}},
        {"Dropout": {"rate": 0.3}},
        {"Dense": {"units": 3, "activation": "softmax", "bias_regularizer": "l1_l2"}}]},
        "sparse_categorical_crossentropy"),
    "conv2d_layernorm": ({"input_shape": [5, 5, 1], "layers": [
        {"Conv2D": {"filters": 2, "kernel_size": 3, "padding": "same", "activation": "swish"}},
        {"AveragePooling2D": {"pool_size": 2}},
        {"LayerNormalization": {}},
        {"GlobalMaxPooling2D": {}},
        {"Dense": {"units": 2, "activation": "sigmoid"}}]}, "binary_crossentropy"),
    "embedding": ({"input_shape": [5], "layers": [
        {"Embedding": {"input_dim": 7, "output_dim": 3}},
        {"GlobalAveragePooling1D": {}},
        {"Dense": {"units": 4, "activation": "softmax"}}]}, "categorical_crossentropy"),
    "recurrent": ({"input_shape": [4, 2], "layers": [
        {"Bidirectional": {"layer": {"LSTM": {"units": 3, "return_sequences": True}}}},
        {"GRU": {"units": 3, "return_sequences": True}},
        {"SimpleRNN": {"units": 2, "activation": "sigmoid"}}]}, "binary_crossentropy"),
    "merges": ({"inputs": {"a": [4], "b": [4]}, "layers": [
        {"Dense": {"name": "p", "units": 3, "inputs": "a", "activation": "gelu"}},
        {"Dense": {"name": "q", "units": 3, "inputs": "b", "activity_regularizer": "l2"}},
        {"Multiply": {"inputs": ["p", "q"]}},
        {"Concatenate": {"inputs": ["multiply", "p"]}},
        {"PReLU": {}},
        {"Dense": {"units": 2}}]}, "huber"),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_tensor_of_the_model_passes(name):
    model_cfg, loss_name = MODELS[name]
    model = build_model(model_cfg, rng=np.random.default_rng(3))
    rows = gradcheck.check_model(model, get_loss(loss_name), max_entries=40)
    assert {r["layer"] for r in rows} >= {n.layer.name for n in model.nodes
                                           if n.layer.trainable_params()}
    worst = max(rows, key=lambda r: r["rel_error"])
    assert worst["rel_error"] < 1e-6, worst


def test_a_wrong_backward_is_caught():
    model = build_model(MODELS["conv_bn_dropout_l2"][0], rng=np.random.default_rng(0))
    dense = model.layers[-1]
    original = dense.backward_preactivation   # the softmax output is fused with the loss

    def off_by_a_bit(dz):
        dx = original(dz)
        dense.grads["kernel"] = dense.grads["kernel"] * 1.01
        return dx
    dense.backward_preactivation = off_by_a_bit
    rows = gradcheck.check_model(model, get_loss("sparse_categorical_crossentropy"))
    bad = [r for r in rows if r["rel_error"] > 1e-6]
    assert [(r["layer"], r["param"]) for r in bad] == [("dense", "kernel")]


def test_gradcheck_command_json_and_exit_code(run_cli, tmp_path):
    import json
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  input_shape: [3]\n  layers:\n    - Dense: {units: 2}\n"
                      "compile:\n  loss: mse\n")
    code, out, _ = run_cli("gradcheck", config, "--json")
    data = json.loads(out)
    assert code == 0 and data["max_rel_error"] < 1e-6
    assert {(t["layer"], t["param"]) for t in data["tensors"]} == {
        ("dense", "kernel"), ("dense", "bias"), ("input_layer", "input")}
    code, out, _ = run_cli("gradcheck", config, "--tolerance", "1e-30")
    assert code == 1 and "FAIL" in out

"""The model's backward without input gradients (what training asks for) and its default
inference batch."""

import numpy as np
import pytest

from nntrain.builder import build_model
from nntrain.gradcheck import random_batch
from nntrain.losses import get_loss
from nntrain.training.step import forward_backward

CONFIGS = {
    "conv": {"input_shape": [12, 2], "layers": [
        {"Conv1D": {"filters": 4, "kernel_size": 3, "activation": "relu"}},
        {"MaxPooling1D": {"pool_size": 2}}, {"Flatten": {}},
        {"Dense": {"units": 3, "activation": "softmax"}}]},
    "recurrent": {"input_shape": [5, 2], "layers": [
        {"Bidirectional": {"layer": {"GRU": {"units": 3, "return_sequences": True}}}},
        {"LSTM": {"units": 2}}, {"Dense": {"units": 3, "activation": "softmax"}}]},
    "two_inputs": {"inputs": {"a": [4], "b": [4]}, "layers": [
        {"Dense": {"name": "p", "units": 3, "inputs": "a"}},
        {"Dense": {"name": "q", "units": 3, "inputs": "b"}},
        {"Add": {"inputs": ["p", "q"]}}, {"Dense": {"units": 3, "activation": "softmax"}}]},
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_training_skips_input_gradients_and_gets_the_same_weight_gradients(name):
    model = build_model(CONFIGS[name], rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    xs, y = random_batch(model, 4, rng), rng.integers(0, 3, 4)
    loss = get_loss("sparse_categorical_crossentropy")
    _, _, dxs = forward_backward(model, loss, xs, y, wrt_inputs=True)
    full = {k: v.copy() for k, v in model.gradients().items()}
    _, _, none = forward_backward(model, loss, xs, y)
    assert all(d is not None and d.shape == x.shape for d, x in zip(dxs, xs))
    assert none == [None] * len(xs)
    for k, g in model.gradients().items():
        np.testing.assert_array_equal(g, full[k])


def test_inference_batch_fits_the_budget_and_predict_uses_it():
    conv = build_model(CONFIGS["conv"], rng=np.random.default_rng(0))
    big = build_model({"input_shape": [200, 50], "layers": [
        {"Conv1D": {"filters": 64, "kernel_size": 9}}, {"GlobalAveragePooling1D": {}}]},
        rng=np.random.default_rng(0))
    small, large = big.inference_batch_size(), conv.inference_batch_size()
    assert 32 <= small < large <= 1024 and small % 32 == 0 and large % 32 == 0
    assert conv.inference_batch_size(budget=1) == 32
    x = np.random.default_rng(1).standard_normal((70, 12, 2)).astype(np.float32)
    np.testing.assert_allclose(conv.predict([x]), conv.predict([x], batch_size=7), rtol=1e-6)


def test_inference_mode_pass_with_a_backward_keeps_its_caches():
    """forward_backward in inference mode (what LayerStats runs): no dropout draws, and the
    gradients of that deterministic pass."""
    model = build_model({"input_shape": [12, 2], "layers": [
        {"Conv1D": {"filters": 4, "kernel_size": 3, "activation": "relu"}},
        {"Dropout": {"rate": 0.5}}, {"MaxPooling1D": {"pool_size": 2}},
        {"LSTM": {"units": 3, "dropout": 0.3, "recurrent_dropout": 0.3}},
        {"Dense": {"units": 3, "activation": "softmax"}}]}, rng=np.random.default_rng(0))
    model.set_rng(rng := np.random.default_rng(5))
    xs = random_batch(model, 4, np.random.default_rng(1))
    y = np.random.default_rng(2).integers(0, 3, 4)
    loss = get_loss("sparse_categorical_crossentropy")
    state = rng.bit_generator.state
    forward_backward(model, loss, xs, y, training=False)
    assert rng.bit_generator.state == state
    first = {k: v.copy() for k, v in model.gradients().items()}
    model.predict(xs)                         # an inference pass in between keeps nothing
    forward_backward(model, loss, xs, y, training=False)
    for k, g in model.gradients().items():
        np.testing.assert_array_equal(g, first[k])

"""Bidirectional and TimeDistributed: finite differences, equivalence with the layers they
wrap, weight naming and sharing, config errors."""

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.core import Dense
from nntrain.layers.recurrent import GRU
from nntrain.layers.wrappers import Bidirectional, TimeDistributed

MODES = ["concat", "sum", "mul", "ave"]


@pytest.mark.parametrize("merge_mode", MODES)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_gradients(merge_mode, return_sequences):
    layer = Bidirectional({"LSTM": {"units": 3, "return_sequences": return_sequences}},
                          merge_mode=merge_mode)
    errors = check_layer(layer, (4, 2))
    assert {"forward_lstm/kernel", "backward_lstm/recurrent_kernel", "input"} <= set(errors)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("inner", ["GRU", "SimpleRNN"])
def test_bidirectional_gradients_with_dropout_in_training(inner):
    layer = Bidirectional({inner: {"units": 3, "return_sequences": True, "dropout": 0.3,
                                   "recurrent_dropout": 0.3}})
    errors = check_layer(layer, (4, 2), training=True)
    assert max(errors.values()) < 1e-6, errors


def _copy_weights(dst, src):
    for k, v in src.params.items():
        dst.params[k][...] = v


@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_is_a_forward_and_a_reversed_backward_layer(return_sequences):
    layer = Bidirectional({"GRU": {"units": 3, "return_sequences": return_sequences}})
    layer.build((5, 2), np.random.default_rng(0))
    fwd, bwd = GRU(3, return_sequences=True), GRU(3, return_sequences=True)
    for mine, part in ((fwd, "forward_gru/"), (bwd, "backward_gru/")):
        mine.build((5, 2), np.random.default_rng(1))
        for k in mine.params:
            mine.params[k][...] = layer.params[part + k]
    x = np.random.default_rng(2).standard_normal((3, 5, 2)).astype(np.float32)
    y_f = fwd.forward(x)
    y_b = bwd.forward(x[:, ::-1])[:, ::-1]  # the backward pass, back in input order
    if return_sequences:
        expected = np.concatenate([y_f, y_b], axis=-1)
    else:  # the last step of each direction: x_T for forwards, x_1 for backwards
        expected = np.concatenate([y_f[:, -1], y_b[:, 0]], axis=-1)
    assert np.allclose(layer.forward(x), expected, atol=1e-6)
    assert layer.compute_output_shape((5, 2)) == expected.shape[1:]


def test_bidirectional_weights_are_shared_with_the_inner_layers():
    layer = Bidirectional({"LSTM": {"units": 4}}, merge_mode="sum")
    layer.build((5, 3), np.random.default_rng(0))
    assert list(layer.params) == [f"{d}_lstm/{k}" for d in ("forward", "backward")
                                  for k in ("kernel", "recurrent_kernel", "bias")]
    assert layer.params["forward_lstm/kernel"] is layer.forward_layer.params["kernel"]
    assert sum(layer.count_params()) == 2 * 4 * 4 * (3 + 4 + 1)
    x = np.ones((2, 5, 3), dtype=np.float32)
    before = layer.forward(x)
    layer.params["backward_lstm/recurrent_kernel"] += 0.5  # what an optimizer does, in place
    assert not np.allclose(layer.forward(x, training=True), before)
    layer.backward(np.ones((2, 4), dtype=np.float32))
    assert set(layer.grads) == set(layer.params)
    assert layer.grads["forward_lstm/bias"] is layer.forward_layer.grads["bias"]
    layer.set_dtype(np.float64)
    assert layer.params["backward_lstm/bias"].dtype == np.float64
    assert layer.params["backward_lstm/bias"] is layer.backward_layer.params["bias"]


def test_wrapper_regularizers_and_trainable_follow_the_inner_layer():
    layer = Bidirectional({"LSTM": {"units": 2, "kernel_regularizer": {"l2": 0.1}}},
                          trainable=False)
    layer.build((3, 2), np.random.default_rng(0))
    assert set(layer.regularizers) == {"forward_lstm/kernel", "backward_lstm/kernel"}
    assert layer.count_params() == (0, 2 * 4 * 2 * (2 + 2 + 1))


@pytest.mark.parametrize("spec, args, key", [
    # the inner layer's entry is read like a top-level one (keys as model.layers.N.Name...)
    ({"LSTMM": {"units": 3}}, {}, "layer.LSTMM"),
    ("LSTM", {}, "layer.LSTM"),
    ({"Dense": {"units": 3}}, {}, "layer"),
    ({"LSTM": {"unitz": 3}}, {}, "layer.LSTM.unitz"),
    ({"LSTM": {"units": -1}}, {}, "layer.LSTM.units"),
    ({"LSTM": {"units": 3, "go_backwards": True}}, {}, "layer.LSTM.go_backwards"),
    ({"LSTM": {"units": 3}}, {"merge_mode": "avg"}, "merge_mode"),
    ({"LSTM": {"units": 3}}, {"merge_mode": None}, "merge_mode"),
])
def test_bidirectional_config_errors(spec, args, key):
    with pytest.raises(ConfigError) as info:
        Bidirectional(spec, **args)
    assert info.value.key == key


def test_unknown_inner_layer_suggests_a_name():
    with pytest.raises(ConfigError, match="did you mean 'LSTM'"):
        TimeDistributed({"LSTMM": {"units": 3}})


def test_time_distributed_dense_gradients():
    layer = TimeDistributed({"Dense": {"units": 4, "activation": "tanh"}})
    errors = check_layer(layer, (3, 5))
    assert set(errors) == {"kernel", "bias", "input"}
    assert max(errors.values()) < 1e-6, errors


def test_time_distributed_applies_the_layer_at_every_step():
    layer = TimeDistributed({"Dense": {"units": 4}})
    layer.build((6, 3), np.random.default_rng(0))
    assert layer.compute_output_shape((6, 3)) == (6, 4)
    assert list(layer.params) == ["kernel", "bias"]
    assert layer.params["kernel"] is layer.layer.params["kernel"]
    assert sum(layer.count_params()) == 16
    dense = Dense(4)
    dense.build((3,), np.random.default_rng(1))
    _copy_weights(dense, layer)
    x = np.random.default_rng(2).standard_normal((2, 6, 3)).astype(np.float32)
    y = layer.forward(x)
    assert y.shape == (2, 6, 4)
    for t in range(6):
        assert np.allclose(y[:, t], dense.forward(x[:, t]), atol=1e-6)
    with pytest.raises(ConfigError, match="rank"):
        layer.compute_output_shape((3,))


def test_time_distributed_wraps_a_recurrent_layer():
    layer = TimeDistributed({"LSTM": {"units": 2}})
    errors = check_layer(layer, (3, 4, 2))
    assert max(errors.values()) < 1e-6, errors
    assert layer.compute_output_shape((3, 4, 2)) == (3, 2)


@pytest.mark.parametrize("merge_mode", ["concat", "mul"])
def test_bidirectional_shards_run_the_same_arithmetic_as_one_batch(merge_mode, monkeypatch):
    from nntrain import parallel, threads
    monkeypatch.setattr(parallel, "SMALLEST_SHARD", 2)

    def run(workers):
        monkeypatch.setattr(threads, "count", lambda: workers)
        layer = Bidirectional({"LSTM": {"units": 3, "return_sequences": True, "dropout": 0.2}},
                              merge_mode=merge_mode)
        layer.build((5, 2), np.random.default_rng(0))
        layer.rng = np.random.default_rng(1)
        x = np.random.default_rng(2).standard_normal((6, 5, 2)).astype(np.float32)
        y = layer.forward(x, training=True)
        dx = layer.backward(np.random.default_rng(3).standard_normal(y.shape).astype(np.float32))
        return [y, dx, *layer.grads.values()]

    for a, b in zip(run(1), run(3)):
        np.testing.assert_array_equal(a, b)

"""Maxout: the layout of Keras's Dense(units * pieces) followed by a max over consecutive
groups of pieces, values, counts, finite differences, bad arguments."""

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.core import Dense
from nntrain.layers.maxout import Maxout


def built(layer, shape, seed=0):
    layer.build(tuple(shape), np.random.default_rng(seed))
    return layer


def test_layout_is_dense_units_times_pieces():
    layer = built(Maxout(4, pieces=3), (10,))
    assert [(k, v.shape) for k, v in layer.params.items()] == [("kernel", (10, 12)),
                                                               ("bias", (12,))]
    assert layer.count_params() == (132, 0)       # Keras 3.15 Dense(12) on 10 inputs: 132
    assert layer.compute_output_shape((5, 10)) == (5, 4)
    assert Maxout(3).pieces == 2


def test_values_equal_dense_then_max_over_consecutive_pieces():
    layer = built(Maxout(3, pieces=4, bias_initializer="random_normal"), (6,))
    dense = built(Dense(12), (6,))
    dense.params.update(kernel=layer.params["kernel"], bias=layer.params["bias"])
    x = np.random.default_rng(1).standard_normal((5, 2, 6)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32 and y.shape == (5, 2, 3)
    expect = dense.forward(x).reshape(5, 2, 3, 4).max(axis=-1)   # unit u: columns 4u..4u+3
    np.testing.assert_allclose(y, expect, rtol=1e-6)


def test_gradient_goes_to_the_winning_piece():
    layer = built(Maxout(1, pieces=3, use_bias=False), (1,))
    layer.params["kernel"][...] = [[1.0, 3.0, 2.0]]
    layer.forward(np.array([[1.0]]))
    dx = layer.backward(np.array([[1.0]]))
    np.testing.assert_array_equal(layer.grads["kernel"], [[0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(dx, [[3.0]])


@pytest.mark.parametrize("kwargs,shape", [
    ({"units": 3, "pieces": 4}, (5,)), ({"units": 2}, (3, 4)),
    ({"units": 2, "pieces": 3, "use_bias": False}, (4,)),
])
def test_gradients(kwargs, shape):
    errors = check_layer(Maxout(bias_initializer="random_normal", **kwargs), shape)
    assert set(errors) >= {"kernel", "input"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("kwargs,key", [
    ({"units": 0}, "units"), ({"units": 2, "pieces": 0}, "pieces"),
    ({"units": 2, "use_bias": 1}, "use_bias"),
    ({"units": 2, "kernel_initializer": "he_nomal"}, "kernel_initializer"),
])
def test_bad_arguments_name_the_argument(kwargs, key):
    with pytest.raises(ConfigError) as e:
        Maxout(**kwargs)
    assert e.value.key == key

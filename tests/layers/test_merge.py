"""Merge layers: finite differences, values against NumPy, Keras shapes and counts, errors."""

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.core import Dense
from nntrain.layers.merge import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply,
                                  Subtract)

CASES = [
    (Add, {}, [(3, 4)] * 3),
    (Subtract, {}, [(3, 4)] * 2),
    (Multiply, {}, [(5,)] * 3),
    (Average, {}, [(5,)] * 3),
    (Maximum, {}, [(2, 3)] * 3),
    (Minimum, {}, [(5,)] * 2),
    (Concatenate, {}, [(3, 4), (3, 2), (3, 1)]),
    (Concatenate, {"axis": 1}, [(3, 4), (2, 4)]),
    (Dot, {"axes": 1}, [(5,), (5,)]),
    (Dot, {"axes": 1, "normalize": True}, [(5,), (5,)]),
    (Dot, {"axes": [1, 2]}, [(4, 3), (2, 4)]),
    (Dot, {"axes": -1, "normalize": True}, [(3, 4), (2, 4)]),
]


@pytest.mark.parametrize("cls, kwargs, shapes", CASES)
def test_gradients_match_finite_differences(cls, kwargs, shapes):
    errors = check_layer(cls(**kwargs), shapes)
    assert set(errors) == {f"input_{i}" for i in range(len(shapes))}
    assert max(errors.values()) < 1e-6, errors


def _inputs(*shapes, n=4):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((n, *s)).astype(np.float32) for s in shapes]


@pytest.mark.parametrize("cls, fn", [
    (Add, lambda a, b, c: a + b + c), (Multiply, lambda a, b, c: a * b * c),
    (Average, lambda a, b, c: (a + b + c) / 3),
    (Maximum, lambda a, b, c: np.maximum(np.maximum(a, b), c)),
    (Minimum, lambda a, b, c: np.minimum(np.minimum(a, b), c)),
])
def test_elementwise_values(cls, fn):
    xs = _inputs((2, 3), (2, 3), (2, 3))
    layer = cls()
    assert layer.compute_output_shape([(2, 3)] * 3) == (2, 3)
    y = layer.forward(xs)
    assert y.dtype == np.float32
    assert np.allclose(y, fn(*xs), atol=1e-6)
    grads = layer.backward(np.ones_like(y))
    assert len(grads) == 3 and all(g.shape == y.shape for g in grads)


def test_subtract_and_its_gradient():
    a, b = _inputs((3,), (3,))
    layer = Subtract()
    assert np.allclose(layer.forward([a, b]), a - b)
    da, db = layer.backward(np.ones((4, 3), dtype=np.float32))
    assert (da == 1).all() and (db == -1).all()


def test_maximum_gradient_goes_to_the_winner():
    layer = Maximum()
    a = np.array([[1.0, 5.0, 2.0]])
    b = np.array([[3.0, 5.0, 1.0]])
    layer.forward([a, b])
    da, db = layer.backward(np.array([[10.0, 20.0, 30.0]]))
    assert da.tolist() == [[0.0, 20.0, 30.0]] and db.tolist() == [[10.0, 0.0, 0.0]]


def test_concatenate_axes_count_the_batch():
    a, b = _inputs((3, 4), (2, 4))
    layer = Concatenate(axis=1)
    assert layer.compute_output_shape([(3, 4), (2, 4)]) == (5, 4)
    assert np.array_equal(layer.forward([a, b]), np.concatenate([a, b], axis=1))
    da, db = layer.backward(np.arange(4 * 5 * 4, dtype=np.float32).reshape(4, 5, 4))
    assert da.shape == a.shape and db.shape == b.shape
    assert Concatenate(axis=-2).compute_output_shape([(3, 4), (2, 4)]) == (5, 4)


def test_dot_matches_keras_batch_dot():
    x = np.arange(10, dtype=np.float64).reshape(1, 5, 2)  # the example in Keras's docstring
    y = np.arange(10, 20, dtype=np.float64).reshape(1, 2, 5)
    layer = Dot(axes=(1, 2))
    assert layer.compute_output_shape([(5, 2), (2, 5)]) == (2, 2)
    assert np.array_equal(layer.forward([x, y]), [[[260.0, 360.0], [320.0, 445.0]]])
    a, b = _inputs((6,), (6,))
    assert Dot(axes=1).compute_output_shape([(6,), (6,)]) == (1,)
    assert np.allclose(Dot(axes=1).forward([a, b])[:, 0], (a * b).sum(axis=1), atol=1e-5)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert np.allclose(Dot(axes=-1, normalize=True).forward([a, b])[:, 0], cosine, atol=1e-6)


def test_functional_model_parameter_count_equals_keras():
    x1, x2, add, head = Dense(8, activation="relu"), Dense(8, activation="relu"), Add(), Dense(4)
    x1.build((16,), np.random.default_rng(0))
    x2.build((32,), np.random.default_rng(1))
    merged = [x1.compute_output_shape((16,)), x2.compute_output_shape((32,))]
    add.build(merged, np.random.default_rng(2))
    head.build(add.compute_output_shape(merged), np.random.default_rng(3))
    counts = [sum(layer.count_params()) for layer in (x1, x2, add, head)]
    assert counts == [136, 264, 0, 36] and sum(counts) == 436


@pytest.mark.parametrize("layer, shapes, match", [
    (Add(), [(8,), (16,)], r"\[8\] \(input 0\), \[16\] \(input 1\)"),
    (Multiply(), [(2, 3), (3, 2)], r"\[2, 3\] \(input 0\), \[3, 2\] \(input 1\)"),
    (Subtract(), [(3,)] * 3, "exactly 2 inputs"),
    (Dot(axes=1), [(3,), (4,)], "3 != 4"),
    (Dot(axes=1), [(3,)], "exactly 2 inputs"),
    (Concatenate(), [(3, 4), (2, 2)], r"\[3, 4\] \(input 0\), \[2, 2\] \(input 1\)"),
    (Concatenate(), [(3, 4), (4,)], "same rank"),
    (Concatenate(axis=3), [(3, 4), (3, 4)], "axis=3"),
    (Average(), (8,), "list of inputs"),
])
def test_shape_errors_say_which_shapes_disagree(layer, shapes, match):
    with pytest.raises(ConfigError, match=match):
        layer.compute_output_shape(shapes)


@pytest.mark.parametrize("cls, kwargs, key", [
    (Concatenate, {"axis": 0}, "axis"), (Concatenate, {"axis": "last"}, "axis"),
    (Dot, {"axes": [1, 2, 3]}, "axes"), (Dot, {"axes": 1, "normalize": "yes"}, "normalize"),
])
def test_bad_arguments_name_the_argument(cls, kwargs, key):
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    assert info.value.key == key

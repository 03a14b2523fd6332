"""Pooling: Keras shapes, finite differences, argmax routing, and forward values against naive
NumPy loops and PyTorch."""

import math

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D,
                                    GlobalAveragePooling2D, GlobalMaxPooling1D,
                                    GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)


def tf_pads(size, pool, stride, padding):
    """TensorFlow's padding rule, restated independently of the code under test."""
    if padding == "valid":
        return 0, 0
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + pool - size, 0)
    return total // 2, total - total // 2


def naive_pool1d(x, pool, stride, padding, op):
    """Loop over output steps; 'same' windows only see real elements (Keras averages those)."""
    left, _ = tf_pads(x.shape[1], pool, stride, padding)
    n = x.shape[1]
    out = (n - pool) // stride + 1 if padding == "valid" else math.ceil(n / stride)
    y = np.empty((x.shape[0], out, x.shape[2]))
    for t in range(out):
        lo = max(t * stride - left, 0)
        hi = min(t * stride - left + pool, x.shape[1])
        y[:, t] = op(x[:, lo:hi], axis=1)
    return y


def naive_pool2d(x, pool, stride, padding, op):
    pads = [tf_pads(n, p, s, padding) for n, p, s in zip(x.shape[1:3], pool, stride)]
    outs = [(n - p) // s + 1 if padding == "valid" else math.ceil(n / s)
            for n, p, s in zip(x.shape[1:3], pool, stride)]
    y = np.empty((x.shape[0], *outs, x.shape[3]))
    for i in range(outs[0]):
        for j in range(outs[1]):
            r0, c0 = i * stride[0] - pads[0][0], j * stride[1] - pads[1][0]
            win = x[:, max(r0, 0):min(r0 + pool[0], x.shape[1]),
                    max(c0, 0):min(c0 + pool[1], x.shape[2])]
            y[:, i, j] = op(win, axis=(1, 2))
    return y


# -- shapes -------------------------------------------------------------------------------------
def test_keras_shapes():
    assert MaxPooling1D(3).compute_output_shape((62, 100)) == (20, 100)
    assert MaxPooling1D().compute_output_shape((7, 4)) == (3, 4)
    assert MaxPooling1D(3, strides=1).compute_output_shape((10, 4)) == (8, 4)
    assert AveragePooling1D(3, padding="same").compute_output_shape((10, 4)) == (4, 4)
    assert MaxPooling2D().compute_output_shape((26, 26, 32)) == (13, 13, 32)
    assert AveragePooling2D((3, 2), strides=(2, 1), padding="same").compute_output_shape(
        (7, 5, 2)) == (4, 5, 2)
    assert GlobalAveragePooling1D().compute_output_shape((11, 160)) == (160,)
    assert GlobalMaxPooling2D(keepdims=True).compute_output_shape((4, 5, 6)) == (1, 1, 6)
    assert MaxPooling1D(3).count_params() == (0, 0)


def test_errors():
    with pytest.raises(ConfigError) as e:
        MaxPooling1D(0)
    assert e.value.key == "pool_size"
    with pytest.raises(ConfigError) as e:
        AveragePooling2D(padding="causal")
    assert e.value.key == "padding"
    with pytest.raises(ConfigError, match="rank 2"):
        MaxPooling1D().compute_output_shape((4, 4, 4))
    with pytest.raises(ConfigError, match="rank 3"):
        GlobalAveragePooling2D().compute_output_shape((4, 4))
    with pytest.raises(ConfigError, match="smaller than pool_size"):
        MaxPooling1D(5).compute_output_shape((4, 2))


# -- gradients ----------------------------------------------------------------------------------
POOL1D_CASES = [
    ({"pool_size": 2}, (8, 2)),
    ({"pool_size": 3}, (10, 2)),                           # remainder dropped
    ({"pool_size": 3, "strides": 1}, (7, 2)),              # overlapping windows
    ({"pool_size": 2, "strides": 3}, (8, 2)),              # gaps between windows
    ({"pool_size": 3, "padding": "same"}, (7, 2)),
    ({"pool_size": 4, "strides": 2, "padding": "same"}, (9, 1)),
]


@pytest.mark.parametrize("cls", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("kwargs,shape", POOL1D_CASES)
def test_pool1d_gradients(cls, kwargs, shape):
    errors = check_layer(cls(**kwargs), shape)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize("kwargs,shape", [
    ({}, (4, 5, 2)),
    ({"pool_size": (3, 2), "strides": 1}, (5, 4, 1)),
    ({"pool_size": 3, "strides": 2, "padding": "same"}, (5, 6, 2)),
])
def test_pool2d_gradients(cls, kwargs, shape):
    errors = check_layer(cls(**kwargs), shape)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cls,shape", [
    (GlobalMaxPooling1D, (5, 3)), (GlobalAveragePooling1D, (5, 3)),
    (GlobalMaxPooling2D, (3, 4, 2)), (GlobalAveragePooling2D, (3, 4, 2)),
])
def test_global_pool_gradients(cls, shape):
    for keepdims in (False, True):
        errors = check_layer(cls(keepdims=keepdims), shape)
        assert max(errors.values()) < 1e-6, errors


def test_max_pool_routes_gradient_to_one_argmax_per_window():
    x = np.array([[[1.0], [3.0], [3.0], [2.0], [0.0], [5.0]]], dtype=np.float32)
    layer = MaxPooling1D(2)
    np.testing.assert_array_equal(layer.forward(x, training=True)[0, :, 0], [3, 3, 5])
    dx = layer.backward(np.array([[[1.0], [2.0], [4.0]]], dtype=np.float32))
    np.testing.assert_array_equal(dx[0, :, 0], [0, 1, 2, 0, 0, 4])
    assert dx.dtype == np.float32
    # overlapping windows that share their maximum add up there
    layer = MaxPooling1D(3, strides=1)
    layer.forward(x, training=True)
    dx = layer.backward(np.ones((1, 4, 1), dtype=np.float32))
    np.testing.assert_array_equal(dx[0, :, 0], [0, 2, 1, 0, 0, 1])


# -- forward values -----------------------------------------------------------------------------
@pytest.mark.parametrize("pool,stride,padding", [
    (2, 2, "valid"), (3, 2, "valid"), (3, 3, "same"), (4, 2, "same"), (2, 1, "same"),
])
def test_pool1d_matches_naive_loop(pool, stride, padding):
    x = np.random.default_rng(0).standard_normal((2, 9, 3)).astype(np.float32)
    for cls, op in ((MaxPooling1D, np.max), (AveragePooling1D, np.mean)):
        y = cls(pool, strides=stride, padding=padding).forward(x)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, naive_pool1d(x, pool, stride, padding, op), rtol=1e-6,
                                   atol=1e-6)


@pytest.mark.parametrize("pool,stride,padding", [
    ((2, 2), (2, 2), "valid"), ((3, 2), (1, 2), "valid"), ((3, 3), (2, 2), "same"),
    ((2, 3), (2, 1), "same"),
])
def test_pool2d_matches_naive_loop(pool, stride, padding):
    x = np.random.default_rng(1).standard_normal((2, 7, 6, 2)).astype(np.float32)
    for cls, op in ((MaxPooling2D, np.max), (AveragePooling2D, np.mean)):
        y = cls(pool, strides=stride, padding=padding).forward(x)
        np.testing.assert_allclose(y, naive_pool2d(x, pool, stride, padding, op), rtol=1e-6,
                                   atol=1e-6)


def test_global_pools_forward():
    x = np.random.default_rng(2).standard_normal((3, 4, 5, 2)).astype(np.float32)
    np.testing.assert_allclose(GlobalAveragePooling2D().forward(x), x.mean(axis=(1, 2)), 1e-6)
    np.testing.assert_array_equal(GlobalMaxPooling2D().forward(x), x.max(axis=(1, 2)))
    np.testing.assert_array_equal(GlobalMaxPooling1D(keepdims=True).forward(x[:, 0]),
                                  x[:, 0].max(axis=1, keepdims=True))


@pytest.mark.parametrize("pool,stride,padding", [
    (3, 3, "valid"), (3, 1, "valid"), (4, 3, "same"), (3, 2, "same"),
])
def test_pool1d_matches_torch(pool, stride, padding):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.random.default_rng(3).standard_normal((2, 11, 3)).astype(np.float32)
    xt = torch.from_numpy(x).permute(0, 2, 1)
    pads = tf_pads(11, pool, stride, padding)
    ref_max = F.max_pool1d(F.pad(xt, pads, value=-math.inf), pool, stride)
    # Keras averages the real elements only: sum over zero padding / count of real elements
    sums = F.avg_pool1d(F.pad(xt, pads), pool, stride) * pool
    counts = F.avg_pool1d(F.pad(torch.ones_like(xt), pads), pool, stride) * pool
    for layer, ref in ((MaxPooling1D(pool, stride, padding), ref_max),
                       (AveragePooling1D(pool, stride, padding), sums / counts)):
        np.testing.assert_allclose(layer.forward(x), ref.permute(0, 2, 1).numpy(), rtol=1e-6,
                                   atol=1e-6)


@pytest.mark.parametrize("pool,stride", [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((3, 2), (1, 1))])
def test_pool2d_matches_torch_forward_and_backward(pool, stride):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 8, 7, 3)).astype(np.float32)
    for cls, fn in ((MaxPooling2D, F.max_pool2d), (AveragePooling2D, F.avg_pool2d)):
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).requires_grad_()
        yt = fn(xt, pool, stride).permute(0, 2, 3, 1)
        layer = cls(pool, stride)
        y = layer.forward(x, training=True)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-6, atol=1e-6)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        yt.backward(torch.from_numpy(dy))
        np.testing.assert_allclose(layer.backward(dy), xt.grad.permute(0, 2, 3, 1).numpy(),
                                   rtol=1e-5, atol=1e-6)

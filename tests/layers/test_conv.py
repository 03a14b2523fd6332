"""Conv1D / Conv2D: Keras shapes and parameter counts, finite differences, and forward values
against a naive NumPy loop and against PyTorch (channels_last and Keras kernel layout mapped)."""

import math

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.conv import Conv1D, Conv2D


def built(layer, shape, seed=0):
    layer.build(tuple(shape), np.random.default_rng(seed))
    return layer


def tf_pads(size, kernel, stride, dilation, padding):
    """TensorFlow's padding rule, restated independently of the code under test."""
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def naive_conv1d(x, kernel, bias, stride, dilation, padding):
    """Direct loop: y[n, t, f] = sum_{i, c} xp[n, t*stride + i*dilation, c] * kernel[i, c, f]."""
    k = kernel.shape[0]
    left, right = tf_pads(x.shape[1], k, stride, dilation, padding)
    xp = np.pad(x, ((0, 0), (left, right), (0, 0)))
    span = (k - 1) * dilation + 1
    out = (xp.shape[1] - span) // stride + 1
    y = np.zeros((x.shape[0], out, kernel.shape[2]))
    for t in range(out):
        for i in range(k):
            y[:, t] += xp[:, t * stride + i * dilation] @ kernel[i]
    return y + bias


# -- shapes and parameter counts (Keras's values) -----------------------------------------------
@pytest.mark.parametrize("filters,k,in_shape,out_shape,params", [
    (100, 10, (80, 3), (71, 100), 3_100),
    (100, 10, (71, 100), (62, 100), 100_100),
    (160, 10, (20, 100), (11, 160), 160_160),
])
def test_conv1d_keras_shapes(filters, k, in_shape, out_shape, params):
    layer = built(Conv1D(filters, k), in_shape)
    assert layer.compute_output_shape(in_shape) == out_shape
    assert layer.count_params() == (params, 0)
    assert layer.params["kernel"].shape == (k, in_shape[1], filters)
    assert layer.params["kernel"].dtype == np.float32


@pytest.mark.parametrize("kwargs,out", [
    ({"padding": "same"}, (80, 8)),
    ({"padding": "same", "strides": 3}, (27, 8)),
    ({"padding": "causal", "dilation_rate": 4}, (80, 8)),
    ({"strides": 2}, (36, 8)),
    ({"dilation_rate": 2}, (62, 8)),
])
def test_conv1d_output_lengths(kwargs, out):
    assert Conv1D(8, 10, **kwargs).compute_output_shape((80, 3)) == out


def test_conv2d_keras_shapes():
    layer = built(Conv2D(32, 3), (28, 28, 1))
    assert layer.compute_output_shape((28, 28, 1)) == (26, 26, 32)
    assert layer.count_params() == (320, 0)
    assert layer.params["kernel"].shape == (3, 3, 1, 32)
    assert Conv2D(4, (3, 5), strides=2, padding="same").compute_output_shape((28, 27, 3)) == \
        (14, 14, 4)
    assert Conv2D(4, 3, dilation_rate=(2, 1)).compute_output_shape((9, 9, 1)) == (5, 7, 4)


def test_flops_count_multiply_adds_as_two():
    assert Conv1D(100, 10).flops((80, 3)) == 2 * 71 * 10 * 3 * 100
    assert Conv2D(32, 3).flops((28, 28, 1)) == 2 * 26 * 26 * 9 * 32


@pytest.mark.parametrize("kwargs,key", [
    ({"filters": 0, "kernel_size": 3}, "filters"),
    ({"filters": 4, "kernel_size": -1}, "kernel_size"),
    ({"filters": 4, "kernel_size": 3, "padding": "full"}, "padding"),
    ({"filters": 4, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, "strides"),
    ({"filters": 4, "kernel_size": 3, "use_bias": "yes"}, "use_bias"),
    ({"filters": 4, "kernel_size": 3, "kernel_initializer": "he_nromal"}, "kernel_initializer"),
    ({"filters": 4, "kernel_size": 3, "data_format": "channels_first"}, "data_format"),
])
def test_bad_arguments_name_the_argument(kwargs, key):
    with pytest.raises(ConfigError) as e:
        Conv1D(**kwargs)
    assert e.value.key == key


def test_conv2d_rejects_causal_and_wrong_rank():
    with pytest.raises(ConfigError):
        Conv2D(4, 3, padding="causal")
    with pytest.raises(ConfigError, match="rank 3"):
        Conv2D(4, 3).compute_output_shape((10, 3))
    with pytest.raises(ConfigError, match="rank 2"):
        Conv1D(4, 3).compute_output_shape((10, 10, 3))
    with pytest.raises(ConfigError, match="too short"):
        Conv1D(4, 5).compute_output_shape((4, 3))


# -- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,shape", [
    ({"kernel_size": 3}, (7, 2)),
    ({"kernel_size": 3, "strides": 2}, (8, 2)),
    ({"kernel_size": 2, "strides": 2}, (9, 3)),
    ({"kernel_size": 4, "padding": "same"}, (7, 2)),
    ({"kernel_size": 3, "strides": 2, "padding": "same"}, (6, 2)),
    ({"kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (7, 2)),
    ({"kernel_size": 2, "dilation_rate": 3, "activation": "tanh"}, (9, 1)),
    ({"kernel_size": 1, "use_bias": False}, (5, 3)),
])
def test_conv1d_gradients(kwargs, shape):
    errors = check_layer(Conv1D(3, **kwargs), shape)
    assert set(errors) >= {"input", "kernel"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("kwargs,shape", [
    ({"kernel_size": (2, 3)}, (5, 6, 2)),
    ({"kernel_size": 3, "strides": (2, 1), "padding": "same"}, (5, 4, 2)),
    ({"kernel_size": 2, "strides": 2}, (5, 5, 1)),
    ({"kernel_size": 2, "dilation_rate": (2, 1), "activation": "relu"}, (5, 4, 2)),
])
def test_conv2d_gradients(kwargs, shape):
    errors = check_layer(Conv2D(2, **kwargs), shape)
    assert max(errors.values()) < 1e-6, errors


# -- forward values -----------------------------------------------------------------------------
@pytest.mark.parametrize("k,stride,dilation,padding,length", [
    (3, 1, 1, "valid", 11), (4, 2, 1, "same", 11), (3, 3, 1, "valid", 10),
    (3, 1, 2, "causal", 9), (5, 1, 1, "same", 6), (2, 3, 1, "same", 7),
])
def test_conv1d_matches_naive_loop(k, stride, dilation, padding, length):
    rng = np.random.default_rng(1)
    layer = built(Conv1D(4, k, strides=stride, dilation_rate=dilation, padding=padding,
                         bias_initializer="random_normal"), (length, 3))
    x = rng.standard_normal((2, length, 3)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert y.shape[1:] == layer.compute_output_shape((length, 3))
    ref = naive_conv1d(x.astype(np.float64), layer.params["kernel"].astype(np.float64),
                       layer.params["bias"], stride, dilation, padding)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_float32_stays_float32_in_backward():
    layer = built(Conv1D(4, 3, padding="same", activation="relu"), (9, 2))
    x = np.random.default_rng(0).standard_normal((3, 9, 2)).astype(np.float32)
    y = layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(y))
    assert dx.dtype == np.float32 and dx.shape == x.shape
    assert all(g.dtype == np.float32 for g in layer.grads.values())


@pytest.mark.parametrize("k,stride,dilation,padding", [
    (3, 1, 1, "valid"), (5, 2, 1, "same"), (4, 1, 3, "causal"), (4, 1, 2, "same"), (2, 2, 1,
                                                                                    "valid"),
])
def test_conv1d_matches_torch(k, stride, dilation, padding):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    layer = built(Conv1D(5, k, strides=stride, dilation_rate=dilation, padding=padding,
                         bias_initializer="random_normal"), (13, 3))
    x = rng.standard_normal((4, 13, 3)).astype(np.float32)
    left, right = tf_pads(13, k, stride, dilation, padding)
    xt = F.pad(torch.from_numpy(x).permute(0, 2, 1), (left, right))
    w = torch.from_numpy(layer.params["kernel"]).permute(2, 1, 0)  # (k, in, f) → (f, in, k)
    ref = F.conv1d(xt, w, torch.from_numpy(layer.params["bias"]), stride=stride,
                   dilation=dilation).permute(0, 2, 1).numpy()
    np.testing.assert_allclose(layer.forward(x), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k,stride,dilation,padding", [
    ((3, 3), (1, 1), (1, 1), "valid"), ((3, 2), (2, 2), (1, 1), "same"),
    ((2, 3), (1, 1), (2, 1), "same"), ((2, 2), (2, 2), (1, 1), "valid"),
])
def test_conv2d_matches_torch_forward_and_backward(k, stride, dilation, padding):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    shape = (9, 8, 3)
    layer = built(Conv2D(4, k, strides=stride, dilation_rate=dilation, padding=padding,
                         bias_initializer="random_normal"), shape)
    x = rng.standard_normal((2, *shape)).astype(np.float32)
    pads = [tf_pads(n, kk, s, d, padding) for n, kk, s, d in zip(shape, k, stride, dilation)]
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).requires_grad_()
    w = torch.from_numpy(layer.params["kernel"]).permute(3, 2, 0, 1).requires_grad_()
    b = torch.from_numpy(layer.params["bias"]).requires_grad_()
    yt = F.conv2d(F.pad(xt, (*pads[1], *pads[0])), w, b, stride=stride, dilation=dilation)
    yt = yt.permute(0, 2, 3, 1)
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-5)

    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(dx, xt.grad.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.grads["kernel"], w.grad.permute(2, 3, 1, 0).numpy(),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.grads["bias"], b.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_get_config_round_trips():
    layer = Conv1D(8, 5, strides=2, padding="causal", activation="relu", use_bias=False)
    cfg = layer.get_config()
    assert cfg["filters"] == 8 and cfg["kernel_size"] == [5] and cfg["strides"] == [2]
    assert cfg["padding"] == "causal" and cfg["activation"] == "relu" and not cfg["use_bias"]
    again = Conv1D(**{k: v for k, v in cfg.items()})
    assert again.get_config() == cfg


def test_inference_keeps_no_im2col_matrix():
    layer = built(Conv1D(4, 3, activation="relu"), (9, 2))
    x = np.random.default_rng(0).standard_normal((3, 9, 2)).astype(np.float32)
    y = layer.forward(x)
    assert layer._cache is None
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones_like(y))
    np.testing.assert_array_equal(layer.forward(x, training=True), y)
    layer.needs_input_grad = False               # a first layer: weight gradients only
    assert layer.backward(np.ones_like(y)) is None and set(layer.grads) == {"kernel", "bias"}

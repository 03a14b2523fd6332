"""Conv1DTranspose / Conv2DTranspose: Keras's output sizes (output_padding, valid/same,
strides, dilation), weight layout and counts, finite differences, and values and gradients
against PyTorch's transposed convolutions."""

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.conv_transpose import Conv1DTranspose, Conv2DTranspose


def built(layer, shape, seed=0):
    layer.build(tuple(shape), np.random.default_rng(seed))
    return layer


# Output lengths from Keras 3.15 (layer.compute_output_shape on an input of 5 steps) and the
# start of Keras's output inside the full transposed convolution of length
# (5 - 1) * stride + (k - 1) * dilation + 1 (found by comparing outputs with Keras).
LENGTHS = [  # kernel, strides, padding, output_padding, dilation, length, start
    (3, 1, "valid", None, 1, 7, 0),
    (3, 2, "valid", None, 1, 11, 0),
    (2, 3, "valid", None, 1, 15, 0),      # stride > kernel: padded to (n-1)*s + max(k, s)
    (3, 2, "valid", 1, 1, 12, 0),         # output_padding past the full output: zeros
    (3, 1, "same", None, 1, 5, 1),
    (3, 2, "same", None, 1, 10, 0),
    (4, 2, "same", None, 1, 10, 1),
    (5, 3, "same", None, 1, 15, 1),
    (4, 3, "same", 2, 1, 14, 1),
    (3, 2, "same", 0, 1, 9, 1),
    (3, 1, "same", None, 2, 5, 2),
    (2, 1, "valid", None, 3, 8, 0),
]


@pytest.mark.parametrize("k,s,padding,op,d,length,start", LENGTHS)
def test_output_lengths_match_keras(k, s, padding, op, d, length, start):
    layer = Conv1DTranspose(4, k, strides=s, padding=padding, output_padding=op,
                            dilation_rate=d)
    assert layer.compute_output_shape((5, 3)) == (length, 4)


def test_weights_and_counts_match_keras():
    layer = built(Conv1DTranspose(8, 5, strides=2, padding="same"), (40, 3))
    assert layer.params["kernel"].shape == (5, 8, 3)           # (k, filters, in), as Keras
    assert layer.compute_output_shape((40, 3)) == (80, 8)
    assert layer.count_params() == (128, 0)                   # Keras 3.15: 128
    layer = built(Conv2DTranspose(6, 3, strides=2), (7, 7, 4))
    assert layer.params["kernel"].shape == (3, 3, 6, 4)
    assert layer.compute_output_shape((7, 7, 4)) == (15, 15, 6)
    assert layer.count_params() == (222, 0)                   # Keras 3.15: 222
    assert Conv2DTranspose(2, (3, 2), strides=(2, 1), padding="same",
                           output_padding=(1, 0)).compute_output_shape((4, 5, 1)) == (8, 4, 2)


@pytest.mark.parametrize("k,s,padding,op,d,length,start", LENGTHS)
def test_conv1d_transpose_matches_torch(k, s, padding, op, d, length, start):
    """Torch's full transposed convolution (no padding), then Keras's window of it."""
    torch = pytest.importorskip("torch")
    layer = built(Conv1DTranspose(4, k, strides=s, padding=padding, output_padding=op,
                                  dilation_rate=d, bias_initializer="random_normal"), (5, 3))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    xt = torch.from_numpy(x).permute(0, 2, 1).requires_grad_()
    w = torch.from_numpy(layer.params["kernel"]).permute(2, 1, 0).requires_grad_()  # (in, f, k)
    b = torch.from_numpy(layer.params["bias"]).requires_grad_()
    full = torch.nn.functional.conv_transpose1d(xt, w, stride=s, dilation=d)
    window = full[:, :, start:start + length]
    ref = torch.nn.functional.pad(window, (0, length - window.shape[-1])) + b[:, None]
    ref = ref.permute(0, 2, 1)
    y = layer.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-5, atol=1e-5)

    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)
    ref.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(dx, xt.grad.permute(0, 2, 1).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.grads["kernel"], w.grad.permute(2, 1, 0).numpy(),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.grads["bias"], b.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs,start", [
    ({"kernel_size": 3, "strides": 2, "padding": "same"}, (0, 0)),
    ({"kernel_size": (4, 3), "strides": (2, 1), "padding": "same"}, (1, 1)),
    ({"kernel_size": 2, "strides": 2}, (0, 0)),
    ({"kernel_size": 3, "dilation_rate": (2, 1)}, (0, 0)),
])
def test_conv2d_transpose_matches_torch(kwargs, start):
    torch = pytest.importorskip("torch")
    layer = built(Conv2DTranspose(3, bias_initializer="random_normal", **kwargs), (4, 5, 2))
    out = layer.compute_output_shape((4, 5, 2))[:2]
    x = np.random.default_rng(2).standard_normal((2, 4, 5, 2)).astype(np.float32)
    w = torch.from_numpy(layer.params["kernel"]).permute(3, 2, 0, 1)   # (in, f, kh, kw)
    strides = layer.strides
    full = torch.nn.functional.conv_transpose2d(torch.from_numpy(x).permute(0, 3, 1, 2), w,
                                                stride=strides, dilation=layer.dilation_rate)
    ref = full[:, :, start[0]:start[0] + out[0], start[1]:start[1] + out[1]]
    ref = (ref + torch.from_numpy(layer.params["bias"])[:, None, None]).permute(0, 2, 3, 1)
    np.testing.assert_allclose(layer.forward(x), ref.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs,shape", [
    ({"kernel_size": 3}, (4, 2)),
    ({"kernel_size": 3, "strides": 2, "padding": "same"}, (4, 2)),
    ({"kernel_size": 2, "strides": 2}, (3, 3)),
    ({"kernel_size": 4, "strides": 3, "padding": "same", "output_padding": 2}, (3, 2)),
    ({"kernel_size": 3, "strides": 2, "output_padding": 1, "activation": "tanh"}, (3, 2)),
    ({"kernel_size": 3, "dilation_rate": 2, "padding": "same", "use_bias": False}, (4, 1)),
])
def test_conv1d_transpose_gradients(kwargs, shape):
    errors = check_layer(Conv1DTranspose(2, bias_initializer="random_normal", **kwargs), shape)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("kwargs,shape", [
    ({"kernel_size": (3, 2), "strides": (2, 1), "padding": "same"}, (3, 3, 2)),
    ({"kernel_size": 2, "strides": 2, "activation": "relu"}, (2, 3, 2)),
    ({"kernel_size": 3, "strides": 2, "output_padding": 1}, (2, 2, 1)),
])
def test_conv2d_transpose_gradients(kwargs, shape):
    errors = check_layer(Conv2DTranspose(2, bias_initializer="random_normal", **kwargs), shape)
    assert max(errors.values()) < 1e-6, errors


def test_is_the_adjoint_of_conv():
    """<conv_transpose(x), y> == <x, conv(y)> for the same kernel: Keras's transposed kernel
    (k, filters, in) is the kernel (k, in, filters) of the convolution it inverts."""
    from nntrain.layers.conv import Conv1D
    rng = np.random.default_rng(3)
    t = built(Conv1DTranspose(4, 3, strides=2, padding="same", use_bias=False), (6, 2))
    c = built(Conv1D(2, 3, strides=2, padding="same", use_bias=False), (12, 4))
    c.params["kernel"][...] = t.params["kernel"]
    x, y = rng.standard_normal((1, 6, 2)), rng.standard_normal((1, 12, 4))
    assert np.isclose((t.forward(x) * y).sum(), (x * c.forward(y)).sum(), rtol=1e-10)


@pytest.mark.parametrize("kwargs,key", [
    ({"filters": 0, "kernel_size": 3}, "filters"),
    ({"filters": 2, "kernel_size": 0}, "kernel_size"),
    ({"filters": 2, "kernel_size": 3, "padding": "causal"}, "padding"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 2}, "output_padding"),
    ({"filters": 2, "kernel_size": 3, "output_padding": -1}, "output_padding"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, "strides"),
    ({"filters": 2, "kernel_size": 3, "data_format": "channels_first"}, "data_format"),
    ({"filters": 2, "kernel_size": 3, "activation": "rellu"}, "activation"),
])
def test_bad_arguments_name_the_argument(kwargs, key):
    with pytest.raises(ConfigError) as e:
        Conv1DTranspose(**kwargs)
    assert e.value.key == key


def test_wrong_rank_and_empty_output():
    with pytest.raises(ConfigError, match="rank 3"):
        Conv2DTranspose(2, 3).compute_output_shape((5, 3))
    with pytest.raises(ConfigError, match="empty output"):
        Conv1DTranspose(2, 2, padding="same", output_padding=0).compute_output_shape((1, 3))


def test_get_config_round_trips():
    layer = Conv2DTranspose(4, (3, 2), strides=2, padding="same", output_padding=1)
    cfg = layer.get_config()
    assert cfg["output_padding"] == [1, 1] and cfg["kernel_size"] == [3, 2]
    assert Conv2DTranspose(**cfg).get_config() == cfg

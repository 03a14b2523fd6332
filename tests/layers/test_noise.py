"""SpatialDropout1D/2D, GaussianNoise, GaussianDropout, AlphaDropout: the identity at
inference, Keras's formulas in training, draws from the layer's stream only, finite
differences with the stream fixed, bad arguments."""

import numpy as np
import pytest

from nntrain.activations import SELU_ALPHA, SELU_SCALE
from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.noise import (AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D,
                                  SpatialDropout2D)

LAYERS = [
    (lambda: SpatialDropout1D(0.4), (6, 5)),
    (lambda: SpatialDropout2D(0.4), (3, 4, 5)),
    (lambda: GaussianNoise(0.3), (6, 5)),
    (lambda: GaussianDropout(0.3), (6, 5)),
    (lambda: AlphaDropout(0.3), (6, 5)),
    (lambda: AlphaDropout(0.3, noise_shape=[None, 1, 5]), (6, 5)),
]


@pytest.mark.parametrize("make,shape", LAYERS)
def test_identity_at_inference_without_drawing(make, shape):
    layer = make()
    layer.rng = np.random.default_rng(0)
    x = np.random.default_rng(1).standard_normal((4, *shape)).astype(np.float32)
    assert layer.forward(x) is x
    assert layer.backward(x) is x
    assert layer.rng.bit_generator.state == np.random.default_rng(0).bit_generator.state
    assert layer.compute_output_shape(shape) == shape and layer.count_params() == (0, 0)


@pytest.mark.parametrize("make,shape", LAYERS)
def test_training_draws_from_the_layer_stream(make, shape):
    layer = make()
    x = np.random.default_rng(1).standard_normal((4, *shape)).astype(np.float32)
    layer.rng = np.random.default_rng(5)
    a = layer.forward(x, training=True)
    layer.rng = np.random.default_rng(5)
    b = layer.forward(x, training=True)
    c = layer.forward(x, training=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c) and not np.array_equal(a, x)
    assert a.dtype == np.float32


@pytest.mark.parametrize("make,shape", LAYERS)
def test_gradients_in_training(make, shape):
    errors = check_layer(make(), shape, training=True, batch=3)
    assert max(errors.values()) < 1e-6, errors


def test_spatial_dropout_drops_whole_channels():
    x = np.ones((50, 7, 4), dtype=np.float32)
    layer = SpatialDropout1D(0.5)
    layer.rng = np.random.default_rng(0)
    y = layer.forward(x, training=True)
    assert set(np.unique(y)) == {0.0, 2.0}
    assert (y == y[:, :1]).all()                       # same for every step
    y2 = SpatialDropout2D(0.25)
    y2.rng = np.random.default_rng(0)
    out = y2.forward(np.ones((400, 3, 2, 4)), training=True)
    assert (out == out[:, :1, :1]).all()
    assert abs((out[:, 0, 0] == 0).mean() - 0.25) < 0.05


def test_noise_statistics():
    rng = np.random.default_rng(0)
    x = np.full((200, 500), 2.0)
    g = GaussianNoise(0.5)
    g.rng = rng
    noise = g.forward(x, training=True) - x
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.5) < 0.01
    d = GaussianDropout(0.2)
    d.rng = rng
    factor = d.forward(x, training=True) / x
    assert abs(factor.mean() - 1) < 0.01 and abs(factor.std() - np.sqrt(0.2 / 0.8)) < 0.01


def test_alpha_dropout_is_keras_formula_and_keeps_selu_statistics():
    rate = 0.2
    layer = AlphaDropout(rate)
    layer.rng = np.random.default_rng(0)
    x = np.random.default_rng(1).standard_normal((400, 500))
    y = layer.forward(x, training=True)
    alpha_p = -SELU_ALPHA * SELU_SCALE
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    kept = layer._factor != 0
    np.testing.assert_allclose(y[kept], a * x[kept] + b, rtol=1e-12)
    np.testing.assert_allclose(y[~kept], a * alpha_p + b, rtol=1e-12)
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01   # zero mean, unit variance kept
    shared = AlphaDropout(0.5, noise_shape=[None, 1, 3])
    shared.rng = np.random.default_rng(0)
    out = shared.forward(np.ones((20, 4, 3)), training=True)
    assert (out == out[:, :1]).all()


@pytest.mark.parametrize("make,key", [
    (lambda: SpatialDropout1D(1.0), "rate"),
    (lambda: SpatialDropout2D(0.2, data_format="channels_first"), "data_format"),
    (lambda: GaussianNoise(1.5), "stddev"),          # Keras: stddev in [0, 1]
    (lambda: GaussianNoise("big"), "stddev"),
    (lambda: GaussianDropout(-0.1), "rate"),
    (lambda: AlphaDropout(1.0), "rate"),
    (lambda: AlphaDropout(0.1, noise_shape="x"), "noise_shape"),
    (lambda: AlphaDropout(0.1, noise_shape=[None, 0]), "noise_shape"),
])
def test_bad_arguments_name_the_argument(make, key):
    with pytest.raises(ConfigError) as e:
        make()
    assert e.value.key == key


def test_shape_errors():
    with pytest.raises(ConfigError, match="rank 2"):
        SpatialDropout1D(0.1).compute_output_shape((3, 4, 5))
    with pytest.raises(ConfigError) as e:
        AlphaDropout(0.1, noise_shape=[None, 2, 3]).compute_output_shape((4, 3))
    assert e.value.key == "noise_shape"

"""LeakyReLU, PReLU, ELU: Keras arguments and defaults, values, finite differences."""

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.activation_layers import ELU, LeakyReLU, PReLU


def built(layer, shape, seed=0):
    layer.build(tuple(shape), np.random.default_rng(seed))
    return layer


def test_leaky_relu_values_and_default_slope():
    x = np.array([[-10.0, -5.0, 0.0, 5.0, 10.0]], dtype=np.float32)
    np.testing.assert_allclose(LeakyReLU(negative_slope=0.5).forward(x), [[-5, -2.5, 0, 5, 10]])
    layer = LeakyReLU()
    assert layer.negative_slope == 0.3
    y = layer.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [[-3, -1.5, 0, 5, 10]], rtol=1e-6)
    dx = layer.backward(np.ones_like(x))
    assert dx.dtype == np.float32
    np.testing.assert_allclose(dx, [[0.3, 0.3, 1, 1, 1]], rtol=1e-6)
    assert LeakyReLU(alpha=0.1).negative_slope == 0.1  # Keras's deprecated alias
    with pytest.raises(ConfigError) as e:
        LeakyReLU(negative_slope=-1)
    assert e.value.key == "negative_slope"


def test_elu_values():
    x = np.array([[-2.0, -0.5, 0.0, 1.5]], dtype=np.float32)
    layer = ELU(alpha=0.7)
    y = layer.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, np.where(x > 0, x, 0.7 * (np.exp(x) - 1)), rtol=1e-6)
    assert ELU().alpha == 1.0
    with pytest.raises(ConfigError) as e:
        ELU(alpha="big")
    assert e.value.key == "alpha"


def test_prelu_weight_shapes_follow_keras():
    assert built(PReLU(), (5, 3)).params["alpha"].shape == (5, 3)
    assert built(PReLU(shared_axes=[1]), (5, 3)).params["alpha"].shape == (1, 3)
    assert built(PReLU(shared_axes=[1, 2]), (4, 5, 3)).params["alpha"].shape == (1, 1, 3)
    assert built(PReLU(shared_axes=2), (4, 5, 3)).params["alpha"].shape == (4, 1, 3)
    layer = built(PReLU(), (4,))
    np.testing.assert_array_equal(layer.params["alpha"], 0)  # zeros: starts as relu
    assert layer.count_params() == (4, 0)
    with pytest.raises(ConfigError) as e:
        built(PReLU(shared_axes=[3]), (5, 3))
    assert e.value.key == "shared_axes"
    with pytest.raises(ConfigError) as e:
        PReLU(shared_axes=[0])
    assert e.value.key == "shared_axes"


def test_prelu_values():
    layer = built(PReLU(shared_axes=[1]), (3, 2))
    layer.params["alpha"][...] = [[0.1, 0.5]]
    x = np.random.default_rng(0).standard_normal((2, 3, 2)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, np.maximum(x, 0) + np.array([0.1, 0.5]) * np.minimum(x, 0),
                               rtol=1e-6)


@pytest.mark.parametrize("make,shape", [
    (lambda: LeakyReLU(), (5,)),
    (lambda: LeakyReLU(negative_slope=0.01), (3, 4)),
    (lambda: ELU(), (6,)),
    (lambda: ELU(alpha=0.5), (2, 3)),
    (lambda: PReLU(alpha_initializer="random_normal"), (4,)),
    (lambda: PReLU(alpha_initializer="random_normal", shared_axes=[1]), (3, 2)),
    (lambda: PReLU(alpha_initializer="random_normal", shared_axes=[1, 2]), (3, 2, 2)),
])
def test_gradients(make, shape):
    errors = check_layer(make(), shape, batch=4)
    assert max(errors.values()) < 1e-6, errors


def test_keras_deprecated_alpha_is_accepted_in_a_config():
    from nntrain.builder import build_model
    model = build_model({"input_shape": [3], "layers": [{"LeakyReLU": {"alpha": 0.1}}]})
    assert model.layers[0].negative_slope == 0.1

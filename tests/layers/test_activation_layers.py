"""LeakyReLU, PReLU, ELU, ReLU, Softmax: Keras arguments and defaults, values (against PyTorch
where it has the function), finite differences."""

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax


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


def keras_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's formula (keras/src/activations/activations.py, ReLU.static_call), restated."""
    y = np.where(x > threshold, x, 0.0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    return y - negative_slope * np.maximum(threshold - x, 0.0)


@pytest.mark.parametrize("kwargs", [
    {}, {"max_value": 6.0}, {"negative_slope": 0.1}, {"threshold": 0.5},
    {"max_value": 1.0, "negative_slope": 0.2, "threshold": 0.3},
])
def test_relu_values_follow_keras(kwargs):
    x = np.linspace(-3, 8, 45).astype(np.float32)[None]
    y = ReLU(**kwargs).forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, keras_relu(x.astype(np.float64), **kwargs), rtol=1e-6,
                               atol=1e-7)


def test_relu_matches_torch_relu6_and_leaky_relu():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(0, 4, (3, 20)).astype(np.float32)
    t = torch.from_numpy(x)
    np.testing.assert_allclose(ReLU(max_value=6).forward(x), torch.nn.functional.relu6(t))
    np.testing.assert_allclose(ReLU(negative_slope=0.2).forward(x),
                               torch.nn.functional.leaky_relu(t, 0.2), rtol=1e-6)
    np.testing.assert_allclose(ReLU().forward(x), torch.relu(t))


@pytest.mark.parametrize("kwargs,key", [
    ({"max_value": -1}, "max_value"), ({"negative_slope": -0.1}, "negative_slope"),
    ({"threshold": -1}, "threshold"), ({"threshold": None}, "threshold"),
])
def test_relu_bad_arguments(kwargs, key):
    with pytest.raises(ConfigError) as e:
        ReLU(**kwargs)
    assert e.value.key == key


@pytest.mark.parametrize("axis,torch_dim", [(-1, -1), (1, 1), (2, 2)])
def test_softmax_matches_torch(axis, torch_dim):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).normal(0, 3, (2, 4, 5)).astype(np.float32)
    layer = Softmax(axis=axis)
    assert layer.compute_output_shape((4, 5)) == (4, 5)
    y = layer.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, torch.softmax(torch.from_numpy(x), dim=torch_dim).numpy(),
                               rtol=1e-5, atol=1e-7)


def test_softmax_over_several_axes_and_its_fusion():
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    y = Softmax(axis=[1, 2]).forward(x)
    np.testing.assert_allclose(y.sum(axis=(1, 2)), 1.0)
    np.testing.assert_allclose(y, np.exp(x) / np.exp(x).sum(axis=(1, 2), keepdims=True))
    assert Softmax().activation_last and not Softmax(axis=1).activation_last


@pytest.mark.parametrize("axis", [0, "last", [1, 0], [], True])
def test_softmax_bad_axis(axis):
    with pytest.raises(ConfigError) as e:
        Softmax(axis=axis)
    assert e.value.key == "axis"
    with pytest.raises(ConfigError, match="does not exist"):
        Softmax(axis=3).compute_output_shape((4, 5))


@pytest.mark.parametrize("make,shape", [
    (lambda: ReLU(), (7,)),
    (lambda: ReLU(max_value=0.5, negative_slope=0.1, threshold=0.2), (9,)),
    (lambda: ReLU(max_value=6.0), (2, 3)),
    (lambda: Softmax(), (5,)),
    (lambda: Softmax(axis=1), (3, 4)),
    (lambda: Softmax(axis=[1, 2]), (2, 3)),
])
def test_new_layer_gradients(make, shape):
    errors = check_layer(make(), shape, batch=4)
    assert max(errors.values()) < 1e-6, errors


def test_keras_deprecated_alpha_is_accepted_in_a_config():
    from nntrain.builder import build_model
    model = build_model({"input_shape": [3], "layers": [{"LeakyReLU": {"alpha": 0.1}}]})
    assert model.layers[0].negative_slope == 0.1

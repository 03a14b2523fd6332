"""Activations against their definitions and derivatives; regularizer penalties and gradients."""

import numpy as np
import pytest

from nntrain import activations, regularizers
from nntrain.errors import ConfigError
from nntrain.gradcheck import numeric_gradient, relative_error

X = np.linspace(-4, 4, 37).reshape(1, -1) + 0.013   # avoid the kinks at exactly 0 and +-3


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS.spellings()))
def test_derivative_matches_finite_differences(name):
    act = activations.get(name)
    x = X.copy()
    w = np.random.default_rng(0).standard_normal(x.shape)
    y = act.forward(x)
    analytic = act.backward(x, y, w)
    numeric = numeric_gradient(lambda: float((act.forward(x) * w).sum()), x)
    assert relative_error(analytic, numeric) < 1e-7


def test_values_match_keras_definitions():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    f = {n: activations.get(n).forward for n in activations.ACTIVATIONS}
    assert np.allclose(f["relu"](x), [0, 0, 0, 0.5, 2])
    assert np.allclose(f["leaky_relu"](x), [-0.4, -0.1, 0, 0.5, 2])
    assert np.allclose(f["hard_sigmoid"](x), np.clip(x / 6 + 0.5, 0, 1))
    assert np.allclose(f["selu"](np.array([-1.0, 1.0])),
                       [1.0507009873554805 * 1.6732632423543772 * (np.exp(-1) - 1),
                        1.0507009873554805])
    assert np.allclose(f["gelu"](np.array([1.0])), [0.8413447460685429])
    assert np.allclose(f["softplus"](x), np.log1p(np.exp(x)))
    assert np.allclose(f["softsign"](x), x / (1 + np.abs(x)))
    assert np.allclose(f["swish"](x), x / (1 + np.exp(-x)))
    s = f["softmax"](np.array([[1.0, 2.0, 3.0]]))
    assert np.allclose(s, np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())


def test_float32_stays_float32():
    x = X.astype(np.float32)
    for name, act in activations.ACTIVATIONS.items():
        y = act.forward(x)
        assert y.dtype == np.float32, name
        assert act.backward(x, y, np.ones_like(x)).dtype == np.float32, name


def test_unknown_activation_has_a_hint():
    with pytest.raises(ConfigError, match="did you mean 'sigmoid'"):
        activations.get("sigmoud")


@pytest.mark.parametrize("spec,l1,l2", [
    ("l2", 0.0, 0.01), ("l1", 0.01, 0.0), ({"l2": 1e-4}, 0.0, 1e-4),
    ({"l1": 0.1, "l2": 0.2}, 0.1, 0.2), ({"L1L2": {"l1": 0.3}}, 0.3, 0.0)])
def test_regularizer_penalty_and_gradient(spec, l1, l2):
    reg = regularizers.get(spec)
    w = np.random.default_rng(1).standard_normal((4, 3))
    assert np.isclose(reg.penalty(w), l1 * np.abs(w).sum() + l2 * (w ** 2).sum())
    numeric = numeric_gradient(lambda: reg.penalty(w), w)
    assert relative_error(reg.gradient(w), numeric) < 1e-7


@pytest.mark.parametrize("spec", ["l3", {"l2": -1}, {"lambda": 1}, 5])
def test_bad_regularizers(spec):
    with pytest.raises(ConfigError):
        regularizers.get(spec)


@pytest.mark.parametrize("name", [n for n in activations.ACTIVATIONS
                                  if activations.get(n).in_place is not None])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_forms_give_the_same_bits_over_their_input(name, dtype):
    """Inference writes the activation over a layer's fresh pre-activation (forward_over):
    the values must be forward's exactly."""
    act = activations.get(name)
    x = (np.random.default_rng(0).standard_normal((7, 13)) * 5).astype(dtype)
    z = x.copy()
    y = act.forward_over(z)
    assert y.dtype == dtype and np.array_equal(y, act.forward(x))
    if name != "linear":
        assert np.shares_memory(y, z)


@pytest.mark.parametrize("layer", [{"Dense": {"units": 5, "activation": "softmax"}},
                                   {"Conv1D": {"filters": 4, "kernel_size": 3,
                                               "activation": "relu"}}])
def test_inference_gives_what_training_gives(layer):
    from nntrain.builder import build_model
    model = build_model({"input_shape": [6, 3], "layers": [layer]},
                        rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((4, 6, 3)).astype(np.float32)
    assert np.array_equal(model.forward([x], training=False), model.forward([x], training=True))

"""BatchNormalization, LayerNormalization and GroupNormalization: Keras weights and counts,
finite differences (BatchNormalization in both modes), the moving-statistics update by hand, and
forward values against NumPy and PyTorch."""

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.normalization import (BatchNormalization, GroupNormalization,
                                          LayerNormalization)


def built(layer, shape, seed=0):
    layer.build(tuple(shape), np.random.default_rng(seed))
    return layer


def randomize(layer, seed=5):
    """Give every weight a non-trivial value (moving variance positive)."""
    rng = np.random.default_rng(seed)
    for name, w in layer.params.items():
        w[...] = rng.uniform(0.5, 1.5, w.shape) if name == "moving_variance" else \
            rng.standard_normal(w.shape)
    return layer


# -- weights ------------------------------------------------------------------------------------
def test_batchnorm_weights_in_keras_order():
    layer = built(BatchNormalization(), (26, 26, 32))
    assert list(layer.params) == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert layer.count_params() == (64, 64)
    assert layer.non_trainable == {"moving_mean", "moving_variance"}
    np.testing.assert_array_equal(layer.params["gamma"], 1)
    np.testing.assert_array_equal(layer.params["moving_variance"], 1)
    np.testing.assert_array_equal(layer.params["moving_mean"], 0)
    assert layer.compute_output_shape((26, 26, 32)) == (26, 26, 32)
    assert list(built(BatchNormalization(center=False), (5,)).params) == [
        "gamma", "moving_mean", "moving_variance"]


def test_layernorm_weights():
    layer = built(LayerNormalization(), (10, 16))
    assert list(layer.params) == ["gamma", "beta"]
    assert layer.count_params() == (32, 0)
    assert list(built(LayerNormalization(scale=False), (4,)).params) == ["beta"]


@pytest.mark.parametrize("cls,kwargs,key", [
    (BatchNormalization, {"momentum": 1.5}, "momentum"),
    (BatchNormalization, {"epsilon": 0}, "epsilon"),
    (BatchNormalization, {"center": "no"}, "center"),
    (BatchNormalization, {"gamma_initializer": "onez"}, "gamma_initializer"),
    (LayerNormalization, {"axis": "last"}, "axis"),
    (LayerNormalization, {"beta_regularizer": "l3"}, "beta_regularizer"),
])
def test_bad_arguments_name_the_argument(cls, kwargs, key):
    with pytest.raises(ConfigError) as e:
        cls(**kwargs)
    assert e.value.key == key


def test_only_the_last_axis():
    with pytest.raises(ConfigError, match="last axis"):
        built(BatchNormalization(axis=1), (4, 5))
    built(BatchNormalization(axis=2), (4, 5))  # the last axis counted with the batch axis


# -- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs,shape", [
    ({}, (4,)), ({}, (5, 3)), ({}, (3, 2, 2)), ({"center": False}, (5, 3)),
    ({"scale": False}, (4, 2)),
])
def test_batchnorm_gradients(kwargs, shape, training):
    layer = randomize(built(BatchNormalization(**kwargs), shape))
    errors = check_layer(layer, shape, training=training, batch=4)
    assert set(errors) >= {"input"} and "moving_mean" not in errors
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("kwargs,shape", [
    ({}, (6,)), ({}, (3, 5)), ({"center": False}, (2, 2, 3)), ({"scale": False}, (4,)),
])
def test_layernorm_gradients(kwargs, shape):
    layer = randomize(built(LayerNormalization(**kwargs), shape))
    errors = check_layer(layer, shape)
    assert max(errors.values()) < 1e-6, errors


# -- values -------------------------------------------------------------------------------------
def test_batchnorm_training_step_by_hand():
    rng = np.random.default_rng(0)
    layer = randomize(built(BatchNormalization(momentum=0.9, epsilon=1e-3), (6, 3)))
    old_mean, old_var = layer.params["moving_mean"].copy(), layer.params["moving_variance"].copy()
    x = rng.normal(2.0, 3.0, (4, 6, 3)).astype(np.float32)
    y = layer.forward(x, training=True)

    xs = x.astype(np.float64).reshape(-1, 3)
    mean, var = xs.mean(axis=0), ((xs - xs.mean(axis=0)) ** 2).mean(axis=0)  # biased, as Keras
    expect = (x - mean) / np.sqrt(var + 1e-3) * layer.params["gamma"] + layer.params["beta"]
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.params["moving_mean"], old_mean * 0.9 + mean * 0.1,
                               rtol=1e-6)
    np.testing.assert_allclose(layer.params["moving_variance"], old_var * 0.9 + var * 0.1,
                               rtol=1e-6)
    assert y.dtype == np.float32 and layer.params["moving_variance"].dtype == np.float32


def test_batchnorm_inference_uses_moving_statistics_and_does_not_update_them():
    layer = randomize(built(BatchNormalization(), (3,)))
    before = {k: v.copy() for k, v in layer.params.items()}
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    y = layer.forward(x, training=False)
    p = before
    expect = (x - p["moving_mean"]) / np.sqrt(p["moving_variance"] + 1e-3) * p["gamma"] + p["beta"]
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-6)
    for k in before:
        np.testing.assert_array_equal(layer.params[k], before[k])
    # a frozen layer normalizes with the moving statistics even in training, as in Keras
    frozen = randomize(built(BatchNormalization(trainable=False), (3,)))
    np.testing.assert_allclose(frozen.forward(x, training=True), expect, rtol=1e-5, atol=1e-6)


def test_batchnorm_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layer = randomize(built(BatchNormalization(momentum=0.99), (7, 4)))
    x = np.random.default_rng(2).standard_normal((5, 7, 4)).astype(np.float32)
    p = {k: torch.from_numpy(v.copy()) for k, v in layer.params.items()}
    xt = torch.from_numpy(x).permute(0, 2, 1)  # channels first for torch
    ref = F.batch_norm(xt, p["moving_mean"], p["moving_variance"], p["gamma"], p["beta"],
                       training=True, momentum=0.01, eps=1e-3).permute(0, 2, 1)
    np.testing.assert_allclose(layer.forward(x, training=True), ref.numpy(), rtol=1e-5, atol=1e-5)
    # torch keeps the same moving mean, but its moving variance uses the unbiased estimate
    np.testing.assert_allclose(layer.params["moving_mean"], p["moving_mean"].numpy(), rtol=1e-6)
    n = 5 * 7
    biased = x.reshape(-1, 4).var(axis=0)
    np.testing.assert_allclose(
        p["moving_variance"].numpy() - layer.params["moving_variance"],
        0.01 * biased * (n / (n - 1) - 1), rtol=1e-3, atol=1e-7)

    ref = F.batch_norm(xt, p["moving_mean"], p["moving_variance"], p["gamma"], p["beta"],
                       training=False, eps=1e-3).permute(0, 2, 1)
    layer.params["moving_variance"][...] = p["moving_variance"].numpy()
    np.testing.assert_allclose(layer.forward(x), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_layernorm_matches_numpy_and_torch():
    layer = randomize(built(LayerNormalization(epsilon=1e-3), (3, 6)))
    x = np.random.default_rng(3).normal(1.0, 2.0, (2, 3, 6)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    xd = x.astype(np.float64)
    mean, var = xd.mean(-1, keepdims=True), xd.var(-1, keepdims=True)
    expect = (xd - mean) / np.sqrt(var + 1e-3) * layer.params["gamma"] + layer.params["beta"]
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    torch = pytest.importorskip("torch")
    ref = torch.nn.functional.layer_norm(torch.from_numpy(x), (6,),
                                         torch.from_numpy(layer.params["gamma"]),
                                         torch.from_numpy(layer.params["beta"]), eps=1e-3)
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_backward_stays_float32():
    for layer in (built(BatchNormalization(), (5, 3)), built(LayerNormalization(), (5, 3))):
        x = np.random.default_rng(0).standard_normal((4, 5, 3)).astype(np.float32)
        dx = layer.backward(np.ones_like(layer.forward(x, training=True)))
        assert dx.dtype == np.float32
        assert all(g.dtype == np.float32 for g in layer.grads.values())


# -- GroupNormalization -------------------------------------------------------------------------
def test_groupnorm_weights_and_keras_count():
    layer = built(GroupNormalization(groups=4), (10, 8))
    assert list(layer.params) == ["gamma", "beta"]
    assert layer.count_params() == (16, 0)              # Keras 3.15: 16
    assert layer.compute_output_shape((10, 8)) == (10, 8)
    assert GroupNormalization().groups == 32 and GroupNormalization().epsilon == 1e-3


@pytest.mark.parametrize("groups,shape", [(2, (5, 4)), (-1, (3, 2, 6)), (1, (7, 3)), (3, (6,))])
def test_groupnorm_matches_torch(groups, shape):
    torch = pytest.importorskip("torch")
    layer = randomize(built(GroupNormalization(groups=groups), shape))
    x = np.random.default_rng(4).normal(1.0, 2.0, (3, *shape)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    c = shape[-1]
    g = c if groups == -1 else groups
    xt = torch.from_numpy(np.moveaxis(x, -1, 1).copy())     # channels first for torch
    ref = torch.nn.functional.group_norm(xt, g, torch.from_numpy(layer.params["gamma"]),
                                         torch.from_numpy(layer.params["beta"]), eps=1e-3)
    np.testing.assert_allclose(y, np.moveaxis(ref.numpy(), 1, -1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs,shape", [
    ({"groups": 2}, (3, 4)), ({"groups": -1}, (2, 2, 3)), ({"groups": 1, "center": False}, (3, 4)),
    ({"groups": 3, "scale": False}, (6,)), ({"groups": 2}, (2, 2, 4)),
])
def test_groupnorm_gradients(kwargs, shape):
    layer = randomize(built(GroupNormalization(**kwargs), shape))
    errors = check_layer(layer, shape)
    assert max(errors.values()) < 1e-6, errors


def test_groupnorm_bad_groups():
    for groups in (0, -2, 2.5, True):
        with pytest.raises(ConfigError) as e:
            GroupNormalization(groups=groups)
        assert e.value.key == "groups"
    with pytest.raises(ConfigError, match="multiple of groups") as e:
        GroupNormalization(groups=3).compute_output_shape((5, 8))
    assert e.value.key == "groups"
    with pytest.raises(ConfigError, match="into 32 groups"):
        built(GroupNormalization(), (5, 8))            # Keras's default needs 32+ channels
    with pytest.raises(ConfigError, match="last axis"):
        GroupNormalization(groups=2, axis=1).compute_output_shape((4, 6))

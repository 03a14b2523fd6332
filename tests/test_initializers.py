"""Initializers against Keras's formulas (statistics over many draws)."""

import math

import numpy as np
import pytest

from nntrain import initializers
from nntrain.errors import ConfigError


def draw(spec, shape):
    return initializers.get(spec)(shape, np.random.default_rng(0))


@pytest.mark.parametrize("name,scale,mode", [
    ("he_normal", 2.0, "in"), ("lecun_normal", 1.0, "in"), ("glorot_normal", 1.0, "avg")])
def test_truncated_normal_variance_scaling(name, scale, mode):
    shape = (5, 40, 60)  # conv kernel: receptive field 5, fan_in 200, fan_out 300
    fan = 200 if mode == "in" else 250
    w = draw(name, shape)
    assert abs(w.std() - math.sqrt(scale / fan)) < 0.02 * math.sqrt(scale / fan)
    limit = 2 * math.sqrt(scale / fan) / 0.87962566103423978
    assert np.abs(w).max() <= limit


@pytest.mark.parametrize("name,scale,mode", [
    ("he_uniform", 2.0, "in"), ("lecun_uniform", 1.0, "in"), ("glorot_uniform", 1.0, "avg")])
def test_uniform_variance_scaling_limits(name, scale, mode):
    w = draw(name, (300, 100))
    fan = 300 if mode == "in" else 200
    limit = math.sqrt(3 * scale / fan)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.98 * limit


def test_orthogonal_is_orthogonal_in_keras_orientation():
    w = draw("orthogonal", (8, 32))        # LSTM recurrent kernel (units, 4*units)
    assert np.allclose(w @ w.T, np.eye(8), atol=1e-10)
    w = draw({"Orthogonal": {"gain": 2.0}}, (32, 8))
    assert np.allclose(w.T @ w, 4 * np.eye(8), atol=1e-10)


def test_constants_random_and_identity():
    assert np.all(draw("zeros", (3,)) == 0) and np.all(draw("ones", (3,)) == 1)
    assert np.all(draw({"Constant": {"value": 0.5}}, (2, 2)) == 0.5)
    w = draw({"RandomNormal": {"mean": 1.0, "stddev": 0.02}}, (200, 200))
    assert abs(w.mean() - 1.0) < 0.001 and abs(w.std() - 0.02) < 0.001
    w = draw({"RandomUniform": {"minval": 0, "maxval": 2}}, (10000,))
    assert w.min() >= 0 and w.max() <= 2
    w = draw({"TruncatedNormal": {"stddev": 1.0}}, (10000,))
    assert np.abs(w).max() <= 2.0
    assert np.array_equal(draw("identity", (3, 3)), np.eye(3))


@pytest.mark.parametrize("spec,match", [
    ("he_norml", "did you mean 'he_normal'"),
    ({"RandomNormal": {"std": 1}}, "did you mean 'stddev'"),
    ({"RandomUniform": {"minval": 1, "maxval": 0}}, "maxval > minval"),
    (3, "expected an initializer name"),
])
def test_bad_initializers(spec, match):
    with pytest.raises(ConfigError, match=match):
        initializers.get(spec, key="kernel_initializer")

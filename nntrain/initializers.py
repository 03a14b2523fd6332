"""Keras's weight initializers, with Keras's formulas (keras/src/initializers).

An initializer is a callable ``init(shape, rng) -> ndarray (float64)``; the layer casts to its
dtype. Configs name one as a string (``he_normal``) or a one-key map with arguments
(``RandomNormal: {mean: 0, stddev: 0.02}``).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.registry import Registry

Initializer = Callable[[tuple, np.random.Generator], np.ndarray]

# stddev of a unit normal truncated to [-2, 2]; Keras divides by it so the truncated
# distribution has the wanted variance.
_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape: tuple) -> tuple[float, float]:
    """Keras's fan_in/fan_out: kernels are (..., in, out) with the receptive field in front."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = float(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def truncated_normal(rng: np.random.Generator, shape, mean: float, stddev: float) -> np.ndarray:
    """Normal samples redrawn until within two standard deviations of the mean."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return mean + stddev * out


def variance_scaling(scale: float = 1.0, mode: str = "fan_in",
                     distribution: str = "truncated_normal") -> Initializer:
    def init(shape, rng):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        s = scale / max(1.0, n)
        if distribution == "truncated_normal":
            return truncated_normal(rng, shape, 0.0, math.sqrt(s) / _TRUNCATED_STD)
        if distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(s), shape)
        limit = math.sqrt(3.0 * s)
        return rng.uniform(-limit, limit, shape)
    return init


def constant(value: float = 0.0) -> Initializer:
    validate.number("value", value)
    return lambda shape, rng: np.full(shape, float(value))


def random_normal(mean: float = 0.0, stddev: float = 0.05) -> Initializer:
    validate.number("stddev", stddev, low=0)
    return lambda shape, rng: rng.normal(mean, stddev, shape)


def random_uniform(minval: float = -0.05, maxval: float = 0.05) -> Initializer:
    if not validate.number("maxval", maxval) > validate.number("minval", minval):
        raise ConfigError(f"expected maxval > minval, received minval={minval}, maxval={maxval}")
    return lambda shape, rng: rng.uniform(minval, maxval, shape)


def truncated(mean: float = 0.0, stddev: float = 0.05) -> Initializer:
    validate.number("stddev", stddev, low=0)
    return lambda shape, rng: truncated_normal(rng, shape, mean, stddev)


def orthogonal(gain: float = 1.0) -> Initializer:
    """Keras's OrthogonalInitializer: QR of a normal matrix of the flattened shape, sign-fixed."""
    def init(shape, rng):
        rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        cols = shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return gain * q.reshape(shape)
    return init


def identity(gain: float = 1.0) -> Initializer:
    def init(shape, rng):
        if len(shape) != 2:
            raise ConfigError(f"the identity initializer needs a 2-D weight, received shape "
                              f"{list(shape)}")
        return gain * np.eye(*shape)
    return init


INITIALIZERS = Registry(
    "initializer", expected="an initializer name or a one-key map such as "
    "{RandomNormal: {stddev: 0.02}}")


def _add(name, factory, alias, doc):
    INITIALIZERS.add(name, factory, aliases=(alias,) if isinstance(alias, str) else alias,
                     doc=doc)


_add("Zeros", lambda: constant(0.0), "zeros", "All zeros.")
_add("Ones", lambda: constant(1.0), "ones", "All ones.")
_add("Constant", constant, "constant", "Every entry equal to `value`.")
_add("RandomNormal", random_normal, ("random_normal", "normal"), "Normal(mean, stddev).")
_add("RandomUniform", random_uniform, ("random_uniform", "uniform"),
     "Uniform on [minval, maxval).")
_add("TruncatedNormal", truncated, "truncated_normal",
     "Normal(mean, stddev) redrawn outside two standard deviations.")
_add("GlorotNormal", lambda seed=None: variance_scaling(1.0, "fan_avg", "truncated_normal"),
     "glorot_normal", "Xavier: truncated normal with variance 2 / (fan_in + fan_out); for tanh.")
_add("GlorotUniform", lambda seed=None: variance_scaling(1.0, "fan_avg", "uniform"),
     "glorot_uniform", "Xavier: uniform with variance 2 / (fan_in + fan_out) (Keras's default).")
_add("HeNormal", lambda seed=None: variance_scaling(2.0, "fan_in", "truncated_normal"),
     "he_normal", "He: truncated normal with variance 2 / fan_in; for ReLU.")
_add("HeUniform", lambda seed=None: variance_scaling(2.0, "fan_in", "uniform"), "he_uniform",
     "He: uniform with variance 2 / fan_in; for ReLU.")
_add("LecunNormal", lambda seed=None: variance_scaling(1.0, "fan_in", "truncated_normal"),
     "lecun_normal", "LeCun: truncated normal with variance 1 / fan_in; for SELU.")
_add("LecunUniform", lambda seed=None: variance_scaling(1.0, "fan_in", "uniform"),
     "lecun_uniform", "LeCun: uniform with variance 1 / fan_in.")
_add("Orthogonal", orthogonal, "orthogonal", "A random orthogonal matrix times `gain`.")
_add("Identity", identity, "identity", "The identity matrix times `gain` (2-D weights).")
_add("VarianceScaling", variance_scaling, "variance_scaling",
     "scale / fan (fan_in, fan_out or their mean) as the variance of `distribution`.")


def get(spec, key: str = "initializer") -> Initializer:
    """Resolve a config value (name, ``{Name: {args}}``) or pass a callable through."""
    if callable(spec):
        return spec
    return INITIALIZERS.construct(spec, key)

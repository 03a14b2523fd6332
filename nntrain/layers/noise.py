"""Regularizing noise, active only in training (the identity at inference), as Keras's
``keras.layers.regularization``: SpatialDropout1D/2D, GaussianNoise, GaussianDropout,
AlphaDropout. Every draw comes from ``self.rng``, the model's dropout stream, so a resumed run
draws the same noise. `seed` is accepted for Keras compatibility and ignored (the config's
`seed` seeds that stream)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from nntrain import validate
from nntrain.activations import SELU_ALPHA, SELU_SCALE
from nntrain.errors import ConfigError
from nntrain.layers.base import Layer, check_rank, register
from nntrain.layers.windows import check_data_format


class _Noise(Layer):
    """Shape-preserving; forward stores the factor that backward multiplies by (None: the
    identity)."""

    supports_masking = True    # Keras's dropout and noise layers pass the mask on

    def forward(self, x, training=False):
        self._factor = None
        if not training or not self._active():
            return x
        return self._apply(x)

    def _active(self) -> bool:
        raise NotImplementedError

    def _apply(self, x):
        raise NotImplementedError

    def backward(self, dy):
        return dy if self._factor is None else dy * self._factor

    def flops(self, input_shape):
        return math.prod(input_shape)


class _SpatialDropout(_Noise):
    """Dropout of whole channels: one keep/drop draw per sample and channel, shared by every
    step (1D) or pixel (2D); kept channels are scaled by 1/(1 - rate)."""

    rank = 1

    def __init__(self, rate, seed=None, **base):
        super().__init__(**base)
        self.rate = validate.number("rate", rate, low=0, high=1, high_open=True)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, self.rank + 1,
                   "(steps, channels)" if self.rank == 1 else "(height, width, channels)")
        return input_shape

    def _active(self):
        return self.rate > 0

    def _apply(self, x):
        shape = (x.shape[0], *(1,) * self.rank, x.shape[-1])
        keep = self.rng.random(shape, dtype=np.float32) >= self.rate
        self._factor = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self._factor

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@register
class SpatialDropout1D(_SpatialDropout):
    """Drops entire channels of (batch, steps, channels), in training."""

    rank = 1


@register
class SpatialDropout2D(_SpatialDropout):
    """Drops entire channels of (batch, h, w, channels), in training."""

    rank = 2

    def __init__(self, rate, data_format=None, seed=None, **base):
        super().__init__(rate, seed, **base)
        self.data_format = check_data_format(data_format)


@register
class GaussianNoise(_Noise):
    """Adds zero-mean normal noise of standard deviation `stddev`, in training.

    `stddev` is in [0, 1], as Keras checks; any input shape, sequences included."""

    def __init__(self, stddev, seed=None, **base):
        super().__init__(**base)
        self.stddev = validate.number("stddev", stddev, low=0, high=1)

    def _active(self):
        return self.stddev > 0

    def _apply(self, x):
        noise = self.rng.standard_normal(x.shape, dtype=np.float32)
        noise *= np.float32(self.stddev)
        return x + noise.astype(x.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@register
class GaussianDropout(_Noise):
    """Multiplies by normal noise of mean 1 and stddev sqrt(rate / (1 - rate)), in training."""

    def __init__(self, rate, seed=None, **base):
        super().__init__(**base)
        self.rate = validate.number("rate", rate, low=0, high=1, high_open=True)

    def _active(self):
        return self.rate > 0

    def _apply(self, x):
        noise = self.rng.standard_normal(x.shape, dtype=np.float32)
        noise *= np.float32(math.sqrt(self.rate / (1.0 - self.rate)))
        noise += np.float32(1.0)
        self._factor = noise.astype(x.dtype, copy=False)
        return x * self._factor

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@register
class AlphaDropout(_Noise):
    """Dropout that keeps SELU's mean and variance (self-normalizing networks), in training.

    Dropped units are set to SELU's negative saturation ``-scale * alpha``, then ``a * x + b``
    restores mean and variance, with
    ``a = ((1 - rate) * (1 + rate * alpha'^2)) ** -0.5`` and ``b = -a * alpha' * rate``.
    `noise_shape` (batch axis included; None entries take the input's size) shares one draw
    along the axes given as 1."""

    def __init__(self, rate, noise_shape=None, seed=None, **base):
        super().__init__(**base)
        self.rate = validate.number("rate", rate, low=0, high=1, high_open=True)
        if noise_shape is not None and (not isinstance(noise_shape, (list, tuple)) or any(
                d is not None and (isinstance(d, bool) or not isinstance(d, numbers.Integral)
                                   or d < 1) for d in noise_shape)):
            raise ConfigError(f"expected a list of positive integers or nulls, received "
                              f"{noise_shape!r}", key="noise_shape")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def compute_output_shape(self, input_shape):
        if self.noise_shape is not None:
            full = (None, *input_shape)
            if len(self.noise_shape) != len(full) or any(
                    d not in (None, 1, n) for d, n in zip(self.noise_shape[1:], input_shape)) \
                    or self.noise_shape[0] not in (None, 1):
                raise ConfigError(f"noise_shape {list(self.noise_shape)} does not fit inputs of "
                                  f"shape {[None, *input_shape]} (each entry null, 1 or the "
                                  f"input's size)", key="noise_shape")
        return input_shape

    def _active(self):
        return self.rate > 0

    def _apply(self, x):
        shape = x.shape if self.noise_shape is None else tuple(
            n if d is None else d for d, n in zip(self.noise_shape, x.shape))
        keep = self.rng.random(shape, dtype=np.float32) >= self.rate
        alpha_p = -SELU_ALPHA * SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        keep = keep.astype(x.dtype)
        self._factor = keep * x.dtype.type(a)
        return x * self._factor + ((1 - keep) * x.dtype.type(a * alpha_p) + x.dtype.type(b))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}

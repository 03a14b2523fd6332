"""Core layers: Dense, Activation, Dropout, Flatten, Reshape."""

from __future__ import annotations

import math

import numpy as np

from nntrain import activations, validate
from nntrain.errors import ConfigError
from nntrain.layers.base import (Layer, check_initializer, check_regularizer, column_sums,
                                 register)


@register
class Dense(Layer):
    """``y = activation(x @ kernel + bias)`` on the last axis.

    x : (batch, ..., in) → y : (batch, ..., units); kernel (in, units), bias (units,).
    """

    activation_last = True
    supports_masking = True    # a per-position layer: the mask passes on (Keras)

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **base):
        super().__init__(**base)
        self.units = validate.positive_int("units", units)
        self.activation = activations.get(activation)
        self.use_bias = validate.boolean("use_bias", use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        check_initializer(kernel_initializer, "kernel_initializer")
        check_initializer(bias_initializer, "bias_initializer")
        check_regularizer(kernel_regularizer, "kernel_regularizer")
        check_regularizer(bias_regularizer, "bias_regularizer")

    def build(self, input_shape, rng):
        n_in = input_shape[-1]
        self.add_weight("kernel", (n_in, self.units), self.kernel_initializer, rng,
                        regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, rng,
                            regularizer=self.bias_regularizer)
        super().build(input_shape, rng)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def forward(self, x, training=False):
        z = x @ self.params["kernel"]
        if self.use_bias:
            z += self.params["bias"]
        if not self.keeps_cache(training):
            self._x = self._z = self._y = None
            return self.activation.forward_over(z)   # z is ours and kept nowhere
        y = self.activation.forward(z)
        self._x, self._z, self._y = x, z, y
        return y

    def backward_preactivation(self, dz):
        x = self._x
        x2 = x.reshape(-1, x.shape[-1])
        dz2 = dz.reshape(-1, self.units)
        self.grads["kernel"] = x2.T @ dz2
        if self.use_bias:
            self.grads["bias"] = column_sums(dz2)
        if not self.needs_input_grad:
            return None
        return dz @ self.params["kernel"].T

    def flops(self, input_shape):
        rows = math.prod(input_shape[:-1])
        return 2 * rows * input_shape[-1] * self.units

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                "use_bias": self.use_bias}


@register
class Activation(Layer):
    """Applies an activation function; no weights."""

    activation_last = True
    supports_masking = True

    def __init__(self, activation, **base):
        super().__init__(**base)
        self.activation = activations.get(activation)

    def forward(self, x, training=False):
        self._z = x
        self._y = self.activation.forward(x)
        return self._y

    def backward_preactivation(self, dz):
        return dz

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.name}


@register
class Dropout(Layer):
    """Inverted dropout (Keras): in training, zero a fraction `rate` and scale the rest by
    1/(1-rate); at inference, the identity. `noise_shape` is not supported."""

    supports_masking = True

    def __init__(self, rate, seed=None, **base):
        super().__init__(**base)
        self.rate = validate.number("rate", rate, low=0, high=1, high_open=True)

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.rate
        self._mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self._mask

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@register
class Flatten(Layer):
    """(batch, d1, d2, ...) → (batch, d1*d2*...)."""

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training=False):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self._shape)


@register
class Reshape(Layer):
    """Reshape each sample to `target_shape` (one entry may be -1, as in Keras)."""

    def __init__(self, target_shape, **base):
        super().__init__(**base)
        if not isinstance(target_shape, (list, tuple)) or not target_shape or not all(
                isinstance(d, int) and not isinstance(d, bool) and (d > 0 or d == -1)
                for d in target_shape) or list(target_shape).count(-1) > 1:
            raise ConfigError("expected a list of positive integers (at most one -1), received "
                              f"{target_shape!r}", key="target_shape")
        self.target_shape = tuple(target_shape)

    def compute_output_shape(self, input_shape):
        size = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ConfigError(f"cannot reshape input of shape {list(input_shape)} to "
                                  f"{list(self.target_shape)}", key="target_shape")
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ConfigError(f"cannot reshape input of shape {list(input_shape)} ({size} values) "
                              f"to {list(self.target_shape)} ({known} values)", key="target_shape")
        return self.target_shape

    def forward(self, x, training=False):
        self._shape = x.shape
        return x.reshape(x.shape[0], *self.compute_output_shape(x.shape[1:]))

    def backward(self, dy):
        return dy.reshape(self._shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}

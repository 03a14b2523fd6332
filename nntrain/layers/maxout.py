"""Maxout (Goodfellow et al. 2013, https://arxiv.org/abs/1302.4389): a dense layer with
`units * pieces` outputs whose every group of `pieces` consecutive outputs is reduced by a max.
Each unit is the upper envelope of `pieces` learned linear functions, a convex activation that
learns its own shape.

Keras 3 has no Maxout. The layout chosen is Keras's ``Dense(units * pieces)``: kernel
(in, units * pieces) and bias (units * pieces,), where column ``u * pieces + p`` is piece p of
unit u, the grouping of TensorFlow Addons' ``Maxout(num_units=units)``. In Keras the same model
is ``Dense(units * pieces)`` followed by ``Reshape((units, pieces))`` and a max over the last
axis, with these very weights.
"""

from __future__ import annotations

import math

import numpy as np

from nntrain import validate
from nntrain.layers.base import Layer, register, set_kernel_arguments


@register
class Maxout(Layer):
    """A dense layer of units * pieces outputs, maxed over each unit's pieces (Maxout).

    x : (batch, ..., in) → (batch, ..., units), with
    ``y[u] = max over p of (x @ kernel + bias)[u * pieces + p]``; the gradient goes to the piece
    that won (the first on ties). Keras has no Maxout; like Dense, it passes a mask on."""

    supports_masking = True

    def __init__(self, units, pieces=2, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **base):
        super().__init__(**base)
        self.units = validate.positive_int("units", units)
        self.pieces = validate.positive_int("pieces", pieces)
        set_kernel_arguments(self, use_bias, kernel_initializer, bias_initializer,
                             kernel_regularizer, bias_regularizer)

    def build(self, input_shape, rng):
        width = self.units * self.pieces
        self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer, rng,
                        regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (width,), self.bias_initializer, rng,
                            regularizer=self.bias_regularizer)
        super().build(input_shape, rng)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def forward(self, x, training=False):
        """x : (N, ..., in) → (N, ..., units)."""
        self._x = x
        z = x.reshape(-1, x.shape[-1]) @ self.params["kernel"]
        if self.use_bias:
            z += self.params["bias"]
        z = z.reshape(-1, self.units, self.pieces)
        self._winner = z.argmax(axis=-1)
        y = np.take_along_axis(z, self._winner[..., None], axis=-1)
        return y.reshape(*x.shape[:-1], self.units)

    def backward(self, dy):
        """dy : (N, ..., units) → dx (N, ..., in); grads kernel and bias."""
        dz = np.zeros((self._winner.size, self.pieces), dtype=dy.dtype)
        dz[np.arange(self._winner.size), self._winner.reshape(-1)] = dy.reshape(-1)
        dz = dz.reshape(-1, self.units * self.pieces)
        x2 = self._x.reshape(-1, self._x.shape[-1])
        self.grads["kernel"] = x2.T @ dz
        if self.use_bias:
            self.grads["bias"] = dz.sum(axis=0)
        return (dz @ self.params["kernel"].T).reshape(self._x.shape)

    def flops(self, input_shape):
        return 2 * math.prod(input_shape) * self.units * self.pieces

    def get_config(self):
        return {**super().get_config(), "units": self.units, "pieces": self.pieces,
                "use_bias": self.use_bias}

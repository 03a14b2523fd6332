"""Activation layers with arguments: LeakyReLU, PReLU (learned slopes), ELU. Shapes unchanged."""

from __future__ import annotations

import numpy as np

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.layers.base import Layer, check_initializer, check_regularizer, register


@register
class LeakyReLU(Layer):
    """``x if x >= 0 else negative_slope * x`` (Keras 3 name; `alpha` is its deprecated alias)."""

    def __init__(self, negative_slope=0.3, alpha=None, **base):
        if alpha is not None:
            negative_slope = alpha
        super().__init__(**base)
        self.negative_slope = validate.number("negative_slope", negative_slope, low=0)

    def forward(self, x, training=False):
        self._x = x
        return np.where(x >= 0, x, x * x.dtype.type(self.negative_slope))

    def backward(self, dy):
        return np.where(self._x >= 0, dy, dy * dy.dtype.type(self.negative_slope))

    def flops(self, input_shape):
        return int(np.prod(input_shape))

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@register
class PReLU(Layer):
    """``x if x >= 0 else alpha * x`` with a learned `alpha` shaped like one sample, except size
    1 along `shared_axes` (numbered as in Keras: 1 is the first axis after the batch)."""

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, shared_axes=None,
                 **base):
        super().__init__(**base)
        self.alpha_initializer = check_initializer(alpha_initializer, "alpha_initializer")
        self.alpha_regularizer = check_regularizer(alpha_regularizer, "alpha_regularizer")
        if shared_axes is None:
            self.shared_axes = ()
        else:
            axes = shared_axes if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            self.shared_axes = tuple(validate.positive_int("shared_axes", a) for a in axes)

    def build(self, input_shape, rng):
        bad = [a for a in self.shared_axes if a > len(input_shape)]
        if bad:
            raise ConfigError(f"axis {bad[0]} does not exist in an input of shape "
                              f"{list(input_shape)} (axes are numbered from 1)",
                              key="shared_axes")
        shape = tuple(1 if i + 1 in self.shared_axes else n for i, n in enumerate(input_shape))
        self.add_weight("alpha", shape, self.alpha_initializer, rng,
                        regularizer=self.alpha_regularizer)
        super().build(input_shape, rng)

    def forward(self, x, training=False):
        """x : (N, ...) → (N, ...)."""
        self._x = x
        return np.where(x >= 0, x, x * self.params["alpha"])

    def backward(self, dy):
        """dy : (N, ...) → dx; grads alpha summed over the batch and the shared axes."""
        x, alpha = self._x, self.params["alpha"]
        neg = x < 0
        axes = (0, *self.shared_axes)
        self.grads["alpha"] = np.where(neg, dy * x, 0).sum(axis=axes, keepdims=True)[0]
        return np.where(neg, dy * alpha, dy)

    def flops(self, input_shape):
        return int(np.prod(input_shape))

    def get_config(self):
        return {**super().get_config(), "shared_axes": list(self.shared_axes) or None}


@register
class ELU(Layer):
    """``x if x > 0 else alpha * (exp(x) - 1)``."""

    def __init__(self, alpha=1.0, **base):
        super().__init__(**base)
        self.alpha = validate.number("alpha", alpha)

    def forward(self, x, training=False):
        self._x = x
        self._y = np.where(x > 0, x, x.dtype.type(self.alpha) * np.expm1(np.minimum(x, 0)))
        return self._y

    def backward(self, dy):
        # for x <= 0, d/dx alpha*(e^x - 1) = alpha*e^x = y + alpha
        return np.where(self._x > 0, dy, dy * (self._y + self._y.dtype.type(self.alpha)))

    def flops(self, input_shape):
        return int(np.prod(input_shape))

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}

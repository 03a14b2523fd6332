"""Activation layers with arguments: LeakyReLU, PReLU (learned slopes), ELU, ReLU, Softmax.
Shapes unchanged."""

from __future__ import annotations

import numpy as np

from nntrain import activations, validate
from nntrain.errors import ConfigError
from nntrain.layers.base import Layer, check_initializer, check_regularizer, register


@register
class LeakyReLU(Layer):
    """``x if x >= 0 else negative_slope * x`` (Keras 3 name; `alpha` is its deprecated alias)."""

    supports_masking = True

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

    supports_masking = True

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

    supports_masking = True

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


@register
class ReLU(Layer):
    """Rectified linear unit with Keras's threshold, cap (`max_value`) and leak
    (`negative_slope`).

    ``x`` above `threshold` (0 below), capped at `max_value`, plus
    ``negative_slope * (x - threshold)`` below the threshold. The defaults are plain relu;
    ``max_value: 6`` is relu6."""

    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **base):
        super().__init__(**base)
        self.max_value = None if max_value is None else validate.number("max_value", max_value,
                                                                        low=0)
        self.negative_slope = validate.number("negative_slope", negative_slope, low=0)
        self.threshold = validate.number("threshold", threshold, low=0)

    def forward(self, x, training=False):
        t = x.dtype.type(self.threshold)
        self._x = x
        y = np.where(x > t, x, x.dtype.type(0))
        if self.max_value is not None:
            y = np.minimum(y, x.dtype.type(self.max_value))
        if self.negative_slope:
            y = y - x.dtype.type(self.negative_slope) * np.maximum(t - x, 0)
        return y

    def backward(self, dy):
        x, t = self._x, self._x.dtype.type(self.threshold)
        slope = (x > t).astype(dy.dtype)
        if self.max_value is not None:
            slope *= x < x.dtype.type(self.max_value)
        if self.negative_slope:
            slope += (x < t) * dy.dtype.type(self.negative_slope)
        return dy * slope

    def flops(self, input_shape):
        return int(np.prod(input_shape))

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


@register
class Softmax(Layer):
    """Softmax over `axis`: an int or a list of axes (1 is the first axis after the batch).

    Over the last axis alone (the default, -1) it is the softmax activation, so a
    cross-entropy loss after it gets the fused gradient. A masked input is refused: Keras
    would apply its (batch, steps) mask along the softmax axis (an error there too)."""

    def __init__(self, axis=-1, **base):
        super().__init__(**base)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, int) for a in axes) or \
                0 in axes:
            raise ConfigError(f"expected an axis or a list of axes other than the batch axis 0, "
                              f"received {axis!r}", key="axis")
        self.axis = axis if isinstance(axis, int) else list(axis)
        self._axes = tuple(axes)
        self.activation_last = self._axes == (-1,)
        self.activation = activations.get("softmax")

    def output_masked(self, input_masked) -> bool:
        if input_masked:
            raise ConfigError("Softmax cannot take its input's mask (Keras applies a mask "
                              "along the softmax axis); use Activation: softmax, or "
                              "Dense(activation: softmax), which pass the mask on")
        return False

    def compute_output_shape(self, input_shape):
        rank = len(input_shape) + 1
        for a in self._axes:
            if not -rank < a < rank:
                raise ConfigError(f"axis {a} does not exist in inputs of per-sample shape "
                                  f"{list(input_shape)}", key="axis")
        return input_shape

    def forward(self, x, training=False):
        self._z = x
        self._y = activations.softmax(x, axis=self._axes)
        return self._y

    def backward(self, dy):
        return activations.softmax_backward(self._y, dy, axis=self._axes)

    def backward_preactivation(self, dz):
        return dz

    def flops(self, input_shape):
        return 3 * int(np.prod(input_shape))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

"""Convolutions, channels_last: Conv1D and Conv2D as one matrix product over strided windows.

Forward builds the im2col matrix (one row per output position, one column per kernel tap and
input channel) from a strided view of the padded input and multiplies it by the kernel reshaped
to (taps * in_channels, filters). The window helpers (`plan_axis`, `pad_spatial`, `windows`,
`col2im`, `tap_slice`, `crop_spatial`) are shared with pooling.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from nntrain import activations, validate
from nntrain.errors import ConfigError
from nntrain.layers.base import (Layer, check_initializer, check_rank, check_regularizer,
                                 register)


# -- window geometry shared with pooling --------------------------------------------------------
def plan_axis(size: int, kernel: int, stride: int, dilation: int, padding: str):
    """Output length and (left, right) padding of one spatial axis, as Keras/TensorFlow do it.

    'same' gives ceil(size / stride) outputs with the extra pad on the right; 'causal' pads
    (kernel - 1) * dilation on the left only. The length may be < 1 for 'valid' (caller checks).
    """
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (size - span) // stride + 1, (0, 0)
    if padding == "causal":
        return (size - 1) // stride + 1, (span - 1, 0)
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return out, (total // 2, total - total // 2)


def pad_spatial(x: np.ndarray, pads, value: float = 0.0) -> np.ndarray:
    """x : (N, *S, C) → (N, *(S + pads), C), filled with `value`; x itself when no padding."""
    if not any(left or right for left, right in pads):
        return x
    shape = (x.shape[0], *(s + l + r for s, (l, r) in zip(x.shape[1:-1], pads)), x.shape[-1])
    out = np.full(shape, value, dtype=x.dtype)
    out[_inner(x.shape, pads)] = x
    return out


def crop_spatial(xp: np.ndarray, shape, pads) -> np.ndarray:
    """Inverse of `pad_spatial`: the (N, *S, C) part of a padded array."""
    if not any(left or right for left, right in pads):
        return xp
    return xp[_inner(shape, pads)]


def _inner(shape, pads):
    return (slice(None), *(slice(l, l + s) for s, (l, _) in zip(shape[1:-1], pads)), slice(None))


def windows(xp: np.ndarray, out, kernel, strides, dilation) -> np.ndarray:
    """Read-only view (N, *out, *kernel, C) of every window of the padded input xp (N, *P, C)."""
    st = xp.strides
    shape = (xp.shape[0], *out, *kernel, xp.shape[-1])
    steps = (st[0], *(a * s for a, s in zip(st[1:-1], strides)),
             *(a * d for a, d in zip(st[1:-1], dilation)), st[-1])
    return as_strided(xp, shape, steps, writeable=False)


def col2im(dwin: np.ndarray, padded_shape, strides, dilation) -> np.ndarray:
    """Adjoint of `windows`: sum window gradients (N, *out, *kernel, C) into (N, *P, C).

    Non-overlapping windows (stride == kernel, no dilation) are a reshape; otherwise one strided
    add per kernel tap (a loop over taps, never over samples).
    """
    r = len(strides)
    out, kernel = dwin.shape[1:1 + r], dwin.shape[1 + r:1 + 2 * r]
    dx = np.zeros(padded_shape, dtype=dwin.dtype)
    if tuple(strides) == tuple(kernel) and all(d == 1 for d in dilation):
        # (N, o1, o2, k1, k2, C) → (N, o1, k1, o2, k2, C) → (N, o1*k1, o2*k2, C)
        order = (0, *(a for i in range(r) for a in (1 + i, 1 + r + i)), 1 + 2 * r)
        tiles = dwin.transpose(order).reshape(dwin.shape[0], *(o * k for o, k in zip(out, kernel)),
                                              dwin.shape[-1])
        dx[(slice(None), *(slice(0, o * k) for o, k in zip(out, kernel)))] = tiles
        return dx
    for tap in np.ndindex(*kernel):
        dx[tap_slice(tap, out, strides, dilation)] += dwin[(slice(None),) * (1 + r) + tap]
    return dx


def tap_slice(tap, out, strides, dilation) -> tuple:
    """Index of the padded input (N, *P, C) read by kernel tap `tap` across all output positions:
    ``xp[tap_slice(...)]`` is ``windows(xp, ...)[:, ..., *tap, :]``, shaped (N, *out, C)."""
    return (slice(None), *(slice(t * d, t * d + s * (o - 1) + 1, s)
                           for t, d, s, o in zip(tap, dilation, strides, out)))


def check_data_format(data_format):
    """Only channels_last exists here; say so instead of silently transposing."""
    if data_format not in (None, "channels_last"):
        raise ConfigError(f"only channels_last is supported, received {data_format!r}",
                          key="data_format")
    return "channels_last"


def padding_arg(padding, choices) -> str:
    """Keras lower-cases the padding name before checking it."""
    return validate.choice("padding", padding.lower() if isinstance(padding, str) else padding,
                           choices)


# -- the layers -----------------------------------------------------------------------------
class _Conv(Layer):
    """Convolution over the spatial axes: x : (batch, *spatial, in) → (batch, *out, filters).

    kernel (*kernel_size, in, filters), bias (filters,): Keras's layout.
    """

    activation_last = True

    rank = 1
    paddings = ("valid", "same")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None,
                 **base):
        super().__init__(**base)
        r = self.rank
        self.filters = validate.positive_int("filters", filters)
        self.kernel_size = validate.int_tuple("kernel_size", kernel_size, r)
        self.strides = validate.int_tuple("strides", strides, r)
        self.dilation_rate = validate.int_tuple("dilation_rate", dilation_rate, r)
        self.padding = padding_arg(padding, self.paddings)
        self.data_format = check_data_format(data_format)
        if validate.positive_int("groups", groups) != 1:
            raise ConfigError(f"grouped convolutions are not supported, received {groups!r}",
                              key="groups")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError("strides > 1 is not supported together with dilation_rate > 1 "
                              f"(as in Keras), received strides={list(self.strides)}, "
                              f"dilation_rate={list(self.dilation_rate)}", key="strides")
        self.activation = activations.get(activation)
        self.use_bias = validate.boolean("use_bias", use_bias)
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")
        self.kernel_regularizer = check_regularizer(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = check_regularizer(bias_regularizer, "bias_regularizer")

    def _plan(self, spatial):
        """Output lengths and (left, right) pads per spatial axis; error if an axis is too short."""
        plans = [plan_axis(n, k, s, d, self.padding) for n, k, s, d in
                 zip(spatial, self.kernel_size, self.strides, self.dilation_rate)]
        out = tuple(o for o, _ in plans)
        if min(out) < 1:
            raise ConfigError(
                f"{type(self).__name__}: input of spatial shape {list(spatial)} is too short for "
                f"kernel_size={list(self.kernel_size)} with dilation_rate="
                f"{list(self.dilation_rate)} and padding='valid' (output size {list(out)})",
                key="kernel_size")
        return out, tuple(p for _, p in plans)

    def compute_output_shape(self, input_shape):
        what = "(steps, channels)" if self.rank == 1 else "(height, width, channels)"
        check_rank(self, input_shape, self.rank + 1, what)
        out, _ = self._plan(input_shape[:-1])
        return (*out, self.filters)

    def build(self, input_shape, rng):
        self.compute_output_shape(input_shape)
        self.add_weight("kernel", (*self.kernel_size, input_shape[-1], self.filters),
                        self.kernel_initializer, rng, regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng,
                            regularizer=self.bias_regularizer)
        super().build(input_shape, rng)

    def forward(self, x, training=False):
        """x : (N, *spatial, in) → (N, *out, filters)."""
        out, pads = self._plan(x.shape[1:-1])
        xp = pad_spatial(x, pads)
        rows = x.shape[0] * math.prod(out)
        cols = windows(xp, out, self.kernel_size, self.strides, self.dilation_rate)
        cols = cols.reshape(rows, -1)
        kernel = self.params["kernel"].reshape(cols.shape[1], self.filters)
        z = (cols @ kernel).reshape(x.shape[0], *out, self.filters)
        if self.use_bias:
            z += self.params["bias"]
        self._cache = (cols, x.shape, xp.shape, pads, out)
        self._z = z
        self._y = self.activation.forward(z)
        return self._y

    def backward_preactivation(self, dz):
        """dz : (N, *out, filters) → dx : (N, *spatial, in); grads kernel and bias."""
        cols, x_shape, xp_shape, pads, out = self._cache
        dz = dz.reshape(-1, self.filters)
        kernel = self.params["kernel"]
        self.grads["kernel"] = (cols.T @ dz).reshape(kernel.shape)
        if self.use_bias:
            self.grads["bias"] = dz.sum(axis=0)
        dcols = dz @ kernel.reshape(-1, self.filters).T
        dwin = dcols.reshape(x_shape[0], *out, *self.kernel_size, x_shape[-1])
        dxp = col2im(dwin, xp_shape, self.strides, self.dilation_rate)
        return crop_spatial(dxp, x_shape, pads)

    def flops(self, input_shape):
        out, _ = self._plan(input_shape[:-1])
        return 2 * math.prod(out) * math.prod(self.kernel_size) * input_shape[-1] * self.filters

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "dilation_rate": list(self.dilation_rate),
                "activation": self.activation.name, "use_bias": self.use_bias}


@register
class Conv1D(_Conv):
    """1-D convolution: (batch, steps, in) → (batch, new_steps, filters); kernel
    (kernel_size, in, filters). Padding 'valid', 'same' or 'causal' (left padding only)."""

    rank = 1
    paddings = ("valid", "same", "causal")


@register
class Conv2D(_Conv):
    """2-D convolution: (batch, h, w, in) → (batch, new_h, new_w, filters); kernel
    (kh, kw, in, filters). Padding 'valid' or 'same'."""

    rank = 2
    paddings = ("valid", "same")

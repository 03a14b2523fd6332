"""Convolutions, channels_last: Conv1D and Conv2D as one matrix product over strided windows.

Forward builds the im2col matrix (one row per output position, one column per kernel tap and
input channel) from a strided view of the padded input and multiplies it by the kernel reshaped
to (taps * in_channels, filters); backward gets the kernel gradient as one matrix product with
that matrix and the input gradient as one product followed by col2im. Window geometry lives in
`nntrain.layers.windows` (shared with pooling).
"""

from __future__ import annotations

import math

from nntrain import activations, validate
from nntrain.errors import ConfigError
from nntrain.layers.base import Layer, check_rank, column_sums, register, set_kernel_arguments
from nntrain.layers.windows import (check_data_format, check_strides_dilation, col2im,
                                    crop_spatial, pad_spatial, padding_arg, plan, windows)


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
        check_strides_dilation(self.strides, self.dilation_rate)
        self.activation = activations.get(activation)
        set_kernel_arguments(self, use_bias, kernel_initializer, bias_initializer,
                             kernel_regularizer, bias_regularizer)

    def _plan(self, spatial):
        """Output lengths and (left, right) pads per spatial axis; error if one is too short."""
        return plan(type(self).__name__, spatial, self.kernel_size, self.strides,
                    self.dilation_rate, self.padding, "kernel_size")

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
        """x : (N, *spatial, in) → (N, *out, filters). Training keeps the im2col matrix for the
        kernel gradient; inference keeps nothing (unless a backward follows: `keeps_cache`)."""
        out, pads = self._plan(x.shape[1:-1])
        xp = pad_spatial(x, pads)
        cols = windows(xp, out, self.kernel_size, self.strides, self.dilation_rate)
        cols = cols.reshape(x.shape[0] * math.prod(out), -1)   # the one im2col copy
        z = cols @ self.params["kernel"].reshape(cols.shape[1], self.filters)
        if self.use_bias:
            z += self.params["bias"]
        z = z.reshape(x.shape[0], *out, self.filters)
        keep = self.keeps_cache(training)
        y = self.activation.forward(z) if keep else self.activation.forward_over(z)
        self._cache = (cols, x.shape, xp.shape, pads, out) if keep else None
        self._z, self._y = (z, y) if keep else (None, None)
        return y

    def backward_preactivation(self, dz):
        """dz : (N, *out, filters) → dx : (N, *spatial, in) (None when the model needs no input
        gradient); grads kernel and bias."""
        cols, x_shape, xp_shape, pads, out = self.cached(self._cache)
        dz = dz.reshape(-1, self.filters)
        kernel = self.params["kernel"]
        self.grads["kernel"] = (cols.T @ dz).reshape(kernel.shape)
        if self.use_bias:
            self.grads["bias"] = column_sums(dz)
        if not self.needs_input_grad:
            return None
        dcols = dz @ kernel.reshape(-1, self.filters).T
        dwin = dcols.reshape(x_shape[0], *out, *self.kernel_size, x_shape[-1])
        dxp = col2im(dwin, xp_shape, self.strides, self.dilation_rate)
        return crop_spatial(dxp, x_shape, pads)

    def flops(self, input_shape):
        out, _ = self._plan(input_shape[:-1])
        return 2 * math.prod(out) * math.prod(self.kernel_size) * input_shape[-1] * self.filters

    def working_set(self, input_shape):
        out, _ = self._plan(input_shape[:-1])
        return math.prod(out) * (math.prod(self.kernel_size) * input_shape[-1] + self.filters)

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

"""Transposed convolutions, channels_last: Conv1DTranspose and Conv2DTranspose.

A transposed convolution is the adjoint of a convolution: every input position scatters
``x[i] @ kernel[tap].T`` to output position ``i * stride + tap * dilation``. Forward is one
matrix product (N*positions, in) @ (in, taps*filters) and a `col2im` into the "full" output of
length ``(n - 1) * stride + span`` (span = (k - 1) * dilation + 1); backward reads that same
geometry back with `windows`. The layer's output is then a window of the full one, as Keras 3
computes it (keras/src/backend/common/backend_utils.py, the JAX and torch backends):

    valid:  length (n - 1) * stride + span + output_padding, starting at 0, where
            output_padding defaults to max(span, stride) - span (zeros past the full output);
    same:   length n * stride, or (n - 1) * stride + span % 2 + output_padding when
            output_padding is given, starting at floor((span - stride) / 2) (or
            floor((span - span % 2 - output_padding) / 2)), never before 0.

That is TensorFlow's rule too: the adjoint of a 'same' convolution from the output length back
to the input length. Kernel (*kernel_size, filters, in_channels), bias (filters,): Keras's layout.
"""

from __future__ import annotations

import math

import numpy as np

from nntrain import activations, validate
from nntrain.errors import ConfigError
from nntrain.layers.base import Layer, check_rank, register, set_kernel_arguments
from nntrain.layers.windows import (check_data_format, check_strides_dilation, col2im,
                                    padding_arg, windows)


def plan_transpose_axis(size: int, kernel: int, stride: int, dilation: int, padding: str,
                        output_padding: int | None) -> tuple[int, int, int]:
    """(output length, full length, start of the output in the full one) of one axis."""
    span = (kernel - 1) * dilation + 1
    full = (size - 1) * stride + span
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        return full + extra, full, 0
    if output_padding is None:
        return size * stride, full, max((span - stride) // 2, 0)
    out = (size - 1) * stride + span % 2 + output_padding
    return out, full, max((span - span % 2 - output_padding) // 2, 0)


class _ConvTranspose(Layer):
    """x : (batch, *spatial, in) → (batch, *out, filters); see the module docstring."""

    activation_last = True
    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **base):
        super().__init__(**base)
        r = self.rank
        self.filters = validate.positive_int("filters", filters)
        self.kernel_size = validate.int_tuple("kernel_size", kernel_size, r)
        self.strides = validate.int_tuple("strides", strides, r)
        self.dilation_rate = validate.int_tuple("dilation_rate", dilation_rate, r)
        self.padding = padding_arg(padding, ("valid", "same"))
        self.output_padding = (None if output_padding is None else
                               validate.int_tuple("output_padding", output_padding, r,
                                                  positive=False))
        if self.output_padding is not None and any(
                p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ConfigError(f"each output_padding must be smaller than its stride, received "
                              f"output_padding={list(self.output_padding)}, strides="
                              f"{list(self.strides)}", key="output_padding")
        check_strides_dilation(self.strides, self.dilation_rate)
        self.data_format = check_data_format(data_format)
        self.activation = activations.get(activation)
        set_kernel_arguments(self, use_bias, kernel_initializer, bias_initializer,
                             kernel_regularizer, bias_regularizer)

    def _plan(self, spatial):
        pads = self.output_padding or (None,) * self.rank
        plans = [plan_transpose_axis(n, k, s, d, self.padding, p) for n, k, s, d, p in
                 zip(spatial, self.kernel_size, self.strides, self.dilation_rate, pads)]
        if min(p[0] for p in plans) < 1:
            raise ConfigError(f"{type(self).__name__}: input of spatial shape {list(spatial)} "
                              f"gives an empty output", key="output_padding")
        return tuple(zip(*plans))   # (out lengths, full lengths, starts)

    def compute_output_shape(self, input_shape):
        what = "(steps, channels)" if self.rank == 1 else "(height, width, channels)"
        check_rank(self, input_shape, self.rank + 1, what)
        out, _, _ = self._plan(input_shape[:-1])
        return (*out, self.filters)

    def build(self, input_shape, rng):
        self.compute_output_shape(input_shape)
        self.add_weight("kernel", (*self.kernel_size, self.filters, input_shape[-1]),
                        self.kernel_initializer, rng, regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, rng,
                            regularizer=self.bias_regularizer)
        super().build(input_shape, rng)

    def _kernel_matrix(self) -> np.ndarray:
        """The kernel as (in, taps * filters): row c holds every tap's column for channel c."""
        kernel = self.params["kernel"]
        return np.moveaxis(kernel, -1, 0).reshape(kernel.shape[-1], -1)

    def _window(self, out, starts):
        """Index of the output window in the full output (N, *full, filters)."""
        return (slice(None), *(slice(s, s + o) for s, o in zip(starts, out)), slice(None))

    def forward(self, x, training=False):
        """x : (N, *spatial, in) → (N, *out, filters)."""
        spatial = x.shape[1:-1]
        out, full, starts = self._plan(spatial)
        x2 = x.reshape(-1, x.shape[-1])
        taps = (x2 @ self._kernel_matrix()).reshape(x.shape[0], *spatial, *self.kernel_size,
                                                    self.filters)
        y_full = col2im(taps, (x.shape[0], *full, self.filters), self.strides,
                        self.dilation_rate)
        z = np.zeros((x.shape[0], *out, self.filters), dtype=x.dtype)
        inside = tuple(min(o, f - s) for o, f, s in zip(out, full, starts))
        z[self._window(inside, (0,) * self.rank)] = y_full[self._window(inside, starts)]
        if self.use_bias:
            z += self.params["bias"]
        self._cache = (x2, x.shape, full, starts, inside)
        self._z = z
        self._y = self.activation.forward(z)
        return self._y

    def backward_preactivation(self, dz):
        """dz : (N, *out, filters) → dx : (N, *spatial, in); grads kernel and bias."""
        x2, x_shape, full, starts, inside = self._cache
        if self.use_bias:
            self.grads["bias"] = dz.reshape(-1, self.filters).sum(axis=0)
        d_full = np.zeros((x_shape[0], *full, self.filters), dtype=dz.dtype)
        d_full[self._window(inside, starts)] = dz[self._window(inside, (0,) * self.rank)]
        cols = windows(d_full, x_shape[1:-1], self.kernel_size, self.strides,
                       self.dilation_rate).reshape(x2.shape[0], -1)
        kernel = self.params["kernel"]
        g = x2.T @ cols                                  # (in, taps * filters)
        self.grads["kernel"] = np.moveaxis(g.reshape(kernel.shape[-1], *kernel.shape[:-1]),
                                           0, -1)
        return (cols @ self._kernel_matrix().T).reshape(x_shape)

    def flops(self, input_shape):
        return (2 * math.prod(input_shape[:-1]) * math.prod(self.kernel_size) * input_shape[-1]
                * self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding,
                "output_padding": None if self.output_padding is None
                else list(self.output_padding),
                "dilation_rate": list(self.dilation_rate), "activation": self.activation.name,
                "use_bias": self.use_bias}


@register
class Conv1DTranspose(_ConvTranspose):
    """1-D transposed convolution: (batch, steps, in) → (batch, new_steps, filters); kernel
    (kernel_size, filters, in)."""

    rank = 1


@register
class Conv2DTranspose(_ConvTranspose):
    """2-D transposed convolution: (batch, h, w, in) → (batch, new_h, new_w, filters); kernel
    (kh, kw, filters, in)."""

    rank = 2

"""Pooling, channels_last: Max/AveragePooling1D/2D over (strided) windows, and global pooling.

'same' padding is TensorFlow's (extra pad on the right). Max pooling pads with -inf and routes
each window's gradient to one position, its (first) argmax, as TensorFlow does; average pooling
with 'same' divides by the number of real (unpadded) elements in each window, as Keras does.
"""

from __future__ import annotations

import math

import numpy as np

from nntrain import validate
from nntrain.layers.base import Layer, check_rank, register
from nntrain.layers.windows import (check_data_format, crop_spatial, overlapping, pad_spatial,
                                    padding_arg, plan, tap_slice)


class _Pool(Layer):
    """Window pooling over the spatial axes: x : (batch, *spatial, C) → (batch, *out, C)."""

    rank = 1
    mode = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **base):
        super().__init__(**base)
        self.pool_size = validate.int_tuple("pool_size", pool_size, self.rank)
        self.strides = (self.pool_size if strides is None
                        else validate.int_tuple("strides", strides, self.rank))
        self.padding = padding_arg(padding, ("valid", "same"))
        self.data_format = check_data_format(data_format)

    def _plan(self, spatial):
        return plan(type(self).__name__, spatial, self.pool_size, self.strides,
                    (1,) * self.rank, self.padding, "pool_size")

    def compute_output_shape(self, input_shape):
        what = "(steps, channels)" if self.rank == 1 else "(height, width, channels)"
        check_rank(self, input_shape, self.rank + 1, what)
        out, _ = self._plan(input_shape[:-1])
        return (*out, input_shape[-1])

    def _taps(self, out):
        """Index into the padded input for each window position: (N, *out, C) views."""
        return [tap_slice(tap, out, self.strides, (1,) * self.rank)
                for tap in np.ndindex(*self.pool_size)]

    def forward(self, x, training=False):
        """x : (N, *spatial, C) → (N, *out, C), reduced one window position at a time (a few
        passes over contiguous memory beat one reduction over a strided window view)."""
        out, pads = self._plan(x.shape[1:-1])
        xp = pad_spatial(x, pads, -np.inf if self.mode == "max" else 0.0)
        first, *rest = self._taps(out)
        y = xp[first].copy()
        for tap in rest:
            if self.mode == "max":
                np.maximum(y, xp[tap], out=y)
            else:
                y += xp[tap]
        counts = None
        if self.mode == "avg":
            counts = self._window_counts(x.shape[1:-1], out, pads, x.dtype)
            y /= counts
        self._cache = (xp, x.shape, pads, out, y, counts) if self.keeps_cache(training) else None
        return y

    def _window_counts(self, spatial, out, pads, dtype):
        """Real elements per window, shaped (*out, 1) to broadcast over (N, *out, C)."""
        if self.padding == "valid":
            return dtype.type(math.prod(self.pool_size))
        counts = np.ones((), dtype=dtype)
        for n, k, s, o, (left, _) in zip(spatial, self.pool_size, self.strides, out, pads):
            start = np.arange(o) * s - left
            per_axis = (np.minimum(start + k, n) - np.maximum(start, 0)).astype(dtype)
            counts = np.multiply.outer(counts, per_axis)
        return counts[..., None]

    def backward(self, dy):
        """dy : (N, *out, C) → dx : (N, *spatial, C), one strided pass per window position
        (assigned when windows do not overlap, added when they do)."""
        xp, x_shape, pads, out, y, counts = self.cached(self._cache)
        dxp = np.zeros(xp.shape, dtype=dy.dtype)
        add = overlapping(self.pool_size, self.strides, (1,) * self.rank)
        taps = self._taps(out)
        if self.mode == "max":
            # The first position equal to the window's max takes the whole gradient: `left`
            # is the gradient not yet routed, zeroed (exactly: g - g) where a tap takes it.
            left, part = dy, np.empty_like(dy)
            for i, tap in enumerate(taps):
                np.multiply(left, xp[tap] == y, out=part)
                self._put(dxp, tap, part, add)
                if i + 1 < len(taps):
                    left = np.subtract(left, part, out=left if i else None)
        else:
            g = dy / counts
            for tap in taps:
                self._put(dxp, tap, g, add)
        return crop_spatial(dxp, x_shape, pads)

    @staticmethod
    def _put(dxp, tap, part, add: bool) -> None:
        if add:
            dxp[tap] += part
        else:
            dxp[tap] = part

    def flops(self, input_shape):
        out, _ = self._plan(input_shape[:-1])
        return math.prod(out) * math.prod(self.pool_size) * input_shape[-1]

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}


@register
class MaxPooling1D(_Pool):
    """Max over windows of `pool_size` steps: (batch, steps, C) → (batch, new_steps, C)."""

    rank, mode = 1, "max"


@register
class MaxPooling2D(_Pool):
    """Max over (ph, pw) windows: (batch, h, w, C) → (batch, new_h, new_w, C)."""

    rank, mode = 2, "max"


@register
class AveragePooling1D(_Pool):
    """Mean over windows of `pool_size` steps: (batch, steps, C) → (batch, new_steps, C)."""

    rank, mode = 1, "avg"


@register
class AveragePooling2D(_Pool):
    """Mean over (ph, pw) windows: (batch, h, w, C) → (batch, new_h, new_w, C)."""

    rank, mode = 2, "avg"


class _GlobalPool(Layer):
    """Reduce every spatial axis: (batch, *spatial, C) → (batch, C), or (batch, 1.., C) with
    keepdims."""

    rank = 1
    mode = "max"

    def __init__(self, data_format=None, keepdims=False, **base):
        super().__init__(**base)
        self.data_format = check_data_format(data_format)
        self.keepdims = validate.boolean("keepdims", keepdims)

    def compute_output_shape(self, input_shape):
        what = "(steps, channels)" if self.rank == 1 else "(height, width, channels)"
        check_rank(self, input_shape, self.rank + 1, what)
        return (*(1,) * self.rank, input_shape[-1]) if self.keepdims else (input_shape[-1],)

    def forward(self, x, training=False):
        """x : (N, *spatial, C) → (N, C) (or (N, 1.., C) with keepdims)."""
        self._x_shape = x.shape
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        if self.mode == "max":
            self._flat = flat
            y = flat.max(axis=1)
        else:
            y = flat.mean(axis=1)
        return y.reshape(x.shape[0], *(1,) * self.rank, x.shape[-1]) if self.keepdims else y

    def backward(self, dy):
        """dy : (N, C) → dx : (N, *spatial, C)."""
        n, c = self._x_shape[0], self._x_shape[-1]
        dy = dy.reshape(n, 1, c)
        if self.mode == "max":
            steps = self._flat.shape[1]
            arg = self._flat.argmax(axis=1)
            dx = (np.arange(steps).reshape(steps, 1) == arg[:, None, :]) * dy
        else:
            steps = math.prod(self._x_shape[1:-1])
            dx = np.broadcast_to(dy * dy.dtype.type(1.0 / steps), (n, steps, c))
        return np.ascontiguousarray(dx).reshape(self._x_shape)

    def flops(self, input_shape):
        return math.prod(input_shape)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


@register
class GlobalMaxPooling1D(_GlobalPool):
    """Max over steps: (batch, steps, C) → (batch, C)."""

    rank, mode = 1, "max"


@register
class GlobalMaxPooling2D(_GlobalPool):
    """Max over height and width: (batch, h, w, C) → (batch, C)."""

    rank, mode = 2, "max"


@register
class GlobalAveragePooling1D(_GlobalPool):
    """Mean over steps: (batch, steps, C) → (batch, C). With a mask (batch, steps), the mean
    of the unmasked steps, as Keras: a fully masked sequence gives 0/0 = NaN there too."""

    rank, mode = 1, "avg"
    takes_mask = True

    def forward(self, x, training=False, mask=None):
        self._share = None
        if mask is None:
            return super().forward(x, training)
        keep = np.asarray(mask, dtype=bool)[..., None]                    # (N, T, 1)
        count = keep.sum(axis=1).astype(x.dtype)                         # (N, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(keep, x, x.dtype.type(0)).sum(axis=1) / count
            self._share = keep / count[:, None]                          # 1/count or 0
        self._x_shape = x.shape
        return y[:, None, :] if self.keepdims else y

    def backward(self, dy):
        if self._share is None:
            return super().backward(dy)
        n, c = self._x_shape[0], self._x_shape[-1]
        return dy.reshape(n, 1, c) * self._share


@register
class GlobalAveragePooling2D(_GlobalPool):
    """Mean over height and width: (batch, h, w, C) → (batch, C)."""

    rank, mode = 2, "avg"

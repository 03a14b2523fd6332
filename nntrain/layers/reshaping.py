"""Reshaping layers without weights (Keras ``keras.layers.reshaping``): UpSampling1D/2D,
ZeroPadding1D/2D, Cropping1D/2D, RepeatVector, Permute. channels_last; shapes per sample."""

from __future__ import annotations

import numbers

import numpy as np

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.layers.base import Layer, check_rank, register
from nntrain.layers.windows import check_data_format, crop_spatial, pad_spatial
from nntrain.layers.sampling import resize, resize_backward, resize_matrix


def _pairs(name: str, value, rank: int) -> tuple[tuple[int, int], ...]:
    """Keras's padding/cropping forms: an int (all sides), `rank` ints (symmetric per axis), or
    `rank` pairs (before, after); for rank 1 also one pair."""
    def pair(v):
        if isinstance(v, numbers.Integral) and not isinstance(v, bool):
            v = (v, v)
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise ConfigError(f"expected an integer, {rank} integers or {rank} pairs of "
                              f"integers, received {value!r}", key=name)
        return tuple(validate.non_negative_int(name, a) for a in v)
    if rank == 1:
        return (pair(value),)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (pair(value),) * rank
    if not isinstance(value, (list, tuple)) or len(value) != rank:
        raise ConfigError(f"expected an integer, {rank} integers or {rank} pairs of integers, "
                          f"received {value!r}", key=name)
    return tuple(pair(v) for v in value)


def _what(rank: int) -> str:
    return "(steps, channels)" if rank == 1 else "(height, width, channels)"


class _Pad(Layer):
    """Zeros around the spatial axes: (batch, *spatial, C) → (batch, *(spatial + pads), C)."""

    rank = 1

    def __init__(self, padding, data_format=None, **base):
        super().__init__(**base)
        self.padding = _pairs("padding", padding, self.rank)
        self.data_format = check_data_format(data_format)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, self.rank + 1, _what(self.rank))
        return (*(n + a + b for n, (a, b) in zip(input_shape, self.padding)), input_shape[-1])

    def forward(self, x, training=False):
        self._shape = x.shape
        return pad_spatial(x, self.padding)

    def backward(self, dy):
        return crop_spatial(dy, self._shape, self.padding)

    def get_config(self):
        pads = [list(p) for p in self.padding]
        return {**super().get_config(), "padding": pads[0] if self.rank == 1 else pads}


@register
class ZeroPadding1D(_Pad):
    """Pads the steps with zeros: `padding` an int or (left, right)."""

    rank = 1

    def __init__(self, padding=1, **base):
        super().__init__(padding, **base)


@register
class ZeroPadding2D(_Pad):
    """Pads rows and columns with zeros: `padding` an int, (rows, columns) on both sides, or
    ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **base):
        super().__init__(padding, data_format, **base)


class _Crop(Layer):
    """Drop rows at the spatial edges: (batch, *spatial, C) → (batch, *(spatial - crops), C)."""

    rank = 1

    def __init__(self, cropping, data_format=None, **base):
        super().__init__(**base)
        self.cropping = _pairs("cropping", cropping, self.rank)
        self.data_format = check_data_format(data_format)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, self.rank + 1, _what(self.rank))
        out = tuple(n - a - b for n, (a, b) in zip(input_shape, self.cropping))
        if min(out) < 1:
            raise ConfigError(f"cropping {[list(c) for c in self.cropping]} leaves nothing of an "
                              f"input of shape {list(input_shape)}", key="cropping")
        return (*out, input_shape[-1])

    def forward(self, x, training=False):
        self._out = (x.shape[0], *self.compute_output_shape(x.shape[1:]))
        return crop_spatial(x, self._out, self.cropping)

    def backward(self, dy):
        return pad_spatial(dy, self.cropping)

    def get_config(self):
        crops = [list(c) for c in self.cropping]
        return {**super().get_config(), "cropping": crops[0] if self.rank == 1 else crops}


@register
class Cropping1D(_Crop):
    """Drops steps at the ends: `cropping` an int or (start, end)."""

    rank = 1

    def __init__(self, cropping=(1, 1), **base):
        super().__init__(cropping, **base)


@register
class Cropping2D(_Crop):
    """Drops rows and columns at the edges: `cropping` an int, (rows, columns) from both
    sides, or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **base):
        super().__init__(cropping, data_format, **base)


@register
class UpSampling1D(Layer):
    """Repeat each step `size` times: (batch, steps, C) → (batch, steps * size, C)."""

    def __init__(self, size=2, **base):
        super().__init__(**base)
        self.size = validate.positive_int("size", size)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 2, _what(1))
        return (input_shape[0] * self.size, input_shape[1])

    def forward(self, x, training=False):
        return np.repeat(x, self.size, axis=1)

    def backward(self, dy):
        n, t, c = dy.shape
        return dy.reshape(n, t // self.size, self.size, c).sum(axis=2)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@register
class UpSampling2D(Layer):
    """Scales height and width by `size`, repeating pixels or bilinearly.

    (batch, h, w, C) → (batch, h * sh, w * sw, C); `interpolation` 'nearest' repeats pixels,
    'bilinear' interpolates with half-pixel centres, as Keras's ``ops.image.resize``."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **base):
        super().__init__(**base)
        self.size = validate.int_tuple("size", size, 2)
        self.data_format = check_data_format(data_format)
        if isinstance(interpolation, str):
            interpolation = interpolation.lower()
        self.interpolation = validate.choice("interpolation", interpolation,
                                             ("nearest", "bilinear"))

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 3, _what(2))
        h, w, c = input_shape
        return (h * self.size[0], w * self.size[1], c)

    def forward(self, x, training=False):
        """x : (N, h, w, C) → (N, h*sh, w*sw, C)."""
        sh, sw = self.size
        if self.interpolation == "nearest":
            return np.repeat(np.repeat(x, sh, axis=1), sw, axis=2)
        h, w = x.shape[1:3]
        self._matrices = (resize_matrix(h, h * sh), resize_matrix(w, w * sw))
        return resize(x, *self._matrices)

    def backward(self, dy):
        sh, sw = self.size
        if self.interpolation == "bilinear":
            return resize_backward(dy, *self._matrices)
        n, h, w, c = dy.shape
        return dy.reshape(n, h // sh, sh, w // sw, sw, c).sum(axis=(2, 4))

    def get_config(self):
        return {**super().get_config(), "size": list(self.size),
                "interpolation": self.interpolation}


@register
class RepeatVector(Layer):
    """(batch, features) → (batch, n, features): the vector repeated n times."""

    def __init__(self, n, **base):
        super().__init__(**base)
        self.n = validate.positive_int("n", n)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 1, "(features,)")
        return (self.n, input_shape[0])

    def forward(self, x, training=False):
        return np.repeat(x[:, None, :], self.n, axis=1)

    def backward(self, dy):
        return dy.sum(axis=1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


@register
class Permute(Layer):
    """Reorder the per-sample axes: `dims` is a permutation of 1..rank (1 is the first axis
    after the batch), e.g. (2, 1) swaps steps and features."""

    def __init__(self, dims, **base):
        super().__init__(**base)
        if not isinstance(dims, (list, tuple)) or not dims or any(
                isinstance(d, bool) or not isinstance(d, numbers.Integral) for d in dims) or \
                sorted(dims) != list(range(1, len(dims) + 1)):
            raise ConfigError(f"expected a permutation of 1..n (axis 0 is the batch), received "
                              f"{dims!r}", key="dims")
        self.dims = tuple(int(d) for d in dims)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, len(self.dims), f"rank {len(self.dims)} inputs")
        return tuple(input_shape[d - 1] for d in self.dims)

    def forward(self, x, training=False):
        return x.transpose(0, *self.dims)

    def backward(self, dy):
        return dy.transpose(0, *(int(i) + 1 for i in np.argsort(self.dims)))

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}

"""Merge layers (Keras ``keras.layers.merging``): Add, Subtract, Multiply, Average, Maximum,
Minimum, Concatenate, Dot.

They take several inputs (``multi_input = True``): ``build`` / ``compute_output_shape`` get a
list of per-sample shapes, ``forward`` a list of arrays, and ``backward(dy)`` returns a list of
input gradients. Element-wise merges want inputs of equal shape (Keras's broadcasting of
size-1 axes is not supported); `axis` / `axes` count the batch axis as Keras does (``axis=1`` is
the first per-sample axis, ``-1`` the last).

Masks as Keras 3 combines them: an element-wise merge's output is masked when every input is,
with the OR of their masks; Maximum and Minimum leave masked inputs out of the comparison and
Multiply treats them as 1 (zeros where no input counts). Concatenate concatenates the masks
(all True for an unmasked input) and ORs over the last axis; Dot's output has no mask.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.layers.base import Layer, register


def _describe(shapes) -> str:
    return ", ".join(f"{list(s)} (input {i})" for i, s in enumerate(shapes))


def _keeps(x, mask) -> list | None:
    """Each input's mask broadcastable against it, (N, ..., 1) bool (None for an input without
    one); None when no input has a mask."""
    if mask is None or all(m is None for m in mask):
        return None
    return [None if m is None else np.asarray(m, dtype=bool)[..., None] for m in mask]


class Merge(Layer):
    """Element-wise merge of n inputs of equal shape, (N, ...) each → (N, ...)."""

    multi_input = True
    min_inputs, max_inputs = 1, None
    supports_masking = True

    def output_masked(self, input_masked) -> bool:
        return all(input_masked)

    def compute_mask(self, x, mask):
        return np.logical_or.reduce([np.asarray(m, dtype=bool) for m in mask])

    def _check_count(self, shapes) -> list[tuple[int, ...]]:
        if not isinstance(shapes, (list, tuple)) or not shapes or not all(
                isinstance(s, (list, tuple)) for s in shapes):
            raise ConfigError(f"{type(self).__name__} takes a list of inputs, received input "
                              f"shape {shapes!r}")
        n = len(shapes)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = (f"exactly {self.min_inputs}" if self.min_inputs == self.max_inputs
                    else f"at least {self.min_inputs}")
            raise ConfigError(f"{type(self).__name__} takes {want} inputs, received {n}: "
                              f"{_describe(shapes)}")
        return [tuple(s) for s in shapes]

    def build(self, input_shape, rng):
        self.compute_output_shape(input_shape)
        super().build(input_shape, rng)

    def compute_output_shape(self, input_shape):
        shapes = self._check_count(input_shape)
        if any(s != shapes[0] for s in shapes):
            raise ConfigError(f"{type(self).__name__} expects inputs of the same shape, "
                              f"received {_describe(shapes)}")
        return shapes[0]

    def flops(self, input_shape):
        return (len(input_shape) - 1) * math.prod(input_shape[0])


@register
class Add(Merge):
    """Sum of the inputs."""

    def forward(self, x, training=False):
        self._n = len(x)
        return sum(x[1:], x[0].copy())

    def backward(self, dy):
        return [dy] + [dy.copy() for _ in range(self._n - 1)]


@register
class Subtract(Merge):
    """``x0 - x1`` (exactly two inputs)."""

    min_inputs = max_inputs = 2

    def forward(self, x, training=False):
        return x[0] - x[1]

    def backward(self, dy):
        return [dy, -dy]


@register
class Multiply(Merge):
    """Element-wise product of the inputs (masked entries count as 1; where no input counts,
    0 when every input has a mask)."""

    takes_mask = True

    def forward(self, x, training=False, mask=None):
        keeps, self._out_keep = _keeps(x, mask), None
        if keeps is not None:
            x = [xi if k is None else np.where(k, xi, xi.dtype.type(1)) for xi, k in
                 zip(x, keeps)]
            if all(k is not None for k in keeps):
                self._out_keep = np.logical_or.reduce(keeps)
        self._x, self._keeps = x, keeps
        out = x[0].copy()
        for xi in x[1:]:
            out *= xi
        return out if self._out_keep is None else np.where(self._out_keep, out, 0)

    def backward(self, dy):
        if self._out_keep is not None:
            dy = np.where(self._out_keep, dy, 0)
        grads = []
        for i in range(len(self._x)):
            g = dy.copy()
            for j, xj in enumerate(self._x):
                if j != i:
                    g *= xj
            if self._keeps is not None and self._keeps[i] is not None:
                g = np.where(self._keeps[i], g, 0)
            grads.append(g)
        return grads


@register
class Average(Merge):
    """Element-wise mean of the inputs."""

    def forward(self, x, training=False):
        self._n = len(x)
        return sum(x[1:], x[0].copy()) * (1.0 / self._n)

    def backward(self, dy):
        return [dy * (1.0 / self._n) for _ in range(self._n)]


class _Extremum(Merge):
    """Element-wise max/min; the gradient goes to the input that won (the first on ties).
    Masked entries take no part (where no input counts, the first input's value)."""

    pick = staticmethod(np.argmax)
    takes_mask = True

    def forward(self, x, training=False, mask=None):
        stacked = np.stack(x)
        keeps = _keeps(x, mask)
        if keeps is None:
            self._winner = self.pick(stacked, axis=0)
        else:
            valid = np.stack([np.ones(xi.shape[:-1] + (1,), dtype=bool) if k is None else k
                              for xi, k in zip(x, keeps)])
            out_of_play = -np.inf if self.pick is np.argmax else np.inf
            winner = self.pick(np.where(valid, stacked, out_of_play), axis=0)
            self._winner = np.where(valid.any(axis=0), winner, 0)
        self._n = len(x)
        return np.take_along_axis(stacked, self._winner[None], axis=0)[0]

    def backward(self, dy):
        return [dy * (self._winner == i) for i in range(self._n)]


@register
class Maximum(_Extremum):
    """Element-wise maximum of the inputs."""

    pick = staticmethod(np.argmax)


@register
class Minimum(_Extremum):
    """Element-wise minimum of the inputs."""

    pick = staticmethod(np.argmin)


def _sample_axis(layer: Layer, axis: int, rank: int, what: str = "axis") -> int:
    """A Keras axis (batch counted, negative from the end) as a per-sample axis in [0, rank)."""
    full = axis + rank + 1 if axis < 0 else axis
    if not 1 <= full <= rank:
        raise ConfigError(f"{type(layer).__name__}: {what}={axis} is not a per-sample axis of "
                          f"inputs of per-sample rank {rank} (axis 0 is the batch)", key=what)
    return full - 1


def _int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"expected an integer, received {value!r}", key=name)
    return int(value)


@register
class Concatenate(Merge):
    """Joins the inputs along `axis` (default -1); all other axes must agree."""

    def __init__(self, axis=-1, **base):
        super().__init__(**base)
        self.axis = _int("axis", axis)
        if self.axis == 0:
            raise ConfigError("cannot concatenate along the batch axis, received axis=0",
                              key="axis")

    def compute_output_shape(self, input_shape):
        shapes = self._check_count(input_shape)
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise ConfigError(f"Concatenate expects inputs of the same rank, received "
                              f"{_describe(shapes)}")
        ax = _sample_axis(self, self.axis, rank)
        rest = [s[:ax] + s[ax + 1:] for s in shapes]
        if any(r != rest[0] for r in rest):
            raise ConfigError(f"Concatenate(axis={self.axis}) expects inputs that agree on every "
                              f"axis but the concatenation axis, received {_describe(shapes)}")
        return (*shapes[0][:ax], sum(s[ax] for s in shapes), *shapes[0][ax + 1:])

    def output_masked(self, input_masked) -> bool:
        return any(input_masked)

    def compute_mask(self, x, mask):
        """Keras's: the masks (all True for an unmasked input), broadcast to the inputs,
        concatenated along `axis`, then OR over the last axis."""
        ax = _sample_axis(self, self.axis, x[0].ndim - 1) + 1
        full = [np.ones(xi.shape, dtype=bool) if m is None else
                np.broadcast_to(np.asarray(m, dtype=bool)[..., None], xi.shape)
                for xi, m in zip(x, mask)]
        return np.concatenate(full, axis=ax).any(axis=-1)

    def forward(self, x, training=False):
        self._ax = _sample_axis(self, self.axis, x[0].ndim - 1) + 1
        self._sizes = [xi.shape[self._ax] for xi in x]
        return np.concatenate(x, axis=self._ax)

    def backward(self, dy):
        return np.split(dy, np.cumsum(self._sizes)[:-1], axis=self._ax)

    def flops(self, input_shape):
        return 0

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@register
class Dot(Merge):
    """Dot product of two inputs along `axes` (an int, or one axis per input), per sample, as
    Keras's ``batch_dot``: the output has x0's remaining axes then x1's, or shape (1,) when
    none remain. `normalize` L2-normalizes both along their axes first (cosine similarity)."""

    min_inputs = max_inputs = 2
    EPSILON = 1e-7  # Keras's backend.epsilon(): lower bound of the norm

    def output_masked(self, input_masked) -> bool:
        return False    # Keras's Dot.compute_mask: None

    def __init__(self, axes, normalize=False, **base):
        super().__init__(**base)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2:
                raise ConfigError(f"expected an integer or a list of two integers, received "
                                  f"{axes!r}", key="axes")
            self.axes = (_int("axes", axes[0]), _int("axes", axes[1]))
        else:
            self.axes = (_int("axes", axes),) * 2
        self.normalize = validate.boolean("normalize", normalize)

    def _sample_axes(self, shapes) -> tuple[int, int]:
        return tuple(_sample_axis(self, a, len(s), "axes") for a, s in zip(self.axes, shapes))

    def compute_output_shape(self, input_shape):
        s0, s1 = self._check_count(input_shape)
        a0, a1 = self._sample_axes((s0, s1))
        if s0[a0] != s1[a1]:
            raise ConfigError(f"Dot(axes={list(self.axes)}) needs equal sizes on the dot axes, "
                              f"received {_describe((s0, s1))}: {s0[a0]} != {s1[a1]}")
        out = s0[:a0] + s0[a0 + 1:] + s1[:a1] + s1[a1 + 1:]
        return out or (1,)

    def _subscripts(self, r0: int, r1: int):
        a0, a1 = self._sample_axes(((0,) * r0, (0,) * r1))
        letters = iter("abcdefghijklmnopqrstuvwxy")
        s0 = [next(letters) for _ in range(r0)]
        s1 = [next(letters) for _ in range(r1)]
        s1[a1] = s0[a0]
        out = [c for i, c in enumerate(s0) if i != a0] + [c for i, c in enumerate(s1) if i != a1]
        return "z" + "".join(s0), "z" + "".join(s1), "z" + "".join(out), (a0 + 1, a1 + 1)

    def _unit(self, x, axis):
        norm = np.maximum(np.sqrt((x * x).sum(axis=axis, keepdims=True)), self.EPSILON)
        inv = (1.0 / norm).astype(x.dtype, copy=False)
        return x * inv, inv, norm > self.EPSILON

    def forward(self, x, training=False):
        x0, x1 = x
        e0, e1, eo, (a0, a1) = self._subscripts(x0.ndim - 1, x1.ndim - 1)
        self._spec, self._axes = (e0, e1, eo), (a0, a1)
        if self.normalize:
            (x0, *self._n0), (x1, *self._n1) = self._unit(x0, a0), self._unit(x1, a1)
        self._x = (x0, x1)
        y = np.einsum(f"{e0},{e1}->{eo}", x0, x1)
        return y.reshape(len(y), 1) if y.ndim == 1 else y

    def backward(self, dy):
        (e0, e1, eo), (x0, x1) = self._spec, self._x
        dy = dy.reshape(len(dy)) if len(eo) == 1 else dy
        d0 = np.einsum(f"{eo},{e1}->{e0}", dy, x1)
        d1 = np.einsum(f"{eo},{e0}->{e1}", dy, x0)
        if self.normalize:
            d0 = self._unit_backward(d0, x0, *self._n0, self._axes[0])
            d1 = self._unit_backward(d1, x1, *self._n1, self._axes[1])
        return [d0, d1]

    @staticmethod
    def _unit_backward(du, u, inv, above_eps, axis):
        """Through ``u = x / max(|x|, eps)``: ``(du - u * <du, u>) / |x|`` (only du / eps where
        the norm was clipped)."""
        proj = (du * u).sum(axis=axis, keepdims=True) * above_eps
        return (du - u * proj) * inv

    def flops(self, input_shape):
        s0, s1 = input_shape
        a0, _ = self._sample_axes((s0, s1))
        return 2 * math.prod(self.compute_output_shape(input_shape)) * s0[a0]

    def get_config(self):
        axes = self.axes[0] if self.axes[0] == self.axes[1] else list(self.axes)
        return {**super().get_config(), "axes": axes, "normalize": self.normalize}

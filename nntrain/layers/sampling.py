"""Resampling images (N, H, W, C), shared by UpSampling2D, RandomCrop and the affine
augmentation layers. Everything here is linear in the image, so each forward has an exact
adjoint for backward.

- `resize_matrix(n_in, n_out)`: bilinear resizing along one axis as a (n_out, n_in) matrix,
  half-pixel centres and no antialiasing (Keras's ``ops.image.resize``, which is torch's
  ``interpolate(mode="bilinear", align_corners=False)``).
- `AffineSample`: read an image at arbitrary (row, column) coordinates with nearest or bilinear
  interpolation and Keras's fill modes outside the image (``ops.image.map_coordinates``):
  reflect ``(d c b a | a b c d | d c b a)``, wrap, nearest, constant (`fill_value`).
"""

from __future__ import annotations

import numpy as np

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights: output i reads source coordinate (i + 0.5) * n_in / n_out - 0.5,
    clamped at 0, between its two neighbouring pixels (the last pixel repeats at the edge)."""
    src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    src = np.maximum(src, 0.0)
    low = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    frac = src - low
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), low), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), high), frac)
    return m


def resize(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """x (N, H, W, C) → (N, H', W', C) with row and column matrices (H', H), (W', W)."""
    t = np.einsum("ih,nhwc->niwc", rows.astype(x.dtype), x)
    return np.einsum("jw,niwc->nijc", cols.astype(x.dtype), t)


def resize_backward(dy: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The adjoint of `resize`: dy (N, H', W', C) → (N, H, W, C)."""
    t = np.einsum("jw,nijc->niwc", cols.astype(dy.dtype), dy)
    return np.einsum("ih,niwc->nhwc", rows.astype(dy.dtype), t)


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """Half-sample symmetric reflection, Keras's ``_reflect_index_fixer``."""
    period = 2 * size
    i = np.mod(index, period)
    return np.where(i < size, i, period - 1 - i)


_FIXERS = {
    "reflect": _reflect,
    "wrap": lambda index, size: np.mod(index, size),
    "nearest": lambda index, size: np.clip(index, 0, size - 1),
    "constant": lambda index, size: np.clip(index, 0, size - 1),
}


def _nodes(coord: np.ndarray, interpolation: str):
    """[(integer index, weight)] of one axis' interpolation."""
    if interpolation == "nearest":
        return [(np.round(coord).astype(np.int64), np.ones_like(coord))]
    low = np.floor(coord)
    frac = coord - low
    low = low.astype(np.int64)
    return [(low, 1.0 - frac), (low + 1, frac)]


class AffineSample:
    """Sampling plan for images (N, H, W, C) read at source coordinates rows, cols (N, H', W')
    (float): ``apply(x)`` gives (N, H', W', C), ``adjoint(dy)`` the gradient with respect to x.
    Outside the image `fill_mode` decides; 'constant' contributes `fill_value` times the
    interpolation weight that fell outside (no gradient)."""

    def __init__(self, shape, rows, cols, *, interpolation="bilinear", fill_mode="reflect",
                 fill_value=0.0):
        n, h, w, _ = shape
        self.shape = tuple(shape)
        batch = np.arange(n).reshape(n, 1, 1)
        self.taps = []    # (flat index into the (N*H*W, C) image, weight (N, H', W'))
        self.fill = None  # (N, H', W'): fill_value times the weight outside the image
        for iy, wy in _nodes(rows, interpolation):
            for ix, wx in _nodes(cols, interpolation):
                weight = wy * wx
                if fill_mode == "constant":
                    outside = (iy < 0) | (iy >= h) | (ix < 0) | (ix >= w)
                    if fill_value != 0:
                        part = np.where(outside, weight * fill_value, 0.0)
                        self.fill = part if self.fill is None else self.fill + part
                    weight = np.where(outside, 0.0, weight)
                fy, fx = _FIXERS[fill_mode](iy, h), _FIXERS[fill_mode](ix, w)
                self.taps.append(((batch * h + fy) * w + fx, weight))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """x (N, H, W, C) → (N, H', W', C)."""
        flat = x.reshape(-1, x.shape[-1])
        out = sum(flat[index] * weight[..., None].astype(x.dtype)
                  for index, weight in self.taps)
        if self.fill is not None:
            out += self.fill[..., None].astype(x.dtype)
        return out

    def adjoint(self, dy: np.ndarray) -> np.ndarray:
        """dy (N, H', W', C) → dx (N, H, W, C)."""
        c = dy.shape[-1]
        dx = np.zeros((int(np.prod(self.shape[:3])), c), dtype=dy.dtype)
        for index, weight in self.taps:
            np.add.at(dx, index.reshape(-1),
                      (dy * weight[..., None].astype(dy.dtype)).reshape(-1, c))
        return dx.reshape(self.shape)

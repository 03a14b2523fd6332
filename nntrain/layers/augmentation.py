"""Image augmentation, active only in training (the identity at inference, RandomCrop
excepted, see there): RandomFlip, RandomTranslation, RandomRotation, RandomZoom, RandomCrop,
with Keras 3's arguments, defaults and transforms (keras/src/layers/preprocessing/
image_preprocessing). Inputs are (batch, height, width, channels).

Every random draw comes from ``self.rng``, the model's dropout stream, so a resumed run sees
the same augmented batches; `seed` is accepted for Keras compatibility and ignored. The
transforms are linear in the image, so the layers also backpropagate (to layers before them).
Translation, rotation and zoom map each output pixel to a source coordinate and read it with
`interpolation` ('bilinear' or 'nearest') and `fill_mode` outside the image ('reflect',
'wrap', 'nearest', 'constant' with `fill_value`), as Keras's ``ops.image.affine_transform``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.layers.base import Layer, check_rank, register
from nntrain.layers.windows import check_data_format
from nntrain.layers.sampling import (FILL_MODES, INTERPOLATIONS, AffineSample, resize,
                                     resize_backward, resize_matrix)


def _factor(name: str, value, low: float, high: float, *, low_open=False):
    """Keras's factor: a number f → (-|f|, |f|), or a pair (lower, upper), each in range."""
    def check(v):
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and v <= high and (
            v > low if low_open else v >= low)
        if not ok:
            bound = "(" if low_open else "["
            raise ConfigError(f"expected a number or a list of two numbers in {bound}{low}, "
                              f"{high}], received {value!r}", key=name)
        return float(v)
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"expected a number or a list of two numbers, received {value!r}",
                              key=name)
        return tuple(sorted(check(v) for v in value))
    f = abs(check(value))
    return (-f, f)


class _Augment(Layer):
    """Shared by the image layers: rank check, and identity unless training."""

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 3, "images (height, width, channels)")
        return input_shape

    def forward(self, x, training=False):
        self._plan = None
        if not training:
            return x
        return self._augment(x)

    def _augment(self, x):
        raise NotImplementedError

    def backward(self, dy):
        return dy if self._plan is None else self._plan_backward(dy)

    def _plan_backward(self, dy):
        raise NotImplementedError


@register
class RandomFlip(_Augment):
    """Randomly flips images left-right and/or top-bottom, in training.

    `mode` 'horizontal', 'vertical' or, by default, both, each with probability 1/2. As in
    Keras 3, 'horizontal_and_vertical' makes one draw per image for both flips: an image is
    either turned by 180 degrees or left alone."""

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **base):
        super().__init__(**base)
        self.mode = validate.choice("mode", mode, self.MODES)
        self.data_format = check_data_format(data_format)

    def _axes(self):
        return {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (1, 2)}[
            self.mode]

    def _augment(self, x):
        flip = self.rng.random((x.shape[0], 1, 1, 1)) <= 0.5
        self._plan = flip
        return np.where(flip, np.flip(x, axis=self._axes()), x)

    def _plan_backward(self, dy):
        return np.where(self._plan, np.flip(dy, axis=self._axes()), dy)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _Affine(_Augment):
    """Layers that read each output pixel (row i, column j) at a source point given by a
    per-image affine map; subclasses return the maps' source coordinates."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **base):
        super().__init__(**base)
        self.fill_mode = validate.choice("fill_mode", fill_mode, FILL_MODES)
        self.interpolation = validate.choice("interpolation", interpolation, INTERPOLATIONS)
        self.fill_value = validate.number("fill_value", fill_value)
        self.data_format = check_data_format(data_format)

    def _coordinates(self, n: int, h: int, w: int):
        """Source rows, cols (N, h, w) for output pixels."""
        raise NotImplementedError

    def _augment(self, x):
        rows, cols = self._coordinates(*x.shape[:3])
        self._plan = AffineSample(x.shape, rows, cols, interpolation=self.interpolation,
                                  fill_mode=self.fill_mode, fill_value=self.fill_value)
        return self._plan.apply(x)

    def _plan_backward(self, dy):
        return self._plan.adjoint(dy)

    @staticmethod
    def _grid(h: int, w: int):
        """Output pixel rows and columns, (1, h, w) each."""
        rows, cols = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                                 indexing="ij")
        return rows[None], cols[None]

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


@register
class RandomTranslation(_Affine):
    """Randomly shifts images by a fraction of their height and width, in training.

    The fractions of the height (`height_factor`) and width (`width_factor`): a number f
    draws from [-f, f], a pair from [lower, upper], within [-1, 1]; positive shifts move the
    content down / right."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None, **base):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **base)
        self.height_factor = _factor("height_factor", height_factor, -1.0, 1.0)
        self.width_factor = _factor("width_factor", width_factor, -1.0, 1.0)

    def _coordinates(self, n, h, w):
        dy = self.rng.uniform(*self.height_factor, size=(n, 1, 1)) * h
        dx = self.rng.uniform(*self.width_factor, size=(n, 1, 1)) * w
        rows, cols = self._grid(h, w)
        return rows - dy, cols - dx

    def get_config(self):
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": list(self.width_factor)}


@register
class RandomRotation(_Affine):
    """Randomly rotates images about their centre, in training.

    `factor` is a fraction of a full turn, a number f drawing from [-f, f] * 360 degrees, a
    pair from [lower, upper] * 360; positive angles turn counter-clockwise."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **base):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **base)
        self.factor = _factor("factor", factor, -1.0, 1.0)

    def _coordinates(self, n, h, w):
        angle = self.rng.uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, size=n)
        theta = np.deg2rad(angle).reshape(n, 1, 1)
        cos, sin = np.cos(theta), np.sin(theta)
        cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
        rows, cols = self._grid(h, w)
        # Keras's _compute_affine_matrix with scale 1, no shear and no translation
        src_cols = cos * cols - sin * rows + (cx - cx * cos + cy * sin)
        src_rows = sin * cols + cos * rows + (cy - cx * sin - cy * cos)
        return src_rows, src_cols

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


@register
class RandomZoom(_Affine):
    """Randomly zooms images in or out about their centre, in training.

    `height_factor` f draws the vertical factor from [1 - f, 1 + f] (a pair: [1 + lower,
    1 + upper]), each in (-1, 1]; `width_factor` likewise, or, when null, the vertical factor
    is used for both (aspect ratio kept). Positive values zoom out, negative values zoom in."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None, **base):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **base)
        self.height_factor = _factor("height_factor", height_factor, -1.0, 1.0, low_open=True)
        self.width_factor = (None if width_factor is None else
                             _factor("width_factor", width_factor, -1.0, 1.0, low_open=True))

    def _coordinates(self, n, h, w):
        zy = 1.0 + self.rng.uniform(*self.height_factor, size=(n, 1, 1))
        zx = zy if self.width_factor is None else \
            1.0 + self.rng.uniform(*self.width_factor, size=(n, 1, 1))
        rows, cols = self._grid(h, w)
        return zy * rows + (h - 1) / 2.0 * (1.0 - zy), zx * cols + (w - 1) / 2.0 * (1.0 - zx)

    def get_config(self):
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": None if self.width_factor is None else list(self.width_factor)}


@register
class RandomCrop(_Augment):
    """Crops a random `height` x `width` window in training; the central window at inference.

    One location for the whole batch, as Keras does. At inference, and in training when the
    image is not larger than the target in both axes, Keras's documented rule applies: the
    largest central window with the target's aspect ratio, resized (bilinear) to height x
    width. (Keras 3.15 itself returns the uncropped image
    at inference, contradicting its own output shape; a model here needs one shape.)"""

    def __init__(self, height, width, seed=None, data_format=None, **base):
        super().__init__(**base)
        self.height = validate.positive_int("height", height)
        self.width = validate.positive_int("width", width)
        self.data_format = check_data_format(data_format)

    def compute_output_shape(self, input_shape):
        super().compute_output_shape(input_shape)
        return (self.height, self.width, input_shape[-1])

    def _window(self, h: int, w: int):
        """The central window: (top, left, rows, cols)."""
        rows = max(min(h, int(float(w * self.height) / self.width)), 1)
        cols = max(min(w, int(float(h * self.width) / self.height)), 1)
        return int(float(h - rows) / 2), int(float(w - cols) / 2), rows, cols

    def forward(self, x, training=False):
        """x : (N, h, w, C) → (N, height, width, C)."""
        n, h, w, c = x.shape
        self._shape = x.shape
        if training and h > self.height and w > self.width:
            top = int(self.rng.uniform(0, h - self.height + 1))
            left = int(self.rng.uniform(0, w - self.width + 1))
            self._plan = ("crop", top, left)
            return x[:, top:top + self.height, left:left + self.width]
        top, left, rows, cols = self._window(h, w)
        if (rows, cols) == (self.height, self.width):
            self._plan = ("crop", top, left)
            return x[:, top:top + rows, left:left + cols]
        matrices = (resize_matrix(rows, self.height), resize_matrix(cols, self.width))
        self._plan = ("resize", top, left, rows, cols, matrices)
        return resize(x[:, top:top + rows, left:left + cols], *matrices)

    def backward(self, dy):
        dx = np.zeros(self._shape, dtype=dy.dtype)
        if self._plan[0] == "crop":
            _, top, left = self._plan
            dx[:, top:top + self.height, left:left + self.width] = dy
            return dx
        _, top, left, rows, cols, matrices = self._plan
        dx[:, top:top + rows, left:left + cols] = resize_backward(dy, *matrices)
        return dx

    def flops(self, input_shape):
        return math.prod(self.compute_output_shape(input_shape))

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}

"""Masking: mark padded time steps so that the layers after it skip them (Keras's ``Masking``).

How a mask travels (nntrain/layers/base.py has the contract): Masking and
``Embedding(mask_zero=true)`` create one; per-position layers (Dense, Dropout, activations,
LayerNormalization, ...) pass it on; recurrent layers consume it (a masked step leaves the state
unchanged) and pass it on only with ``return_sequences``; GlobalAveragePooling1D averages the
unmasked steps; merges combine the masks of their inputs; layers that do not support masking
(Conv1D, Flatten, pooling windows, ...) drop it. A mask that reaches the model's output weighs
the loss and the mean metrics (nntrain/losses.py `masked_weights`).
"""

from __future__ import annotations

import numpy as np

from nntrain import validate
from nntrain.layers.base import Layer, register


@register
class Masking(Layer):
    """Masks every position whose features all equal `mask_value`, and sets it to 0.

    x : (batch, steps, features) → the same shape, masked steps zeroed; the output's mask is
    ``any(x != mask_value, axis=-1)``, (batch, steps) (whatever mask the input had).
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **base):
        super().__init__(**base)
        self.mask_value = validate.number("mask_value", mask_value)

    def output_masked(self, input_masked) -> bool:
        return True

    def compute_mask(self, x, mask):
        return np.any(x != self.mask_value, axis=-1)

    def forward(self, x, training=False):
        """x : (N, ..., F) → x where some feature differs from mask_value, else 0."""
        keep = np.any(x != self.mask_value, axis=-1, keepdims=True)
        self._keep = keep
        return np.where(keep, x, x.dtype.type(0))

    def backward(self, dy):
        return np.where(self._keep, dy, dy.dtype.type(0))

    def flops(self, input_shape):
        return 0

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}

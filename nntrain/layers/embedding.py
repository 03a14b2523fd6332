"""Embedding: integer ids → rows of a learned table ``embeddings`` (input_dim, output_dim)."""

from __future__ import annotations

import numpy as np

from nntrain import validate
from nntrain.errors import ConfigError, DataError
from nntrain.layers.base import Layer, check_initializer, check_regularizer, register


@register
class Embedding(Layer):
    """ids : (batch, ...) integers in [0, input_dim) → (batch, ..., output_dim).

    The ids get no gradient; backward scatters dy into the rows they picked.
    """

    integer_input = True

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, mask_zero=False, **base):
        super().__init__(**base)
        self.input_dim = validate.positive_int("input_dim", input_dim)
        self.output_dim = validate.positive_int("output_dim", output_dim)
        self.embeddings_initializer = check_initializer(embeddings_initializer,
                                                        "embeddings_initializer")
        self.embeddings_regularizer = check_regularizer(embeddings_regularizer,
                                                        "embeddings_regularizer")
        if validate.boolean("mask_zero", mask_zero):
            raise ConfigError("mask_zero=true is not supported: nntrain has no masking, so id 0 "
                              "would be embedded like any other id; use mask_zero: false",
                              key="mask_zero")
        self.mask_zero = False

    def build(self, input_shape, rng):
        self.add_weight("embeddings", (self.input_dim, self.output_dim),
                        self.embeddings_initializer, rng, regularizer=self.embeddings_regularizer)
        super().build(input_shape, rng)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def _ids(self, x: np.ndarray) -> np.ndarray:
        """Integer ids from x, checked against [0, input_dim) (floats must be whole numbers)."""
        if not np.issubdtype(x.dtype, np.integer):
            ids = x.astype(np.int64)
            if not np.array_equal(ids, x):
                raise DataError(f"Embedding {self.name!r} expects integer ids, received "
                                f"non-integer values such as {x[ids != x].flat[0]!r}")
            x = ids
        if x.size:
            low, high = int(x.min()), int(x.max())
            if low < 0 or high >= self.input_dim:
                bad = low if low < 0 else high
                raise DataError(f"Embedding {self.name!r} received id {bad}, outside "
                                f"[0, {self.input_dim}) (input_dim={self.input_dim})")
        return x

    def forward(self, x, training=False):
        """x : (N, ...) ids → (N, ..., output_dim)."""
        self._x = self._ids(x)
        return self.params["embeddings"][self._x]

    def backward(self, dy):
        """dy : (N, ..., output_dim) → None (ids have no gradient); grads embeddings."""
        table = self.params["embeddings"]
        grad = np.zeros(table.shape, dtype=dy.dtype)
        np.add.at(grad, self._x.reshape(-1), dy.reshape(-1, self.output_dim))
        self.grads["embeddings"] = grad
        return None

    def flops(self, input_shape):
        return 0  # a gather, no arithmetic

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim, "mask_zero": self.mask_zero}

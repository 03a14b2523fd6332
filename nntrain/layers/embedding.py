"""Embedding: integer ids → rows of a learned table ``embeddings`` (input_dim, output_dim);
PositionEmbedding: a learned row per sequence position (keras_hub's)."""

from __future__ import annotations

import numpy as np

from nntrain import validate
from nntrain.errors import ConfigError, DataError
from nntrain.layers.base import Layer, check_initializer, check_regularizer, register


@register
class Embedding(Layer):
    """A learned vector of `output_dim` numbers for each integer id in [0, input_dim).

    ids : (batch, ...) integers → (batch, ..., output_dim). The ids get no gradient; backward
    scatters dy into the rows they picked. With `mask_zero` id 0 is padding: the output carries
    the mask ``ids != 0``, (batch, ...), and as in Keras id 0 still has its row, so `input_dim`
    counts it (vocabulary size + 1).
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
        self.mask_zero = validate.boolean("mask_zero", mask_zero)

    def build(self, input_shape, rng):
        self.add_weight("embeddings", (self.input_dim, self.output_dim),
                        self.embeddings_initializer, rng, regularizer=self.embeddings_regularizer)
        super().build(input_shape, rng)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def output_masked(self, input_masked) -> bool:
        return self.mask_zero

    def compute_mask(self, x, mask):
        return np.asarray(x) != 0

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


@register
class PositionEmbedding(Layer):
    """A learned embedding per sequence position, keras_hub's ``PositionEmbedding``.

    Keras itself has none. x : (batch, steps, features) → the table's first `steps` rows
    broadcast to x's shape.

    The output does not depend on x's values, only on its shape: add it to the sequence with
    an ``Add`` layer, as in keras_hub (``x + PositionEmbedding(sequence_length)(x)``). Weight
    ``embeddings`` (sequence_length, features); steps may be at most `sequence_length`.
    """

    def __init__(self, sequence_length, initializer="glorot_uniform", **base):
        super().__init__(**base)
        self.sequence_length = validate.positive_int("sequence_length", sequence_length)
        self.initializer = check_initializer(initializer, "initializer")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ConfigError(f"PositionEmbedding expects inputs of per-sample shape (steps, "
                              f"features), received {list(input_shape)}")
        if input_shape[0] > self.sequence_length:
            raise ConfigError(f"inputs have {input_shape[0]} steps, more than sequence_length="
                              f"{self.sequence_length}", key="sequence_length")
        return input_shape

    def build(self, input_shape, rng):
        self.compute_output_shape(input_shape)
        self.add_weight("embeddings", (self.sequence_length, input_shape[-1]), self.initializer,
                        rng)
        super().build(input_shape, rng)

    def forward(self, x, training=False):
        """x : (N, T, F) → (N, T, F), the same T rows for every sample."""
        self._x_shape = x.shape
        return np.broadcast_to(self.params["embeddings"][:x.shape[1]], x.shape).copy()

    def backward(self, dy):
        """dy : (N, T, F) → zeros (the output ignores x's values); grads embeddings."""
        grad = np.zeros_like(self.params["embeddings"], dtype=dy.dtype)
        grad[:dy.shape[1]] = dy.sum(axis=0)
        self.grads["embeddings"] = grad
        return np.zeros(self._x_shape, dtype=dy.dtype)

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length}

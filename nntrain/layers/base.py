"""The one contract every layer follows: build → forward → backward → output shape → config.

A layer is built once for a per-sample input shape (no batch dimension) and then called on
batches. ``forward`` caches what ``backward`` needs; ``backward`` takes dL/d(output), writes
dL/d(param) into ``self.grads`` (plain assignment: a layer runs once per step) and returns
dL/d(input). Shapes are Keras's: weights live in ``self.params`` under Keras's names and layouts,
in Keras's order, so a checkpoint's ``weights/<layer>/<param>`` is exactly ``layer.weights``.

Inference does no work only backward needs and may keep nothing for it: a layer keeps what
backward needs when ``self.keeps_cache(training)``, that is in training, or when the network set
``backprop = True`` (a backward follows an inference-mode pass: gradient checks, LayerStats).
When the network needs no gradient of a layer's input (a first layer, fed by the data), it sets
``needs_input_grad = False`` and ``backward`` may return None instead of computing dx.

Layers with several inputs (merges) set ``multi_input = True``; they take and return lists.
``fewest_inputs`` is the least a multi-input layer takes (merges: 2; MultiHeadAttention: 1, a
list of one for self-attention).

Masks (Keras's ``_keras_mask``): a boolean array beside a layer's output, True at the positions
(time steps) that count, shape ``output.shape[:-1]`` ((N, T) for sequences). Whether an output
carries one is known from the config (`output_masked`, asked by the builder); the network then
computes it with `compute_mask` and hands it to the layers that take it (``takes_mask``: their
``forward(x, training, mask=...)`` gets the input's mask, a list for several inputs). A layer
that does not support masking drops the mask, as Keras 3 does (Keras also warns).
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from nntrain import initializers, regularizers, validate
from nntrain.errors import ConfigError
from nntrain.registry import Registry

LAYERS = Registry("layer type", expected="a one-key map such as {Dense: {units: 10}}",
                  section="layer")


_SHAPES_ONLY = ContextVar("nntrain_shapes_only", default=False)


@contextmanager
def shapes_only():
    """Build layers without allocating or initializing any weight: `add_weight` records a
    `WeightShape` instead, and no initializer runs (nothing draws 10^9 random numbers). What
    `summary` needs, and what the builder checks against the memory limit first."""
    token = _SHAPES_ONLY.set(True)
    try:
        yield
    finally:
        _SHAPES_ONLY.reset(token)


class WeightShape:
    """A weight of a shapes-only build: shape, dtype, size and bytes, no data (so anything
    that tries to compute with it fails loudly)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape: tuple[int, ...], dtype):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"WeightShape({self.shape}, {self.dtype.name})"


def register(cls: type["Layer"]) -> type["Layer"]:
    """Class decorator: make a layer available to configs under its Keras class name."""
    return LAYERS.register(cls)


def snake_case(name: str) -> str:
    """Keras's default layer-name stem: ``Conv1D`` → ``conv1d``, ``BatchNormalization`` →
    ``batch_normalization``, ``GlobalAveragePooling1D`` → ``global_average_pooling1d``."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


class Layer:
    """Base class. Subclasses take their Keras arguments in ``__init__`` (validated there, with
    `nntrain.validate`), create weights in ``build`` with ``add_weight``, and implement
    ``forward``, ``backward`` and ``compute_output_shape``."""

    multi_input = False
    fewest_inputs = 2
    # True when `self.activation` is applied last, elementwise, to the layer's output (Dense,
    # Conv, Activation): such a layer keeps its pre-activation `_z` and output `_y` and
    # implements `backward_preactivation`, so a loss may be fused with its activation
    # (recurrent layers apply their activation inside the recurrence, so they must not set it).
    activation_last = False
    # True for layers whose input is integer ids (Embedding): gradcheck feeds them integers
    # and the data's normalization must leave them alone.
    integer_input = False
    # Set by the model before backward: False when nothing needs dL/d(input) (a layer fed only
    # by the model's inputs, in training); backward may then skip it and return None.
    needs_input_grad = True
    # Set by the model before forward: whether a backward pass follows (True), or not (False);
    # None: only a training pass keeps what backward needs. See `keeps_cache`.
    backprop: bool | None = None
    # Keras's `supports_masking`: a per-position layer passes its input's mask on unchanged.
    supports_masking = False
    # Whether `forward` takes the input's mask (``mask=``; None when the input has none).
    takes_mask = False

    def __init__(self, name: str | None = None, trainable: bool = True,
                 activity_regularizer=None):
        self.name = name
        self.trainable = trainable
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.non_trainable: set[str] = set()
        self.regularizers: dict[str, regularizers.Regularizer] = {}
        # Keras lets every layer penalize its output; the model adds it to the loss
        self.activity_regularizer = regularizers.get(activity_regularizer,
                                                     key="activity_regularizer")
        self.dtype = np.float32
        self.rng: np.random.Generator | None = None  # the model's dropout stream, set by the model
        self.input_shape = None
        self.built = False

    # -- building ---------------------------------------------------------------------------
    def build(self, input_shape, rng: np.random.Generator) -> None:
        """Create weights for a per-sample `input_shape` (a tuple; a list of tuples if
        multi_input). Subclasses call super().build(...) last or first; both are fine."""
        self.input_shape = input_shape
        self.built = True

    def add_weight(self, name: str, shape: tuple[int, ...], initializer, rng: np.random.Generator,
                   *, trainable: bool = True, regularizer=None) -> np.ndarray:
        """Create, register and return a weight initialized in `self.dtype` (in a
        `shapes_only` build: its `WeightShape`)."""
        init = initializers.get(initializer)
        if _SHAPES_ONLY.get():
            value = WeightShape(shape, self.dtype)
        else:
            value = np.ascontiguousarray(init(tuple(shape), rng), dtype=self.dtype)
        self.params[name] = value
        if not trainable or not self.trainable:
            self.non_trainable.add(name)
        if regularizer is not None:
            self.regularizers[name] = regularizers.get(regularizer)
        return value

    def trainable_params(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.params.items() if k not in self.non_trainable}

    def count_params(self) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts."""
        t = sum(v.size for k, v in self.params.items() if k not in self.non_trainable)
        n = sum(v.size for k, v in self.params.items() if k in self.non_trainable)
        return t, n

    def set_dtype(self, dtype) -> None:
        """Cast weights in place of the dict (used by gradcheck to go to float64)."""
        self.dtype = np.dtype(dtype).type
        for k, v in self.params.items():
            self.params[k] = np.ascontiguousarray(v, dtype=self.dtype)

    # -- computing --------------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        """Per-sample output shape for a per-sample input shape."""
        return input_shape

    def forward(self, x, training: bool = False):
        raise NotImplementedError

    def output_masked(self, input_masked) -> bool:
        """Whether the output carries a mask, given whether the input does (a list of bools for
        several inputs): what the config decides, before any data. Raises a ConfigError where
        Keras would refuse the mask."""
        return self.supports_masking and bool(input_masked)

    def compute_mask(self, x, mask):
        """The output's mask from the input x and its mask (Keras's ``compute_mask``); only
        asked when `output_masked` said yes."""
        return mask

    def backward(self, dy):
        """dL/d(input) from dL/d(output); a layer with `activation_last` goes through its
        activation's derivative and then `backward_preactivation`."""
        if self.activation_last:
            z = self.cached(self._z)
            return self.backward_preactivation(self.activation.backward(z, self._y, dy))
        raise NotImplementedError

    def backward_preactivation(self, dz):
        """For `activation_last` layers: backward from dL/d(pre-activation) (a loss fused with
        the activation hands this over directly)."""
        raise NotImplementedError

    def keeps_cache(self, training: bool) -> bool:
        """Whether this forward pass keeps what backward needs."""
        return training if self.backprop is None else self.backprop

    def cached(self, value):
        """What forward kept for backward, or a clear error when forward ran for inference."""
        if value is None:
            raise RuntimeError(f"{type(self).__name__} {self.name!r}: backward needs a forward "
                               "pass that keeps its cache (training=True, or backprop=True)")
        return value

    # -- describing -------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable}

    def flops(self, input_shape) -> int:
        """Forward floating-point operations per sample (a multiply-add counts as 2)."""
        return 0

    def working_set(self, input_shape) -> int:
        """Array elements per sample that an inference pass holds at once: the output, plus
        work arrays (im2col, recurrent projections). Sizes the default inference batch."""
        return math.prod(self.compute_output_shape(input_shape))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def check_rank(layer: Layer, input_shape, rank: int, what: str) -> None:
    """Raise a ConfigError naming the layer when the per-sample input has the wrong rank."""
    if len(input_shape) != rank:
        raise ConfigError(
            f"{type(layer).__name__} expects {what} (per-sample rank {rank}), "
            f"received input of shape {list(input_shape)}")


def check_initializer(spec, key: str):
    """Validate an initializer argument at construction time (errors name the argument)."""
    initializers.get(spec, key=key)
    return spec


def check_regularizer(spec, key: str):
    """Validate a regularizer argument at construction time; returns the Regularizer or None."""
    return regularizers.get(spec, key=key)


def set_kernel_arguments(layer, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer) -> None:
    """Check and set the arguments every layer with a kernel and a bias takes (Keras's names),
    so each such layer states them once."""
    layer.use_bias = validate.boolean("use_bias", use_bias)
    layer.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
    layer.bias_initializer = check_initializer(bias_initializer, "bias_initializer")
    layer.kernel_regularizer = check_regularizer(kernel_regularizer, "kernel_regularizer")
    layer.bias_regularizer = check_regularizer(bias_regularizer, "bias_regularizer")


def column_sums(a: np.ndarray) -> np.ndarray:
    """Sum of the rows of a 2-D array, (rows, k) → (k,), as one matrix-vector product: BLAS
    does it several times faster than ``a.sum(axis=0)`` (a bias gradient)."""
    return np.ones(a.shape[0], dtype=a.dtype) @ a

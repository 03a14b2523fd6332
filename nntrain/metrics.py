"""Keras's metrics as stateful accumulators: ``reset()``, then ``update(y_true, y_pred)`` once per
batch, then ``result()``, the sample-weighted mean over everything seen since the reset.

Each metric is a per-sample function, as Keras's ``MeanMetricWrapper``: it gives one value per
position (``(n,)``, or ``(n, T)`` for sequence outputs), which is averaged over the trailing
positions of each sample, then weighted and accumulated (float64) across batches. So the result
over several batches equals the result over their concatenation.

Names: ``accuracy``/``acc``, ``binary_accuracy`` (threshold 0.5), ``categorical_accuracy``,
``sparse_categorical_accuracy``, ``top_k_categorical_accuracy`` and
``sparse_top_k_categorical_accuracy`` (k 5), Keras's class names for them
(``BinaryAccuracy``, ...), and every loss name (``mse``, ``mean_absolute_error``,
``binary_crossentropy``, ...), which reports that loss, as Keras allows.

``accuracy`` is resolved from the loss as Keras's ``compile`` did (tf.keras): sparse categorical
crossentropy → sparse_categorical_accuracy, categorical crossentropy → categorical_accuracy,
binary crossentropy → binary_accuracy; with any other loss, from the shapes at the first update
(Keras 3's rule: output of 1 unit → binary; labels of lower rank, or of last dimension 1 against
several units → sparse; otherwise categorical).

Binary accuracy and logits: Keras compares the raw output with the threshold even when the loss
is ``from_logits``, so logits are thresholded at 0.5. We do not copy that: with a
``binary_crossentropy`` loss that has ``from_logits: true``, the threshold is read as a
probability and logits are compared with ``log(t / (1 - t))`` (0 for 0.5). Argmax-based
accuracies work on logits unchanged.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np

from nntrain import validate
from nntrain.losses import LOSSES, Loss, class_ids, match_labels
from nntrain.registry import Registry


# -- per-sample functions -------------------------------------------------------------------
def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> np.ndarray:
    """Fraction of the last axis where ``(y_pred > threshold) == y_true``."""
    t, p = match_labels(y_true, y_pred)
    if p.ndim == 1:
        t, p = t[:, None], p[:, None]
    return ((p > threshold) == t).mean(axis=-1)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    t, p = match_labels(y_true, y_pred)
    return (t.argmax(axis=-1) == p.argmax(axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    p = np.asarray(y_pred)
    t = np.asarray(y_true)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t[..., 0]
    return (t == p.argmax(axis=-1)).astype(np.float64)


def in_top_k(ids: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Keras's ``ops.in_top_k`` (TensorFlow's semantics): the target is in the top k when fewer
    than k classes score strictly higher, so ties at the boundary count as in; a row holding a
    non-finite score counts as out."""
    target = np.take_along_axis(y_pred, ids[..., None], axis=-1)
    hit = (y_pred > target).sum(axis=-1) < k
    return hit & np.isfinite(y_pred).all(axis=-1)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    t, p = match_labels(y_true, y_pred)
    return in_top_k(t.argmax(axis=-1), p, k).astype(np.float64)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    p = np.asarray(y_pred)
    return in_top_k(class_ids(y_true, p.shape), p, k).astype(np.float64)


# -- the accumulator ------------------------------------------------------------------------
class Metric:
    """A running sample-weighted mean of a per-sample function ``fn(y_true, y_pred)``.
    ``direction`` is ``"up"`` when larger is better (accuracies), ``"down"`` otherwise."""

    def __init__(self, name: str, fn: Callable | None, direction: str):
        self.name = name
        self.fn = fn
        self.direction = direction
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Add one batch. `sample_weight`, if given, has shape ``(n,)``."""
        values = np.asarray(self.fn(y_true, y_pred), dtype=np.float64)
        if values.ndim > 1:
            values = values.mean(axis=tuple(range(1, values.ndim)))
        if sample_weight is None:
            self.total += float(values.sum())
            self.count += values.size
        else:
            w = np.broadcast_to(np.asarray(sample_weight, dtype=np.float64).reshape(-1),
                                values.shape)
            self.total += float((values * w).sum())
            self.count += float(w.sum())

    def result(self) -> float:
        """The mean so far; 0.0 before any update (Keras's divide_no_nan)."""
        return self.total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, result={self.result():.6g})"


class Accuracy(Metric):
    """``accuracy`` with a loss that does not decide its kind: resolved by shapes at the first
    update (Keras 3's ``is_binary_or_sparse_categorical``) and fixed from then on."""

    def __init__(self, name: str, threshold: float = 0.5):
        self.threshold = threshold
        super().__init__(name, None, "up")

    def update(self, y_true, y_pred, sample_weight=None):
        if self.fn is None:
            self.fn = self._resolve(np.shape(y_true), np.shape(y_pred))
        super().update(y_true, y_pred, sample_weight)

    def _resolve(self, true_shape, pred_shape) -> Callable:
        if pred_shape[-1] == 1:
            return functools.partial(binary_accuracy, threshold=self.threshold)
        if len(true_shape) < len(pred_shape) or true_shape[-1] == 1:
            return sparse_categorical_accuracy
        return categorical_accuracy


# -- lookup from the config -----------------------------------------------------------------
# Each factory takes the name the config gives (the metric is logged under it) and the compiled
# loss (which resolves `accuracy` and the logit threshold), then its own Keras arguments.
METRICS = Registry("metric", expected="a metric name, or a map with a 'name' key and its "
                   "arguments", name_key="name", hidden=("name", "loss"))


def _logit_threshold(threshold: float, loss: Loss | None) -> float:
    """The threshold to apply to the raw output: a logit when the loss takes logits."""
    if loss is not None and loss.name == "binary_crossentropy" and loss.from_logits:
        return math.log(threshold / (1 - threshold))
    return threshold


def accuracy(name: str, loss: Loss | None) -> Metric:
    """Accuracy of the kind the loss implies (sparse, categorical or binary), else decided by
    the shapes of the first batch."""
    kind = loss.name if loss is not None else None
    if kind == "sparse_categorical_crossentropy":
        return Metric(name, sparse_categorical_accuracy, "up")
    if kind == "categorical_crossentropy":
        return Metric(name, categorical_accuracy, "up")
    if kind == "binary_crossentropy":
        return Metric(name, functools.partial(binary_accuracy,
                                              threshold=_logit_threshold(0.5, loss)), "up")
    return Accuracy(name)


def _binary(name: str, loss: Loss | None, threshold: float = 0.5) -> Metric:
    threshold = validate.number("threshold", threshold, low=0, high=1, low_open=True,
                                high_open=True)
    return Metric(name, functools.partial(binary_accuracy,
                                          threshold=_logit_threshold(threshold, loss)), "up")


def _top_k(fn):
    def factory(name: str, loss: Loss | None, k: int = 5) -> Metric:
        return Metric(name, functools.partial(fn, k=validate.positive_int("k", k)), "up")
    factory.__doc__ = fn.__doc__
    return factory


def _plain(fn):
    def factory(name: str, loss: Loss | None) -> Metric:
        return Metric(name, fn, "up")
    factory.__doc__ = fn.__doc__
    return factory


def _reporting(loss_entry):
    """A metric that reports a loss (Keras allows every loss name as a metric)."""
    def factory(name: str, loss: Loss | None, **args) -> Metric:
        return Metric(name, loss_entry.factory(**args).per_sample, "down")
    return factory


METRICS.add("accuracy", accuracy, aliases=("acc",))
METRICS.add("binary_accuracy", _binary, aliases=("BinaryAccuracy",),
            doc="Fraction of outputs on the right side of `threshold`.")
METRICS.add("categorical_accuracy", _plain(categorical_accuracy),
            aliases=("CategoricalAccuracy",), doc="argmax of the output equals argmax of the "
            "one-hot label.")
METRICS.add("sparse_categorical_accuracy", _plain(sparse_categorical_accuracy),
            aliases=("SparseCategoricalAccuracy",),
            doc="argmax of the output equals the class id.")
METRICS.add("top_k_categorical_accuracy", _top_k(top_k_categorical_accuracy),
            aliases=("TopKCategoricalAccuracy",),
            doc="The one-hot label's class is among the k highest outputs.")
METRICS.add("sparse_top_k_categorical_accuracy", _top_k(sparse_top_k_categorical_accuracy),
            aliases=("SparseTopKCategoricalAccuracy",),
            doc="The class id is among the k highest outputs.")
for _entry in LOSSES.entries():
    METRICS.add(_entry.name, _reporting(_entry), aliases=_entry.aliases,
                signature=_entry.factory, refused=_entry.refused,
                doc=f"The {_entry.name} loss, reported as a metric.")


def get_metric(spec, loss: Loss | None = None, key: str = "compile.metrics.0") -> Metric:
    """Build a metric from ``"accuracy"`` or ``{name: top_k_categorical_accuracy, k: 3}``.
    `loss` (the compiled loss) resolves ``accuracy`` and the logit threshold. The metric is
    logged under the name the config gives (``accuracy`` stays ``accuracy``)."""
    return METRICS.construct(spec, key, loss=loss)

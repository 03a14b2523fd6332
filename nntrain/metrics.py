"""Keras's metrics as stateful accumulators (the `Metric` interface): ``reset()``, then
``update(y_true, y_pred, sample_weight)`` once per batch, then ``result()``, the value over
everything seen since the reset; ``state()`` / ``load_state()`` hand the running state over, so a
checkpoint written mid-epoch resumes the epoch's metrics exactly.

Most metrics here are a per-sample function, as Keras's ``MeanMetricWrapper`` (`MeanMetric`): it
gives one value per position (``(n,)``, or ``(n, T)`` for sequence outputs), which is averaged
over the trailing positions of each sample, then weighted and accumulated (float64) across
batches. So the result over several batches equals the result over their concatenation. The
confusion-count metrics (Precision, Recall, AUC, F1Score) live in nntrain/confusion_metrics.py.

Names: ``accuracy``/``acc``, ``binary_accuracy`` (threshold 0.5), ``categorical_accuracy``,
``sparse_categorical_accuracy``, ``top_k_categorical_accuracy`` and
``sparse_top_k_categorical_accuracy`` (k 5), Keras's class names for them
(``BinaryAccuracy``, ...), ``RootMeanSquaredError``, ``CosineSimilarity`` (the similarity, not the
negated loss, as Keras's metric), and every loss name (``mse``, ``mean_absolute_error``,
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
from nntrain.losses import LOSSES, Loss, class_ids, match_labels, metric_weights
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


# -- the accumulators -----------------------------------------------------------------------
class Metric:
    """What every metric offers (Keras's ``Metric``: reset_state / update_state / result).
    `name` is the name it is logged under; `direction` is ``"up"`` when larger is better,
    ``"down"`` otherwise (callbacks read it in auto mode); `weighted` is set for the entries of
    ``compile.weighted_metrics``, the only ones the trainer hands sample weights (Keras's rule).
    `VARIABLES` name the attributes that hold its running state (floats or float64 arrays):
    `state` and `load_state` hand them over."""

    VARIABLES: tuple[str, ...] = ()
    name = ""
    direction = "up"
    weighted = False
    uses_mask = False   # Keras: only the mean metrics (MeanMetricWrapper) read the output's mask

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Add one batch; `sample_weight` (n,) (or one per position) weighs its samples."""
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def state(self) -> dict:
        """The running state, JSON-ready (floats and lists of floats round-trip exactly)."""
        out = {}
        for v in self.VARIABLES:
            value = getattr(self, v)
            out[v] = value.tolist() if isinstance(value, np.ndarray) else value
        return out

    def load_state(self, state: dict) -> None:
        for v in self.VARIABLES:
            value = state[v]
            setattr(self, v, np.array(value, dtype=np.float64) if isinstance(value, list)
                    else value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, result={self.result():.6g})"


class MeanMetric(Metric):
    """A running sample-weighted mean of a per-sample function ``fn(y_true, y_pred)``
    (Keras's ``MeanMetricWrapper``)."""

    VARIABLES = ("total", "count")
    uses_mask = True

    def __init__(self, name: str, fn: Callable | None, direction: str):
        self.name = name
        self.fn = fn
        self.direction = direction
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        self.add(np.asarray(self.fn(y_true, y_pred), dtype=np.float64), sample_weight)

    def add(self, values: np.ndarray, sample_weight=None) -> None:
        """Accumulate per-position `values` (n, ...) as Keras's ``Mean.update_state``: weights
        of one per sample are applied to each sample's mean over its positions, weights of one
        per position to the values, then averaged over each sample's positions."""
        if sample_weight is None:
            if values.ndim > 1:
                values = values.mean(axis=tuple(range(1, values.ndim)))
            self.total += float(values.sum())
            self.count += values.size
            return
        w = np.asarray(sample_weight, dtype=np.float64)
        w = w.reshape(w.shape[:1] + tuple(d for d in w.shape[1:] if d != 1) or (-1,))
        if w.ndim < values.ndim:
            values = values.mean(axis=tuple(range(w.ndim, values.ndim)))
        w = np.broadcast_to(w.reshape(w.shape + (1,) * (values.ndim - w.ndim)), values.shape)
        values = values * w
        if values.ndim > 1:
            values = values.mean(axis=tuple(range(1, values.ndim)))
            w = w.mean(axis=tuple(range(1, w.ndim)))
        self.total += float(values.sum())
        self.count += float(w.sum())

    def result(self) -> float:
        """The mean so far; 0.0 before any update (Keras's divide_no_nan)."""
        return self.total / self.count if self.count else 0.0


def squared_error(y_true, y_pred) -> np.ndarray:
    t, p = match_labels(y_true, y_pred)
    return np.square(p - t)


class RootMeanSquaredError(MeanMetric):
    """The square root of the mean squared error over everything seen (an epoch), not a mean of
    per-batch roots."""

    def __init__(self, name: str):
        super().__init__(name, squared_error, "down")

    def result(self) -> float:
        return math.sqrt(super().result())


class Accuracy(MeanMetric):
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


def update_all(metrics, y_true, y_pred, sample_weight=None, mask=None) -> None:
    """Add one batch to every metric as Keras's compiled metrics see it: only the `weighted`
    ones get the sample weights, and the mean metrics also weigh the positions of a masked
    output by its mask (n, T) (the confusion-count metrics ignore it, as Keras's do)."""
    for m in metrics:
        w = sample_weight if m.weighted else None
        m.update(y_true, y_pred, metric_weights(w, mask) if m.uses_mask else w)


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


def accuracy(name: str, loss: Loss | None) -> MeanMetric:
    """Accuracy of the kind the loss implies (sparse, categorical or binary), else decided by
    the shapes of the first batch."""
    kind = loss.name if loss is not None else None
    if kind == "sparse_categorical_crossentropy":
        return MeanMetric(name, sparse_categorical_accuracy, "up")
    if kind == "categorical_crossentropy":
        return MeanMetric(name, categorical_accuracy, "up")
    if kind == "binary_crossentropy":
        return MeanMetric(name, functools.partial(binary_accuracy,
                                                  threshold=_logit_threshold(0.5, loss)), "up")
    return Accuracy(name)


def _binary(name: str, loss: Loss | None, threshold: float = 0.5) -> MeanMetric:
    threshold = validate.number("threshold", threshold, low=0, high=1, low_open=True,
                                high_open=True)
    return MeanMetric(name, functools.partial(binary_accuracy,
                                              threshold=_logit_threshold(threshold, loss)), "up")


def _top_k(fn):
    def factory(name: str, loss: Loss | None, k: int = 5) -> MeanMetric:
        return MeanMetric(name, functools.partial(fn, k=validate.positive_int("k", k)), "up")
    factory.__doc__ = fn.__doc__
    return factory


def _plain(fn):
    def factory(name: str, loss: Loss | None) -> MeanMetric:
        return MeanMetric(name, fn, "up")
    factory.__doc__ = fn.__doc__
    return factory


def _reporting(loss_entry):
    """A metric that reports a loss (Keras allows every loss name as a metric)."""
    def factory(name: str, loss: Loss | None, **args) -> MeanMetric:
        return MeanMetric(name, loss_entry.factory(**args).per_sample, "down")
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


def _root_mean_squared_error(name: str, loss: Loss | None) -> MeanMetric:
    """Square root of the mean squared error over the epoch."""
    return RootMeanSquaredError(name)


def _cosine_similarity(name: str, loss: Loss | None, axis: int = -1) -> MeanMetric:
    """Mean cosine similarity of output and label along `axis` (1 for the same direction): the
    cosine_similarity loss negated, as Keras's metric."""
    cosine = LOSSES["cosine_similarity"](axis=axis)
    return MeanMetric(name, lambda t, p: -cosine.per_sample(t, p), "up")


METRICS.add("root_mean_squared_error", _root_mean_squared_error,
            aliases=("RootMeanSquaredError",))
METRICS.add("cosine_similarity", _cosine_similarity, aliases=("CosineSimilarity",))
_METRIC_ALIASES = {"log_cosh": ("LogCoshError", "log_cosh_error")}   # Keras's metric class name
for _entry in LOSSES.entries():
    if _entry.name in METRICS:
        continue
    METRICS.add(_entry.name, _reporting(_entry),
                aliases=(*_entry.aliases, *_METRIC_ALIASES.get(_entry.name, ())),
                signature=_entry.factory, refused=_entry.refused,
                doc=f"The {_entry.name} loss, reported as a metric.")


# the confusion-count metrics build on the classes above, so they are imported here
import nntrain.confusion_metrics  # noqa: E402,F401


def get_metric(spec, loss: Loss | None = None, key: str = "compile.metrics.0") -> Metric:
    """Build a metric from ``"accuracy"`` or ``{name: top_k_categorical_accuracy, k: 3}``.
    `loss` (the compiled loss) resolves ``accuracy`` and the logit threshold. The metric is
    logged under the name the config gives (``accuracy`` stays ``accuracy``)."""
    return METRICS.construct(spec, key, loss=loss)

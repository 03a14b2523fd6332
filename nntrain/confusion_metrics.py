"""Metrics over confusion counts accumulated through an epoch: Precision, Recall, AUC (ROC, PR,
PR-gain), F1Score and FBetaScore, as keras/src/metrics/confusion_metrics.py and
f_score_metrics.py (3.15). Unlike a mean of per-sample values, their result over several batches
is computed from the counts of all of them, so the trainer keeps them running through the epoch
(and in mid-epoch checkpoints, via `Metric.state`).

Labels and outputs (n, ..., k): labels of the output's shape, as Keras; class ids (sparse labels
for a softmax output) are one-hot encoded first — Keras would refuse them. Entries are then
flattened (micro-averaged over classes), or one class is picked with `class_id`.

Logits: Keras thresholds the raw output, whatever the loss, and asks for ``thresholds=0`` or
``AUC(from_logits=True)``. Here, as for binary accuracy (see nntrain/metrics.py), when the
compiled loss takes logits the output is first mapped to probabilities (sigmoid for binary
crossentropy, softmax for the categorical ones), so thresholds always mean probabilities; an
explicit ``from_logits`` on AUC still wins.
"""

from __future__ import annotations

import numbers

import numpy as np

from nntrain import validate
from nntrain.activations import sigmoid, softmax
from nntrain.errors import ConfigError
from nntrain.losses import EPSILON, Loss, class_ids, match_labels
from nntrain.metrics import METRICS, Metric

NEG_INF = -1e10   # metrics_utils.NEG_INF: what top_k gives the entries it drops


def dense_labels(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """(labels, outputs) of the same shape; class ids for a several-unit output are one-hot
    encoded."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    k = p.shape[-1] if p.ndim else 1
    if k > 1 and (t.ndim == p.ndim - 1 or (t.ndim == p.ndim and t.shape[-1] == 1)):
        return np.eye(k, dtype=p.dtype)[class_ids(t, p.shape)], p
    return match_labels(t, p)


def output_probabilities(loss: Loss | None):
    """The map from the model's output to probabilities the loss implies (None: identity)."""
    if loss is None or not getattr(loss, "from_logits", False):
        return None
    return sigmoid if loss.name == "binary_crossentropy" else softmax


def _weights(sample_weight, shape) -> np.ndarray | None:
    """Per-sample (n,) or per-position weights broadcast to the output's shape (n, ..., k)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim and w.shape[-1] == 1 and w.ndim > 1:
        w = w[..., 0]
    return np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - w.ndim)), shape)


def _thresholds(name: str, value) -> list[float]:
    """One threshold or a list of them, each in [0, 1]."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ConfigError("expected at least one threshold", key=name)
    return [validate.number(name, v, low=0, high=1) for v in values]


class ConfusionCounts(Metric):
    """True/false positives/negatives at each threshold, over the entries of y_pred (flattened,
    or per label with `per_label` k): ``p > threshold`` is a predicted positive, a nonzero
    label a positive (Keras's ``update_confusion_matrix_variables``). `evenly` uses Keras's
    bucket method for evenly spaced thresholds (computed in the output's dtype, as Keras does
    in its floatx), which is what makes AUC equal Keras's at the thresholds' edges."""

    VARIABLES = ("tp", "fp", "tn", "fn")

    def __init__(self, name: str, thresholds, *, top_k=None, class_id=None, per_label=None,
                 label_weights=None, evenly=False, probabilities=None, direction="up"):
        self.name, self.direction = name, direction
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        self.top_k, self.class_id = top_k, class_id
        self.per_label, self.label_weights = per_label, label_weights
        self.evenly, self.probabilities = evenly, probabilities
        self.reset()

    def reset(self) -> None:
        shape = (len(self.thresholds),) + ((self.per_label,) if self.per_label else ())
        self.tp, self.fp, self.tn, self.fn = (np.zeros(shape) for _ in range(4))

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        t, p = dense_labels(y_true, y_pred)
        if self.probabilities is not None:
            p = self.probabilities(p)
        w = _weights(sample_weight, p.shape)
        if self.top_k is not None:
            p = _filter_top_k(p, self.top_k)
        if self.class_id is not None:
            if p.ndim < 2 or not 0 <= self.class_id < p.shape[-1]:
                raise ConfigError(f"class_id {self.class_id} is not a class of an output of "
                                  f"shape {list(p.shape)}", key="class_id")
            t, p = t[..., self.class_id], p[..., self.class_id]
            w = None if w is None else w[..., self.class_id]
        labels = t.astype(bool)
        if w is None:
            w = np.ones(p.shape)
        if self.label_weights is not None:
            w = w * np.broadcast_to(self.label_weights, p.shape)
        if self.per_label:
            labels, p, w = (a.reshape(-1, p.shape[-1]) for a in (labels, p, w))
        else:
            labels, p, w = labels.reshape(-1), p.reshape(-1), w.reshape(-1)
        tp, fp = (self._bucketed if self.evenly else self._compared)(labels, p, w)
        self.tp += tp
        self.fp += fp
        self.fn += (w * labels).sum(axis=0) - tp
        self.tn += (w * ~labels).sum(axis=0) - fp

    def _compared(self, labels, p, w):
        """Counts by comparing every entry with every threshold: (thresholds, [labels])."""
        above = p[None] > self.thresholds.reshape((-1,) + (1,) * p.ndim)
        return ((above & labels) * w).sum(axis=1), ((above & ~labels) * w).sum(axis=1)

    def _bucketed(self, labels, p, w):
        """Keras's O(T + N) count for thresholds [-eps, 1/(T-1), ..., 1 + eps]: an entry is
        above threshold i when its bucket ``ceil(p (T - 1)) - 1`` (at least 0) is >= i."""
        n = len(self.thresholds)
        p = np.clip(p, 0, 1)
        bucket = np.maximum(np.ceil(p * p.dtype.type(n - 1)) - 1, 0).astype(np.intp)

        def above(weights):
            if weights.ndim == 1:
                counts = np.bincount(bucket, weights, minlength=n)
            else:
                counts = np.stack([np.bincount(bucket[:, j], weights[:, j], minlength=n)
                                   for j in range(weights.shape[1])], axis=1)
            return np.cumsum(counts[::-1], axis=0)[::-1]
        return above(w * labels), above(w * ~labels)


def _filter_top_k(p: np.ndarray, k: int) -> np.ndarray:
    """Keep the k largest entries of the last axis, the others set to NEG_INF."""
    order = np.argsort(-p, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(p.shape, dtype=bool)
    np.put_along_axis(keep, order, True, axis=-1)
    return np.where(keep, p, NEG_INF).astype(p.dtype, copy=False)


def _divide(a, b):
    """Keras's divide_no_nan."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1), 0.0)


class Ratio(ConfusionCounts):
    """Precision (tp / (tp + fp)) or recall (tp / (tp + fn)) at one threshold."""

    def __init__(self, name, of: str, **kwargs):
        super().__init__(name, **kwargs)
        self.of = of

    def result(self) -> float:
        other = self.fp if self.of == "precision" else self.fn
        return float(_divide(self.tp, self.tp + other)[0])


def _ratio(of: str):
    def factory(name: str, loss: Loss | None, thresholds=None, top_k=None, class_id=None):
        if thresholds is None:   # Keras's default: 0.5, or every top-k entry
            values = [0.5 if top_k is None else NEG_INF]
        else:
            values = _thresholds("thresholds", thresholds)
        if len(values) != 1:
            raise ConfigError("give one threshold: a list gives one value per threshold, and "
                              "nntrain logs one number per metric", key="thresholds")
        return Ratio(name, of, thresholds=values,
                     top_k=None if top_k is None else validate.positive_int("top_k", top_k),
                     class_id=_class_id(class_id), probabilities=output_probabilities(loss),
                     direction="up")
    factory.__doc__ = (f"{of.capitalize()} over the epoch: " + (
        "the fraction of predicted positives (outputs above `thresholds`) that are positive."
        if of == "precision" else
        "the fraction of positives predicted positive (outputs above `thresholds`)."))
    return factory


def _class_id(value):
    return None if value is None else validate.non_negative_int("class_id", value)


class AUC(ConfusionCounts):
    """Area under the ROC, PR or PR-gain curve from counts at `thresholds` (Keras's AUC)."""

    def __init__(self, name, curve, summation_method, **kwargs):
        super().__init__(name, **kwargs)
        self.curve, self.summation_method = curve, summation_method

    def result(self) -> float:
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._average(self._interpolated_pr())
        tp, fp, tn, fn = self.tp, self.fp, self.tn, self.fn
        recall = _divide(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide(tp, tp + fp)
        else:   # PRGAIN
            scale = _divide(tp + fn, tn + fp)
            x = np.maximum(np.where(tp == 0, 0.0, 1.0 - scale * _divide(fn, tp)), 0.0)
            y = np.where(tp == 0, 1.0, 1.0 - scale * _divide(fp, tp))
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._average(((x[:-1] - x[1:]) * heights).sum(axis=0))

    def _interpolated_pr(self) -> np.ndarray:
        """Davis & Goadrich (2006) interpolation, Keras's closed form: precision varies with
        the linearly interpolated tp and tp + fp within each interval."""
        tp, fp, fn = self.tp, self.fp, self.fn
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _divide(p[:-1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore"):
            log_ratio = np.log(ratio)
        increments = _divide(slope * (dtp + intercept * log_ratio),
                             np.maximum(tp[1:] + fn[1:], 0))
        return increments.sum(axis=0)

    def _average(self, by_label) -> float:
        """Multi-label: the mean of the labels' areas (weighted by `label_weights`); 0 before
        the first batch."""
        if np.ndim(by_label) == 0:
            return float(by_label)
        if not np.size(by_label):
            return 0.0
        if self.label_weights is None:
            return float(np.mean(by_label))
        return float(_divide(np.sum(by_label * self.label_weights),
                             np.sum(self.label_weights)))


CURVES = ("ROC", "PR", "PRGAIN")
SUMMATIONS = ("interpolation", "minoring", "majoring")


def auc(name: str, loss: Loss | None, num_thresholds: int = 200, curve: str = "ROC",
        summation_method: str = "interpolation", thresholds=None, multi_label: bool = False,
        num_labels=None, label_weights=None, from_logits=None) -> AUC:
    """Area under the ROC (or precision-recall) curve, from counts at evenly spaced thresholds.
    `from_logits` (default: as the compiled loss) applies a sigmoid first."""
    curve = validate.choice("curve", curve.upper() if isinstance(curve, str) else curve, CURVES)
    summation = validate.choice("summation_method", summation_method.lower()
                                if isinstance(summation_method, str) else summation_method,
                                SUMMATIONS)
    if thresholds is not None:
        inner = sorted(_thresholds("thresholds", thresholds))
        evenly = _evenly(np.array([0.0] + inner + [1.0]))
    else:
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, numbers.Integral) \
                or num_thresholds <= 1:
            raise ConfigError(f"expected an integer > 1, received {num_thresholds!r}",
                              key="num_thresholds")
        inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        evenly = True
    multi_label = validate.boolean("multi_label", multi_label)
    if num_labels is not None:
        if not multi_label:
            raise ConfigError("num_labels is needed only when multi_label is true",
                              key="num_labels")
        num_labels = validate.positive_int("num_labels", num_labels)
    if label_weights is not None:
        if not isinstance(label_weights, list):
            raise ConfigError(f"expected a list of numbers, received {label_weights!r}",
                              key="label_weights")
        label_weights = np.array([validate.number("label_weights", v, low=0)
                                  for v in label_weights])
    if from_logits is None:
        probabilities = output_probabilities(loss)
    else:
        probabilities = sigmoid if validate.boolean("from_logits", from_logits) else None
    return _LazyAUC(name, curve, summation, thresholds=[-EPSILON] + inner + [1 + EPSILON],
                    evenly=evenly, probabilities=probabilities, multi_label=multi_label,
                    num_labels=num_labels, label_weights=label_weights)


def _evenly(thresholds: np.ndarray) -> bool:
    """Keras's is_evenly_distributed_thresholds."""
    n = len(thresholds)
    return n >= 3 and np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1),
                                  atol=EPSILON)


class _LazyAUC(AUC):
    """A multi-label AUC learns its number of labels from the first batch (or `num_labels`)."""

    def __init__(self, name, curve, summation, *, multi_label, num_labels, **kwargs):
        self.multi_label = multi_label
        super().__init__(name, curve, summation, per_label=num_labels if multi_label else None,
                         **kwargs)

    def update(self, y_true, y_pred, sample_weight=None):
        if self.multi_label and self.per_label is None:
            if np.ndim(y_pred) != 2:
                raise ConfigError(f"multi_label needs outputs of rank 2, received shape "
                                  f"{list(np.shape(y_pred))}", key="multi_label")
            self.per_label = np.shape(y_pred)[-1]
            self.reset()
        super().update(y_true, y_pred, sample_weight)

    def reset(self):
        if self.multi_label and self.per_label is None:
            self.tp = self.fp = self.tn = self.fn = np.zeros((len(self.thresholds), 0))
            return
        super().reset()

    def load_state(self, state):
        super().load_state(state)
        if self.multi_label:
            self.per_label = self.tp.shape[1] if self.tp.ndim == 2 and self.tp.shape[1] else None


# -- F-scores ---------------------------------------------------------------------------------
class FBetaScore(Metric):
    """Keras's FBetaScore: per-class true positives, false positives, false negatives and
    support over the epoch; the F-beta of each class averaged micro, macro or weighted."""

    VARIABLES = ("tp", "fp", "fn", "support")

    def __init__(self, name, average, beta, threshold, probabilities):
        self.name, self.direction = name, "up"
        self.average, self.beta, self.threshold = average, beta, threshold
        self.probabilities = probabilities
        self.reset()

    def reset(self) -> None:
        self.tp = self.fp = self.fn = self.support = 0.0

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        t, p = dense_labels(y_true, y_pred)
        if p.ndim != 2:
            raise ConfigError(f"{self.name} expects outputs of shape (batch, classes), "
                              f"received {list(p.shape)}", key=self.name)
        if self.probabilities is not None:
            p = self.probabilities(p)
        if self.threshold is None:
            pred = (p >= p.max(axis=-1, keepdims=True)) & (np.abs(p) > 1e-9)
        else:
            pred = p > self.threshold
        pred, t = pred.astype(np.float64), t.astype(np.float64)
        w = np.ones((len(p), 1)) if sample_weight is None else \
            np.asarray(sample_weight, dtype=np.float64).reshape(-1, 1)
        axis = None if self.average == "micro" else 0
        self.tp = self.tp + (pred * t * w).sum(axis=axis)
        self.fp = self.fp + (pred * (1 - t) * w).sum(axis=axis)
        self.fn = self.fn + ((1 - pred) * t * w).sum(axis=axis)
        self.support = self.support + (t * w).sum(axis=axis)

    def result(self) -> float:
        precision = self.tp / (self.tp + self.fp + EPSILON)
        recall = self.tp / (self.tp + self.fn + EPSILON)
        b2 = self.beta ** 2
        f = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            return float(np.sum(f * self.support / (np.sum(self.support) + EPSILON)))
        return float(np.mean(f))

    def load_state(self, state):
        super().load_state(state)
        for v in self.VARIABLES:
            if isinstance(getattr(self, v), np.ndarray) and getattr(self, v).ndim == 0:
                setattr(self, v, float(getattr(self, v)))


AVERAGES = ("micro", "macro", "weighted")


def fbeta_score(name: str, loss: Loss | None, average=None, beta: float = 1.0,
                threshold=None) -> FBetaScore:
    """F-beta score over the epoch (`average`: micro, macro or weighted over the classes);
    outputs above `threshold` count as predicted, or the argmax when `threshold` is null."""
    if average is None:
        raise ConfigError("average: null gives one score per class, and nntrain logs one "
                          "number per metric; give average: micro, macro or weighted",
                          key="average")
    average = validate.choice("average", average, AVERAGES)
    beta = validate.number("beta", beta, low=0, low_open=True)
    if threshold is not None:
        threshold = validate.number("threshold", threshold, low=0, high=1, low_open=True)
    return FBetaScore(name, average, beta, threshold, output_probabilities(loss))


def f1_score(name: str, loss: Loss | None, average=None, threshold=None) -> FBetaScore:
    """F1 score (the harmonic mean of precision and recall) over the epoch; `average`: micro,
    macro or weighted over the classes; `threshold` as FBetaScore's."""
    return fbeta_score(name, loss, average, 1.0, threshold)


METRICS.add("precision", _ratio("precision"), aliases=("Precision",))
METRICS.add("recall", _ratio("recall"), aliases=("Recall",))
METRICS.add("auc", auc, aliases=("AUC",))
METRICS.add("f1_score", f1_score, aliases=("F1Score",))
METRICS.add("fbeta_score", fbeta_score, aliases=("FBetaScore",))

"""Keras's losses, each with its gradient.

Every loss reduces as Keras's default ``"sum_over_batch_size"``: one loss value per *position*
(a sample, or a sample and time step for sequence outputs ``(n, T, k)``) averaged over all
positions. The elementwise losses (mse, mae, huber, binary crossentropy) first average over the
last axis, as Keras does, so their value is the mean over every element.

Arrays: ``y_pred`` has shape ``(n, ..., k)``; ``y_true`` has the same shape (``dense`` and
``onehot`` labels; a missing or extra trailing axis of size 1 is forgiven, as in Keras) or, for
sparse labels, the shape ``(n, ...)`` of class ids (``(n, ..., 1)`` also accepted, ints or floats).
``gradient`` returns dL/dy_pred in y_pred's dtype, already divided by the number of positions.

Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` (Keras's ``backend.epsilon()``) when not
``from_logits``; categorical crossentropy first rescales each row to sum to one, then clips, as
every Keras 3 backend does. The gradient is exact for that clipped formula: zero through clipped
entries. ``fused_gradient`` is the exception: the softmax/sigmoid output layer hands its
probabilities over and receives dL/dlogits = (probs - labels) / positions, which ignores the
clip (the clip only guards the log; it has no business stopping the gradient of a saturated
unit).
"""

from __future__ import annotations

import numpy as np

from nntrain import validate
from nntrain.activations import sigmoid, softmax
from nntrain.errors import DataError
from nntrain.registry import Registry

EPSILON = 1e-7  # keras.backend.epsilon()


# -- helpers shared with metrics ------------------------------------------------------------
def match_labels(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Labels cast to y_pred's dtype and shape. A trailing axis of size 1 on either side is
    dropped or added (Keras's ``squeeze_or_expand_to_same_rank``); anything else must match."""
    y_pred = np.asarray(y_pred)
    t = np.asarray(y_true)
    if t.shape != y_pred.shape:
        if t.shape + (1,) == y_pred.shape or t.shape == y_pred.shape + (1,):
            t = t.reshape(y_pred.shape)
        else:
            raise DataError(f"labels of shape {t.shape} do not match the model's output of "
                            f"shape {y_pred.shape}")
    return t.astype(y_pred.dtype, copy=False), y_pred


def class_ids(y_true, pred_shape: tuple[int, ...]) -> np.ndarray:
    """Integer class ids of shape ``pred_shape[:-1]`` from sparse labels of that shape or with a
    trailing axis of 1; float labels must hold whole numbers. Ids must lie in ``[0, k)``."""
    y = np.asarray(y_true)
    if y.ndim == len(pred_shape) and y.shape[-1] == 1:
        y = y[..., 0]
    if y.shape != tuple(pred_shape[:-1]):
        raise DataError(f"sparse labels of shape {np.shape(y_true)} do not match the model's "
                        f"output of shape {tuple(pred_shape)}; expected shape "
                        f"{tuple(pred_shape[:-1])} (one class id per position)")
    if np.issubdtype(y.dtype, np.integer):
        ids = y.astype(np.intp, copy=False)
    else:
        with np.errstate(invalid="ignore"):
            ids = y.astype(np.intp)
        if not np.array_equal(ids, y):
            raise DataError("sparse labels must be whole numbers (class ids); "
                            "received non-integer values")
    k = pred_shape[-1]
    if ids.size and (ids.min() < 0 or ids.max() >= k):
        raise DataError(f"class ids must lie in [0, {k}) for an output of {k} units; "
                        f"received values from {ids.min()} to {ids.max()}")
    return ids


def _log_softmax(z: np.ndarray) -> np.ndarray:
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def _positions(y_pred: np.ndarray) -> int:
    """Number of positions a categorical loss averages over: every axis but the last."""
    return max(y_pred.size // max(y_pred.shape[-1], 1), 1)


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values, dtype=np.float64))


def weigh(values: np.ndarray, sample_weight) -> np.ndarray:
    """`values` of shape (n, ...) times per-sample weights (n,), or per-position weights
    (n, T) (a sequence output's, a mask's), broadcast over the trailing axes, in `values`'
    dtype; `values` itself when there are no weights. Applied to the per-position losses it
    gives Keras's weighted ``sum_over_batch_size`` (sum(w l) / positions, not / sum(w));
    applied to a loss gradient, the gradient of that weighted loss (each row of y_pred enters
    only its own positions' losses)."""
    if sample_weight is None:
        return values
    w = np.asarray(sample_weight, dtype=values.dtype)
    while w.ndim > max(values.ndim, 1) and w.shape[-1] == 1:
        w = w[..., 0]
    return values * w.reshape(w.shape + (1,) * (values.ndim - w.ndim))


def masked_weights(sample_weight, mask):
    """Keras's ``apply_mask`` for the loss: the output's mask (n, T) bool folded into the
    sample weights (n,) or (n, T), so that the loss becomes sum(w l) / (unmasked positions):
    unmasked positions weigh ``positions / unmasked``, masked ones 0 (all 0 when nothing is
    unmasked). Without a mask, `sample_weight` unchanged."""
    if mask is None:
        return sample_weight
    mask = np.asarray(mask, dtype=bool)
    valid = int(mask.sum())
    w = np.where(mask, mask.size / valid if valid else 0.0, 0.0)
    return w if sample_weight is None else weigh(w, sample_weight)


def metric_weights(sample_weight, mask):
    """Keras's ``apply_mask`` for the mean metrics: the output's mask (n, T) as 0/1 weights,
    times the sample weights when given."""
    if mask is None:
        return sample_weight
    w = np.asarray(mask, dtype=np.float64)
    return w if sample_weight is None else weigh(w, sample_weight)


# -- the losses -----------------------------------------------------------------------------
class Loss:
    """Base class. ``name`` is the canonical Keras name; ``label_kind`` tells the data loader
    which labels to expect: ``"sparse"`` (class ids), ``"onehot"`` or ``"dense"``."""

    name = ""
    label_kind = "dense"
    from_logits = False

    def per_sample(self, y_true, y_pred) -> np.ndarray:
        """The loss at each position, shape ``y_pred.shape[:-1]`` (what Keras's loss function
        returns before reduction; the metrics average it)."""
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        """The batch loss: the mean of ``per_sample`` (accumulated in float64), each sample's
        values weighted by `sample_weight` (n,) when given (see `weigh`)."""
        return _mean(weigh(self.per_sample(y_true, y_pred), sample_weight))

    def gradient(self, y_true, y_pred) -> np.ndarray:
        """dL/dy_pred, same shape and dtype as y_pred, including the 1/positions factor."""
        raise NotImplementedError

    def fuses_with(self, activation_name: str | None) -> bool:
        """Whether the output activation and this loss have a combined gradient."""
        return False

    def fused_gradient(self, y_true, probs) -> np.ndarray:
        """dL/dlogits for an output layer whose activation `fuses_with` this loss."""
        raise TypeError(f"{self.name} has no fused gradient")

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class _Elementwise(Loss):
    """A loss that is a function of each element, averaged over the last axis and the batch."""

    def _loss(self, t: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _derivative(self, t: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def per_sample(self, y_true, y_pred):
        e = self._loss(*match_labels(y_true, y_pred))
        return e if e.ndim <= 1 else e.mean(axis=-1)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            return super().__call__(y_true, y_pred, sample_weight)
        return _mean(self._loss(*match_labels(y_true, y_pred)))

    def gradient(self, y_true, y_pred):
        t, p = match_labels(y_true, y_pred)
        return (self._derivative(t, p) / max(p.size, 1)).astype(p.dtype, copy=False)


class MeanSquaredError(_Elementwise):
    """Mean of ``(y_pred - y_true)²`` over the last axis."""

    name = "mean_squared_error"

    def _loss(self, t, p):
        return np.square(p - t)

    def _derivative(self, t, p):
        return 2 * (p - t)


class MeanAbsoluteError(_Elementwise):
    """Mean of ``|y_pred - y_true|`` over the last axis."""

    name = "mean_absolute_error"

    def _loss(self, t, p):
        return np.abs(p - t)

    def _derivative(self, t, p):
        return np.sign(p - t)  # 0 at p == t, as the gradient of abs in every backend


class Huber(_Elementwise):
    """0.5 e² where |e| <= delta, delta (|e| - 0.5 delta) beyond, e = y_pred - y_true."""

    name = "huber"

    def __init__(self, delta: float = 1.0):
        self.delta = validate.number("delta", delta, low=0, low_open=True)

    def _loss(self, t, p):
        e = p - t
        a = np.abs(e)
        d = self.delta
        return np.where(a <= d, 0.5 * e * e, d * a - 0.5 * d * d)

    def _derivative(self, t, p):
        e = p - t
        return np.where(np.abs(e) <= self.delta, e, self.delta * np.sign(e))

    def get_config(self):
        return {"name": self.name, "delta": self.delta}


class BinaryCrossentropy(_Elementwise):
    """Keras's binary crossentropy. Labels are smoothed towards 0.5:
    ``t (1 - s) + 0.5 s``. On probabilities: ``-(t log p + (1 - t) log(1 - p))`` with p clipped
    to [eps, 1 - eps] (Keras 3, every backend: no eps added inside the log). On logits: the
    stable ``max(z, 0) - z t + log(1 + exp(-|z|))``."""

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        self.from_logits = validate.boolean("from_logits", from_logits)
        self.label_smoothing = validate.number("label_smoothing", label_smoothing, low=0, high=1)

    def _smooth(self, t):
        s = self.label_smoothing
        return t * (1 - s) + 0.5 * s if s else t

    def _loss(self, t, p):
        t = self._smooth(t)
        if self.from_logits:
            return np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
        pc = np.clip(p, EPSILON, 1 - EPSILON)
        return -(t * np.log(pc) + (1 - t) * np.log(1 - pc))

    def _derivative(self, t, p):
        t = self._smooth(t)
        if self.from_logits:
            return sigmoid(p) - t
        pc = np.clip(p, EPSILON, 1 - EPSILON)
        inside = (p >= EPSILON) & (p <= 1 - EPSILON)
        return np.where(inside, (pc - t) / (pc * (1 - pc)), 0)

    def fuses_with(self, activation_name):
        return not self.from_logits and activation_name == "sigmoid"

    def fused_gradient(self, y_true, probs):
        t, p = match_labels(y_true, probs)
        return ((p - self._smooth(t)) / max(p.size, 1)).astype(p.dtype, copy=False)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(Loss):
    """``-sum(t log q)`` over the last axis with one-hot (or soft) labels t, smoothed as Keras:
    ``t (1 - s) + s / k``. q is log_softmax of logits, or the row-normalised, clipped
    probabilities."""

    name = "categorical_crossentropy"
    label_kind = "onehot"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        self.from_logits = validate.boolean("from_logits", from_logits)
        self.label_smoothing = validate.number("label_smoothing", label_smoothing, low=0, high=1)

    def _targets(self, y_true, y_pred):
        t, p = match_labels(y_true, y_pred)
        s = self.label_smoothing
        if s:
            t = t * (1 - s) + s / p.shape[-1]
        return t, p

    def per_sample(self, y_true, y_pred):
        t, p = self._targets(y_true, y_pred)
        if self.from_logits:
            return -(t * _log_softmax(p)).sum(axis=-1)
        q = np.clip(p / p.sum(axis=-1, keepdims=True), EPSILON, 1 - EPSILON)
        return -(t * np.log(q)).sum(axis=-1)

    def gradient(self, y_true, y_pred):
        t, p = self._targets(y_true, y_pred)
        n = _positions(p)
        if self.from_logits:
            g = softmax(p) * t.sum(axis=-1, keepdims=True) - t
        else:
            # L = -sum_j t_j log clip(p_j / S): dL/dp_i = -t_i u_i / p_i + sum_j t_j u_j / S,
            # u_j = 1 where the clip is inactive.
            total = p.sum(axis=-1, keepdims=True)
            q = p / total
            tu = t * ((q >= EPSILON) & (q <= 1 - EPSILON))
            g = tu.sum(axis=-1, keepdims=True) / total - tu / np.where(tu != 0, p, 1)
        return (g / n).astype(p.dtype, copy=False)

    def fuses_with(self, activation_name):
        return not self.from_logits and activation_name == "softmax"

    def fused_gradient(self, y_true, probs):
        t, p = self._targets(y_true, probs)
        g = p * t.sum(axis=-1, keepdims=True) - t  # = probs - labels for labels summing to 1
        return (g / _positions(p)).astype(p.dtype, copy=False)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class SparseCategoricalCrossentropy(Loss):
    """Categorical crossentropy with class ids for labels; no label smoothing (Keras 3 has none
    for this loss)."""

    name = "sparse_categorical_crossentropy"
    label_kind = "sparse"

    def __init__(self, from_logits: bool = False):
        self.from_logits = validate.boolean("from_logits", from_logits)

    @staticmethod
    def _pick(a: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return np.take_along_axis(a, ids[..., None], axis=-1)[..., 0]

    def per_sample(self, y_true, y_pred):
        p = np.asarray(y_pred)
        ids = class_ids(y_true, p.shape)
        if self.from_logits:
            return -self._pick(_log_softmax(p), ids)
        q = self._pick(p, ids) / p.sum(axis=-1)
        return -np.log(np.clip(q, EPSILON, 1 - EPSILON))

    def gradient(self, y_true, y_pred):
        p = np.asarray(y_pred)
        ids = class_ids(y_true, p.shape)
        if self.from_logits:
            return self._fused(ids, softmax(p))
        # Only the label's entry enters the loss: -log clip(p_y / S).
        total = p.sum(axis=-1)
        p_y = self._pick(p, ids)
        q = p_y / total
        u = ((q >= EPSILON) & (q <= 1 - EPSILON)).astype(p.dtype)
        g = np.repeat((u / total)[..., None], p.shape[-1], axis=-1)
        np.put_along_axis(g, ids[..., None], (u / total - u / np.where(u != 0, p_y, 1))[..., None],
                          axis=-1)
        return (g / _positions(p)).astype(p.dtype, copy=False)

    def _fused(self, ids, probs):
        g = np.array(probs, copy=True)
        np.put_along_axis(g, ids[..., None], self._pick(g, ids)[..., None] - 1, axis=-1)
        g /= _positions(g)
        return g

    def fuses_with(self, activation_name):
        return not self.from_logits and activation_name == "softmax"

    def fused_gradient(self, y_true, probs):
        probs = np.asarray(probs)
        return self._fused(class_ids(y_true, probs.shape), probs)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


# -- lookup from the config -----------------------------------------------------------------
LOSSES = Registry("loss", expected="a loss name, or a map with a 'name' key and its arguments",
                  name_key="name")
_SHORT = {"mean_squared_error": ("mse", "MSE"), "mean_absolute_error": ("mae", "MAE"),
          "binary_crossentropy": ("bce", "BCE")}   # Keras's short aliases
for _cls in (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy,
             CategoricalCrossentropy, SparseCategoricalCrossentropy):
    LOSSES.add(_cls.name, _cls, aliases=(*_SHORT.get(_cls.name, ()), _cls.__name__))
# the losses of extra_losses.py build on the classes above, so they are imported here
from nntrain.extra_losses import ALIASES, LOSS_CLASSES  # noqa: E402

for _cls in LOSS_CLASSES:
    LOSSES.add(_cls.name, _cls, aliases=(*ALIASES.get(_cls.name, ()), _cls.__name__))
for _entry in LOSSES.entries():
    _entry.refused["reduction"] = ("every loss reduces as Keras's default "
                                   "'sum_over_batch_size' (the mean over the batch's positions, "
                                   "sample weights applied); other reductions are not offered")
LOSSES.lookup("sparse_categorical_crossentropy").refused.update({
    # Keras arguments we know but do not offer, with the reason
    "label_smoothing": "Keras 3's sparse_categorical_crossentropy has no label_smoothing; use "
                       "categorical_crossentropy with one-hot labels to smooth them",
    "ignore_class": "ignore_class is not supported"})


def get_loss(spec, key: str = "compile.loss") -> Loss:
    """Build a loss from ``"mse"`` or ``{name: categorical_crossentropy, from_logits: true, ...}``.
    Raises ConfigError (with the key path and a did-you-mean) for unknown names or arguments."""
    return LOSSES.construct(spec, key)

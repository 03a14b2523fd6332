"""Keras's other losses: KL divergence, Poisson, hinge, squared hinge, log-cosh, cosine similarity
and categorical focal crossentropy, each with its gradient (keras/src/losses/losses.py, 3.15).

They reduce as every loss here does (Keras's ``"sum_over_batch_size"``): the per-position value
(Keras's loss function before reduction) averaged over the positions. Which axis a loss reduces
inside a position follows Keras: hinge, squared hinge, Poisson and log-cosh average the last axis;
KL divergence and the focal crossentropy sum it; cosine similarity reduces `axis`.
"""

from __future__ import annotations

import numbers

import numpy as np

from nntrain import validate
from nntrain.activations import softmax
from nntrain.errors import ConfigError, DataError
from nntrain.losses import EPSILON, Loss, _Elementwise, _positions, match_labels

LOG2 = float(np.log(2.0))


class KLDivergence(Loss):
    """Kullback-Leibler divergence ``sum(t log(t / p))`` over the last axis, with t and p clipped
    to ``[1e-7, 1]`` (Keras's clip)."""

    name = "kl_divergence"

    def per_sample(self, y_true, y_pred):
        t, p = match_labels(y_true, y_pred)
        t = np.clip(t, EPSILON, 1)
        return (t * np.log(t / np.clip(p, EPSILON, 1))).sum(axis=-1)

    def gradient(self, y_true, y_pred):
        t, p = match_labels(y_true, y_pred)
        t = np.clip(t, EPSILON, 1)
        inside = (p >= EPSILON) & (p <= 1)
        g = np.where(inside, -t / np.where(inside, p, 1), 0)
        return (g / _positions(p)).astype(p.dtype, copy=False)


class Poisson(_Elementwise):
    """``p - t log(p + 1e-7)``, averaged over the last axis."""

    name = "poisson"

    def _loss(self, t, p):
        return p - t * np.log(p + EPSILON)

    def _derivative(self, t, p):
        return 1 - t / (p + EPSILON)


def hinge_labels(t: np.ndarray) -> np.ndarray:
    """Keras's ``convert_binary_labels_to_hinge``: when every label of the batch is 0 or 1 they
    become -1 or 1; other labels are used as they are."""
    if np.all((t == 0) | (t == 1)):
        return 2 * t - 1
    return t


class Hinge(_Elementwise):
    """``max(1 - t p, 0)``, averaged over the last axis; labels -1/1 (0/1 are converted)."""

    name = "hinge"

    def _loss(self, t, p):
        return np.maximum(1 - hinge_labels(t) * p, 0)

    def _derivative(self, t, p):
        t = hinge_labels(t)
        return np.where(1 - t * p > 0, -t, 0)


class SquaredHinge(_Elementwise):
    """``max(1 - t p, 0)²``, averaged over the last axis; labels -1/1 (0/1 are converted)."""

    name = "squared_hinge"

    def _loss(self, t, p):
        return np.square(np.maximum(1 - hinge_labels(t) * p, 0))

    def _derivative(self, t, p):
        t = hinge_labels(t)
        return -2 * t * np.maximum(1 - t * p, 0)


class LogCosh(_Elementwise):
    """``log(cosh(p - t))``, averaged over the last axis: about e²/2 for small errors and
    |e| - log 2 for large ones (computed as Keras does, ``e + softplus(-2e) - log 2``)."""

    name = "log_cosh"

    def _loss(self, t, p):
        e = p - t
        return e + np.logaddexp(0, -2 * e) - LOG2

    def _derivative(self, t, p):
        return np.tanh(p - t)


def _axis(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"expected an integer axis, received {value!r}", key="axis")
    return int(value)


def _to_last(a: np.ndarray, axis: int) -> np.ndarray:
    """`a` with `axis` moved last; the batch axis cannot be the one reduced."""
    canonical = axis % a.ndim if -a.ndim <= axis < a.ndim else None
    if canonical is None or canonical == 0:
        raise DataError(f"axis {axis} of an output of shape {list(a.shape)} is "
                        f"{'the batch axis' if canonical == 0 else 'out of range'}; give the "
                        f"features axis (default -1)", key="compile.loss.axis")
    return np.moveaxis(a, canonical, -1)


class CosineSimilarity(Loss):
    """Negative cosine similarity ``-sum(l2_normalize(t) * l2_normalize(p))`` along `axis`:
    -1 for the same direction, 0 when orthogonal or either vector is zero. Vectors are divided
    by ``max(norm, 1e-7)``, as Keras's l2 normalization."""

    name = "cosine_similarity"

    def __init__(self, axis: int = -1):
        self.axis = _axis(axis)

    def _pair(self, y_true, y_pred):
        t, p = match_labels(y_true, y_pred)
        return _to_last(t, self.axis), _to_last(p, self.axis)

    @staticmethod
    def _normalize(a):
        return a / np.maximum(np.sqrt(np.square(a).sum(axis=-1, keepdims=True)), EPSILON)

    def per_sample(self, y_true, y_pred):
        t, p = self._pair(y_true, y_pred)
        return -(self._normalize(t) * self._normalize(p)).sum(axis=-1)

    def gradient(self, y_true, y_pred):
        t, p = self._pair(y_true, y_pred)
        norm = np.sqrt(np.square(p).sum(axis=-1, keepdims=True))
        that = self._normalize(t)
        inside = norm > EPSILON
        safe = np.where(inside, norm, EPSILON)
        u = p / safe
        # d(-that . p/|p|)/dp = -(that - (that . u) u) / |p|; below the clamp p/eps is linear
        g = np.where(inside, -(that - (that * u).sum(axis=-1, keepdims=True) * u) / safe,
                     -that / EPSILON)
        g = np.moveaxis(g / _positions(g), -1, self.axis % np.ndim(y_pred))
        return g.astype(np.asarray(y_pred).dtype, copy=False)

    def get_config(self):
        return {"name": self.name, "axis": self.axis}


def _alpha(value):
    if isinstance(value, (list, tuple)):
        return np.array([validate.number("alpha", v) for v in value])
    return validate.number("alpha", value)


class CategoricalFocalCrossentropy(Loss):
    """Focal crossentropy (Lin et al. 2018, https://arxiv.org/abs/1708.02002) on one-hot
    labels: ``sum(alpha (1 - o)^gamma (-t log o))`` over the classes, o the row-normalised,
    clipped probabilities (softmax of logits). `alpha` a number or one per class; labels
    smoothed as categorical crossentropy's."""

    name = "categorical_focal_crossentropy"
    label_kind = "onehot"

    def __init__(self, alpha=0.25, gamma: float = 2.0, from_logits: bool = False,
                 label_smoothing: float = 0.0, axis: int = -1):
        self.alpha = _alpha(alpha)
        self.gamma = validate.number("gamma", gamma, low=0)
        self.from_logits = validate.boolean("from_logits", from_logits)
        self.label_smoothing = validate.number("label_smoothing", label_smoothing, low=0, high=1)
        self.axis = _axis(axis)

    def _prepare(self, y_true, y_pred):
        """(smoothed labels, probabilities, softmax or None), the class axis last."""
        t, p = match_labels(y_true, y_pred)
        t, p = _to_last(t, self.axis), _to_last(p, self.axis)
        if np.ndim(self.alpha) and len(self.alpha) != p.shape[-1]:
            raise ConfigError(f"alpha has {len(self.alpha)} values but the output has "
                              f"{p.shape[-1]} classes", key="compile.loss.alpha")
        s = self.label_smoothing
        if s:
            t = t * (1 - s) + s / p.shape[-1]
        probs = softmax(p) if self.from_logits else None
        return t, (probs if probs is not None else p), probs

    def per_sample(self, y_true, y_pred):
        t, p, _ = self._prepare(y_true, y_pred)
        o = np.clip(p / p.sum(axis=-1, keepdims=True), EPSILON, 1 - EPSILON)
        alpha = np.asarray(self.alpha, dtype=p.dtype)
        return (alpha * (1 - o) ** self.gamma * (-t * np.log(o))).sum(axis=-1)

    def gradient(self, y_true, y_pred):
        t, p, probs = self._prepare(y_true, y_pred)
        total = p.sum(axis=-1, keepdims=True)
        q = p / total
        inside = (q >= EPSILON) & (q <= 1 - EPSILON)
        o = np.clip(q, EPSILON, 1 - EPSILON)
        gamma = self.gamma
        # f(o) = -alpha t (1 - o)^gamma log o, so df/do = alpha t (gamma (1 - o)^(gamma - 1) log o
        # - (1 - o)^gamma / o); o = clip(p / S) passes it through where the clip is inactive.
        power = gamma * (1 - o) ** (gamma - 1) if gamma else 0.0
        df = self.alpha * t * (power * np.log(o) - (1 - o) ** gamma / o) * inside
        g = (df - (df * q).sum(axis=-1, keepdims=True)) / total     # through p / sum(p)
        if probs is not None:                                          # through the softmax
            g = probs * (g - (g * probs).sum(axis=-1, keepdims=True))
        g = np.moveaxis(g / _positions(g), -1, self.axis % np.ndim(y_pred))
        return g.astype(np.asarray(y_pred).dtype, copy=False)

    def get_config(self):
        alpha = self.alpha.tolist() if np.ndim(self.alpha) else self.alpha
        return {"name": self.name, "alpha": alpha, "gamma": self.gamma,
                "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}


LOSS_CLASSES = (KLDivergence, Poisson, Hinge, SquaredHinge, LogCosh, CosineSimilarity,
                CategoricalFocalCrossentropy)
# Keras 3's other spellings (keras.losses.ALL_OBJECTS_DICT)
ALIASES = {"kl_divergence": ("kld", "KLD")}

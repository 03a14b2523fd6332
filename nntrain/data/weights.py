"""Sample weights as Keras weighs samples: a weight per sample (``data.sample_weight``, or
``fit(..., sample_weight=...)``), or one per class (``fit.class_weight``) turned into a weight per
training sample from its label (keras/src/trainers/data_adapters/data_adapter_utils.py). The
loss then averages ``w * loss`` over the batch (sum over batch size, not over the weights' sum);
metrics are weighted means.

    class_weight_map({0: 1.0, 1: 5.0}, key="fit.class_weight")   # checked {int: float}
    class_weights(y, {0: 1.0, 1: 5.0})                          # (n,) float64
"""

from __future__ import annotations

import numbers

import numpy as np

from nntrain.data import checks
from nntrain.errors import ConfigError, DataError


def class_weight_map(value, *, key: str) -> dict[int, float]:
    """A ``{class id: weight}`` map from the config (YAML int keys, or digit strings as JSON
    gives them) or from code; weights non-negative numbers."""
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"expected a map from class id to weight, such as {{0: 1.0, 1: 5.0}}; "
                          f"received {value!r}", key=key)
    out = {}
    for k, w in value.items():
        if isinstance(k, str) and k.strip().isdigit():
            k = int(k)
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
            raise ConfigError(f"expected class ids (integers >= 0) as keys, received {k!r}",
                              key=key)
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not np.isfinite(w) \
                or w < 0:
            raise ConfigError(f"expected a weight >= 0, received {w!r}", key=f"{key}.{k}")
        out[int(k)] = float(w)
    return out


def check_class_weight(class_weight: dict[int, float], *, output_shape, key: str) -> None:
    """The map suits the model: one label per sample, and class ids the output can name."""
    if len(output_shape) > 1:
        raise ConfigError(f"class_weight needs one label per sample; this model outputs "
                          f"shape {list(output_shape)} per sample (give per-position sample "
                          f"weights instead)", key=key)
    k = int(output_shape[-1])
    classes = k if k > 1 else 2   # several units: argmax of the label, as Keras; one: 0 or 1
    bad = sorted(c for c in class_weight if c >= classes)
    if bad:
        raise ConfigError(f"class {bad[0]} is not a class of this model's output ({k} "
                          f"unit{'s' if k > 1 else ''}: classes 0 to {classes - 1})",
                          key=f"{key}.{bad[0]}")


def class_weights(y: np.ndarray, class_weight: dict[int, float]) -> np.ndarray:
    """One weight per sample from its label: class ids, one-hot rows (argmax) or a binary
    label (rounded); classes the map leaves out weigh 1 (Keras's
    ``class_weight_to_sample_weights``)."""
    y = np.asarray(y)
    if y.ndim > 1:
        y = y[..., 0] if y.shape[-1] == 1 else y.argmax(axis=-1)
    ids = np.round(y).astype(np.int64)
    lookup = np.ones(max(max(class_weight) + 1, int(ids.max(initial=0)) + 1))
    for c, w in class_weight.items():
        lookup[c] = w
    return lookup[ids]


def check_sample_weight(w: np.ndarray, *, n: int, positions: tuple[int, ...], what: str,
                        key: str) -> np.ndarray:
    """Sample weights as float64: one per sample, shape (n,) or (n, 1) — or, for sequence
    outputs, one per position, shape (n, *positions); finite and >= 0."""
    checks.numeric(w, what=what, key=key)
    checks.same_length(n, w, what=what, key=key)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 1 and tuple(w.shape[1:]) != tuple(positions):
        per_position = f" or (n, {', '.join(map(str, positions))}) per position" if positions \
            else ""
        raise DataError(f"{what} has shape {list(w.shape)}; expected one weight per sample, "
                        f"shape [{n}]{per_position}", key=key)
    w = np.asarray(w, dtype=np.float64)
    checks.finite(w, what=what, key=key)
    if (w < 0).any():
        i = int(np.argmax((w < 0).reshape(len(w), -1).any(axis=1)))
        raise DataError(f"{what} holds a negative weight at sample {i}; weights must be >= 0",
                        key=key)
    return w

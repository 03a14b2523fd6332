"""The numbers of a diagnosis, from arrays: no model, no printing.

Every function takes a layer's output on a batch (N, ..., units) or gradients and returns plain
floats and lists, ready for JSON. Means and norms are accumulated in float64.
"""

from __future__ import annotations

import math

import numpy as np

from nntrain.diagnostics import thresholds as th


def activation_kind(layer) -> str | None:
    """The activation a layer's output comes out of (a `thresholds` family name, 'linear', ...),
    or None when the output is not an activation's (pooling, normalization, merges, ...).
    Wrappers answer for the layer they wrap; recurrent layers for their output activation."""
    name = type(layer).__name__
    if name in th.ACTIVATION_LAYERS:
        return th.ACTIVATION_LAYERS[name]
    inner = getattr(layer, "layer", None) or getattr(layer, "forward_layer", None)
    if inner is not None and inner is not layer:
        if getattr(layer, "merge_mode", "concat") != "concat":  # a sum of tanh is not bounded
            return None
        return activation_kind(inner)
    act = getattr(layer, "activation", None)
    return getattr(act, "name", None)


def dead_fraction(y: np.ndarray) -> float:
    """Fraction of units (the last axis) that are ≤ 0 for every sample and position of the
    batch. y : (N, ..., units)."""
    alive = (y > 0).reshape(-1, y.shape[-1]).any(axis=0)
    return float(1.0 - alive.mean())


def saturated_fraction(y: np.ndarray, kind: str) -> float:
    """tanh (softsign): fraction of values with |a| > 0.99; sigmoid / hard_sigmoid: a < 0.01 or
    a > 0.99; softmax: fraction of samples (rows of the last axis) whose max exceeds 0.99."""
    if kind == "softmax":
        return float((y.reshape(-1, y.shape[-1]).max(axis=1) > th.SOFTMAX_SATURATED).mean())
    if kind in ("sigmoid", "hard_sigmoid"):
        low = th.SIGMOID_SATURATED
        return float(((y < low) | (y > 1.0 - low)).mean())
    return float((np.abs(y) > th.TANH_SATURATED).mean())


def value_range(y: np.ndarray) -> tuple[float, float] | None:
    """The span a histogram of `y` shows: the `thresholds.HISTOGRAM_PERCENTILES` of its finite
    values (a few outliers do not squeeze the rest into one bin); None if there are none."""
    finite = y[np.isfinite(y)]
    if not finite.size:
        return None
    lo, hi = np.percentile(finite, th.HISTOGRAM_PERCENTILES)
    return float(lo), float(hi)


def histogram(y: np.ndarray, kind: str | None, span: tuple[float, float] | None = None
              ) -> dict:
    """30-bin histogram of the finite values: {"edges": 31 floats, "counts": 30 ints}, over
    `span` if given, else a bounded activation's whole range (`thresholds.BOUNDED_RANGE`), else
    `value_range`. Values outside the span are counted in the end bins, so counts always add
    up to the number of finite values."""
    values = y.ravel()
    finite = values[np.isfinite(values)]
    if span is None:
        span = th.BOUNDED_RANGE.get(kind) or value_range(finite) or (0.0, 1.0)
    lo, hi = span
    if hi <= lo:   # a constant output: one bin around the value
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(np.clip(finite, lo, hi), bins=th.HISTOGRAM_BINS,
                                 range=(lo, hi))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def output_stats(y: np.ndarray, kind: str | None, *, with_histogram: bool = True,
                 span: tuple[float, float] | None = None) -> dict:
    """mean, std, dead_fraction (ReLU family, else None), saturated_fraction (tanh, sigmoid,
    softmax, else None) and optionally the histogram of one layer's output (over `span`)."""
    y = np.asarray(y)
    out = {"mean": float(y.mean(dtype=np.float64)), "std": float(y.std(dtype=np.float64)),
           "dead_fraction": dead_fraction(y) if kind in th.RELU_FAMILY else None,
           "saturated_fraction": saturated_fraction(y, kind) if kind in th.SATURATING else None}
    if with_histogram:
        out["histogram"] = histogram(y, kind, span)
    return out


def norm(arrays) -> float:
    """The Euclidean norm of several arrays taken together."""
    return math.sqrt(sum(float(np.vdot(a, a)) for a in arrays))


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is 0 (the ratio says nothing then)."""
    if a is None or b is None or b == 0 or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return a / b


def through_time(dx: np.ndarray, go_backwards: bool = False) -> dict:
    """Norm of the gradient reaching a recurrent layer's input at each time step, in the order
    the layer processes them. dx : (N, T, features). `ratio` = first / last processed step: ≫ 1
    the gradient grows back through time (explodes), ≪ 1 it fades (vanishes)."""
    per_step = np.sqrt(np.einsum("ntf,ntf->t", dx, dx, dtype=np.float64))
    if go_backwards:
        per_step = per_step[::-1]
    first, last = float(per_step[0]), float(per_step[-1])
    return {"steps": int(per_step.size), "first": first, "last": last,
            "ratio": ratio(first, last), "norms": [float(v) for v in per_step]}

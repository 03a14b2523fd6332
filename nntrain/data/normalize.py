"""Input normalization with statistics from the training split (Keras `Normalization(axis=-1)`).

Each model input gets one `shift` and one `scale` per feature of its last axis, reduced over the
samples and every other axis; `apply` computes ``(x - shift) / scale``:

- ``standard``: shift = mean, scale = standard deviation (population, as Keras `adapt`);
- ``minmax``:   shift = minimum, scale = maximum - minimum;
- ``none``:     the inputs are only cast to the dtype.

A scale of 0 (a constant feature) becomes 1, so nothing is divided by zero. Statistics are
accumulated in float64 over chunks of samples, so a memory-mapped array is never loaded whole,
then stored in the working dtype; `state()` keeps them exactly (float32 -> float -> float32).
"""

from __future__ import annotations

import numpy as np

from nntrain.data.checks import chunks
from nntrain.errors import CheckpointError, DataError, unknown

METHODS = ("none", "standard", "minmax")


def _features(block: np.ndarray) -> np.ndarray:
    """A chunk (k, ..., f) as float64 rows (k * ..., f)."""
    f = block.shape[-1] if block.ndim > 1 else 1
    return np.asarray(block, dtype=np.float64).reshape(-1, f)


def _standard(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std, merging chunk statistics (Chan et al. 1979) for stability."""
    n, mean, m2 = 0, 0.0, 0.0
    for _, block in chunks(x):
        rows = _features(block)
        k, m = rows.shape[0], rows.mean(axis=0)
        delta = m - mean
        total = n + k
        mean = mean + delta * (k / total)
        m2 = m2 + ((rows - m) ** 2).sum(axis=0) + delta ** 2 * (n * k / total)
        n = total
    return mean, np.sqrt(m2 / n)


def _minmax(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = high = None
    for _, block in chunks(x):
        rows = _features(block)
        lo, hi = rows.min(axis=0), rows.max(axis=0)
        low = lo if low is None else np.minimum(low, lo)
        high = hi if high is None else np.maximum(high, hi)
    return low, high - low


class Normalizer:
    """Per-input, per-feature `(x - shift) / scale`; fitted on training inputs only."""

    def __init__(self, method: str, shifts: list[np.ndarray], scales: list[np.ndarray],
                 dtype=np.float32):
        self.method = method
        self.dtype = np.dtype(dtype)
        self.shifts = [np.asarray(s, dtype=self.dtype) for s in shifts]
        self.scales = [np.asarray(s, dtype=self.dtype) for s in scales]

    @classmethod
    def fit(cls, method: str, train_x: list[np.ndarray], dtype=np.float32) -> "Normalizer":
        """Statistics of each training input array (n, ..., features)."""
        if method not in METHODS:
            raise unknown("normalization", method, METHODS, key="data.normalize", cls=DataError)
        if method == "none":
            return cls(method, [], [], dtype)
        stats = [(_standard if method == "standard" else _minmax)(x) for x in train_x]
        # a constant feature (scale 0, also after rounding to the dtype) keeps scale 1
        scales = [np.where(np.asarray(scale, dtype=dtype) == 0, 1.0, scale) for _, scale in stats]
        return cls(method, [shift for shift, _ in stats], scales, dtype)

    def apply(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        """New arrays of the dtype, normalized; the inputs (possibly memory-mapped) stay as
        they are."""
        if self.method == "none":
            return [np.array(x, dtype=self.dtype) for x in xs]
        if len(xs) != len(self.shifts):
            raise ValueError(f"normalizer fitted on {len(self.shifts)} inputs, got {len(xs)}")
        out = []
        for x, shift, scale in zip(xs, self.shifts, self.scales):
            a = np.subtract(x, shift, dtype=self.dtype)   # the cast and the shift in one pass
            a /= scale
            out.append(a)
        return out

    def state(self) -> dict:
        """JSON-serialisable statistics; `from_state` restores them bit for bit."""
        return {"method": self.method, "dtype": self.dtype.name,
                "shift": [[float(v) for v in s.ravel()] for s in self.shifts],
                "scale": [[float(v) for v in s.ravel()] for s in self.scales]}

    @classmethod
    def from_state(cls, state: dict) -> "Normalizer":
        try:
            method = state["method"]
            if method not in METHODS:
                raise ValueError(method)
            return cls(method, state["shift"], state["scale"], np.dtype(state["dtype"]))
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"malformed normalization statistics ({e!r})") from None

    def __repr__(self) -> str:
        return f"Normalizer({self.method!r}, inputs={len(self.shifts)}, dtype={self.dtype.name})"

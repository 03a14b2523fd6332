"""Keras's weight and activity regularizers: l1, l2, l1_l2.

Penalties as Keras adds them to the loss: ``l1 * sum(|w|) + l2 * sum(w**2)`` (no factor 1/2).
Configs write ``kernel_regularizer: l2`` (Keras default factor 0.01), ``{l2: 1.0e-4}`` or
``{l1: 1e-5, l2: 1e-4}``, or ``{L1L2: {l1: ..., l2: ...}}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nntrain import validate
from nntrain.errors import ConfigError, unknown


@dataclass(frozen=True)
class Regularizer:
    l1: float = 0.0
    l2: float = 0.0

    def penalty(self, w: np.ndarray) -> float:
        p = 0.0
        if self.l1:
            p += self.l1 * float(np.abs(w).sum())
        if self.l2:
            p += self.l2 * float(np.square(w).sum())
        return p

    def gradient(self, w: np.ndarray) -> np.ndarray:
        g = np.zeros_like(w)
        if self.l1:
            g += self.l1 * np.sign(w)
        if self.l2:
            g += (2.0 * self.l2) * w
        return g


_NAMED = {"l1": Regularizer(l1=0.01), "l2": Regularizer(l2=0.01),
          "l1_l2": Regularizer(l1=0.01, l2=0.01)}
_CLASSES = {"L1": ("l1",), "L2": ("l2",), "L1L2": ("l1", "l2")}


def _factors(args: dict, allowed: tuple[str, ...], key: str) -> Regularizer:
    for k in args:
        if k not in allowed:
            raise unknown("regularizer argument", k, allowed, key=key)
    vals = {k: validate.number(f"{key}.{k}", v, low=0) for k, v in args.items()}
    return Regularizer(**vals)


def get(spec, key: str = "regularizer") -> Regularizer | None:
    if spec is None or isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, str):
        if spec not in _NAMED:
            raise unknown("regularizer", spec, _NAMED, key=key)
        return _NAMED[spec]
    if isinstance(spec, dict):
        if len(spec) == 1 and next(iter(spec)) in _CLASSES:
            (name, args), = spec.items()
            return _factors(args or {}, _CLASSES[name], key)
        return _factors(spec, ("l1", "l2"), key)
    raise ConfigError(f"expected l1, l2, l1_l2 or a map such as {{l2: 1.0e-4}}, received "
                      f"{spec!r}", key=key)

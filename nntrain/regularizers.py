"""Keras's weight and activity regularizers: l1, l2, l1_l2.

Penalties as Keras adds them to the loss: ``l1 * sum(|w|) + l2 * sum(w**2)`` (no factor 1/2).
Configs write ``kernel_regularizer: l2`` (Keras default factor 0.01), ``{l2: 1.0e-4}`` or
``{l1: 1e-5, l2: 1e-4}``, or ``{L1L2: {l1: ..., l2: ...}}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nntrain import validate
from nntrain.errors import unknown
from nntrain.registry import Registry


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


def l1(l1: float = 0.01) -> Regularizer:
    """``l1 * sum(|w|)``."""
    return Regularizer(l1=validate.number("l1", l1, low=0))


def l2(l2: float = 0.01) -> Regularizer:
    """``l2 * sum(w**2)`` (no factor 1/2, as Keras)."""
    return Regularizer(l2=validate.number("l2", l2, low=0))


def l1_l2(l1: float = 0.0, l2: float = 0.0) -> Regularizer:
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""
    return Regularizer(l1=validate.number("l1", l1, low=0), l2=validate.number("l2", l2, low=0))


REGULARIZERS = Registry("regularizer", expected="l1, l2, l1_l2 or a map such as {l2: 1.0e-4}")
REGULARIZERS.add("L1", l1, aliases=("l1",))
REGULARIZERS.add("L2", l2, aliases=("l2",))
REGULARIZERS.add("L1L2", l1_l2)
REGULARIZERS.add("l1_l2", lambda: l1_l2(0.01, 0.01),
                 doc="``0.01 * sum(|w|) + 0.01 * sum(w**2)`` (Keras's l1_l2 shorthand).")


def _factors(args: dict, key: str) -> Regularizer:
    """The factor map ``{l2: 1.0e-4}`` / ``{l1: ..., l2: ...}``: Keras's L1L2 arguments."""
    for k in args:
        if k not in ("l1", "l2"):
            raise unknown("regularizer argument", k, ("l1", "l2"), key=key)
    vals = {k: validate.number(f"{key}.{k}", v, low=0) for k, v in args.items()}
    return Regularizer(**vals)


def get(spec, key: str = "regularizer") -> Regularizer | None:
    if spec is None or isinstance(spec, Regularizer):
        return spec
    one_key = (isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in REGULARIZERS
               and isinstance(next(iter(spec.values())), (dict, type(None))))
    if isinstance(spec, dict) and not one_key:   # {l2: 1.0e-4}: L1L2's factors
        return _factors(spec, key)
    return REGULARIZERS.construct(spec, key)

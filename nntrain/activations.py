"""Keras's activation functions with their derivatives.

Each activation is a pair ``forward(x) -> y`` and ``backward(x, y, dy) -> dx``; backward gets both
the input and the output so that each derivative uses whichever is cheaper (sigmoid and tanh from
y, relu from x) and nothing is recomputed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from nntrain.registry import Registry

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


@dataclass(frozen=True)
class Activation:
    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    doc: str = ""
    in_place: Callable[[np.ndarray], np.ndarray] | None = None   # forward, written over x

    def forward_over(self, x: np.ndarray) -> np.ndarray:
        """forward(x), the same values, written over x where this function can: for a fresh
        pre-activation nothing keeps (inference), one array less to allocate and fill."""
        return self.forward(x) if self.in_place is None else self.in_place(x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function as 0.5·tanh(x/2) + 0.5: the same value, no overflow for any x, and
    one pass over the data instead of exp, where and division (it is on the LSTM/GRU hot path).
    Its absolute error is one rounding unit; relative precision far in the negative tail
    (outputs below ~1e-4 in float32) is lower than an exp form, which no loss sees: the
    cross-entropies clip probabilities at 1e-7."""
    y = np.tanh(x * 0.5)
    y *= 0.5
    y += 0.5
    return y


_ZEROS: dict = {}


def _zeros(x: np.ndarray) -> np.ndarray:
    """A zero row (last axis of x, x's dtype): ``np.maximum(x, row)`` runs NumPy's vector loop,
    about twice as fast as ``np.maximum(x, 0)`` with a scalar (NumPy 2.4)."""
    if np.ndim(x) == 0:
        return 0
    key = (x.shape[-1], x.dtype)
    row = _ZEROS.get(key)
    if row is None:
        row = _ZEROS[key] = np.zeros(key[0], dtype=x.dtype)
        row.flags.writeable = False
    return row


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_over(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(x) written over x (the same operations, so the same values)."""
    x -= x.max(axis=axis, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=axis, keepdims=True)
    return x


def _sigmoid_over(x: np.ndarray) -> np.ndarray:
    """sigmoid(x) written over x (the same operations as `sigmoid`)."""
    np.multiply(x, 0.5, out=x)
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def softmax_backward(y: np.ndarray, dy: np.ndarray, axis: int = -1) -> np.ndarray:
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


try:  # exact gelu wants erf; scipy is optional
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - depends on the environment
    _erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu(x):
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(x.dtype, copy=False)


def _gelu_backward(x, y, dy):
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return (dy * (cdf + x * pdf)).astype(x.dtype, copy=False)


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _elu_backward(x, y, dy, alpha=1.0):
    return dy * np.where(x > 0, 1.0, y + alpha).astype(x.dtype, copy=False)


def _softplus(x):
    return np.logaddexp(0, x).astype(x.dtype, copy=False)


def _swish_backward(x, y, dy):
    s = sigmoid(x)
    return dy * (s + x * s * (1 - s))


_ACTIVATIONS = [
    Activation("linear", lambda x: x, lambda x, y, dy: dy, "The identity (no activation).",
               lambda x: x),
    Activation("relu", lambda x: np.maximum(x, _zeros(x)), lambda x, y, dy: dy * (x > 0),
               "max(x, 0).", lambda x: np.maximum(x, _zeros(x), out=x)),
    Activation("leaky_relu", lambda x: np.maximum(x, 0.2 * x),
               lambda x, y, dy: dy * np.where(x > 0, 1.0, 0.2).astype(x.dtype, copy=False),
               "x for x > 0, else 0.2 x."),
    Activation("elu", _elu, _elu_backward, "x for x > 0, else exp(x) - 1."),
    Activation("selu", lambda x: SELU_SCALE * _elu(x, SELU_ALPHA),
               lambda x, y, dy: dy * np.where(x > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA)
               .astype(x.dtype, copy=False), "Scaled ELU (self-normalizing; lecun_normal init)."),
    Activation("gelu", _gelu, _gelu_backward, "x * Phi(x), Phi the normal CDF (exact form)."),
    Activation("sigmoid", sigmoid, lambda x, y, dy: dy * y * (1 - y), "1 / (1 + exp(-x)).",
               _sigmoid_over),
    Activation("hard_sigmoid", lambda x: np.clip(x / 6.0 + 0.5, 0, 1).astype(x.dtype, copy=False),
               lambda x, y, dy: dy * ((x > -3) & (x < 3)) / 6.0,
               "clip(x / 6 + 0.5, 0, 1) (Keras 3's form)."),
    Activation("tanh", np.tanh, lambda x, y, dy: dy * (1 - y * y), "Hyperbolic tangent.",
               lambda x: np.tanh(x, out=x)),
    Activation("softmax", softmax, lambda x, y, dy: softmax_backward(y, dy),
               "exp(x) / sum(exp(x)) over the last axis.", _softmax_over),
    Activation("softplus", _softplus, lambda x, y, dy: dy * sigmoid(x), "log(1 + exp(x))."),
    Activation("softsign", lambda x: x / (1 + np.abs(x)),
               lambda x, y, dy: dy / (1 + np.abs(x)) ** 2, "x / (1 + |x|)."),
    Activation("swish", lambda x: x * sigmoid(x), _swish_backward, "x * sigmoid(x) (alias silu)."),
]
ACTIVATIONS = Registry("activation", expected="an activation name", one_key=False,
                       instances=True)
for _a in _ACTIVATIONS:
    ACTIVATIONS.add(_a.name, _a, aliases=("silu",) if _a.name == "swish" else (), doc=_a.doc)


def get(name: str | None, key: str = "activation") -> Activation:
    """Look up an activation by Keras name; ``None`` means linear."""
    if name is None:
        return ACTIVATIONS["linear"]
    return ACTIVATIONS.construct(name, key)

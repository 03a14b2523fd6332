"""Central finite differences against backprop, in float64.

Used by the test suite for every layer, and by ``nntrain gradcheck`` to show a user that their
own model's gradients are right. The relative error of a tensor is
``|a - n| / max(|a| + |n|, 1e-12)`` over the whole tensor (Euclidean norms), so one tiny entry
cannot dominate and an all-zero gradient compares as 0.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    num = np.linalg.norm(analytic - numeric)
    den = max(np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-12)
    return float(num / den)


def numeric_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f() / d x by central differences, perturbing `x` in place (restored afterwards)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def check_layer(layer, input_shape, *, batch: int = 3, seed: int = 0, training: bool = False,
                inputs=None, eps: float = 1e-6) -> dict[str, float]:
    """Build `layer` in float64 and compare every parameter gradient and the input gradient(s)
    with finite differences of ``sum(forward(x) * R)`` for a fixed random R.

    `input_shape` is the per-sample shape (a list of shapes for multi-input layers); `inputs`
    may give the batch explicitly (e.g. integer ids for Embedding, which get no input gradient).
    Returns ``{"input": err, "<param>": err, ...}`` (``input_0``, ``input_1`` for several).
    Random streams (dropout) are re-seeded before every forward pass so masks repeat.
    """
    rng = np.random.default_rng(seed)
    layer.dtype = np.float64
    if not layer.built:
        layer.build(input_shape, np.random.default_rng(seed + 1))
    layer.set_dtype(np.float64)
    multi = layer.multi_input
    if inputs is None:
        shapes = input_shape if multi else [input_shape]
        inputs = [rng.standard_normal((batch, *s)) for s in shapes]
    elif not multi:
        inputs = [inputs]

    def run():
        layer.rng = np.random.default_rng(seed + 2)
        return layer.forward(inputs if multi else inputs[0], training=training)

    y = run()
    y_list = y if isinstance(y, list) else [y]
    weights = [rng.standard_normal(t.shape) for t in y_list]

    def loss() -> float:
        out = run()
        out = out if isinstance(out, list) else [out]
        return float(sum((o * w).sum() for o, w in zip(out, weights)))

    run()
    dx = layer.backward(weights if isinstance(y, list) else weights[0])
    dx_list = dx if isinstance(dx, list) else [dx]
    analytic_params = {k: np.array(v, dtype=np.float64) for k, v in layer.grads.items()}

    errors = {}
    for name, g in analytic_params.items():
        errors[name] = relative_error(g, numeric_gradient(loss, layer.params[name], eps))
    for i, (x, g) in enumerate(zip(inputs, dx_list)):
        if not np.issubdtype(x.dtype, np.floating) or g is None:
            continue
        key = "input" if len(inputs) == 1 else f"input_{i}"
        errors[key] = relative_error(g, numeric_gradient(loss, x, eps))
    return errors

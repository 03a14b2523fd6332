"""Central finite differences against backprop, in float64.

Used by the test suite for every layer, and by ``nntrain gradcheck`` to show a user that their
own model's gradients are right. The relative error of a tensor is
``|a - n| / max(|a| + |n|, 1e-12)`` over the whole tensor (Euclidean norms), so one tiny entry
cannot dominate and an all-zero gradient compares as 0.

`check_model` (the ``nntrain gradcheck`` command) knows the central differences' own rounding:
each numeric entry carries an error of about ``|f| * 2**-52 / eps``. A gradient that is exactly
zero (an attention key's bias: a constant added to a softmax's inputs changes nothing) meets a
numeric estimate that is only that rounding; both at that level count as agreeing.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def relative_error(analytic: np.ndarray, numeric: np.ndarray, noise: float = 0.0) -> float:
    """The relative error of two gradients. With `noise` (the numeric estimate's rounding, as a
    norm over the entries compared): two gradients that are both no larger than it are both
    zero as far as finite differences can tell, and agree (error 0)."""
    a, n = np.linalg.norm(analytic), np.linalg.norm(numeric)
    if noise and a <= noise and n <= 2 * noise:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / max(a + n, 1e-12))


def rounding_noise(value: float, entries: int, eps: float) -> float:
    """The norm of central differences' rounding error over `entries` entries of f = `value`:
    each difference quotient is off by about ``|f| * 2**-52 / eps`` (float64); a factor 4 of
    margin for the two evaluations and the regularization terms."""
    return 4.0 * max(abs(value), 1.0) * np.finfo(np.float64).eps / eps * np.sqrt(entries)


def numeric_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f() / d x by central differences, perturbing `x` in place (restored afterwards)."""
    return numeric_at(f, x, np.arange(x.size), eps).reshape(x.shape)


def check_layer(layer, input_shape, *, batch: int = 3, seed: int = 0, training: bool = False,
                inputs=None, eps: float = 1e-6, mask=None) -> dict[str, float]:
    """Build `layer` in float64 and compare every parameter gradient and the input gradient(s)
    with finite differences of ``sum(forward(x) * R)`` for a fixed random R.

    `input_shape` is the per-sample shape (a list of shapes for multi-input layers); `inputs`
    may give the batch explicitly (e.g. integer ids for Embedding, which get no input gradient),
    `mask` the input's mask for a layer that takes one (a list for several inputs).
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
        layer.backprop = True               # backward follows, in either mode
        x = inputs if multi else inputs[0]
        if mask is not None:
            return layer.forward(x, training=training, mask=mask)
        return layer.forward(x, training=training)

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


def random_batch(model, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random inputs of the model's shapes; integer ids for inputs that feed an Embedding."""
    xs = []
    for name in model.input_names:
        shape = (batch, *model.input_shapes[name])
        consumers = [n.layer for n in model.nodes if name in n.inputs]
        if consumers and all(c.integer_input for c in consumers):
            xs.append(rng.integers(0, min(c.input_dim for c in consumers), size=shape))
        else:
            xs.append(rng.standard_normal(shape).astype(model.dtype))
    return xs


def random_targets(model, loss, batch: int, rng: np.random.Generator) -> np.ndarray:
    """Targets that suit the loss: class ids, one-hot rows, 0/1 or -1/1 labels, counts,
    distributions or real values."""
    shape = (batch, *model.output_shape)
    k = shape[-1]
    if loss.label_kind == "sparse":
        return rng.integers(0, k, size=shape[:-1])
    if loss.label_kind == "onehot":
        return np.eye(k)[rng.integers(0, k, size=shape[:-1])]
    if loss.name == "binary_crossentropy":
        return rng.integers(0, 2, size=shape).astype(np.float64)
    if loss.name in ("hinge", "squared_hinge"):
        return rng.choice([-1.0, 1.0], size=shape)
    if loss.name == "poisson":
        return rng.poisson(2.0, size=shape).astype(np.float64)
    if loss.name == "kl_divergence":
        t = rng.uniform(0.1, 1.0, size=shape)
        return t / t.sum(axis=-1, keepdims=True)
    return rng.standard_normal(shape)


def check_model(model, loss, *, batch: int = 4, seed: int = 0, max_entries: int = 30,
                eps: float = 1e-5, sample_weight=None) -> list[dict]:
    """Compare backprop with central differences for every trainable tensor and every float
    input of `model` (cast to float64 here), using the training step's own code path — with
    the loss weighted by `sample_weight` (one per sample of the batch) when given.

    Tensors larger than `max_entries` are checked on that many randomly chosen entries (a full
    check of a 500k-parameter model would take two forward passes per weight). `eps` 1e-5 is
    near the best step for central differences in float64 (cube root of the machine epsilon):
    rounding grows as 1/eps, truncation as eps**2. Returns rows
    ``{"layer", "param", "rel_error", "entries"}``.
    """
    from nntrain.losses import masked_weights
    from nntrain.training.step import forward_backward

    model.set_dtype(np.float64)
    rng = np.random.default_rng(seed)
    xs = [x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x
          for x in random_batch(model, batch, rng)]
    y = random_targets(model, loss, batch, rng)

    def reseed():
        model.set_rng(np.random.default_rng(seed + 1))

    def value() -> float:
        reseed()
        out = model.forward(xs, training=True)
        w = masked_weights(sample_weight, model.output_mask)
        return float(loss(y, out, w)) + model.regularization_loss()

    reseed()
    f0, _, input_grads = forward_backward(model, loss, xs, y, training=True,
                                          sample_weight=sample_weight, wrt_inputs=True)
    grads = model.gradients()

    rows = []
    weights = model.trainable_weights()
    for key, w in weights.items():
        layer, param = key.split("/", 1)
        idx = _entries(w.size, max_entries, rng)
        analytic = grads[key].reshape(-1)[idx]
        numeric = numeric_at(value, w, idx, eps)
        noise = rounding_noise(f0, len(idx), eps)
        rows.append({"layer": layer, "param": param,
                     "rel_error": relative_error(analytic, numeric, noise),
                     "entries": int(len(idx))})
    for name, x, g in zip(model.input_names, xs, input_grads):
        if g is None or not np.issubdtype(x.dtype, np.floating):
            continue
        idx = _entries(x.size, max_entries, rng)
        numeric = numeric_at(value, x, idx, eps)
        rows.append({"layer": name, "param": "input", "entries": int(len(idx)),
                     "rel_error": relative_error(g.reshape(-1)[idx], numeric,
                                                 rounding_noise(f0, len(idx), eps))})
    return rows


def _entries(size: int, most: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(size) if size <= most else np.sort(rng.choice(size, most, replace=False))


def numeric_at(f: Callable[[], float], x: np.ndarray, idx: np.ndarray, eps: float) -> np.ndarray:
    """Central differences of f() with respect to the flat entries `idx` of `x`."""
    flat = x.reshape(-1)
    out = np.empty(len(idx))
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        out[j] = (plus - minus) / (2 * eps)
    return out

"""MultiHeadAttention with Keras 3's arithmetic and weight layout.

Keras calls the layer as ``mha(query, value, key=None)``; here a layer takes the inputs its
config names, so one class takes a list of one, two or three inputs:

    inputs: x                   self-attention: query = value = key = x
    inputs: [q, v]              query q attends to value v (key = v), as ``mha(q, v)``
    inputs: [q, v, k]           as ``mha(q, v, key=k)``

Shapes per sample: query (T, dim_q), value (S, dim_v), key (S, dim_k); more axes before the
features (an image (H, W, C)) are attended over jointly, which is Keras's default
`attention_axes`. Weights, in Keras's order and layout (EinsumDense kernels):
``query/kernel`` (dim_q, heads, key_dim), ``query/bias`` (heads, key_dim), the same for
``key``, ``value/kernel`` (dim_v, heads, value_dim), ``value/bias`` (heads, value_dim),
``attention_output/kernel`` (heads, value_dim, *output_shape), ``attention_output/bias``
(*output_shape).

Masks as Keras 3.15 takes them: the query's mask (T), the value's (S) and, with a separate key
input, the key's (S) combine (AND, and with the causal mask) into which key positions each
query position may see; the others' scores become -1e9 before the softmax, and the output
carries the query's mask. A query row that may see no key at all (a masked query position, or
nothing visible yet) attends uniformly to every key when dropout is 0, which is what Keras's
``dot_product_attention`` path gives (its additive -0.7 * float max swallows the scores), and
gets all-zero weights when dropout > 0 or over several attention axes (Keras's
``_masked_softmax``, which zeroes masked weights after the softmax). Either way the row's
scores are constants, so their gradient is 0 (torch's autograd through Keras's first path
passes a nonzero one; the values' gradient agrees). Over several attention axes the mask's
positions are flattened like the inputs'.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from nntrain import validate
from nntrain.activations import softmax
from nntrain.errors import ConfigError
from nntrain.layers.base import Layer, register, set_kernel_arguments

PROJECTIONS = ("query", "key", "value")


def _large_negative(dtype):
    """Keras's masked-score constant (softmax.py `_large_negative_number`)."""
    return np.dtype(dtype).type(-3e4 if np.dtype(dtype) == np.float16 else -1e9)


def _output_shape_arg(value):
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = [value]
    return validate.shape("output_shape", value)


@register
class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017), Keras's layer.

    Project query, key and value per head, take ``softmax(q·k / sqrt(key_dim))`` over the key
    positions (dropout on those probabilities in training), weigh the values, and project
    back to the query's feature size (or `output_shape`).

    `use_causal_mask` is a call argument in Keras; here it is fixed per layer: query position
    i attends only to key positions j <= i.
    """

    multi_input = True
    fewest_inputs = 1
    takes_mask = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, use_causal_mask=False,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, seed=None, **base):
        super().__init__(**base)
        self.num_heads = validate.positive_int("num_heads", num_heads)
        self.key_dim = validate.positive_int("key_dim", key_dim)
        self.value_dim = (self.key_dim if value_dim is None
                          else validate.positive_int("value_dim", value_dim))
        self.dropout = validate.number("dropout", dropout, low=0, high=1, high_open=True)
        self.output_shape = _output_shape_arg(output_shape)
        self.attention_axes = self._axes_arg(attention_axes)
        self.use_causal_mask = validate.boolean("use_causal_mask", use_causal_mask)
        set_kernel_arguments(self, use_bias, kernel_initializer, bias_initializer,
                             kernel_regularizer, bias_regularizer)

    @staticmethod
    def _axes_arg(axes):
        if axes is None:
            return None
        items = [axes] if isinstance(axes, numbers.Integral) else axes
        if isinstance(axes, bool) or not isinstance(items, (list, tuple)) or not items or any(
                isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in items):
            raise ConfigError(f"expected an integer or a list of integers, received {axes!r}",
                              key="attention_axes")
        return tuple(int(a) for a in items)

    # -- shapes -------------------------------------------------------------------------------
    def _shapes(self, input_shape):
        """(query, value, key) per-sample shapes from the list of 1-3 input shapes."""
        if not isinstance(input_shape, (list, tuple)) or not all(
                isinstance(s, (list, tuple)) for s in input_shape):
            raise ConfigError(f"MultiHeadAttention takes a list of inputs, received input shape "
                              f"{input_shape!r}")
        shapes = [tuple(s) for s in input_shape]
        if not 1 <= len(shapes) <= 3:
            raise ConfigError(f"MultiHeadAttention takes 1 input (self-attention), 2 (query, "
                              f"value) or 3 (query, value, key), received {len(shapes)}",
                              key="inputs")
        q = shapes[0]
        v = shapes[1] if len(shapes) > 1 else q
        k = shapes[2] if len(shapes) > 2 else v
        for name, s in (("query", q), ("value", v), ("key", k)):
            if len(s) < 2:
                raise ConfigError(f"MultiHeadAttention expects a {name} of per-sample shape "
                                  f"(steps, features), received {list(s)}", key="inputs")
        if v[:-1] != k[:-1]:
            raise ConfigError(f"value and key must agree on every axis but the last, received "
                              f"value {list(v)} and key {list(k)}", key="inputs")
        if len(v) != len(q):
            raise ConfigError(f"query and value must have the same rank, received query "
                              f"{list(q)} and value {list(v)}", key="inputs")
        return q, v, k

    def _check_axes(self, rank: int) -> None:
        """Only Keras's default: every axis between the batch and the features."""
        if self.attention_axes is None:
            return
        given = {a if a >= 0 else rank + a for a in self.attention_axes}
        if given != set(range(1, rank - 1)):
            raise ConfigError(
                f"only the default attention_axes (every axis between the batch and the "
                f"features, {list(range(1, rank - 1))} here) is supported, received "
                f"{list(self.attention_axes)}", key="attention_axes")

    def output_masked(self, input_masked) -> bool:
        return bool(input_masked[0])        # Keras sets the query's mask on the output

    def compute_mask(self, x, mask):
        return mask[0]

    def compute_output_shape(self, input_shape):
        q, _, _ = self._shapes(input_shape)
        self._check_axes(len(q) + 1)
        if self.use_causal_mask and len(q) > 2:
            raise ConfigError("use_causal_mask needs inputs of per-sample shape "
                              "(steps, features)", key="use_causal_mask")
        return (*q[:-1], *(self.output_shape or q[-1:]))

    def build(self, input_shape, rng):
        q, v, k = self._shapes(input_shape)
        out = self.output_shape or q[-1:]
        self.compute_output_shape(input_shape)
        h = self.num_heads
        dims = {"query": (q[-1], self.key_dim), "key": (k[-1], self.key_dim),
                "value": (v[-1], self.value_dim)}
        for name in PROJECTIONS:
            n_in, size = dims[name]
            self._weight(f"{name}/kernel", (n_in, h, size), rng)
            if self.use_bias:
                self._weight(f"{name}/bias", (h, size), rng, bias=True)
        self._weight("attention_output/kernel", (h, self.value_dim, *out), rng)
        if self.use_bias:
            self._weight("attention_output/bias", tuple(out), rng, bias=True)
        super().build(input_shape, rng)

    def _weight(self, name, shape, rng, bias=False):
        self.add_weight(name, shape, self.bias_initializer if bias else self.kernel_initializer,
                        rng, regularizer=self.bias_regularizer if bias else
                        self.kernel_regularizer)

    # -- computing ----------------------------------------------------------------------------
    def _project(self, name: str, x: np.ndarray) -> np.ndarray:
        """x (N, L, d) → (N, heads, L, size)."""
        w = self.params[f"{name}/kernel"]
        y = x @ w.reshape(w.shape[0], -1)
        if self.use_bias:
            y += self.params[f"{name}/bias"].reshape(-1)
        return y.reshape(*x.shape[:2], *w.shape[1:]).transpose(0, 2, 1, 3)

    def _allowed(self, mask, n: int, t: int, s: int) -> np.ndarray | None:
        """Which key positions each query position sees, (N or 1, 1, T, S) bool, from the
        inputs' masks (a list beside x, None entries for unmasked inputs) and the causal mask;
        None when nothing is masked (Keras's ``_compute_attention_mask``)."""
        mask = list(mask or [None])
        query = mask[0]
        value = mask[1] if len(mask) > 1 else query
        key = mask[2] if len(mask) > 2 else None     # mha(q, v): Keras reads no key mask
        allowed = None
        parts = [(query, (n, 1, t, 1)), (value, (n, 1, 1, s)), (key, (n, 1, 1, s))]
        for m, shape in parts:
            if m is not None:
                m = np.asarray(m, dtype=bool).reshape(shape)
                allowed = m if allowed is None else allowed & m
        if self.use_causal_mask:
            causal = np.tri(t, s, dtype=bool)
            allowed = causal if allowed is None else allowed & causal
        return allowed

    def forward(self, x, training=False, mask=None):
        """x : [query (N, *Tq, dq)] or [query, value (N, *S, dv)] or [..., key (N, *S, dk)] →
        (N, *Tq, *output_shape); mask : a list beside x, each (N, *Tq) or (N, *S) bool or
        None (see the module's docstring)."""
        self._n = len(x)
        query = x[0]
        value = x[1] if len(x) > 1 else query
        key = x[2] if len(x) > 2 else value
        flat = [a.reshape(a.shape[0], -1, a.shape[-1]) for a in (query, key, value)]
        q, k, v = (self._project(name, a) for name, a in zip(PROJECTIONS, flat))
        q = q * q.dtype.type(1.0 / math.sqrt(self.key_dim))
        scores = q @ k.transpose(0, 1, 3, 2)                       # (N, h, T, S)
        n, _, t, s = scores.shape
        allowed = self._allowed(mask, n, t, s)
        if allowed is not None:
            scores = np.where(allowed, scores, _large_negative(scores.dtype))
        probs = softmax(scores, axis=-1)
        if allowed is not None and (self.dropout > 0 or query.ndim > 3):
            probs = np.where(allowed, probs, probs.dtype.type(0))   # Keras's _masked_softmax
        keep = None
        if training and self.dropout > 0:
            keep = (self.rng.random(probs.shape, dtype=np.float32) >= self.dropout)
            keep = keep.astype(probs.dtype) * probs.dtype.type(1.0 / (1.0 - self.dropout))
        weights = probs if keep is None else probs * keep
        context = (weights @ v).transpose(0, 2, 1, 3)               # (N, T, h, vd)
        context = context.reshape(context.shape[0] * context.shape[1], -1)
        w_out = self.params["attention_output/kernel"]
        y = context @ w_out.reshape(context.shape[1], -1)
        if self.use_bias:
            y += self.params["attention_output/bias"].reshape(-1)
        self._cache = (flat, q, k, v, probs, keep, weights, context, allowed)
        self._shapes_in = [a.shape for a in x]
        return y.reshape(*query.shape[:-1], *w_out.shape[2:])

    def backward(self, dy):
        """dy : (N, *Tq, *output_shape) → the input gradients, one per input."""
        flat, q, k, v, probs, keep, weights, context, allowed = self._cache
        n, h = flat[0].shape[0], self.num_heads
        w_out = self.params["attention_output/kernel"]
        dy2 = dy.reshape(context.shape[0], -1)
        self.grads["attention_output/kernel"] = (context.T @ dy2).reshape(w_out.shape)
        if self.use_bias:
            self.grads["attention_output/bias"] = dy2.sum(axis=0).reshape(w_out.shape[2:])
        dcontext = (dy2 @ w_out.reshape(context.shape[1], -1).T)
        dcontext = dcontext.reshape(n, -1, h, self.value_dim).transpose(0, 2, 1, 3)
        dweights = dcontext @ v.transpose(0, 1, 3, 2)              # (N, h, T, S)
        dv = weights.transpose(0, 1, 3, 2) @ dcontext             # (N, h, S, vd)
        dprobs = dweights if keep is None else dweights * keep
        dscores = probs * (dprobs - (dprobs * probs).sum(axis=-1, keepdims=True))
        if allowed is not None:     # masked scores are constants (rows that see nothing, too)
            dscores = np.where(allowed, dscores, dscores.dtype.type(0))
        dq = dscores @ k * dscores.dtype.type(1.0 / math.sqrt(self.key_dim))
        dk = dscores.transpose(0, 1, 3, 2) @ q
        dq_in, dk_in, dv_in = (self._project_backward(name, a, d) for name, a, d in
                               zip(PROJECTIONS, flat, (dq, dk, dv)))
        shapes = self._shapes_in
        if self._n == 1:
            return [(dq_in + dk_in + dv_in).reshape(shapes[0])]
        if self._n == 2:
            return [dq_in.reshape(shapes[0]), (dk_in + dv_in).reshape(shapes[1])]
        return [dq_in.reshape(shapes[0]), dv_in.reshape(shapes[1]), dk_in.reshape(shapes[2])]

    def _project_backward(self, name: str, x: np.ndarray, d: np.ndarray) -> np.ndarray:
        """d (N, heads, L, size) → dx (N, L, d_in); kernel and bias gradients."""
        w = self.params[f"{name}/kernel"]
        d2 = d.transpose(0, 2, 1, 3).reshape(x.shape[0] * x.shape[1], -1)
        x2 = x.reshape(-1, x.shape[-1])
        self.grads[f"{name}/kernel"] = (x2.T @ d2).reshape(w.shape)
        if self.use_bias:
            self.grads[f"{name}/bias"] = d2.sum(axis=0).reshape(w.shape[1:])
        return (d2 @ w.reshape(w.shape[0], -1).T).reshape(x.shape)

    def flops(self, input_shape):
        q, v, k = self._shapes(input_shape)
        t, s, h = math.prod(q[:-1]), math.prod(v[:-1]), self.num_heads
        out = math.prod(self.output_shape or q[-1:])
        projections = t * q[-1] * self.key_dim + s * k[-1] * self.key_dim + \
            s * v[-1] * self.value_dim
        attention = t * s * (self.key_dim + self.value_dim)
        return 2 * h * (projections + attention + t * self.value_dim * out)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": list(self.output_shape) if self.output_shape else None,
                "attention_axes": list(self.attention_axes) if self.attention_axes else None,
                "use_causal_mask": self.use_causal_mask}

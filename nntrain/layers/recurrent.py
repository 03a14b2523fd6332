"""Recurrent layers with Keras 3's equations, weight layouts and dropout: SimpleRNN, LSTM, GRU.

All three run the same way. One matrix product projects the inputs of every time step at once
((T*N, in) @ kernel); a Python loop over time steps (never over samples) adds the recurrent part
and applies the gates, writing into preallocated caches; backpropagation through time runs the
loop in reverse and gets the weight gradients with one matrix product each after the loop.
Inside, arrays are time-major, (T, N, ...), so that each step's slice is contiguous.

Dropout follows Keras 3: in training, one mask per sequence (the same for every time step) on
the inputs (`dropout`) and on the previous output (`recurrent_dropout`). LSTM and GRU draw one
mask per gate when `recurrent_dropout > 0` (Keras switches to its ``implementation=1`` then) and
a single shared input mask otherwise.

`return_state` is not supported (a layer here has one output); `stateful` and masking neither.
"""

from __future__ import annotations

import numpy as np

from nntrain import activations, initializers, validate
from nntrain.errors import ConfigError
from nntrain.layers.base import Layer, check_initializer, check_rank, check_regularizer, register


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, a.shape[-1])


def _masked_product(a, mask, w, per_gate: bool) -> np.ndarray:
    """``(a * mask) @ w`` on the last axis of a (..., k); w (k, G*u). With `per_gate`, mask is
    (G, ...) and gate g's block of columns of w sees ``a * mask[g]``."""
    if mask is None or not per_gate:
        am = a if mask is None else a * mask
        return (_flat(am) @ w).reshape(*a.shape[:-1], w.shape[1])
    u = w.shape[1] // len(mask)
    return np.concatenate([(_flat(a * m) @ w[:, g * u:(g + 1) * u]).reshape(*a.shape[:-1], u)
                           for g, m in enumerate(mask)], axis=-1)


def _masked_product_input_grad(d, mask, w, per_gate: bool) -> np.ndarray:
    """dL/da of `_masked_product` given d = dL/d(output), (..., G*u) → (..., k)."""
    if mask is None or not per_gate:
        da = (_flat(d) @ w.T).reshape(*d.shape[:-1], w.shape[0])
        return da if mask is None else da * mask
    u = w.shape[1] // len(mask)
    return sum((_flat(d[..., g * u:(g + 1) * u]) @ w[:, g * u:(g + 1) * u].T)
               .reshape(*d.shape[:-1], w.shape[0]) * m for g, m in enumerate(mask))


def _masked_product_weight_grad(a, mask, d, per_gate: bool) -> np.ndarray:
    """dL/dw of `_masked_product`: (k, G*u)."""
    if mask is None or not per_gate:
        am = a if mask is None else a * mask
        return _flat(am).T @ _flat(d)
    u = d.shape[-1] // len(mask)
    return np.concatenate([_flat(a * m).T @ _flat(d[..., g * u:(g + 1) * u])
                           for g, m in enumerate(mask)], axis=1)


class Recurrent(Layer):
    """Shared machinery of SimpleRNN, LSTM and GRU.

    x : (batch, timesteps, in) → y : (batch, timesteps, units) with `return_sequences`, else
    (batch, units). With `go_backwards` the sequence is processed from the end and, as in Keras,
    the returned sequence is in processing order (reversed).

    Subclasses set `gates` (blocks of `units` columns in the kernels) and implement `_run(z)`
    (forward loop over the input projections z (T, N, G*u); returns the outputs (T+1, N, u) with
    h_0 = 0 first) and `_run_back(dh)` (reverse loop given dL/dh_t (T, N, u); returns dL/dz for
    the input projections and for the recurrent projections, both (T, N, G*u)).
    """

    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, seed=None, **base):
        super().__init__(**base)
        self.units = validate.positive_int("units", units)
        self.activation = activations.get(activation)
        self.use_bias = validate.boolean("use_bias", use_bias)
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = check_initializer(recurrent_initializer,
                                                       "recurrent_initializer")
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")
        self.kernel_regularizer = check_regularizer(kernel_regularizer, "kernel_regularizer")
        self.recurrent_regularizer = check_regularizer(recurrent_regularizer,
                                                       "recurrent_regularizer")
        self.bias_regularizer = check_regularizer(bias_regularizer, "bias_regularizer")
        self.dropout = validate.number("dropout", dropout, low=0, high=1, high_open=True)
        self.recurrent_dropout = validate.number("recurrent_dropout", recurrent_dropout,
                                                 low=0, high=1, high_open=True)
        self.return_sequences = validate.boolean("return_sequences", return_sequences)
        self.go_backwards = validate.boolean("go_backwards", go_backwards)
        if validate.boolean("return_state", return_state):
            raise ConfigError("return_state is not supported: a layer here has a single output "
                              "(received return_state=True)", key="return_state")
        if seed is not None:  # dropout draws from the model's seeded stream, as Dropout does
            validate.non_negative_int("seed", seed)
        # Keras uses one mask per gate once recurrent dropout is on (implementation=1).
        self.per_gate = self.gates > 1 and self.recurrent_dropout > 0

    # -- building ---------------------------------------------------------------------------
    def build(self, input_shape, rng):
        check_rank(self, input_shape, 2, "a sequence (timesteps, features)")
        width = self.gates * self.units
        self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer, rng,
                        regularizer=self.kernel_regularizer)
        self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer, rng,
                        regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self.add_weight("bias", self._bias_shape(), self._bias_initializer(), rng,
                            regularizer=self.bias_regularizer)
        super().build(input_shape, rng)

    def _bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def _input_bias(self) -> np.ndarray:
        return self.params["bias"]

    def _bias_grad(self, dzx, dzh) -> np.ndarray:
        return _flat(dzx).sum(axis=0)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 2, "a sequence (timesteps, features)")
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    # -- computing --------------------------------------------------------------------------
    def _mask(self, shape, rate):
        keep = self.rng.random(shape, dtype=np.float32) >= rate
        return keep.astype(self.dtype) * self.dtype(1.0 / (1.0 - rate))

    def _make_masks(self, n, n_in, training):
        self._in_mask = self._rec_mask = None
        if not training:
            return
        lead = (self.gates,) if self.per_gate else ()
        if self.dropout > 0:
            self._in_mask = self._mask((*lead, n, n_in), self.dropout)
        if self.recurrent_dropout > 0:
            self._rec_mask = self._mask((*lead, n, self.units), self.recurrent_dropout)

    def _rec(self, h):
        """Recurrent projection of one step: (N, u) → (N, G*u), recurrent dropout applied."""
        return _masked_product(h, self._rec_mask, self.params["recurrent_kernel"], self.per_gate)

    def _rec_back(self, dz):
        """dL/dh_{t-1} through `_rec`, given dL/d(projection) (N, G*u)."""
        return _masked_product_input_grad(dz, self._rec_mask, self.params["recurrent_kernel"],
                                          self.per_gate)

    def forward(self, x, training=False):
        """x : (N, T, in) → (N, T, units) or (N, units)."""
        x = np.asarray(x, dtype=self.dtype)
        xs = x.transpose(1, 0, 2)
        self._xs = np.ascontiguousarray(xs[::-1] if self.go_backwards else xs)
        self._make_masks(x.shape[0], x.shape[2], training)
        z = _masked_product(self._xs, self._in_mask, self.params["kernel"], self.per_gate)
        if self.use_bias:
            z += self._input_bias()
        self._z = z
        self._h = h = self._run(z)
        if self.return_sequences:
            return np.ascontiguousarray(h[1:].transpose(1, 0, 2))
        return h[-1].copy()

    def backward(self, dy):
        dy = np.asarray(dy, dtype=self.dtype)
        if self.return_sequences:
            dh = np.ascontiguousarray(dy.transpose(1, 0, 2))
        else:
            dh = np.zeros_like(self._h[1:])
            dh[-1] = dy
        dzx, dzh = self._run_back(dh)
        self.grads["kernel"] = _masked_product_weight_grad(self._xs, self._in_mask, dzx,
                                                           self.per_gate)
        self.grads["recurrent_kernel"] = _masked_product_weight_grad(
            self._h[:-1], self._rec_mask, dzh, self.per_gate)
        if self.use_bias:
            self.grads["bias"] = self._bias_grad(dzx, dzh)
        dxs = _masked_product_input_grad(dzx, self._in_mask, self.params["kernel"], self.per_gate)
        if self.go_backwards:
            dxs = dxs[::-1]
        return np.ascontiguousarray(dxs.transpose(1, 0, 2))

    def _empty_states(self, z) -> np.ndarray:
        """Preallocated (T+1, N, u) with a zero initial state."""
        s = np.empty((z.shape[0] + 1, z.shape[1], self.units), dtype=z.dtype)
        s[0] = 0
        return s

    # -- describing -------------------------------------------------------------------------
    def flops(self, input_shape):
        steps, n_in = input_shape
        width = self.gates * self.units
        return steps * (2 * (n_in + self.units) * width + 6 * width)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": self.activation.name, "use_bias": self.use_bias,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "return_sequences": self.return_sequences, "go_backwards": self.go_backwards}


@register
class SimpleRNN(Recurrent):
    """``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``.

    kernel (in, units), recurrent_kernel (units, units), bias (units,).
    """

    def _run(self, z):
        h, act = self._empty_states(z), self.activation
        for t in range(z.shape[0]):
            zt = z[t]
            zt += self._rec(h[t])
            h[t + 1] = act.forward(zt)
        return h

    def _run_back(self, dh):
        z, h, act = self._z, self._h, self.activation
        dz = np.empty_like(z)
        carry = 0
        for t in reversed(range(z.shape[0])):
            dht = dh[t]
            dht += carry
            dz[t] = act.backward(z[t], h[t + 1], dht)
            carry = self._rec_back(dz[t])
        return dz, dz


@register
class LSTM(Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), Keras's formulation.

    Gates in Keras order i, f, c, o: kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,).
    ``c_t = f * c_{t-1} + i * activation(c̃)``, ``h_t = o * activation(c_t)`` with i, f, o
    through `recurrent_activation`. `unit_forget_bias` starts the forget-gate bias at 1.
    """

    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation,
                                                    key="recurrent_activation")
        self.unit_forget_bias = validate.boolean("unit_forget_bias", unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, u = initializers.get(self.bias_initializer, key="bias_initializer"), self.units
        return lambda shape, rng: np.concatenate([init((u,), rng), np.ones(u),
                                                  init((2 * u,), rng)])

    def _run(self, z):
        u, ra, act = self.units, self.recurrent_activation, self.activation
        h, c = self._empty_states(z), self._empty_states(z)
        a = np.empty_like(z)                                   # i, f, c̃, o after activations
        tc = np.empty((z.shape[0], z.shape[1], u), dtype=z.dtype)  # activation(c_t)
        for t in range(z.shape[0]):
            zt, at = z[t], a[t]
            zt += self._rec(h[t])
            at[:, :2 * u] = ra.forward(zt[:, :2 * u])
            at[:, 2 * u:3 * u] = act.forward(zt[:, 2 * u:3 * u])
            at[:, 3 * u:] = ra.forward(zt[:, 3 * u:])
            np.multiply(at[:, u:2 * u], c[t], out=c[t + 1])
            c[t + 1] += at[:, :u] * at[:, 2 * u:3 * u]
            tc[t] = act.forward(c[t + 1])
            np.multiply(at[:, 3 * u:], tc[t], out=h[t + 1])
        self._a, self._c, self._tc = a, c, tc
        return h

    def _run_back(self, dh):
        u, ra, act = self.units, self.recurrent_activation, self.activation
        z, a, c, tc = self._z, self._a, self._c, self._tc
        dz = np.empty_like(z)
        dh_carry, dc_carry = 0, 0
        for t in reversed(range(z.shape[0])):
            zt, at, dzt = z[t], a[t], dz[t]
            i, f, g, o = at[:, :u], at[:, u:2 * u], at[:, 2 * u:3 * u], at[:, 3 * u:]
            dht = dh[t]
            dht += dh_carry
            dc = act.backward(c[t + 1], tc[t], dht * o) + dc_carry
            dzt[:, :u] = ra.backward(zt[:, :u], i, dc * g)
            dzt[:, u:2 * u] = ra.backward(zt[:, u:2 * u], f, dc * c[t])
            dzt[:, 2 * u:3 * u] = act.backward(zt[:, 2 * u:3 * u], g, dc * i)
            dzt[:, 3 * u:] = ra.backward(zt[:, 3 * u:], o, dht * tc[t])
            dc_carry = dc * f
            dh_carry = self._rec_back(dzt)
        return dz, dz

    def flops(self, input_shape):
        return super().flops(input_shape) + input_shape[0] * 6 * self.units

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation.name,
                "unit_forget_bias": self.unit_forget_bias}


@register
class GRU(Recurrent):
    """Gated recurrent unit, Keras's default ``reset_after=True`` (cuDNN-compatible) variant.

    Gates in Keras order z, r, h: kernel (in, 3u), recurrent_kernel (u, 3u), bias (2, 3u) with
    row 0 the input bias and row 1 the recurrent bias. With ``inner = h_{t-1} @ recurrent_kernel
    + bias[1]``: ``z, r = recurrent_activation(x W + bias[0] + inner)`` (their blocks),
    ``ĥ = activation(x W_h + bias[0]_h + r * inner_h)``, ``h_t = z * h_{t-1} + (1 - z) * ĥ``.
    """

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, **kwargs):
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation,
                                                    key="recurrent_activation")
        if not validate.boolean("reset_after", reset_after):
            raise ConfigError("only the Keras default reset_after=True is supported, received "
                              "reset_after=False", key="reset_after")

    def _bias_shape(self):
        return (2, 3 * self.units)

    def _input_bias(self):
        return self.params["bias"][0]

    def _bias_grad(self, dzx, dzh):
        return np.stack([_flat(dzx).sum(axis=0), _flat(dzh).sum(axis=0)])

    def _run(self, z):
        u, ra, act = self.units, self.recurrent_activation, self.activation
        h = self._empty_states(z)
        a = np.empty_like(z)                                    # z, r, ĥ after activations
        inner_h = np.empty((z.shape[0], z.shape[1], u), dtype=z.dtype)
        for t in range(z.shape[0]):
            zt, at = z[t], a[t]
            inner = self._rec(h[t])
            if self.use_bias:
                inner += self.params["bias"][1]
            zt[:, :2 * u] += inner[:, :2 * u]
            at[:, :2 * u] = ra.forward(zt[:, :2 * u])
            inner_h[t] = inner[:, 2 * u:]
            zt[:, 2 * u:] += at[:, u:2 * u] * inner_h[t]
            at[:, 2 * u:] = act.forward(zt[:, 2 * u:])
            hh = at[:, 2 * u:]
            np.subtract(h[t], hh, out=h[t + 1])
            h[t + 1] *= at[:, :u]
            h[t + 1] += hh
        self._a, self._inner_h = a, inner_h
        return h

    def _run_back(self, dh):
        u, ra, act = self.units, self.recurrent_activation, self.activation
        z, a, h, inner_h = self._z, self._a, self._h, self._inner_h
        dzx, dzh = np.empty_like(z), np.empty_like(z)
        carry = 0
        for t in reversed(range(z.shape[0])):
            zt, at, dxt, drt = z[t], a[t], dzx[t], dzh[t]
            zg, r, hh = at[:, :u], at[:, u:2 * u], at[:, 2 * u:]
            dht = dh[t]
            dht += carry
            dah = act.backward(zt[:, 2 * u:], hh, dht * (1 - zg))
            dxt[:, :u] = ra.backward(zt[:, :u], zg, dht * (h[t] - hh))
            dxt[:, u:2 * u] = ra.backward(zt[:, u:2 * u], r, dah * inner_h[t])
            dxt[:, 2 * u:] = dah
            drt[:, :2 * u] = dxt[:, :2 * u]
            drt[:, 2 * u:] = dah * r
            carry = dht * zg + self._rec_back(drt)
        return dzx, dzh

    def flops(self, input_shape):
        return super().flops(input_shape) + input_shape[0] * 6 * self.units

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation.name,
                "reset_after": True}

"""Recurrent layers with Keras 3's equations, weight layouts and dropout: SimpleRNN, LSTM, GRU.

The time loop is where recurrent training spends its time, so each step is a handful of
in-place NumPy calls on contiguous, preallocated buffers:

- Inside, arrays are time-major and feature-major, (T, features, N): a step's gate block, state
  or gradient is then one contiguous (u, N) slab. The inputs of every step are projected at
  once before the loop; a step adds its recurrent projection (one product, ``out=``) and
  applies the gates in place.
- The gate blocks are reordered so that those through `recurrent_activation` are contiguous
  (LSTM: o, i, f, c̃ instead of Keras's i, f, c̃, o). With the default sigmoid/tanh pair the
  sigmoid blocks are ``1 / (1 + exp(-x))`` in place, three calls on one slab, with the sign
  folded into the reordered kernel rows (negation is exact), which is a quarter faster than
  NumPy's tanh; the derivatives of both come from the outputs, so no pre-activation is kept.
- Backpropagation through time first computes the activation derivatives of all steps at once,
  then runs the loop in reverse with a few multiplications per step; the kernel,
  recurrent-kernel and bias gradients and the input gradient are one matrix product each over
  all steps, after the loop.
- Buffers are in input order; `go_backwards` walks reversed views of them, so no reversed copy
  is made (Bidirectional shares one feature-major copy of its input between its directions).
  Training reuses its buffers from batch to batch (no fresh pages per step).
- Inference (``training=False``) keeps no per-step history beyond what the output needs (two
  rotating state buffers when only the last output is returned) and draws no dropout masks.

Dropout follows Keras 3: in training, one mask per sequence (the same for every time step) on
the inputs (`dropout`) and on the previous output (`recurrent_dropout`). LSTM and GRU draw one
mask per gate when `recurrent_dropout > 0` (Keras switches to its ``implementation=1`` then) and
a single shared input mask otherwise.

Masking follows Keras 3 (its generic RNN loop): at a masked step the states stay what they
were and the output is the previous step's (zeros before the first unmasked step), or zeros
with `zero_output_for_mask` (which Bidirectional sets for sequences, as Keras does); the mask
passes on with `return_sequences`. The loop computes each step as usual and then copies the
old state back into the masked columns (``np.copyto(..., where=)``); backward multiplies each
step's local gradients by the mask and hands the masked columns' gradient on to the previous
state unchanged. Without a mask none of this runs.

`return_state` is not supported (a layer here has one output); `stateful` neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nntrain import activations, initializers, parallel, validate
from nntrain.errors import ConfigError
from nntrain.layers.base import (Layer, check_initializer, check_rank, check_regularizer,
                                 register)


def _columns(a: np.ndarray) -> np.ndarray:
    """(T, F, N) → (F, T, N) contiguous: every step's columns side by side, for the products
    over all steps (reshape to (F, T*N))."""
    return np.ascontiguousarray(a.transpose(1, 0, 2))


def _masked(a: np.ndarray, mask) -> np.ndarray:
    """Columns (k, T, N) times a per-sequence mask (k, N), flattened to (k, T*N)."""
    a = a if mask is None else a * mask[:, None, :]
    return a.reshape(a.shape[0], -1)


def _project(w_t: np.ndarray, xs: np.ndarray, out: np.ndarray) -> None:
    """out (T, F, N) = w_t (F, k) @ xs[t] (k, N) for every step; for k == 1 an outer product
    (OpenBLAS's k == 1 product is several times slower, and one feature is common)."""
    if xs.shape[1] == 1:
        np.multiply(w_t, xs, out=out)
    else:
        np.matmul(w_t, xs, out=out)


def _apply(act, x: np.ndarray, out: np.ndarray) -> None:
    """out = act(x), in place where NumPy can (out may be x)."""
    if act.name == "tanh":
        np.tanh(x, out=out)
    elif act.name == "linear":
        if out is not x:
            out[...] = x
    else:
        out[...] = act.forward(x)


def _derivative(act, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = act'(x) elementwise, from the input x or the output y, for all steps at once."""
    if act.name == "tanh":
        np.multiply(y, y, out=out)
        np.subtract(1.0, out, out=out)
    elif act.name == "sigmoid":
        np.subtract(1.0, y, out=out)
        out *= y
    else:
        out[...] = act.backward(x, y, np.ones_like(y))
    return out


def _sigmoid_of_negated(x: np.ndarray) -> None:
    """x = 1 / (1 + exp(x)) in place: the sigmoid of -x (exp overflowing to inf gives 0, so
    the loops run under ``np.errstate(over="ignore")``)."""
    np.exp(x, out=x)
    x += 1.0
    np.divide(1.0, x, out=x)


def _elementwise(name: str, key: str):
    """Recurrent activations are applied gate by gate, so they must act elementwise."""
    act = activations.get(name, key=key)
    if act.name == "softmax":
        raise ConfigError("expected an elementwise activation (softmax couples the units of a "
                          f"gate), received {key}='softmax'", key=key)
    return act


def _empty(name: str, shape, dtype) -> np.ndarray:
    return np.empty(shape, dtype=dtype)


class _MaskedProduct:
    """A projection ``w_t @ (a * mask)`` of (k, N) columns to (G*u, N), with a per-sequence
    dropout mask (k, N), or one per gate (G, k, N) with `per_gate`, and its adjoints.
    `w_t` (G*u, k) is the kernel the forward pass uses (internal gate order, maybe scaled),
    `w_back` (k, G*u) the unscaled one backward uses."""

    def __init__(self, w_t, w_back, mask, per_gate: bool, units: int):
        self.w_t, self.w_back = w_t, w_back
        self.mask, self.per_gate, self.u = mask, per_gate, units
        self._a = self._d = None

    def _blocks(self):
        return [slice(g * self.u, (g + 1) * self.u) for g in range(len(self.mask))]

    def all_steps(self, xs: np.ndarray, out: np.ndarray) -> None:
        """out (T, G*u, N) for inputs xs (T, k, N)."""
        if self.mask is None:
            _project(self.w_t, xs, out)
        elif not self.per_gate:
            _project(self.w_t, xs * self.mask, out)
        else:
            for block, m in zip(self._blocks(), self.mask):
                part = np.empty(out[:, block].shape, dtype=out.dtype)
                _project(self.w_t[block], xs * m, part)
                out[:, block] = part

    def step(self, h: np.ndarray, out: np.ndarray) -> None:
        """out (G*u, N) for one step's h (k, N)."""
        m = self.mask
        if m is None:
            np.matmul(self.w_t, h, out=out)
            return
        if self._a is None:
            self._a = np.empty_like(h)
        if not self.per_gate:
            np.matmul(self.w_t, np.multiply(h, m, out=self._a), out=out)
            return
        for block, mg in zip(self._blocks(), m):
            np.matmul(self.w_t[block], np.multiply(h, mg, out=self._a), out=out[block])

    def step_back(self, dz: np.ndarray, out: np.ndarray) -> None:
        """out (k, N) = dL/dh given dz = dL/d(projection) (G*u, N)."""
        m = self.mask
        if m is None or not self.per_gate:
            np.matmul(self.w_back, dz, out=out)
            if m is not None:
                out *= m
            return
        if self._d is None:
            self._d = np.empty_like(out)
        out[...] = 0
        for block, mg in zip(self._blocks(), m):
            part = np.matmul(self.w_back[:, block], dz[block], out=self._d)
            part *= mg
            out += part

    def weight_grad(self, a_cols: np.ndarray, dz_cols: np.ndarray) -> np.ndarray:
        """dL/dw_back (k, G*u) from input columns (k, T, N) and dz columns (G*u, T*N)."""
        if self.mask is None or not self.per_gate:
            return _masked(a_cols, self.mask) @ dz_cols.T
        return np.concatenate([_masked(a_cols, m) @ dz_cols[block].T
                               for block, m in zip(self._blocks(), self.mask)], axis=1)

    def input_grad(self, dz_cols: np.ndarray, steps: int) -> np.ndarray:
        """dL/d(inputs) (k, T, N) from dz columns (G*u, T*N)."""
        shape = (self.w_back.shape[0], steps, -1)
        if self.mask is None or not self.per_gate:
            da = (self.w_back @ dz_cols).reshape(shape)
            return da if self.mask is None else da * self.mask[:, None, :]
        return sum((self.w_back[:, block] @ dz_cols[block]).reshape(shape) * m[:, None, :]
                   for block, m in zip(self._blocks(), self.mask))


@dataclass
class _Kernels:
    """The weights as one pass uses them, in internal gate order: `w_t` (G*u, in), `r_t`
    (G*u, u) and `b` (G*u, 1) scaled for the forward pass (see the module docstring); `w`
    (in, G*u), `r` (u, G*u) unscaled, for backward."""

    w_t: np.ndarray
    r_t: np.ndarray
    w: np.ndarray
    r: np.ndarray
    b: np.ndarray | None          # added to the input projection
    b_rec: np.ndarray | None      # GRU: the recurrent bias of the candidate block (u, 1)


class Recurrent(Layer):
    """Shared machinery of SimpleRNN, LSTM and GRU.

    x : (batch, timesteps, in) → y : (batch, timesteps, units) with `return_sequences`, else
    (batch, units). With `go_backwards` the sequence is processed from the end and, as in Keras,
    the returned sequence is in processing order (reversed).

    Subclasses set `gates`, `order` (the Keras gate block of each internal block) and `n_sigmoid`
    (how many leading internal blocks go through `recurrent_activation`), and implement
    `_run(z, hv, c)` (the forward loop over the input projections z (T, G*u, n) of one shard,
    writing the states into hv; returns what backward needs, kept in the shard's state `c`) and
    `_run_back(dh, c)` (the reverse loop; returns dL/d(projections) (T, ·, n), which
    `_gradient_columns` splits when the input and recurrent projections differ).
    """

    gates = 1
    order = (0,)
    n_sigmoid = 0
    supports_masking = takes_mask = True

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, zero_output_for_mask=False, seed=None, **base):
        super().__init__(**base)
        self.units = validate.positive_int("units", units)
        self.activation = _elementwise(activation, "activation")
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
        self.zero_output_for_mask = validate.boolean("zero_output_for_mask",
                                                     zero_output_for_mask)
        if validate.boolean("return_state", return_state):
            raise ConfigError("return_state is not supported: a layer here has a single output, "
                              "and no layer takes an initial_state (received "
                              "return_state=True)", key="return_state")
        if seed is not None:  # dropout draws from the model's seeded stream, as Dropout does
            validate.non_negative_int("seed", seed)
        # Keras uses one mask per gate once recurrent dropout is on (implementation=1).
        self.per_gate = self.gates > 1 and self.recurrent_dropout > 0
        self.recurrent_activation = None
        self._cache = None
        self._shard_buffers: list[dict[str, np.ndarray]] = []

    @property
    def _fused(self) -> bool:
        """The default sigmoid/tanh pair: gates computed in place, sigmoid blocks through exp
        of their negated pre-activation (see the module docstring)."""
        ra = self.recurrent_activation
        return self.activation.name == "tanh" and (ra is None or ra.name == "sigmoid")

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

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 2, "a sequence (timesteps, features)")
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def output_masked(self, input_masked) -> bool:
        return bool(input_masked) and self.return_sequences

    def compute_mask(self, x, mask):
        return mask     # as Keras: in input order, even with go_backwards

    # -- gate layout ------------------------------------------------------------------------
    def _permutation(self) -> np.ndarray | None:
        """The Keras column of each internal column; None when the orders agree."""
        if self.order == tuple(range(self.gates)):
            return None
        u = self.units
        return np.concatenate([np.arange(g * u, (g + 1) * u) for g in self.order])

    def _internal(self, a: np.ndarray) -> np.ndarray:
        """Keras gate order → internal, along the last axis."""
        perm = self._permutation()
        return a if perm is None else a[..., perm]

    def _to_keras(self, g: np.ndarray) -> np.ndarray:
        """Internal gate order → Keras's, along the last axis (for gradients)."""
        perm = self._permutation()
        if perm is None:
            return g
        out = np.empty_like(g)
        out[..., perm] = g
        return out

    def _scale(self) -> np.ndarray | None:
        """Per internal column: -1 on the sigmoid blocks when fused (see the module docstring)."""
        if not (self._fused and self.n_sigmoid):
            return None
        s = np.ones(self.gates * self.units, dtype=self.dtype)
        s[:self.n_sigmoid * self.units] = -1.0
        return s

    def _kernels(self) -> _Kernels:
        w = self._internal(self.params["kernel"])
        r = self._internal(self.params["recurrent_kernel"])
        s = self._scale()
        w_t, r_t = (w.T, r.T) if s is None else ((w * s).T, (r * s).T)
        b, b_rec = self._biases(s) if self.use_bias else (None, None)
        return _Kernels(np.ascontiguousarray(w_t), np.ascontiguousarray(r_t), w, r,
                        None if b is None else b[:, None], b_rec)

    def _biases(self, s):
        b = self._internal(self.params["bias"])
        return (b if s is None else b * s), None

    def _bias_grad(self, dzx_cols, dzh_cols) -> np.ndarray:
        return self._to_keras(dzx_cols.sum(axis=1))

    def _feature_major(self, mask):
        """A batch-major dropout mask (N, k), or (G, N, k) per gate in Keras order → (k, N), or
        (G, k, N) in internal gate order."""
        if mask is None:
            return None
        if not self.per_gate:
            return np.ascontiguousarray(mask.T)
        return np.ascontiguousarray(mask[list(self.order)].transpose(0, 2, 1))

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

    @staticmethod
    def _buffer(buffers: dict, name: str, shape, dtype) -> np.ndarray:
        """A work array kept in `buffers` from one training batch to the next
        (uninitialized)."""
        buf = buffers.get(name)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype:
            buf = buffers[name] = np.empty(shape, dtype=dtype)
        return buf

    def _view(self, a: np.ndarray) -> np.ndarray:
        """A time-major buffer (input order) in processing order."""
        return a[::-1] if self.go_backwards else a

    def _prev_next(self, states: np.ndarray):
        """(T+1, u, N) states in input order → (the state each step starts from, the state it
        ends with), both (T, u, N) and in input order."""
        return (states[1:], states[:-1]) if self.go_backwards else (states[:-1], states[1:])

    def forward(self, x, training=False, mask=None):
        """x : (N, T, in), mask : (N, T) bool or None → (N, T, units) or (N, units)."""
        x = np.asarray(x, dtype=self.dtype)
        y = self.forward_steps(np.ascontiguousarray(x.transpose(1, 2, 0)), training,
                               step_mask(mask))
        return np.ascontiguousarray(y.transpose(2, 0, 1) if self.return_sequences else y.T)

    def backward(self, dy):
        """dy : like the output → dx : (N, T, in), or None when no input gradient is needed."""
        dy = np.asarray(dy, dtype=self.dtype)
        dh = dy.transpose(1, 2, 0) if self.return_sequences else dy.T
        dxs = self.backward_steps(np.ascontiguousarray(dh))
        return None if dxs is None else np.ascontiguousarray(dxs.transpose(2, 1, 0))

    def forward_steps(self, xs: np.ndarray, training: bool, mask=None) -> np.ndarray:
        """Feature-major forward: xs (T, in, N), `mask` (T, 1, N) bool (`step_mask`) or None →
        the outputs in processing order, (T, u, N) with `return_sequences`, else the last
        (u, N) (may be views of work buffers: copy them). A big batch runs in shards side by
        side (`nntrain.parallel`); dropout masks are drawn for the whole batch first and every
        sample's arithmetic is the same either way."""
        steps, n_in, n = xs.shape
        self._make_masks(n, n_in, training)
        k = self._kernels()
        in_mask, rec_mask = self._feature_major(self._in_mask), self._feature_major(self._rec_mask)
        parts = parallel.shards(n)
        while len(self._shard_buffers) < len(parts):
            self._shard_buffers.append({})
        states = [{"buffers": self._shard_buffers[i]} for i in range(len(parts))]

        keep = self.keeps_cache(training)

        def shard(i):
            part = parts[i]
            return self._forward_shard(xs[:, :, part], k, _samples(in_mask, part),
                                       _samples(rec_mask, part), keep, states[i],
                                       _samples(mask, part))
        ys = parallel.run([lambda i=i: shard(i) for i in range(len(parts))])
        self._cache = (dict(xs=xs, k=k, in_mask=in_mask, rec_mask=rec_mask, parts=parts,
                            shards=states, mask=mask) if keep else None)
        y = ys[0] if len(ys) == 1 else np.concatenate(ys, axis=-1)
        return y if mask is None else self._zero_masked(y, mask)

    def _zero_masked(self, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """With `zero_output_for_mask`, the outputs (or gradients) of masked steps zeroed: y in
        processing order, a sequence (T, u, N) or the last output (u, N)."""
        if not self.zero_output_for_mask:
            return y
        m = self._view(mask)
        return y * (m if self.return_sequences else m[-1])

    def _forward_shard(self, xs, k, in_mask, rec_mask, keep, c, mask) -> np.ndarray:
        """One shard's forward: xs (T, in, n), `mask` (T, 1, n) or None; with `keep`, fills the
        state dict `c` with what its backward needs."""
        steps, _, n = xs.shape
        buffers = c["buffers"]
        alloc = ((lambda name, shape, dtype: self._buffer(buffers, name, shape, dtype))
                 if keep else _empty)
        in_proj = _MaskedProduct(k.w_t, k.w, in_mask, self.per_gate, self.units)
        rec = _MaskedProduct(k.r_t, k.r, rec_mask, self.per_gate, self.units)
        z = alloc("z", (steps, self.gates * self.units, n), xs.dtype)
        in_proj.all_steps(xs, z)
        if k.b is not None:
            z += k.b
        rows = steps + 1 if keep or self.return_sequences else 2
        h = alloc("h", (rows, self.units, n), xs.dtype)
        hv = self._view(h)
        hv[0] = 0
        c.update(z=z, h=h, k=k, rec=rec, keep=keep, alloc=alloc, mask=mask,
                 skip=None if mask is None else self._view(~mask))
        with np.errstate(over="ignore"):   # per thread: errstate does not cross threads
            c.update(self._run(z, hv, c))
        return hv[1:] if self.return_sequences else hv[steps % rows]

    def backward_steps(self, dh: np.ndarray) -> np.ndarray | None:
        """Feature-major backward: dh = dL/d(outputs) in processing order, (T, u, N) with
        `return_sequences`, else (u, N) for the last → dL/dxs (in, T, N) in input order (None
        when not needed); writes the weight gradients. Shards run their reverse loops side by
        side; the weight gradients are then one product each over the whole batch."""
        c = self.cached(self._cache)
        parts, states, k = c["parts"], c["shards"], c["k"]
        if c["mask"] is not None:
            dh = self._zero_masked(dh, c["mask"])
        ds = parallel.run([lambda i=i: self._run_back(dh[..., parts[i]], states[i])
                           for i in range(len(parts))])
        dzx, dzh = self._gradient_columns(_gather_columns(ds, parts))
        h_prev = _gather_columns([self._prev_next(st["h"])[0] for st in states], parts)
        in_proj = _MaskedProduct(k.w_t, k.w, c["in_mask"], self.per_gate, self.units)
        rec = _MaskedProduct(k.r_t, k.r, c["rec_mask"], self.per_gate, self.units)
        steps = c["xs"].shape[0]
        self.grads["kernel"] = self._to_keras(in_proj.weight_grad(_columns(c["xs"]), dzx))
        self.grads["recurrent_kernel"] = self._to_keras(
            rec.weight_grad(h_prev.reshape(self.units, steps, -1), dzh))
        if self.use_bias:
            self.grads["bias"] = self._bias_grad(dzx, dzh)
        if not self.needs_input_grad:
            return None
        return in_proj.input_grad(dzx, steps)

    def _gradient_columns(self, d):
        """The columns of dL/d(input projection) and dL/d(recurrent projection), both
        (G*u, T*N), from those of what `_run_back` returned (the same here)."""
        return d, d

    def _start(self, dh, s: int, out: np.ndarray) -> None:
        """dL/dh of the last processed step into `out` (the reverse loop's first)."""
        out[...] = dh[s] if self.return_sequences else dh

    def _step_masks(self, c, dtype):
        """A shard's mask as floats in processing order, (T, 1, n): (mask, 1 - mask); None
        without a mask."""
        if c["mask"] is None:
            return None, None
        m = c["mask"].astype(dtype)
        return self._view(m), self._view(1.0 - m)

    # -- describing -------------------------------------------------------------------------
    def flops(self, input_shape):
        steps, n_in = input_shape
        width = self.gates * self.units
        return steps * (2 * (n_in + self.units) * width + 6 * width)

    def working_set(self, input_shape):
        steps, n_in = input_shape
        return steps * (n_in + (self.gates + 2) * self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": self.activation.name, "use_bias": self.use_bias,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "return_sequences": self.return_sequences, "go_backwards": self.go_backwards,
                "zero_output_for_mask": self.zero_output_for_mask}


def step_mask(mask) -> np.ndarray | None:
    """A batch-major mask (N, T) → the feature-major (T, 1, N) the time loops use."""
    if mask is None:
        return None
    return np.ascontiguousarray(np.asarray(mask, dtype=bool).T[:, None, :])


def _samples(mask, part: slice):
    """The samples `part` of a feature-major mask, (k, N) or (G, k, N)."""
    return None if mask is None else mask[..., part]


def _gather_columns(arrays, parts) -> np.ndarray:
    """Shards' (T, F, n_i) arrays → the whole batch's columns (F, T*N), in the order one shard
    would give (so the products over all steps do not depend on the sharding)."""
    if len(arrays) == 1:
        a = arrays[0]
        return _columns(a).reshape(a.shape[1], -1)
    steps, features = arrays[0].shape[:2]
    n = sum(a.shape[2] for a in arrays)
    out = np.empty((features, steps, n), dtype=arrays[0].dtype)
    for a, part in zip(arrays, parts):
        out[:, :, part] = a.transpose(1, 0, 2)
    return out.reshape(features, -1)


@register
class SimpleRNN(Recurrent):
    """``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``.

    kernel (in, units), recurrent_kernel (units, units), bias (units,).
    """

    def _run(self, z, hv, c):
        zv, rows, act, rec, skip = self._view(z), len(hv), self.activation, c["rec"], c["skip"]
        proj = np.empty_like(zv[0])
        for s in range(len(zv)):
            zs = zv[s]
            if s:                        # h_0 = 0: no recurrent term at the first step
                rec.step(hv[s % rows], out=proj)
                zs += proj
            _apply(act, zs, hv[(s + 1) % rows])
            if skip is not None:         # masked steps keep the state
                np.copyto(hv[(s + 1) % rows], hv[s % rows], where=skip[s])
        return {}

    def _run_back(self, dh, c):
        z, rec, alloc = c["z"], c["rec"], c["alloc"]
        _, h_next = self._prev_next(c["h"])
        deriv = self._view(_derivative(self.activation, z, h_next,
                                       alloc("deriv", z.shape, z.dtype)))
        dz = alloc("dz", z.shape, z.dtype)
        dzv, g = self._view(dz), np.empty_like(z[0])
        m, skip = self._step_masks(c, z.dtype)
        carry = None if m is None else np.empty_like(g)   # (1 - m) dL/dh: to the state before
        for s in reversed(range(len(dzv))):
            if s == len(dzv) - 1:
                self._start(dh, s, g)
            else:
                rec.step_back(dzv[s + 1], out=g)
                if m is not None:
                    g += carry
                if self.return_sequences:
                    g += dh[s]
            np.multiply(g, deriv[s], out=dzv[s])
            if m is not None:
                dzv[s] *= m[s]
                np.multiply(g, skip[s], out=carry)
        return dz


@register
class LSTM(Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), Keras's formulation.

    Gates in Keras order i, f, c, o: kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,).
    ``c_t = f * c_{t-1} + i * activation(c̃)``, ``h_t = o * activation(c_t)`` with i, f, o
    through `recurrent_activation`. `unit_forget_bias` starts the forget-gate bias at 1.
    Internally the blocks run in the order o, i, f, c̃.
    """

    gates = 4
    order = (3, 0, 1, 2)
    n_sigmoid = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = _elementwise(recurrent_activation, "recurrent_activation")
        self.unit_forget_bias = validate.boolean("unit_forget_bias", unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, u = initializers.get(self.bias_initializer, key="bias_initializer"), self.units
        return lambda shape, rng: np.concatenate([init((u,), rng), np.ones(u),
                                                  init((2 * u,), rng)])

    def _run(self, z, hv, c):
        """z (T, 4u, N) input projections; becomes the gate activations when fused."""
        u, (steps, _, n), rows = self.units, z.shape, len(hv)
        ra, act, fused, rec, alloc = (self.recurrent_activation, self.activation, self._fused,
                                      c["rec"], c["alloc"])
        keep, skip = c["keep"], c["skip"]
        a = z if fused else alloc("a", (steps if keep else 1, 4 * u, n), z.dtype)
        cs = alloc("c", (steps + 1 if keep else 2, u, n), z.dtype)
        tc = alloc("tc", (steps if keep else 1, u, n), z.dtype)      # activation(c_t)
        zv, av, cv, tcv = self._view(z), self._view(a), self._view(cs), self._view(tc)
        cv[0] = 0
        proj, ig = np.empty_like(z[0]), np.empty_like(cs[0])
        for s in range(steps):
            zs, at, t_ = zv[s], av[s % len(a)], tcv[s % len(tc)]
            if s:
                rec.step(hv[s % rows], out=proj)
                zs += proj
            if fused:
                _sigmoid_of_negated(zs[:3 * u])
                np.tanh(zs[3 * u:], out=zs[3 * u:])
            else:
                _apply(ra, zs[:3 * u], at[:3 * u])
                _apply(act, zs[3 * u:], at[3 * u:])
            o, i, f, g = at[:u], at[u:2 * u], at[2 * u:3 * u], at[3 * u:]
            c_next = cv[(s + 1) % len(cs)]
            if s:
                np.multiply(f, cv[s % len(cs)], out=c_next)
                c_next += np.multiply(i, g, out=ig)
            else:                        # c_0 = 0
                np.multiply(i, g, out=c_next)
            _apply(act, c_next, t_)
            np.multiply(o, t_, out=hv[(s + 1) % rows])
            if skip is not None:         # masked steps keep both states
                np.copyto(c_next, cv[s % len(cs)], where=skip[s])
                np.copyto(hv[(s + 1) % rows], hv[s % rows], where=skip[s])
        return {"a": a, "c": cs, "tc": tc}

    def _run_back(self, dh, c):
        u, a, z, tc, rec, alloc = self.units, c["a"], c["z"], c["tc"], c["rec"], c["alloc"]
        steps, _, n = a.shape
        c_prev, c_next = self._prev_next(c["c"])
        o, i, f, g = a[:, :u], a[:, u:2 * u], a[:, 2 * u:3 * u], a[:, 3 * u:]
        # every step's local derivatives at once (vectorized over time)
        dsig = _derivative(self.recurrent_activation, z[:, :3 * u], a[:, :3 * u],
                           alloc("dsig", (steps, 3 * u, n), a.dtype))
        q_o = np.multiply(tc, dsig[:, :u], out=alloc("q_o", tc.shape, a.dtype))  # dz_o/dh
        p = _derivative(self.activation, c_next, tc, alloc("p", tc.shape, a.dtype))
        p *= o                                                        # dc/dh
        q = alloc("q", (steps, 3 * u, n), a.dtype)                    # dz_{i,f,c̃}/dc
        np.multiply(g, dsig[:, u:2 * u], out=q[:, :u])
        np.multiply(c_prev, dsig[:, 2 * u:], out=q[:, u:2 * u])
        _derivative(self.activation, z[:, 3 * u:], g, q[:, 2 * u:])
        q[:, 2 * u:] *= i
        dz = alloc("dz", a.shape, a.dtype)
        dzv, q_o, p, q, f = self._view(dz), self._view(q_o), self._view(p), self._view(q), \
            self._view(f)
        gh, gc, carry = (np.empty((u, n), dtype=a.dtype) for _ in range(3))
        m, skip = self._step_masks(c, a.dtype)
        if m is not None:    # masked columns hand dL/dh and dL/dc on to the states before
            carry[...] = 0
            h_carry, tmp = np.empty_like(gh), np.empty_like(gh)
        for s in reversed(range(steps)):
            dzs = dzv[s]
            if s == steps - 1:
                self._start(dh, s, gh)
            else:
                rec.step_back(dzv[s + 1], out=gh)
                if m is not None:
                    gh += h_carry
                if self.return_sequences:
                    gh += dh[s]
            np.multiply(gh, q_o[s], out=dzs[:u])
            np.multiply(gh, p[s], out=gc)
            if s < steps - 1:
                gc += carry
            if m is not None:
                dzs[:u] *= m[s]
                np.multiply(gh, skip[s], out=h_carry)
                carry *= skip[s]
                gc *= m[s]
            np.multiply(q[s].reshape(3, u, n), gc, out=dzs[u:].reshape(3, u, n))
            if s and m is not None:
                carry += np.multiply(gc, f[s], out=tmp)
            elif s:
                np.multiply(gc, f[s], out=carry)
        return dz

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
    order = (0, 1, 2)
    n_sigmoid = 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, **kwargs):
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = _elementwise(recurrent_activation, "recurrent_activation")
        if not validate.boolean("reset_after", reset_after):
            raise ConfigError("only the Keras default reset_after=True is supported, received "
                              "reset_after=False", key="reset_after")

    def _bias_shape(self):
        return (2, 3 * self.units)

    def _biases(self, s):
        """The input bias plus the z and r blocks of the recurrent bias (they simply add), and
        the candidate block of the recurrent bias (it is multiplied by r)."""
        u, bias = self.units, self.params["bias"]
        b = bias[0].copy()
        b[:2 * u] += bias[1, :2 * u]
        return (b if s is None else b * s), bias[1, 2 * u:, None]

    def _bias_grad(self, dzx_cols, dzh_cols):
        return np.stack([dzx_cols.sum(axis=1), dzh_cols.sum(axis=1)])

    def _run(self, z, hv, c):
        """z (T, 3u, N) input projections; becomes the gate activations when fused."""
        u, (steps, _, n), rows = self.units, z.shape, len(hv)
        ra, act, fused, rec, alloc = (self.recurrent_activation, self.activation, self._fused,
                                      c["rec"], c["alloc"])
        keep, b_rec, skip = c["keep"], c["k"].b_rec, c["skip"]
        a = z if fused else alloc("a", (steps if keep else 1, 3 * u, n), z.dtype)
        inner = alloc("inner", (steps if keep else 1, 3 * u, n), z.dtype)
        zv, av, iv = self._view(z), self._view(a), self._view(inner)
        tmp = np.empty((u, n), dtype=z.dtype)
        for s in range(steps):
            zs, at, inn = zv[s], av[s % len(a)], iv[s % len(inner)]
            h_prev, h_next = hv[s % rows], hv[(s + 1) % rows]
            if s:
                rec.step(h_prev, out=inn)
            else:                        # h_0 = 0
                inn[...] = 0
            if b_rec is not None:
                inn[2 * u:] += b_rec
            zr = zs[:2 * u]
            zr += inn[:2 * u]
            if fused:
                _sigmoid_of_negated(zr)
            else:
                _apply(ra, zr, at[:2 * u])
            gate_z, r = at[:u], at[u:2 * u]
            zh = zs[2 * u:]
            zh += np.multiply(r, inn[2 * u:], out=tmp)
            cand = at[2 * u:]
            _apply(act, zh, cand)
            np.subtract(h_prev, cand, out=h_next)
            h_next *= gate_z
            h_next += cand
            if skip is not None:         # masked steps keep the state
                np.copyto(h_next, h_prev, where=skip[s])
        return {"a": a, "inner": inner}

    def _run_back(self, dh, c):
        u, a, z, inner, rec, alloc = (self.units, c["a"], c["z"], c["inner"], c["rec"],
                                      c["alloc"])
        steps, _, n = a.shape
        h_prev, _ = self._prev_next(c["h"])
        gate_z, r, cand = a[:, :u], a[:, u:2 * u], a[:, 2 * u:]
        dzr = _derivative(self.recurrent_activation, z[:, :2 * u], a[:, :2 * u],
                          alloc("dzr", (steps, 2 * u, n), a.dtype))
        p_z = np.subtract(h_prev, cand, out=alloc("p_z", cand.shape, a.dtype))
        p_z *= dzr[:, :u]                                         # dz_z = dh * p_z
        p_h = _derivative(self.activation, z[:, 2 * u:], cand, alloc("p_h", cand.shape, a.dtype))
        p_h *= np.subtract(1.0, gate_z)                           # dz_ĥ = dh * p_h
        p_r = np.multiply(inner[:, 2 * u:], dzr[:, u:], out=alloc("p_r", cand.shape, a.dtype))
        # blocks: dz_z, dz_r, dz_ĥ * r (the recurrent candidate block), dz_ĥ (the input one)
        d = alloc("d", (steps, 4 * u, n), a.dtype)
        dv, p_z, p_h, p_r = self._view(d), self._view(p_z), self._view(p_h), self._view(p_r)
        r, gate_z = self._view(r), self._view(gate_z)
        gh, carry = np.empty((u, n), dtype=a.dtype), np.empty((u, n), dtype=a.dtype)
        m, skip = self._step_masks(c, a.dtype)
        if m is not None:    # dL/dh of the unmasked columns (masked ones pass it on whole)
            gm, tmp = np.empty_like(gh), np.empty_like(gh)
        for s in reversed(range(steps)):
            ds = dv[s]
            if s == steps - 1:
                self._start(dh, s, gh)
            else:
                rec.step_back(dv[s + 1][:3 * u], out=gh)
                gh += carry
                if self.return_sequences:
                    gh += dh[s]
            g = gh if m is None else np.multiply(gh, m[s], out=gm)
            np.multiply(g, p_z[s], out=ds[:u])
            np.multiply(g, p_h[s], out=ds[3 * u:])
            np.multiply(ds[3 * u:], p_r[s], out=ds[u:2 * u])
            np.multiply(ds[3 * u:], r[s], out=ds[2 * u:3 * u])
            if s:
                np.multiply(g, gate_z[s], out=carry)
                if m is not None:
                    carry += np.multiply(gh, skip[s], out=tmp)
        return d

    def _gradient_columns(self, d):
        """`_run_back`'s blocks dz_z, dz_r, dz_ĥ * r, dz_ĥ → the input projection's (z, r, ĥ)
        and the recurrent projection's (z, r, ĥ * r)."""
        u = self.units
        return np.concatenate([d[:2 * u], d[3 * u:]]), d[:3 * u]

    def flops(self, input_shape):
        return super().flops(input_shape) + input_shape[0] * 6 * self.units

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation.name,
                "reset_after": True}

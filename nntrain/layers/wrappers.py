"""Layer wrappers: Bidirectional and TimeDistributed.

A wrapper owns inner layers but shows their weights in its own ``params`` under Keras's names
(``forward_lstm/kernel``, ...). The arrays are the same objects as the inner layers' (the
optimizer updates in place); the wrapper's dict is the reference: it is pushed into the inner
layers before each forward pass and pulled back after, so replacing an entry (loading weights)
or an inner layer replacing one of its own (moving statistics) keeps both sides in step.
"""

from __future__ import annotations

import numpy as np

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.layers.base import LAYERS, Layer, register, snake_case
from nntrain.layers.recurrent import step_mask


class Wrapper(Layer):
    """Keeps ``self.params`` / ``grads`` / ``regularizers`` in step with inner layers, each
    under a prefix ('' keeps the inner names)."""

    def _inner(self) -> list[tuple[str, Layer]]:
        raise NotImplementedError

    def _link(self) -> None:
        self.params, self.regularizers, self.non_trainable = {}, {}, set()
        for prefix, layer in self._inner():
            for k, v in layer.params.items():
                self.params[prefix + k] = v
                if k in layer.non_trainable or not self.trainable:
                    self.non_trainable.add(prefix + k)
                if k in layer.regularizers:
                    self.regularizers[prefix + k] = layer.regularizers[k]

    def _push(self) -> None:
        for prefix, layer in self._inner():
            for k in layer.params:
                layer.params[k] = self.params[prefix + k]
            layer.rng, layer.backprop = self.rng, self.backprop

    def _pull(self, grads: bool = False) -> None:
        for prefix, layer in self._inner():
            for k in layer.params:
                self.params[prefix + k] = layer.params[k]
            if grads:
                for k, g in layer.grads.items():
                    self.grads[prefix + k] = g

    def _build_inner(self, input_shape, rng) -> None:
        for _, layer in self._inner():
            layer.dtype = self.dtype
            layer.build(input_shape, rng)
        self._link()

    def set_dtype(self, dtype) -> None:
        self.dtype = np.dtype(dtype).type
        for _, layer in self._inner():
            layer.set_dtype(dtype)
        self._link()


@register
class Bidirectional(Wrapper):
    """Runs a recurrent layer forwards and a copy of it backwards (``go_backwards``) over the
    same input and merges the two outputs (`merge_mode` concat, sum, mul or ave; Keras's None,
    two outputs, is not supported). The backward copy's sequence output is reversed back to
    input order before merging, as Keras does.

    x : (N, T, in) → (N, T, u') or (N, u'), u' = 2*units for concat, units otherwise.
    Weights: ``forward_<inner>/kernel``, ..., ``backward_<inner>/kernel``, ...
    A mask reaches both directions; as in Keras, with `return_sequences` masked steps output
    zeros (the wrapped layers' `zero_output_for_mask` is forced on) and the mask passes on.
    """

    MERGE_MODES = ("concat", "sum", "mul", "ave")
    supports_masking = takes_mask = True

    def __init__(self, layer, merge_mode="concat", **base):
        super().__init__(**base)
        if merge_mode is None:
            raise ConfigError("merge_mode None (two separate outputs) is not supported; use "
                              "concat, sum, mul or ave", key="merge_mode")
        self.merge_mode = validate.choice("merge_mode", merge_mode, self.MERGE_MODES)
        entry, args, _, key = LAYERS.parse(layer, "layer")
        self.forward_layer = LAYERS.call(entry, args, key)
        if not hasattr(self.forward_layer, "go_backwards"):
            raise ConfigError(f"Bidirectional wraps a recurrent layer (LSTM, GRU, SimpleRNN), "
                              f"received {entry.name}", key="layer")
        if self.forward_layer.go_backwards:
            raise ConfigError("the wrapped layer must run forwards (the backward copy is made "
                              "by Bidirectional), received go_backwards=True",
                              key=f"{key}.go_backwards")
        self.backward_layer = LAYERS.call(entry, {**args, "go_backwards": True}, key)
        self.layer_spec = {entry.name: args}
        inner_name = args.get("name") or snake_case(entry.name)
        self.forward_layer.name = f"forward_{inner_name}"
        self.backward_layer.name = f"backward_{inner_name}"
        self.return_sequences = self.forward_layer.return_sequences
        for inner in (self.forward_layer, self.backward_layer):   # Keras forces this
            inner.zero_output_for_mask = self.return_sequences

    def _inner(self):
        return [(f"{layer.name}/", layer) for layer in (self.forward_layer, self.backward_layer)]

    def build(self, input_shape, rng):
        self._build_inner(input_shape, rng)
        super().build(input_shape, rng)

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            return (*shape[:-1], 2 * shape[-1])
        return shape

    def output_masked(self, input_masked) -> bool:
        return bool(input_masked) and self.return_sequences

    def forward(self, x, training=False, mask=None):
        """x : (N, T, in), mask (N, T) or None → merged outputs. Both directions read one
        feature-major copy of x and are merged straight into the output (the backward
        direction's states are read in input order through a reversed view)."""
        self._push()
        x = np.asarray(x, dtype=self.dtype)
        xs = np.ascontiguousarray(x.transpose(1, 2, 0))
        m = step_mask(mask)
        y_f = self.forward_layer.forward_steps(xs, training, m)
        y_b = self.backward_layer.forward_steps(xs, training, m)
        self._pull()
        if self.return_sequences:
            y_b = y_b[::-1]
        keep = self.keeps_cache(training) and self.merge_mode == "mul"
        self._outputs = (y_f, y_b) if keep else None
        batch_major = (lambda a: a.transpose(2, 0, 1)) if self.return_sequences else np.transpose
        y_f, y_b = batch_major(y_f), batch_major(y_b)
        u = y_f.shape[-1]
        if self.merge_mode == "concat":
            out = np.empty((*y_f.shape[:-1], 2 * u), dtype=y_f.dtype)
            out[..., :u], out[..., u:] = y_f, y_b
            return out
        out = np.empty(y_f.shape, dtype=y_f.dtype)
        if self.merge_mode == "mul":
            return np.multiply(y_f, y_b, out=out)
        np.add(y_f, y_b, out=out)
        if self.merge_mode == "ave":
            out *= 0.5
        return out

    def backward(self, dy):
        dy = np.asarray(dy, dtype=self.dtype)
        d = np.ascontiguousarray(dy.transpose(1, 2, 0) if self.return_sequences else dy.T)
        if self.merge_mode == "concat":
            units = self.forward_layer.units
            d_f, d_b = d[..., :units, :], d[..., units:, :]
        elif self.merge_mode == "sum":
            d_f = d_b = d
        elif self.merge_mode == "mul":
            y_f, y_b = self.cached(self._outputs)
            d_f, d_b = d * y_b, d * y_f
        else:
            d_f = d_b = d * 0.5
        if self.return_sequences:    # the backward layer's processing order
            d_b = d_b[::-1]
        for layer in (self.forward_layer, self.backward_layer):
            layer.needs_input_grad = self.needs_input_grad
        dx = self.forward_layer.backward_steps(d_f)
        dx_b = self.backward_layer.backward_steps(d_b)
        self._pull(grads=True)
        if dx is None:
            return None
        dx += dx_b
        return np.ascontiguousarray(dx.transpose(2, 1, 0))

    def flops(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        merge = 0 if self.merge_mode == "concat" else int(np.prod(out))
        return self.forward_layer.flops(input_shape) + self.backward_layer.flops(input_shape) \
            + merge

    def working_set(self, input_shape):
        return (self.forward_layer.working_set(input_shape)
                + self.backward_layer.working_set(input_shape))

    def get_config(self):
        return {**super().get_config(), "layer": self.layer_spec, "merge_mode": self.merge_mode}


@register
class TimeDistributed(Wrapper):
    """Applies the inner layer to every time step: (N, T, ...) is reshaped to (N*T, ...), run
    through the inner layer and reshaped back to (N, T, ...'). Weights keep the inner layer's
    names (``kernel``, ``bias``). A mask passes through, as in Keras."""

    supports_masking = True

    def __init__(self, layer, **base):
        super().__init__(**base)
        entry, args, _, key = LAYERS.parse(layer, "layer")
        self.layer = LAYERS.call(entry, args, key)
        if self.layer.multi_input:
            raise ConfigError(f"TimeDistributed wraps a single-input layer, received "
                              f"{entry.name}", key="layer")
        self.layer_spec = {entry.name: args}
        self.layer.name = args.get("name") or snake_case(entry.name)

    def _inner(self):
        return [("", self.layer)]

    def _check(self, input_shape):
        if len(input_shape) < 2:
            raise ConfigError(f"TimeDistributed expects per-sample inputs of rank >= 2 "
                              f"(timesteps, ...), received input of shape {list(input_shape)}")

    def build(self, input_shape, rng):
        self._check(input_shape)
        self._build_inner(tuple(input_shape[1:]), rng)
        super().build(input_shape, rng)

    def output_masked(self, input_masked) -> bool:
        if input_masked and self.layer.takes_mask:
            raise ConfigError(f"TimeDistributed cannot hand its input's mask to "
                              f"{type(self.layer).__name__} (Keras would give it one step's "
                              f"mask, shape (batch,)); remove the mask before this layer",
                              key="layer")
        return bool(input_masked)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return (input_shape[0], *self.layer.compute_output_shape(tuple(input_shape[1:])))

    def forward(self, x, training=False):
        self._push()
        n, steps = x.shape[:2]
        y = self.layer.forward(x.reshape(n * steps, *x.shape[2:]), training)
        self._pull()
        self._in_shape = x.shape
        return y.reshape(n, steps, *y.shape[1:])

    def backward(self, dy):
        n, steps = dy.shape[:2]
        self.layer.needs_input_grad = self.needs_input_grad
        dx = self.layer.backward(dy.reshape(n * steps, *dy.shape[2:]))
        self._pull(grads=True)
        return None if dx is None else dx.reshape(self._in_shape)

    def flops(self, input_shape):
        return input_shape[0] * self.layer.flops(tuple(input_shape[1:]))

    def working_set(self, input_shape):
        return input_shape[0] * self.layer.working_set(tuple(input_shape[1:]))

    def get_config(self):
        return {**super().get_config(), "layer": self.layer_spec}

"""The layer graph (`Network`): named inputs and a list of layers, each fed by earlier layers or
inputs (a DAG in config order). A Sequential model is the special case where every layer takes
the one before. The public, Keras-style `nntrain.Model` (compile, fit, evaluate, predict) wraps
one of these.

forward(inputs) runs the layers in order and returns the output layer's output; backward(dy)
runs them in reverse, summing gradients where an output feeds several layers, and returns the
gradients of the inputs. Masks (Keras's, from Masking or ``Embedding(mask_zero)``) travel
beside the outputs that carry one (`Node.masked`, decided by the builder); `output_mask` is the
output's mask of the last forward pass, which the loss and metrics fold into the weights.
Weights are addressed as ``"<layer>/<param>"`` everywhere (optimizer, checkpoints, gradcheck).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nntrain.layers.base import Layer


@dataclass
class Node:
    layer: Layer
    inputs: list[str]          # names of model inputs or earlier layers
    input_shape: object        # per-sample shape (a list of shapes for multi-input layers)
    output_shape: tuple
    masked: bool = False       # the output carries a mask (Layer.output_masked)


class Network:
    def __init__(self, input_shapes: dict[str, tuple], nodes: list[Node], output: str,
                 dtype=np.float32):
        self.input_shapes = dict(input_shapes)
        self.input_names = list(input_shapes)
        self.nodes = nodes
        self.output = output
        self.dtype = np.dtype(dtype).type
        self._by_name = {n.layer.name: n for n in nodes}
        self._needed = self._ancestors(output)
        self._activity_loss = 0.0
        self._activity_outputs: dict[str, np.ndarray] = {}
        self.output_mask: np.ndarray | None = None

    # -- structure --------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return [n.layer for n in self.nodes]

    @property
    def output_layer(self) -> Layer:
        return self._by_name[self.output].layer

    @property
    def output_shape(self) -> tuple:
        return self._by_name[self.output].output_shape

    def node(self, name: str) -> Node:
        return self._by_name[name]

    def _ancestors(self, name: str) -> set[str]:
        seen, stack = set(), [name]
        while stack:
            cur = stack.pop()
            if cur in seen or cur not in self._by_name:
                continue
            seen.add(cur)
            stack.extend(self._by_name[cur].inputs)
        return seen

    # -- weights ----------------------------------------------------------------------------
    def weights(self) -> dict[str, np.ndarray]:
        """Every weight (trainable or not) as ``layer/param`` → array, in layer order."""
        return {f"{n.layer.name}/{k}": v for n in self.nodes for k, v in n.layer.params.items()}

    def trainable_weights(self) -> dict[str, np.ndarray]:
        return {f"{n.layer.name}/{k}": v for n in self.nodes
                for k, v in n.layer.trainable_params().items()}

    def gradients(self) -> dict[str, np.ndarray]:
        """Gradients of the last backward pass plus regularization terms, keyed like weights."""
        grads = {}
        for n in self.nodes:
            layer = n.layer
            for k in layer.trainable_params():
                g = layer.grads.get(k)
                if g is None:  # a layer off the path to the output
                    g = np.zeros_like(layer.params[k])
                reg = layer.regularizers.get(k)
                if reg is not None:
                    g = g + reg.gradient(layer.params[k])
                grads[f"{layer.name}/{k}"] = g
        return grads

    def regularization_loss(self) -> float:
        """Weight penalties (l1/l2) plus activity penalties of the last forward pass."""
        total = self._activity_loss
        for layer in self.layers:
            for k, reg in layer.regularizers.items():
                total += reg.penalty(layer.params[k])
        return total

    def set_dtype(self, dtype) -> None:
        self.dtype = np.dtype(dtype).type
        for layer in self.layers:
            layer.set_dtype(dtype)

    def set_rng(self, rng: np.random.Generator) -> None:
        """Give every layer the stream it draws dropout masks from."""
        for layer in self.layers:
            layer.rng = rng

    def count_params(self) -> tuple[int, int]:
        counts = [n.layer.count_params() for n in self.nodes]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    # -- computing --------------------------------------------------------------------------
    def forward(self, inputs: list[np.ndarray], training: bool = False,
                record: dict | None = None, backprop: bool | None = None) -> np.ndarray:
        """The output layer's output. With `record` (a dict), also put every layer's output in
        it by layer name (what diagnostics look at; the arrays are the ones passed on).
        `backprop`: whether a backward pass follows (then layers keep what it needs even in
        inference mode); None: only in training."""
        for n in self.nodes:
            n.layer.backprop = backprop
        values = dict(zip(self.input_names, inputs))
        masks: dict[str, np.ndarray] = {}
        self._activity_loss = 0.0
        self._activity_outputs = {}
        for n in self.nodes:
            layer = n.layer
            if layer.name not in self._needed:
                continue
            multi = layer.multi_input
            x = [values[i] for i in n.inputs] if multi else values[n.inputs[0]]
            if layer.takes_mask or n.masked:
                mask = [masks.get(i) for i in n.inputs] if multi else masks.get(n.inputs[0])
            if layer.takes_mask:
                y = layer.forward(x, training=training, mask=mask)
            else:
                y = layer.forward(x, training=training)
            if n.masked:
                masks[layer.name] = layer.compute_mask(x, mask)
            if layer.activity_regularizer is not None:  # Keras 3: the plain penalty of y
                self._activity_loss += layer.activity_regularizer.penalty(y)
                self._activity_outputs[layer.name] = y
            values[layer.name] = y
            if record is not None:
                record[layer.name] = y
        self.output_mask = masks.get(self.output)
        return values[self.output]

    def fuses_with(self, loss) -> bool:
        """Whether `loss` has a combined gradient with the output layer's activation (softmax +
        cross-entropy, sigmoid + binary cross-entropy): then `backward(..., preactivation=True)`
        takes dL/d(logits) directly."""
        layer = self.output_layer
        return layer.activation_last and loss.fuses_with(layer.activation.name)

    def backward(self, dy: np.ndarray, *, preactivation: bool = False,
                 record: dict | None = None, wrt_inputs: bool = True
                 ) -> list[np.ndarray | None]:
        """Backpropagate dL/d(output). With `preactivation`, `dy` is the gradient with respect
        to the output layer's pre-activation (a loss fused with its activation; see
        `fuses_with`). With `record` (a dict), also put the gradient reaching each layer's
        input (what its `backward` returned: an array, a list for merges) in it by layer
        name. Without `wrt_inputs`, layers fed only by the model's inputs skip their input
        gradient (training needs none; the returned list holds None for them)."""
        grads: dict[str, np.ndarray] = {self.output: dy}
        for n in reversed(self.nodes):
            layer = n.layer
            g = grads.pop(layer.name, None)
            if g is None:
                continue
            layer.needs_input_grad = wrt_inputs or any(src not in self.input_shapes
                                                       for src in n.inputs)
            if layer.name in self._activity_outputs:
                g = g + layer.activity_regularizer.gradient(self._activity_outputs[layer.name])
            if preactivation and layer.name == self.output:
                dx = layer.backward_preactivation(g)
            else:
                dx = layer.backward(g)
            if record is not None:
                record[layer.name] = dx
            dxs = dx if layer.multi_input else [dx]
            for src, d in zip(n.inputs, dxs):
                if d is None:
                    continue
                grads[src] = grads[src] + d if src in grads else d
        return [grads.get(name) for name in self.input_names]

    def inference_batch_size(self, budget: int = 32 << 20) -> int:
        """The largest batch (32 to 1024) whose inference pass holds about `budget` bytes of
        arrays at once (see `Layer.working_set`): big batches amortize the per-call overhead
        of NumPy, batches that outgrow the caches get slower again."""
        per_sample = sum(math.prod(s) for s in self.input_shapes.values()) + sum(
            n.layer.working_set(n.input_shape) for n in self.nodes)
        batch = budget // max(per_sample * np.dtype(self.dtype).itemsize, 1)
        return int(min(max(batch // 32 * 32, 32), 1024))

    def predict(self, inputs: list[np.ndarray], batch_size: int | None = None) -> np.ndarray:
        """Outputs for every sample, in batches (default: `inference_batch_size`)."""
        n, batch_size = len(inputs[0]), batch_size or self.inference_batch_size()
        outs = [self.forward([x[i:i + batch_size] for x in inputs], training=False)
                for i in range(0, n, batch_size)]
        return np.concatenate(outs, axis=0)


"""One forward/backward pass on a batch that records what every layer saw, and the optimizer step
it would lead to — computed, never applied.

The pass is the training step's own (`forward_backward`, with the loss fused to the output
activation where training fuses it); the model's weights are not touched. What else it changes
depends on `training`: True runs Dropout (drawing from the model's dropout stream) and
BatchNormalization on batch statistics (updating its moving statistics) as a training step does;
False (inference) changes nothing but the layers' caches, which the next pass overwrites.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from nntrain.training.step import forward_backward


@dataclass
class Probe:
    """What one pass saw. Arrays are keyed by layer name (`outputs`, `input_grads`: what the
    layer's backward returned) or by weight key ``layer/param`` (`grads`, `updates`)."""

    loss: float
    samples: int
    outputs: dict[str, np.ndarray]
    input_grads: dict[str, object]
    grads: dict[str, np.ndarray]
    updates: dict[str, np.ndarray] | None


def run_probe(model, loss, xs: list[np.ndarray], y: np.ndarray, *, training: bool,
              optimizer=None) -> Probe:
    """Forward and backward on (xs, y); with `optimizer`, also the update one step of a copy of
    it (same slots, step counter and learning rate) would make, on copies of the weights."""
    outputs: dict[str, np.ndarray] = {}
    input_grads: dict[str, object] = {}
    value, _, _ = forward_backward(model, loss, xs, y, training=training, outputs=outputs,
                                   input_grads=input_grads)
    grads = {k: g.copy() for k, g in model.gradients().items()}
    updates = None if optimizer is None else one_step(optimizer, model.trainable_weights(), grads)
    return Probe(value, len(y), outputs, input_grads, grads, updates)


def one_step(optimizer, weights: dict[str, np.ndarray], grads: dict[str, np.ndarray]
             ) -> dict[str, np.ndarray]:
    """``new - old`` for every weight after one step of a copy of `optimizer`; neither the
    optimizer nor `weights` change."""
    trial = copy.deepcopy(optimizer)
    moved = {k: w.copy() for k, w in weights.items()}
    trial.apply(moved, grads)
    return {k: moved[k] - w for k, w in weights.items()}

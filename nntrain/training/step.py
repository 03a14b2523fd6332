"""One forward/backward pass: the loss value and every layer's gradients.

Shared by the trainer and by gradcheck, so that gradcheck verifies exactly the path training
takes (including a softmax/sigmoid output fused with its cross-entropy loss).
"""

from __future__ import annotations

import numpy as np

from nntrain.model import Model


def forward_backward(model: Model, loss, xs: list[np.ndarray], y: np.ndarray,
                     training: bool = True, wrt_inputs: bool = False
                     ) -> tuple[float, np.ndarray, list]:
    """Run forward and backward; returns (loss including regularization, model output, input
    gradients: None per input unless `wrt_inputs`, which only gradient checks need).
    Parameter gradients are then in `model.gradients()`."""
    out = model.forward(xs, training=training, backprop=True)
    value = float(loss(y, out)) + model.regularization_loss()
    if model.fuses_with(loss):
        dxs = model.backward(loss.fused_gradient(y, out), preactivation=True,
                             wrt_inputs=wrt_inputs)
    else:
        dxs = model.backward(loss.gradient(y, out), wrt_inputs=wrt_inputs)
    return value, out, dxs

"""One forward/backward pass: the loss value and every layer's gradients.

Shared by the trainer and by gradcheck, so that gradcheck verifies exactly the path training
takes (including a softmax/sigmoid output fused with its cross-entropy loss).
"""

from __future__ import annotations

import numpy as np

from nntrain.model import Network


def forward_backward(model: Network, loss, xs: list[np.ndarray], y: np.ndarray,
                     training: bool = True, *, outputs: dict | None = None,
                     input_grads: dict | None = None) -> tuple[float, np.ndarray, list]:
    """Run forward and backward; returns (loss including regularization, model output, input
    gradients). Parameter gradients are then in `model.gradients()`. `outputs` and
    `input_grads`, when given, are filled by layer name (see `Network.forward` / `backward`)."""
    out = model.forward(xs, training=training, record=outputs)
    value = float(loss(y, out)) + model.regularization_loss()
    if model.fuses_with(loss):
        dxs = model.backward(loss.fused_gradient(y, out), preactivation=True,
                             record=input_grads)
    else:
        dxs = model.backward(loss.gradient(y, out), record=input_grads)
    return value, out, dxs

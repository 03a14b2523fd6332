"""One forward/backward pass: the loss value and every layer's gradients.

Shared by the trainer and by gradcheck, so that gradcheck verifies exactly the path training
takes (including a softmax/sigmoid output fused with its cross-entropy loss).
"""

from __future__ import annotations

import numpy as np

from nntrain.losses import masked_weights, weigh
from nntrain.model import Network


def forward_backward(model: Network, loss, xs: list[np.ndarray], y: np.ndarray,
                     training: bool = True, *, outputs: dict | None = None,
                     input_grads: dict | None = None, sample_weight=None,
                     wrt_inputs: bool = False) -> tuple[float, np.ndarray, list]:
    """Run forward and backward; returns (loss including regularization, model output, input
    gradients: None per input unless `wrt_inputs`, which only gradient checks need).
    Parameter gradients are then in `model.gradients()`. `outputs` and `input_grads`, when
    given, are filled by layer name (see `Network.forward` / `backward`; with `input_grads`
    every layer's input gradient is computed). `sample_weight` (n,) weighs each sample's loss
    as Keras does (regularization is not weighted); a mask on the output weighs its positions
    (`masked_weights`)."""
    out = model.forward(xs, training=training, record=outputs, backprop=True)
    sample_weight = masked_weights(sample_weight, model.output_mask)
    value = float(loss(y, out, sample_weight)) + model.regularization_loss()
    wrt_inputs = wrt_inputs or input_grads is not None
    if model.fuses_with(loss):
        dxs = model.backward(weigh(loss.fused_gradient(y, out), sample_weight),
                             preactivation=True, record=input_grads, wrt_inputs=wrt_inputs)
    else:
        dxs = model.backward(weigh(loss.gradient(y, out), sample_weight), record=input_grads,
                             wrt_inputs=wrt_inputs)
    return value, out, dxs

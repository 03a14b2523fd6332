"""What `nntrain summary` reports about a model, as plain data (the CLI renders it).

Counts follow Keras's ``model.summary()``; beyond Keras: parameter memory, activation memory per
sample (every layer output kept for backprop), forward FLOPs per sample, and where masks go:
which outputs carry one (``masked``) and which layers drop the mask they receive
(``mask_dropped``: no masking support, where Keras warns).
"""

from __future__ import annotations

import numpy as np

from nntrain.memory import activation_bytes_per_sample
from nntrain.model import Network


def _keras_shape(shape) -> list:
    return [None, *shape]


def model_summary(model: Network) -> dict:
    """The JSON-ready summary: per-layer rows and totals (SPEC §1 `summary --json`)."""
    itemsize = np.dtype(model.dtype).itemsize
    functional = len(model.input_names) > 1 or any(
        n.layer.multi_input or (i > 0 and n.inputs != [model.nodes[i - 1].layer.name])
        for i, n in enumerate(model.nodes))
    rows = []
    if functional:
        for name, shape in model.input_shapes.items():
            rows.append({"name": name, "type": "InputLayer", "output_shape": _keras_shape(shape),
                         "params": 0, "trainable_params": 0, "non_trainable_params": 0,
                         "flops": 0, "connected_to": []})
    total_t = total_n = flops = 0
    masked = {n.layer.name: n.masked for n in model.nodes}
    for n in model.nodes:
        t, nt = n.layer.count_params()
        f = int(n.layer.flops(n.input_shape))
        layer = n.layer
        receives = any(masked.get(i, False) for i in n.inputs)
        rows.append({"name": layer.name, "type": type(layer).__name__,
                     "output_shape": _keras_shape(n.output_shape), "params": t + nt,
                     "trainable_params": t, "non_trainable_params": nt, "flops": f,
                     "connected_to": list(n.inputs), "masked": n.masked,
                     "mask_dropped": receives and not (layer.supports_masking
                                                       or layer.takes_mask)})
        total_t, total_n, flops = total_t + t, total_n + nt, flops + f
    return {
        "layers": rows,
        "inputs": {k: list(v) for k, v in model.input_shapes.items()},
        "output": model.output,
        "total_params": total_t + total_n,
        "trainable_params": total_t,
        "non_trainable_params": total_n,
        "param_bytes": (total_t + total_n) * itemsize,
        "activation_bytes_per_sample": activation_bytes_per_sample(model),
        "flops_per_sample": flops,
        "dtype": np.dtype(model.dtype).name,
        "functional": functional,
    }

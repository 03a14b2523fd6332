"""A diagnosis: the per-layer table of a probe pass and its warnings, as one JSON-ready dict.

    report = diagnose(model, loss, xs, y, optimizer=opt, training=True, initial=True)
    report["layers"][0] == {"name": "dense", "type": "Dense", "activation": "relu",
                            "mean": ..., "std": ..., "dead_fraction": ..., "histogram": ...,
                            "grad_norm": ..., "update_ratio": ..., ...}
    report["warnings"] == ["62% of dense_2's units are dead on this batch: ...", ...]

Non-finite numbers become None (JSON null); a warning says where they came from.
"""

from __future__ import annotations

import math

import numpy as np

from nntrain.diagnostics import stats
from nntrain.diagnostics.probe import Probe, run_probe
from nntrain.diagnostics.thresholds import LIMITS, RELU_FAMILY, Limits
from nntrain.diagnostics.warnings import find_warnings


def diagnose(model, loss, xs: list[np.ndarray], y: np.ndarray, *, optimizer=None,
             training: bool = True, initial: bool = False, histograms: bool = True,
             limits: Limits = LIMITS) -> dict:
    """Probe the model on one batch and describe every layer. `optimizer` (not changed) gives
    the update ratios; `initial` says the weights are the initial ones (some warnings only make
    sense then)."""
    probe = run_probe(model, loss, xs, y, training=training, optimizer=optimizer)
    layers = layer_rows(model, probe, histograms=histograms)
    found = find_warnings(layers, output=model.output, initial=initial,
                          clipping=clipping(optimizer), limits=limits)
    return {"loss": finite_or_none(probe.loss), "samples": probe.samples,
            "training_mode": training, "layers": layers,
            "gradient_ratio": gradient_ratio(layers), "warnings": [w.text for w in found]}


def layer_rows(model, probe: Probe, *, histograms: bool = True) -> list[dict]:
    """One row per layer the output depends on, in model order."""
    nodes = [n for n in model.nodes if n.layer.name in probe.outputs]
    kinds = {n.layer.name: stats.activation_kind(n.layer) for n in nodes}
    span = _relu_span(probe, kinds) if histograms else None
    rows = []
    for node in nodes:
        layer = node.layer
        kind = kinds[layer.name]
        row = {"name": layer.name, "type": type(layer).__name__, "activation": kind,
               "output_shape": [None, *node.output_shape]}
        row.update(stats.output_stats(probe.outputs[layer.name], kind,
                                      with_histogram=histograms,
                                      span=span if kind in RELU_FAMILY else None))
        row.update(_weight_numbers(layer, probe))
        row["finite"] = all(v is None or math.isfinite(v)
                            for v in (row["mean"], row["std"], row["grad_norm"]))
        dx = probe.input_grads.get(layer.name)
        if hasattr(layer, "go_backwards") and isinstance(dx, np.ndarray) and dx.ndim == 3:
            row["through_time"] = stats.through_time(dx, layer.go_backwards)
        rows.append(_clean(row))
    return rows


def _relu_span(probe: Probe, kinds: dict) -> tuple[float, float] | None:
    """One histogram range for every ReLU-family layer, so that a stack whose outputs shrink
    (relu + glorot) shows it as the histograms squeezing toward 0, as in the notes' figure."""
    spans = [stats.value_range(probe.outputs[name]) for name, kind in kinds.items()
             if kind in RELU_FAMILY]
    spans = [s for s in spans if s is not None]
    if not spans:
        return None
    return min(0.0, *(lo for lo, _ in spans)), max(hi for _, hi in spans)


def _weight_numbers(layer, probe: Probe) -> dict:
    """params, grad_norm, weight_norm, update_ratio (None for a layer without trainable
    weights; update_ratio also without an optimizer or for all-zero weights)."""
    keys = [f"{layer.name}/{k}" for k in layer.trainable_params()]
    if not keys:
        return {"params": 0, "grad_norm": None, "weight_norm": None, "update_ratio": None}
    weights = list(layer.trainable_params().values())
    weight_norm = stats.norm(weights)
    update = None
    if probe.updates is not None:
        update = stats.ratio(stats.norm(probe.updates[k] for k in keys), weight_norm)
    return {"params": int(sum(w.size for w in weights)),
            "grad_norm": stats.norm(probe.grads[k] for k in keys),
            "weight_norm": weight_norm, "update_ratio": update}


def gradient_ratio(layers: list[dict]) -> dict | None:
    """Parameter-gradient norm of the last weighted layer over the first's (the fall from the
    output down to the input), or None with fewer than two weighted layers."""
    weighted = [r for r in layers if r["grad_norm"] is not None]
    if len(weighted) < 2:
        return None
    first, last = weighted[0], weighted[-1]
    return {"from": last["name"], "to": first["name"],
            "ratio": stats.ratio(last["grad_norm"], first["grad_norm"])}


def clipping(optimizer) -> str | None:
    """The optimizer's gradient clipping as the config says it (``clipnorm=1.0``), if any."""
    for name in ("clipnorm", "global_clipnorm", "clipvalue"):
        value = getattr(optimizer, name, None)
        if value is not None:
            return f"{name}={value:g}"
    return None


def finite_or_none(value):
    return value if value is None or math.isfinite(value) else None


def _clean(value):
    """Non-finite floats → None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value

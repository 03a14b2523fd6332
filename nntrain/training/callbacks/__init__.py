"""Keras callbacks by name: `make_callbacks(config_list)` builds them from `fit.callbacks`."""

from __future__ import annotations

from nntrain.config.entries import construct, parse_entry
from nntrain.training.callbacks.base import Callback, Monitor
from nntrain.training.callbacks.early_stopping import EarlyStopping
from nntrain.training.callbacks.layer_stats import LayerStats
from nntrain.training.callbacks.model_checkpoint import ModelCheckpoint
from nntrain.training.callbacks.plateau import ReduceLROnPlateau
from nntrain.training.callbacks.simple import CSVLogger, TerminateOnNaN

CALLBACKS = {c.__name__: c for c in
             (ModelCheckpoint, EarlyStopping, ReduceLROnPlateau, CSVLogger, TerminateOnNaN,
              LayerStats)}


def make_callbacks(specs: list) -> list[tuple[Callback, str]]:
    """Build each `{Name: {args}}` entry of `fit.callbacks`; returns (callback, key) pairs."""
    out = []
    for i, entry in enumerate(specs or []):
        cls, args, key = parse_entry(entry, f"fit.callbacks.{i}", CALLBACKS, "callback",
                                     "{EarlyStopping: {patience: 3}}")
        cb = construct(cls, args, key)
        if isinstance(cb, ModelCheckpoint):
            cb.monitor_explicit = "monitor" in args
        out.append((cb, key))
    return out


__all__ = ["CALLBACKS", "Callback", "CSVLogger", "EarlyStopping", "LayerStats", "ModelCheckpoint",
           "Monitor", "ReduceLROnPlateau", "TerminateOnNaN", "make_callbacks"]

"""Keras callbacks by name: `make_callbacks(config_list)` builds them from `fit.callbacks`."""

from __future__ import annotations

from nntrain.registry import Registry
from nntrain.training.callbacks.base import Callback, Monitor
from nntrain.training.callbacks.callback_list import CallbackList
from nntrain.training.callbacks.early_stopping import EarlyStopping
from nntrain.training.callbacks.layer_stats import LayerStats
from nntrain.training.callbacks.model_checkpoint import ModelCheckpoint
from nntrain.training.callbacks.csv_logger import CSVLogger
from nntrain.training.callbacks.plateau import ReduceLROnPlateau
from nntrain.training.callbacks.tensorboard import TensorBoard
from nntrain.training.callbacks.terminate_on_nan import TerminateOnNaN

CALLBACKS = Registry("callback", expected="a one-key map such as {EarlyStopping: {patience: 3}}")
for _cls in (ModelCheckpoint, EarlyStopping, ReduceLROnPlateau, CSVLogger, TerminateOnNaN,
             LayerStats, TensorBoard):
    CALLBACKS.register(_cls)


def make_callbacks(specs: list) -> list[tuple[Callback, str]]:
    """Build each `{Name: {args}}` entry of `fit.callbacks`; returns (callback, key) pairs."""
    out = []
    for i, entry in enumerate(specs or []):
        spec, args, _, key = CALLBACKS.parse(entry, f"fit.callbacks.{i}")
        out.append((CALLBACKS.call(spec, args, key), key))
    return out


__all__ = ["CALLBACKS", "Callback", "CallbackList", "CSVLogger", "EarlyStopping", "LayerStats",
           "ModelCheckpoint", "Monitor", "ReduceLROnPlateau", "TensorBoard", "TerminateOnNaN",
           "make_callbacks"]

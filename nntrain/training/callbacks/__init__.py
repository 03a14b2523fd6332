"""Keras callbacks by name: `make_callbacks(config_list)` builds them from `fit.callbacks`."""

from __future__ import annotations

from nntrain.builder import constructor_arguments
from nntrain.errors import ConfigError, InputError, unknown
from nntrain.training.callbacks.base import Callback, Monitor
from nntrain.training.callbacks.early_stopping import EarlyStopping
from nntrain.training.callbacks.model_checkpoint import ModelCheckpoint
from nntrain.training.callbacks.plateau import ReduceLROnPlateau
from nntrain.training.callbacks.simple import CSVLogger, TerminateOnNaN

CALLBACKS = {c.__name__: c for c in
             (ModelCheckpoint, EarlyStopping, ReduceLROnPlateau, CSVLogger, TerminateOnNaN)}


def make_callbacks(specs: list) -> list[tuple[Callback, str]]:
    """Build each `{Name: {args}}` entry; returns (callback, key path) pairs."""
    out = []
    for i, entry in enumerate(specs or []):
        key = f"fit.callbacks.{i}"
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError(f"expected a one-key map such as {{EarlyStopping: {{patience: 3}}}},"
                              f" received {entry!r}", key=key)
        (name, args), = entry.items()
        if name not in CALLBACKS:
            raise unknown("callback", name, CALLBACKS, key=f"{key}.{name}")
        key = f"{key}.{name}"
        args = args or {}
        if not isinstance(args, dict):
            raise ConfigError(f"expected a mapping of arguments, received {args!r}", key=key)
        allowed = constructor_arguments(CALLBACKS[name])
        for arg in args:
            if arg not in allowed:
                raise unknown(f"argument for {name}", arg, allowed, key=f"{key}.{arg}")
        try:
            cb = CALLBACKS[name](**args)
        except InputError as e:
            raise e.prefixed(key) from None
        if isinstance(cb, ModelCheckpoint):
            cb.monitor_explicit = "monitor" in args
        out.append((cb, key))
    return out


__all__ = ["CALLBACKS", "Callback", "CSVLogger", "EarlyStopping", "ModelCheckpoint", "Monitor",
           "ReduceLROnPlateau", "TerminateOnNaN", "make_callbacks"]

"""Seeing inside a network: per-layer statistics of a batch's forward and backward pass.

`diagnose(model, loss, xs, y, ...)` returns the JSON-ready report of `nntrain diagnose`;
`thresholds` holds every limit it judges by; `probe`, `stats` and `warnings` are its parts.
Nothing here prints: the CLI (nntrain/cli/diagnose_view.py) and the LayerStats callback
present it.
"""

from nntrain.diagnostics.report import diagnose
from nntrain.diagnostics.thresholds import LIMITS, Limits

__all__ = ["LIMITS", "Limits", "diagnose"]

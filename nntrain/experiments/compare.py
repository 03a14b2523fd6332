"""Comparing runs: their configs as flat key paths, the keys in which they differ, what the
runs table shows and how it sorts."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from nntrain.errors import InputError
from nntrain.experiments import space
from nntrain.experiments.catalog import Monitor, RunInfo

IGNORED_KEYS = ("name", "run_dir")   # they name runs; they do not make them differ
MAX_KEYS = 5
MAX_MONITORS = 3
MISSING = object()
STATUS_ORDER = ("running", "finished", "interrupted", "failed")


def flatten(data, prefix: str = "") -> dict:
    """Nested config → ``{"a.b.0.c": leaf}``, key paths as ``--set`` takes them."""
    if isinstance(data, dict) and data:
        out = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(data, list) and data:
        out = {}
        for i, v in enumerate(data):
            out.update(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix: data}


def _same(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def differing_keys(configs: list[dict]) -> list[str]:
    """Keys whose value is not the same in every config (absent counts as a value)."""
    flats = [flatten(c) for c in configs]
    keys: list[str] = []
    for f in flats:
        keys += [k for k in f if k not in keys]
    return [k for k in keys if k.split(".")[0] not in IGNORED_KEYS
            and len({_same(f.get(k, "<absent>")) for f in flats}) > 1]


def config_diff(a: dict, b: dict) -> list[tuple[str, object, object]]:
    """(key, value in a, value in b) for every key that differs; MISSING where absent."""
    fa, fb = flatten(a), flatten(b)
    keys = list(fa) + [k for k in fb if k not in fa]

    def text(flat, k):
        return _same(flat[k]) if k in flat else None
    return [(k, fa.get(k, MISSING), fb.get(k, MISSING)) for k in keys
            if text(fa, k) != text(fb, k)]


# -- the runs table -------------------------------------------------------------------------
@dataclass
class TableColumns:
    """What the table shows besides name, status, epochs and time: the best value of each
    monitored quantity, and the keys the runs differ in (a sweep's grid keys when every run is
    from one sweep), with `hidden` more that did not fit."""

    monitors: list[Monitor]
    keys: list[tuple[str, str]]
    from_params: bool
    hidden: int = 0
    flats: dict = field(default_factory=dict)

    def value(self, info: RunInfo, key: str):
        if self.from_params:
            return info.params.get(key, MISSING)
        flat = self.flats.setdefault(info.path, flatten(info.config))
        return flat.get(key, MISSING)

    def cell(self, info: RunInfo, key: str) -> str:
        if self.from_params and key in (info.labels or {}):
            return info.labels[key]
        value = self.value(info, key)
        if value is MISSING:
            return "–"
        return space.format_value(value) if not isinstance(value, str) else value


def table_columns(infos: list[RunInfo]) -> TableColumns:
    monitors: list[Monitor] = []
    for info in infos:
        monitors += [m for m in info.monitors if m.name not in [n.name for n in monitors]
                     and any(m.name in i.best for i in infos)]
    param_keys = [tuple(i.params) for i in infos]
    if infos and all(param_keys) and len(set(param_keys)) == 1:
        keys, from_params, hidden = list(param_keys[0]), True, 0
    else:
        keys = differing_keys([i.config for i in infos]) if len(infos) > 1 else []
        from_params, hidden = False, max(0, len(keys) - MAX_KEYS)
        keys = keys[:MAX_KEYS]
    short = space.short_keys(keys) if keys else {}
    return TableColumns(monitors[:MAX_MONITORS], [(k, short[k]) for k in keys], from_params,
                        hidden)


def sort_keys(shown: TableColumns) -> list[str]:
    return (["path", "status", "epochs", "time"] + [m.name for m in shown.monitors]
            + [h for _, h in shown.keys])


def sort_runs(infos: list[RunInfo], key: str | None, shown: TableColumns) -> list[RunInfo]:
    """Sorted by `key`: path, status, epochs, time, a monitored quantity (best first; runs
    without one last) or one of the differing keys; None keeps the order they were found in."""
    if key is None:
        return list(infos)
    if key in ("path", "name", "run"):
        return sorted(infos, key=lambda i: i.path)
    if key == "status":
        return sorted(infos, key=lambda i: (STATUS_ORDER.index(i.status), i.path))
    if key == "epochs":
        return sorted(infos, key=lambda i: (-i.epochs, i.path))
    if key == "time":
        return sorted(infos, key=lambda i: (i.seconds, i.path))
    monitor = next((m for m in shown.monitors if m.name == key), None)
    if monitor is None:
        monitor = next((m for i in infos for m in i.monitors if m.name == key), None)
    if monitor is not None:
        def best(i):
            b = i.best.get(key)
            if b is None or not math.isfinite(b["value"]):
                return (1, 0.0, i.path)
            return (0, -b["value"] if monitor.maximize else b["value"], i.path)
        return sorted(infos, key=best)
    column = next((k for k, h in shown.keys if key in (k, h)), None)
    if column is None:
        raise InputError(f"cannot sort by {key!r}; expected one of: "
                         f"{', '.join(sort_keys(shown))}", file="--sort")

    def by_value(i):
        v = shown.value(i, column)
        if v is MISSING:
            return (2, 0.0, "", i.path)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (0, float(v), "", i.path)
        return (1, 0.0, _same(v), i.path)
    return sorted(infos, key=by_value)

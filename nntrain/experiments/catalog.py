"""Finding runs and summarizing them: what `nntrain runs` lists and `nntrain plot` draws.

A run is any directory holding a config.yaml (sweeps nest them, so the search is recursive); a
sweep directory holds ``sweep.json``, naming each run's grid values and label. Everything here
reads files as they are, so runs still training can be listed and plotted.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nntrain.errors import CheckpointError
from nntrain.training.restore import run_status
from nntrain.training.callbacks.base import maximizes

HISTORY = "history.csv"
MANIFEST = "sweep.json"
MONITORING = ("ModelCheckpoint", "EarlyStopping", "ReduceLROnPlateau")


@dataclass
class Monitor:
    name: str
    maximize: bool


@dataclass
class RunInfo:
    """One run as listed: `path` relative to the listed directory; `best` maps each monitored
    quantity to ``{"value", "epoch"}``; `params` are a sweep run's grid values."""

    directory: Path
    path: str
    name: str
    status: str
    epochs: int
    planned: int
    seconds: float
    best: dict
    params: dict
    labels: dict
    label: str
    config: dict
    monitors: list[Monitor] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"path": self.path, "name": self.name, "status": self.status,
                "epochs": self.epochs, "best": self.best, "params": self.params,
                "label": self.label, "planned_epochs": self.planned,
                "seconds": round(self.seconds, 3)}


# -- files ----------------------------------------------------------------------------------
def is_run(path: Path) -> bool:
    return (path / "config.yaml").is_file()


def find_runs(root: Path) -> list[Path]:
    """Every run directory at or under `root` (a run's own subfolders are not searched): a
    sweep's runs in the sweep's order, anything else by name."""
    if is_run(root):
        return [root]
    if not root.is_dir():
        return []
    order = {e.get("id"): i for i, e in enumerate(read_manifest(root).get("runs", []))
             if isinstance(e, dict)}
    children = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: (order.get(p.name, len(order)), p.name))
    found = []
    for child in children:
        found += find_runs(child)
    return found


def read_history(run: Path) -> list[dict]:
    """history.csv as rows of floats (a missing or empty value is left out)."""
    try:
        with open(run / HISTORY, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return []
    out = []
    for row in rows:
        parsed = {}
        for k, v in row.items():
            try:
                parsed[k] = float(v)
            except (TypeError, ValueError):
                pass
        out.append(parsed)
    return out


def read_config(run: Path) -> dict:
    try:
        data = yaml.safe_load((run / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def read_manifest(sweep_dir: Path) -> dict:
    try:
        data = json.loads((sweep_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def sweep_entry(run: Path) -> dict:
    """The run's entry in its sweep's manifest (``{"id", "params", "label"}``), or {}."""
    manifest = read_manifest(run.parent)
    for entry in manifest.get("runs", []):
        if entry.get("id") == run.name:
            return entry
    return {}


# -- monitors and best values ---------------------------------------------------------------
def monitors(config: dict, columns: set[str]) -> list[Monitor]:
    """The quantities the run's callbacks monitor (in config order), else the default
    checkpoint's: val_loss when there is validation data, otherwise loss."""
    found: list[Monitor] = []
    callbacks = (config.get("fit") or {}).get("callbacks") or []
    for entry in callbacks if isinstance(callbacks, list) else []:
        if not (isinstance(entry, dict) and len(entry) == 1):
            continue
        (kind, args), = entry.items()
        if kind not in MONITORING:
            continue
        args = args if isinstance(args, dict) else {}
        name = args.get("monitor", "val_loss")
        mode = args.get("mode", "auto")
        maximize = mode == "max" or (mode != "min" and maximizes(str(name)))
        if isinstance(name, str) and name not in [m.name for m in found]:
            found.append(Monitor(name, maximize))
    if not found:
        found.append(Monitor("val_loss" if "val_loss" in columns or not columns else "loss",
                             False))
    return found


def best_values(history: list[dict], watched: list[Monitor]) -> dict:
    """``{name: {"value", "epoch"}}`` of each monitored quantity over the epochs so far."""
    best = {}
    for m in watched:
        rows = [r for r in history if m.name in r and math.isfinite(r[m.name])]
        if not rows:
            continue
        pick = (max if m.maximize else min)(rows, key=lambda r: r[m.name])
        best[m.name] = {"value": pick[m.name], "epoch": int(pick.get("epoch", 0))}
    return best


# -- summaries ------------------------------------------------------------------------------
def describe(run: Path, root: Path) -> RunInfo:
    config = read_config(run)
    history = read_history(run)
    columns = set(history[-1]) if history else set()
    watched = monitors(config, columns)
    entry = sweep_entry(run)
    try:
        status = run_status(run)
    except CheckpointError:
        status = "failed"
    rel = run.relative_to(root) if run != root else Path(run.name)
    epochs = int(history[-1].get("epoch", len(history))) if history else 0
    fit = config.get("fit") if isinstance(config.get("fit"), dict) else {}
    return RunInfo(directory=run, path=str(rel), name=run.name, status=status, epochs=epochs,
                   planned=fit.get("epochs", 1) if isinstance(fit.get("epochs"), int) else 1,
                   seconds=sum(r.get("seconds", 0.0) for r in history),
                   best=best_values(history, watched), params=entry.get("params") or {},
                   labels=entry.get("labels") or {}, label=entry.get("label") or run.name,
                   config=config, monitors=watched)


def list_runs(root: Path) -> list[RunInfo]:
    return [describe(run, root) for run in find_runs(root)]


def resolve_runs(targets: list[str]) -> list[Path]:
    """Run directories for the given paths: a run itself, or every run under a directory (a
    sweep); errors name the path that holds none."""
    runs: list[Path] = []
    for t in targets:
        found = find_runs(Path(t))
        if not found:
            raise CheckpointError("not a run directory and holds no runs (no config.yaml)",
                                  file=t)
        runs += [r for r in found if r not in runs]
    return runs

"""Runs to Keras files and back: `export_run` (``nntrain export``) and `import_weights`
(``nntrain import-weights``).

An imported run is a run directory like the ones `fit` writes: the resolved config, and
``checkpoints/final.npz`` (weights only, epoch 0) recorded in the index as both ``final`` and
``latest``, so evaluate, predict and ``resume --weights-only-ok`` (fine-tuning) work on it. Its
normalization is what the config says: none unless ``data.normalize`` asks for statistics, which
are then computed from the config's training split exactly as `fit` computes them (so a run
exported and imported again with its own config normalizes as it did).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import yaml

from nntrain import workspace
from nntrain.config import Config
from nntrain.data import Normalizer
from nntrain.errors import InputError
from nntrain.interop.keras_config import keras_model_config
from nntrain.interop.keras_weights import (SUFFIX, load_keras_weights, require_h5py,
                                           save_keras_weights)
from nntrain.training import checkpoint as ckpt
from nntrain.training import run as runs
from nntrain.training.files import atomic_write_text

FORMATS = {"keras": SUFFIX, "keras-config": ".json"}
FINAL_NAME = "final.npz"   # checkpoints/final.npz, the index's "final"


def export_checkpoint(run_dir: Path, path: str | None) -> Path:
    """The checkpoint to export: `path` if given, else the run's final model if its index names
    one, else the latest checkpoint."""
    if path:
        return runs.checkpoint_for(run_dir, "latest", path)
    directory = run_dir / "checkpoints"
    final = ckpt.read_index(directory).get("final")
    if final and (directory / final).is_file():
        return directory / final
    return ckpt.resolve_checkpoint(directory, "latest")


def _check_output(fmt: str, output: str) -> None:
    suffix = FORMATS[fmt]
    if not output.endswith(suffix):
        raise InputError(f"--format {fmt} writes a {suffix} file (Keras's load_weights wants "
                         f"that name), received {output!r}" if fmt == "keras" else
                         f"--format {fmt} writes a {suffix} file, received {output!r}",
                         key="--output")


def export_run(run_dir: Path, fmt: str, output: str, checkpoint: str | None = None) -> Path:
    """Write the run's model as `fmt` to `output`; returns the checkpoint exported."""
    _check_output(fmt, output)
    if fmt == "keras":
        require_h5py("--format keras")
    path = export_checkpoint(run_dir, checkpoint)
    session, cp = runs.open_checkpoint(run_dir, path, need_data=False)
    model, config = session.trainer.model, session.config
    if fmt == "keras":
        with workspace.located(config):
            save_keras_weights(model, output)
        return path
    with workspace.located(config):
        spec = keras_model_config(config.section("model"), model, runs.checkpoint_normalizer(cp),
                                  name=config.data.get("name"))
    atomic_write_text(output, json.dumps(spec, indent=2) + "\n")
    return path


def import_weights(config_path: str, weights_path: str, run_dir: str) -> Path:
    """Create a run from a config and a Keras ``.weights.h5``; returns its directory. Everything
    is checked before the directory is created."""
    require_h5py("import-weights")
    config = workspace.open_config(config_path, needs=("model", "compile.loss"))
    resolved = Config(runs._absolute_paths(config.data), config.file, config.lines,
                      config.overrides)
    method = resolved.section("data").get("normalize") or "none"
    session = runs.assemble(resolved, Path("."), need_data=method != "none")
    model = session.trainer.model
    # layers the output does not use are not in a Keras model: they keep their initial weights
    weights = {**model.weights(), **load_keras_weights(model, weights_path)}
    ckpt.load_weights_into(model, weights, weights_path)
    dataset = session.trainer.dataset
    normalizer = dataset.normalizer if dataset is not None else Normalizer("none", [], [],
                                                                           model.dtype)
    directory = runs.new_run_dir(Path(run_dir))
    atomic_write_text(directory / "config.yaml",
                      yaml.safe_dump(resolved.data, sort_keys=False, default_flow_style=None))
    source = str(Path(weights_path).resolve())
    meta = {"epoch": 0, "batch": 0, "global_step": 0, "weights_only": True,
            "model_hash": session.trainer.model_hash, "history": [],
            "normalizer": normalizer.state(), "imported_from": source}
    checkpoints = directory / "checkpoints"
    final = checkpoints / FINAL_NAME
    size = ckpt.save_checkpoint(final, model.weights(), meta)
    entry = {"epoch": 0, "batch": 0, "global_step": 0, "weights_only": True, "size": size,
             "values": {}, "imported_from": source}
    index = ckpt.record_in_index(checkpoints, final, entry, is_best=False)
    index["final"] = FINAL_NAME
    atomic_write_text(ckpt.index_path(checkpoints), json.dumps(index, indent=2))
    now = time.time()
    atomic_write_text(directory / "status.json", json.dumps(
        {"status": "finished", "pid": os.getpid(), "started": now, "ended": now,
         "message": f"imported from {source}"}, indent=2))
    return directory

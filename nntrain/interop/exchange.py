"""Runs to Keras files and back: `export_run` (``nntrain export``) and `import_weights`
(``nntrain import-weights``).

An imported run is a finished run directory like the ones `fit` writes: the resolved config,
``checkpoints/final.npz`` (weights only, epoch 0) recorded in the index as ``final``, and
status.json, so evaluate, predict and `nntrain.load` take it by default, and ``resume
--checkpoint checkpoints/final.npz --weights-only-ok`` fine-tunes it. Its normalization is
what the config says: none unless ``data.normalize`` asks for statistics, which are then
computed from the config's training split exactly as `fit` computes them (so a run
exported and imported again with its own config normalizes as it did).
"""

from __future__ import annotations

import json
from pathlib import Path

from nntrain import from_config
from nntrain.config import Config
from nntrain.data import Normalizer
from nntrain.errors import InputError
from nntrain.interop.keras_config import keras_model_config
from nntrain.interop.keras_layout import weight_groups
from nntrain.interop.keras_weights import (SUFFIX, load_keras_weights, require_h5py,
                                           save_keras_weights)
from nntrain.training import checkpoint as ckpt
from nntrain.training.assembly import assemble
from nntrain.training.atomic_files import atomic_write_text
from nntrain.training.launch import resolved_config, write_config
from nntrain.training.restore import checkpoint_for
from nntrain.training.run_dir import RunDir, new_run_dir, write_status

FORMATS = {"keras": SUFFIX, "keras-config": ".json"}


def _check_output(fmt: str, output: str) -> None:
    suffix = FORMATS[fmt]
    if not output.endswith(suffix):
        why = " (Keras's load_weights wants that name)" if fmt == "keras" else ""
        raise InputError(f"--format {fmt} writes a {suffix} file{why}, received {output!r}",
                         key="--output")


def export_run(run: RunDir, fmt: str, output: str, checkpoint: str | None = None):
    """Write the run's model as `fmt` to `output`: the checkpoint given, else what
    evaluate scores (the final model of a finished run, else the latest). Returns the loaded
    `nntrain.Model` (its `checkpoint` and `checkpoint_description` say what was exported)."""
    from nntrain.api import load
    _check_output(fmt, output)
    if fmt == "keras":
        require_h5py("--format keras")
    model = load(checkpoint_for(run, None, checkpoint))
    with from_config.located(model.config):
        if fmt == "keras":
            save_keras_weights(model.network, output)
        else:
            spec = keras_model_config(model.config.section("model"), model.network,
                                      model.normalizer, name=model.config.data.get("name"))
            atomic_write_text(output, json.dumps(spec, indent=2) + "\n")
    return model


def import_weights(config_path: str, weights_path: str, run_dir: str) -> RunDir:
    """Create a run from a config and a Keras ``.weights.h5``; returns it. Everything is
    checked before the directory is created."""
    require_h5py("import-weights")
    config = from_config.open_config(config_path, needs=("model", "compile.loss"))
    resolved = Config(resolved_config(config.data), config.file, config.lines, config.overrides)
    method = resolved.section("data").get("normalize") or "none"
    trainer = assemble(resolved, need_data=method != "none").trainer
    network = trainer.model
    with from_config.located(resolved):
        weight_groups(network)   # a layer Keras lacks is refused at its line in the config
    # layers the output does not use are not in a Keras model: they keep their initial weights
    weights = {**network.weights(), **load_keras_weights(network, weights_path)}
    ckpt.load_weights_into(network, weights, weights_path)
    normalizer = (trainer.dataset.normalizer if trainer.dataset is not None
                  else Normalizer("none", [], [], network.dtype))
    run = new_run_dir(Path(run_dir))
    write_config(run, resolved.data)
    source = str(Path(weights_path).resolve())
    meta = {"epoch": 0, "batch": 0, "global_step": 0, "weights_only": True,
            "model_hash": trainer.model_hash, "history": [],
            "normalizer": normalizer.state(), "imported_from": source}
    size = ckpt.save_checkpoint(run.final, network.weights(), meta)
    entry = {"epoch": 0, "batch": 0, "global_step": 0, "weights_only": True, "size": size,
             "values": {}, "imported_from": source}
    ckpt.record_in_index(run.checkpoints, run.final, entry, is_best=False, final=True)
    write_status(run, "finished", f"imported from {source}")
    return run

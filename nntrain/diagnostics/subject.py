"""What `diagnose` looks at: a config's model at initialization, or a run's model at a checkpoint,
with its loss, optimizer and data normalized as in training.

`open_subject` is the only place that knows how configs and runs are opened (with the Python
API's `nntrain.Model` and the readers' helpers of nntrain/training/restore.py, as `nntrain.load`
does); everything else takes the `Subject`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain.errors import CheckpointError, ConfigError, DataError


@dataclass
class Subject:
    model: object              # the network
    loss: object
    optimizer: object          # with the checkpoint's slots, step count and learning rate
    dataset: object            # Dataset; its normalizer the checkpoint's at a checkpoint
    config_file: str
    checkpoint: str | None     # None: the initial weights
    epoch: int | None          # epochs completed at the checkpoint
    weights: str               # what the weights are, in words ("initial weights", ...)
    fresh_optimizer: bool      # at a checkpoint without optimizer state (final.npz, weights-only)


def open_subject(target: str, *, checkpoint: str | None = None, overrides=()) -> Subject:
    """TARGET is a config file (its initial weights, or `checkpoint`'s) or a run directory (the
    checkpoint `nntrain.load` would take — final when the run finished, else latest — or
    `checkpoint`, relative to the run). Bad input raises an InputError."""
    import nntrain
    from nntrain.training import checkpoint as ckpt
    from nntrain.training.assembly import config_dataset
    from nntrain.training.restore import (checkpoint_for, checkpoint_normalizer,
                                          describe_checkpoint)
    from nntrain.training.run_dir import run_dir_argument

    run = run_dir_argument(target) if Path(target).is_dir() else None
    model = nntrain.Model.from_config(run.config if run else target, overrides)
    config = model.config
    for key, missing in (("compile.loss", model.loss is None),
                         ("data", config.data.get("data") is None)):
        if missing:
            raise config.locate(ConfigError(f"missing; diagnose runs the config's loss on a "
                                            f"batch of its data, so it needs {key}", key=key))
    dataset = config_dataset(config, model.network, model.loss)
    cp, weights, fresh = None, "initial weights", False
    if run or checkpoint:
        cp_path = checkpoint_for(run, path=checkpoint) if run else Path(checkpoint)
        cp = ckpt.load_checkpoint(cp_path)
        if cp.meta.get("model_hash") != ckpt.model_hash(config.section("model")):
            raise CheckpointError(f"this checkpoint belongs to another model: its model section "
                                  f"differs from {config.file}'s", file=str(cp_path))
        ckpt.load_weights_into(model.network, cp.weights, str(cp_path))
        dataset.normalizer = checkpoint_normalizer(cp)
        fresh = not cp.optimizer
        if cp.optimizer:
            try:
                model.optimizer.load_state_arrays(cp.optimizer)
            except CheckpointError as e:
                raise e.located(file=str(cp_path)) from None
        weights = (describe_checkpoint(run, cp_path, cp) if run
                   else f"checkpoint of epoch {cp.meta.get('epoch')}")
    return Subject(model.network, model.loss, model.optimizer, dataset, str(config.file),
                   cp.path if cp else None, cp.meta.get("epoch") if cp else None, weights,
                   fresh)


def first_samples(subject: Subject, split: str, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The first `n` samples of the train or val split, normalized as in training (no random
    draw: the same batch every time)."""
    part = {"train": subject.dataset.train, "val": subject.dataset.val}[split]
    if part is None:
        raise DataError("the config has no validation data (set data.validation_split or "
                        "data.validation), so --split val has nothing to look at",
                        key="data.validation_split", file=subject.config_file)
    n = min(n, len(part))
    return subject.dataset.normalizer.apply([x[:n] for x in part.x]), part.y[:n]

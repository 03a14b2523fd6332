"""What `diagnose` looks at: a config's model at initialization, or a run's model at a checkpoint,
with its loss, optimizer and data normalized as in training.

`open_subject` is the only place that knows how configs and runs are opened (it will become a
call of `nntrain.load` once that exists); everything else takes the `Subject`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain.errors import CheckpointError, ConfigError, DataError


@dataclass
class Subject:
    model: object
    loss: object
    optimizer: object          # with the checkpoint's slots and step counter, if any
    dataset: object            # Dataset; its normalizer the checkpoint's at a checkpoint
    config_file: str
    checkpoint: str | None     # None: the initial weights
    epoch: int | None          # epochs completed at the checkpoint


def open_subject(target: str, *, checkpoint: str | None = None, overrides=()) -> Subject:
    """TARGET is a config file (initial weights, or `checkpoint`'s) or a run directory (its
    latest checkpoint, or `checkpoint`, relative to the run). Bad input raises an InputError."""
    from nntrain import workspace
    from nntrain.training import checkpoint as ckpt
    from nntrain.training import run as runs

    path = Path(target)
    is_run = path.is_dir()
    if is_run:
        path = runs.run_dir_argument(target)
        config_file = path / "config.yaml"
    else:
        config_file = path
    config = workspace.open_config(config_file, overrides, needs=("model", "compile.loss"))
    if "data" not in config.data:
        raise config.locate(ConfigError("missing; diagnose looks at a batch of the config's "
                                        "data, so the config needs a data section", key="data"))
    session = runs.assemble(config, path if is_run else Path("."))
    trainer, cp = session.trainer, None
    if is_run or checkpoint:
        cp_path = (runs.checkpoint_for(path, "latest", checkpoint) if is_run
                   else Path(checkpoint))
        cp = ckpt.load_checkpoint(cp_path)
        if cp.meta.get("model_hash") != trainer.model_hash:
            raise CheckpointError(f"this checkpoint belongs to another model: its model section "
                                  f"differs from {config_file}'s", file=str(cp_path))
        ckpt.load_weights_into(trainer.model, cp.weights, str(cp_path))
        trainer.dataset.normalizer = runs.checkpoint_normalizer(cp)
        if cp.optimizer:
            try:
                trainer.optimizer.load_state_arrays(cp.optimizer)
            except CheckpointError as e:
                raise e.located(file=str(cp_path)) from None
    return Subject(trainer.model, trainer.loss, trainer.optimizer, trainer.dataset,
                   str(config_file), cp.path if cp else None, cp.meta.get("epoch") if cp else None)


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

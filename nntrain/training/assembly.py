"""From a checked config to what training needs: the compiled parts (loss, metrics, optimizer),
the data, the callbacks (with the default checkpointing) and a `Trainer` — all checked before
any file is touched, so bad input costs the user nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain import from_config, memory
from nntrain.config import Config, fit_settings
from nntrain.errors import CheckpointError, ConfigError
from nntrain.training import checkpoint as ckpt
from nntrain.training.callbacks import ModelCheckpoint, make_callbacks
from nntrain.training.run_dir import RunDir
from nntrain.training.trainer import Trainer


@dataclass
class TrainingRun:
    """A trainer ready to run `epochs` epochs of the run a config describes."""

    config: Config
    trainer: Trainer
    epochs: int


def compiled_parts(config: Config, loss=None):
    """(loss, metrics, optimizer) from the config's `compile` section (Keras's defaults:
    rmsprop, no metrics). The metrics list holds `compile.metrics`, then
    `compile.weighted_metrics` (marked `weighted`; one whose name an unweighted metric has is
    logged as ``weighted_<name>``, as Keras does)."""
    from nntrain.optim import make_optimizer
    loss = loss or from_config.get_loss(config)
    compile_ = config.section("compile")
    with from_config.located(config):
        metrics = _metrics(compile_, "metrics", loss)
        taken = {m.name for m in metrics}
        for m in _metrics(compile_, "weighted_metrics", loss):
            m.weighted = True
            if m.name in taken:
                m.name = f"weighted_{m.name}"
            metrics.append(m)
        optimizer = make_optimizer(compile_.get("optimizer", "rmsprop"),
                                   key="compile.optimizer")
    return loss, metrics, optimizer


def _metrics(compile_: dict, section: str, loss) -> list:
    """The metrics of `compile.<section>`, each logged under its own name."""
    from nntrain.metrics import get_metric
    entries = compile_.get(section) or []
    if not isinstance(entries, list):
        raise ConfigError(f"expected a list of metrics, received {entries!r}",
                          key=f"compile.{section}")
    metrics = [get_metric(m, loss, key=f"compile.{section}.{i}") for i, m in enumerate(entries)]
    names = [m.name for m in metrics]
    for i, name in enumerate(names):
        if name in names[:i] or name == "loss":
            raise ConfigError(f"a second metric logged as {name!r}; name it, e.g. "
                              f"- {name}: {{name: {name.lower()}_2}}",
                              key=f"compile.{section}.{i}")
    return metrics


def config_dataset(config: Config, network, loss):
    """The config's data section read, checked, split and its normalization fitted."""
    from nntrain.data import load_dataset
    with from_config.located(config):
        if "data" not in config.data:
            raise ConfigError("missing; this command needs data", key="data")
        check_normalize(network, config.section("data").get("normalize", "none"))
        return load_dataset(config.section("data"), input_shapes=network.input_shapes,
                            output_shape=network.output_shape, label_kind=loss.label_kind,
                            dtype=network.dtype)


def config_callbacks(config: Config, extra=(), *, checkpoints: bool = True,
                     has_val: bool = False) -> tuple[list, list[str]]:
    """The config's callbacks (then `extra` ones given in code), each with the key errors name;
    a run without a ModelCheckpoint still checkpoints every epoch (SPEC §2; best by val_loss,
    or loss without validation data) unless `checkpoints` is off (training in memory)."""
    with from_config.located(config):
        pairs = make_callbacks(fit_settings(config.data)["callbacks"])
    pairs += [(cb, "callbacks") for cb in extra]
    if checkpoints and not any(isinstance(cb, ModelCheckpoint) for cb, _ in pairs):
        default = ModelCheckpoint(RunDir.CHECKPOINT_TEMPLATE, verbose=0,
                                  monitor="val_loss" if has_val else "loss")
        pairs.append((default, "fit"))
    return [cb for cb, _ in pairs], [key for _, key in pairs]


def make_trainer(config: Config, network, parts, dataset, *, callbacks=(), run=None,
                 listeners=(), streams=None, checkpoints: bool = True) -> Trainer:
    """A trainer for `network` with the config's fit settings and the seed's shuffle and
    dropout streams (or `streams`); callbacks checked against the logs this run will have."""
    loss, metrics, optimizer = parts
    settings = fit_settings(config.data)
    with from_config.located(config):   # a batch is never more than the training samples
        memory.check_training(network, optimizer, settings["batch_size"], samples=len(
            dataset.train) if dataset is not None else None)
    shuffle_rng, dropout_rng = streams or from_config.random_streams(
        config.data.get("seed", 0))[1:]
    cbs, keys = config_callbacks(config, callbacks, checkpoints=checkpoints,
                                 has_val=dataset is not None and dataset.val is not None)
    with from_config.located(config):
        class_weight = fit_class_weight(settings, network, dataset)
    trainer = Trainer(model=network, loss=loss, metrics=metrics, optimizer=optimizer,
                      dataset=dataset, callbacks=cbs, run=run,
                      batch_size=settings["batch_size"], shuffle=settings["shuffle"],
                      shuffle_rng=shuffle_rng, dropout_rng=dropout_rng,
                      model_hash=ckpt.model_hash(config.section("model")), listeners=listeners,
                      class_weight=class_weight)
    if dataset is not None:
        with from_config.located(config):
            trainer.check_callbacks(keys)
    return trainer


def fit_class_weight(settings: dict, network, dataset) -> dict[int, float] | None:
    """`fit.class_weight` checked against the model and the data: Keras takes class weights
    or sample weights for the training data, not both."""
    from nntrain.data.weights import check_class_weight, class_weight_map
    if settings.get("class_weight") is None:
        return None
    key = "fit.class_weight"
    class_weight = class_weight_map(settings["class_weight"], key=key)
    check_class_weight(class_weight, output_shape=network.output_shape, key=key)
    if dataset is not None and dataset.train.sample_weight is not None:
        raise ConfigError("give class_weight or sample weights (data.sample_weight), not both "
                          "(Keras refuses the two together)", key=key)
    return class_weight


def assemble(config: Config, run: RunDir | Path | None = None, *, listeners=(),
             need_data: bool = True) -> TrainingRun:
    """Build model, data, loss, metrics, optimizer, callbacks and the trainer; check monitors."""
    loss = from_config.get_loss(config)
    network = from_config.build(config)
    parts = compiled_parts(config, loss)
    dataset = config_dataset(config, network, parts[0]) if need_data else None
    load_initial_weights(config, network)
    run = RunDir(run) if run is not None and not isinstance(run, RunDir) else run
    trainer = make_trainer(config, network, parts, dataset, run=run, listeners=listeners)
    return TrainingRun(config, trainer, fit_settings(config.data)["epochs"])


def check_normalize(network, method) -> None:
    """Normalizing would turn an Embedding's token ids into fractions: refuse it up front."""
    if method in (None, "none"):
        return
    for n in network.nodes:
        if n.layer.integer_input and set(n.inputs) & set(network.input_names):
            raise ConfigError(f"normalize: {method} would change the integer ids that "
                              f"{type(n.layer).__name__} layer {n.layer.name!r} takes; use "
                              f"normalize: none", key="data.normalize")


def load_initial_weights(config: Config, network) -> None:
    """`model.weights`: start from the weights in an nntrain checkpoint or a bare ``.npz`` with
    ``<layer>/<param>`` (or ``weights/<layer>/<param>``) keys."""
    path = config.section("model").get("weights")
    if not path:
        return
    if not Path(path).is_file():
        raise CheckpointError("no such weights file (model.weights)", file=path)
    try:
        with np.load(path, allow_pickle=False) as z:
            weights = {k.removeprefix("weights/"): z[k] for k in z.files
                       if k != "meta" and not k.startswith(("optimizer/", "state/"))}
    except (OSError, ValueError) as e:
        raise CheckpointError(f"not a readable weights file ({e})", file=path) from None
    ckpt.load_weights_into(network, weights, path)

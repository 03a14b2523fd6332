"""The Python API: Keras's `Model` methods on an nntrain network, and `load` / `resume` for runs.

    model = nntrain.Model.from_config("configs/mnist1d_mlp.yaml")   # built, and compiled
    history = model.fit(x, y, epochs=5, validation_split=0.1)      # arrays, as Keras
    model.fit(run_dir="runs/mlp")            # the config's data: the same run `nntrain fit` makes
    nntrain.load("runs/mlp").predict(raw_x)  # weights + the run's normalization, raw data in

The command line is built on this module: `fit`, `resume`, `evaluate` and `predict` call these
methods, so there is one path. Errors are `nntrain.ConfigError` / `DataError` /
`CheckpointError` with the messages the command line prints.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from nntrain import from_config
from nntrain.config import Config, fit_settings
from nntrain.data import Dataset, Normalizer, Split, split_from_arrays, split_last
from nntrain.data.weights import class_weight_map, class_weights
from nntrain.errors import CheckpointError, ConfigError
from nntrain.losses import masked_weights
from nntrain.metrics import update_all
from nntrain.training import checkpoint as ckpt
from nntrain.training import launch
from nntrain.training.assembly import (TrainingRun, compiled_parts, config_dataset,
                                       load_initial_weights, make_trainer)
from nntrain.training.atomic_files import atomic_write
from nntrain.training.restore import (checkpoint_for, checkpoint_normalizer, describe_checkpoint,
                                     load_or_point_elsewhere)
from nntrain.training.run_dir import RunDir, new_run_dir, run_dir_argument
from nntrain.training.step import forward_backward
from nntrain.training.trainer import evaluate_split

DATA_FILE = RunDir.DATA   # where a run trained on arrays keeps them, so it can be resumed


class History:
    """What `fit` returns, as Keras's: `history` maps each logged name to one value per epoch
    (``loss``, metrics, ``val_*``, ``lr``, ``seconds``); `epoch` lists the 0-based epochs."""

    def __init__(self, rows: list[dict]):
        self.epoch = [r["epoch"] - 1 for r in rows]
        names = [k for r in rows for k in r if k != "epoch"]
        self.history = {k: [r.get(k) for r in rows] for k in dict.fromkeys(names)}

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class Model:
    """A built network with Keras's training API. Make one with `Model.from_config` or
    `nntrain.load`. Inputs are NumPy arrays; a model of several inputs takes a list (input
    order) or a dict by input name. `normalizer` (the run's, or fitted by the first `fit` when
    the config's ``data.normalize`` asks for one) is applied inside `fit`, `evaluate` and
    `predict`, so raw data goes in."""

    def __init__(self, network, config: Config, *, normalizer: Normalizer | None = None,
                 run: RunDir | None = None):
        self.network = network
        self.config = config
        self.normalizer = normalizer
        self.run = run
        self.loss = self.metrics = self.optimizer = None
        self.history: History | None = None
        _, self._shuffle_rng, self._dropout_rng = from_config.random_streams(
            config.data.get("seed", 0))
        network.set_rng(self._dropout_rng)

    # -- making one -----------------------------------------------------------------------
    @classmethod
    def from_config(cls, source, overrides=()) -> "Model":
        """A config file (or run directory, or a dict of the same structure): its `model`
        section builds the network (weights as `fit` starts them); its `compile` section,
        when it names a loss, compiles it. `overrides` are ``--set`` style ``KEY=VALUE``."""
        config = from_config.open_config(source, overrides, needs=("model",))
        network = from_config.build(config)
        with from_config.located(config):
            load_initial_weights(config, network)
        model = cls(network, config)
        if config.section("compile").get("loss") is not None:
            model._compile(config)
        return model

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None
                ) -> None:
        """Keras's compile, with the names and dicts the YAML `compile` section takes
        (`weighted_metrics` are weighted by the sample or class weights; `metrics` are not)."""
        data = copy.deepcopy(self.config.data)
        data["compile"] = {"optimizer": optimizer, "loss": loss, "metrics": list(metrics or []),
                           "weighted_metrics": list(weighted_metrics or [])}
        self._compile(Config(data, self.config.file, self.config.lines))

    def _compile(self, config: Config) -> None:
        self.loss, self.metrics, self.optimizer = compiled_parts(config)
        self.config = config

    def _need_compiled(self) -> None:
        if self.loss is None:
            raise ConfigError("the model is not compiled: call compile(optimizer=..., loss=...) "
                              "or give the config a compile section", key="compile.loss")

    # -- describing -----------------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        return list(self.network.input_names)

    def summary(self) -> None:
        """Print the layers, output shapes and parameter counts (Keras's model.summary())."""
        from nntrain.cli import render
        from nntrain.summary import model_summary
        render.print_summary(render.wide_console(), model_summary(self.network),
                             f'Model: "{self.config.data.get("name", "model")}"')

    # -- training -------------------------------------------------------------------------
    def fit(self, x=None, y=None, *, epochs=None, batch_size=None, validation_split=None,
            validation_data=None, shuffle=None, class_weight=None, sample_weight=None,
            callbacks=(), run_dir=None, verbose=1, listeners=()) -> History:
        """Train, as Keras's fit, and return the History. Without `x`, train on the config's
        `data` section. Settings not given come from the config's `fit` section (whose
        defaults are Keras's). `sample_weight` (one per sample of `x`) or `class_weight`
        (``{class id: weight}``) weigh the training samples as Keras does; `validation_data`
        may be ``(x, y)`` or ``(x, y, sample_weight)``. With `run_dir` it writes the same run
        directory as ``nntrain fit`` (config.yaml, checkpoints, history.csv; arrays passed in
        are kept in it as data.npz), which ``nntrain resume`` continues — ``<run_dir>-2`` if
        that one holds a run already; without, nothing is written and the config's
        file-writing callbacks are left out. `listeners` are extra callbacks that only watch
        (a progress display; not part of the run's state)."""
        prepared = self.prepare_fit(x, y, epochs=epochs, batch_size=batch_size,
                                    validation_split=validation_split,
                                    validation_data=validation_data, shuffle=shuffle,
                                    class_weight=class_weight, sample_weight=sample_weight,
                                    callbacks=callbacks, run_dir=run_dir, verbose=verbose,
                                    listeners=listeners)
        trainer = prepared.trainer
        if trainer.run is None:
            trainer.fit(prepared.epochs)
        else:
            final = launch.train(prepared)
            trainer.say(launch.files_message(trainer, final))
        self.history = History(trainer.state.history)
        return self.history

    def prepare_fit(self, x=None, y=None, *, epochs=None, batch_size=None,
                    validation_split=None, validation_data=None, shuffle=None,
                    class_weight=None, sample_weight=None, callbacks=(), run_dir=None,
                    verbose=1, listeners=()) -> TrainingRun:
        """Everything `fit` does before the first batch — check the data, the callbacks and
        the monitored names, then create the run directory (if any) and write its config —
        and return the trainer, ready; `fit` is this and then training."""
        self._need_compiled()
        data = copy.deepcopy(self.config.data)
        fit_cfg = data.setdefault("fit", {})
        for k, v in (("epochs", epochs), ("batch_size", batch_size), ("shuffle", shuffle)):
            if v is not None:
                fit_cfg[k] = v
        if class_weight is not None:
            fit_cfg["class_weight"] = class_weight_map(class_weight, key="class_weight")
        if run_dir is None:
            fit_cfg["callbacks"] = [c for c in fit_settings(data)["callbacks"]
                                    if not _writes_files(c)]
            if any(cb.writes_files for cb in callbacks):
                raise ConfigError("this callback writes files: give fit a run_dir",
                                  key="callbacks")
        config = Config(data, self.config.file, self.config.lines, self.config.overrides)
        if sample_weight is not None and x is None:
            raise ConfigError("sample_weight weighs the samples of x: give x and y too (or "
                              "name the weights in the config's data.sample_weight)",
                              key="sample_weight")
        dataset = self._dataset(config, x, y, validation_split, validation_data, sample_weight)
        trainer = make_trainer(config, self.network, (self.loss, self.metrics, self.optimizer),
                               dataset, callbacks=callbacks,
                               listeners=list(listeners) or _progress(verbose),
                               streams=(self._shuffle_rng, self._dropout_rng),
                               checkpoints=run_dir is not None)
        if run_dir is not None:
            self.run = self._new_run(config, dataset, x, callbacks, run_dir, trainer)
        self.normalizer = dataset.normalizer
        return TrainingRun(config, trainer, fit_settings(data)["epochs"])

    def _dataset(self, config: Config, x, y, validation_split, validation_data,
                 sample_weight=None) -> Dataset:
        net = self.network
        if x is None:
            dataset = config_dataset(config, net, self.loss)
        else:
            shapes = dict(input_shapes=net.input_shapes, output_shape=net.output_shape,
                          label_kind=self.loss.label_kind, dtype=net.dtype)
            train = split_from_arrays(x, y, sample_weight=sample_weight, **shapes)
            val = None
            if validation_data is not None:
                if not isinstance(validation_data, (tuple, list)) or \
                        len(validation_data) not in (2, 3):
                    raise ConfigError("expected (x, y) or (x, y, sample_weight)",
                                      key="validation_data")
                val = split_from_arrays(validation_data[0], validation_data[1], key="x_val",
                                        sample_weight=(validation_data[2]
                                                       if len(validation_data) == 3 else None),
                                        **shapes)
            elif validation_split:
                train, val = split_last(train, float(validation_split))
            method = (config.section("data") or {}).get("normalize", "none")
            dataset = Dataset(train, val, None, Normalizer.fit(method, train.x, dtype=net.dtype))
        if self.normalizer is not None:   # keep the statistics the model was trained with
            dataset.normalizer = self.normalizer
        return dataset

    def _new_run(self, config, dataset, x, callbacks, run_dir, trainer):
        """Create the run directory (after everything was checked) and write its config.yaml
        (and data.npz for arrays) so `nntrain resume` can continue it."""
        data = launch.resolved_config(config.data)
        data["compile"] = config.section("compile")
        data["fit"]["callbacks"] = ([*fit_settings(data)["callbacks"]]
                                    + [{type(cb).__name__: cb.get_config()} for cb in callbacks])
        base = Path(run_dir)
        run = new_run_dir(base)
        if base.resolve() != run.path.resolve():
            trainer.say(f"{base} already holds a run; writing {run} instead")
        with launch.creating(run):
            if x is not None:
                data["data"] = _save_arrays(run, dataset,
                                            (data.get("data") or {}).get("normalize", "none"),
                                            self.network.input_names)
                # train on the file as `nntrain resume` will read it (memory-mapped data is
                # read in sorted batches), with the statistics already fitted
                saved = config_dataset(Config(data), self.network, self.loss)
                trainer.dataset.train, trainer.dataset.val = saved.train, saved.val
            trainer.set_run(run)
            launch.write_config(run, data)
        trainer.say(f"Run directory: {run} ({dataset.describe()})")
        return run

    # -- using ----------------------------------------------------------------------------
    def _inputs(self, x) -> list[np.ndarray]:
        net = self.network
        split = split_from_arrays(x, None, input_shapes=net.input_shapes,
                                  output_shape=net.output_shape, label_kind="dense",
                                  dtype=net.dtype)
        return split.x

    def _normalize(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        norm = self.normalizer or Normalizer.fit("none", xs, dtype=self.network.dtype)
        return norm.apply(xs)

    def predict(self, x, batch_size: int | None = None) -> np.ndarray:
        """Outputs for every sample of `x` (raw inputs: the model's normalization applied)."""
        xs = self._normalize(self._inputs(x))
        return self.network.predict(xs, **({"batch_size": batch_size} if batch_size else {}))

    def data_split(self, split: str = "test") -> Split:
        """One split (test, val or train) of the config's data, as training reads it."""
        self._need_compiled()
        dataset = config_dataset(self.config, self.network, self.loss)
        part = {"test": dataset.test, "val": dataset.val, "train": dataset.train}[split]
        if part is None:
            key = f"data.{'validation' if split == 'val' else split}"
            raise self.config.locate(ConfigError(
                f"the run has no {split} split; set {key} in the config or choose --split",
                key=key))
        return part

    def evaluate(self, x=None, y=None, *, batch_size: int | None = None, split: str = "test",
                 sample_weight=None) -> dict:
        """Loss and metrics over `x`, `y` (weighted by `sample_weight`, as Keras) — or a
        `Split` from `data_split` as `x`, or, with no `x`, the config's data split `split`
        (test, val or train; weighted by its sample weights, if the config names them) — as a
        dict."""
        part = self._evaluation_split(x, y, split, sample_weight)
        return evaluate_split(self.network, self.loss, self.metrics, part,
                              self._normalizer_for(part),
                              batch_size or self.network.inference_batch_size())

    def confusion_matrix(self, x=None, y=None, *, batch_size: int | None = None,
                         split: str = "test") -> np.ndarray:
        """Counts of samples by true class (rows) and predicted class (columns), int64
        (k, k) — or (2, 2) for a one-unit output; the data as `evaluate` takes it."""
        from nntrain.confusion_matrix import confusion_matrix
        part = self._evaluation_split(x, y, split, None)
        return confusion_matrix(self.network, self.loss, part, self._normalizer_for(part),
                                batch_size or self.network.inference_batch_size())

    def _evaluation_split(self, x, y, split, sample_weight) -> Split:
        self._need_compiled()
        if x is None:
            return self.data_split(split)
        if isinstance(x, Split):
            return x
        net = self.network
        return split_from_arrays(x, y, input_shapes=net.input_shapes,
                                 output_shape=net.output_shape, label_kind=self.loss.label_kind,
                                 dtype=net.dtype, sample_weight=sample_weight)

    def _normalizer_for(self, part: Split) -> Normalizer:
        return self.normalizer or Normalizer.fit("none", part.x, dtype=self.network.dtype)

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None,
                       return_dict: bool = False):
        """One optimizer step on one batch; the loss (and metrics) of that batch."""
        self._need_compiled()
        xs, yb, w = self._batch(x, y, sample_weight)
        if class_weight is not None:
            if w is not None:
                raise ConfigError("give class_weight or sample_weight, not both",
                                  key="class_weight")
            w = class_weights(yb, class_weight_map(class_weight, key="class_weight"))
        loss, out, _ = forward_backward(self.network, self.loss, xs, yb, training=True,
                                        sample_weight=w)
        self.optimizer.apply(self.network.trainable_weights(), self.network.gradients())
        return self._batch_logs(loss, yb, out, w, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict: bool = False):
        """The loss (and metrics) of one batch in inference mode; nothing changes."""
        self._need_compiled()
        xs, yb, w = self._batch(x, y, sample_weight)
        out = self.network.forward(xs, training=False)
        loss = float(self.loss(yb, out, masked_weights(w, self.network.output_mask))) \
            + self.network.regularization_loss()
        return self._batch_logs(loss, yb, out, w, return_dict)

    def predict_on_batch(self, x) -> np.ndarray:
        return self.network.forward(self._normalize(self._inputs(x)), training=False)

    def _batch(self, x, y, sample_weight=None):
        net = self.network
        split = split_from_arrays(x, y, input_shapes=net.input_shapes,
                                  output_shape=net.output_shape,
                                  label_kind=self.loss.label_kind, dtype=net.dtype,
                                  sample_weight=sample_weight)
        return self._normalize(split.x), split.y, split.sample_weight

    def _batch_logs(self, loss, y, out, sample_weight, return_dict):
        logs = {"loss": float(loss)}
        for m in self.metrics:
            m.reset()
        update_all(self.metrics, y, out, sample_weight, self.network.output_mask)
        logs.update({m.name: float(m.result()) for m in self.metrics})
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    # -- weights --------------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight in Keras's order (layer by layer, `layer.weights` order)."""
        return [w.copy() for w in self.network.weights().values()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        own = self.network.weights()
        if len(weights) != len(own):
            raise ConfigError(f"expected {len(own)} arrays (one per weight), received "
                              f"{len(weights)}", key="weights")
        ckpt.load_weights_into(self.network, dict(zip(own, weights)), "set_weights")

    def save_weights(self, path) -> None:
        """Every weight as ``weights/<layer>/<param>`` in an ``.npz`` (SPEC §3), with the
        model's normalization statistics, written atomically."""
        meta = {"weights_only": True, "normalizer": (self.normalizer or Normalizer.fit(
            "none", [], dtype=self.network.dtype)).state()}
        ckpt.save_checkpoint(path, self.network.weights(), meta)

    def load_weights(self, path) -> None:
        """Weights from `save_weights`, a checkpoint or a ``<layer>/<param>`` ``.npz``; a
        checkpoint's normalization statistics come along."""
        p = Path(path)
        try:
            cp = ckpt.load_checkpoint(p)
        except CheckpointError:
            load_initial_weights(Config({"model": {"weights": str(p)}}), self.network)
            return
        ckpt.load_weights_into(self.network, cp.weights, str(p))
        if cp.meta.get("normalizer"):
            self.normalizer = checkpoint_normalizer(cp)


def _writes_files(entry) -> bool:
    """Whether a config's callback entry names a callback that writes into the run directory."""
    from nntrain.training.callbacks import CALLBACKS
    name = entry if isinstance(entry, str) else (
        next(iter(entry)) if isinstance(entry, dict) and len(entry) == 1 else None)
    return name in CALLBACKS and CALLBACKS[name].writes_files


def _progress(verbose):
    from nntrain.cli.progress import make_progress
    return [] if not verbose else [make_progress(quiet=False)]


def _save_arrays(run: RunDir, dataset: Dataset, normalize: str, input_names: list[str]) -> dict:
    """Keep the arrays a run trains on in its directory (uncompressed: memory-mapped when
    read back) and return the data section that names them."""
    arrays, keys = {}, {}
    parts = [("train", dataset.train)] + ([("val", dataset.val)] if dataset.val else [])
    for part, split in parts:
        names = {n: f"x_{part}" if len(input_names) == 1 else f"x_{part}_{n}"
                 for n in input_names}
        for (n, key), a in zip(names.items(), split.x):
            arrays[key] = np.asarray(a)
        arrays[f"y_{part}"] = np.asarray(split.y)
        if split.sample_weight is not None:
            arrays[f"sample_weight_{part}"] = np.asarray(split.sample_weight)
        keys[part] = names[input_names[0]] if len(input_names) == 1 else names
    path = run.file(DATA_FILE)
    atomic_write(path, lambda f: np.savez(f, **arrays))
    section = {"path": str(path.resolve()), "x": keys["train"], "y": "y_train",
               "normalize": normalize}
    if dataset.train.sample_weight is not None:
        section["sample_weight"] = "sample_weight_train"
    if "val" in keys:
        section["validation"] = {"x": keys["val"], "y": "y_val"}
        if dataset.val.sample_weight is not None:
            section["validation"]["sample_weight"] = "sample_weight_val"
    return section


def load(target, which: str | None = None) -> Model:
    """The model of a run (RUN_DIR) or of one checkpoint file: weights, normalization
    statistics, and compiled as the run's config says. `which` is final, latest or best;
    default: final when the run finished, else latest (what `nntrain evaluate` scores)."""
    path = Path(target)
    if path.is_file():
        run, cp_path = _run_of(path), path
    else:
        run, cp_path = run_dir_argument(path), None
    cp_path, cp = load_or_point_elsewhere(run, cp_path, which, resume=False)
    config = from_config.open_config(run.config, needs=("model",))
    network = from_config.build(config)
    ckpt.load_weights_into(network, cp.weights, str(cp_path))
    model = Model(network, config, normalizer=checkpoint_normalizer(cp), run=run)
    if config.section("compile").get("loss") is not None:
        model._compile(config)
    model.checkpoint, model.checkpoint_meta = cp_path, cp.meta
    model.checkpoint_description = describe_checkpoint(run, cp_path, cp)
    return model


def _run_of(checkpoint: Path) -> RunDir:
    for parent in checkpoint.resolve().parents:
        if RunDir(parent).is_run():
            return RunDir(parent)
    raise CheckpointError("not inside a run directory (no config.yaml above it)",
                          file=str(checkpoint))


def resume(run_dir=None, *, checkpoint=None, epochs: int | None = None,
           weights_only_ok: bool = False, verbose=1, listeners=()) -> History | None:
    """Continue a run exactly where it stopped (`nntrain resume`): from `checkpoint` or the
    latest one, to `epochs` in total (default: the config's). None when there is nothing
    left to train."""
    run = run_dir_argument(run_dir)
    path = checkpoint_for(run, path=checkpoint) if checkpoint else None
    listeners = list(listeners) or _progress(verbose)
    prepared, cp, fresh = launch.start_resume(run, path, epochs=epochs,
                                              weights_only_ok=weights_only_ok,
                                              listeners=listeners)
    trainer, state = prepared.trainer, prepared.trainer.state
    if fresh:
        trainer.say("Weights-only checkpoint: starting a fresh optimizer (not an exact resume).")
    if state.epoch >= prepared.epochs:
        if ckpt.read_index(run.checkpoints).get("final") is not None:
            trainer.say(f"Nothing to do: the run has completed {state.epoch} of "
                        f"{prepared.epochs} epochs (use --epochs N to train longer).")
            return None
        # every epoch trained, but the final model was never written (the disk was full)
        trainer.say(f"The run has completed {state.epoch} of {prepared.epochs} epochs; "
                    "writing its final model.")
        final = launch.train(prepared)
        trainer.say(launch.files_message(trainer, final))
        return History(state.history)
    where = f"epoch {state.epoch + 1}" + (f", batch {state.batch + 1}" if state.batch else "")
    trainer.say(f"Resuming {run} from {cp.path} at {where}")
    final = launch.train(prepared)
    trainer.say(launch.files_message(trainer, final))
    return History(state.history)

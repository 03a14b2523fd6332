"""Runs: create a run directory for `fit`, reopen one for `resume`/`evaluate`/`predict`.

Order matters for "bad input never costs a user a run": everything (config, model, data,
optimizer, callbacks, monitored names) is checked before a run directory is created or a file
in an existing one is touched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from nntrain import workspace
from nntrain.config import Config, fit_settings
from nntrain.errors import CheckpointError, ConfigError
from nntrain.training import checkpoint as ckpt
from nntrain.training.callbacks import ModelCheckpoint, make_callbacks
from nntrain.training.files import atomic_write_text, clean_stale_temporaries
from nntrain.training.trainer import Trainer, random_streams

RUNS_ROOT = "runs"
DEFAULT_CHECKPOINT = "checkpoints/cp-{epoch:04d}.npz"


# -- run directories ------------------------------------------------------------------------
def is_run(path: Path) -> bool:
    return (path / "config.yaml").is_file()


def new_run_dir(base: Path) -> Path:
    """`base` if free, else `base-2`, `base-3`, ...; created here (race-free)."""
    candidate, n = base, 1
    while True:
        if not is_run(candidate):
            try:
                candidate.mkdir(parents=True, exist_ok=candidate.is_dir() and
                                not any(candidate.iterdir()))
                return candidate
            except FileExistsError:
                pass
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")


def latest_run(root: str | Path = RUNS_ROOT) -> Path:
    """The most recently written run under `root` (by its index, history or config file)."""
    root = Path(root)
    runs = [p for p in root.iterdir() if p.is_dir() and is_run(p)] if root.is_dir() else []
    if not runs:
        raise CheckpointError(f"no runs under {root}/; give a RUN_DIR or run `nntrain fit` first")

    def written(run: Path) -> float:
        files = [run / "config.yaml", run / "history.csv", run / "checkpoints" / "checkpoint"]
        return max(f.stat().st_mtime for f in files if f.exists())
    return max(runs, key=written)


def run_dir_argument(run_dir: str | None) -> Path:
    path = Path(run_dir) if run_dir else latest_run()
    if not is_run(path):
        raise CheckpointError("not a run directory (no config.yaml)", file=str(path))
    return path


def _absolute_paths(data: dict) -> dict:
    """The config with data and weight paths made absolute (the resolved config)."""
    data = copy.deepcopy(data)
    section = data.get("data") or {}
    for sub in (section, section.get("test"), section.get("validation")):
        if isinstance(sub, dict):
            for key in ("path", "y"):
                v = sub.get(key)
                if isinstance(v, str) and (key == "path" or v.endswith((".npy", ".csv"))):
                    sub[key] = str(Path(v).expanduser().resolve())
    model = data.get("model") or {}
    if isinstance(model.get("weights"), str):
        model["weights"] = str(Path(model["weights"]).expanduser().resolve())
    return data


# -- assembling a trainer -------------------------------------------------------------------
@dataclass
class Session:
    config: Config
    trainer: Trainer
    epochs: int


def _callbacks(config: Config, has_val: bool):
    settings = fit_settings(config.data)
    with workspace.located(config):
        pairs = make_callbacks(settings["callbacks"])
    if not any(isinstance(cb, ModelCheckpoint) for cb, _ in pairs):
        default = ModelCheckpoint(DEFAULT_CHECKPOINT, monitor="val_loss" if has_val else "loss",
                                  verbose=0)
        default.monitor_explicit = False
        pairs.append((default, "fit"))
    return [cb for cb, _ in pairs], [key for _, key in pairs]


def assemble(config: Config, run_dir: Path, *, reporter=None, need_data: bool = True) -> Session:
    """Build model, data, loss, metrics, optimizer, callbacks and the trainer; check monitors."""
    from nntrain.data import load_dataset
    from nntrain.metrics import get_metric
    from nntrain.optim import make_optimizer

    data, settings = config.data, fit_settings(config.data)
    loss = workspace.get_loss(config)
    init_rng, shuffle_rng, dropout_rng = random_streams(data.get("seed", 0))
    model = workspace.build(config, rng=init_rng)
    compile_ = config.section("compile")
    with workspace.located(config):
        metrics_cfg = compile_.get("metrics") or []
        if not isinstance(metrics_cfg, list):
            raise ConfigError(f"expected a list of metrics, received {metrics_cfg!r}",
                              key="compile.metrics")
        metrics = [get_metric(m, loss, key=f"compile.metrics.{i}")
                   for i, m in enumerate(metrics_cfg)]
        optimizer = make_optimizer(compile_.get("optimizer", "rmsprop"),
                                   key="compile.optimizer")
        if need_data:
            if "data" not in data:
                raise ConfigError("missing; this command needs data", key="data")
            _check_normalize(model, config.section("data").get("normalize", "none"))
            dataset = load_dataset(config.section("data"), input_shapes=model.input_shapes,
                                   output_shape=model.output_shape, label_kind=loss.label_kind,
                                   dtype=model.dtype)
        else:
            dataset = None
    if config.section("model").get("weights"):
        cp_weights = _weights_file(config.section("model")["weights"])
        ckpt.load_weights_into(model, cp_weights, config.section("model")["weights"])
    callbacks, keys = _callbacks(config, bool(dataset and dataset.val is not None))
    trainer = Trainer(model=model, loss=loss, metrics=metrics, optimizer=optimizer,
                      dataset=dataset, callbacks=callbacks, run_dir=run_dir,
                      batch_size=settings["batch_size"], shuffle=settings["shuffle"],
                      shuffle_rng=shuffle_rng, dropout_rng=dropout_rng,
                      model_hash=ckpt.model_hash(config.section("model")), reporter=reporter)
    if dataset is not None:
        with workspace.located(config):
            trainer.check_callbacks(keys)
    return Session(config, trainer, settings["epochs"])


def _check_normalize(model, method) -> None:
    """Normalizing would turn an Embedding's token ids into fractions: refuse it up front."""
    if method in (None, "none"):
        return
    for n in model.nodes:
        if n.layer.integer_input and set(n.inputs) & set(model.input_names):
            raise ConfigError(f"normalize: {method} would change the integer ids that "
                              f"{type(n.layer).__name__} layer {n.layer.name!r} takes; use "
                              f"normalize: none", key="data.normalize")


def _weights_file(path: str) -> dict:
    """The weights of a `model.weights` file: an nntrain checkpoint or a bare ``.npz`` with
    ``<layer>/<param>`` (or ``weights/<layer>/<param>``) keys."""
    if not Path(path).is_file():
        raise CheckpointError("no such weights file (model.weights)", file=path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k.removeprefix("weights/"): z[k] for k in z.files
                    if k != "meta" and not k.startswith(("optimizer/", "state/"))}
    except (OSError, ValueError) as e:
        raise CheckpointError(f"not a readable weights file ({e})", file=path) from None


# -- the two ways to train ------------------------------------------------------------------
def start_fit(config: Config, *, run_dir: str | None = None, reporter=None,
              config_name: str = "run") -> Session:
    """Check everything, then create the run directory and write the resolved config."""
    resolved = Config(_absolute_paths(config.data), config.file, config.lines, config.overrides)
    session = assemble(resolved, Path("."), reporter=reporter)
    target = run_dir or resolved.data.get("run_dir")
    base = Path(target) if target else Path(RUNS_ROOT) / resolved.data.get("name", config_name)
    directory = new_run_dir(base)
    session.trainer.run_dir = directory
    atomic_write_text(directory / "config.yaml",
                      yaml.safe_dump(resolved.data, sort_keys=False, default_flow_style=None))
    return session


def start_resume(run_dir: Path, checkpoint_path: Path | None, *, epochs: int | None,
                 weights_only_ok: bool, reporter=None) -> tuple[Session, ckpt.Checkpoint, bool]:
    """Reopen a run at a checkpoint; returns (session, checkpoint, fresh_optimizer)."""
    config = workspace.open_config(run_dir / "config.yaml",
                                   needs=("model", "compile.loss", "data"))
    session = assemble(config, run_dir, reporter=reporter)
    clean_stale_temporaries(run_dir)
    path = checkpoint_path or ckpt.resolve_checkpoint(run_dir / "checkpoints", "latest")
    cp = ckpt.load_checkpoint(path)
    if cp.meta.get("model_hash") != session.trainer.model_hash:
        raise CheckpointError("the config's model section changed since this checkpoint was "
                              "written; resume needs the same model", file=str(path))
    ckpt.load_weights_into(session.trainer.model, cp.weights, str(path))
    fresh = bool(cp.meta.get("weights_only"))
    if fresh and not weights_only_ok:
        raise CheckpointError("this checkpoint holds weights only (save_weights_only), so "
                              "training cannot continue exactly; pass --weights-only-ok to start "
                              "a fresh optimizer from these weights", file=str(path))
    session.trainer.dataset.normalizer = checkpoint_normalizer(cp)
    if fresh:
        session.trainer.state.epoch = cp.meta["epoch"]
        session.trainer.state.history = list(cp.meta.get("history", []))
    else:
        session.trainer.restore(cp)
    if epochs is not None:
        session.epochs = epochs
    return session, cp, fresh


def checkpoint_normalizer(cp: ckpt.Checkpoint):
    """The normalization statistics training used (never recomputed from the data file)."""
    from nntrain.data import Normalizer
    state = cp.meta.get("normalizer")
    if not state:
        raise CheckpointError("the checkpoint has no normalization statistics", file=cp.path)
    return Normalizer.from_state(state)


def open_checkpoint(run_dir: Path, path: Path, *, need_data: bool) -> tuple[Session,
                                                                            ckpt.Checkpoint]:
    """Rebuild a run's model (and data) and put a checkpoint's weights and normalization
    statistics into them: what evaluate and predict start from."""
    config = workspace.open_config(run_dir / "config.yaml", needs=("model", "compile.loss"))
    session = assemble(config, run_dir, need_data=need_data and "data" in config.data)
    cp = ckpt.load_checkpoint(path)
    ckpt.load_weights_into(session.trainer.model, cp.weights, str(path))
    if session.trainer.dataset is not None:
        session.trainer.dataset.normalizer = checkpoint_normalizer(cp)
    return session, cp


def checkpoint_for(run_dir: Path, which: str, path: str | None) -> Path:
    if path:
        p = Path(path)
        return p if p.is_absolute() or p.exists() else run_dir / p
    return ckpt.resolve_checkpoint(run_dir / "checkpoints", which)


def default_run_name(config_file: str) -> str:
    return Path(config_file).stem or "run"

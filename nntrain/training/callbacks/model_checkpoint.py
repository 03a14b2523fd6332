"""ModelCheckpoint with Keras 3's rules (keras/src/callbacks/model_checkpoint.py), plus
`max_to_keep`. It decides *whether* and *where* to save; the run's checkpoint manager writes the
file after all callbacks have updated their state (so the checkpoint holds every callback's
latest state), and prunes its old files."""

from __future__ import annotations

import math
import string

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.training.callbacks.base import Monitor
from nntrain.training.run_dir import RunDir


class ModelCheckpoint(Monitor):
    """Save the model after every epoch (or `save_freq` batches), or only when `monitor`
    improves (`save_best_only`); keep the newest `max_to_keep` files. Without `monitor`, the
    best file is judged by val_loss, Keras's default, but the run need not log it."""

    writes_files = True

    def __init__(self, filepath=RunDir.CHECKPOINT_TEMPLATE, monitor=None, verbose=1,
                 save_best_only=False, save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None, max_to_keep=None):
        self.monitor_explicit = monitor is not None
        super().__init__("val_loss" if monitor is None else monitor, mode)
        if not isinstance(filepath, str) or not filepath.endswith(".npz"):
            raise ConfigError(f"expected a file path ending in .npz, received {filepath!r}",
                              key="filepath")
        self.filepath = filepath
        self.fields = _template_fields(filepath)
        validate.file_path("filepath", _sample(filepath, self.fields), reserved=RunDir.OWN)
        self.verbose = validate.non_negative_int("verbose", verbose)
        self.save_best_only = validate.boolean("save_best_only", save_best_only)
        self.save_weights_only = validate.boolean("save_weights_only", save_weights_only)
        if save_freq != "epoch":
            save_freq = validate.positive_int("save_freq", save_freq)
            late = [f for f in self.fields if f.startswith("val_") or f == "lr"]
            if late:
                raise ConfigError(f"{{{late[0]}}} is only known at the end of an epoch, but "
                                  f"save_freq={save_freq} saves after batches; use epoch, batch, "
                                  "loss or a training metric in the file name", key="filepath")
        elif "batch" in self.fields:
            raise ConfigError("{batch} is only known when saving after batches; set save_freq "
                              "to a number of batches or leave {batch} out", key="filepath")
        self.save_freq = save_freq
        self.max_to_keep = (None if max_to_keep is None
                            else validate.positive_int("max_to_keep", max_to_keep))
        self.best = (self.initial_best() if initial_value_threshold is None
                     else validate.number("initial_value_threshold", initial_value_threshold))
        self.batches_since_save = 0

    def bind(self, trainer) -> None:
        super().bind(trainer)
        trainer.checkpoints.register(self, max_to_keep=self.max_to_keep)


    def required_logs(self):
        """The monitor (when it matters) and every quantity the file name uses."""
        needs = super().required_logs() if (self.save_best_only or self.monitor_explicit) else []
        return needs + [("filepath", f) for f in self.fields if f not in ("epoch", "batch")]

    def on_batch_end(self, epoch, batch, logs):
        if self.save_freq == "epoch":
            return
        self.batches_since_save += 1
        if self.batches_since_save >= self.save_freq:
            self.batches_since_save = 0
            self._save(epoch, batch, logs)

    def on_epoch_end(self, epoch, logs):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch, batch, logs) -> str:
        fields = {k: v for k, v in logs.items() if isinstance(v, (int, float))}
        fields["epoch"] = epoch + 1
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, ValueError, IndexError) as e:
            raise ConfigError(f"cannot fill in {self.filepath!r}: {e!r}; available: "
                              f"{', '.join(sorted(fields))}", key="filepath") from None

    def _save(self, epoch, batch, logs):
        path = self._path(epoch, batch, logs)
        current = logs.get(self.monitor)
        is_best = current is not None and not math.isnan(current) and self.improved(current,
                                                                                      self.best)
        if self.save_best_only:
            if current is None:
                return
            if not is_best:
                if self.verbose:
                    self.trainer.say(f"Epoch {epoch + 1}: {self.monitor} did not improve from "
                                     f"{self.best:.5f}")
                return
            if self.verbose:
                self.trainer.say(f"Epoch {epoch + 1}: {self.monitor} improved from "
                                 f"{self.best:.5f} to {current:.5f}, saving model to "
                                 f"{self.trainer.checkpoints.display_path(path)}")
        elif self.verbose:
            self.trainer.say(f"Epoch {epoch + 1}: saving model to "
                             f"{self.trainer.checkpoints.display_path(path)}")
        if is_best:
            self.best = current
        self.trainer.checkpoints.request_save(self, path, epoch=epoch, batch=batch,
                                              is_best=is_best,
                                              weights_only=self.save_weights_only)

    def state_dict(self):
        return {"best": self.best, "batches_since_save": self.batches_since_save}

    def load_state_dict(self, state):
        self.best = state["best"]
        self.batches_since_save = state["batches_since_save"]


def _template_fields(filepath: str) -> list[str]:
    """The names a `filepath` template fills in (``{epoch:04d}``, ``{val_loss:.3f}``), checked
    now with sample values so a bad template fails before training, not at the first save."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(filepath)
                 if name is not None]
    except ValueError as e:
        raise ConfigError(f"not a valid file name template ({e}): {filepath!r}",
                          key="filepath") from None
    if any(not n.isidentifier() for n in names):
        raise ConfigError(f"expected named fields such as {{epoch:04d}} or {{val_loss:.3f}} in "
                          f"{filepath!r}", key="filepath")
    try:
        _sample(filepath, names)
    except ValueError as e:
        raise ConfigError(f"cannot fill in {filepath!r}: {e}", key="filepath") from None
    return list(dict.fromkeys(names))


def _sample(filepath: str, names) -> str:
    """The template filled in with sample values (epoch 1, batch 1, 0.5 for the rest)."""
    return filepath.format(**{n: 1 if n in ("epoch", "batch") else 0.5 for n in names})

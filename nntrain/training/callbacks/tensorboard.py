"""TensorBoard (keras/src/callbacks/tensorboard.py): event files for TensorBoard, written with
tensorboardX (the optional extra ``nntrain[tensorboard]``).

Layout and names as Keras's: ``<log_dir>/train`` and ``<log_dir>/validation`` (``log_dir``
relative to the run directory), scalars ``epoch_<name>`` at step = epoch (0-based; the
validation writer gets the ``val_`` quantities without the prefix, the learning rate is
``epoch_learning_rate``), ``batch_<name>`` at step = the optimizer's step count every
`update_freq` batches (the epoch's running values, as the progress line shows them), and
``<layer>/<weight>/histogram`` every `histogram_freq` epochs.

Layer statistics from other callbacks: a callback of the run that has a method
``latest_stats()`` (the diagnostics' LayerStats) is asked for it at every epoch end (and at the
end of training, so the order of the callbacks does not matter); it returns None or
``{"step": global step, "layers": {layer name: {statistic: number}}}``, and each number is
written as the scalar ``layer_stats/<layer>/<statistic>`` at that step, once per step.

A resumed run adds new event files to the same directories; steps continue where they were,
and what the stopped run wrote past its checkpoint is purged (see `writer`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.training.callbacks.base import Callback

EXTRA = 'pip install "nntrain[tensorboard]"'


def summary_writer_class():
    """tensorboardX's SummaryWriter, or a one-line error naming the extra."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ConfigError(f"TensorBoard needs tensorboardX: {EXTRA}") from None
    return SummaryWriter


def _update_freq(value):
    if value in ("epoch", "batch"):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"expected 'epoch', 'batch' or a number of batches, received "
                          f"{value!r}", key="update_freq")
    return value


class TensorBoard(Callback):
    """Write TensorBoard event files under `log_dir`: the logs every epoch (and every
    `update_freq` batches), weight histograms every `histogram_freq` epochs."""

    writes_files = True

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        if not isinstance(log_dir, str) or not log_dir:
            raise ConfigError(f"expected a directory name, received {log_dir!r}", key="log_dir")
        self.log_dir = log_dir
        self.histogram_freq = validate.non_negative_int("histogram_freq", histogram_freq)
        # Keras writes the graph of a tf.function; nntrain has none to write (neither does
        # Keras on the torch backend), so write_graph is accepted and writes nothing.
        self.write_graph = validate.boolean("write_graph", write_graph)
        self.write_steps_per_second = validate.boolean("write_steps_per_second",
                                                       write_steps_per_second)
        self.update_freq = _update_freq(update_freq)
        for arg, value, default in (("write_images", write_images, False),
                                    ("profile_batch", profile_batch, 0),
                                    ("embeddings_freq", embeddings_freq, 0),
                                    ("embeddings_metadata", embeddings_metadata, None)):
            if value != default:
                raise ConfigError(f"{arg} is not supported (weights as images, profiling and "
                                  f"the embedding projector are TensorFlow features)", key=arg)
        self._writer_class = summary_writer_class()
        self.writers: dict = {}
        self._stats_step: int | None = None
        self._purge_step: int | None = None

    # -- writers --------------------------------------------------------------------------
    def directory(self) -> Path:
        path = Path(self.log_dir).expanduser()
        return path if path.is_absolute() else self.trainer.run.file(self.log_dir)

    def writer(self, which: str):
        """The event writer of ``train`` or ``validation``, opened on first use. A resumed run
        opens it with tensorboardX's `purge_step`, so TensorBoard drops what the stopped run
        wrote past the checkpoint (batch scalars past its step; with update_freq epoch, every
        scalar of the epochs from the checkpoint's on)."""
        if which not in self.writers:
            # tensorboardX names a file by the second it opens it; the step it starts from
            # keeps a resume within that second from overwriting the stopped run's file
            suffix = f".step{int(self.trainer.optimizer.iterations)}"
            self.writers[which] = self._writer_class(str(self.directory() / which),
                                                     purge_step=self._purge_step,
                                                     filename_suffix=suffix)
        return self.writers[which]

    def _flush(self) -> None:
        for w in self.writers.values():
            w.flush()

    # -- events ---------------------------------------------------------------------------
    def on_train_begin(self):
        state = self.trainer.state
        resumed = bool(state.epoch or state.batch)
        if not resumed:
            self._purge_step = None
        elif self.update_freq == "epoch":
            self._purge_step = state.epoch
        else:
            self._purge_step = int(self.trainer.optimizer.iterations)
        self._start_timer()

    def on_epoch_begin(self, epoch):
        self._start_timer()

    def _start_timer(self) -> None:
        self._epoch_started = time.perf_counter()
        self._epoch_first_step = int(self.trainer.optimizer.iterations)

    def on_batch_end(self, epoch, batch, logs):
        if self.update_freq == "epoch":
            return
        step = int(self.trainer.optimizer.iterations)
        every = 1 if self.update_freq == "batch" else self.update_freq
        if step % every:
            return
        train = self.writer("train")
        for name, value in logs.items():
            if _finite_number(value):
                train.add_scalar(f"batch_{name}", value, step)

    def on_epoch_end(self, epoch, logs):
        train, val = self.writer("train"), None
        for name, value in logs.items():
            if name == "seconds" or not _finite_number(value):
                continue
            if name.startswith("val_"):
                val = val or self.writer("validation")
                val.add_scalar(f"epoch_{name[4:]}", value, epoch)
            else:
                train.add_scalar(f"epoch_{'learning_rate' if name == 'lr' else name}", value,
                                 epoch)
        if self.write_steps_per_second:
            steps = int(self.trainer.optimizer.iterations) - self._epoch_first_step
            seconds = max(time.perf_counter() - self._epoch_started, 1e-9)
            train.add_scalar("epoch_steps_per_second", steps / seconds, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for key, value in self.trainer.model.weights().items():
                train.add_histogram(f"{key}/histogram", value, epoch)
        self._write_layer_stats()
        self._flush()

    def on_train_end(self, logs):
        self._write_layer_stats()
        for w in self.writers.values():
            w.close()
        self.writers = {}

    def _write_layer_stats(self) -> None:
        """The newest statistics of any callback that offers `latest_stats()` (see the module
        docstring), each step once."""
        for cb in self.trainer.callbacks:
            latest = getattr(cb, "latest_stats", None)
            stats = latest() if callable(latest) and cb is not self else None
            if not stats or stats.get("step") == self._stats_step:
                continue
            train = self.writer("train")
            for layer, values in stats["layers"].items():
                for name, value in values.items():
                    if _finite_number(value):
                        train.add_scalar(f"layer_stats/{layer}/{name}", value, stats["step"])
            self._stats_step = stats["step"]

    def state_dict(self):
        return {"stats_step": self._stats_step}

    def load_state_dict(self, state):
        self._stats_step = state.get("stats_step")


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)

"""The training loop: epochs of shuffled mini-batches, validation, callbacks, checkpoints.

Everything that changes while training lives in `TrainState` or in an object that hands its
state over (optimizer, callbacks, checkpoint manager, random streams), so a checkpoint written at
an epoch end or after any batch lets `resume` continue bit-identically. The trainer raises events
on one list (the config's callbacks, the checkpoint manager, then listeners such as the progress
display) and never prints.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nntrain.data.weights import class_weights
from nntrain.errors import ConfigError, TrainingAborted
from nntrain.from_config import random_streams
from nntrain.losses import masked_weights
from nntrain.metrics import MeanMetric, update_all
from nntrain.training import checkpoint as ckpt
from nntrain.training.atomic_files import atomic_write_text
from nntrain.training.callbacks import CallbackList
from nntrain.training.checkpoint_manager import CheckpointManager
from nntrain.training.run_dir import RunDir
from nntrain.training.step import forward_backward


class Interrupted(Exception):
    """Training stopped on a signal after writing a checkpoint; `signum` says which."""

    def __init__(self, signum: int, checkpoint: str | None):
        super().__init__(f"interrupted by signal {signum}")
        self.signum, self.checkpoint = signum, checkpoint


class StoppedAtOnce(BaseException):
    """A second Ctrl-C / SIGTERM: leave now, whatever is running (writes are atomic, so the
    previous checkpoint stays valid). A BaseException so no `except Exception` swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@dataclass
class TrainState:
    """Where training is: `epoch` is the 0-based epoch in progress (or next), `batch` the next
    batch within it; `sums` the running loss sum of the epoch in progress, over `seen` samples
    (the metrics keep their own running state)."""

    epoch: int = 0
    batch: int = 0
    history: list[dict] = field(default_factory=list)
    sums: dict[str, float] = field(default_factory=dict)
    seen: int = 0
    epoch_shuffle_state: dict | None = None

    @property
    def epoch_number(self) -> int:
        """The 1-based epoch a checkpoint written now belongs to (the one in progress if any)."""
        return self.epoch + 1 if self.batch else self.epoch


class Trainer:
    """Trains `model` on `dataset`; `callbacks` are the run's stateful callbacks (config order),
    `listeners` stateless ones that only watch (progress). `run` is the run directory the
    checkpoints and history go to (None: train in memory, nothing written)."""

    def __init__(self, *, model, loss, metrics, optimizer, dataset, callbacks, run=None,
                 batch_size=32, shuffle=True, shuffle_rng=None, dropout_rng=None, model_hash="",
                 listeners=(), class_weight=None):
        self.model, self.loss, self.metrics = model, loss, metrics
        self.optimizer, self.dataset = optimizer, dataset
        self.run = RunDir(run) if run is not None and not isinstance(run, RunDir) else run
        self.batch_size, self.shuffle = batch_size, shuffle
        self.class_weight = class_weight    # {class id: weight} for the training batches
        self.model_hash = model_hash
        _, default_shuffle, default_dropout = random_streams(0)
        self.shuffle_rng = shuffle_rng or default_shuffle
        self.dropout_rng = dropout_rng or default_dropout
        model.set_rng(self.dropout_rng)
        self.state = TrainState()
        self.params: dict = {}
        self.stop_training = False
        self.restored_epoch: int | None = None   # set by a callback that restores older weights
        self.interrupt_signal: int | None = None
        self.callbacks = list(callbacks)
        self.checkpoints = CheckpointManager(self.run)
        self.events = CallbackList([*self.callbacks, self.checkpoints])
        self.events.bind(self)
        for listener in listeners:
            self.listen(listener)

    @property
    def run_dir(self) -> Path | None:
        return self.run.path if self.run else None

    def set_run(self, run: RunDir) -> None:
        """Where checkpoints and history go (known only once everything has been checked)."""
        self.run = self.checkpoints.run = run

    def listen(self, listener) -> None:
        """Add a stateless callback (progress display) at the end of the event list."""
        self.events.append(listener)
        listener.bind(self)

    # -- what callbacks may call ------------------------------------------------------------
    def say(self, text: str) -> None:
        self.events.on_message(text)

    def abort(self, message: str) -> None:
        raise TrainingAborted(message)

    def log_names(self) -> list[str]:
        """Every quantity an epoch's logs will hold (what a callback may monitor)."""
        names = ["loss", *[m.name for m in self.metrics]]
        if self.dataset.val is not None:
            names += [f"val_{n}" for n in names]
        return names + ["lr"]

    def metric_direction(self, name: str) -> str | None:
        """"up" or "down" for a logged quantity whose metric declares it, else None."""
        base = name.removeprefix("val_")
        if base == "loss":
            return "down"
        return next((m.direction for m in self.metrics if m.name == base), None)

    def check_callbacks(self, keys: list[str]) -> None:
        """Before training: a callback watching a quantity the run will never log, or set up in
        a way this run cannot honour, is an error (so bad input creates no run directory)."""
        available = self.log_names()
        for cb, key in zip(self.callbacks, keys):
            cb.check()
            for arg, name in cb.required_logs():
                if name not in available:
                    hint = (" (this run has no validation data: set data.validation_split or "
                            "data.validation)" if name.startswith("val_")
                            and self.dataset.val is None else "")
                    raise ConfigError(f"{name!r} is never logged by this run{hint}; available: "
                                      f"{', '.join(available)}", key=f"{key}.{arg}")

    # -- the loop ---------------------------------------------------------------------------
    def fit(self, epochs: int) -> list[dict]:
        n = len(self.dataset.train)
        n_batches = math.ceil(n / self.batch_size)
        self.params = {"epochs": epochs, "samples": n, "steps": n_batches,
                       "initial_epoch": self.state.epoch}
        self.events.on_train_begin()
        logs: dict = {}
        self._said_diverged = False
        # A diverging run shows its nan/inf loss in the progress and history (and gets one
        # hint below), as in Keras: NumPy's overflow warnings would only add tracebacks' noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while self.state.epoch < epochs and not self.stop_training:
                logs = self._run_epoch(epochs, n, n_batches)
        self.events.on_train_end(logs)
        return self.state.history

    def _epoch_order(self, n: int) -> np.ndarray:
        st = self.state
        if not self.shuffle:
            return np.arange(n)
        if st.batch == 0:
            st.epoch_shuffle_state = self.shuffle_rng.bit_generator.state
        else:  # resuming mid-epoch: draw the same order again from the saved state
            self.shuffle_rng.bit_generator.state = st.epoch_shuffle_state
        return self.shuffle_rng.permutation(n)

    def _run_epoch(self, epochs: int, n: int, n_batches: int) -> dict:
        st = self.state
        epoch, started = st.epoch, time.perf_counter()
        order = self._epoch_order(n)
        if st.batch == 0:
            st.sums, st.seen = {}, 0
            for m in self.metrics:
                m.reset()
        self.events.on_epoch_begin(epoch)
        train, weights = self.dataset.train, self.model.trainable_weights()
        while st.batch < n_batches:
            idx = order[st.batch * self.batch_size:(st.batch + 1) * self.batch_size]
            if not self.shuffle or isinstance(train.x[0], np.memmap):
                idx = np.sort(idx)   # contiguous reads from a memory map; same samples
            xs = self.dataset.normalizer.apply([x[idx] for x in train.x])
            y = train.y[idx]
            w = self._batch_weights(train, idx, y)
            loss, out, _ = forward_backward(self.model, self.loss, xs, y, training=True,
                                            sample_weight=w)
            self.optimizer.apply(weights, self.model.gradients())
            self._accumulate(loss, y, out, w)
            batch_logs = self._running_logs()
            st.batch += 1
            self.events.on_batch_end(epoch, st.batch - 1, batch_logs)
            if not (self._said_diverged or math.isfinite(batch_logs.get("loss", 0.0))):
                self._said_diverged = True
                self.say(f"Epoch {epoch + 1}, batch {st.batch}: the loss is "
                         f"{batch_logs['loss']}: training diverged — lower the learning rate or "
                         "set clipnorm (the TerminateOnNaN callback stops a run here)")
            if self.interrupt_signal is not None and st.batch < n_batches:
                self._stop_on_signal(batch_logs)
        logs = self._running_logs()
        if self.dataset.val is not None:
            logs.update({f"val_{k}": v for k, v in self.evaluate(self.dataset.val).items()})
        logs["lr"] = float(self.optimizer.current_learning_rate())
        logs["seconds"] = time.perf_counter() - started
        st.history.append({"epoch": epoch + 1, **logs})
        st.epoch, st.batch = epoch + 1, 0
        if self.run is not None:
            self.write_history_csv(RunDir.HISTORY)
        self.events.on_epoch_end(epoch, logs)
        if self.interrupt_signal is not None and st.epoch < epochs and not self.stop_training:
            self._stop_on_signal(logs)   # after the last epoch there is nothing left to resume
        return logs

    def _stop_on_signal(self, logs: dict) -> None:
        """Write a checkpoint of exactly where we are, then leave the loop."""
        path = self.checkpoints.save_interrupt(logs)
        raise Interrupted(self.interrupt_signal, str(path))

    def _batch_weights(self, split, idx, y):
        """The batch's sample weights: the data's, else the class weights of its labels (Keras
        allows one or the other), else None."""
        if split.sample_weight is not None:
            return split.sample_weight[idx]
        if self.class_weight:
            return class_weights(y, self.class_weight)
        return None

    def _accumulate(self, loss: float, y, out, sample_weight=None) -> None:
        """The epoch's running loss is a mean of batch losses weighted by batch size (Keras's
        loss tracker); each metric accumulates the batch into its own running state, so a
        confusion-count metric (AUC, precision) is over the whole epoch so far. As in Keras,
        only `weighted_metrics` see the sample (or class) weights; the output's mask weighs the
        mean metrics' positions."""
        st, b = self.state, len(y)
        st.sums["loss"] = st.sums.get("loss", 0.0) + loss * b
        update_all(self.metrics, y, out, sample_weight, self.model.output_mask)
        st.seen += b

    def _running_logs(self) -> dict:
        st = self.state
        logs = {k: v / max(st.seen, 1) for k, v in st.sums.items()}
        logs.update({m.name: float(m.result()) for m in self.metrics} if st.seen else {})
        return logs

    def evaluate(self, split, batch_size: int | None = None) -> dict:
        """Loss (with regularization, as Keras) and metrics over a whole split, in batches of
        `batch_size` (default: the model's inference batch)."""
        return evaluate_split(self.model, self.loss, self.metrics, split,
                              self.dataset.normalizer,
                              batch_size or self.model.inference_batch_size())

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint_contents(self, *, weights_only: bool, logs: dict):
        """What a checkpoint written now holds: (weights, meta, optimizer arrays or None,
        callback arrays)."""
        meta, state_arrays = self.state_meta(weights_only=weights_only, logs=logs)
        opt_arrays = None if weights_only else self.optimizer.state_arrays()
        return self.model.weights(), meta, opt_arrays, state_arrays

    def state_meta(self, *, weights_only: bool, logs: dict) -> tuple[dict, dict]:
        """Everything but weights and optimizer slots, as JSON meta plus callback arrays."""
        st = self.state
        callbacks, arrays = [], {}
        for i, cb in enumerate(self.callbacks):
            s = dict(cb.state_dict())
            for k, v in (s.pop("arrays", None) or {}).items():
                arrays[f"callbacks/{i}/{k}"] = v
            callbacks.append({"type": type(cb).__name__, "state": s})
        lr = self.optimizer.learning_rate
        meta = {
            "epoch": st.epoch, "batch": st.batch, "global_step": int(self.optimizer.iterations),
            "weights_only": weights_only, "model_hash": self.model_hash,
            "learning_rate": float(lr) if isinstance(lr, (int, float)) else None,
            "optimizer": self.optimizer.get_config(),
            "callbacks": callbacks, "history": st.history,
            "partial_epoch": {"sums": st.sums, "seen": st.seen,
                              "metrics": {m.name: m.state() for m in self.metrics}
                              if st.batch else {}},
            "rng": {"shuffle": self.shuffle_rng.bit_generator.state,
                    "dropout": self.dropout_rng.bit_generator.state,
                    "epoch_shuffle": st.epoch_shuffle_state},
            "normalizer": self.dataset.normalizer.state(),
            "checkpoint_manager": self.checkpoints.state_dict(),
            "logs": {k: v for k, v in logs.items() if isinstance(v, (int, float))},
        }
        return meta, arrays

    def restore(self, cp: ckpt.Checkpoint) -> None:
        """Take back the state of a full checkpoint (weights are loaded by the caller)."""
        meta, st = cp.meta, self.state
        self.optimizer.load_state_arrays(cp.optimizer)
        if meta.get("learning_rate") is not None:
            self.optimizer.learning_rate = meta["learning_rate"]
        st.epoch, st.batch = meta["epoch"], meta["batch"]
        st.history = list(meta["history"])
        self._restore_partial_epoch(meta["partial_epoch"])
        st.epoch_shuffle_state = meta["rng"]["epoch_shuffle"]
        self.shuffle_rng.bit_generator.state = meta["rng"]["shuffle"]
        self.dropout_rng.bit_generator.state = meta["rng"]["dropout"]
        self.checkpoints.load_state_dict(meta.get("checkpoint_manager", {}))
        saved = meta["callbacks"]
        if [c["type"] for c in saved] != [type(cb).__name__ for cb in self.callbacks]:
            raise ConfigError("the callbacks differ from the checkpoint's "
                              f"({[c['type'] for c in saved]}); resume needs the same list",
                              key="fit.callbacks")
        for i, (cb, s) in enumerate(zip(self.callbacks, saved)):
            state = dict(s["state"])
            prefix = f"callbacks/{i}/"
            arrays = {k[len(prefix):]: v for k, v in cp.state.items() if k.startswith(prefix)}
            if arrays:
                state["arrays"] = arrays
            cb.load_state_dict(state)

    def _restore_partial_epoch(self, partial: dict) -> None:
        """The running loss and each metric's state. A checkpoint written before metrics kept
        their own state holds each mean metric's running sum next to the loss's."""
        st = self.state
        st.sums, st.seen = dict(partial["sums"]), partial["seen"]
        states = partial.get("metrics")
        for m in self.metrics:
            if states is not None and m.name in states:
                m.load_state(states[m.name])
            elif states is None and m.name in st.sums and isinstance(m, MeanMetric):
                m.load_state({"total": st.sums[m.name], "count": float(st.seen)})
        st.sums = {"loss": st.sums["loss"]} if "loss" in st.sums else {}

    # -- history ----------------------------------------------------------------------------
    def write_history_csv(self, filename: str, separator: str = ",", before: str = "") -> None:
        """The history as CSV in the run directory; `before` is text kept in front of it
        (CSVLogger's append), in which case no header is written."""
        rows = self.state.history
        if not rows:
            return
        metric_names = [m.name for m in self.metrics]
        first = ["epoch", "loss", *metric_names]
        val = [f"val_{k}" for k in ["loss", *metric_names]]
        extra = [k for k in rows[-1] if k not in first + val + ["lr", "seconds"]]
        columns = first + [v for v in val if v in rows[-1]] + extra + ["lr", "seconds"]
        buf = io.StringIO()
        if before:
            buf.write(before if before.endswith("\n") else before + "\n")
        writer = csv.writer(buf, delimiter=separator, lineterminator="\n")
        if not before:
            writer.writerow(columns)
        for r in rows:
            writer.writerow([_fmt(r.get(c, "")) for c in columns])
        atomic_write_text(self.run.file(filename), buf.getvalue())


def evaluate_split(model, loss, metrics, split, normalizer, batch_size: int) -> dict:
    """Loss (with regularization, as Keras) and metrics of `model` over a whole split, in
    inference mode, `normalizer` applied to its inputs, weighted by the split's sample
    weights when it has them."""
    total, count = 0.0, 0
    for m in metrics:
        m.reset()
    weights = split.sample_weight
    for i in range(0, len(split), batch_size):
        xs = normalizer.apply([x[i:i + batch_size] for x in split.x])
        y = split.y[i:i + batch_size]
        w = None if weights is None else weights[i:i + batch_size]
        out = model.forward(xs, training=False)
        total += (float(loss(y, out, masked_weights(w, model.output_mask)))
                  + model.regularization_loss()) * len(y)
        count += len(y)
        update_all(metrics, y, out, w, model.output_mask)
    return {"loss": total / max(count, 1), **{m.name: float(m.result()) for m in metrics}}


def _fmt(v):
    return repr(float(v)) if isinstance(v, float) else v

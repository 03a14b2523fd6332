"""LayerStats: every layer's statistics on a fixed probe batch, recorded while training.

Config: ``- LayerStats: {every: 1, filename: layer_stats.csv}`` (or ``every_n_batches: 50``).
One CSV row per layer and record, in the run directory:

    epoch,batch,step,layer,type,mean,std,dead_fraction,saturated_fraction,grad_norm

`epoch` is 1-based; `batch` the batch of that epoch after which the row was recorded (empty at
the epoch's end); `step` the optimizer's step count; an empty cell a statistic that does not
apply (dead_fraction of a tanh layer, grad_norm of a layer without weights).

Exact resume and no side effects: the probe batch is the first `samples` training samples
(no random draw), normalized as training normalizes. The pass runs in inference mode
(``training=False``): BatchNormalization uses, and does not update, its moving statistics;
Dropout is the identity and draws nothing from the dropout stream; so weights, moving statistics,
optimizer and random streams are exactly as without the callback, and the same weights give the
same row. The rows' count is the callback's state: a resumed run first cuts the file back to
the rows of its checkpoint, so the CSV matches a run that never stopped.
"""

from __future__ import annotations

from nntrain import validate
from nntrain.diagnostics.probe import run_probe
from nntrain.diagnostics.report import layer_rows
from nntrain.diagnostics.warnings import find_warnings
from nntrain.errors import ConfigError
from nntrain.training.callbacks.base import Callback
from nntrain.training.atomic_files import atomic_write_text
from nntrain.training.run_dir import RunDir

COLUMNS = ("epoch", "batch", "step", "layer", "type", "mean", "std", "dead_fraction",
           "saturated_fraction", "grad_norm")


class LayerStats(Callback):
    """Record each layer's mean, std, dead and saturated fractions and gradient norm every
    `every` epochs (or every `every_n_batches` batches instead) into `filename`; say each
    problem the diagnostics warn about once per run."""

    writes_files = True

    def __init__(self, every=None, every_n_batches=None, filename="layer_stats.csv",
                 samples=128, verbose=1):
        if every is not None and every_n_batches is not None:
            raise ConfigError(f"give either every (epochs) or every_n_batches, not both "
                              f"(received every={every}, every_n_batches={every_n_batches})",
                              key="every_n_batches")
        self.every = validate.positive_int("every", 1 if every is None else every)
        self.every_n_batches = (None if every_n_batches is None
                                else validate.positive_int("every_n_batches", every_n_batches))
        if not isinstance(filename, str) or not filename.endswith(".csv"):
            raise ConfigError(f"expected a file name ending in .csv, received {filename!r}",
                              key="filename")
        if filename == RunDir.HISTORY:
            raise ConfigError(f"{RunDir.HISTORY} is the run's history; choose another file name",
                              key="filename")
        self.filename = filename
        self.samples = validate.positive_int("samples", samples)
        self.verbose = validate.non_negative_int("verbose", verbose)
        self.rows = 0                      # rows written to the file (the header not counted)
        self.batches_since = 0
        self.warned: set[str] = set()      # problem keys already said (``dead:dense_2``)
        self._latest: dict | None = None   # the last record, for latest_stats()

    # -- events -------------------------------------------------------------------------------
    def on_train_begin(self):
        data = self.trainer.dataset
        n = min(self.samples, len(data.train))
        self._xs = data.normalizer.apply([x[:n] for x in data.train.x])
        self._y = data.train.y[:n]
        self._path = self.trainer.run.file(self.filename)
        self._restart_file()

    def on_batch_end(self, epoch, batch, logs):
        if self.every_n_batches is None:
            return
        self.batches_since += 1
        if self.batches_since >= self.every_n_batches:
            self.batches_since = 0
            self._record(epoch, batch + 1)

    def on_epoch_end(self, epoch, logs):
        if self.every_n_batches is None and (epoch + 1) % self.every == 0:
            self._record(epoch, None)

    # -- recording ----------------------------------------------------------------------------
    def _record(self, epoch: int, batch: int | None) -> None:
        t = self.trainer
        probe = run_probe(t.model, t.loss, self._xs, self._y, training=False)
        rows = layer_rows(t.model, probe, histograms=False)
        step = int(t.optimizer.iterations)
        lines = [",".join(_cell(v) for v in (epoch + 1, "" if batch is None else batch, step,
                                             r["name"], r["type"], r["mean"], r["std"],
                                             r["dead_fraction"], r["saturated_fraction"],
                                             r["grad_norm"])) + "\n" for r in rows]
        with open(self._path, "a", encoding="utf-8") as f:
            f.writelines(lines)
        self.rows += len(lines)
        self._latest = {"step": step, "layers": {
            r["name"]: {k: r[k] for k in COLUMNS[5:] if r[k] is not None} for r in rows}}
        for finding in find_warnings(rows, output=t.model.output):
            if set(finding.keys) - self.warned:
                self.warned |= set(finding.keys)
                if self.verbose:
                    t.say(f"Epoch {epoch + 1}: LayerStats: {finding.text}")

    def _restart_file(self) -> None:
        """Header plus the rows this state has written (none for a fresh run). A run resumed
        without this callback's state (a weights-only checkpoint) keeps the rows of the epochs
        it has completed, rather than losing them."""
        lines: list[str] = []
        if self._path.is_file() and (self.rows or self.trainer.state.epoch):
            lines = self._path.read_text(encoding="utf-8").splitlines(keepends=True)[1:]
        lines = [line for line in lines if line.endswith("\n")]   # a torn last line goes
        if self.rows:
            kept = lines[:self.rows]
        else:
            done = self.trainer.state.epoch
            kept = [line for line in lines if _epoch_of(line) <= done]
        self.rows = len(kept)
        atomic_write_text(self._path, ",".join(COLUMNS) + "\n" + "".join(kept))

    def latest_stats(self) -> dict | None:
        """The last record as ``{"step": optimizer step, "layers": {layer: {statistic:
        value}}}`` (None before the first): what TensorBoard writes as scalars when both
        callbacks are on (see nntrain/training/callbacks/tensorboard.py)."""
        return self._latest

    # -- state --------------------------------------------------------------------------------
    def state_dict(self):
        return {"rows": self.rows, "batches_since": self.batches_since,
                "warned": sorted(self.warned)}

    def load_state_dict(self, state):
        self.rows = int(state["rows"])
        self.batches_since = int(state["batches_since"])
        self.warned = set(state["warned"])


def _epoch_of(line: str) -> float:
    first = line.split(",", 1)[0]
    return int(first) if first.isdigit() else float("inf")


def _cell(v) -> str:
    if v is None:
        return ""
    return repr(v) if isinstance(v, float) else str(v)

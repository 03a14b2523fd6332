"""CSVLogger (keras/src/callbacks/csv_logger.py): the history as CSV, one row per epoch."""

from __future__ import annotations

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.training.callbacks.base import Callback
from nntrain.training.run_dir import RunDir


class CSVLogger(Callback):
    """Write the history to `filename` (relative to the run directory) after every epoch.

    The run's history includes the epochs before a resume, so the file always holds the whole
    run. With `append` (Keras's meaning), what the file held before this run started is kept
    and the run's rows follow it (no second header); without, the file is the run's alone.
    """

    writes_files = True

    def __init__(self, filename=RunDir.HISTORY, separator=",", append=False):
        validate.file_path("filename", filename, reserved=RunDir.OWN)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ConfigError(f"expected one character, received {separator!r}",
                              key="separator")
        self.filename, self.separator = filename, separator
        self.append = validate.boolean("append", append)
        self.kept: str | None = None     # the file's text before the run's first epoch

    def on_train_begin(self):
        if self.append and self.kept is None:
            path = self.trainer.run.file(self.filename)
            self.kept = path.read_text() if path.is_file() else ""

    def on_epoch_end(self, epoch, logs):
        self.trainer.write_history_csv(self.filename, self.separator, before=self.kept or "")

    def state_dict(self):
        return {"kept": self.kept} if self.append else {}

    def load_state_dict(self, state):
        self.kept = state.get("kept")

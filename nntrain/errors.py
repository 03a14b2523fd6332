"""Error types. A user mistake is an `InputError` (exit 2); anything else is a bug or a run failure.

Library code raises `InputError(message, key="model.layers.2.Dense.units")` without knowing the
file; the command that loaded the config fills in `file` and `line` from the config's line map
before printing, so every message reads ``error: FILE:LINE: key.path: message``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable


# Characters that would break an error message into several lines (str.splitlines' line
# boundaries) or garble a terminal (the other C0 controls), shown escaped instead.
_ESCAPES = {c: repr(chr(c))[1:-1] for c in [*range(0x20), 0x7F, 0x85, 0x2028, 0x2029]
            if chr(c) != " "}


def one_line(text: str) -> str:
    """`text` with line breaks and control characters escaped: an error is one line even when
    it echoes a key such as "a\\nb"."""
    return text.translate(_ESCAPES)


class InputError(Exception):
    """Bad input from the user: config, data, checkpoint or arguments. Exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, key: str | None = None, file: str | None = None,
                 line: int | None = None):
        super().__init__(message)
        self.message = message
        self.key = key
        self.file = file
        self.line = line

    def located(self, file: str | None = None, line: int | None = None) -> "InputError":
        """Fill in file and line where they are still unknown; returns self for `raise ... from`."""
        if self.file is None:
            self.file = file
        if self.line is None:
            self.line = line
        return self

    def prefixed(self, prefix: str) -> "InputError":
        """Prepend a key path (e.g. ``model.layers.2.Dense``) to the key this error names."""
        self.key = f"{prefix}.{self.key}" if self.key else prefix
        return self

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        key = f"{self.key}: " if self.key else ""
        return one_line(f"{where}{key}{self.message}")


class ConfigError(InputError):
    """The config (or a --set override) is wrong."""


class DataError(InputError):
    """The data named by the config cannot be used."""


class CheckpointError(InputError):
    """A checkpoint or run directory cannot be used as asked."""


class TrainingAborted(Exception):
    """Training stopped for a reason that is not the user's input (NaN loss, ...). Exit code 1."""

    exit_code = 1


class WriteError(Exception):
    """A file could not be written: disk full, quota, read-only file system, permissions, I/O
    error. Exit code 1. Raised by the one place files are written (`atomic_files`) with the
    path and errno; whoever knows what the file belonged to (the run being trained) fills in
    `advice`, e.g. which checkpoint the run is intact up to and how to continue."""

    exit_code = 1

    def __init__(self, path, errno_: int | None, reason: str | None = None):
        self.path = str(path)
        self.errno = errno_
        text = reason or (os.strerror(errno_) if errno_ else "write failed")
        self.reason = text[:1].lower() + text[1:]
        self.advice: str | None = None
        super().__init__(str(self))

    def __str__(self) -> str:
        advice = f"; {self.advice}" if self.advice else ""
        return one_line(f"cannot write {self.path}: {self.reason}{advice}")


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' hint when `value` is close to one of `choices`, else ''."""
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        if str(value).lower() in lowered:
            close = [lowered[str(value).lower()]]
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown(kind: str, value: str, choices: Iterable[str], *, key: str | None = None,
            cls: type[InputError] = ConfigError) -> InputError:
    """The standard error for a name that is not one of the known ones."""
    choices = sorted(choices)
    hint = did_you_mean(value, choices)
    listing = "" if hint and len(choices) > 12 else f"; expected one of: {', '.join(choices)}"
    return cls(f"unknown {kind} {value!r}{hint}{listing}", key=key)

"""Argument checks shared by layers, optimizers, callbacks: each raises a `ConfigError` naming the
argument and echoing the value, in the manner of Keras ("expected a positive integer. Received:
units=-3"). The builder prefixes the key path of the config entry.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Sequence

from nntrain.errors import ConfigError, unknown


def _fail(name: str, expected: str, value) -> ConfigError:
    return ConfigError(f"expected {expected}, received {value!r}", key=name)


NAME_MAX = 230   # bytes in one path component: the file system's 255, less a temporary's suffix


def file_path(name: str, value, *, reserved: Iterable[str] = (), directory: bool = False
              ) -> str:
    """A path to write a file (or, with `directory`, a directory) at: a non-empty string
    without NUL, no component longer than NAME_MAX bytes, a file's not ending in '/', '.' or
    '..', and not (relative to the run) one of `reserved`, the run's own files."""
    what = "a directory path" if directory else "a file path"
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, what, value)
    if "\0" in value:
        raise _fail(name, f"{what} without NUL characters", value)
    parts = value.split(os.sep)
    if not directory and parts[-1] in ("", ".", ".."):
        raise _fail(name, f"{what} (a file, not a directory)", value)
    if any(len(part.encode("utf-8", "surrogateescape")) > NAME_MAX for part in parts):
        raise _fail(name, f"{what} whose names are at most {NAME_MAX} bytes long", value)
    normal = os.path.normpath(value)
    if normal in set(reserved):
        raise ConfigError(f"{value!r} is a file of the run itself; choose another name",
                          key=name)
    return value


def positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise _fail(name, "a positive integer", value)
    return int(value)


def non_negative_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise _fail(name, "a non-negative integer", value)
    return int(value)


def number(name: str, value, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """A real number in [low, high] (or the open ends asked for)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(name, "a number", value)
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise _fail(name, f"a number {'>' if low_open else '>='} {low}", value)
    if high is not None and (value > high or (high_open and value == high)):
        raise _fail(name, f"a number {'<' if high_open else '<='} {high}", value)
    return value


def boolean(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, "true or false", value)
    return value


def choice(name: str, value, choices: Iterable[str]) -> str:
    choices = list(choices)
    if value not in choices:
        raise unknown(f"value for {name}", value, choices, key=name)
    return value


def int_tuple(name: str, value, n: int, *, positive: bool = True) -> tuple[int, ...]:
    """An int or a list of `n` ints (Keras `kernel_size: 3` or `kernel_size: [3, 3]`)."""
    check = positive_int if positive else non_negative_int
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != n:
            raise _fail(name, f"an integer or a list of {n} integers", value)
        return tuple(check(name, v) for v in value)
    return (check(name, value),) * n


def shape(name: str, value) -> tuple[int, ...]:
    """A per-sample shape: a list of positive integers (no batch dimension)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise _fail(name, "a list of positive integers (the shape of one sample)", value)
    return tuple(positive_int(name, v) for v in value)

"""Checks on loaded arrays before training: shapes against the model, finite values, labels.

Each check raises a `DataError` naming the config key and describing the array as `what`
(e.g. "'x_train' in /data/mnist1d.npz"). Large arrays are scanned in chunks of samples, so a
memory-mapped file is never loaded whole.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nntrain.errors import DataError

CHUNK_ELEMENTS = 1 << 20


def chunks(a: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample index, a[i:i+k]) over the samples, about CHUNK_ELEMENTS elements at a time."""
    per_sample = max(1, int(np.prod(a.shape[1:], dtype=np.int64)))
    step = max(1, CHUNK_ELEMENTS // per_sample)
    for i in range(0, a.shape[0], step):
        yield i, a[i:i + step]


def numeric(a: np.ndarray, *, what: str, key: str) -> np.ndarray:
    """`a` itself, if it holds numbers (or booleans) with at least one sample axis."""
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) or \
            np.issubdtype(a.dtype, np.complexfloating):
        raise DataError(f"{what} holds {a.dtype} values; expected numbers", key=key)
    if a.ndim == 0:
        raise DataError(f"{what} is a single value; expected an array with one row per sample",
                        key=key)
    if a.shape[0] == 0:
        raise DataError(f"{what} has no samples", key=key)
    return a


def match_shape(a: np.ndarray, expected: tuple[int, ...], *, what: str, key: str,
                input_name: str | None = None) -> np.ndarray:
    """`a` viewed with per-sample shape `expected`: equal, or differing by a trailing axis of 1."""
    got, expected = tuple(a.shape[1:]), tuple(expected)
    if got == expected:
        return a
    if got + (1,) == expected or got == expected + (1,):
        return a.reshape((a.shape[0],) + expected)
    target = f"model input {input_name!r}" if input_name else "the model output"
    raise DataError(f"{what} has per-sample shape {list(got)} (array shape {list(a.shape)}) "
                    f"but {target} expects {list(expected)}", key=key)


def finite(a: np.ndarray, *, what: str, key: str) -> None:
    """Raise if `a` holds NaN or inf, saying how many and where the first one is."""
    if not np.issubdtype(a.dtype, np.floating):
        return
    count, first = 0, None
    for start, block in chunks(a):
        bad = ~np.isfinite(block)
        n = int(np.count_nonzero(bad))
        if n and first is None:
            where = np.unravel_index(int(np.argmax(bad)), block.shape)
            first = (start + int(where[0]),) + tuple(int(w) for w in where[1:])
        count += n
    if count:
        index = first[0] if len(first) == 1 else list(first)
        raise DataError(f"{what} has {count} NaN/inf value{'s' if count > 1 else ''}; "
                        f"the first at index {index}", key=key)


def same_length(n_x: int, y: np.ndarray, *, what: str, key: str) -> None:
    if y.shape[0] != n_x:
        raise DataError(f"{what} has {y.shape[0]} samples but x has {n_x}", key=key)


def labels(y: np.ndarray, kind: str, output_shape: tuple[int, ...], dtype, *, what: str,
           key: str) -> np.ndarray:
    """Labels in the form the loss wants.

    sparse: class ids, (n,) or (n, 1) -> int64 (n,); onehot: class ids are converted, or a
    (n, k) array is kept -> dtype (n, k); dense: shaped like the output -> dtype. A sequence
    output (T, k) takes one label per position: ids (n, T) (or (n, T, 1)), one-hot (n, T, k).
    """
    k = int(output_shape[-1]) if output_shape else 1
    positions = tuple(int(d) for d in output_shape[:-1])
    ids = y.shape[1:] == positions or (y.shape[1:] == positions + (1,) and k != 1)
    dims = "".join(f", {d}" for d in positions)
    if kind == "sparse":
        if not ids:
            per = "position" if positions else "sample"
            raise DataError(f"{what} has shape {list(y.shape)}; sparse labels are one class id "
                            f"per {per}, shape [n{dims}] or [n{dims}, 1]", key=key)
        return class_ids(y.reshape(-1), k, what=what, key=key).reshape(len(y), *positions)
    if kind == "onehot":
        if ids:
            ids_ = class_ids(y.reshape(-1), k, what=what, key=key).reshape(len(y), *positions)
            return np.eye(k, dtype=dtype)[ids_]
        if y.shape[1:] != positions + (k,):
            raise DataError(f"{what} has shape {list(y.shape)}; one-hot labels for {k} classes "
                            f"need shape [n{dims}, {k}] (or class ids, shape [n{dims}])",
                            key=key)
        return np.asarray(y, dtype=dtype)
    if kind == "dense":
        y = match_shape(y, tuple(output_shape), what=what, key=key)
        return y if y.dtype == dtype else y.astype(dtype)
    raise ValueError(f"unknown label_kind {kind!r}")


def class_ids(y: np.ndarray, k: int, *, what: str, key: str) -> np.ndarray:
    """Integer class ids in [0, k) as int64, from integer or integer-valued float labels."""
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating):
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            i = int(np.argmin(whole))
            raise DataError(f"{what} holds {float(y[i])} at index {i}; class labels must be "
                            f"integers", key=key)
    ids = np.asarray(y, dtype=np.int64)
    bad = (ids < 0) | (ids >= k)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{what} holds label {ids[i]} at index {i} ({int(bad.sum())} out of range "
                        f"in all); the model has {k} output{'s' if k != 1 else ''}, so labels "
                        f"must be in [0, {k})", key=key)
    return ids

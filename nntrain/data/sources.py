"""Reading arrays from data files: `.npz` (arrays by key), `.npy` (one array), `.csv` (columns).

Large arrays stay on disk: a `.npy` file opens with ``np.load(mmap_mode="r")`` and an `.npz` member
stored uncompressed is memory-mapped at its offset inside the zip; a compressed member is read.
Every failure is a `DataError` naming the config key (``key``) and the file.
"""

from __future__ import annotations

import csv
import os
import struct
import zipfile

import numpy as np

from nntrain.errors import DataError, did_you_mean

FORMATS = (".npz", ".npy", ".csv")


def resolve(path) -> str:
    """An absolute path; relative paths resolve against the current directory."""
    return os.path.abspath(os.path.expanduser(str(path)))


def file_format(path, *, key: str) -> str:
    """The format (".npz", ".npy" or ".csv") named by the file's extension."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in FORMATS:
        raise DataError(f"cannot read {str(path)!r}: expected a .npz, .npy or .csv file", key=key)
    return ext


def open_source(path, *, key: str) -> "NpzSource | NpySource | CsvSource":
    """Open a data file by its extension; `key` is the config key that named it."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise DataError(f"expected a file path, received {path!r}", key=key)
    ext = file_format(path, key=key)
    full = resolve(path)
    if not os.path.isfile(full):
        raise DataError(f"no such file: {str(path)!r} (looked for {full})", key=key)
    return {".npz": NpzSource, ".npy": NpySource, ".csv": CsvSource}[ext](full, key=key)


def _missing(what: str, name, present, path: str, key: str) -> DataError:
    present = sorted(present)
    listing = ", ".join(present) if present else "nothing"
    return DataError(f"no {what} {name!r} in {path}{did_you_mean(name, present)}; "
                     f"it holds: {listing}", key=key)


class NpzSource:
    """An `.npz` archive; `get(name)` returns the member, memory-mapped when stored uncompressed."""

    def __init__(self, path: str, *, key: str):
        self.path = path
        try:
            with zipfile.ZipFile(path) as zf:
                self._members = {i.filename[:-4]: i for i in zf.infolist()
                                 if i.filename.endswith(".npy")}
        except (zipfile.BadZipFile, OSError) as e:
            raise DataError(f"cannot read {path} as a .npz archive: {e}", key=key) from None

    def keys(self) -> list[str]:
        return list(self._members)

    def get(self, name, *, key: str) -> np.ndarray:
        if not isinstance(name, str) or name not in self._members:
            raise _missing("array", name, self._members, self.path, key)
        info = self._members[name]
        try:
            if info.compress_type == zipfile.ZIP_STORED:
                mapped = _memmap_member(self.path, info)
                if mapped is not None:
                    return mapped
            with zipfile.ZipFile(self.path) as zf, zf.open(info) as f:
                return np.lib.format.read_array(f, allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile) as e:
            raise DataError(f"cannot read array {name!r} from {self.path}: {e}", key=key) from None


def _memmap_member(path: str, info: zipfile.ZipInfo) -> np.memmap | None:
    """Memory-map an uncompressed `.npy` member at its offset in the zip (None if it cannot
    be)."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            return None
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            return None
        offset = f.tell()
    if dtype.hasobject or int(np.prod(shape)) == 0:
        return None
    return np.memmap(path, dtype=dtype, mode="r", shape=shape,
                     order="F" if fortran else "C", offset=offset)


class NpySource:
    """A `.npy` file: one array, memory-mapped."""

    def __init__(self, path: str, *, key: str):
        self.path = path
        self._key = key

    def get(self, name=None, *, key: str | None = None) -> np.ndarray:
        key = key or self._key
        try:
            try:
                return np.load(self.path, mmap_mode="r", allow_pickle=False)
            except ValueError:  # empty or object arrays cannot be mapped; read them instead
                return np.load(self.path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise DataError(f"cannot read {self.path} as a .npy file: {e}", key=key) from None


class CsvSource:
    """A `.csv` file with a header row; `columns(names)` parses those columns as numbers."""

    def __init__(self, path: str, *, key: str):
        self.path = path
        try:
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise DataError(f"cannot read {path} as CSV: {e}", key=key) from None
        if not rows:
            raise DataError(f"{path} is empty; expected a header row of column names", key=key)
        self.header = [h.strip() for h in rows[0]]
        data = [(n, r) for n, r in enumerate(rows[1:], start=2) if r]  # blank lines: no sample
        self._lines = [n for n, _ in data]
        self._rows = [r for _, r in data]
        for line, r in data:
            if len(r) != len(self.header):
                raise DataError(f"{path} line {line} has {len(r)} fields but the header has "
                                f"{len(self.header)}", key=key)

    def keys(self) -> list[str]:
        return list(self.header)

    def columns(self, names: list, *, key: str) -> np.ndarray:
        """Columns `names` as a float64 array (n_rows, len(names))."""
        index = []
        for name in names:
            if name not in self.header:
                raise _missing("column", name, self.header, self.path, key)
            index.append(self.header.index(name))
        out = np.empty((len(self._rows), len(index)), dtype=np.float64)
        for i, row in enumerate(self._rows):
            for j, c in enumerate(index):
                try:
                    out[i, j] = float(row[c])
                except ValueError:
                    raise DataError(f"{self.path} row {i + 1} (line {self._lines[i]}), column "
                                    f"{self.header[c]!r}: {row[c]!r} is not a number",
                                    key=key) from None
        return out

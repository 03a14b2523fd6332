"""Checkpoint files (SPEC §3) and the `checkpoints/checkpoint` index.

A checkpoint is one ``.npz``: ``weights/<layer>/<param>``, ``optimizer/<slot>/<layer>/<param>``
and ``optimizer/iterations`` (absent when weights-only), and ``meta``, a 0-d string array of
JSON with everything else resume needs. The index is JSON naming the latest, the best and the
final file and listing every checkpoint with its epoch and monitored values (the final model's
entry has ``"final": true``); it is rewritten (atomically) only after the file it names is in
place.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nntrain.errors import CheckpointError
from nntrain.training.atomic_files import atomic_write, atomic_write_text
from nntrain.training.run_dir import INDEX_NAME

FORMAT_VERSION = 1
WHICH = ("final", "latest", "best")


def model_hash(model_section: dict) -> str:
    """A hash of the config's model section: resume refuses a checkpoint of another model."""
    text = json.dumps(model_section, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Checkpoint:
    """A checkpoint's contents: weights and optimizer arrays by key, callback arrays under
    ``state/...``, and the meta record."""

    weights: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray]
    state: dict[str, np.ndarray]
    meta: dict
    path: str = ""


def save_checkpoint(path: str | Path, weights: dict[str, np.ndarray], meta: dict,
                    optimizer_arrays: dict[str, np.ndarray] | None = None,
                    state_arrays: dict[str, np.ndarray] | None = None) -> int:
    """Write a checkpoint crash-safely (after checking the file system has room for it);
    returns its size in bytes."""
    arrays = {f"weights/{k}": v for k, v in weights.items()}
    for k, v in (optimizer_arrays or {}).items():
        arrays[f"optimizer/{k}"] = v
    for k, v in (state_arrays or {}).items():
        arrays[f"state/{k}"] = v
    arrays["meta"] = np.array(json.dumps({"format": FORMAT_VERSION, **meta}))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getbuffer()
    atomic_write(path, lambda f: f.write(data), size=len(data))
    return len(data)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a whole checkpoint. Any defect is a CheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no such checkpoint file", file=str(path))
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"not a readable checkpoint ({e})", file=str(path)) from None
    if "meta" not in arrays:
        raise CheckpointError("not an nntrain checkpoint (no 'meta' entry)", file=str(path))
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"its meta entry is not JSON ({e})", file=str(path)) from None
    def under(prefix):
        return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    return Checkpoint(under("weights/"), under("optimizer/"), under("state/"), meta, str(path))


def load_weights_into(model, weights: dict[str, np.ndarray], source: str) -> None:
    """Copy `weights` (``layer/param`` keys) into the model in place, checking names and shapes."""
    own = model.weights()
    missing = [k for k in own if k not in weights]
    extra = [k for k in weights if k not in own]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if extra:
            parts.append(f"unexpected {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}")
        raise CheckpointError(f"weights do not match the model: {'; '.join(parts)}", file=source)
    for k, v in own.items():
        if weights[k].shape != v.shape:
            raise CheckpointError(f"weight {k} has shape {list(weights[k].shape)}, the model "
                                  f"expects {list(v.shape)}", file=source)
    for k, v in own.items():
        v[...] = weights[k]


# -- the index --------------------------------------------------------------------------------
def index_path(directory: str | Path) -> Path:
    return Path(directory) / INDEX_NAME


def read_index(directory: str | Path) -> dict:
    path = index_path(directory)
    if not path.is_file():
        return {"latest": None, "best": None, "final": None, "checkpoints": []}
    try:
        index = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"unreadable checkpoint index ({e})", file=str(path)) from None
    index.setdefault("checkpoints", [])
    return index


def record_in_index(directory: str | Path, file: Path, entry: dict, *, is_best: bool,
                    final: bool = False) -> dict:
    """Add (or replace) the entry for `file` and make it the latest (or, with `final`, the
    final model: weights only, never resumed from); returns the new index."""
    directory = Path(directory)
    index = read_index(directory)
    name = relative_name(file, directory)
    entries = [e for e in index["checkpoints"] if e["file"] != name]
    entries.append({**entry, "file": name, "written": time.time(), **({"final": True}
                                                                      if final else {})})
    entries.sort(key=lambda e: (e.get("global_step", 0), e.get("epoch", 0), bool(e.get("final"))))
    index["checkpoints"] = entries
    index["final" if final else "latest"] = name
    if is_best:
        index["best"] = name
    atomic_write_text(index_path(directory), json.dumps(index, indent=2))
    return index


def drop_from_index(directory: str | Path, names: list[str]) -> dict:
    index = read_index(directory)
    index["checkpoints"] = [e for e in index["checkpoints"] if e["file"] not in names]
    atomic_write_text(index_path(directory), json.dumps(index, indent=2))
    return index


def relative_name(file: Path, directory: Path) -> str:
    """How the index names `file`: relative to the index's directory."""
    try:
        return str(Path(file).resolve().relative_to(directory.resolve()))
    except ValueError:
        return os.path.relpath(Path(file).resolve(), directory.resolve())


def resolve_checkpoint(directory: str | Path, which: str) -> Path:
    """The path of the index's `which` ("latest", "best" or "final") file, checked to exist.

    "latest" is the checkpoint with the highest global step (never file time; never the final
    model, which holds no training state); if that file is gone, the newest one still on disk."""
    directory = Path(directory)
    index = read_index(directory)
    if which in ("best", "final") and index.get(which):
        path = directory / index[which]
        if path.is_file():
            return path
        raise CheckpointError(f"the {which} checkpoint {index[which]} is missing",
                              file=str(directory))
    if which == "best":
        raise CheckpointError("no best checkpoint recorded (no ModelCheckpoint monitors a value)",
                              file=str(directory))
    if which == "final":
        raise CheckpointError("no final model recorded (the run has not finished)",
                              file=str(directory))
    for entry in reversed(index["checkpoints"]):
        path = directory / entry["file"]
        if not entry.get("final") and path.is_file():
            return path
    raise CheckpointError("no checkpoint to resume from", file=str(directory))

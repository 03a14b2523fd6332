"""Read and write a model's weights in Keras 3's ``.weights.h5`` layout (see `keras_layout`).

The file written is what Keras's ``model.save_weights`` writes for the same architecture, so
``model.load_weights(path)`` in Keras takes it; reading checks a file against the model's layout
(every array where Keras puts it, with the model's shape, and nothing else) so that weights of
another architecture are refused with the layer and the shapes, never loaded half-way.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from nntrain.errors import CheckpointError, InputError
from nntrain.interop.keras_layout import Group, weight_groups
from nntrain.model import Network
from nntrain.training.atomic_files import atomic_write

SUFFIX = ".weights.h5"


def require_h5py(what: str):
    """The h5py module, or the one-line error of a missing optional extra."""
    try:
        import h5py
    except ImportError:
        raise InputError(f'{what} needs h5py: pip install "nntrain[keras]"') from None
    return h5py


def save_keras_weights(model: Network, path: str | Path) -> None:
    """Write every weight of `model` to `path` (a ``.weights.h5``) crash-safely."""
    h5py = require_h5py("--format keras")
    weights = model.weights()
    groups = weight_groups(model)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for g in groups:
            vars_ = f.require_group(g.vars)
            vars_.attrs["name"] = g.name
            for i, key in enumerate(g.keys):
                vars_.create_dataset(str(i), data=weights[key])
    data = buf.getbuffer()
    atomic_write(path, lambda fh: fh.write(data))


def _arrays_by_group(f) -> dict[str, dict[str, object]]:
    """Datasets under each ``.../vars`` group of the file: group path → {index: dataset}."""
    found: dict[str, dict[str, object]] = {}

    def visit(name, obj):
        parent, _, leaf = name.rpartition("/")
        if hasattr(obj, "shape") and (parent == "vars" or parent.endswith("/vars")):
            found.setdefault(parent[:-len("vars")].rstrip("/"), {})[leaf] = obj
    f.visititems(visit)
    return found


def _describe(group: Group, key: str) -> str:
    return f"layer {group.layer!r} ({group.kind}) weight {key.split('/', 1)[1]}"


def load_keras_weights(model: Network, path: str | Path) -> dict[str, np.ndarray]:
    """The weights for `model` from a Keras 3 ``.weights.h5``, keyed like `Network.weights()`
    (layers the output does not use are not in a Keras model, so not in the result). A file
    that does not match the model's layout is a CheckpointError naming the layer."""
    h5py = require_h5py("import-weights")
    groups = weight_groups(model)   # a layer Keras does not have is refused before any file
    source = str(path)
    if not Path(path).is_file():
        raise CheckpointError("no such weights file", file=source)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise CheckpointError(f"not an HDF5 weights file ({e})", file=source) from None
    with f:
        if "layers" not in f:
            hint = (" (it is a Keras 2 / tf.keras file: load it with that Keras and save it with "
                    "Keras 3's model.save_weights)" if "layer_names" in f.attrs else "")
            raise CheckpointError(f"not a Keras 3 .weights.h5 file: no 'layers' group{hint}",
                                  file=source)
        found = _arrays_by_group(f)
        held = sorted(found)
        own = model.weights()
        out: dict[str, np.ndarray] = {}
        for g in groups:
            if not g.keys:
                continue
            arrays = found.pop(g.path, None)
            if arrays is None:
                raise CheckpointError(
                    f"layer {g.layer!r} ({g.kind}): no weights at {g.vars} in the file, which "
                    f"holds weights at {', '.join(held) or 'no group'}; another architecture?",
                    file=source)
            if set(arrays) != {str(i) for i in range(len(g.keys))}:
                names = ", ".join(k.split("/", 1)[1] for k in g.keys)
                raise CheckpointError(
                    f"layer {g.layer!r} ({g.kind}): {g.vars} holds {len(arrays)} arrays, the "
                    f"model has {len(g.keys)} ({names})", file=source)
            for i, key in enumerate(g.keys):
                ds = arrays[str(i)]
                if tuple(ds.shape) != own[key].shape:
                    raise CheckpointError(
                        f"{_describe(g, key)}: shape {list(ds.shape)} in the file "
                        f"({g.vars}/{i}), the model expects {list(own[key].shape)}", file=source)
                out[key] = np.asarray(ds[()])
        if found:
            raise CheckpointError(f"the file holds weights at {', '.join(sorted(found))} that "
                                  f"the model has no layer for; another architecture?",
                                  file=source)
    return out

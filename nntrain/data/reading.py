"""From a config entry ``{path, x, y}`` to checked arrays: the model's inputs and the labels.

`x` names one array per model input: an npz key, or CSV column name(s); for several inputs a map
from input name to those. `y` is an npz key, a CSV column name (or list), or, next to a `.npy`
x file, the path of the `.npy` file of labels. Keys left out take the defaults given
(``x_train`` / ``y_train`` for the training data). An optional `sample_weight` names the
samples' weights as `y` names the labels (npz key, CSV column, or `.npy` path).
"""

from __future__ import annotations

import numpy as np

from nntrain.data import checks
from nntrain.data.weights import check_sample_weight
from nntrain.data.sources import CsvSource, NpySource, NpzSource, open_source
from nntrain.errors import DataError, unknown


def x_specs(spec, input_names: list[str], *, key: str) -> dict[str, tuple[object, str]]:
    """Model input name -> (what names its array, config key for errors), in input order."""
    if isinstance(spec, dict):
        for name in spec:
            if name not in input_names:
                raise unknown("model input", name, input_names, key=f"{key}.{name}",
                              cls=DataError)
        missing = [n for n in input_names if n not in spec]
        if missing:
            raise DataError(f"names no array for model input {missing[0]!r}; expected one entry "
                            f"per input: {', '.join(input_names)}", key=key)
        return {n: (spec[n], f"{key}.{n}") for n in input_names}
    if len(input_names) > 1:
        raise DataError(f"the model has {len(input_names)} inputs ({', '.join(input_names)}); "
                        f"give {key} as a map from input name to array", key=key)
    return {input_names[0]: (spec, key)}


def _column_list(spec, *, key: str) -> list[str]:
    names = [spec] if isinstance(spec, str) else spec
    if not isinstance(names, list) or not names or not all(isinstance(c, str) for c in names):
        raise DataError(f"expected a CSV column name or a list of them, received {spec!r}",
                        key=key)
    return names


def read_x(src, spec, default: str | None, *, key: str, exclude=(), dtype=np.float32
           ) -> tuple[np.ndarray, str]:
    """One input array (unchecked) and how to describe it in messages."""
    if isinstance(src, NpzSource):
        name = default if spec is None else spec
        if name is None:
            raise DataError(f"name the array in {src.path}; it holds: "
                            f"{', '.join(sorted(src.keys()))}", key=key)
        return src.get(name, key=key), f"{name!r} in {src.path}"
    if isinstance(src, NpySource):
        if spec is not None:
            raise DataError(f"{src.path} is a .npy file, which holds one array: leave {key} out "
                            f"(received {spec!r})", key=key)
        return src.get(key=key), src.path
    columns = ([c for c in src.keys() if c not in exclude] if spec is None
               else _column_list(spec, key=key))
    return src.columns(columns, key=key).astype(dtype), f"x columns of {src.path}"


def read_y(src, spec, default: str, *, key: str) -> tuple[np.ndarray, str]:
    """The label array (unchecked) and how to describe it in messages."""
    if isinstance(src, NpzSource):
        name = default if spec is None else spec
        return src.get(name, key=key), f"{name!r} in {src.path}"
    if isinstance(src, NpySource):
        if not isinstance(spec, str):
            raise DataError(f"x comes from the .npy file {src.path}: give {key} as the path of "
                            f"the .npy file of labels", key=key)
        labels = open_source(spec, key=key)
        if not isinstance(labels, NpySource):
            raise DataError(f"expected a .npy file of labels next to the .npy x file, received "
                            f"{spec!r}", key=key)
        return labels.get(key=key), labels.path
    if spec is None:
        raise DataError(f"name the label column of {src.path}; its columns: "
                        f"{', '.join(src.keys())}", key=key)
    columns = _column_list(spec, key=key)
    y = src.columns(columns, key=key)
    return (y[:, 0] if isinstance(spec, str) else y), f"label column(s) of {src.path}"


def y_columns(src, *specs) -> tuple:
    """CSV columns holding labels (or weights), to leave out of x when x is not given."""
    if not isinstance(src, CsvSource):
        return ()
    return tuple(c for spec in specs if spec is not None
                 for c in ((spec,) if isinstance(spec, str) else spec))


def read_inputs(src, spec, input_shapes: dict, default: str | None, *, key: str,
                exclude=(), dtype=np.float32) -> list[np.ndarray]:
    """Every model input's array, checked (numeric, samples, shape, finite) and shaped."""
    xs = []
    for name, (one, one_key) in x_specs(spec, list(input_shapes), key=key).items():
        x, what = read_x(src, one, default, key=one_key, exclude=exclude, dtype=dtype)
        checks.numeric(x, what=what, key=one_key)
        x = checks.match_shape(x, input_shapes[name], what=what, key=one_key, input_name=name)
        checks.finite(x, what=what, key=one_key)
        if xs and x.shape[0] != xs[0].shape[0]:
            raise DataError(f"{what} has {x.shape[0]} samples but the first input has "
                            f"{xs[0].shape[0]}", key=one_key)
        xs.append(x)
    return xs


def read_part(spec: dict, *, prefix: str, default_path: str, defaults: tuple[str, str],
              input_shapes: dict, output_shape: tuple, label_kind: str, dtype
              ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray | None]:
    """The checked inputs, labels and sample weights (None when not named) of one config entry
    ``{path, x, y, sample_weight}`` under key `prefix`."""
    path_key = f"{prefix}.path" if "path" in spec else "data.path"
    src = open_source(spec.get("path", default_path), key=path_key)
    y_spec, w_spec = spec.get("y"), spec.get("sample_weight")
    y, what = read_y(src, y_spec, defaults[1], key=f"{prefix}.y")
    xs = read_inputs(src, spec.get("x"), input_shapes, defaults[0], key=f"{prefix}.x",
                     exclude=y_columns(src, y_spec, w_spec), dtype=dtype)
    checks.numeric(y, what=what, key=f"{prefix}.y")
    checks.finite(y, what=what, key=f"{prefix}.y")
    checks.same_length(xs[0].shape[0], y, what=what, key=f"{prefix}.y")
    y = checks.labels(y, label_kind, output_shape, dtype, what=what, key=f"{prefix}.y")
    w = None
    if w_spec is not None:
        w_key = f"{prefix}.sample_weight"
        if not isinstance(w_spec, str):
            raise DataError(f"expected the name of the weights (an npz key, a CSV column or a "
                            f".npy path), received {w_spec!r}", key=w_key)
        raw, w_what = read_y(src, w_spec, w_spec, key=w_key)
        w = check_sample_weight(raw, n=len(y), positions=tuple(output_shape[:-1]), what=w_what,
                                key=w_key)
    return xs, y, w

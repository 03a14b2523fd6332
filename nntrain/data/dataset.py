"""The `data:` section made into checked train / validation / test splits and a fitted normalizer.

    ds = load_dataset(cfg["data"], input_shapes={"input": (40, 1)}, output_shape=(10,),
                      label_kind="sparse")
    ds.train.x  # [array (n, 40, 1)] - one per model input, possibly memory-mapped
    ds.train.y  # int64 (n,)

`validation_split` takes the last fraction of the training arrays, before any shuffling, as
Keras does; normalization statistics come from what is left for training.
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass

import numpy as np

from nntrain.data import checks
from nntrain.data.normalize import Normalizer
from nntrain.data.reading import read_inputs, read_part
from nntrain.data.sources import NpySource, NpzSource, file_format, open_source, resolve
from nntrain.data.weights import check_sample_weight
from nntrain.errors import ConfigError, DataError, unknown

DATA_KEYS = ("path", "x", "y", "sample_weight", "test", "validation_split", "validation",
             "normalize")
PART_KEYS = ("path", "x", "y", "sample_weight")
LABEL_KINDS = ("sparse", "onehot", "dense")


@dataclass
class Split:
    """x: one array (n, *input_shape) per model input, in input order; y: the n labels;
    sample_weight: None, or float64 weights (n,) (or one per output position)."""

    x: list[np.ndarray]
    y: np.ndarray
    sample_weight: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def take(self, start: int, stop: int | None = None) -> "Split":
        """Samples [start:stop] as views (memory maps stay memory maps)."""
        w = None if self.sample_weight is None else self.sample_weight[start:stop]
        return Split([x[start:stop] for x in self.x], self.y[start:stop], w)


@dataclass
class Dataset:
    train: Split
    val: Split | None
    test: Split | None
    normalizer: Normalizer

    def describe(self) -> str:
        parts = [f"{name} {len(s)}" for name, s in
                 (("train", self.train), ("val", self.val), ("test", self.test)) if s is not None]
        return ", ".join(parts) + " samples"


def _part_spec(value, *, key: str) -> dict:
    if not isinstance(value, dict):
        raise DataError(f"expected a map with keys path, x, y; received {value!r}", key=key)
    for k in value:
        if k not in PART_KEYS:
            raise unknown("key", k, PART_KEYS, key=f"{key}.{k}", cls=ConfigError)
    return value


def _validation_split(value) -> float:
    key = "data.validation_split"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise DataError(f"expected a fraction in (0, 1) (0 for none), received {value!r}",
                        key=key)
    return float(value)


def split_last(split: Split, fraction: float) -> tuple[Split, Split]:
    """Keras `validation_split`: the last `fraction` of the samples, unshuffled, for validation."""
    n = len(split)
    at = int(math.floor(n * (1.0 - fraction)))
    if at == 0 or at == n:
        left = "training" if at == 0 else "validation"
        raise DataError(f"validation_split {fraction} of {n} samples leaves no {left} samples",
                        key="data.validation_split")
    return split.take(0, at), split.take(at)


def _check_cfg(data_cfg) -> dict:
    if not isinstance(data_cfg, dict):
        raise DataError(f"expected a map with at least `path`, received {data_cfg!r}", key="data")
    for k in data_cfg:
        if k not in DATA_KEYS:
            raise unknown("key", k, DATA_KEYS, key=f"data.{k}", cls=ConfigError)
    if data_cfg.get("path") is None:
        raise DataError("no data file given: set data.path to a .npz, .npy or .csv file",
                        key="data.path")
    for k in ("test", "validation"):
        if data_cfg.get(k) is not None:
            _part_spec(data_cfg[k], key=f"data.{k}")
    if data_cfg.get("validation") is not None and data_cfg.get("validation_split"):
        raise DataError("give either validation_split or validation, not both",
                        key="data.validation_split")
    return data_cfg


def load_dataset(data_cfg: dict, *, input_shapes: dict[str, tuple[int, ...]],
                 output_shape: tuple[int, ...], label_kind: str, dtype=np.float32,
                 need_test: bool = False) -> Dataset:
    """Read, check and split the data named by the `data:` config section.

    input_shapes: model input name -> per-sample shape, in model input order.
    output_shape: the model's per-sample output shape; its last axis is the number of classes.
    label_kind: "sparse" -> y int64 (n,); "onehot" -> y dtype (n, k); "dense" -> y like the output.
    """
    if label_kind not in LABEL_KINDS:
        raise ValueError(f"label_kind must be one of {LABEL_KINDS}, not {label_kind!r}")
    cfg = _check_cfg(data_cfg)
    dtype = np.dtype(dtype)
    common = dict(default_path=cfg["path"], input_shapes=dict(input_shapes),
                  output_shape=tuple(output_shape), label_kind=label_kind, dtype=dtype)

    def part(spec: dict, prefix: str, defaults: tuple[str, str]) -> Split:
        return Split(*read_part(spec, prefix=prefix, defaults=defaults, **common))

    train = part({k: cfg[k] for k in PART_KEYS if k in cfg}, "data", ("x_train", "y_train"))
    val = None
    fraction = _validation_split(cfg.get("validation_split") or 0)
    if fraction:
        train, val = split_last(train, fraction)
    elif cfg.get("validation") is not None:
        val = part(cfg["validation"], "data.validation", ("x_val", "y_val"))
    test = None
    if cfg.get("test") is not None:
        test = part(cfg["test"], "data.test", ("x_test", "y_test"))
    elif need_test:
        raise DataError("no test data: add data.test: {x: ..., y: ...} (optionally with its own "
                        "path)", key="data.test")
    normalizer = Normalizer.fit(cfg.get("normalize", "none"), train.x, dtype=dtype)
    return Dataset(train, val, test, normalizer)


def split_from_arrays(x, y, *, input_shapes: dict[str, tuple[int, ...]],
                      output_shape: tuple[int, ...], label_kind: str, dtype=np.float32,
                      key: str = "x", sample_weight=None) -> Split:
    """Arrays handed over in code (the Python API's `fit(x, y)`) checked as a data file's are:
    `x` one array, a list in input order or a dict by input name; `y` the labels;
    `sample_weight` None or one weight per sample."""
    names = list(input_shapes)
    if isinstance(x, dict):
        missing = [n for n in names if n not in x]
        if missing or len(x) != len(names):
            raise DataError(f"expected one array per model input ({', '.join(names)}), "
                            f"received {sorted(x)}", key=key)
        x = [x[n] for n in names]
    elif not isinstance(x, (list, tuple)):
        x = [x]
    if len(x) != len(names):
        raise DataError(f"the model has {len(names)} inputs ({', '.join(names)}); received "
                        f"{len(x)} arrays", key=key)
    xs = []
    for name, a in zip(names, x):
        a = checks.numeric(np.asarray(a), what=f"the array for input {name!r}", key=key)
        a = checks.match_shape(a, input_shapes[name], what=f"the array for input {name!r}",
                               key=key, input_name=name)
        checks.finite(a, what=f"the array for input {name!r}", key=key)
        xs.append(a)
    if y is None:
        return Split(xs, np.zeros(len(xs[0])))
    y = checks.numeric(np.asarray(y), what="y", key="y")
    checks.finite(y, what="y", key="y")
    checks.same_length(xs[0].shape[0], y, what="y", key="y")
    w = None
    if sample_weight is not None:
        w = check_sample_weight(np.asarray(sample_weight), n=len(y),
                                positions=tuple(output_shape[:-1]), what="sample_weight",
                                key="sample_weight")
    return Split(xs, checks.labels(y, label_kind, output_shape, np.dtype(dtype), what="y",
                                   key="y"), w)


def resolve_data_paths(data_cfg: dict) -> dict:
    """A copy of the `data:` section with every file path absolute (for the run's config.yaml)."""
    out = copy.deepcopy(data_cfg)
    base = out.get("path")
    if base is None:
        return out
    out["path"] = resolve(base)
    for spec in [out] + [out[k] for k in ("test", "validation") if isinstance(out.get(k), dict)]:
        if spec.get("path") is not None:
            spec["path"] = resolve(spec["path"])
        path = spec.get("path", out["path"])
        try:
            npy = file_format(path, key="data.path") == ".npy"
        except DataError:
            npy = False
        for k in ("y", "sample_weight"):
            if npy and isinstance(spec.get(k), str):
                spec[k] = resolve(spec[k])
    return out


def load_inputs(path: str, keys, input_shapes: dict[str, tuple[int, ...]], dtype=np.float32,
                *, key: str = "--input") -> list[np.ndarray]:
    """Model inputs from a file for `predict`: one checked array (n, *shape) per input.

    keys: None, an npz key / CSV column list, or a map input name -> those. With None a
    single-input `.npz` uses its only array (or `x`), a multi-input one the input names,
    and a CSV all its columns.
    """
    src = open_source(path, key=key)
    names = list(input_shapes)
    default = None
    if isinstance(src, NpzSource) and keys is None:
        if len(names) > 1:
            keys = {n: n for n in names}
        elif len(src.keys()) == 1:
            default = src.keys()[0]
        else:
            default = "x"
    if isinstance(src, NpySource) and len(names) > 1:
        raise DataError(f"{src.path} is a .npy file, which holds one array, but the model has "
                        f"{len(names)} inputs; use a .npz file with one array per input", key=key)
    return read_inputs(src, keys, input_shapes, default, key=key, dtype=np.dtype(dtype))

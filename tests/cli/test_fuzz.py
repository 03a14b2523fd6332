"""Fuzzing as a test: hypothesis mutates good configs (wrong types, missing and unknown keys,
extreme numbers, unicode, deep nesting, edge-case names and paths, paths pointing at another
run) and their data (shapes, dtypes, labels, broken files), then runs `summary` and `fit` (and,
after a successful fit, `evaluate`, and `predict` on a fuzzed input) in-process through the
CLI entry point. Every command must either succeed or exit 2 with exactly one ``error:`` line
(exit 1 only for training stopped on a NaN loss); never a traceback, never a hang (each
command runs under a timer), never a change to an existing run's files.

The case count (and how the commands ended) is printed at the end (pytest -s) and recorded as
the test's `fuzz_cases` property. CI runs a fixed, repeatable set (derandomized, ~30 s); for a
longer local run set NNTRAIN_FUZZ_EXAMPLES, e.g.
    NNTRAIN_FUZZ_EXAMPLES=2000 pytest -s tests/cli/test_fuzz.py
and NNTRAIN_FUZZ_SEED=<n> to explore another random set instead of the fixed one.
"""

from __future__ import annotations

import copy
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, note, settings, strategies as st

EXAMPLES = int(os.environ.get("NNTRAIN_FUZZ_EXAMPLES", "250"))
SEED = os.environ.get("NNTRAIN_FUZZ_SEED") or None
SECONDS_PER_COMMAND = 20
MAX_MEMORY = "64MiB"      # so every accepted model is small and quick to train

CALLBACKS = [{"EarlyStopping": {"monitor": "val_loss", "patience": 1}},
             {"ModelCheckpoint": {"filepath": "checkpoints/m-{epoch:02d}.npz",
                                  "monitor": "val_loss", "save_best_only": True, "verbose": 0}},
             {"ReduceLROnPlateau": {"monitor": "val_loss", "factor": 0.5, "patience": 1}},
             {"CSVLogger": {"filename": "log.csv"}}, {"TerminateOnNaN": {}}]


def _base(model, compile_, data=None, fit=None):
    return {"name": "fz", "seed": 0,
            "data": {"path": "d.npz", "validation_split": 0.25, **(data or {})},
            "model": model, "compile": compile_,
            "fit": {"epochs": 2, "batch_size": 8, "callbacks": copy.deepcopy(CALLBACKS),
                    **(fit or {})}}


# Good configs, each with the data it trains on: (config, {key: (shape per sample, kind)}).
BASES = [
    (_base({"input_shape": [4], "layers": [
        {"Dense": {"units": 6, "activation": "relu", "kernel_regularizer": {"l2": 1e-4}}},
        {"Dropout": {"rate": 0.2}}, {"BatchNormalization": {}},
        {"Dense": {"units": 3, "activation": "softmax"}}]},
        {"optimizer": {"name": "adam", "learning_rate": 0.01}, "metrics": ["accuracy"],
         "loss": "sparse_categorical_crossentropy"}, {"normalize": "standard"}),
     {"x_train": ((4,), "float"), "y_train": ((), "class3")}),
    (_base({"input_shape": [8, 2], "layers": [
        {"Conv1D": {"filters": 3, "kernel_size": 3, "activation": "relu", "padding": "same"}},
        {"MaxPooling1D": {"pool_size": 2}}, {"Flatten": {}},
        {"Dense": {"units": 1, "activation": "sigmoid"}}]},
        {"optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9},
         "loss": "binary_crossentropy", "metrics": ["accuracy"]}, {"normalize": "minmax"}),
     {"x_train": ((8, 2), "float"), "y_train": ((1,), "binary")}),
    (_base({"input_shape": [5, 3], "layers": [
        {"LSTM": {"units": 4, "return_sequences": True}}, {"GRU": {"units": 3}},
        {"Dense": {"units": 2}}]},
        {"optimizer": {"name": "rmsprop", "learning_rate": {
            "schedule": "ExponentialDecay", "initial_learning_rate": 0.01, "decay_steps": 10,
            "decay_rate": 0.9}}, "loss": "mse", "metrics": ["mae"]}, None,
        {"callbacks": [c for c in CALLBACKS if "ReduceLROnPlateau" not in c]}),   # a schedule
     {"x_train": ((5, 3), "float"), "y_train": ((2,), "float")}),
    (_base({"input_shape": [6], "layers": [
        {"Embedding": {"input_dim": 10, "output_dim": 3}}, {"GlobalAveragePooling1D": {}},
        {"Dense": {"units": 2, "activation": "softmax"}}]},
        {"optimizer": "adagrad", "loss": "sparse_categorical_crossentropy"},
        {"normalize": "none"}),
     {"x_train": ((6,), "ids10"), "y_train": ((), "class2")}),
    (_base({"inputs": {"a": [3], "b": [2]}, "layers": [
        {"Dense": {"name": "xa", "units": 4, "activation": "tanh", "inputs": "a"}},
        {"Dense": {"name": "xb", "units": 4, "inputs": "b"}},
        {"Concatenate": {"inputs": ["xa", "xb"]}}, {"Dense": {"units": 2}}]},
        {"optimizer": {"name": "nadam"}, "loss": {"name": "categorical_crossentropy",
                                                   "from_logits": True}},
        {"x": {"a": "xa", "b": "xb"}}),
     {"xa": ((3,), "float"), "xb": ((2,), "float"), "y_train": ((2,), "onehot2")}),
    (_base({"input_shape": [6, 2], "layers": [
        {"Conv1D": {"name": "embed", "filters": 4, "kernel_size": 3, "padding": "same"}},
        {"PositionEmbedding": {"name": "positions", "sequence_length": 6}},
        {"Add": {"name": "x0", "inputs": ["embed", "positions"]}},
        {"MultiHeadAttention": {"num_heads": 2, "key_dim": 2, "dropout": 0.1}},
        {"LayerNormalization": {}}, {"GaussianNoise": {"stddev": 0.1}},
        {"SpatialDropout1D": {"rate": 0.1}}, {"ZeroPadding1D": {"padding": 1}},
        {"Conv1DTranspose": {"filters": 2, "kernel_size": 2, "strides": 2}},
        {"UpSampling1D": {"size": 2}}, {"Cropping1D": {"cropping": 1}},
        {"GlobalMaxPooling1D": {}}, {"Maxout": {"units": 3, "pieces": 2}},
        {"Softmax": {}}]},
        {"optimizer": {"name": "adamw", "learning_rate": 0.01}, "metrics": ["accuracy"],
         "loss": "sparse_categorical_crossentropy"}, None,
        {"class_weight": {0: 1.0, 1: 2.0, 2: 0.5}}),
     {"x_train": ((6, 2), "float"), "y_train": ((), "class3")}),
    (_base({"input_shape": [4, 4, 1], "layers": [
        {"RandomFlip": {"mode": "horizontal"}},
        {"Conv2D": {"filters": 2, "kernel_size": 3, "padding": "same", "activation": "elu"}},
        {"GroupNormalization": {"groups": 2}}, {"MaxPooling2D": {"pool_size": 2}},
        {"Conv2DTranspose": {"filters": 1, "kernel_size": 2, "strides": 2}},
        {"Flatten": {}}, {"Dense": {"units": 1, "activation": "sigmoid"}}]},
        {"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["AUC"]}),
     {"x_train": ((4, 4, 1), "float"), "y_train": ((1,), "binary")}),
]

# -- values ---------------------------------------------------------------------------------
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, 2, 3, 7, 2 ** 31, 2 ** 63, 10 ** 30, -(10 ** 9)]),
    st.integers(-100, 100),
    st.sampled_from([0.0, -0.0, 0.5, 1.5, -2.5, 1e-320, 1e308, -1e308,
                     float("nan"), float("inf"), float("-inf")]),
    st.floats(allow_nan=True, allow_infinity=True))
NAMES = st.sampled_from([     # edge cases of names and paths first: hypothesis favours them
    ".", "..", "/", "", " ", "x/", "a" * 300, "a\nb", "config.yaml", "status.json",
    "checkpoints", "checkpoints/checkpoint", "checkpoints/final.npz", "d.npz",
    "{epoch:0300d}.npz", "{nope}.npz", "checkpoints/x.npz", "../escape.csv",
    "\u00e9t\u00e9", "\u4e2d\u6587", "NaN", "true", "null", "-1", "1e-3", "relu", "softmax",
    "adam", "Dense", "val_loss", "accuracy", "mse", "none", "standard", "same", "valid",
    "epoch", "glorot_uniform"])
PATH_KEYS = ("filename", "filepath", "path", "name", "run_dir", "weights")
SCALARS = st.one_of(NUMBERS, st.booleans(), st.none(), TEXT, NAMES)


def _nested(depth: int):
    inner = SCALARS
    for _ in range(depth):
        inner = st.one_of(st.lists(inner, max_size=2), st.dictionaries(TEXT, inner,
                                                                       max_size=2))
    return inner


VALUES = st.one_of(SCALARS, SCALARS, SCALARS, st.lists(SCALARS, max_size=4),
                   st.dictionaries(st.one_of(NAMES, TEXT), SCALARS, max_size=3), _nested(3),
                   st.integers(20, 80).map(lambda n: _deep(n)))


def _deep(n: int):
    value: object = 1
    for i in range(n):
        value = [value] if i % 2 else {"k": value}
    return value


# -- config mutations -----------------------------------------------------------------------
def _paths(node, prefix=()):
    """Every key path of a config (dict keys and list indices)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _get(node, path):
    for p in path:
        node = node[p]
    return node


@st.composite
def mutated_config(draw, config, existing: str):
    config = copy.deepcopy(config)
    notes = []
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 1, 1, 1, 2, 2, 3]))):
        paths = list(_paths(config))[1:]
        if not paths:
            break
        op = draw(st.sampled_from(["leaf"] * 3 + ["name"] * 3 + ["replace", "delete", "add",
                                                                "existing", "duplicate"]))
        if op == "leaf":    # most values are scalars: mutate those most
            paths = [p for p in paths if not isinstance(_get(config, p), (dict, list))]
        elif op == "name":  # the strings of a config are names and paths: edge cases of those
            strings = [p for p in paths if isinstance(_get(config, p), str)]
            files = [p for p in strings if p[-1] in PATH_KEYS]
            paths = (files if files and draw(st.integers(0, 2)) else strings) or paths
        path = draw(st.sampled_from(paths))
        parent, key = _get(config, path[:-1]), path[-1]
        if op == "leaf":
            like = NAMES if isinstance(parent[key], str) else NUMBERS
            parent[key] = draw(st.one_of(like, VALUES))
        elif op == "name":
            parent[key] = draw(NAMES)
        elif op == "replace":
            parent[key] = draw(VALUES)
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.one_of(NAMES, TEXT))] = draw(VALUES)
        elif op == "existing":      # point the run at an existing one
            where = draw(st.sampled_from(["run_dir", "name"]))
            config[where] = existing if where == "run_dir" else Path(existing).name
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(draw(st.integers(0, len(parent))), copy.deepcopy(parent[key]))
        notes.append(f"{op} {'.'.join(map(str, path))}")
    fit = config.get("fit")
    if isinstance(fit, dict) and isinstance(fit.get("epochs"), int) and \
            not isinstance(fit["epochs"], bool) and fit["epochs"] > 3:
        fit["epochs"] = 3   # a long run is not a hang; keep each case short
    return config, notes


# -- data -----------------------------------------------------------------------------------
DTYPES = st.sampled_from(["float32", "float32", "float64", "int64", "int8", "bool", "complex64",
                          "<U3", "object"])


def _values(rng, shape, kind):
    if kind == "float":
        return rng.standard_normal(shape).astype("float32")
    if kind.startswith("class"):
        return rng.integers(0, int(kind[5:]), shape)
    if kind == "ids10":
        return rng.integers(0, 10, shape)
    if kind == "binary":
        return rng.integers(0, 2, shape).astype("float32")
    if kind == "onehot2":
        return np.eye(2, dtype="float32")[rng.integers(0, 2, shape[:-1])]
    return rng.standard_normal(shape).astype("float32")


@st.composite
def data_arrays(draw, spec):
    """The arrays of the base's data, or mutated ones: other shapes, dtypes, values."""
    what = draw(st.sampled_from(["good"] * 7 + ["rows", "array", "array", "file"]))
    n = draw(st.sampled_from([0, 1, 3, 40])) if what == "rows" else 24
    rng = np.random.default_rng(draw(st.integers(0, 3)))
    arrays, notes = {}, []
    changed = draw(st.sampled_from(list(spec))) if what == "array" else None
    for key, (shape, kind) in spec.items():
        rows = n
        a = _values(rng, (n, *shape), kind)
        change = "none" if key != changed else draw(st.sampled_from(
            ["shape", "dtype", "values", "rows", "drop"]))
        if change == "shape":
            dims = draw(st.lists(st.integers(0, 5), max_size=3))
            a = _values(rng, (n, *dims), kind)
        elif change == "dtype":
            dtype = draw(DTYPES)
            a = a.astype(dtype) if dtype != "object" else np.array(a.tolist(), dtype=object)
        elif change == "values":
            a = a.astype("float64") * draw(st.sampled_from([np.nan, np.inf, -1.0, 1e30, 0.5]))
        elif change == "rows":
            rows = draw(st.integers(0, 30))
            a = _values(rng, (rows, *shape), kind)
        elif change == "drop":
            notes.append(f"no {key}")
            continue
        notes.append(f"{key}: {change} {a.dtype} {a.shape}")
        arrays[key] = a
    broken = draw(st.sampled_from(["truncated", "not-npz", "missing"])) if what == "file" \
        else None
    return arrays, broken, notes


def write_data(path: Path, arrays: dict, broken) -> None:
    if broken == "missing":
        return
    if broken == "not-npz":
        path.write_bytes(b"definitely not a zip file\n" * 10)
        return
    np.savez(path, **arrays)      # object arrays are pickled: the loader must refuse them
    if broken == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# -- running --------------------------------------------------------------------------------
class Hang(BaseException):
    pass


def _alarm(signum, frame):
    raise Hang(f"a command ran longer than {SECONDS_PER_COMMAND} s")


def run_command(run_cli, *args):
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_COMMAND)
    try:
        return run_cli(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_outcome(args, code, out, err) -> None:
    assert "Traceback" not in out + err, (args, err)
    if code == 0:
        return
    lines = err.strip().splitlines()
    assert code in (1, 2), (args, code, err)
    assert lines and lines[-1].startswith("error: "), (args, err)
    assert sum(line.startswith("error: ") for line in lines) == 1, (args, err)
    if code == 2:
        assert len(lines) == 1, (args, err)
    else:   # exit 1 only for training that stopped on a NaN loss
        assert "NaN" in lines[-1] or "nan" in lines[-1], (args, err)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # NumPy on inf/NaN data: expected
def test_fuzzed_configs_and_data_never_crash_hang_or_touch_another_run(tmp_path, run_cli,
                                                                      record_property):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    base_config, base_spec = BASES[0]
    rng = np.random.default_rng(0)
    write_data(tmp_path / "d.npz", {k: _values(rng, (24, *s), kind)
                                    for k, (s, kind) in base_spec.items()}, None)
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(base_config))
    existing = tmp_path / "runs" / "existing"
    code, _, err = run_cli("fit", "good.yaml", "--run-dir", existing, "--quiet")
    assert code == 0, err
    before = snapshot(existing)
    cases, outcomes = [], {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              derandomize=SEED is None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def case(data):
        index = data.draw(st.integers(0, len(BASES) - 1), label="base")
        config, spec = BASES[index]
        config, changes = data.draw(mutated_config(config, str(existing)), label="config")
        arrays, broken, data_notes = data.draw(data_arrays(spec), label="data")
        note(f"changes: {changes}; data: {data_notes} {broken or ''}")
        directory = tmp_path / f"case-{len(cases)}"
        directory.mkdir()
        cases.append(directory)
        os.chdir(directory)
        write_data(directory / "d.npz", arrays, broken)
        text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
        (directory / "c.yaml").write_text(text, encoding="utf-8")
        extra = data.draw(st.sampled_from([[], [], [], ["--run-dir", str(existing)],
                                           ["--set", "fit.batch_size=1"]]), label="args")
        results = []
        for args in (["summary", "c.yaml", "--json"],
                     ["fit", "c.yaml", "--quiet", "--max-memory", MAX_MEMORY, *extra]):
            code, out, err = run_command(run_cli, *args)
            check_outcome(args, code, out, err)
            results.append(code)
            outcomes[(args[0], code)] = outcomes.get((args[0], code), 0) + 1
        if results[1] == 0:
            runs = sorted(p for p in (directory / "runs").glob("*") if p.is_dir()) \
                if (directory / "runs").is_dir() else []
            inputs, _, _ = data.draw(data_arrays(spec), label="predict input")
            x = next((a for k, a in inputs.items() if k.startswith("x")), np.zeros(3))
            np.save(directory / "x.npy", x, allow_pickle=True)
            for run in runs[:1]:
                for args in (["evaluate", run, "--split", "train", "--json"],
                             ["predict", run, "--input", "x.npy", "--output", "p.csv"]):
                    code, out, err = run_command(run_cli, *args)
                    check_outcome(args, code, out, err)
                    outcomes[(args[0], code)] = outcomes.get((args[0], code), 0) + 1
        assert snapshot(existing) == before, "an existing run was modified"

    try:
        if SEED is not None:
            from hypothesis import seed
            case = seed(int(SEED))(case)
        case()
    finally:
        os.chdir(cwd)
        print(f"\nfuzz: {len(cases)} cases; exit codes: "
              + ", ".join(f"{c} {k}: {n}" for (c, k), n in sorted(outcomes.items())))
        record_property("fuzz_cases", len(cases))
    assert len(cases) >= min(EXAMPLES, 20)

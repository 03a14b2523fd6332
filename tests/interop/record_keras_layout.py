"""Record real Keras 3's ``.weights.h5`` layout for the models of test_keras_layout.py into
keras_3_15_layout.json (the test's expected values). Not a test; needs Keras:

    KERAS_BACKEND=torch python tests/interop/record_keras_layout.py   # in a venv with Keras

Recorded with Keras 3.15.1 on the torch backend. Each model here is the Keras twin of the
nntrain config of the same name in test_keras_layout.py.
"""

import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

L = keras.layers
OUT = Path(__file__).with_name("keras_3_15_layout.json")


def layout(model, path):
    """Every ``vars`` group, and every dataset with its shape and the name of the Keras variable
    stored there (each variable is filled with its own number to tell them apart)."""
    names = {}
    for i, v in enumerate(model.weights):
        v.assign(np.full(v.shape, i, dtype=v.dtype))
        names[i] = v.name
    model.save_weights(path)
    groups, datasets = [], []
    with h5py.File(path) as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                datasets.append([name, list(obj.shape), names[int(obj[()].flat[0])]])
            elif name == "vars" or name.endswith("/vars"):
                assert "name" in obj.attrs
                groups.append(name)
        f.visititems(visit)
    return {"groups": sorted(groups), "datasets": sorted(datasets)}


def dag():
    inp = keras.Input((6,))
    c = L.Dense(4, name="c")(inp)
    a = L.Dense(3, name="a")(inp)
    b = L.Dense(4, name="b")(a)
    return keras.Model(inp, L.Dense(2)(L.Add()([b, c])))


def two_inputs():
    i1, i2 = keras.Input((16,), name="input1"), keras.Input((32,), name="input2")
    x1, x2 = L.Dense(8, name="x1")(i1), L.Dense(8, name="x2")(i2)
    return keras.Model([i1, i2], L.Dense(4)(L.Add()([x1, x2])))


MODELS = {
    "mlp_bn": lambda: keras.Sequential([
        keras.Input((40,)), L.Dense(8), L.BatchNormalization(), L.Activation("relu"),
        L.Dropout(0.2), L.Dense(3)]),
    "cnn": lambda: keras.Sequential([
        keras.Input((40, 1)), L.Conv1D(4, 5), L.MaxPooling1D(3), L.Conv1D(6, 5),
        L.GlobalAveragePooling1D(), L.Dropout(0.5), L.Dense(3)]),
    "rnn": lambda: keras.Sequential([
        keras.Input((10, 2)), L.LSTM(4, return_sequences=True), L.GRU(3), L.Dense(2)]),
    "bidirectional": lambda: keras.Sequential([
        keras.Input((10, 2)), L.Bidirectional(L.LSTM(4, return_sequences=True)),
        L.Bidirectional(L.GRU(3)), L.Dense(2)]),
    "misc": lambda: keras.Sequential([
        keras.Input((10,)), L.Embedding(20, 4), L.SimpleRNN(3, return_sequences=True),
        L.TimeDistributed(L.Dense(2, use_bias=False)), L.LayerNormalization(), L.PReLU(),
        L.Flatten(), L.Dense(2)]),
    "dag": dag,
    "two_inputs": two_inputs,
}

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        result = {name: layout(make(), f"{tmp}/{name}.weights.h5")
                  for name, make in MODELS.items()}
    lines = ["{"]
    for i, (name, entry) in enumerate(result.items()):
        lines.append(f' "{name}": {{')
        lines.append(f'  "groups": {json.dumps(entry["groups"])},')
        lines.append('  "datasets": [')
        rows = [f"   {json.dumps(d)}" for d in entry["datasets"]]
        lines.append(",\n".join(rows))
        lines.append("  ]")
        lines.append(" }" + ("," if i < len(result) - 1 else ""))
    lines.append("}")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT} (Keras {keras.__version__}, backend {keras.backend.backend()})")

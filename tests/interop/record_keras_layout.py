"""Record real Keras 3's ``.weights.h5`` layout for the models of test_keras_layout.py into
keras_3_15_layout.json (the test's expected values). Not a test; needs Keras:

    KERAS_BACKEND=torch python tests/interop/record_keras_layout.py   # in a venv with Keras

Recorded with Keras 3.15.1 on the torch backend. Each model here is the Keras twin of the
nntrain config of the same name in interop_models.MODELS; the twins from `transformer` on are
exact (activations and arguments too), so test_keras_real.py also uses them as hand-written
Keras models that must predict what nntrain predicts.
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


def transformer():
    inp = keras.Input((8, 6))
    x = L.LayerNormalization(epsilon=1e-6)(L.Add()([inp, L.MultiHeadAttention(2, 3)(inp, inp)]))
    f = L.Dense(6)(L.Dense(12, activation="relu")(x))
    x = L.LayerNormalization(epsilon=1e-6)(L.Add()([x, f]))
    return keras.Model(inp, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(x)))


def attention():
    target, source = keras.Input((6, 4), name="target"), keras.Input((5, 3), name="source")
    image = keras.Input((3, 4, 2), name="image")
    keys = L.Dense(2, name="keys")(source)
    causal = L.MultiHeadAttention(2, 3, name="causal")(target, target, use_causal_mask=True)
    cross = L.MultiHeadAttention(3, 2, value_dim=4, output_shape=5, use_bias=False,
                                 name="cross")(causal, source, key=keys)
    cross2 = L.MultiHeadAttention(1, 2, dropout=0.2, name="cross2")(cross, source)
    pixels = L.MultiHeadAttention(2, 2, output_shape=(2, 3), name="pixels")(image, image)
    x = L.Concatenate()([L.Flatten(name="f1")(cross2), L.Flatten(name="f2")(pixels)])
    return keras.Model([target, source, image], L.Dense(2)(x))


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
    "transformer": transformer,
    "attention": attention,
    "autoencoder": lambda: keras.Sequential([
        keras.Input((12, 2)), L.Conv1D(4, 3, padding="same", activation="relu"),
        L.MaxPooling1D(2), L.ZeroPadding1D((1, 2)), L.Cropping1D((2, 1)),
        L.Conv1DTranspose(3, 3, strides=2, padding="same", activation="relu"),
        L.UpSampling1D(2),
        L.ZeroPadding1D(), L.Conv1DTranspose(2, 4, strides=3, output_padding=1),
        L.Conv1DTranspose(3, 3, dilation_rate=2, padding="same", use_bias=False),
        L.Conv1DTranspose(2, 4, strides=2, padding="same", output_padding=1,
                          activation="tanh"),
        L.Cropping1D(3)]),
    "decoder": lambda: keras.Sequential([
        keras.Input((4, 4, 3)), L.Conv2DTranspose(4, 3, strides=2, padding="same"),
        L.GroupNormalization(2), L.ZeroPadding2D(((1, 0), (2, 1))),
        L.Cropping2D(((0, 1), (1, 2))), L.UpSampling2D((2, 1), interpolation="bilinear"),
        L.Conv2DTranspose(2, (3, 2), strides=(1, 2), output_padding=(0, 1), use_bias=False),
        L.GroupNormalization(-1, center=False, epsilon=0.01), L.UpSampling2D(),
        L.ZeroPadding2D(1),
        L.Cropping2D(2), L.Conv2D(2, 3), L.GlobalAveragePooling2D(), L.Dense(3)]),
    "augment": lambda: keras.Sequential([
        keras.Input((8, 8, 3)), L.RandomFlip(), L.RandomTranslation(0.2, 0.1),
        L.RandomRotation(0.1, fill_mode="nearest"),
        L.RandomZoom((-0.2, 0.1), interpolation="nearest"), L.RandomCrop(8, 8),
        L.GaussianNoise(0.1), L.SpatialDropout2D(0.2), L.Conv2D(4, 3),
        L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2),
        L.GaussianDropout(0.1), L.AlphaDropout(0.1), L.Softmax(axis=(1, 2)),
        L.Permute((3, 1, 2)), L.Reshape((4, 36)), L.SpatialDropout1D(0.1), L.Softmax(),
        L.GlobalMaxPooling1D(), L.RepeatVector(3), L.Permute((2, 1)), L.Flatten(),
        L.Dense(2)]),
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

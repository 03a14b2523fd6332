"""Against real Keras 3: the exported config and weights load with ``model_from_json`` and
``load_weights`` and predict what nntrain predicts on raw data (to 1e-5), and weights that Keras
saves import into nntrain. Skipped where Keras is not installed (it runs in a venv with Keras
and torch, no TensorFlow: ``KERAS_BACKEND=torch`` is set here when unset)."""

import json
import os

import numpy as np
import pytest

from interop_models import MODELS, inputs_for, normalizer_for, random_model
from nntrain.interop.keras_config import keras_model_config
from nntrain.interop.keras_weights import load_keras_weights, save_keras_weights
from nntrain.training.checkpoint import load_weights_into

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

TOLERANCE = 1e-5


def export(name, tmp_path, seed=1):
    """Our model with random weights and normalization, its two Keras files, raw inputs."""
    rng = np.random.default_rng(seed)
    model = random_model(name, seed=seed)
    norm = normalizer_for(model, rng)
    weights, config = tmp_path / f"{name}.weights.h5", tmp_path / f"{name}.json"
    save_keras_weights(model, weights)
    config.write_text(json.dumps(keras_model_config(MODELS[name], model, norm, name=name)))
    return model, norm, weights, config, inputs_for(model, 8, rng)


def keras_predict(kmodel, xs):
    return np.asarray(kmodel.predict(xs if len(xs) > 1 else xs[0], verbose=0))


def listing(path):
    with h5py.File(path) as f:
        out = []
        f.visititems(lambda name, obj: out.append((name, getattr(obj, "shape", None))))
        return sorted(out)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_loads_both_files_and_predicts_the_same(name, tmp_path):
    model, norm, weights, config, xs = export(name, tmp_path)
    kmodel = keras.models.model_from_json(config.read_text())
    kmodel.load_weights(weights)
    ours = model.predict(norm.apply(xs))
    assert np.abs(keras_predict(kmodel, xs) - ours).max() <= TOLERANCE


def test_the_weights_load_into_hand_built_keras_models(tmp_path):
    """The architecture written by hand, Sequential or functional (no Normalization: the data
    goes in normalized), takes the same file."""
    model, norm, weights, _, xs = export("mlp_bn", tmp_path)
    L = keras.layers
    sequential = keras.Sequential([keras.Input((40,)), L.Dense(8), L.BatchNormalization(),
                                   L.Activation("relu"), L.Dropout(0.2),
                                   L.Dense(3, activation="softmax")])
    inp = keras.Input((40,))
    x = L.Activation("relu")(L.BatchNormalization()(L.Dense(8, name="hidden")(inp)))
    functional = keras.Model(inp, L.Dense(3, activation="softmax")(L.Dropout(0.2)(x)))
    xn = norm.apply(xs)
    ours = model.predict(xn)
    for kmodel in (sequential, functional):
        kmodel.load_weights(weights)
        assert np.abs(keras_predict(kmodel, xn) - ours).max() <= TOLERANCE


@pytest.mark.parametrize("name", ["transformer", "attention", "autoencoder", "decoder", "augment"])
def test_the_weights_load_into_the_hand_written_twins(name, tmp_path):
    """record_keras_layout.py's exact twins of the newer zoo models, written with Keras's
    own calls (``mha(q, v, key=k, use_causal_mask=True)``), take our file and predict the
    same on the normalized data."""
    from record_keras_layout import MODELS as TWINS
    model, norm, weights, _, xs = export(name, tmp_path)
    kmodel = TWINS[name]()
    kmodel.load_weights(weights)
    xn = norm.apply(xs)
    assert np.abs(keras_predict(kmodel, xn) - model.predict(xn)).max() <= TOLERANCE


def test_the_causal_mask_reaches_keras(tmp_path):
    """use_causal_mask is a call argument in Keras: it is in the inbound node, and without it
    Keras predicts something else (so the comparisons above would notice it missing)."""
    model, norm, weights, config, xs = export("attention", tmp_path)
    spec = json.loads(config.read_text())
    causal, = (x for x in spec["config"]["layers"] if x["name"] == "causal")
    assert causal["inbound_nodes"][0]["kwargs"] == {"use_causal_mask": True}
    ours = model.predict(norm.apply(xs))
    causal["inbound_nodes"][0]["kwargs"] = {}
    kmodel = keras.models.model_from_json(json.dumps(spec))
    kmodel.load_weights(weights)
    assert np.abs(keras_predict(kmodel, xs) - ours).max() > 1e-3


def test_kerass_random_crop_does_not_crop_at_inference():
    """Why keras-config refuses a RandomCrop whose input is larger than its target: Keras
    3.15 returns the image as it is at inference (nntrain takes the central window)."""
    kmodel = keras.Sequential([keras.Input((10, 10, 1)), keras.layers.RandomCrop(8, 8)])
    x = np.random.default_rng(0).normal(size=(2, 10, 10, 1)).astype("float32")
    assert keras_predict(kmodel, [x]).shape == (2, 10, 10, 1)


@pytest.mark.parametrize("name", ["bidirectional", "two_inputs", "dag", "transformer",
                                  "attention"])
def test_keras_writes_the_same_file(name, tmp_path):
    """Keras's own save_weights of the loaded model: the same groups and datasets as ours plus
    one empty group per Normalization layer (mean and variance live in the config)."""
    _, norm, weights, config, _ = export(name, tmp_path)
    kmodel = keras.models.model_from_json(config.read_text())
    kmodel.load_weights(weights)
    kmodel.save_weights(tmp_path / "keras.weights.h5")
    theirs = listing(tmp_path / "keras.weights.h5")
    stems = ["normalization"] + [f"normalization_{i}" for i in range(1, len(norm.shifts))]
    extra = [(f"layers/{s}", None) for s in stems] + [(f"layers/{s}/vars", None) for s in stems]
    assert theirs == sorted(listing(weights) + extra)


@pytest.mark.parametrize("name", ["mlp_bn", "rnn", "bidirectional", "misc", "two_inputs",
                                  "transformer", "attention", "autoencoder", "decoder",
                                  "augment", "masked", "masked_attention"])
def test_weights_saved_by_keras_import_into_nntrain(name, tmp_path):
    model, norm, _, config, xs = export(name, tmp_path)
    kmodel = keras.models.model_from_json(config.read_text())
    rng = np.random.default_rng(7)
    for v in kmodel.weights:
        shape = tuple(v.shape)
        v.assign(rng.uniform(0.5, 2.0, shape) if "variance" in v.name
                 else rng.normal(0, 0.5, shape))
    kmodel.save_weights(tmp_path / "keras.weights.h5")
    load_weights_into(model, load_keras_weights(model, tmp_path / "keras.weights.h5"), "keras")
    ours = model.predict(norm.apply(xs))
    assert np.abs(keras_predict(kmodel, xs) - ours).max() <= TOLERANCE


def test_a_trained_run_through_the_cli(tmp_path, monkeypatch, run_cli):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((60, 10, 1)) * 4 + 2).astype("float32")
    np.savez(tmp_path / "d.npz", x_train=x, y_train=rng.integers(0, 3, 60))
    (tmp_path / "c.yaml").write_text("""\
name: k
data: {path: d.npz, normalize: minmax}
model:
  input_shape: [10, 1]
  layers:
    - Conv1D: {filters: 4, kernel_size: 3, activation: relu}
    - BatchNormalization: {}
    - LSTM: {units: 3, return_sequences: true}
    - GRU: {units: 3}
    - Dense: {units: 3, activation: softmax}
compile: {optimizer: adam, loss: sparse_categorical_crossentropy}
fit: {epochs: 2, batch_size: 16}
""")
    monkeypatch.chdir(tmp_path)
    np.save("x.npy", x)
    for args in (["fit", "c.yaml", "--quiet"],
                 ["export", "runs/k", "--format", "keras", "--output", "k.weights.h5"],
                 ["export", "runs/k", "--format", "keras-config", "--output", "k.json"],
                 ["predict", "runs/k", "--input", "x.npy", "--output", "p.npy"]):
        code, _, err = run_cli(*args)
        assert code == 0, err
    kmodel = keras.models.model_from_json(open("k.json").read())
    kmodel.load_weights("k.weights.h5")
    assert np.abs(keras_predict(kmodel, [x]) - np.load("p.npy")).max() <= TOLERANCE


def test_initializers_and_regularizers_reach_keras(tmp_path):
    """They do not change predictions, but training on in Keras should see the same ones;
    Keras's "l1_l2" shorthand means zeros, ours 0.01 each, so factors are always explicit."""
    _, _, _, config, _ = export("kitchen", tmp_path)
    layers = {layer.name: layer for layer in
              keras.models.model_from_json(config.read_text()).layers}
    conv, dense = layers["conv1d"], layers["dense"]
    assert type(conv.kernel_initializer).__name__ == "RandomNormal"
    assert conv.kernel_initializer.stddev == 0.02
    assert type(conv.activity_regularizer).__name__ == "L2"
    assert conv.activity_regularizer.l2 == pytest.approx(0.01)
    assert type(dense.kernel_initializer).__name__ == "HeNormal"
    assert (dense.kernel_regularizer.l1, dense.kernel_regularizer.l2) == \
        pytest.approx((0.01, 0.01))
    rnn = layers["simple_rnn"]
    assert (rnn.cell.recurrent_regularizer.l1, rnn.cell.recurrent_regularizer.l2) == \
        pytest.approx((0.01, 0.02))

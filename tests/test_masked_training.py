"""Masks in the whole model: which outputs carry one (decided at build time), the refusals,
the masked loss and metrics (Keras's apply_mask), a whole-model gradient check on the training
step's path, the summary, and an exact resume of a masked recurrent model."""

import numpy as np
import pytest

from nntrain import gradcheck
from nntrain.builder import build_model
from nntrain.errors import ConfigError
from nntrain.losses import get_loss, masked_weights, metric_weights
from nntrain.metrics import get_metric, update_all
from nntrain.summary import model_summary
from nntrain.training.step import forward_backward
from tests.training.test_resume import N, assert_same_run

EMB = {"Embedding": {"input_dim": 6, "output_dim": 3, "mask_zero": True}}


def _model(*layers, input_shape=(5,)):
    return build_model({"input_shape": list(input_shape), "layers": list(layers)})


def test_which_outputs_carry_a_mask_is_decided_by_the_config():
    model = _model(EMB, {"Dense": {"units": 4}}, {"LSTM": {"units": 3, "return_sequences": True}},
                   {"Dropout": {"rate": 0.1}}, {"GRU": {"units": 2}}, {"Dense": {"units": 2}})
    assert [n.masked for n in model.nodes] == [True, True, True, True, False, False]
    model = _model(EMB, {"Conv1D": {"filters": 2, "kernel_size": 2}},
                   {"LSTM": {"units": 2, "return_sequences": True}})
    assert [n.masked for n in model.nodes] == [True, False, False]   # Conv1D drops it
    rows = model_summary(model)["layers"]
    assert [r["masked"] for r in rows] == [True, False, False]
    assert [r["mask_dropped"] for r in rows] == [False, True, False]


@pytest.mark.parametrize("layer, words", [
    ({"Softmax": {}}, "Softmax cannot take"),
    ({"TimeDistributed": {"layer": {"GlobalAveragePooling1D": {}}}}, "TimeDistributed cannot"),
])
def test_layers_that_cannot_take_a_mask_are_refused_naming_the_layer(layer, words):
    shape = (5, 1, 2) if "TimeDistributed" in layer else (5,)
    first = EMB if shape == (5,) else {"Masking": {}}
    with pytest.raises(ConfigError) as e:
        _model(first, layer, input_shape=shape)
    assert words in e.value.message
    assert e.value.key.startswith("model.layers.1.")


def test_return_state_is_refused_with_the_reason():
    with pytest.raises(ConfigError) as e:
        _model({"Masking": {}}, {"LSTM": {"units": 2, "return_state": True}}, input_shape=(5, 2))
    assert e.value.key == "model.layers.1.LSTM.return_state"
    assert "return_state is not supported" in e.value.message


# -- the loss and metrics -------------------------------------------------------------------
def test_masked_loss_is_the_mean_over_unmasked_positions_as_keras():
    rng = np.random.default_rng(0)
    mask = rng.random((4, 5)) < 0.6
    pred = rng.random((4, 5, 3)).astype(np.float32)
    pred /= pred.sum(axis=-1, keepdims=True)
    y = rng.integers(0, 3, (4, 5))
    loss = get_loss("sparse_categorical_crossentropy")
    per = loss.per_sample(y, pred)
    assert loss(y, pred, masked_weights(None, mask)) == pytest.approx(per[mask].mean(), 1e-6)
    sw = np.array([1.0, 2.0, 0.5, 0.0])
    expected = (per * sw[:, None] * mask).sum() / mask.sum()     # over unmasked, not sum(w)
    assert loss(y, pred, masked_weights(sw, mask)) == pytest.approx(expected, 1e-6)
    nothing = np.zeros_like(mask)
    assert loss(y, pred, masked_weights(None, nothing)) == 0.0
    np.testing.assert_array_equal(metric_weights(sw, mask), sw[:, None] * mask)


def test_mean_metrics_skip_masked_positions_and_confusion_metrics_do_not():
    y = np.array([[0, 1, 1], [1, 0, 0]])
    pred = np.array([[[0.9, 0.1], [0.2, 0.8], [0.9, 0.1]], [[0.1, 0.9], [0.3, 0.7], [0.6, 0.4]]])
    mask = np.array([[True, True, False], [True, False, False]])
    acc = get_metric("sparse_categorical_accuracy", None)
    auc = get_metric({"name": "AUC"}, None)
    update_all([acc, auc], y, pred, None, mask)
    assert acc.result() == 1.0                     # the three unmasked positions are right
    reference = get_metric({"name": "AUC"}, None)
    reference.update(y, pred)
    assert auc.result() == reference.result()      # Keras's AUC does not read the mask


@pytest.mark.parametrize("config, loss", [
    ([EMB, {"Bidirectional": {"layer": {"LSTM": {"units": 2, "return_sequences": True}}}},
      {"Dense": {"units": 3, "activation": "softmax"}}], "sparse_categorical_crossentropy"),
    ([EMB, {"GRU": {"units": 3, "return_sequences": True, "go_backwards": True}},
      {"BatchNormalization": {}}, {"SimpleRNN": {"units": 2}}, {"Dense": {"units": 1}}],
     "mean_squared_error"),
    ([EMB, {"LSTM": {"units": 3, "return_sequences": True, "dropout": 0.2}},
      {"GlobalAveragePooling1D": {}}, {"Dense": {"units": 2, "activation": "sigmoid"}}],
     "binary_crossentropy"),
])
def test_masked_models_pass_the_whole_model_gradient_check(config, loss):
    model = _model(*config)
    rows = gradcheck.check_model(model, get_loss(loss), batch=6, seed=1,
                                 sample_weight=np.linspace(0.5, 1.5, 6))
    assert max(r["rel_error"] for r in rows) < 1e-6, rows


def test_the_training_step_weighs_the_output_mask():
    model = _model(EMB, {"LSTM": {"units": 3, "return_sequences": True}},
                   {"Dense": {"units": 2, "activation": "softmax"}})
    ids = np.array([[1, 2, 0, 0, 0], [0, 0, 0, 0, 0], [3, 4, 5, 1, 2]])
    y = np.zeros((3, 5), dtype=int)
    loss = get_loss("sparse_categorical_crossentropy")
    value, out, _ = forward_backward(model, loss, [ids], y)
    np.testing.assert_array_equal(model.output_mask, ids != 0)
    assert value == pytest.approx(loss.per_sample(y, out)[ids != 0].mean(), 1e-6)
    # a batch with nothing unmasked contributes nothing and moves no weight
    forward_backward(model, loss, [np.zeros_like(ids)], y)
    assert all(not g.any() for g in model.gradients().values())


# -- exact resume ---------------------------------------------------------------------------
CONFIG = """\
name: masked
seed: 2
data:
  path: seq.npz
  validation_split: 0.25
model:
  input_shape: [6]
  layers:
    - Embedding: {input_dim: 5, output_dim: 3, mask_zero: true}
    - Bidirectional: {layer: {LSTM: {units: 3, return_sequences: true, dropout: 0.2}}}
    - GRU: {units: 3, return_sequences: true, recurrent_dropout: 0.2}
    - Dense: {units: 2, activation: softmax}
compile:
  optimizer: {name: adam, learning_rate: 0.01}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: %(epochs)d
  batch_size: 16
  callbacks:
    - ModelCheckpoint: {filepath: "checkpoints/cp-{epoch:04d}-{batch:02d}.npz", save_freq: 2, verbose: 0}
"""


def test_resume_of_a_masked_model_is_bit_identical(tmp_path, monkeypatch, run_cli):
    """Per-step labels (is the id above 2), right-padded sequences; N epochs straight against
    a stop mid-run and a resume from a mid-epoch checkpoint."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, 5, (64, 6))
    for i, length in enumerate(rng.integers(1, 7, 64)):
        x[i, length:] = 0
    np.savez(tmp_path / "seq.npz", x_train=x, y_train=(x > 2).astype(int))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(CONFIG % {"epochs": N})
    assert run_cli("fit", "c.yaml", "--run-dir", "runs/straight", "--quiet")[0] == 0
    assert run_cli("fit", "c.yaml", "--run-dir", "runs/stopped", "--quiet",
                   "--set", "fit.epochs=3")[0] == 0
    code, _, err = run_cli("resume", "runs/stopped", "--checkpoint", "checkpoints/cp-0002-01.npz",
                           "--epochs", N, "--quiet")
    assert code == 0, err
    assert_same_run(tmp_path / "runs/straight", tmp_path / "runs/stopped")

"""Sample and class weights in fit and evaluate, as Keras weighs them: the weighted loss's
gradients against finite differences, the reduction (sum(w l) / n, not / sum(w)), class weights
equal to the sample weights they stand for, only `weighted_metrics` weighted, the data section's
`sample_weight` (also split by validation_split), resume bit-identical with weights and stateful
metrics mid-epoch, and the refusals. (Histories and final weights equal real Keras 3.15's to
float32 rounding for a class-weighted and a sample-weighted fit: see the branch's report.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

import nntrain
from nntrain import gradcheck
from nntrain.builder import build_model
from nntrain.errors import ConfigError, DataError
from nntrain.losses import get_loss

RNG = np.random.default_rng(5)


# -- the gradients of the weighted loss ---------------------------------------------------------
@pytest.mark.parametrize("loss_name,units,activation", [
    ("sparse_categorical_crossentropy", 3, "softmax"),     # fused softmax + crossentropy
    ("binary_crossentropy", 1, "sigmoid"),                 # fused sigmoid + crossentropy
    ("categorical_focal_crossentropy", 3, "softmax"),
    ("huber", 2, "linear"),
])
def test_the_weighted_loss_passes_gradcheck(loss_name, units, activation):
    model = build_model({"input_shape": [4], "layers": [
        {"Dense": {"units": 5, "activation": "tanh", "kernel_regularizer": {"l2": 0.01}}},
        {"Dense": {"units": units, "activation": activation}}]}, rng=np.random.default_rng(1))
    weights = np.array([0.0, 2.5, 1.0, 0.3, 4.0])
    rows = gradcheck.check_model(model, get_loss(loss_name), batch=5, sample_weight=weights)
    worst = max(rows, key=lambda r: r["rel_error"])
    assert worst["rel_error"] < 1e-6, worst
    # and the weights matter: the weighted gradient is not the unweighted one
    from nntrain.training.step import forward_backward
    xs, y = [RNG.standard_normal((5, 4))], gradcheck.random_targets(model, get_loss(loss_name), 5,
                                                                   RNG)
    forward_backward(model, get_loss(loss_name), xs, y, sample_weight=weights)
    weighted = model.gradients()["dense_1/kernel"].copy()
    forward_backward(model, get_loss(loss_name), xs, y)
    assert not np.allclose(weighted, model.gradients()["dense_1/kernel"])


# -- fit through the Python API ---------------------------------------------------------------
CONFIG = {"seed": 2, "model": {"input_shape": [4], "layers": [
    {"Dense": {"units": 8, "activation": "relu"}},
    {"Dense": {"units": 3, "activation": "softmax"}}]},
    "compile": {"optimizer": {"name": "sgd", "learning_rate": 0.05},
                "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                "weighted_metrics": ["accuracy", "AUC"]}}


def data(n=48):
    x = RNG.standard_normal((n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    return x, y


def fit(config=CONFIG, **kwargs):
    model = nntrain.Model.from_config(config)
    history = model.fit(epochs=2, batch_size=16, verbose=0, **kwargs)
    return model, history.history


def test_class_weight_is_the_sample_weight_it_stands_for():
    x, y = data()
    cw = {0: 0.5, 1: 3.0}          # class 2 left out: weight 1
    a, ha = fit(x=x, y=y, class_weight=cw)
    b, hb = fit(x=x, y=y, sample_weight=np.array([cw.get(c, 1.0) for c in y]))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert all(ha[k] == hb[k] for k in ha if k != "seconds")
    assert ha["weighted_accuracy"] != ha["accuracy"]     # only weighted_metrics see weights
    c, _ = fit(x=x, y=y)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_weights_scale_the_loss_without_normalising_it():
    """Keras's sum_over_batch_size: doubling every weight doubles the loss and the gradient,
    which with plain SGD is bit for bit the unweighted run at twice the learning rate."""
    x, y = data()
    twice = {**CONFIG, "compile": {**CONFIG["compile"],
                                   "optimizer": {"name": "sgd", "learning_rate": 0.1}}}
    a, ha = fit(x=x, y=y, sample_weight=np.full(len(y), 2.0), shuffle=False)
    b, hb = fit(twice, x=x, y=y, shuffle=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    model = nntrain.Model.from_config(CONFIG)
    one = model.evaluate(x, y)
    two = model.evaluate(x, y, sample_weight=np.full(len(y), 2.0))
    assert two["loss"] == pytest.approx(2 * one["loss"], rel=1e-6)
    assert two["accuracy"] == one["accuracy"] and two["weighted_accuracy"] == one["accuracy"]
    zero_half = np.where(np.arange(len(y)) % 2 == 0, 1.0, 0.0)
    half = model.evaluate(x, y, sample_weight=zero_half)
    plain = model.evaluate(x[::2], y[::2])
    assert half["loss"] == pytest.approx(plain["loss"] / 2, rel=1e-5)     # / n, not / sum(w)
    assert half["weighted_accuracy"] == pytest.approx(plain["accuracy"])  # a weighted mean
    assert half["accuracy"] == one["accuracy"]                          # unweighted metric


def test_validation_data_may_carry_weights():
    x, y = data()
    xv, yv = data(20)
    wv = RNG.uniform(0, 2, 20)
    model, h = fit(x=x, y=y, validation_data=(xv, yv, wv))
    # the last epoch's validation numbers are the final model's evaluation with those weights
    assert h["val_loss"][-1] == pytest.approx(model.evaluate(xv, yv, sample_weight=wv)["loss"],
                                              rel=1e-6)
    assert h["val_weighted_accuracy"][-1] == pytest.approx(
        model.evaluate(xv, yv, sample_weight=wv)["weighted_accuracy"])


@pytest.mark.parametrize("kwargs,error,message", [
    ({"class_weight": {0: 1.0, 7: 2.0}}, ConfigError, "class 7 is not a class"),
    ({"class_weight": {0: -1.0}}, ConfigError, "weight >= 0"),
    ({"class_weight": {"a": 1.0}}, ConfigError, "class ids"),
    ({"sample_weight": np.ones(5)}, DataError, "5 samples but x has 48"),
    ({"sample_weight": -np.ones(48)}, DataError, "negative weight"),
    ({"sample_weight": np.ones((48, 3))}, DataError, "one weight per sample"),
    ({"sample_weight": np.ones(48), "class_weight": {0: 2.0}}, ConfigError, "not both"),
])
def test_bad_weights_are_refused(kwargs, error, message):
    x, y = data()
    with pytest.raises(error, match=message):
        fit(x=x, y=y, **kwargs)


# -- the config's data section, the CLI and resume ---------------------------------------------
RUN = """\
name: w
seed: 4
data:
  path: d.npz
  sample_weight: w_train
  validation_split: 0.25
model:
  input_shape: [4]
  layers:
    - Dense: {units: 8, activation: relu}
    - Dropout: {rate: 0.2}
    - Dense: {units: 3, activation: softmax}
compile:
  optimizer: {name: adam, learning_rate: 0.01}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy, {AUC: {name: auc}}]
  weighted_metrics: [accuracy, AUC, {name: Precision, class_id: 1}]
fit:
  epochs: 4
  batch_size: 16
  callbacks:
    - ModelCheckpoint: {filepath: "checkpoints/cp-{epoch:04d}-{batch:02d}.npz", save_freq: 2,
                        verbose: 0}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    x, y = data(96)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, w_train=RNG.uniform(0, 3, 96))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(RUN)
    return tmp_path


def checkpoint(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    for row in meta["history"]:
        row.pop("seconds")
    meta["logs"].pop("seconds", None)
    return arrays, meta


def test_config_weights_resume_bit_identically_mid_epoch(project, run_cli):
    """72 training samples, 5 batches an epoch: cp-0002-03 is written after batch 3 of epoch 2,
    with the epoch's running AUC counts in it; resuming from it gives the straight run."""
    assert run_cli("fit", "c.yaml", "--run-dir", "runs/a", "--quiet")[0] == 0
    assert run_cli("fit", "c.yaml", "--run-dir", "runs/b", "--quiet",
                   "--set", "fit.epochs=2")[0] == 0
    _, meta = checkpoint(project / "runs/b/checkpoints/cp-0002-03.npz")
    states = meta["partial_epoch"]["metrics"]
    assert set(states) == {"accuracy", "auc", "weighted_accuracy", "AUC", "Precision"}
    assert len(states["AUC"]["tp"]) == 200
    code, out, err = run_cli("resume", "runs/b", "--checkpoint", "checkpoints/cp-0002-03.npz",
                             "--epochs", 4, "--quiet")
    assert code == 0, err
    a, ma = checkpoint(project / "runs/a/checkpoints/cp-0004-05.npz")
    b, mb = checkpoint(project / "runs/b/checkpoints/cp-0004-05.npz")
    assert sorted(a) == sorted(b)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert ma == mb
    history = ma["history"]
    assert history[0]["accuracy"] != history[0]["weighted_accuracy"]
    assert {"val_auc", "val_AUC", "val_Precision"} <= set(history[0])


def test_a_checkpoint_without_metric_states_resumes_its_mean_metrics(project):
    """Checkpoints written before metrics kept their own state hold each mean metric's running
    sum next to the loss's; resuming one restores them."""
    from nntrain.metrics import get_metric
    from nntrain.training.trainer import Trainer
    trainer = Trainer.__new__(Trainer)
    from nntrain.training.trainer import TrainState
    trainer.state = TrainState()
    trainer.metrics = [get_metric("accuracy", get_loss("sparse_categorical_crossentropy"))]
    trainer._restore_partial_epoch({"sums": {"loss": 4.0, "accuracy": 6.0}, "seen": 8})
    assert trainer.state.sums == {"loss": 4.0}
    assert trainer.metrics[0].result() == 0.75


def test_the_data_section_weights_and_their_refusals(project, run_cli):
    from nntrain.config import Config
    from nntrain.training.assembly import config_dataset
    import yaml
    cfg = yaml.safe_load(RUN)
    model = nntrain.Model.from_config(cfg)
    ds = config_dataset(Config(cfg), model.network, model.loss)
    with np.load(project / "d.npz") as z:
        w = z["w_train"]
    np.testing.assert_array_equal(ds.train.sample_weight, w[:72])      # validation_split
    np.testing.assert_array_equal(ds.val.sample_weight, w[72:])        # takes the last 25%

    (project / "both.yaml").write_text(RUN.replace("  batch_size: 16\n",
                                                   "  batch_size: 16\n  class_weight: {0: 2}\n"))
    code, _, err = run_cli("fit", "both.yaml", "--quiet")
    assert code == 2 and "fit.class_weight: give class_weight or sample weights" in err
    (project / "missing.yaml").write_text(RUN.replace("w_train", "w_trian"))
    code, _, err = run_cli("fit", "missing.yaml", "--quiet")
    assert code == 2 and "data.sample_weight" in err and "w_trian" in err
    assert not (project / "runs").exists()

    class_weighted = RUN.replace("  sample_weight: w_train\n", "").replace(
        "  batch_size: 16\n", "  batch_size: 16\n  class_weight: {0: 0.5, 2: 4}\n")
    (project / "cw.yaml").write_text(class_weighted)
    code, _, err = run_cli("fit", "cw.yaml", "--run-dir", "runs/cw", "--quiet",
                           "--set", "fit.epochs=1")
    assert code == 0, err
    saved = yaml.safe_load((project / "runs/cw/config.yaml").read_text())
    assert saved["fit"]["class_weight"] == {0: 0.5, 2: 4}

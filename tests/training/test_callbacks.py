"""Callbacks against Keras 3's rules (keras/src/callbacks/*.py).

Unit tests drive a callback with a tiny fake trainer (a sequence of epoch-end values); the
end-to-end tests run a small real `fit` where the trainer's part matters (files written, the
learning rate an optimizer step actually uses, weights restored).
"""

import csv
import json
import math

import numpy as np
import pytest

import nntrain
from nntrain import from_config
from nntrain.errors import ConfigError, TrainingAborted
from nntrain.training import checkpoint as ckpt
from nntrain.training.callbacks import (CSVLogger, EarlyStopping, ModelCheckpoint,
                                        ReduceLROnPlateau, TerminateOnNaN, make_callbacks)


# -- a fake trainer -------------------------------------------------------------------------
class FakeOptimizer:
    def __init__(self, lr):
        self.learning_rate = lr

    def set_learning_rate(self, value):
        self.learning_rate = value


class FakeModel:
    def __init__(self):
        self._weights = {"dense/kernel": np.zeros((2, 3)), "dense/bias": np.zeros(3)}

    def weights(self):
        return self._weights

    def set_all(self, value):
        for v in self._weights.values():
            v[...] = value


class FakeTrainer:
    """What a callback may touch: model weights, optimizer learning rate, stop flag, save
    requests, messages."""

    def __init__(self, *callbacks, lr=1.0):
        self.model, self.optimizer = FakeModel(), FakeOptimizer(lr)
        self.stop_training = False
        self.saves, self.messages = [], []
        self.callbacks = callbacks
        self.checkpoints = self       # it stands in for the checkpoint manager too
        for cb in callbacks:
            cb.bind(self)
        for cb in callbacks:
            cb.on_train_begin()

    def say(self, text):
        self.messages.append(text)

    def register(self, callback, max_to_keep=None):
        pass

    def metric_direction(self, name):
        return None

    def display_path(self, path):
        return path

    def request_save(self, callback, path, *, epoch, batch, is_best, weights_only):
        self.saves.append({"path": path, "epoch": epoch, "batch": batch, "is_best": is_best,
                           "weights_only": weights_only})

    def abort(self, message):
        raise TrainingAborted(message)

    def epochs(self, monitor, values):
        """Run epoch ends with `monitor` taking `values`; the model's weights are set to the
        epoch number first. Returns the 0-based epoch training stopped after, or None."""
        for epoch, value in enumerate(values):
            self.model.set_all(float(epoch))
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, {monitor: value})
            if self.stop_training:
                return epoch
        return None


def stop_epoch(values, monitor="val_loss", **kwargs):
    return FakeTrainer(EarlyStopping(monitor=monitor, verbose=0, **kwargs)).epochs(monitor,
                                                                                   values)


# -- EarlyStopping --------------------------------------------------------------------------
def test_early_stopping_counts_patience_epochs_without_improvement():
    # best 0.9 at epoch 1; epochs 2 and 3 do not improve: wait reaches 2 at epoch 3
    assert stop_epoch([1.0, 0.9, 0.95, 0.93, 0.5], patience=2) == 3
    assert stop_epoch([1.0, 0.9, 0.95, 0.93, 0.5], patience=3) is None
    assert stop_epoch([1.0, 0.9, 0.95, 0.5, 0.6, 0.7], patience=2) == 5   # improvement resets
    assert stop_epoch([1.0, 1.1], patience=0) == 1
    assert stop_epoch([1.0, 1.0], patience=0) == 1   # equal is not an improvement


def test_early_stopping_min_delta_is_the_smallest_change_that_counts():
    values = [1.0, 0.95, 0.9]
    assert stop_epoch(values, patience=1, min_delta=0.1) == 1
    assert stop_epoch(values, patience=1, min_delta=-0.1) == 1   # Keras takes abs(min_delta)
    assert stop_epoch(values, patience=1, min_delta=0.01) is None
    assert stop_epoch([0.5, 0.55, 0.6], monitor="accuracy", patience=1, min_delta=0.1) == 1
    assert stop_epoch([0.5, 0.55, 0.6], monitor="accuracy", patience=1, min_delta=0.01) is None


@pytest.mark.parametrize("monitor,mode,values,stopped", [
    ("val_loss", "auto", [1.0, 0.9, 0.8], None),        # loss: lower is better
    ("val_loss", "auto", [1.0, 1.1], 1),
    ("val_accuracy", "auto", [0.5, 0.6, 0.7], None),    # accuracy: higher is better
    ("val_accuracy", "auto", [0.5, 0.4], 1),
    ("accuracy", "auto", [0.5, 0.4], 1),
    ("val_loss", "max", [1.0, 1.1, 1.2], None),
    ("val_loss", "max", [1.0, 0.9], 1),
    ("val_accuracy", "min", [0.5, 0.4, 0.3], None),
    ("val_accuracy", "min", [0.5, 0.6], 1),
    # metrics are logged under the config's name, which may be a Keras class name
    ("val_SparseCategoricalAccuracy", "auto", [0.5, 0.6, 0.7], None),
    ("BinaryAccuracy", "auto", [0.5, 0.4], 1),
    ("val_mse", "auto", [1.0, 0.9, 0.8], None),
])
def test_early_stopping_mode(monitor, mode, values, stopped):
    assert stop_epoch(values, monitor=monitor, mode=mode, patience=0) == stopped


def test_early_stopping_baseline_only_resets_wait_when_the_baseline_is_beaten():
    # improving on the best but not on the baseline keeps counting (Keras): without a baseline
    # epoch 2 is the first bad epoch (wait 1 < 2); with one, wait is already 3
    values = [0.9, 0.8, 0.85]
    assert stop_epoch(values, patience=2) is None
    assert stop_epoch(values, patience=2, baseline=0.5) == 2
    assert stop_epoch(values, patience=2, baseline=0.85) is None   # 0.8 beat the baseline
    # nothing ever beats the baseline: training runs `patience` epochs
    assert stop_epoch([0.9, 0.95, 0.97], patience=1, baseline=0.5) == 1


def test_early_stopping_start_from_epoch_ignores_warm_up_epochs():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert stop_epoch(values, patience=0) == 1
    # epochs 0 and 1 are not watched: best is 3.0 at epoch 2, epoch 3 is the first bad one
    assert stop_epoch(values, patience=0, start_from_epoch=2) == 3
    assert stop_epoch(values, patience=2, start_from_epoch=2) == 4


def test_early_stopping_restores_best_weights_when_it_stops():
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True, verbose=0)
    t = FakeTrainer(es)
    assert t.epochs("val_loss", [1.0, 0.5, 0.7, 0.8, 0.1]) == 3
    assert t.model.weights()["dense/kernel"][0, 0] == 3.0
    es.on_train_end({})
    assert es.best_epoch == 1
    for v in t.model.weights().values():
        assert np.all(v == 1.0)   # the weights at the end of epoch 1


def test_early_stopping_restores_best_weights_also_when_training_runs_to_the_end():
    es = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True, verbose=0)
    t = FakeTrainer(es)
    assert t.epochs("val_loss", [1.0, 0.3, 0.5, 0.6]) is None
    es.on_train_end({})
    assert all(np.all(v == 1.0) for v in t.model.weights().values())


def test_early_stopping_without_restore_keeps_the_last_weights():
    es = EarlyStopping(monitor="val_loss", patience=1, verbose=0)
    t = FakeTrainer(es)
    assert t.epochs("val_loss", [1.0, 0.3, 0.5]) == 2
    es.on_train_end({})
    assert all(np.all(v == 2.0) for v in t.model.weights().values())


def test_early_stopping_restore_with_start_from_epoch_never_restores_warm_up_weights():
    es = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True,
                       start_from_epoch=2, verbose=0)
    t = FakeTrainer(es)
    assert t.epochs("val_loss", [0.1, 0.2, 5.0, 6.0, 7.0]) == 3
    es.on_train_end({})
    assert all(np.all(v == 2.0) for v in t.model.weights().values())


def test_early_stopping_state_round_trip_continues_counting():
    a = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True, verbose=0)
    ta = FakeTrainer(a)
    assert ta.epochs("val_loss", [1.0, 0.5, 0.6]) is None
    state = json.loads(json.dumps({k: v for k, v in a.state_dict().items() if k != "arrays"}))
    state["arrays"] = a.state_dict()["arrays"]
    b = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True, verbose=0)
    tb = FakeTrainer(b)
    b.load_state_dict(state)
    tb.model.set_all(3.0)
    b.on_epoch_end(3, {"val_loss": 0.7})   # second epoch without improvement
    assert tb.stop_training
    b.on_train_end({})
    assert all(np.all(v == 1.0) for v in tb.model.weights().values())


# -- ModelCheckpoint ------------------------------------------------------------------------
def checkpoint_saves(values, monitor="val_loss", **kwargs):
    mc = ModelCheckpoint(monitor=monitor, verbose=0, **kwargs)
    t = FakeTrainer(mc)
    t.epochs(monitor, values)
    return mc, t.saves


def test_model_checkpoint_save_best_only_writes_only_improving_epochs():
    mc, saves = checkpoint_saves([1.0, 1.2, 0.8, 0.9, 0.8, 0.7], save_best_only=True)
    assert [s["path"] for s in saves] == ["checkpoints/cp-0001.npz", "checkpoints/cp-0003.npz",
                                          "checkpoints/cp-0006.npz"]
    assert all(s["is_best"] for s in saves)
    assert mc.best == 0.7


def test_model_checkpoint_save_best_only_in_max_mode():
    mc, saves = checkpoint_saves([0.5, 0.7, 0.6, 0.9], monitor="val_accuracy",
                                 save_best_only=True)
    assert [s["epoch"] for s in saves] == [0, 1, 3]
    mc, saves = checkpoint_saves([0.5, 0.7, 0.6, 0.9], monitor="val_loss", mode="max",
                                 save_best_only=True)
    assert [s["epoch"] for s in saves] == [0, 1, 3]


def test_model_checkpoint_without_save_best_only_saves_every_epoch_and_marks_the_best():
    mc, saves = checkpoint_saves([1.0, 1.2, 0.8, 0.9])
    assert [s["epoch"] for s in saves] == [0, 1, 2, 3]
    assert [s["is_best"] for s in saves] == [True, False, True, False]
    assert mc.best == 0.8


def test_model_checkpoint_initial_value_threshold():
    mc, saves = checkpoint_saves([1.0, 0.85, 0.95, 0.8], save_best_only=True,
                                 initial_value_threshold=0.9)
    assert [s["epoch"] for s in saves] == [1, 3]
    mc, saves = checkpoint_saves([0.5, 0.7, 0.75], monitor="val_accuracy", save_best_only=True,
                                 initial_value_threshold=0.72)
    assert [s["epoch"] for s in saves] == [2]


def test_model_checkpoint_nan_is_never_best():
    mc, saves = checkpoint_saves([1.0, math.nan, 0.5], save_best_only=True)
    assert [s["epoch"] for s in saves] == [0, 2]
    assert mc.best == 0.5


def test_model_checkpoint_filepath_template():
    mc = ModelCheckpoint(filepath="checkpoints/cp-{epoch:04d}-{val_loss:.3f}.npz", verbose=0)
    t = FakeTrainer(mc)
    mc.on_epoch_end(6, {"val_loss": 0.123456, "loss": 0.2})
    assert t.saves[0]["path"] == "checkpoints/cp-0007-0.123.npz"


def test_model_checkpoint_save_weights_only_is_passed_on():
    mc, saves = checkpoint_saves([1.0], save_weights_only=True)
    assert saves[0]["weights_only"] is True


def test_model_checkpoint_save_freq_counts_batches_across_epochs():
    mc = ModelCheckpoint(filepath="b-{epoch}-{batch}.npz", save_freq=2, verbose=0)
    t = FakeTrainer(mc)
    for epoch in range(2):
        for batch in range(3):
            mc.on_batch_end(epoch, batch, {"loss": 1.0})
        mc.on_epoch_end(epoch, {"loss": 1.0})
    assert [s["path"] for s in t.saves] == ["b-1-2.npz", "b-2-1.npz", "b-2-3.npz"]
    assert [(s["epoch"], s["batch"]) for s in t.saves] == [(0, 1), (1, 0), (1, 2)]


@pytest.mark.parametrize("args", [{"filepath": "cp.h5"}, {"save_freq": 0},
                                  {"save_freq": "batch"}, {"max_to_keep": 0},
                                  {"mode": "maximum"}])
def test_model_checkpoint_rejects_bad_arguments(args):
    with pytest.raises(ConfigError):
        ModelCheckpoint(**args)


@pytest.mark.parametrize("filepath,save_freq", [
    ("cp-{val_loss:04d}.npz", "epoch"),    # a float cannot be formatted as an integer
    ("cp-{}.npz", "epoch"),                # positional field
    ("cp-{epoch.npz", "epoch"),
    ("cp-{val_loss:.3f}.npz", 10),         # validation results do not exist after a batch
    ("cp-{epoch}-{batch}.npz", "epoch"),   # nor is there a batch number at an epoch end
])
def test_model_checkpoint_rejects_a_template_that_cannot_be_filled_before_training(filepath,
                                                                                   save_freq):
    with pytest.raises(ConfigError) as e:
        ModelCheckpoint(filepath=filepath, save_freq=save_freq)
    assert e.value.key == "filepath"


def test_model_checkpoint_requires_the_quantities_its_file_name_uses():
    mc = ModelCheckpoint(filepath="cp-{epoch:04d}-{val_acc:.2f}-{loss:.2f}.npz")
    mc.monitor_explicit = False
    assert mc.required_logs() == [("filepath", "val_acc"), ("filepath", "loss")]
    mc.monitor_explicit = True
    assert ("monitor", "val_loss") in mc.required_logs()


# -- ReduceLROnPlateau ----------------------------------------------------------------------
def lr_after_each_epoch(values, monitor="val_loss", lr=1.0, **kwargs):
    cb = ReduceLROnPlateau(monitor=monitor, verbose=0, **kwargs)
    t = FakeTrainer(cb, lr=lr)
    out = []
    for epoch, v in enumerate(values):
        cb.on_epoch_end(epoch, {monitor: v})
        out.append(t.optimizer.learning_rate)
    return out


def test_reduce_lr_factor_and_patience():
    assert lr_after_each_epoch([1.0] * 6, factor=0.5, patience=2) == [1, 1, .5, .5, .25, .25]
    assert lr_after_each_epoch([1.0, 0.9, 0.8, 0.7], factor=0.5, patience=1) == [1] * 4
    # an improvement resets the wait
    assert lr_after_each_epoch([1.0, 1.0, 0.5, 0.6, 0.6], factor=0.5,
                               patience=2) == [1, 1, 1, 1, .5]


def test_reduce_lr_min_delta():
    # default min_delta 1e-4: a smaller decrease is a plateau
    assert lr_after_each_epoch([1.0, 0.99995], factor=0.5, patience=1) == [1, .5]
    assert lr_after_each_epoch([1.0, 0.9], factor=0.5, patience=1, min_delta=0.2) == [1, .5]
    assert lr_after_each_epoch([0.5, 0.6], monitor="val_accuracy", factor=0.5,
                               patience=1) == [1, 1]


def test_reduce_lr_cooldown():
    # Keras: the cooldown epochs after a reduction count no wait; with patience 1 and
    # cooldown 2 the rate falls at epochs 1, 3, 5
    assert lr_after_each_epoch([1.0] * 6, factor=0.5, patience=1) == [1, .5, .25, .125,
                                                                      .0625, .03125]
    assert lr_after_each_epoch([1.0] * 6, factor=0.5, patience=1, cooldown=2) == [
        1, .5, .5, .25, .25, .125]
    assert lr_after_each_epoch([1.0] * 7, factor=0.5, patience=2, cooldown=2) == [
        1, 1, .5, .5, .5, .25, .25]


def test_reduce_lr_min_lr_is_a_floor():
    lrs = lr_after_each_epoch([1.0] * 5, lr=1.0, factor=0.1, patience=1, min_lr=0.05)
    assert lrs == [1.0, 0.1, 0.05, 0.05, 0.05]


def test_reduce_lr_state_round_trip():
    a = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=1, verbose=0)
    t = FakeTrainer(a)
    for epoch, v in enumerate([1.0, 1.0, 1.0]):
        a.on_epoch_end(epoch, {"loss": v})
    b = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=1, verbose=0)
    tb = FakeTrainer(b, lr=t.optimizer.learning_rate)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    for epoch, v in enumerate([1.0, 1.0], start=3):
        a.on_epoch_end(epoch, {"loss": v})
        b.on_epoch_end(epoch, {"loss": v})
    assert tb.optimizer.learning_rate == t.optimizer.learning_rate == 0.25


@pytest.mark.parametrize("args", [{"factor": 1.0}, {"factor": 1.5}, {"factor": 0},
                                  {"patience": -1}, {"min_lr": -1}, {"cooldown": 1.5}])
def test_reduce_lr_rejects_bad_arguments(args):
    with pytest.raises(ConfigError):
        ReduceLROnPlateau(**args)


# -- TerminateOnNaN, CSVLogger, make_callbacks ---------------------------------------------
def test_terminate_on_nan_aborts_on_nan_or_inf_loss_only():
    cb = TerminateOnNaN()
    FakeTrainer(cb)
    cb.on_batch_end(0, 0, {"loss": 1e30})
    for bad in (math.nan, math.inf):
        with pytest.raises(TrainingAborted, match="epoch 2, batch 4"):
            cb.on_batch_end(1, 3, {"loss": bad})


@pytest.mark.parametrize("args", [{"filename": ""}, {"separator": ";;"}, {"append": "yes"}])
def test_csv_logger_rejects_bad_arguments(args):
    with pytest.raises(ConfigError):
        CSVLogger(**args)


def test_make_callbacks_names_the_key_of_a_bad_argument():
    with pytest.raises(ConfigError) as e:
        make_callbacks([{"EarlyStopping": {"patience": 2}}, {"ReduceLROnPlateau": {"factor": 2}}])
    assert e.value.key == "fit.callbacks.1.ReduceLROnPlateau.factor"
    pairs = make_callbacks(["TerminateOnNaN", {"ModelCheckpoint": None}])
    assert [type(cb).__name__ for cb, _ in pairs] == ["TerminateOnNaN", "ModelCheckpoint"]
    assert pairs[1][0].monitor_explicit is False


# -- end to end: a small real fit -----------------------------------------------------------
CONFIG = """\
name: t
seed: 0
data:
  path: d.npz
  validation_split: 0.25
  normalize: standard
model:
  input_shape: [4]
  layers:
    - Dense: {{units: 16, activation: relu}}
    - Dense: {{units: 3, activation: softmax}}
compile:
  optimizer: {optimizer}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: {epochs}
  batch_size: 16
  callbacks: {callbacks}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    # random labels: the model overfits, so val_loss goes down and then up
    np.savez(tmp_path / "d.npz", x_train=rng.standard_normal((64, 4)).astype("float32"),
             y_train=rng.integers(0, 3, 64))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_config(project, callbacks, epochs=4, optimizer="{name: adam, learning_rate: 0.05}"):
    path = project / "c.yaml"
    path.write_text(CONFIG.format(callbacks=json.dumps(callbacks), epochs=epochs,
                                  optimizer=optimizer))
    return path


def fit(project, callbacks, epochs=4, optimizer="{name: adam, learning_rate: 0.05}",
        before_fit=None):
    """Train 48 samples (3 batches of 16) for `epochs`; returns the trainer."""
    path = write_config(project, callbacks, epochs, optimizer)
    config = from_config.open_config(path, needs=("model", "compile.loss", "data"))
    session = nntrain.Model.from_config(config).prepare_fit(run_dir="runs/t", verbose=0)
    if before_fit:
        before_fit(session.trainer)
    with from_config.located(session.config):
        session.trainer.fit(session.epochs)
    return session.trainer


def checkpoint_files(trainer):
    return sorted(p.name for p in (trainer.run_dir / "checkpoints").glob("*.npz"))


def index(trainer):
    return json.loads((trainer.run_dir / "checkpoints" / "checkpoint").read_text())


def test_fit_restore_best_weights_when_the_last_epoch_ends_without_stopping(project):
    t = fit(project, [{"EarlyStopping": {"monitor": "val_loss", "patience": 50,
                                          "restore_best_weights": True}}], epochs=8)
    history = t.state.history
    assert len(history) == 8                       # never stopped
    val = [h["val_loss"] for h in history]
    best = int(np.argmin(val)) + 1
    assert best != 8, "the data should make the last epoch not the best"
    best_cp = ckpt.load_checkpoint(t.run_dir / f"checkpoints/cp-{best:04d}.npz")
    last_cp = ckpt.load_checkpoint(t.run_dir / "checkpoints/cp-0008.npz")
    for k, v in t.model.weights().items():
        np.testing.assert_array_equal(v, best_cp.weights[k])
    assert any(not np.array_equal(last_cp.weights[k], best_cp.weights[k]) for k in last_cp.weights)
    # and the restored model scores the best epoch's val_loss
    assert t.evaluate(t.dataset.val)["loss"] == pytest.approx(min(val), rel=1e-6)


def test_fit_early_stopping_stops_after_patience_epochs(project):
    t = fit(project, [{"EarlyStopping": {"monitor": "val_loss", "patience": 1}}], epochs=30)
    val = [h["val_loss"] for h in t.state.history]
    # stopped at the first epoch that did not improve on the best before it (patience 1)
    first_bad = next(i for i in range(1, 30) if val[i] >= min(val[:i]))
    assert len(val) == first_bad + 1 < 30
    assert checkpoint_files(t)[-1] == f"cp-{len(val):04d}.npz"


def test_fit_save_best_only_writes_only_improving_epochs_and_indexes_the_best(project):
    t = fit(project, [{"ModelCheckpoint": {"monitor": "val_loss", "save_best_only": True}}],
            epochs=8)
    val = [h["val_loss"] for h in t.state.history]
    improving = [i + 1 for i in range(8) if val[i] < min(val[:i], default=math.inf)]
    assert len(improving) < 8
    assert checkpoint_files(t) == [f"cp-{e:04d}.npz" for e in improving]
    idx = index(t)
    assert idx["best"] == idx["latest"] == f"cp-{improving[-1]:04d}.npz"
    assert t.callbacks[0].best == min(val)


def test_fit_filepath_template_with_epoch_and_val_loss(project):
    t = fit(project, [{"ModelCheckpoint": {
        "filepath": "checkpoints/m-{epoch:04d}-{val_loss:.3f}.npz"}}], epochs=3)
    expected = [f"m-{h['epoch']:04d}-{h['val_loss']:.3f}.npz" for h in t.state.history]
    assert checkpoint_files(t) == expected
    assert index(t)["latest"] == expected[-1]


def test_fit_save_weights_only_has_no_optimizer_arrays(project):
    t = fit(project, [{"ModelCheckpoint": {"save_weights_only": True}}], epochs=2)
    with np.load(t.run_dir / "checkpoints/cp-0002.npz", allow_pickle=False) as z:
        keys = set(z.files)
        meta = json.loads(str(z["meta"]))
    assert not [k for k in keys if k.startswith("optimizer/")]
    assert {"weights/dense/kernel", "weights/dense/bias", "weights/dense_1/kernel",
            "weights/dense_1/bias", "meta"} <= keys
    assert meta["weights_only"] is True
    assert index(t)["checkpoints"][-1]["weights_only"] is True


def test_fit_save_freq_in_batches(project):
    t = fit(project, [{"ModelCheckpoint": {"filepath": "checkpoints/b-{epoch:02d}-{batch:02d}.npz",
                                           "save_freq": 2}}], epochs=2)
    # 3 batches per epoch: saves after the 2nd, 4th and 6th batch of the run
    assert checkpoint_files(t) == ["b-01-02.npz", "b-02-01.npz", "b-02-03.npz"]
    entries = index(t)["checkpoints"]
    assert [e["global_step"] for e in entries] == [2, 4, 6]
    for e in entries:
        cp = ckpt.load_checkpoint(t.run_dir / "checkpoints" / e["file"])
        assert cp.meta["global_step"] == e["global_step"]


def test_fit_max_to_keep_prunes_the_oldest_after_the_new_one_is_indexed_and_keeps_the_best(
        project, monkeypatch):
    events = []
    real_drop = ckpt.drop_from_index

    def drop_from_index(directory, names):
        idx = ckpt.read_index(directory)
        # the new checkpoint is already committed and indexed as latest; the dropped files
        # still exist (the index never names a missing file)
        assert (directory / idx["latest"]).is_file()
        assert all((directory / n).is_file() for n in names)
        events.append((idx["latest"], sorted(names)))
        return real_drop(directory, names)

    monkeypatch.setattr(ckpt, "drop_from_index", drop_from_index)
    t = fit(project, [{"ModelCheckpoint": {"monitor": "val_loss", "max_to_keep": 2}}],
            epochs=8)
    val = [h["val_loss"] for h in t.state.history]
    best = int(np.argmin(val)) + 1
    assert best < 7, "the data should make the best epoch an old one"
    kept = sorted({f"cp-{best:04d}.npz", "cp-0007.npz", "cp-0008.npz"})
    assert checkpoint_files(t) == kept
    idx = index(t)
    assert sorted(e["file"] for e in idx["checkpoints"]) == kept
    assert idx["best"] == f"cp-{best:04d}.npz" and idx["latest"] == "cp-0008.npz"
    assert events and events[0][0] == "cp-0003.npz"   # the first prune came with the third file
    dropped = sorted(n for _, names in events for n in names)
    assert dropped == sorted(f"cp-{e:04d}.npz" for e in range(1, 7) if e != best)


def test_fit_reduce_lr_is_used_by_the_next_step_and_logged(project):
    steps = []

    def record_steps(trainer):
        opt = trainer.optimizer
        real_apply = opt.apply

        def apply(params, grads):
            before = {k: v.copy() for k, v in params.items()}
            grad = {k: grads[k].copy() for k in params}
            real_apply(params, grads)
            steps.append({k: (before[k] - params[k], grad[k]) for k in params})
        opt.apply = apply

    # min_delta 100: every epoch after the first is a plateau; patience 0 halves at once
    t = fit(project, [{"ReduceLROnPlateau": {"monitor": "loss", "factor": 0.5, "patience": 0,
                                              "min_delta": 100}}],
            epochs=4, optimizer="{name: sgd, learning_rate: 0.1}", before_fit=record_steps)
    assert [h["lr"] for h in t.state.history] == [0.1, 0.1, 0.05, 0.025]
    assert len(steps) == 12
    for i, step in enumerate(steps):
        lr = t.state.history[i // 3]["lr"]          # 3 steps per epoch
        for k, (delta, grad) in step.items():
            np.testing.assert_allclose(delta, lr * grad, rtol=1e-4, atol=1e-7,
                                       err_msg=f"step {i} {k}")
    with open(t.run_dir / "history.csv") as f:
        assert [float(r["lr"]) for r in csv.DictReader(f)] == [0.1, 0.1, 0.05, 0.025]


def test_fit_csv_logger_writes_the_history(project):
    t = fit(project, [{"CSVLogger": {"filename": "logs/train.csv", "separator": ";"}}], epochs=3)
    text = (t.run_dir / "logs/train.csv").read_text()
    rows = list(csv.reader(text.splitlines(), delimiter=";"))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    assert len(rows) == 4
    for row, h in zip(rows[1:], t.state.history):
        assert int(row[0]) == h["epoch"]
        for name, cell in zip(rows[0][1:], row[1:]):
            assert float(cell) == h[name]


def test_fit_terminate_on_nan_exits_1_and_writes_no_checkpoint_of_nan_weights(
        project, monkeypatch, run_cli):
    """After 2 good epochs (6 batches) the 7th step yields a NaN loss and NaN weights."""
    from nntrain.training import trainer as trainer_module
    calls = []
    real = trainer_module.forward_backward

    def poisoned(model, loss, xs, y, training=True, **kwargs):
        calls.append(1)
        value, out, dxs = real(model, loss, xs, y, training, **kwargs)
        if len(calls) >= 7:
            for g in model.gradients().values():
                g[...] = np.nan
            value = math.nan
        return value, out, dxs

    monkeypatch.setattr(trainer_module, "forward_backward", poisoned)
    # a batch-level checkpoint before TerminateOnNaN asks to save the NaN step: it must not
    write_config(project, [{"ModelCheckpoint": {"filepath": "checkpoints/b-{epoch}-{batch}.npz",
                                                "save_freq": 1}},
                           "TerminateOnNaN",
                           {"ModelCheckpoint": {"monitor": "val_loss"}}], epochs=4)
    code, out, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 1
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ")
    assert "nan" in err.lower()
    assert len(calls) == 7
    run = project / "runs" / "t"
    files = sorted(p.name for p in (run / "checkpoints").glob("*.npz"))
    assert files == ["b-1-1.npz", "b-1-2.npz", "b-1-3.npz", "b-2-1.npz", "b-2-2.npz",
                     "b-2-3.npz", "cp-0001.npz", "cp-0002.npz"]
    for name in files:
        cp = ckpt.load_checkpoint(run / "checkpoints" / name)
        assert all(np.isfinite(v).all() for v in cp.weights.values()), name
    assert json.loads((run / "checkpoints/checkpoint").read_text())["latest"] == "cp-0002.npz"
    assert ckpt.resolve_checkpoint(run / "checkpoints", "latest").name == "cp-0002.npz"
    with open(run / "history.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2"]


def test_callback_state_survives_resume(project, run_cli):
    """Straight 10 epochs vs 3 + `resume --latest --epochs 10`: the same early stop, the same
    learning-rate reductions, the same pruned files (max_to_keep counts files written before
    the resume) and bit-identical weights."""
    write_config(project, [{"ModelCheckpoint": {"monitor": "val_loss", "max_to_keep": 2}},
                           {"EarlyStopping": {"monitor": "val_loss", "patience": 3}},
                           {"ReduceLROnPlateau": {"monitor": "val_loss", "factor": 0.5,
                                                  "patience": 1}}], epochs=10)
    assert run_cli("fit", "c.yaml", "--quiet", "--run-dir", "runs/a")[0] == 0
    assert run_cli("fit", "c.yaml", "--quiet", "--run-dir", "runs/b",
                   "--set", "fit.epochs=3")[0] == 0
    code, _, err = run_cli("resume", "runs/b", "--latest", "--epochs", "10", "--quiet")
    assert code == 0, err
    runs_ = {r: project / "runs" / r for r in "ab"}
    hist = {}
    for r, path in runs_.items():
        with open(path / "history.csv") as f:
            hist[r] = [{k: v for k, v in row.items() if k != "seconds"}
                       for row in csv.DictReader(f)]
    assert 3 < len(hist["a"]) < 10, "early stopping should act after the resume point"
    assert len({row["lr"] for row in hist["a"]}) > 1, "the rate should have been reduced"
    assert hist["a"] == hist["b"]
    files = {r: sorted(p.name for p in (path / "checkpoints").glob("cp-*.npz"))
             for r, path in runs_.items()}
    assert files["a"] == files["b"] and len(files["a"]) <= 3
    last = files["a"][-1]
    a = ckpt.load_checkpoint(runs_["a"] / "checkpoints" / last)
    b = ckpt.load_checkpoint(runs_["b"] / "checkpoints" / last)
    for k in a.weights:
        np.testing.assert_array_equal(a.weights[k], b.weights[k])


# -- what the house gives every callback ------------------------------------------------------
def test_auto_mode_follows_the_direction_the_metric_declares():
    """A metric whose name says nothing (`val_score`) but which declares "up" is maximized."""
    class Declaring(FakeTrainer):
        def metric_direction(self, name):
            return "up" if name.endswith("score") else None
    es = EarlyStopping(monitor="val_score", patience=1, verbose=0)
    t = Declaring(es)
    es.check()
    assert es.maximize and es.best == -math.inf
    t.epochs("val_score", [0.5, 0.6, 0.7])
    assert not t.stop_training                      # rising scores are improvements
    plain = EarlyStopping(monitor="val_score", patience=1, verbose=0)
    FakeTrainer(plain).epochs("val_score", [0.5, 0.6, 0.7])
    assert not plain.maximize                       # without a declaration: by name, a loss


def test_csv_logger_append_keeps_what_the_file_held(project):
    (project / "shared.csv").write_text("epoch,loss\nold,row\n")
    t = fit(project, [{"CSVLogger": {"filename": "../../shared.csv", "append": True}},
                      {"CSVLogger": {"filename": "own.csv"}}], epochs=2)
    lines = (project / "shared.csv").read_text().splitlines()
    assert lines[:2] == ["epoch,loss", "old,row"]
    own = (t.run_dir / "own.csv").read_text().splitlines()
    assert lines[2:] == own[1:] and len(own) == 3   # the run's rows, no second header

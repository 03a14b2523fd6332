"""The TensorBoard callback: the event files it writes are read back (TFRecord framing parsed
here, events decoded with tensorboardX's protobuf classes) and hold Keras's tags — epoch scalars
equal to the history, batch scalars every `update_freq` steps, weight histograms, validation
scalars in their own directory, layer statistics of a callback that offers them — and a resumed
run purges what the stopped one wrote past its checkpoint. Without tensorboardX: one error line
naming the extra."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest
import yaml

pytest.importorskip("tensorboardX")

import nntrain  # noqa: E402
from nntrain.training.callbacks import Callback, TensorBoard  # noqa: E402


def read_events(directory):
    """Every event of every event file in `directory`, in file order."""
    from tensorboardX.proto.event_pb2 import Event
    events = []
    for path in sorted(directory.glob("events.out.tfevents.*")):
        data, i = path.read_bytes(), 0
        while i < len(data):
            (n,) = struct.unpack("<Q", data[i:i + 8])
            events.append(Event.FromString(data[i + 12:i + 12 + n]))
            i += 12 + n + 4          # length, its crc, the record, its crc
    return events


def scalars(directory) -> dict[str, dict[int, float]]:
    out: dict = {}
    for e in read_events(directory):
        for v in e.summary.value:
            if v.WhichOneof("value") == "simple_value":
                out.setdefault(v.tag, {})[e.step] = v.simple_value
    return out


def histograms(directory) -> dict[str, list[int]]:
    out: dict = {}
    for e in read_events(directory):
        for v in e.summary.value:
            if v.WhichOneof("value") == "histo":
                out.setdefault(v.tag, []).append(e.step)
    return out


CONFIG = """\
name: tb
seed: 2
data: {path: d.npz, validation_split: 0.25}
model:
  input_shape: [4]
  layers:
    - Dense: {units: 6, activation: relu}
    - Dense: {units: 3, activation: softmax}
compile:
  optimizer: {name: adam, learning_rate: 0.01}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: 3
  batch_size: 16
  callbacks:
    - ModelCheckpoint: {filepath: "checkpoints/cp-{epoch:04d}-{batch:02d}.npz", save_freq: 2,
                        verbose: 0}
    - TensorBoard: {log_dir: tb, histogram_freq: 1, update_freq: 2}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")   # 48 to train: 3 batches an epoch
    np.savez(tmp_path / "d.npz", x_train=x, y_train=(x[:, 0] > 0) + (x[:, 1] > 0.5))
    (tmp_path / "c.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def history(run):
    import csv
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


def test_the_event_files_hold_the_run(project, run_cli):
    code, _, err = run_cli("fit", "c.yaml", "--run-dir", "runs/a", "--quiet")
    assert code == 0, err
    run = project / "runs/a"
    train, val = scalars(run / "tb/train"), scalars(run / "tb/validation")
    rows = history(run)
    for name in ("loss", "accuracy"):
        assert sorted(train[f"epoch_{name}"]) == [0, 1, 2]
        np.testing.assert_allclose([train[f"epoch_{name}"][e] for e in range(3)],
                                   [float(r[name]) for r in rows], rtol=1e-6)
        np.testing.assert_allclose([val[f"epoch_{name}"][e] for e in range(3)],
                                   [float(r[f"val_{name}"]) for r in rows], rtol=1e-6)
    np.testing.assert_allclose([train["epoch_learning_rate"][e] for e in range(3)],
                               [float(r["lr"]) for r in rows])
    assert "epoch_seconds" not in train and not any(t.startswith("epoch_val") for t in train)
    assert sorted(train["batch_loss"]) == [2, 4, 6, 8]          # every 2 of the 9 steps
    assert set(histograms(run / "tb/train")) == {
        "dense/kernel/histogram", "dense/bias/histogram", "dense_1/kernel/histogram",
        "dense_1/bias/histogram"}
    assert histograms(run / "tb/train")["dense/kernel/histogram"] == [0, 1, 2]


def test_a_resumed_run_purges_what_the_stopped_one_wrote_past_its_checkpoint(project, run_cli):
    """Stopped after epoch 2, resumed from cp-0002-01 (step 4): the new event file starts with
    a session restart at step 4, so TensorBoard drops the stopped run's batch scalars from
    step 4 on; the resumed run writes them again, as the straight run did."""
    assert run_cli("fit", "c.yaml", "--run-dir", "runs/b", "--quiet",
                   "--set", "fit.epochs=2")[0] == 0
    code, _, err = run_cli("resume", "runs/b", "--checkpoint", "checkpoints/cp-0002-01.npz",
                           "--epochs", 3, "--quiet")
    assert code == 0, err
    events = read_events(project / "runs/b/tb/train")
    restarts = [e.step for e in events if e.WhichOneof("what") == "session_log"]
    assert restarts == [4]
    train = scalars(project / "runs/b/tb/train")
    assert sorted(train["batch_loss"]) == [2, 4, 6, 8] and sorted(train["epoch_loss"]) == [0, 1, 2]


class FakeLayerStats(Callback):
    """Stands in for the diagnostics' LayerStats: statistics at every epoch end."""

    def __init__(self):
        self.latest = None

    def on_epoch_end(self, epoch, logs):
        step = int(self.trainer.optimizer.iterations)
        self.latest = {"step": step, "layers": {"dense": {"mean": 0.5 + epoch,
                                                          "dead_fraction": 0.1},
                                                "dense_1": {"grad_norm": float(step)}}}

    def latest_stats(self):
        return self.latest


def test_layer_statistics_of_another_callback_are_written(project):
    """Whatever their order: the statistics computed after TensorBoard's epoch end are written
    at its next one, or at the end of training."""
    x = np.random.default_rng(1).standard_normal((32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype(int)
    config = yaml.safe_load(CONFIG)
    config["fit"]["callbacks"] = []
    model = nntrain.Model.from_config(config)
    model.fit(x, y, epochs=2, verbose=0, run_dir="runs/s",
              callbacks=[TensorBoard(log_dir="tb"), FakeLayerStats()])
    train = scalars(project / "runs/s/tb/train")
    # 32 samples in batches of 16: the epochs end at steps 2 and 4
    assert train["layer_stats/dense/mean"] == {2: 0.5, 4: 1.5}
    assert train["layer_stats/dense_1/grad_norm"] == {2: 2.0, 4: 4.0}
    assert set(train["layer_stats/dense/dead_fraction"]) == {2, 4}


def test_with_layer_stats_its_statistics_go_to_tensorboard_too(project, run_cli):
    config = yaml.safe_load(CONFIG)
    config["fit"]["callbacks"] = [{"TensorBoard": {"log_dir": "tb"}},
                                  {"LayerStats": {"every": 1, "verbose": 0}}]
    (project / "ls.yaml").write_text(yaml.safe_dump(config))
    code, _, err = run_cli("fit", "ls.yaml", "--run-dir", "runs/ls", "--quiet")
    assert code == 0, err
    train = scalars(project / "runs/ls/tb/train")
    assert train["layer_stats/dense/mean"].keys() == {3, 6, 9}        # each epoch's end
    assert {"layer_stats/dense/std", "layer_stats/dense/dead_fraction",
            "layer_stats/dense_1/grad_norm"} <= set(train)
    import csv
    with open(project / "runs/ls/layer_stats.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["layer"] == "dense"]
    assert [train["layer_stats/dense/mean"][int(r["step"])] for r in rows] == pytest.approx(
        [float(r["mean"]) for r in rows], rel=1e-6)


def test_keras_arguments(project):
    tb = TensorBoard(update_freq="batch", write_graph=False, write_steps_per_second=True)
    assert tb.update_freq == "batch" and tb.get_config()["write_graph"] is False
    from nntrain.errors import ConfigError
    for bad, message in (({"update_freq": 0}, "number of batches"),
                         ({"write_images": True}, "not supported"),
                         ({"profile_batch": 2}, "not supported"),
                         ({"histogram_freq": -1}, "non-negative")):
        with pytest.raises(ConfigError, match=message):
            TensorBoard(**bad)


def test_without_tensorboardx_one_error_line(project, run_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    code, out, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 2
    assert err.strip().splitlines() == [
        'error: c.yaml:19: fit.callbacks.1.TensorBoard: TensorBoard needs tensorboardX: '
        'pip install "nntrain[tensorboard]"']
    assert not (project / "runs").exists()

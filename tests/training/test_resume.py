"""Exact resume (SPEC §5), in the manner of Caffe's TestSnapshot but harder: N epochs straight
versus k epochs, a real stop (the process's `fit` returns), then `resume` to N in a fresh call
must give bit-identical weights, optimizer slots, callback state, random-stream state and
history — with Adam, clipnorm, a schedule or ReduceLROnPlateau, Dropout, BatchNormalization,
L2, EarlyStopping and ModelCheckpoints all active, at an epoch boundary and mid-epoch.

Then the refusals: a changed model section, a weights-only checkpoint, no checkpoint at all —
exit 2, one ``error:`` line, nothing touched.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import nntrain
from nntrain.training.trainer import Trainer

N, K = 6, 3          # epochs straight; epochs before the stop
BATCHES = 10         # 160 training samples / batch_size 16

DATA_AND_MODEL = """\
name: r
seed: 3
data:
  path: d.npz
  validation_split: 0.2
  normalize: standard
model:
  input_shape: [8]
  layers:
    - Dense: {units: 16, kernel_regularizer: {l2: 1.0e-3}}
    - BatchNormalization: {}
    - Activation: {activation: relu}
    - Dropout: {rate: 0.3}
    - Dense: {units: 3, activation: softmax, kernel_regularizer: {l2: 1.0e-3}}
"""

# Constant rate + ReduceLROnPlateau: min_delta 10 means "never improves" after the first epoch,
# so with patience 1 the rate is halved at the end of every epoch from epoch 2 on — it has fired
# twice before the stop at K = 3. EarlyStopping restores its best weights at the end of both
# runs; what is compared is the checkpoints, written before that (and holding EarlyStopping's
# copy of the best weights as arrays), so both settings of restore_best_weights are comparable.
PLATEAU = DATA_AND_MODEL + """\
compile:
  optimizer: {name: adam, learning_rate: 0.01, clipnorm: 0.5}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: %(epochs)d
  batch_size: 16
  callbacks:
    - ModelCheckpoint: {filepath: %(every)s, verbose: 0%(every_args)s}
    - ModelCheckpoint: {filepath: "checkpoints/best.npz", monitor: val_accuracy,
                        save_best_only: true, verbose: 0}
    - EarlyStopping: {monitor: val_loss, patience: 100, restore_best_weights: true, verbose: 0}
    - ReduceLROnPlateau: {monitor: val_loss, factor: 0.5, patience: 1, min_delta: 10.0,
                          verbose: 0}
    - CSVLogger: {filename: history.csv}
"""

# A schedule fixes the rate at every step, so ReduceLROnPlateau cannot be combined with it (a
# config error); this variant covers the schedule position (a pure function of the step
# counter) and EarlyStopping without restore_best_weights.
SCHEDULE = DATA_AND_MODEL + """\
compile:
  optimizer:
    name: adam
    clipnorm: 0.5
    learning_rate: {schedule: InverseTimeDecay, initial_learning_rate: 0.02, decay_steps: 7,
                    decay_rate: 0.5}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: %(epochs)d
  batch_size: 16
  callbacks:
    - ModelCheckpoint: {filepath: %(every)s, verbose: 0%(every_args)s}
    - ModelCheckpoint: {filepath: "checkpoints/best.npz", monitor: val_loss,
                        save_best_only: true, verbose: 0}
    - EarlyStopping: {monitor: val_accuracy, patience: 100, verbose: 0}
"""

EVERY_EPOCH = {"every": '"checkpoints/cp-{epoch:04d}.npz"', "every_args": ""}
EVERY_3_BATCHES = {"every": '"checkpoints/cp-{epoch:04d}-{batch:02d}.npz"',
                   "every_args": ", save_freq: 3, max_to_keep: 4"}


# -- helpers ----------------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path, monkeypatch):
    """A directory with 200 samples of 8 features, 3 classes, as d.npz; the cwd."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((200, 8)) * 3 + 1).astype("float32")
    y = (x[:, 0] + x[:, 1] > 2).astype(int) + (x[:, 2] > 1)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_config(project: Path, template: str, saving: dict, name="c.yaml") -> Path:
    path = project / name
    path.write_text(template % {"epochs": N, **saving})
    return path


def arrays_and_meta(path: Path) -> tuple[dict, dict]:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(str(arrays.pop("meta")))


def drop_seconds(meta: dict) -> dict:
    """The meta record without wall-clock times, the one thing that may differ."""
    meta = json.loads(json.dumps(meta))
    for row in meta.get("history", []):
        row.pop("seconds", None)
    meta.get("logs", {}).pop("seconds", None)
    return meta


def assert_same_checkpoint(a: Path, b: Path) -> None:
    """Every array bit-identical (same dtype), and the same meta but for timings. Checkpoints
    hold the optimizer's slots; the final model (final.npz) is weights only."""
    arrays_a, meta_a = arrays_and_meta(a)
    arrays_b, meta_b = arrays_and_meta(b)
    assert sorted(arrays_a) == sorted(arrays_b)
    assert any(k.startswith("optimizer/m/") for k in arrays_a) != (a.name == "final.npz")
    for k in arrays_a:
        assert arrays_a[k].dtype == arrays_b[k].dtype, k
        assert np.array_equal(arrays_a[k], arrays_b[k]), f"{k} differs: {a.name}"
    assert drop_seconds(meta_a) == drop_seconds(meta_b)


def history_rows(run: Path) -> list[dict]:
    with open(run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r.pop("seconds")
    return rows


def index_entries(run: Path) -> list[dict]:
    index = json.loads((run / "checkpoints" / "checkpoint").read_text())
    return [{k: v for k, v in e.items() if k not in ("written", "size")}
            for e in index["checkpoints"]]


def assert_same_run(straight: Path, resumed: Path) -> None:
    names = sorted(p.name for p in (straight / "checkpoints").glob("*.npz"))
    assert names == sorted(p.name for p in (resumed / "checkpoints").glob("*.npz"))
    for name in names:
        assert_same_checkpoint(straight / "checkpoints" / name, resumed / "checkpoints" / name)
    assert history_rows(straight) == history_rows(resumed)
    assert [r["epoch"] for r in history_rows(resumed)] == [str(e) for e in range(1, N + 1)]
    assert index_entries(straight) == index_entries(resumed)


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


# -- exact resume -----------------------------------------------------------------------------
@pytest.mark.parametrize("template", [PLATEAU, SCHEDULE], ids=["plateau", "schedule"])
def test_stop_at_epoch_end_and_resume_is_bit_identical(project, run_cli, template):
    cfg = write_config(project, template, EVERY_EPOCH)
    assert run_cli("fit", cfg, "--run-dir", "runs/straight", "--quiet")[0] == 0
    assert run_cli("fit", cfg, "--run-dir", "runs/stopped", "--quiet",
                   "--set", f"fit.epochs={K}")[0] == 0
    stopped = project / "runs/stopped"
    assert [r["epoch"] for r in history_rows(stopped)] == ["1", "2", "3"]
    _, meta = arrays_and_meta(stopped / f"checkpoints/cp-{K:04d}.npz")
    assert meta["global_step"] == K * BATCHES
    if template is PLATEAU:   # ReduceLROnPlateau has fired (twice) before the stop
        lr = arrays_and_meta(stopped / f"checkpoints/cp-{K:04d}.npz")[0]["optimizer/learning_rate"]
        assert lr == 0.01 * 0.5 ** (K - 1)
    before = history_rows(stopped)

    code, out, err = run_cli("resume", "runs/stopped", "--latest", "--epochs", N)
    assert code == 0, err
    # cp-0003.npz or best.npz: both written at the end of epoch 3, with the same state.
    assert f"at epoch {K + 1}\n" in out
    assert history_rows(stopped)[:K] == before          # appended to, not rewritten
    assert_same_run(project / "runs/straight", stopped)


MID_EPOCH = {   # epochs before the stop, resume arguments, position, (epoch, batch, step) saved
    "--checkpoint": (2, ("--checkpoint", "checkpoints/cp-0002-05.npz"), "epoch 2, batch 6",
                     "cp-0002-05.npz", (1, 5, 15)),
    "--latest": (3, ("--latest",), "epoch 3, batch 11", "cp-0003-10.npz", (2, 10, 30)),
}


@pytest.mark.parametrize("which", MID_EPOCH)
def test_stop_mid_epoch_and_resume_is_bit_identical(project, run_cli, which):
    """Checkpoints every 3 batches (10 per epoch): `cp-0002-05.npz` is written after batch 5 of
    epoch 2; the latest of a 3-epoch run, `cp-0003-10.npz`, after the last batch of epoch 3 but
    before that epoch's validation and callbacks."""
    stop, args, where, name, position = MID_EPOCH[which]
    cfg = write_config(project, PLATEAU, EVERY_3_BATCHES)
    assert run_cli("fit", cfg, "--run-dir", "runs/straight", "--quiet")[0] == 0
    assert run_cli("fit", cfg, "--run-dir", "runs/stopped", "--quiet",
                   "--set", f"fit.epochs={stop}")[0] == 0
    stopped = project / "runs/stopped"
    meta = arrays_and_meta(stopped / "checkpoints" / name)[1]
    assert (meta["epoch"], meta["batch"], meta["global_step"]) == position
    assert meta["partial_epoch"]["seen"] == 16 * position[1]

    code, out, err = run_cli("resume", "runs/stopped", *args, "--epochs", N)
    assert code == 0, err
    assert f"from runs/stopped/checkpoints/{name} at {where}\n" in out
    # max_to_keep: 4 pruned the same files in both runs, also those written before the stop.
    assert len(list((stopped / "checkpoints").glob("cp-*.npz"))) == 4
    assert_same_run(project / "runs/straight", stopped)


def test_resume_through_the_library_gives_the_same_final_model(project):
    """The same through prepare_fit / start_resume, comparing the in-memory model and optimizer
    at the end (after EarlyStopping's on_train_end), not files."""
    from nntrain.from_config import located, open_config
    from nntrain.training.launch import start_resume

    def start_fit(config, run_dir):
        return nntrain.Model.from_config(config).prepare_fit(run_dir=run_dir, verbose=0)

    cfg = write_config(project, PLATEAU, EVERY_3_BATCHES)
    needs = ("model", "compile.loss", "data")

    def train(session, epochs):
        with located(session.config):
            session.trainer.fit(epochs)
        return session.trainer

    straight = train(start_fit(open_config(cfg, needs=needs), run_dir="runs/a"), N)
    train(start_fit(open_config(cfg, needs=needs), run_dir="runs/b"), K)
    session, _, fresh = start_resume(Path("runs/b"), Path("runs/b/checkpoints/cp-0003-07.npz"),
                                     epochs=N, weights_only_ok=False)
    assert not fresh
    resumed = train(session, N)
    for k, v in straight.model.weights().items():
        assert np.array_equal(v, resumed.model.weights()[k]), k
    opt_a, opt_b = straight.optimizer.state_arrays(), resumed.optimizer.state_arrays()
    assert opt_a.keys() == opt_b.keys()
    for k in opt_a:
        assert np.array_equal(opt_a[k], opt_b[k]), k
    assert ([drop_seconds({"history": [r]})["history"][0] for r in straight.state.history]
            == [drop_seconds({"history": [r]})["history"][0] for r in resumed.state.history])


# What makes the comparisons above meaningful: with any one piece of state not taken back, the
# resumed run differs. Each sabotage runs after the real restore, on a mid-epoch resume.
def _reset(generator):
    generator.bit_generator.state = np.random.default_rng(99).bit_generator.state


SABOTAGE = {
    "dropout stream": lambda t: _reset(t.dropout_rng),
    "shuffled order of the epoch": lambda t: setattr(
        t.state, "epoch_shuffle_state", np.random.default_rng(99).bit_generator.state),
    "shuffle stream": lambda t: _reset(t.shuffle_rng),
    "optimizer slots": lambda t: [a.fill(0) for k, a in t.optimizer.state_arrays().items()
                                  if k.startswith("v/")],
    "learning rate": lambda t: t.optimizer.set_learning_rate(0.007),
    "step counter": lambda t: setattr(t.optimizer, "iterations", 0),
    "partial epoch's sums": lambda t: t.state.sums.update(loss=0.0),
}


@pytest.mark.parametrize("broken", SABOTAGE)
def test_a_resume_missing_any_state_is_not_identical(project, run_cli, monkeypatch, broken):
    """Mid-epoch resume from cp-0002-05 — except for the shuffle stream, which a mid-epoch
    resume overwrites with the epoch's saved order: that one from the end of epoch 2."""
    at_epoch_end = broken == "shuffle stream"
    cfg = write_config(project, PLATEAU, EVERY_EPOCH if at_epoch_end else EVERY_3_BATCHES)
    assert run_cli("fit", cfg, "--run-dir", "runs/straight", "--quiet")[0] == 0
    assert run_cli("fit", cfg, "--run-dir", "runs/stopped", "--quiet",
                   "--set", "fit.epochs=2")[0] == 0
    real_restore = Trainer.restore

    def restore(self, cp):
        real_restore(self, cp)
        SABOTAGE[broken](self)
    monkeypatch.setattr(Trainer, "restore", restore)
    which = "cp-0002.npz" if at_epoch_end else "cp-0002-05.npz"
    assert run_cli("resume", "runs/stopped", "--checkpoint", f"checkpoints/{which}",
                   "--epochs", N, "--quiet")[0] == 0
    last = f"cp-{N:04d}.npz" if at_epoch_end else f"cp-{N:04d}-10.npz"
    a = arrays_and_meta(project / "runs/straight/checkpoints" / last)
    b = arrays_and_meta(project / "runs/stopped/checkpoints" / last)
    if broken == "partial epoch's sums":   # only the logged loss of epoch 2 is wrong
        assert a[1]["history"][1]["loss"] != b[1]["history"][1]["loss"]
    else:
        assert not np.array_equal(a[0]["weights/dense/kernel"], b[0]["weights/dense/kernel"])


def test_another_seed_gives_another_run(project, run_cli):
    cfg = write_config(project, PLATEAU, EVERY_EPOCH)
    assert run_cli("fit", cfg, "--run-dir", "runs/a", "--quiet", "--set", "fit.epochs=1")[0] == 0
    assert run_cli("fit", cfg, "--run-dir", "runs/b", "--quiet", "--set", "fit.epochs=1",
                   "--set", "seed=4")[0] == 0
    a = arrays_and_meta(project / "runs/a/checkpoints/cp-0001.npz")[0]
    b = arrays_and_meta(project / "runs/b/checkpoints/cp-0001.npz")[0]
    assert not np.array_equal(a["weights/dense/kernel"], b["weights/dense/kernel"])


def test_resume_takes_the_normalization_statistics_from_the_checkpoint(project, run_cli):
    """Statistics are the checkpoint's, not recomputed from a data file that changed since."""
    from nntrain.training.assembly import assemble
    from nntrain.training.launch import start_resume
    cfg = write_config(project, PLATEAU, EVERY_EPOCH)
    assert run_cli("fit", cfg, "--run-dir", "runs/stopped", "--quiet",
                   "--set", f"fit.epochs={K}")[0] == 0
    with np.load(project / "d.npz") as z:
        x, y = z["x_train"] * 2 + 1, z["y_train"]
    np.savez(project / "d.npz", x_train=x, y_train=y)
    session, cp, _ = start_resume(Path("runs/stopped"), None, epochs=N, weights_only_ok=False)
    assert session.trainer.dataset.normalizer.state() == cp.meta["normalizer"]
    recomputed = assemble(session.config, Path("runs/stopped"))
    assert recomputed.trainer.dataset.normalizer.state() != cp.meta["normalizer"]


# -- refusals ---------------------------------------------------------------------------------
@pytest.fixture
def stopped_run(project, run_cli):
    cfg = write_config(project, PLATEAU, EVERY_EPOCH)
    assert run_cli("fit", cfg, "--run-dir", "runs/x", "--quiet",
                   "--set", f"fit.epochs={K}")[0] == 0
    return project / "runs/x"


def test_refuses_when_the_model_section_changed(stopped_run, run_cli):
    config = yaml.safe_load((stopped_run / "config.yaml").read_text())
    config["model"]["layers"][3]["Dropout"]["rate"] = 0.5     # same shapes, another model
    (stopped_run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    before = snapshot(stopped_run)
    code, out, err = run_cli("resume", stopped_run, "--latest", "--epochs", N)
    assert code == 2
    line = one_error_line(err)
    assert "model section changed" in line and f"cp-{K:04d}.npz" in line
    assert snapshot(stopped_run) == before


def test_refuses_a_weights_only_checkpoint_unless_asked(project, run_cli):
    cfg = write_config(project, PLATEAU, {"every": '"checkpoints/cp-{epoch:04d}.npz"',
                                          "every_args": ", save_weights_only: true"})
    assert run_cli("fit", cfg, "--run-dir", "runs/w", "--quiet",
                   "--set", f"fit.epochs={K}")[0] == 0
    run = project / "runs/w"
    # best.npz (a full checkpoint) is older than cp-0003.npz when epoch 3 was not the best.
    (run / "checkpoints/best.npz").unlink()
    before = snapshot(run)
    code, out, err = run_cli("resume", run, "--latest", "--epochs", N)
    assert code == 2
    assert "--weights-only-ok" in one_error_line(err)
    assert snapshot(run) == before

    code, out, err = run_cli("resume", run, "--latest", "--epochs", N, "--weights-only-ok")
    assert code == 0, err
    assert "fresh optimizer" in out
    assert [r["epoch"] for r in history_rows(run)] == [str(e) for e in range(1, N + 1)]
    arrays, meta = arrays_and_meta(run / f"checkpoints/cp-{N:04d}.npz")
    assert not any(k.startswith("optimizer/") for k in arrays)
    assert meta["global_step"] == (N - K) * BATCHES      # the optimizer started afresh


def test_refuses_when_there_is_no_checkpoint(stopped_run, run_cli, project):
    empty = project / "runs/empty"
    empty.mkdir()
    (empty / "config.yaml").write_bytes((stopped_run / "config.yaml").read_bytes())
    before = snapshot(project / "runs")
    code, _, err = run_cli("resume", empty, "--latest")
    assert code == 2 and "no checkpoint" in one_error_line(err)
    code, _, err = run_cli("resume", stopped_run, "--checkpoint", "checkpoints/cp-0099.npz")
    assert code == 2 and "cp-0099.npz" in one_error_line(err)
    for f in (stopped_run / "checkpoints").glob("cp-*.npz"):     # index left, files gone
        f.unlink()
    (stopped_run / "checkpoints/best.npz").unlink()
    before = snapshot(project / "runs")
    code, _, err = run_cli("resume", stopped_run, "--latest")
    assert code == 2 and "no checkpoint" in one_error_line(err)
    assert snapshot(project / "runs") == before


def test_refuses_without_runs_or_without_latest_or_checkpoint(project, run_cli):
    code, _, err = run_cli("resume", "--latest")
    assert code == 2 and "no runs" in one_error_line(err)
    code, _, err = run_cli("resume", "runs/x")
    assert code == 2 and "--latest or --checkpoint" in one_error_line(err)

"""LayerStats: what its CSV holds, that it changes nothing about training (weights, moving
statistics, optimizer, random streams), that resume stays bit-identical with it — CSV included —
and that it says each problem once."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from nntrain.training.callbacks.layer_stats import COLUMNS

N, K = 4, 2          # epochs straight; epochs before the stop
BATCHES = 10         # 160 training samples / batch_size 16

CONFIG = """\
name: s
seed: 5
data:
  path: d.npz
  validation_split: 0.2
  normalize: standard
model:
  input_shape: [8]
  layers:
    - Dense: {units: 16, kernel_initializer: he_normal, bias_initializer: %(bias)s}
    - BatchNormalization: {}
    - Activation: {activation: relu}
    - Dropout: {rate: 0.3}
    - Dense: {units: 12, activation: tanh}
    - Dense: {units: 3, activation: softmax}
compile:
  optimizer: {name: adam, learning_rate: 0.01}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: %(epochs)d
  batch_size: 16
  callbacks:
    - ModelCheckpoint: {filepath: %(filepath)s, verbose: 0%(save)s}
%(stats)s"""

EPOCHS = {"filepath": '"checkpoints/cp-{epoch:04d}.npz"', "save": "",
          "stats": "    - LayerStats: {every: 1, samples: 40}\n"}
BATCHWISE = {"filepath": '"checkpoints/cp-{epoch:04d}-{batch:02d}.npz"', "save": ", save_freq: 3",
             "stats": "    - LayerStats: {every_n_batches: 4, filename: stats/layers.csv}\n"}


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((200, 8)) * 2 + 1).astype("float32")
    y = (x[:, 0] > 1).astype(int) + (x[:, 1] > 1)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(project: Path, settings: dict, *, bias="zeros", name="c.yaml") -> Path:
    path = project / name
    path.write_text(CONFIG % {"epochs": N, "bias": bias, **settings})
    return path


def arrays(path: Path) -> tuple[dict, dict]:
    with np.load(path, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files}
    return out, json.loads(str(out.pop("meta")))


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def fit(run_cli, cfg, run, *args):
    code, out, err = run_cli("fit", cfg, "--run-dir", run, *args)
    assert code == 0, err
    return out


# -- the file ---------------------------------------------------------------------------------
def test_one_row_per_layer_and_epoch(project, run_cli):
    fit(run_cli, write(project, EPOCHS), "runs/a", "--quiet")
    rows = csv_rows(project / "runs/a/layer_stats.csv")
    assert tuple(rows[0]) == COLUMNS
    layers = ["dense", "batch_normalization", "activation", "dropout", "dense_1", "dense_2"]
    assert [r[3] for r in rows[1:]] == layers * N
    assert [r[0] for r in rows[1::6]] == ["1", "2", "3", "4"]
    assert [r[2] for r in rows[1::6]] == [str(BATCHES * e) for e in range(1, N + 1)]
    by_layer = {r[3]: dict(zip(COLUMNS, r)) for r in rows[-6:]}
    assert by_layer["dense"]["batch"] == ""                        # recorded at the epoch end
    assert by_layer["activation"]["dead_fraction"] != ""           # relu
    assert by_layer["dense_1"]["saturated_fraction"] != ""         # tanh
    assert by_layer["dense"]["dead_fraction"] == by_layer["dense"]["saturated_fraction"] == ""
    assert by_layer["dropout"]["grad_norm"] == "" and float(by_layer["dense"]["grad_norm"]) > 0
    assert float(by_layer["dense_2"]["mean"]) == pytest.approx(1 / 3)   # softmax over 3


def test_every_n_batches(project, run_cli):
    fit(run_cli, write(project, BATCHWISE), "runs/b", "--quiet")
    rows = csv_rows(project / "runs/b/stats/layers.csv")[1:]
    records = [(r[0], r[1], r[2]) for r in rows[::6]]
    # every 4 batches of 10 per epoch, counting across epoch ends
    assert records[:4] == [("1", "4", "4"), ("1", "8", "8"), ("2", "2", "12"), ("2", "6", "16")]
    assert len(records) == N * BATCHES // 4


# -- no side effects, exact resume -------------------------------------------------------------
def test_training_with_layer_stats_is_training_without_it(project, run_cli):
    """Same weights, moving statistics, optimizer slots and random streams, every epoch."""
    fit(run_cli, write(project, EPOCHS), "runs/with", "--quiet")
    fit(run_cli, write(project, {**EPOCHS, "stats": ""}, name="bare.yaml"), "runs/without",
        "--quiet")
    for epoch in range(1, N + 1):
        a, meta_a = arrays(project / f"runs/with/checkpoints/cp-{epoch:04d}.npz")
        b, meta_b = arrays(project / f"runs/without/checkpoints/cp-{epoch:04d}.npz")
        assert sorted(a) == sorted(b)
        assert any(k.endswith("moving_variance") for k in a)
        for k in a:
            assert np.array_equal(a[k], b[k]), (epoch, k)
        assert meta_a["rng"] == meta_b["rng"]
        assert [{k: v for k, v in h.items() if k != "seconds"} for h in meta_a["history"]] == \
               [{k: v for k, v in h.items() if k != "seconds"} for h in meta_b["history"]]


@pytest.mark.parametrize("settings, stop, resume_from, last", [
    (EPOCHS, K, "--latest", f"cp-{N:04d}.npz"),
    # stopped after epoch 3, resumed from epoch 2: the CSV's rows of epoch 3 must go
    (EPOCHS, K + 1, "checkpoints/cp-0002.npz", f"cp-{N:04d}.npz"),
    # mid-epoch checkpoint (step 15: epoch 2, batch 5), 3 batches after LayerStats' last record
    (BATCHWISE, K, "checkpoints/cp-0002-05.npz", f"cp-{N:04d}-09.npz"),
], ids=["latest", "earlier-checkpoint", "mid-epoch"])
def test_resume_is_bit_identical_csv_included(project, run_cli, settings, stop, resume_from,
                                              last):
    cfg = write(project, settings)
    fit(run_cli, cfg, "runs/straight", "--quiet")
    fit(run_cli, cfg, "runs/stopped", "--quiet", "--set", f"fit.epochs={stop}")
    args = ("--latest",) if resume_from == "--latest" else ("--checkpoint", resume_from)
    code, _, err = run_cli("resume", "runs/stopped", *args, "--epochs", N, "--quiet")
    assert code == 0, err
    a, meta_a = arrays(project / "runs/straight/checkpoints" / last)
    b, meta_b = arrays(project / "runs/stopped/checkpoints" / last)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert meta_a["callbacks"] == meta_b["callbacks"]
    name = "layer_stats.csv" if settings is EPOCHS else "stats/layers.csv"
    straight = (project / "runs/straight" / name).read_bytes()
    assert straight == (project / "runs/stopped" / name).read_bytes()
    assert straight.count(b"\n") == 1 + 6 * (N if settings is EPOCHS else N * BATCHES // 4)


def test_a_weights_only_resume_keeps_the_rows_of_the_epochs_done(project, run_cli):
    """Without the callback's state (weights-only checkpoint), the rows of the completed epochs
    stay and the resumed epochs follow them."""
    weights_only = {**EPOCHS, "save": ", save_weights_only: true"}
    fit(run_cli, write(project, weights_only), "runs/w", "--quiet", "--set", f"fit.epochs={K}")
    code, _, err = run_cli("resume", "runs/w", "--latest", "--epochs", N, "--weights-only-ok",
                           "--quiet")
    assert code == 0, err
    rows = csv_rows(project / "runs/w/layer_stats.csv")[1:]
    assert [r[0] for r in rows[::6]] == ["1", "2", "3", "4"]


# -- warnings and arguments ---------------------------------------------------------------------
def test_says_each_problem_once(project, run_cli):
    """A bias of -10 kills the first layer's units from the start; they never come back, and
    the warning is said at the first record only."""
    cfg = write(project, EPOCHS, bias="{Constant: {value: -10.0}}")
    out = fit(run_cli, cfg, "runs/dead")
    said = [line for line in out.splitlines() if "LayerStats:" in line]
    assert len([s for s in said if "units are dead" in s]) == 1, said
    assert said[0].startswith("Epoch 1: LayerStats: ")
    rows = csv_rows(project / "runs/dead/layer_stats.csv")[1:]
    assert {r[7] for r in rows if r[3] == "activation"} == {"1.0"}


@pytest.mark.parametrize("stats, message", [
    ("{every: 2, every_n_batches: 5}", "either every (epochs) or every_n_batches"),
    ("{every: 0}", "every"),
    ("{samples: 0}", "samples"),
    ("{filename: stats.txt}", "ending in .csv"),
    ("{filename: history.csv}", "history"),
])
def test_bad_arguments_are_one_error_line(project, run_cli, stats, message):
    cfg = write(project, {**EPOCHS, "stats": f"    - LayerStats: {stats}\n"})
    code, out, err = run_cli("fit", cfg, "--run-dir", "runs/x")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "fit.callbacks.1.LayerStats" in lines[0] and message in lines[0]
    assert not (project / "runs/x").exists()

"""`nntrain sweep` end to end on a tiny problem: runs are ordinary run directories trained by
`fit` in child processes; SIGINT to the sweep alone stops every worker through the
save-and-stop path and the same command finishes the sweep bit-identically; a failing run does
not stop the others; the `sweep:` section; Ray; bad input."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from nntrain.training.restore import run_status

CLI = [sys.executable, "-c", "from nntrain.cli.main import main; main()"]

CONFIG = """\
name: tiny
seed: 1
data: {path: d.npz, validation_split: 0.2, normalize: standard}
model:
  input_shape: [8]
  layers:
    - Dense: {units: 16}
    - Activation: {activation: relu}
    - Dropout: {rate: 0.2}
    - Dense: {units: 3, activation: softmax}
compile:
  optimizer: {name: adam, learning_rate: 0.01}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: %(epochs)d
  batch_size: 8
  callbacks:
    - ModelCheckpoint: {filepath: "checkpoints/cp-{epoch:04d}.npz", monitor: val_accuracy,
                        verbose: 0}
    - TerminateOnNaN: {}
"""
GRID = ["--grid", "compile.optimizer.learning_rate=0.01,0.02,0.03"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 8)).astype("float32")
    np.savez(tmp_path / "d.npz", x_train=x, y_train=(x[:, 0] > 0).astype(int) + (x[:, 1] > 1))
    (tmp_path / "c.yaml").write_text(CONFIG % {"epochs": 3})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sweep(project: Path, *args, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "sweep", *map(str, args)], cwd=project, capture_output=True,
                          text=True, timeout=timeout)


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def arrays_and_meta(path: Path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    for row in meta["history"]:
        row.pop("seconds")
    meta["logs"].pop("seconds", None)
    return arrays, meta


def history(run: Path) -> list[dict]:
    with open(run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r.pop("seconds")
    return rows


def assert_same_run(a: Path, b: Path, epochs: int) -> None:
    """Every epoch's checkpoint bit-identical (arrays and meta but for timings), same history."""
    for e in range(1, epochs + 1):
        (wa, ma), (wb, mb) = (arrays_and_meta(r / f"checkpoints/cp-{e:04d}.npz") for r in (a, b))
        assert sorted(wa) == sorted(wb)
        assert any(k.startswith("optimizer/") for k in wa)
        for k in wa:
            assert wa[k].dtype == wb[k].dtype and np.array_equal(wa[k], wb[k]), (a, e, k)
        assert ma == mb, (a, e)
    assert history(a) == history(b)
    assert len(history(a)) == epochs


# -- interruption -----------------------------------------------------------------------------
def test_a_sweep_stopped_by_sigint_and_run_again_is_bit_identical_to_one_run_straight(project):
    epochs = 15
    (project / "c.yaml").write_text(CONFIG % {"epochs": epochs})
    args = ["c.yaml", *GRID, "--workers", 2]
    done = sweep(project, *args, "--name", "straight")
    assert done.returncode == 0, done.stderr

    log = open(project / "cut.log", "w+")
    proc = subprocess.Popen([*CLI, "sweep", *map(str, args), "--name", "cut"], cwd=project,
                            stdout=log, stderr=subprocess.STDOUT)
    cut = project / "runs/cut"
    deadline = time.monotonic() + 60
    while not all((cut / i / "history.csv").exists() for i in ("0.01", "0.02")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.poll()
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)                   # to the sweep process alone
    assert proc.wait(timeout=60) == 130
    log.seek(0)
    out = log.read()
    # Under load a run may finish before the other has begun; every run not finished stopped
    # through the save-and-stop path, and no run started after the signal.
    status = {r: run_status(cut / r) for r in ("0.01", "0.02", "0.03") if (cut / r).exists()}
    stopped = [r for r, s in status.items() if s == "interrupted"]
    assert stopped and set(status.values()) <= {"finished", "interrupted"}, (status, out)
    for run in stopped:
        assert f"runs/cut/{run} interrupted" in out, out
        assert 0 < len(history(cut / run)) < epochs
    assert "0.03" not in status or "finished" in status.values()

    again = sweep(project, *args, "--name", "cut")
    assert again.returncode == 0, again.stderr
    for run in stopped:
        assert f"resuming runs/cut/{run}" in again.stderr, again.stderr
    for run in ("0.01", "0.02", "0.03"):
        assert_same_run(project / "runs/straight" / run, cut / run, epochs)

    third = sweep(project, *args, "--name", "cut")   # nothing left to do
    assert third.returncode == 0 and "Skipping 3 finished already" in third.stderr


# -- failures ---------------------------------------------------------------------------------
def test_a_failing_run_is_reported_and_the_others_finish(project):
    (project / "c.yaml").write_text((CONFIG % {"epochs": 3}).replace("name: adam", "name: sgd"))
    res = sweep(project, "c.yaml", "--grid", "compile.optimizer.learning_rate=0.01,1e30,0.02",
                "--workers", 2)
    assert res.returncode == 1, res.stderr
    assert res.stderr.strip().splitlines()[-1] == "error: 1 of 3 runs failed: runs/tiny/1e+30"
    assert "runs/tiny/1e+30 failed (exit 1): the loss became nan" in res.stderr
    for run in ("0.01", "0.02"):
        assert len(history(project / "runs/tiny" / run)) == 3
        assert run_status(project / "runs/tiny" / run) == "finished"
    table = res.stdout
    assert "failed" in table and table.count("finished") == 2


# -- the sweep: section -----------------------------------------------------------------------
SECTION = """\
sweep:
  name: rates
  grid:
    compile.optimizer.learning_rate: {slow: 0.001, fast: 0.05}
    fit.batch_size: [8, 16]
  workers: 2
"""


def test_the_sweep_section_means_the_same_as_the_options(project, run_cli):
    (project / "s.yaml").write_text(CONFIG % {"epochs": 2} + SECTION)
    res = sweep(project, "s.yaml", "--grid", "fit.batch_size=16")    # replaces the YAML's
    assert res.returncode == 0, res.stderr
    assert "2 runs, 2 at a time" in res.stderr
    code, out, err = run_cli("runs", "runs/rates", "--json")
    assert code == 0, err
    listed = json.loads(out)["runs"]
    assert [(r["path"], r["status"], r["epochs"], r["params"]) for r in listed] == [
        ("learning_rate-slow_batch_size-16", "finished", 2,
         {"compile.optimizer.learning_rate": 0.001, "fit.batch_size": 16}),
        ("learning_rate-fast_batch_size-16", "finished", 2,
         {"compile.optimizer.learning_rate": 0.05, "fit.batch_size": 16})]
    assert set(listed[0]["best"]) == {"val_accuracy"}
    run = yaml.safe_load((project / "runs/rates/learning_rate-fast_batch_size-16/config.yaml")
                         .read_text())
    assert "sweep" not in run and run["compile"]["optimizer"]["learning_rate"] == 0.05
    assert Path(run["data"]["path"]).is_absolute()

    code, out, err = run_cli("fit", "s.yaml", "--run-dir", "runs/lone")  # fit trains the base
    assert code == 0, err
    assert "has a sweep: section; fit trains the config once" in out
    assert "nntrain sweep s.yaml" in out


def test_a_sweep_does_not_take_over_a_directory_of_another_config(project):
    assert sweep(project, "c.yaml", "--grid", "fit.batch_size=8,16").returncode == 0
    (project / "c.yaml").write_text(CONFIG % {"epochs": 4})
    before = (project / "runs/tiny/8/config.yaml").read_text()
    res = sweep(project, "c.yaml", "--grid", "fit.batch_size=8,16")
    assert res.returncode == 2
    assert "holds a run of another config (fit.epochs: 3 there, 4 now)" in \
        one_error_line(res.stderr)
    assert (project / "runs/tiny/8/config.yaml").read_text() == before


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("args, expected", [
    (["--grid", "fit.epoch=1,2"], "error: --grid: fit.epoch: unknown key 'epoch' (did you mean "
                                  "'epochs'?)"),
    (["--grid", "compile.optimizer.learning_rat=0.1"], "error: --grid: "
     "compile.optimizer.learning_rat: unknown argument"),
    (["--grid", "fit.batch_size="], "error: --grid: fit.batch_size: empty value list"),
    (["--grid", "fit.batch_size=8,eight"], "error: --grid: fit.batch_size: expected a positive "
                                           "integer, received 'eight'"),
    (["--grid", "fit.batch_size=8", "--seed", "1"], "give --random N"),
    ([], "nothing to sweep"),
])
def test_bad_input_is_one_error_line_before_any_run_starts(project, run_cli, args, expected):
    code, out, err = run_cli("sweep", "c.yaml", *args)
    assert code == 2
    assert one_error_line(err).startswith(expected) or expected in err, err
    assert not (project / "runs").exists()


def test_an_unreachable_ray_address_is_named_before_any_run_starts(project, run_cli):
    code, _, err = run_cli("sweep", "c.yaml", "--grid", "fit.batch_size=8", "--ray",
                           "127.0.0.1:1")
    assert code == 2
    try:
        import ray  # noqa: F401
    except ImportError:
        assert one_error_line(err) == 'error: --ray needs ray: pip install "nntrain[ray]"'
    else:
        assert "cannot reach a Ray cluster at 127.0.0.1:1" in one_error_line(err)
        assert "ray start --head" in err
    assert not (project / "runs").exists()


# -- Ray --------------------------------------------------------------------------------------
def test_a_sweep_on_a_local_ray_gives_the_runs_of_lone_fits(project, run_cli):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        code, out, err = run_cli("sweep", "c.yaml", "--grid",
                                 "compile.optimizer.learning_rate=0.01,0.02", "--ray", "auto",
                                 "--name", "onray")
    finally:
        ray.shutdown()
    assert code == 0, err
    assert "2 runs as Ray tasks" in err
    assert "Sweep onray" in out and out.count("finished") == 2
    for rate in ("0.01", "0.02"):      # what a sweep runs is the lone `fit --set` of its values
        code, _, err = run_cli("fit", "c.yaml", "--set", f"compile.optimizer.learning_rate={rate}",
                               "--run-dir", f"runs/lone-{rate}", "--quiet")
        assert code == 0, err
        assert_same_run(project / f"runs/lone-{rate}", project / "runs/onray" / rate, 3)

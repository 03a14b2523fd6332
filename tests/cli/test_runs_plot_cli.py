"""`nntrain runs` (table, --json, --sort, --diff) and `nntrain plot` (PNG, terminal chart) on
run directories written file by file: a sweep of three runs (one still training, one
interrupted) and a lone run."""

from __future__ import annotations

import json
import re
import struct
import time
from pathlib import Path

import pytest
import yaml

from nntrain.experiments import catalog

BASE = {"name": "m", "data": {"path": "/d.npz", "validation_split": 0.2},
        "model": {"input_shape": [4], "layers": [{"Dense": {"units": 3}}]},
        "compile": {"optimizer": {"name": "adam", "learning_rate": 0.01},
                    "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
        "fit": {"epochs": 4, "callbacks": [{"EarlyStopping": {"monitor": "val_accuracy"}}]}}


def write_run(run: Path, *, rate: float, epochs_done: int, status: str, units: int = 3,
              seconds: float = 0.5) -> None:
    config = json.loads(json.dumps(BASE))
    config["compile"]["optimizer"]["learning_rate"] = rate
    config["model"]["layers"][0]["Dense"]["units"] = units
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    rows = ["epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds"]
    for e in range(1, epochs_done + 1):
        acc = min(0.99, rate * 10 * e)
        rows.append(f"{e},{1 / (e * rate * 100)},{acc},{1.2 / (e * rate * 100)},{acc * 0.9},"
                    f"{rate / e},{seconds}")
    if epochs_done:
        (run / "history.csv").write_text("\n".join(rows) + "\n")
    (run / "status.json").write_text(json.dumps({"status": status, "pid": 1,
                                                 "started": time.time(), "ended": None,
                                                 "message": ""}))


@pytest.fixture
def listed(tmp_path, monkeypatch):
    sweep = tmp_path / "runs/rates"
    manifest = {"name": "rates", "runs": []}
    for rate, done, status in ((0.01, 4, "finished"), (0.02, 3, "interrupted"),
                               (0.05, 2, "failed")):
        rid = f"{rate:g}"
        write_run(sweep / rid, rate=rate, epochs_done=done, status=status)
        manifest["runs"].append({"id": rid, "params": {"compile.optimizer.learning_rate": rate},
                                 "labels": {}, "label": f"lr {rid}"})
    (sweep / "sweep.json").write_text(json.dumps(manifest))
    write_run(tmp_path / "runs/lone", rate=0.01, epochs_done=2, status="finished", units=5)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_runs_lists_every_run_recursively_as_json(listed, run_cli):
    code, out, err = run_cli("runs", "--json")
    assert code == 0, err
    runs = json.loads(out)["runs"]
    assert [(r["path"], r["name"], r["status"], r["epochs"]) for r in runs] == [
        ("lone", "lone", "finished", 2), ("rates/0.01", "0.01", "finished", 4),
        ("rates/0.02", "0.02", "interrupted", 3), ("rates/0.05", "0.05", "failed", 2)]
    assert runs[0]["params"] == {}
    assert runs[1]["params"] == {"compile.optimizer.learning_rate": 0.01}
    assert runs[1]["best"] == {"val_accuracy": {"value": pytest.approx(0.36), "epoch": 4}}
    code, out, _ = run_cli("runs", "runs/rates", "--json", "--sort", "val_accuracy")
    assert [r["path"] for r in json.loads(out)["runs"]] == ["0.05", "0.02", "0.01"]


def test_runs_table_shows_status_best_values_and_the_differing_keys(listed, run_cli):
    code, out, err = run_cli("runs")
    assert code == 0, err
    header = next(line for line in out.splitlines() if "Status" in line)
    for column in ("Run", "Epochs", "best val_accuracy", "Time", "learning_rate", "units"):
        assert column in header
    row = next(line for line in out.splitlines() if "rates/0.02" in line)
    assert re.search(r"interrupted .*3/4 .*0\.5400 \(ep 3\) .*1\.5s .*0\.02 .*3", row), row
    code, out, _ = run_cli("runs", "runs/rates", "--sort", "learning_rate")
    assert out.index("0.01 ") < out.index("0.02 ") < out.index("0.05 ")
    code, _, err = run_cli("runs", "--sort", "nope")
    assert code == 2 and err.startswith("error: --sort: cannot sort by 'nope'; expected one of")


def test_runs_diff_shows_changed_keys_only(listed, run_cli):
    code, out, err = run_cli("runs", "--diff", "lone", "rates/0.05")
    assert code == 0, err
    assert "compile.optimizer.learning_rate" in out and "model.layers.0.Dense.units" in out
    assert "fit.epochs" not in out
    code, out, _ = run_cli("runs", "--diff", "runs/lone", "runs/rates/0.05", "--json")
    assert json.loads(out)["changes"] == [
        {"key": "compile.optimizer.learning_rate", "a": 0.01, "b": 0.05},
        {"key": "model.layers.0.Dense.units", "a": 5, "b": 3}]
    code, _, err = run_cli("runs", "--diff", "lone", "nothing")
    assert code == 2 and err.strip() == "error: nothing: not a run directory (no config.yaml)"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_a_png_with_one_line_per_run_and_curve(listed, run_cli):
    pytest.importorskip("matplotlib")        # the plot extra
    code, _, err = run_cli("plot", "runs/rates", "runs/lone", "--output", "curves.png")
    assert code == 0, err
    assert png_size(listed / "curves.png") == (1380, 450)   # 3 panels: loss, accuracy, lr

    from nntrain.cli import plot_view
    directories = catalog.resolve_runs(["runs/rates"])
    curves = [(d.name, catalog.read_history(d)) for d in directories]
    fig = plot_view.figure(curves)
    loss, accuracy, lr = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy", "learning rate"]
    for ax in (loss, accuracy):
        styles = [line.get_linestyle() for line in ax.get_lines()]
        assert styles.count("-") == 3 and styles.count("--") == 3      # train, validation
        colours = {line.get_color() for line in ax.get_lines()}
        assert len(colours) == 3
    assert len(lr.get_lines()) == 3
    assert [len(line.get_xdata()) for line in lr.get_lines()] == [4, 3, 2]  # what exists
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["0.01", "0.02", "0.05", "training", "validation"]


def test_plot_without_matplotlib_says_which_extra(listed, run_cli, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    code, _, err = run_cli("plot", "runs/lone", "--output", "x.png")
    assert code == 2
    assert err.strip() == 'error: --output needs matplotlib: pip install "nntrain[plot]"'
    assert not (listed / "x.png").exists()


def test_plot_in_a_terminal_renders_without_one(listed, run_cli):
    pytest.importorskip("plotext")           # the plot extra
    (listed / "runs/rates/empty").mkdir()
    (listed / "runs/rates/empty/config.yaml").write_text(yaml.safe_dump(BASE))
    code, out, err = run_cli("plot", "runs/rates", "--metric", "accuracy", "--metric", "lr")
    assert code == 0, err
    assert "runs/rates/empty: no finished epoch yet; left out" in err
    assert "\x1b[" not in out                          # no colours into a pipe
    assert out.splitlines()[0].split() == ["•", "lr", "0.01", "+", "lr", "0.02", "x", "lr",
                                           "0.05"]
    for title in ("accuracy (training)", "accuracy (validation)", "learning rate"):
        assert title in out
    assert max(len(line) for line in out.splitlines()) <= 120
    assert "loss" not in out.replace("learning", "")
    code, _, err = run_cli("plot", "runs/rates", "--metric", "f1")
    assert code == 2 and "no run logged 'f1'" in err

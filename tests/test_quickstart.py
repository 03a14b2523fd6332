"""The product's main job, end to end: the shipped quick-start config trains the seed's Conv1D
network to the MNIST-1D paper's accuracy (>= 94% test accuracy in 15 epochs; PyTorch and
Keras reach 96.9% and 97.2% with that budget). About 15 seconds on 2 cores."""

import json

from tests.conftest import ROOT


def test_quick_start_reaches_94_percent(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)       # the config's data path is relative to the project
    run = tmp_path / "run"
    code, _, err = run_cli("fit", "configs/mnist1d_cnn.yaml", "--run-dir", run, "--quiet")
    assert code == 0, err
    code, out, err = run_cli("evaluate", run, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["split"] == "test" and result["samples"] == 1000
    assert result["accuracy"] >= 0.94, result

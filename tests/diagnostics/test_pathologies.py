"""The shipped pathologies (configs/pathologies/), through the command line: what diagnose
reports and warns for each, and, for the learning rate that kills ReLUs, after training."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)        # the configs' data path is relative to the project


def diagnose_json(run_cli, *args) -> dict:
    code, out, err = run_cli("diagnose", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_sigmoid_stack_reports_and_warns_the_gradient_falling(run_cli, at_root):
    report = diagnose_json(run_cli, "configs/pathologies/sigmoid-stack.yaml")
    ratio = report["gradient_ratio"]
    assert (ratio["from"], ratio["to"]) == ("dense_10", "dense") and ratio["ratio"] > 1000
    grads = [r["grad_norm"] for r in report["layers"]]
    assert grads == sorted(grads)              # smaller at every layer further from the output
    assert any(w.startswith("gradient norm falls") and "(sigmoid)" in w and "relu" in w
               for w in report["warnings"])


def test_exploding_simple_rnn_and_its_clipped_twin(run_cli, at_root):
    wild = diagnose_json(run_cli, "configs/pathologies/rnn-exploding.yaml", "--batch", 64)
    tame = diagnose_json(run_cli, "configs/pathologies/rnn-exploding-clipnorm.yaml", "--batch", 64)
    for report in (wild, tame):
        rnn = report["layers"][0]
        assert rnn["type"] == "SimpleRNN" and rnn["through_time"]["steps"] == 40
        assert rnn["through_time"]["ratio"] > 1000           # first step vs last
    # the same gradients; clipping bounds only the step taken from them
    assert wild["layers"][0]["grad_norm"] == tame["layers"][0]["grad_norm"]
    assert wild["layers"][0]["update_ratio"] > 0.5 > 0.01 > tame["layers"][0]["update_ratio"]
    assert any("gradient grows" in w and "set clipnorm or use LSTM/GRU" in w
               for w in wild["warnings"])
    assert any("one optimizer step" in w for w in wild["warnings"])
    assert any("gradient grows" in w and "clipnorm=1 bounds each update" in w
               for w in tame["warnings"])
    assert not any("one optimizer step" in w for w in tame["warnings"])


def test_too_large_a_learning_rate_kills_relus_and_diagnose_says_so(run_cli, at_root, tmp_path):
    config = "configs/pathologies/relu-lr-too-high.yaml"
    at_init = diagnose_json(run_cli, config)
    assert all((r["dead_fraction"] or 0) < 0.25 for r in at_init["layers"])
    assert not any("dead" in w for w in at_init["warnings"])

    run = tmp_path / "run"
    code, out, err = run_cli("fit", config, "--run-dir", run, "--set", "fit.epochs=1")
    assert code == 0, err
    assert "Epoch 1: LayerStats:" in out and "dead" in out        # said while training
    trained = diagnose_json(run_cli, run)
    assert trained["checkpoint"].endswith("final.npz") and trained["epoch"] == 1
    dead = {r["name"]: r["dead_fraction"] for r in trained["layers"] if r["dead_fraction"]}
    assert max(dead.values()) > 0.4, dead
    assert any("units are dead" in w or "of their units dead" in w
               for w in trained["warnings"]), trained["warnings"]

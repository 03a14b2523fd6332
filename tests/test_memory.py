"""Resource limits before allocation: a model's weights are sized from shapes first, so a
10^9-unit layer is refused naming the layer and the size instead of failing to allocate;
`summary` builds shapes only and answers for any size; training refuses a batch whose
activations cannot fit; `--max-memory` (and `nntrain.set_max_memory` / `memory_limit`) set
the limit."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import nntrain
from nntrain import initializers, memory
from nntrain.builder import build_model
from nntrain.errors import ConfigError
from nntrain.layers.base import WeightShape

HUGE = """\
name: huge
seed: 0
data: {path: d.npz}
model:
  input_shape: [40]
  layers:
    - Dense: {units: 1000000000}
    - Dense: {units: 10, activation: softmax}
compile: {loss: sparse_categorical_crossentropy}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.standard_normal((64, 40)).astype("float32"),
             y_train=rng.integers(0, 10, 64))
    (tmp_path / "huge.yaml").write_text(HUGE)
    (tmp_path / "small.yaml").write_text(HUGE.replace("1000000000", "100"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_summary_of_a_billion_unit_layer_allocates_nothing(project, run_cli, monkeypatch):
    real = initializers.get

    def never_run(spec, key=None):
        real(spec, key=key)      # checked, as always

        def init(shape, rng):
            raise AssertionError("an initializer ran in a shapes-only build")
        return init
    monkeypatch.setattr(initializers, "get", never_run)
    started = time.perf_counter()
    code, out, err = run_cli("summary", "huge.yaml", "--json")
    assert code == 0, err
    assert time.perf_counter() - started < 1.0
    info = json.loads(out)
    assert info["total_params"] == 40 * 10 ** 9 + 10 ** 9 + 10 ** 10 + 10
    assert info["param_bytes"] == 4 * info["total_params"]
    assert info["layers"][0]["output_shape"] == [None, 1000000000]
    code, out, err = run_cli("summary", "huge.yaml", "--max-memory", "8GiB")
    assert code == 0, err
    assert "51,000,000,010" in out
    assert "The weights need more than the 8 GiB allowed (max memory): fit would refuse" in out


def test_fit_of_a_billion_unit_layer_names_the_layer_and_the_size(project, run_cli):
    code, _, err = run_cli("fit", "huge.yaml", "--max-memory", "64GiB")
    assert code == 2
    assert one_line(err) == ("error: huge.yaml:7: model.layers.0.Dense: dense: kernel "
                             "(40, 1000000000) would take 149 GiB, more than the 64 GiB allowed "
                             "(max memory)")
    assert not (project / "runs").exists()
    # the default limit is the memory this machine has available
    code, _, err = run_cli("fit", "huge.yaml")
    assert code == 2
    assert "would take 149 GiB, more than the" in err and "of memory available" in err


def test_many_layers_each_small_are_refused_by_their_total(project, run_cli):
    code, out, err = run_cli("summary", "small.yaml", "--json")
    assert json.loads(out)["param_bytes"] == 4 * (40 * 100 + 100 + 100 * 10 + 10) == 20440
    code, _, err = run_cli("fit", "small.yaml", "--max-memory", "16KiB")
    assert code == 2
    assert one_line(err) == ("error: small.yaml:7: model.layers.0.Dense: the model's weights "
                             "would take 20 KiB, more than the 16 KiB allowed (max memory); "
                             "the largest, dense: kernel (40, 100) would take 15.6 KiB")


def test_a_batch_that_cannot_fit_is_refused_with_the_largest_that_does(project, run_cli):
    code, _, err = run_cli("fit", "small.yaml", "--max-memory", "130KiB", "--set",
                           "fit.batch_size=64", "--quiet")
    assert code == 2
    line = one_line(err)
    assert line.startswith("error: --set: fit.batch_size: a batch of 64 would need about ")
    assert "(880 B of activations and their gradients per sample), more than the 130 KiB " \
           "allowed (max memory); a batch_size of at most 35 fits" in line
    code, _, err = run_cli("fit", "small.yaml", "--max-memory", "130KiB", "--set",
                           "fit.batch_size=35", "--quiet")
    assert code == 0, err
    # a batch_size beyond the data is one batch of all 64 samples, as in Keras
    code, _, err = run_cli("fit", "small.yaml", "--max-memory", "200KiB", "--set",
                           f"fit.batch_size={2 ** 63}", "--quiet")
    assert code == 0, err


def test_max_memory_on_every_command_that_builds_weights(project, run_cli):
    assert run_cli("fit", "small.yaml", "--quiet")[0] == 0
    np.save(project / "x.npy", np.zeros((2, 40), "float32"))
    for args in (["evaluate", "runs/huge", "--split", "train"],
                 ["predict", "runs/huge", "--input", "x.npy"],
                 ["resume", "runs/huge", "--latest", "--epochs", "2"],
                 ["gradcheck", "small.yaml"]):
        code, _, err = run_cli(*args, "--max-memory", "1KiB")
        assert code == 2 and "more than the 1 KiB allowed (max memory)" in one_line(err), args
        code, _, err = run_cli(*args, "--max-memory", "unlimited")
        assert code in (0, 1) and "error:" not in err, (args, err)   # gradcheck: 1 in float32
    code, _, err = run_cli("fit", "small.yaml", "--max-memory", "lots")
    assert code == 2 and one_line(err).startswith(
        "error: Invalid value for '--max-memory': expected a size such as 8GiB")


def test_the_python_api_has_a_setting_and_a_block(project):
    with nntrain.memory_limit("1KiB"):
        with pytest.raises(ConfigError, match=r"dense: kernel \(40, 100\) would take 15.6 KiB"):
            nntrain.Model.from_config("small.yaml")
    nntrain.Model.from_config("small.yaml")          # the default again after the block
    try:
        nntrain.set_max_memory("10KiB")
        with pytest.raises(ConfigError, match="more than the 10 KiB allowed"):
            nntrain.Model.from_config("small.yaml")
    finally:
        nntrain.set_max_memory(None)
    with pytest.raises(ConfigError, match="expected a size"):
        nntrain.set_max_memory("a lot")


def test_the_checked_build_gives_the_weights_a_direct_build_did():
    """The shapes are built first, then the weights, from the same stream as always."""
    cfg = {"input_shape": [6, 3], "layers": [{"LSTM": {"units": 4, "return_sequences": True}},
                                             {"Conv1D": {"filters": 2, "kernel_size": 3}},
                                             {"Flatten": {}}, {"Dense": {"units": 2}}]}
    a = build_model(cfg, rng=np.random.default_rng(7))
    with memory.memory_limit("unlimited"):
        b = build_model(cfg, rng=np.random.default_rng(7))
    rng = np.random.default_rng(7)
    expected = initializers.get("glorot_uniform")((3, 16), rng)
    assert np.array_equal(a.weights()["lstm/kernel"], expected.astype("float32"))
    for k, v in a.weights().items():
        assert np.array_equal(v, b.weights()[k]), k
    plan = build_model(cfg, shapes_only=True)
    assert all(isinstance(w, WeightShape) for w in plan.weights().values())
    assert {k: w.shape for k, w in plan.weights().items()} == {
        k: v.shape for k, v in a.weights().items()}

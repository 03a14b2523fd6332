"""The notes' initialization experiment, pinned at initialization on the shipped configs
(configs/init-experiment/, 10 Dense layers of 100 units on standardized MNIST-1D): what each
initialization does to the 10th layer's outputs, and what diagnose says about it."""

from __future__ import annotations

from functools import lru_cache

import pytest

from nntrain.diagnostics import diagnose
from nntrain.diagnostics.subject import first_samples, open_subject
from tests.conftest import ROOT

DATA = f"data.path={ROOT / 'data' / 'mnist1d.npz'}"


@lru_cache(maxsize=None)
def subject_of(name: str):
    return open_subject(str(ROOT / "configs" / "init-experiment" / f"{name}.yaml"),
                        overrides=[DATA])


def diagnosis(name: str) -> dict:
    subject = subject_of(name)
    xs, y = first_samples(subject, "train", 256)
    report = diagnose(subject.model, subject.loss, xs, y, optimizer=subject.optimizer,
                      initial=True)
    hidden = [r for r in report["layers"] if r["type"] == "Dense"][:10]
    assert [r["name"] for r in hidden] == ["dense"] + [f"dense_{i}" for i in range(1, 10)]
    return {"first": hidden[0], "tenth": hidden[9], "warnings": report["warnings"]}


def test_tanh_with_small_normal_weights_collapses_to_zero():
    d = diagnosis("tanh-normal-0.02")
    assert d["tenth"]["std"] < 1e-3
    assert any("activations vanish" in w for w in d["warnings"])


def test_tanh_with_unit_normal_weights_saturates():
    d = diagnosis("tanh-normal-1")
    assert d["tenth"]["saturated_fraction"] > 0.5
    assert any("saturated" in w and "glorot_normal" in w for w in d["warnings"])


def test_tanh_with_glorot_keeps_a_healthy_spread():
    d = diagnosis("tanh-glorot")
    assert 0.05 <= d["tenth"]["std"] <= 1 and d["tenth"]["saturated_fraction"] < 0.2
    assert d["warnings"] == []


def test_relu_with_glorot_shrinks_with_depth():
    d = diagnosis("relu-glorot")
    assert d["tenth"]["std"] < d["first"]["std"] / 5
    assert any("activations vanish" in w and "he_normal" in w for w in d["warnings"])


def test_relu_with_he_keeps_the_spread():
    d = diagnosis("relu-he")
    assert d["first"]["std"] / 3 <= d["tenth"]["std"] <= d["first"]["std"] * 3
    assert d["warnings"] == []


@pytest.mark.parametrize("name", ["tanh-normal-0.02", "tanh-normal-1", "tanh-glorot",
                                  "relu-glorot", "relu-he"])
def test_the_configs_are_the_experiments(name):
    """Each is 10 Dense layers of 100 units with the named activation and initializer."""
    subject = subject_of(name)
    dense = [layer for layer in subject.model.layers if type(layer).__name__ == "Dense"]
    assert [layer.units for layer in dense] == [100] * 10 + [10]
    assert {layer.activation.name for layer in dense[:10]} == {name.split("-")[0]}
    assert subject.dataset.normalizer.method == "standard"

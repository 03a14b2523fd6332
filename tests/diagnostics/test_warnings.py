"""Each warning rule on hand-made rows: when it fires, what it says (a cure in every sentence),
and that its limit comes from the thresholds table."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nntrain.diagnostics.thresholds import LIMITS
from nntrain.diagnostics.warnings import _factor, _fraction, find_warnings


def row(name, activation="relu", type="Dense", std=1.0, dead=None, sat=None, grad=1.0,
        update=1e-3, **extra):
    return {"name": name, "type": type, "activation": activation, "mean": 0.0, "std": std,
            "dead_fraction": dead, "saturated_fraction": sat, "grad_norm": grad,
            "update_ratio": update, "finite": True, **extra}


def texts(rows, **kwargs):
    kwargs.setdefault("output", rows[-1]["name"])
    return [f.text for f in find_warnings(rows, **kwargs)]


def out(grad=1.0, sat=0.0, **kw):
    return row("out", "softmax", grad=grad, sat=sat, **kw)


def test_a_healthy_network_has_no_warnings():
    rows = [row("a", dead=0.0), row("b", dead=0.1, std=0.8), out()]
    assert texts(rows) == []


def test_dead_units_one_layer_and_several():
    rows = [row("a", dead=0.62), row("b", dead=0.0), out()]
    assert texts(rows) == ["62% of a's units are dead on this batch (never positive, so no "
                           "gradient reaches them): lower the learning rate or use LeakyReLU / "
                           "he_normal"]
    rows = [row("a", dead=0.5), row("b", dead=0.9), out()]
    (text,) = texts(rows)
    assert text.startswith("a and b have 50–90% of their units dead")
    found = find_warnings(rows, output="out")
    assert found[0].keys == ("dead:a", "dead:b")


def test_inactive_leaky_units_get_a_different_cure():
    (text,) = texts([row("a", "leaky_relu", dead=0.7), row("b", "leaky_relu", dead=0.0), out()])
    assert "never positive" in text and "LeakyReLU" not in text


def test_saturation_per_activation():
    rows = [row("a", "tanh", sat=0.8), row("b", "tanh", sat=0.9), out()]
    (text,) = texts(rows)
    assert text.startswith("a and b have 80–90% of their tanh outputs saturated (|a| > 0.99)")
    assert "glorot_normal" in text
    (text,) = texts([row("a", "sigmoid", sat=0.3, std=0.5), row("b", "sigmoid", std=0.5), out()])
    assert "30% of a's sigmoid outputs are saturated (a < 0.01 or a > 0.99)" in text


def test_a_certain_softmax_is_warned_at_initialization_only():
    rows = [row("a"), row("b"), out(sat=0.8)]
    (text,) = texts(rows, initial=True)
    assert text.startswith("at initialization out is already certain (p > 0.99) for 80%")
    assert texts(rows, initial=False) == []


def test_activations_vanishing_with_depth():
    rows = [row("a", "tanh", std=0.2), row("b", "tanh", std=1e-4), out()]
    (text,) = texts(rows)
    assert text == ("b's outputs have std 0.0001, 1/2000 of a's: activations vanish with depth "
                    "— use glorot_normal for tanh")
    rows = [row("a", std=0.5), row("b", std=0.05), out()]
    assert texts(rows)[0].endswith("use he_normal for relu")
    # a dead last layer is said by the dead warning, not again as vanishing
    rows = [row("a", std=0.5, dead=0.0), row("b", std=0.0, dead=1.0), out()]
    assert ["dead" in t for t in texts(rows)] == [True]


def test_activations_growing_with_depth_only_for_unbounded_outputs():
    assert "activations grow" in texts([row("a", std=1.0), row("b", std=9.0), out()])[0]
    assert texts([row("a", "tanh", std=0.1), row("b", "tanh", std=0.9), out()]) == []


def test_gradient_falling_from_the_output_to_the_input():
    rows = [row("a", "sigmoid", std=0.2, grad=1e-6), row("b", "sigmoid", std=0.2, grad=1e-3),
            out(grad=0.3)]
    (text,) = texts(rows)
    assert text == ("gradient norm falls 3e5× from out to a (sigmoid): lower layers barely learn "
                    "— use relu (he_normal) or tanh instead of sigmoid in hidden layers")
    rows = [row("a", grad=0.0, dead=0.0), row("b", grad=0.1, dead=0.9), out(grad=1.0)]
    assert any(t.startswith("gradient norm falls to 0") and "dead units" in t
               for t in texts(rows))


def test_gradient_growing_toward_the_input():
    rows = [row("a", "tanh", grad=500.0), row("b", "tanh", grad=5.0), out(grad=1.0)]
    assert "gradient norm grows 500× from out to a (tanh)" in texts(rows)[0]


def rnn(ratio, type="SimpleRNN"):
    return row("rnn", "tanh", type=type, through_time={"steps": 40, "first": ratio, "last": 1.0,
                                                        "ratio": ratio, "norms": []})


def test_recurrent_gradient_exploding_through_time_with_and_without_clipping():
    rows = [rnn(2.6e4, ), out(grad=1.0)]
    assert texts(rows) == ["rnn gradient grows 3e4× through 40 steps: set clipnorm or use "
                           "LSTM/GRU"]
    (text,) = texts(rows, clipping="clipnorm=1")
    assert text.startswith("rnn gradient grows 3e4× through 40 steps: clipnorm=1 bounds each "
                           "update") and "LSTM/GRU" in text


def test_fading_through_time_is_a_simple_rnn_warning_only():
    assert "fades 1e4×" in texts([rnn(1e-4), out()])[0]
    assert texts([rnn(1e-4, type="LSTM"), out()]) == []


def test_update_ratios_far_from_one_in_a_thousand():
    rows = [row("a", update=0.5), row("b", update=2e-7), out(update=1e-3)]
    high, low = texts(rows)
    assert high.startswith("one optimizer step would change the weights of a by up to 0.5 of "
                           "their norm") and high.endswith("lower the learning rate or set "
                                                           "clipnorm")
    assert "of b by as little as 2e-07" in low and "raise the learning rate" in low
    assert texts(rows, clipping="clipnorm=1")[0].endswith("lower the learning rate")


def test_nan_anywhere_is_the_only_warning():
    rows = [row("a", dead=0.9), dict(row("b"), finite=False), out()]
    assert texts(rows) == ["b's outputs or gradients are NaN or infinite: the weights diverged "
                           "— lower the learning rate or set clipnorm"]


def test_limits_come_from_the_table():
    rows = [row("a", dead=0.3), row("b", dead=0.0), out()]
    assert LIMITS.dead_fraction < 0.3 and len(texts(rows)) == 1
    assert texts(rows, limits=replace(LIMITS, dead_fraction=0.35)) == []


@pytest.mark.parametrize("x, text", [(2.5, "2.5×"), (300, "300×"), (12345, "1e4×"),
                                     (99999, "1e5×"), (2.6e4, "3e4×")])
def test_factor_wording(x, text):
    assert _factor(x) == text


def test_fraction_wording():
    assert _fraction(0.0005) == "1/2000" and _fraction(1 / 28.4) == "1/28"
    assert _fraction(5e-7) == "1/2e6"

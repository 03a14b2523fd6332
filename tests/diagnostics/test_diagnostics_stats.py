"""The numbers: dead and saturated fractions, histograms, through-time norms, activation kinds,
each against a hand-computed value."""

from __future__ import annotations

import numpy as np
import pytest

from nntrain.builder import make_layer
from nntrain.diagnostics import stats


def test_dead_fraction_counts_units_never_positive_on_any_sample_or_position():
    y = np.zeros((4, 3, 5))            # (batch, time, units)
    y[2, 1, 0] = 0.1                   # unit 0 fires once: alive
    y[:, :, 1] = 1.0                   # unit 1 always
    y[0, 0, 2] = -3.0                  # unit 2 only negative: dead (leaky family)
    assert stats.dead_fraction(y) == pytest.approx(3 / 5)


@pytest.mark.parametrize("kind, values, expected", [
    ("tanh", [0.995, -0.999, 0.5, 0.0], 0.5),
    ("softsign", [0.991, 0.2, 0.3, 0.4], 0.25),
    ("sigmoid", [0.005, 0.995, 0.5, 0.011], 0.5),
    ("hard_sigmoid", [0.0, 1.0, 1.0, 0.5], 0.75),
])
def test_saturated_fraction_of_values(kind, values, expected):
    assert stats.saturated_fraction(np.array([values]), kind) == pytest.approx(expected)


def test_saturated_fraction_of_softmax_counts_certain_samples():
    y = np.array([[0.995, 0.005], [0.6, 0.4], [0.001, 0.999], [0.5, 0.5]])
    assert stats.saturated_fraction(y, "softmax") == 0.5


def test_statistics_that_do_not_apply_are_none():
    y = np.random.default_rng(0).standard_normal((8, 4))
    s = stats.output_stats(y, "linear")
    assert s["dead_fraction"] is None and s["saturated_fraction"] is None
    assert s["mean"] == pytest.approx(y.mean()) and s["std"] == pytest.approx(y.std())
    assert stats.output_stats(np.abs(y), "relu")["dead_fraction"] == 0.0
    assert stats.output_stats(np.tanh(y), "tanh")["saturated_fraction"] == 0.0


def test_histogram_of_a_bounded_activation_spans_its_whole_range():
    h = stats.histogram(np.full((10, 3), 0.01), "tanh")
    assert len(h["counts"]) == 30 and len(h["edges"]) == 31
    assert (h["edges"][0], h["edges"][-1]) == (-1.0, 1.0)
    assert h["counts"][15] == 30 and sum(h["counts"]) == 30      # a spike in the middle


def test_histogram_of_an_unbounded_output_spans_its_values_but_outliers():
    y = np.concatenate([np.linspace(-1, 1, 999), [50.0]])
    h = stats.histogram(y, "linear")
    assert h["edges"][0] == pytest.approx(-0.99, abs=0.01)
    assert 0.99 < h["edges"][-1] < 2           # the one outlier does not stretch the span...
    assert sum(h["counts"]) == 1000            # ...and is counted, in the last bin
    h = stats.histogram(np.array([[0.0, 1.0, 9.0]]), "relu", span=(0.0, 8.0))
    assert (h["edges"][0], h["edges"][-1]) == (0.0, 8.0) and h["counts"][-1] == 1


def test_histogram_skips_non_finite_values_and_survives_constant_ones():
    h = stats.histogram(np.array([[np.nan, np.inf, 1.0, 1.0]]), None)
    assert sum(h["counts"]) == 2 and h["edges"][0] < 1.0 < h["edges"][-1]


def test_through_time_norms_per_step_in_processing_order():
    dx = np.zeros((2, 4, 3))
    dx[:, 0, :] = 1.0                  # step 0: norm sqrt(6)
    dx[0, 3, 0] = 0.5                  # step 3: norm 0.5
    tt = stats.through_time(dx)
    assert tt["steps"] == 4
    assert tt["first"] == pytest.approx(np.sqrt(6)) and tt["last"] == 0.5
    assert tt["ratio"] == pytest.approx(np.sqrt(6) / 0.5)
    backwards = stats.through_time(dx, go_backwards=True)   # processes step 3 first
    assert backwards["first"] == 0.5 and backwards["norms"] == tt["norms"][::-1]


def test_ratio_is_none_when_it_would_say_nothing():
    assert stats.ratio(1.0, 0.0) is None and stats.ratio(None, 1.0) is None
    assert stats.ratio(float("nan"), 1.0) is None and stats.ratio(3.0, 2.0) == 1.5


@pytest.mark.parametrize("entry, kind", [
    ({"Dense": {"units": 3, "activation": "relu"}}, "relu"),
    ({"Dense": {"units": 3}}, "linear"),
    ({"Activation": {"activation": "tanh"}}, "tanh"),
    ({"LeakyReLU": {}}, "leaky_relu"),
    ({"PReLU": {}}, "leaky_relu"),
    ({"ELU": {}}, "elu"),
    ({"SimpleRNN": {"units": 3}}, "tanh"),
    ({"TimeDistributed": {"layer": {"Dense": {"units": 2, "activation": "sigmoid"}}}},
     "sigmoid"),
    ({"Bidirectional": {"layer": {"GRU": {"units": 2}}}}, "tanh"),
    ({"Bidirectional": {"layer": {"GRU": {"units": 2}}, "merge_mode": "sum"}}, None),
    ({"Dropout": {"rate": 0.5}}, None),
    ({"BatchNormalization": {}}, None),
    ({"MaxPooling1D": {}}, None),
])
def test_activation_kind(entry, kind):
    layer, _, _ = make_layer(entry, "model.layers.0")
    assert stats.activation_kind(layer) == kind

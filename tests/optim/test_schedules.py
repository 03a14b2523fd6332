"""Learning-rate schedules against values worked out by hand from Keras 3's formulas."""

import json
import math

import pytest

from nntrain.errors import ConfigError
from nntrain.optim import (CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay,
                           PiecewiseConstantDecay, PolynomialDecay, make_learning_rate)

COS = lambda frac: 0.5 * (1 + math.cos(math.pi * frac))  # noqa: E731


@pytest.mark.parametrize("schedule, expected", [
    (ExponentialDecay(0.1, 10, 0.5), {0: 0.1, 1: 0.1 * 0.5 ** 0.1, 5: 0.1 / math.sqrt(2),
                                      10: 0.05, 15: 0.1 * 0.5 ** 1.5, 30: 0.0125}),
    (ExponentialDecay(0.1, 10, 0.5, staircase=True), {0: 0.1, 9: 0.1, 10: 0.05, 19: 0.05,
                                                      25: 0.025}),
    (InverseTimeDecay(0.1, 1000, 0.5), {0: 0.1, 1: 0.1 / 1.0005, 500: 0.08, 1000: 0.1 / 1.5,
                                        3000: 0.04}),
    (InverseTimeDecay(0.1, 1000, 0.5, staircase=True), {999: 0.1, 1000: 0.1 / 1.5,
                                                        1999: 0.1 / 1.5, 2000: 0.05}),
    (PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1]),
     {0: 1.0, 100: 1.0, 101: 0.5, 200: 0.5, 201: 0.1, 10 ** 6: 0.1}),
    (PolynomialDecay(0.1, 100, end_learning_rate=0.01, power=2.0),
     {0: 0.1, 1: 0.09 * 0.99 ** 2 + 0.01, 50: 0.0325, 100: 0.01, 150: 0.01}),
    (PolynomialDecay(0.1, 100), {50: 0.0999 * 0.5 + 0.0001, 100: 0.0001, 1000: 0.0001}),
    (PolynomialDecay(0.1, 100, end_learning_rate=0.01, power=2.0, cycle=True),
     {0: 0.1, 50: 0.0325, 100: 0.01, 101: 0.09 * (1 - 101 / 200) ** 2 + 0.01,
      150: 0.015625, 200: 0.01}),
    (CosineDecay(1.0, 100, alpha=0.1), {0: 1.0, 1: 0.9 * COS(0.01) + 0.1, 50: 0.55, 100: 0.1,
                                        250: 0.1}),
    (CosineDecay(0.0, 100, warmup_target=1.0, warmup_steps=10),
     {0: 0.0, 1: 0.1, 5: 0.5, 10: 1.0, 60: 0.5, 110: 0.0, 500: 0.0}),
    (CosineDecay(0.2, 100, alpha=0.5, warmup_target=1.0, warmup_steps=10),
     {0: 0.2, 5: 0.6, 10: 1.0, 60: 0.75, 110: 0.5, 999: 0.5}),
    (CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5),
     {0: 1.0, 5: 0.5, 10: 0.5, 20: 0.25, 29: 0.5 * COS(0.95), 30: 0.25, 70: 0.125}),
    (CosineDecayRestarts(1.0, 10, t_mul=3.0, m_mul=0.5),  # period 2 starts at 10 + 30
     {39: 0.5 * COS(29 / 30), 40: 0.25, 130: 0.125, 1210: 0.5 ** 5}),  # log(243)/log(3) < 5
    (CosineDecayRestarts(1.0, 10, t_mul=1.0, alpha=0.2), {0: 1.0, 5: 0.6, 10: 1.0, 25: 0.6}),
])
def test_schedule_values(schedule, expected):
    for step, value in expected.items():
        assert schedule(step) == pytest.approx(value, rel=1e-12, abs=1e-15), step
        assert isinstance(schedule(step), float)


def test_schedule_is_a_pure_function_of_the_step():
    s = CosineDecayRestarts(0.1, 7, t_mul=1.5)
    forward = [s(i) for i in range(60)]
    assert [s(i) for i in reversed(range(60))] == forward[::-1]


def test_config_round_trip():
    for s in [ExponentialDecay(0.1, 10, 0.5, staircase=True), InverseTimeDecay(0.1, 1000, 0.5),
              PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001]),
              PolynomialDecay(0.1, 100, 0.01, 0.5, cycle=True),
              CosineDecay(0.0, 100, 0.1, warmup_target=0.1, warmup_steps=5),
              CosineDecayRestarts(0.1, 10, 1.5, 0.9, 0.05)]:
        config = s.get_config()
        assert json.loads(json.dumps(config)) == config
        again = make_learning_rate(config)
        assert type(again) is type(s)
        assert [again(i) for i in range(0, 300, 7)] == [s(i) for i in range(0, 300, 7)]


def test_make_learning_rate_from_config_form():
    s = make_learning_rate({"schedule": "InverseTimeDecay", "initial_learning_rate": 0.1,
                            "decay_steps": 1000, "decay_rate": 0.5})
    assert isinstance(s, InverseTimeDecay) and s(1000) == pytest.approx(0.1 / 1.5)
    assert s.get_config()["decay_steps"] == 1000  # integers stay integers
    assert make_learning_rate(0.01) == 0.01
    assert make_learning_rate(1) == 1.0 and isinstance(make_learning_rate(1), float)


@pytest.mark.parametrize("spec, key, words", [
    (-0.1, "compile.optimizer.learning_rate", ">= 0"),
    ("fast", "compile.optimizer.learning_rate", "'fast'"),
    (True, "compile.optimizer.learning_rate", "True"),
    ({"schedule": "ExponentialDecai"}, "compile.optimizer.learning_rate.schedule",
     "did you mean 'ExponentialDecay'"),
    ({"initial_learning_rate": 0.1}, "compile.optimizer.learning_rate", "schedule"),
    ({"schedule": "ExponentialDecay", "initial_learning_rate": 0.1, "decay_step": 10,
      "decay_rate": 0.5}, "compile.optimizer.learning_rate.decay_step",
     "did you mean 'decay_steps'"),
    ({"schedule": "ExponentialDecay", "initial_learning_rate": 0.1, "decay_rate": 0.5},
     "compile.optimizer.learning_rate", "decay_steps"),
    ({"schedule": "ExponentialDecay", "initial_learning_rate": 0.1, "decay_steps": 0,
      "decay_rate": 0.5}, "compile.optimizer.learning_rate.decay_steps", "received 0"),
    ({"schedule": "ExponentialDecay", "initial_learning_rate": 0.1, "decay_steps": 10,
      "decay_rate": 0.5, "staircase": "yes"}, "compile.optimizer.learning_rate.staircase",
     "'yes'"),
    ({"schedule": "PiecewiseConstantDecay", "boundaries": [10, 20], "values": [1.0, 0.5]},
     "compile.optimizer.learning_rate.values", "one more value"),
    ({"schedule": "PiecewiseConstantDecay", "boundaries": [20, 10], "values": [1, 0.5, 0.1]},
     "compile.optimizer.learning_rate.boundaries", "increasing"),
    ({"schedule": "CosineDecay", "initial_learning_rate": 0.1, "decay_steps": 10,
      "alpha": 1.5}, "compile.optimizer.learning_rate.alpha", "1.5"),
    ({"schedule": "CosineDecay", "initial_learning_rate": 0.1, "decay_steps": 10,
      "warmup_steps": 5}, "compile.optimizer.learning_rate.warmup_steps", "warmup_target"),
])
def test_bad_specs(spec, key, words):
    with pytest.raises(ConfigError) as e:
        make_learning_rate(spec)
    assert e.value.key == key
    assert words in str(e.value)

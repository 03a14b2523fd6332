"""Keras 3's learning-rate schedules, as pure functions of the optimizer step.

Each schedule is a small object: ``schedule(step) -> float`` with ``step`` the number of
optimizer steps already taken (Keras's ``optimizer.iterations``), and ``get_config()`` giving the
config form back::

    learning_rate: {schedule: InverseTimeDecay, initial_learning_rate: 0.1,
                    decay_steps: 1000, decay_rate: 0.5}

Because a schedule holds no state, restoring the step counter restores the schedule (Caffe's
rule). The formulas are those of ``keras/src/optimizers/schedules/learning_rate_schedule.py``;
Keras evaluates them in float32, we in Python floats (float64), so values agree to float32
rounding. Arguments are checked in ``__init__`` (a `ConfigError` keyed by the bare argument name);
`make_learning_rate` adds the key path of the config entry.
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Mapping, Sequence

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.registry import Registry


def _num(name: str, value, **bounds):
    """`validate.number`, but an integer stays an integer (so configs round-trip as written)."""
    checked = validate.number(name, value, **bounds)
    return int(value) if isinstance(value, numbers.Integral) else checked


class Schedule:
    """Base class: subclasses set ``args`` (the config keys, in order) and define ``__call__``."""

    args: tuple[str, ...] = ()

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"schedule": type(self).__name__, **{a: getattr(self, a) for a in self.args}}

    def __repr__(self) -> str:
        inner = ", ".join(f"{a}={getattr(self, a)!r}" for a in self.args)
        return f"{type(self).__name__}({inner})"


class _StepDecay(Schedule):
    """Shared by the two decays driven by ``step / decay_steps`` (floored with ``staircase``)."""

    args = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase")

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = _num("initial_learning_rate", initial_learning_rate, low=0)
        self.decay_steps = _num("decay_steps", decay_steps, low=0, low_open=True)
        self.decay_rate = _num("decay_rate", decay_rate, low=0)
        self.staircase = validate.boolean("staircase", staircase)

    def progress(self, step: int) -> float:
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p


class ExponentialDecay(_StepDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase`` the
    exponent is floored."""

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * self.decay_rate ** self.progress(step)


class InverseTimeDecay(_StepDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; with ``staircase``
    ``step / decay_steps`` is floored."""

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate / (1.0 + self.decay_rate * self.progress(step))


class PiecewiseConstantDecay(Schedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` for
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary."""

    args = ("boundaries", "values")

    def __init__(self, boundaries, values):
        for name, seq in (("boundaries", boundaries), ("values", values)):
            if not isinstance(seq, Sequence) or isinstance(seq, str) or not seq:
                raise ConfigError(f"expected a non-empty list of numbers, received {seq!r}",
                                  key=name)
        self.boundaries = [_num("boundaries", b) for b in boundaries]
        self.values = [_num("values", v, low=0) for v in values]
        if any(a >= b for a, b in zip(self.boundaries, self.boundaries[1:])):
            raise ConfigError(f"expected strictly increasing step numbers, received {boundaries!r}",
                              key="boundaries")
        if len(self.values) != len(self.boundaries) + 1:
            raise ConfigError(
                f"expected one more value than boundaries ({len(self.boundaries) + 1}), received "
                f"{len(self.values)} values: {values!r}", key="values")

    def __call__(self, step: int) -> float:
        return float(self.values[bisect.bisect_left(self.boundaries, step)])


class PolynomialDecay(Schedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end`` with ``step`` capped at
    ``decay_steps``; with ``cycle``, ``decay_steps`` is instead stretched to the first multiple of
    itself that is >= step (1 x decay_steps at step 0)."""

    args = ("initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle")

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False):
        self.initial_learning_rate = _num("initial_learning_rate", initial_learning_rate, low=0)
        self.decay_steps = _num("decay_steps", decay_steps, low=0, low_open=True)
        self.end_learning_rate = _num("end_learning_rate", end_learning_rate, low=0)
        self.power = _num("power", power, low=0)
        self.cycle = validate.boolean("cycle", cycle)

    def __call__(self, step: int) -> float:
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps = decay_steps * (1.0 if step == 0 else math.ceil(step / decay_steps))
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return ((self.initial_learning_rate - self.end_learning_rate) * (1.0 - p) ** self.power
                + self.end_learning_rate)


def _cosine(fraction: float, alpha: float) -> float:
    """The multiplier going from 1 (fraction 0) to alpha (fraction 1) along half a cosine."""
    return (1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + alpha


class CosineDecay(Schedule):
    """Cosine decay from the initial rate to ``alpha`` times it over ``decay_steps``
    (SGDR, https://arxiv.org/abs/1608.03983), after an optional linear warmup from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``
    (https://arxiv.org/abs/1706.02677); the decay then starts from ``warmup_target``."""

    args = ("initial_learning_rate", "decay_steps", "alpha", "warmup_target", "warmup_steps")

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = _num("initial_learning_rate", initial_learning_rate, low=0)
        self.decay_steps = _num("decay_steps", decay_steps, low=0, low_open=True)
        self.alpha = _num("alpha", alpha, low=0, high=1)
        self.warmup_target = (None if warmup_target is None
                              else _num("warmup_target", warmup_target, low=0))
        self.warmup_steps = _num("warmup_steps", warmup_steps, low=0)
        if self.warmup_target is None and self.warmup_steps:
            # Keras ignores warmup_steps here; we refuse rather than silently ignore it.
            raise ConfigError(f"has no effect without warmup_target, received "
                              f"warmup_steps={warmup_steps!r}", key="warmup_steps")

    def __call__(self, step: int) -> float:
        if self.warmup_target is None:
            step = min(step, self.decay_steps)
            return self.initial_learning_rate * _cosine(step / self.decay_steps, self.alpha)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        fraction = (step - self.warmup_steps) / self.decay_steps
        return self.warmup_target * _cosine(fraction, self.alpha)


class CosineDecayRestarts(Schedule):
    """Cosine decay with warm restarts (SGDR, https://arxiv.org/abs/1608.03983): period i lasts
    ``first_decay_steps * t_mul**i`` steps and starts from ``initial_learning_rate * m_mul**i``;
    within a period the multiplier goes from 1 to ``alpha`` (Keras: ``alpha`` scales the
    initial rate, not the restarted one). With ``t_mul < 1`` the periods shrink and add up to
    ``first_decay_steps / (1 - t_mul)`` steps; after that the rate is NaN, as in Keras."""

    args = ("initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha")

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0):
        self.initial_learning_rate = _num("initial_learning_rate", initial_learning_rate, low=0)
        self.first_decay_steps = _num("first_decay_steps", first_decay_steps, low=0,
                                      low_open=True)
        self.t_mul = _num("t_mul", t_mul, low=0, low_open=True)
        self.m_mul = _num("m_mul", m_mul, low=0)
        self.alpha = _num("alpha", alpha, low=0, high=1)

    def _restart(self, fraction: float) -> tuple[int, float]:
        """(index of the current period, fraction of it completed), `fraction` counted in
        first periods."""
        t = self.t_mul
        if t == 1.0:
            i = math.floor(fraction)
            return i, fraction - i
        remaining = 1.0 - fraction * (1.0 - t)
        if remaining <= 0.0:  # t_mul < 1 and every period used up
            return 0, math.nan
        i = math.floor(math.log(remaining) / math.log(t))

        def start(k):  # where period k starts, in first periods: sum of t**j for j < k
            return (1.0 - t ** k) / (1.0 - t)

        # Keras's closed form, corrected for rounding at the exact start of a period
        # (log(4)/log(2) may land just under 2); the correction only moves i by one.
        if start(i + 1) <= fraction:
            i += 1
        elif start(i) > fraction:
            i -= 1
        return i, (fraction - start(i)) / t ** i

    def __call__(self, step: int) -> float:
        i, fraction = self._restart(step / self.first_decay_steps)
        decayed = 0.5 * self.m_mul ** i * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1.0 - self.alpha) * decayed + self.alpha)


SCHEDULES = Registry(
    "learning-rate schedule", one_key=False, bare=False, name_key="schedule",
    case_insensitive=True, section="schedule",
    expected="a number or a mapping with a 'schedule' key naming one of ExponentialDecay, "
             "InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay, CosineDecay, "
             "CosineDecayRestarts")
for _cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay,
             CosineDecay, CosineDecayRestarts):
    SCHEDULES.register(_cls)


def make_schedule(spec: Mapping, key: str = "learning_rate") -> Schedule:
    """A schedule from its config form ``{schedule: Name, argument: value, ...}``."""
    return SCHEDULES.construct(spec, key)


def make_learning_rate(spec, key: str = "compile.optimizer.learning_rate") -> float | Schedule:
    """A learning rate from config: a number >= 0 (returned as a float) or a schedule mapping
    (returned as a `Schedule`); a `Schedule` passes through."""
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, Mapping):
        return make_schedule(spec, key)
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        return validate.number(key, spec, low=0)
    raise ConfigError(f"expected a number >= 0 or a schedule mapping such as "
                      f"{{schedule: ExponentialDecay, ...}}, received {spec!r}", key=key)

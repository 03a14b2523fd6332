"""The one table of what the diagnostics call dead, saturated, vanishing or exploding.

Every number a statistic or a warning depends on is here, with the reason for its value, so a
reader can check (and a developer can tune) them in one place. Statistics read the activation
families; warnings read the limits.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- activation families -------------------------------------------------------------------------
# Units of these outputs can be "dead": never positive on any sample, so (for relu) no gradient
# ever flows through them again. The value is True when the negative side has no gradient at all
# (truly dead), False when it leaks a little (the unit is only inactive; the cure differs).
RELU_FAMILY: dict[str, bool] = {
    "relu": True,
    "leaky_relu": False, "elu": False, "selu": False, "gelu": False, "swish": False,
    "silu": False,
}

# Layers that are an activation by themselves, by class name → the family member they behave as.
ACTIVATION_LAYERS: dict[str, str] = {
    "LeakyReLU": "leaky_relu", "PReLU": "leaky_relu", "ELU": "elu",
}

# Saturation, per activation: an output value is saturated when it is this close to a bound,
# where the derivative is ~0 (tanh: |a| > 0.99 ⇔ 1 - a² < 0.02; sigmoid: a(1 - a) < 0.01).
# softmax counts samples (rows) whose largest probability exceeds 0.99.
TANH_SATURATED = 0.99            # |a| > this
SIGMOID_SATURATED = 0.01         # a < this or a > 1 - this (sigmoid, hard_sigmoid)
SOFTMAX_SATURATED = 0.99         # max probability of a sample > this
SATURATING = ("tanh", "sigmoid", "hard_sigmoid", "softmax")

# Histograms: 30 bins; a bounded activation always uses its whole range, so a collapsed layer is a
# spike in the middle and a saturated one piles up at the ends. Others span the 0.5th to 99.5th
# percentile of their values (the few beyond are counted in the end bins), and all ReLU-family
# layers of a model share one span, so outputs shrinking with depth show as histograms squeezed
# toward 0, as in the notes' figure.
HISTOGRAM_BINS = 30
HISTOGRAM_PERCENTILES = (0.5, 99.5)
BOUNDED_RANGE: dict[str, tuple[float, float]] = {
    "tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0),
    "softmax": (0.0, 1.0), "softsign": (-1.0, 1.0),
}

# -- warning limits ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limits:
    """When a statistic is worth a warning. Each field says why it has its value."""

    # More than this fraction of a ReLU-family layer's units never positive on the batch. Healthy
    # He-initialized stacks show ~0 on a few hundred samples; the notes' "often 40% after too
    # large a learning rate" is well above it.
    dead_fraction: float = 0.25
    # More than this fraction of a tanh / sigmoid layer's values saturated. tanh + glorot stays
    # below 0.05 at initialization; tanh + N(0, 1) is above 0.7.
    saturated_fraction: float = 0.25
    # At initialization, more than this fraction of samples already classified with certainty
    # (softmax max > 0.99): the output layer's weights are too large. After training certainty
    # is the goal, so this is checked at initialization only.
    softmax_certain_at_init: float = 0.5
    # The last hidden layer's output std against the first's: below 1/activation_shrink the
    # signal vanishes with depth (relu + glorot halves the variance per layer: std ×1/20 after
    # 10 layers; he_normal keeps it); above activation_growth it explodes (unbounded outputs).
    activation_shrink: float = 5.0
    activation_growth: float = 5.0
    # A hidden layer whose output std is below this has collapsed to (nearly) a constant.
    collapsed_std: float = 1e-3
    # Parameter-gradient norm of the last weighted layer against the first's: a fall of more
    # than this factor means the lower layers barely learn (sigmoid divides the gradient by ≥ 4
    # per layer); a rise of more than it, that the gradient explodes toward the input.
    gradient_fall: float = 100.0
    gradient_rise: float = 100.0
    # Recurrent layers: the gradient reaching the input at the first processed time step
    # against the last. Above through_time_growth it explodes back through time (the recurrent
    # matrix's gain > 1); below 1/through_time_shrink the early steps barely matter (warned for
    # SimpleRNN only: an LSTM/GRU forgets by design at initialization, and the cure would be
    # itself).
    through_time_growth: float = 100.0
    through_time_shrink: float = 1000.0
    # ‖update‖ / ‖weights‖ of one optimizer step: ~1e-3 is the usual healthy value (cs231n's
    # rule of thumb); a factor 100 away on either side is worth a warning.
    update_ratio_high: float = 1e-1
    update_ratio_low: float = 1e-5


LIMITS = Limits()

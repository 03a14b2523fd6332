"""Optimizers and learning-rate schedules, with Keras 3's names, defaults and update rules."""

from nntrain.optim.base import Optimizer
from nntrain.optim.optimizers import (OPTIMIZERS, SGD, Adadelta, Adagrad, Adam, Adamax, AdamW,
                                      Nadam, RMSprop, make_optimizer)
from nntrain.optim.schedules import (SCHEDULES, CosineDecay, CosineDecayRestarts,
                                     ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                     PolynomialDecay, Schedule, make_learning_rate, make_schedule)

__all__ = [
    "OPTIMIZERS", "SCHEDULES", "Optimizer", "Schedule", "make_optimizer", "make_learning_rate",
    "make_schedule", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam",
    "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "PolynomialDecay",
    "CosineDecay", "CosineDecayRestarts",
]

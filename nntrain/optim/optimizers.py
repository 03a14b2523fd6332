"""Keras 3's optimizers on NumPy arrays: the update rules, and `make_optimizer` for configs.

Names, arguments and defaults are Keras's; each rule below is the ``update_step`` of
``keras/src/optimizers/<name>.py`` written with in-place NumPy. Clipping, weight decay and the
step counter are in `nntrain.optim.base`.

Where epsilon goes, as read in the Keras 3 sources (it differs from PyTorch):

- rmsprop: ``lr * g / sqrt(v + eps)`` (centered: ``sqrt(v - mg**2 + eps)``): *inside* the root;
- adagrad: ``lr * g / sqrt(acc + eps)``: *inside* the root;
- adadelta: ``sqrt(x + eps)`` for both running averages: inside;
- adam, adamw, nadam: ``... / (sqrt(v) + eps)``: *outside*; in adam/adamw it is not
  bias-corrected (Keras folds both bias corrections into the step size, so eps is the paper's
  "epsilon hat"); nadam divides by ``sqrt(v / (1 - beta_2**t)) + eps``;
- adamax: ``lr * m / ((1 - beta_1**t) * (u + eps))``: outside.
"""

from __future__ import annotations

import math

import numpy as np

from nntrain import validate
from nntrain.errors import CheckpointError, ConfigError
from nntrain.optim.base import Optimizer
from nntrain.registry import Registry


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, Keras form:
    ``m = momentum * m - lr * g; p += m`` (Nesterov: ``p += momentum * m - lr * g``).
    https://proceedings.mlr.press/v28/sutskever13.html"""

    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **common):
        super().__init__(learning_rate, **common)
        self.momentum = validate.number("momentum", momentum, low=0, high=1)
        self.nesterov = validate.boolean("nesterov", nesterov)

    def slots(self):
        return {"momentum": 0.0} if self.momentum else {}

    def hyperparameters(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def update(self, p, g, s, lr, t):
        step = np.multiply(g, lr, out=self.scratch(p, 1))  # lr * g
        if not self.momentum:
            p -= step
            return
        m = s["momentum"]
        m *= self.momentum
        m -= step
        if self.nesterov:
            p -= step
            p += np.multiply(m, self.momentum, out=step)
        else:
            p += m


class RMSprop(Optimizer):
    """RMSprop (Hinton, lecture 6e, https://www.cs.toronto.edu/~tijmen/csc321/slides/
    lecture_slides_lec6.pdf): ``v = rho * v + (1 - rho) * g**2``,
    ``p -= lr * g / sqrt(v + eps)``; centered subtracts ``mg**2`` (mg the running mean of g)
    inside the root; with momentum, ``mom = momentum * mom + lr * g / sqrt(...); p -= mom``."""

    name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 **common):
        super().__init__(learning_rate, **common)
        self.rho = validate.number("rho", rho, low=0, high=1)
        self.momentum = validate.number("momentum", momentum, low=0, high=1)
        self.epsilon = validate.number("epsilon", epsilon, low=0)
        self.centered = validate.boolean("centered", centered)

    def slots(self):
        names = ["velocity"] + ["momentum"] * (self.momentum > 0) + \
            ["average_gradient"] * self.centered
        return dict.fromkeys(names, 0.0)

    def hyperparameters(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}

    def update(self, p, g, s, lr, t):
        rho, v, tmp = self.rho, s["velocity"], self.scratch(p, 1)
        v *= rho
        v += np.multiply(np.square(g, out=tmp), 1.0 - rho, out=tmp)
        if self.centered:
            mg = s["average_gradient"]
            mg *= rho
            mg += np.multiply(g, 1.0 - rho, out=tmp)
            denom = np.subtract(v, np.square(mg, out=tmp), out=tmp)
            denom += self.epsilon
        else:
            denom = np.add(v, self.epsilon, out=tmp)
        step = np.divide(g, np.sqrt(denom, out=tmp), out=tmp)
        step *= lr
        if self.momentum > 0:
            mom = s["momentum"]
            mom *= self.momentum
            mom += step
            p -= mom
        else:
            p -= step


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011, https://jmlr.org/papers/v12/duchi11a.html):
    ``acc += g**2; p -= lr * g / sqrt(acc + eps)``, ``acc`` starting at
    ``initial_accumulator_value``."""

    name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **common):
        super().__init__(learning_rate, **common)
        self.initial_accumulator_value = validate.number(
            "initial_accumulator_value", initial_accumulator_value, low=0)
        self.epsilon = validate.number("epsilon", epsilon, low=0)

    def slots(self):
        return {"accumulator": self.initial_accumulator_value}

    def hyperparameters(self):
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}

    def update(self, p, g, s, lr, t):
        acc, tmp = s["accumulator"], self.scratch(p, 1)
        acc += np.square(g, out=tmp)
        step = np.divide(g, np.sqrt(np.add(acc, self.epsilon, out=tmp), out=tmp), out=tmp)
        step *= lr
        p -= step


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012, https://arxiv.org/abs/1212.5701), scaled by ``lr`` as in Keras:
    ``ag = rho * ag + (1 - rho) * g**2``, ``d = sqrt(ad + eps) / sqrt(ag + eps) * g``,
    ``ad = rho * ad + (1 - rho) * d**2``, ``p -= lr * d``."""

    name = "adadelta"

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **common):
        super().__init__(learning_rate, **common)
        self.rho = validate.number("rho", rho, low=0, high=1)
        self.epsilon = validate.number("epsilon", epsilon, low=0)

    def slots(self):
        return {"accumulated_grad": 0.0, "accumulated_delta_var": 0.0}

    def hyperparameters(self):
        return {"rho": self.rho, "epsilon": self.epsilon}

    def update(self, p, g, s, lr, t):
        rho, eps = self.rho, self.epsilon
        ag, ad = s["accumulated_grad"], s["accumulated_delta_var"]
        d, tmp = self.scratch(p, 1), self.scratch(p, 2)
        ag *= rho
        ag += np.multiply(np.square(g, out=tmp), 1.0 - rho, out=tmp)
        np.sqrt(np.add(ad, eps, out=d), out=d)
        d *= g
        d /= np.sqrt(np.add(ag, eps, out=tmp), out=tmp)
        ad *= rho
        ad += np.multiply(np.square(d, out=tmp), 1.0 - rho, out=tmp)
        d *= lr
        p -= d


class Adam(Optimizer):
    """Adam (Kingma & Ba 2014, https://arxiv.org/abs/1412.6980), Keras form:
    ``m += (g - m) * (1 - beta_1); v += (g**2 - v) * (1 - beta_2)``,
    ``p -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + eps)``; with ``amsgrad``
    (Reddi et al. 2018, https://openreview.net/forum?id=ryQu7f-RZ) ``v`` in the denominator is
    replaced by its running maximum ``v_hat``. AdamW (https://arxiv.org/abs/1711.05101) is this
    with ``weight_decay`` (default 0.004), applied by the base class before the update."""

    name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **common):
        super().__init__(learning_rate, **common)
        self.beta_1 = validate.number("beta_1", beta_1, low=0, high=1, high_open=True)
        self.beta_2 = validate.number("beta_2", beta_2, low=0, high=1, high_open=True)
        self.epsilon = validate.number("epsilon", epsilon, low=0)
        self.amsgrad = validate.boolean("amsgrad", amsgrad)

    def slots(self):
        return dict.fromkeys(["m", "v"] + ["v_hat"] * self.amsgrad, 0.0)

    def hyperparameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}

    def update(self, p, g, s, lr, t):
        b1, b2, tmp = self.beta_1, self.beta_2, self.scratch(p, 1)
        alpha = lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        m, v = s["m"], s["v"]
        m += np.multiply(np.subtract(g, m, out=tmp), 1.0 - b1, out=tmp)
        np.square(g, out=tmp)
        tmp -= v
        tmp *= 1.0 - b2
        v += tmp
        if self.amsgrad:
            v = np.maximum(s["v_hat"], v, out=s["v_hat"])
        denom = np.sqrt(v, out=tmp)
        denom += self.epsilon
        step = np.divide(m, denom, out=tmp)
        step *= alpha
        p -= step


class AdamW(Adam):
    """Adam with decoupled weight decay, Keras's defaults: ``weight_decay`` 0.004, required."""

    name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **common):
        if weight_decay is None:
            raise ConfigError("expected a number >= 0, received None", key="weight_decay")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=weight_decay, **common)


class Adamax(Optimizer):
    """Adamax (Kingma & Ba 2014, section 7.1, https://arxiv.org/abs/1412.6980):
    ``m += (g - m) * (1 - beta_1); u = max(beta_2 * u, |g|)``,
    ``p -= lr * m / ((1 - beta_1**t) * (u + eps))``."""

    name = "adamax"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **common):
        super().__init__(learning_rate, **common)
        self.beta_1 = validate.number("beta_1", beta_1, low=0, high=1, high_open=True)
        self.beta_2 = validate.number("beta_2", beta_2, low=0, high=1)
        self.epsilon = validate.number("epsilon", epsilon, low=0)

    def slots(self):
        return {"m": 0.0, "u": 0.0}

    def hyperparameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def update(self, p, g, s, lr, t):
        m, u, tmp = s["m"], s["u"], self.scratch(p, 1)
        m += np.multiply(np.subtract(g, m, out=tmp), 1.0 - self.beta_1, out=tmp)
        u *= self.beta_2
        np.maximum(u, np.abs(g, out=tmp), out=u)
        step = np.divide(m, np.add(u, self.epsilon, out=tmp), out=tmp)
        step *= lr / (1.0 - self.beta_1 ** t)
        p -= step


class Nadam(Optimizer):
    """Nadam (Dozat 2016, https://cs229.stanford.edu/proj2015/054_report.pdf), Keras form with
    the momentum schedule ``mu_t = beta_1 * (1 - 0.5 * 0.96**t)`` and its running product
    ``u_product`` (state, updated once per step before the update):
    ``m_hat = mu_{t+1} * m / (1 - u_product * mu_{t+1}) + (1 - mu_t) * g / (1 - u_product)``,
    ``p -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + eps)``."""

    name = "nadam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **common):
        super().__init__(learning_rate, **common)
        self.beta_1 = validate.number("beta_1", beta_1, low=0, high=1, high_open=True)
        self.beta_2 = validate.number("beta_2", beta_2, low=0, high=1, high_open=True)
        self.epsilon = validate.number("epsilon", epsilon, low=0)
        self.u_product = 1.0

    def slots(self):
        return {"m": 0.0, "v": 0.0}

    def hyperparameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _mu(self, t: int) -> float:
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def begin_step(self, t):
        self.u_product *= self._mu(t)

    def update(self, p, g, s, lr, t):
        b1, b2 = self.beta_1, self.beta_2
        mu_t, mu_next = self._mu(t), self._mu(t + 1)
        m, v = s["m"], s["v"]
        m_hat, tmp = self.scratch(p, 1), self.scratch(p, 2)
        m += np.multiply(np.subtract(g, m, out=tmp), 1.0 - b1, out=tmp)
        np.square(g, out=tmp)
        tmp -= v
        tmp *= 1.0 - b2
        v += tmp
        np.multiply(m, mu_next / (1.0 - self.u_product * mu_next), out=m_hat)
        m_hat += np.multiply(g, (1.0 - mu_t) / (1.0 - self.u_product), out=tmp)
        denom = np.sqrt(np.multiply(v, 1.0 / (1.0 - b2 ** t), out=tmp), out=tmp)
        denom += self.epsilon
        m_hat /= denom
        m_hat *= lr
        p -= m_hat

    def state_arrays(self):
        return {**super().state_arrays(), "u_product": np.array(self.u_product, np.float64)}

    def _load_extra(self, arrays):
        if "u_product" not in arrays:
            raise CheckpointError("the nadam state has no 'u_product'")
        value = float(arrays.pop("u_product"))

        def install():
            self.u_product = value
        return install


OPTIMIZERS = Registry("optimizer", expected="an optimizer name or a mapping with a 'name'",
                      one_key=False, name_key="name", case_insensitive=True)
# Keras arguments we know of but do not implement: named in the error rather than "unknown".
_REFUSED = {arg: f"the Keras argument {arg!r} is not supported by nntrain" for arg in (
    "use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
    "gradient_accumulation_steps")}
for _cls in (SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, Adamax, Nadam):
    OPTIMIZERS.add(_cls.name, _cls, refused=_REFUSED)


def make_optimizer(spec, key: str = "compile.optimizer") -> Optimizer:
    """An optimizer from config: a name (``adam``; Keras class names such as ``Adam`` too) or a
    mapping ``{name: adam, learning_rate: 0.001, clipnorm: 1.0, ...}`` with Keras's arguments."""
    opt = OPTIMIZERS.construct(spec, key)
    opt.key = key
    return opt

"""The machinery every optimizer shares: learning rate, clipping, weight decay, step counter,
slots and their state. The update rules themselves are in `nntrain.optim.optimizers`.

One step follows ``keras/src/optimizers/base_optimizer.py``:

1. the learning rate is read once, at ``iterations`` (before the increment): a float, or the
   schedule evaluated at ``iterations``;
2. gradients are clipped: ``clipnorm`` per tensor (``g * c / max(||g||, c)``), else
   ``global_clipnorm`` over all tensors together (same formula with the global norm), else
   ``clipvalue`` elementwise; at most one of the three may be set;
3. decoupled weight decay, on every parameter, before the update:
   ``p = p - p * weight_decay * lr`` (Keras's ``_apply_weight_decay``; no exclusion list);
4. the optimizer's update rule with the clipped gradients and ``t = iterations + 1``;
5. ``iterations += 1``.

Speed: everything stays in the parameters' dtype (float32 in training). Scalars are Python
floats, which NumPy never lets promote an array; arrays are updated with ``out=`` into slots
and a few scratch buffers kept per shape, so a step allocates nothing after the first.
Gradients are read, never modified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from nntrain import validate
from nntrain.errors import CheckpointError, ConfigError
from nntrain.optim.schedules import Schedule, make_learning_rate


def _optional(name: str, value, **bounds) -> float | None:
    return None if value is None else validate.number(name, value, **bounds)


def _clip_scale(norm: float, clip: float) -> float:
    """``clip / max(norm, clip)``: exactly 1.0 when no clipping is needed; NaN for a
    non-finite norm, so that NaN gradients stay NaN, as in Keras."""
    if not math.isfinite(norm):
        return math.nan
    return clip / max(norm, clip)


def _norm(g: np.ndarray) -> float:
    return math.sqrt(float(np.vdot(g, g)))


class Optimizer:
    """Base class: learning rate, clipping, weight decay, step counter, slots and their state.

    A subclass names its slots in ``slots()`` (slot name -> initial value), and implements
    ``update(p, g, s, lr, t)`` for one parameter ``p`` with its (clipped) gradient ``g``, its
    slots ``s`` (a dict of arrays shaped like ``p``), the learning rate ``lr`` and the step
    number ``t = iterations + 1``. ``self.scratch(p, 1)`` and ``self.scratch(p, 2)`` are free
    buffers shaped like ``p``.
    """

    name = "optimizer"
    key = "compile.optimizer"  # key path used in errors; set by `make_optimizer`

    def __init__(self, learning_rate=0.001, *, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None):
        self._learning_rate = make_learning_rate(learning_rate, key="learning_rate")
        self.weight_decay = _optional("weight_decay", weight_decay, low=0)
        self.clipnorm = _optional("clipnorm", clipnorm, low=0, low_open=True)
        self.clipvalue = _optional("clipvalue", clipvalue, low=0, low_open=True)
        self.global_clipnorm = _optional("global_clipnorm", global_clipnorm, low=0, low_open=True)
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        set_ = {k: v for k, v in clips.items() if v is not None}
        if len(set_) > 1:
            raise ConfigError("only one of clipnorm, clipvalue and global_clipnorm can be set, "
                              f"received {set_}", key=list(set_)[1])
        self.iterations = 0
        self._state: dict[str, dict[str, np.ndarray]] | None = None  # param key -> slot -> array
        self._from_checkpoint = False  # state loaded and not yet checked against the params
        self._scratch: dict[tuple, np.ndarray] = {}

    # -- what subclasses provide ---------------------------------------------------------------
    def slots(self) -> dict[str, float]:
        """Slot name -> initial value, for the arguments this optimizer was given."""
        return {}

    def hyperparameters(self) -> dict:
        """The optimizer's own arguments (besides learning rate, weight decay and clipping)."""
        return {}

    def begin_step(self, t: int) -> None:
        """Hook run once per step, before the parameters are updated."""

    def update(self, p, g, s, lr, t) -> None:
        raise NotImplementedError

    # -- learning rate -------------------------------------------------------------------------
    @property
    def learning_rate(self) -> float | Schedule:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self.set_learning_rate(value)

    def set_learning_rate(self, value) -> None:
        """Set a new constant learning rate (ReduceLROnPlateau); a `ConfigError` when the rate
        is a schedule, which fixes the rate at every step."""
        if isinstance(self._learning_rate, Schedule):
            raise ConfigError(
                f"the learning rate is a schedule ({type(self._learning_rate).__name__}) and "
                f"cannot be set to {value!r}; use a number as learning_rate to change it during "
                "training", key=f"{self.key}.learning_rate")
        self._learning_rate = validate.number(f"{self.key}.learning_rate", value, low=0)

    def current_learning_rate(self) -> float:
        """The learning rate the next step will use."""
        lr = self._learning_rate
        return float(lr(self.iterations)) if isinstance(lr, Schedule) else lr

    # -- one step ------------------------------------------------------------------------------
    def apply(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """One optimizer step: update every array in `params` in place (``p -= ...``; the arrays
        are never replaced) from the gradient of the same key in `grads` (same shape and dtype;
        extra keys in `grads` are ignored). Slots are created on the first call, in each
        parameter's dtype. `grads` is not modified."""
        if self._state is None or self._from_checkpoint:
            self._build(params)
        elif params.keys() != self._state.keys():
            raise ValueError(f"{self.name}: parameters {sorted(params)} differ from those of the "
                             f"first step {sorted(self._state)}")
        lr = self.current_learning_rate()
        t = self.iterations + 1
        scale = 1.0
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(np.vdot(grads[k], grads[k])) for k in params))
            scale = _clip_scale(norm, self.global_clipnorm)
        decay = 1.0 - self.weight_decay * lr if self.weight_decay else None
        self.begin_step(t)
        for k, p in params.items():
            g = self._clip(grads[k], scale)
            if decay is not None:
                np.multiply(p, decay, out=p)
            self.update(p, g, self._state[k], lr, t)
        self.iterations = t

    def _clip(self, g: np.ndarray, scale: float) -> np.ndarray:
        if self.clipvalue is not None:
            return np.clip(g, -self.clipvalue, self.clipvalue, out=self.scratch(g, 0))
        if self.clipnorm is not None:
            scale = _clip_scale(_norm(g), self.clipnorm)
        if scale == 1.0:
            return g
        return np.multiply(g, scale, out=self.scratch(g, 0))

    def scratch(self, like: np.ndarray, i: int) -> np.ndarray:
        """Work buffer number `i` shaped like `like` (0 holds the clipped gradient), reused."""
        k = (like.shape, like.dtype, i)
        buf = self._scratch.get(k)
        if buf is None:
            buf = self._scratch[k] = np.empty_like(like)
        return buf

    def _build(self, params: Mapping[str, np.ndarray]) -> None:
        init = self.slots()
        if self._state is None:
            self._state = {k: {s: np.full_like(p, v) for s, v in init.items()}
                           for k, p in params.items()}
            return
        # State from a checkpoint: it must fit these parameters exactly.
        missing = sorted(set(params) - set(self._state))
        extra = sorted(set(self._state) - set(params))
        if missing or extra:
            raise CheckpointError(f"the optimizer state does not match the model: no state for "
                                  f"{missing or 'none'}, state for unknown parameters "
                                  f"{extra or 'none'}")
        for k, p in params.items():
            for s, arr in self._state[k].items():
                if arr.shape != p.shape:
                    raise CheckpointError(f"optimizer slot '{s}/{k}' has shape {arr.shape}, "
                                          f"the parameter has {p.shape}")
                if arr.dtype != p.dtype:
                    self._state[k][s] = arr.astype(p.dtype)
        self._from_checkpoint = False

    # -- state ---------------------------------------------------------------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        """``"<slot>/<param key>"`` -> slot array (the live arrays, not copies), plus
        ``"iterations"`` (0-d int64) and, for a constant rate, ``"learning_rate"`` (0-d float64,
        so a rate changed by ReduceLROnPlateau is restored too)."""
        out = {f"{s}/{k}": arr for k, slots in (self._state or {}).items()
               for s, arr in slots.items()}
        out["iterations"] = np.array(self.iterations, dtype=np.int64)
        if not isinstance(self._learning_rate, Schedule):
            out["learning_rate"] = np.array(self._learning_rate, dtype=np.float64)
        return out

    def load_state_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """The inverse of `state_arrays` (arrays are copied). A `CheckpointError` when the slots
        do not belong to this optimizer with these arguments; their fit to the parameters is
        checked at the next `apply`."""
        arrays = dict(arrays)
        if "iterations" not in arrays:
            raise CheckpointError("the optimizer state has no 'iterations'")
        iterations = np.asarray(arrays.pop("iterations"))
        if iterations.shape != () or iterations.dtype.kind not in "iu" or iterations < 0:
            raise CheckpointError(f"the optimizer state's 'iterations' is not a step count: "
                                  f"{iterations!r}")
        lr = arrays.pop("learning_rate", None)
        if lr is not None and isinstance(self._learning_rate, Schedule):
            raise CheckpointError("the checkpoint has a constant learning rate, the config a "
                                  f"schedule ({type(self._learning_rate).__name__})")
        extra = self._load_extra(arrays)
        names = set(self.slots())
        state: dict[str, dict[str, np.ndarray]] = {}
        for name, arr in arrays.items():
            slot, _, k = name.partition("/")
            if slot not in names or not k:
                raise CheckpointError(
                    f"the optimizer state has '{name}', which {self.name} with these arguments "
                    f"does not use (its slots: {', '.join(sorted(names)) or 'none'})")
            state.setdefault(k, {})[slot] = np.array(arr, copy=True)
        for k, slots in state.items():
            if set(slots) != names:
                raise CheckpointError(f"the optimizer state lacks slot(s) "
                                      f"{sorted(names - set(slots))} for '{k}'")
            if len({a.shape for a in slots.values()}) > 1:
                raise CheckpointError(f"the optimizer slots for '{k}' differ in shape")
        if names and not state and int(iterations) > 0:
            raise CheckpointError(f"the optimizer state has no slots for {self.name} after "
                                  f"{int(iterations)} steps")
        self.iterations = int(iterations)
        if lr is not None:
            self._learning_rate = float(lr)
        extra()
        self._state = state if state else None
        self._from_checkpoint = bool(state)

    def _load_extra(self, arrays: dict):
        """Pop optimizer-specific entries from `arrays`; return a function that installs them
        (called only once the whole state is known to be good)."""
        return lambda: None

    # -- config --------------------------------------------------------------------------------
    def get_config(self) -> dict:
        lr = self._learning_rate
        return {"name": self.name,
                "learning_rate": lr.get_config() if isinstance(lr, Schedule) else lr,
                **self.hyperparameters(),
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"

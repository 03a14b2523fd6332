"""BatchNormalization, LayerNormalization and GroupNormalization over the last axis, with
Keras 3's arithmetic.

All use the biased variance (mean of squared deviations), as Keras's ``ops.moments`` does, and
``(x - mean) / sqrt(var + epsilon) * gamma + beta``.
"""

from __future__ import annotations

import math

import numpy as np

from nntrain import validate
from nntrain.errors import ConfigError
from nntrain.layers.base import Layer, check_initializer, check_regularizer, register


def _last_axis(layer: Layer, axis, input_shape) -> None:
    """Only the channel (last) axis is supported: -1, or its index counting the batch axis."""
    if axis not in (-1, len(input_shape)):
        raise ConfigError(f"{type(layer).__name__} supports only the last axis (-1), received "
                          f"{axis!r} for input of shape {list(input_shape)}", key="axis")


class _Norm(Layer):
    """What the two normalizations share: arguments, gamma/beta and the affine step."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, **base):
        super().__init__(**base)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"expected an integer axis, received {axis!r}", key="axis")
        self.axis = axis
        self.epsilon = validate.number("epsilon", epsilon, low=0, low_open=True)
        self.center = validate.boolean("center", center)
        self.scale = validate.boolean("scale", scale)
        self.beta_initializer = check_initializer(beta_initializer, "beta_initializer")
        self.gamma_initializer = check_initializer(gamma_initializer, "gamma_initializer")
        self.beta_regularizer = check_regularizer(beta_regularizer, "beta_regularizer")
        self.gamma_regularizer = check_regularizer(gamma_regularizer, "gamma_regularizer")

    def compute_output_shape(self, input_shape):
        _last_axis(self, self.axis, input_shape)
        return input_shape

    def _build_affine(self, channels: int, rng) -> None:
        if self.scale:
            self.add_weight("gamma", (channels,), self.gamma_initializer, rng,
                            regularizer=self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", (channels,), self.beta_initializer, rng,
                            regularizer=self.beta_regularizer)

    def _affine(self, xhat: np.ndarray) -> np.ndarray:
        y = xhat * self.params["gamma"] if self.scale else xhat.copy()
        if self.center:
            y += self.params["beta"]
        return y

    def flops(self, input_shape):
        return 4 * math.prod(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}


@register
class BatchNormalization(_Norm):
    """Normalize each channel (last axis) over the batch and every other axis.

    x : (batch, ..., C) → same shape. Weights in Keras's order: gamma, beta (trainable),
    moving_mean, moving_variance (non-trainable). Training uses the batch statistics and updates
    ``moving = moving * momentum + batch * (1 - momentum)`` (biased batch variance, as Keras 3);
    inference, or a non-trainable layer, uses the moving statistics. With a mask (batch, ...)
    the batch statistics are over the unmasked positions only, divided by their count + 1e-7
    (Keras's masked moments); every position is normalized, and the mask passes on.
    """

    supports_masking = takes_mask = True
    MASK_EPSILON = 1e-7    # Keras's backend.epsilon() in its masked moments

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **base):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, **base)
        self.momentum = validate.number("momentum", momentum, low=0, high=1)
        self.moving_mean_initializer = check_initializer(moving_mean_initializer,
                                                         "moving_mean_initializer")
        self.moving_variance_initializer = check_initializer(moving_variance_initializer,
                                                             "moving_variance_initializer")

    def build(self, input_shape, rng):
        self.compute_output_shape(input_shape)
        c = input_shape[-1]
        self._build_affine(c, rng)
        self.add_weight("moving_mean", (c,), self.moving_mean_initializer, rng, trainable=False)
        self.add_weight("moving_variance", (c,), self.moving_variance_initializer, rng,
                        trainable=False)
        super().build(input_shape, rng)

    def forward(self, x, training=False, mask=None):
        """x : (N, ..., C), mask (N, ...) or None → (N, ..., C)."""
        x2 = x.reshape(-1, x.shape[-1])
        self._batch_stats = bool(training and self.trainable)
        self._w = None
        if self._batch_stats and mask is not None:
            mean, xhat, var = self._masked_moments(x2, mask)
            self._update_moving(mean, var)
        elif self._batch_stats:
            rows = x.dtype.type(x2.shape[0])
            mean = x2.sum(axis=0) / rows
            xhat = x2 - mean
            var = np.einsum("ij,ij->j", xhat, xhat) / rows
            self._update_moving(mean, var)
        else:
            xhat = x2 - self.params["moving_mean"]
            var = self.params["moving_variance"]
        self._inv = 1.0 / np.sqrt(var + x.dtype.type(self.epsilon))
        xhat *= self._inv
        self._xhat = xhat
        return self._affine(xhat).reshape(x.shape)

    def _masked_moments(self, x2, mask):
        """Mean and variance over the rows of x2 (rows, C) that the mask keeps, and x2 - mean;
        keeps the row weights w (rows, 1), their sum S (+ 1e-7) and sum(w (x - mean)) / S
        for backward."""
        dtype = x2.dtype.type
        w = np.asarray(mask, dtype=bool).reshape(-1, 1).astype(x2.dtype)
        total = w.sum(dtype=x2.dtype) + dtype(self.MASK_EPSILON)
        mean = np.where(w > 0, x2, dtype(0)).sum(axis=0) / total
        xc = x2 - mean
        dev = xc * w
        var = np.einsum("ij,ij->j", dev, dev) / total
        self._w, self._total, self._offset = w, total, dev.sum(axis=0) / total
        return mean, xc, var

    def _update_moving(self, mean, var) -> None:
        """In place, so anything holding the arrays (checkpoints, the model) sees the update."""
        m = self.momentum
        for name, batch in (("moving_mean", mean), ("moving_variance", var)):
            moving = self.params[name]
            moving *= moving.dtype.type(m)
            moving += batch.astype(moving.dtype, copy=False) * moving.dtype.type(1.0 - m)

    def backward(self, dy):
        """dy : (N, ..., C) → dx; grads gamma, beta. In training mode the batch statistics are
        differentiated through: dx = gamma*inv * (dy - (dbeta + xhat*dgamma) / rows)."""
        shape = dy.shape
        dy2 = dy.reshape(-1, shape[-1])
        dgamma = np.einsum("ij,ij->j", dy2, self._xhat)
        dbeta = dy2.sum(axis=0)
        if self.scale:
            self.grads["gamma"] = dgamma
        if self.center:
            self.grads["beta"] = dbeta
        k = self._inv * self.params["gamma"] if self.scale else self._inv
        if not self._batch_stats:
            return (dy2 * k).reshape(shape)
        if self._w is not None:    # masked moments: only kept rows move the statistics
            dx = self._xhat - self._offset * self._inv
            dx *= dgamma
            dx += dbeta
            dx *= self._w / self._total
            np.subtract(dy2, dx, out=dx)
            dx *= k
            return dx.reshape(shape)
        rows = dy.dtype.type(dy2.shape[0])
        dx = self._xhat * (dgamma / rows)
        dx += dbeta / rows
        np.subtract(dy2, dx, out=dx)
        dx *= k
        return dx.reshape(shape)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}


@register
class LayerNormalization(_Norm):
    """Normalize each sample over its last axis: x : (batch, ..., C) → same shape; gamma, beta
    (C,)."""

    supports_masking = True

    def build(self, input_shape, rng):
        self.compute_output_shape(input_shape)
        self._build_affine(input_shape[-1], rng)
        super().build(input_shape, rng)

    def forward(self, x, training=False):
        """x : (N, ..., C) → (N, ..., C)."""
        c = x.shape[-1]
        x2 = x.reshape(-1, c)
        mean = x2.mean(axis=1, keepdims=True)
        xc = x2 - mean
        var = np.einsum("ij,ij->i", xc, xc)[:, None] / x.dtype.type(c)
        self._inv = 1.0 / np.sqrt(var + x.dtype.type(self.epsilon))
        self._xhat = xc * self._inv
        return self._affine(self._xhat).reshape(x.shape)

    def backward(self, dy):
        """dy : (N, ..., C) → dx; grads gamma, beta."""
        shape = dy.shape
        dy2 = dy.reshape(-1, shape[-1])
        if self.scale:
            self.grads["gamma"] = np.einsum("ij,ij->j", dy2, self._xhat)
        if self.center:
            self.grads["beta"] = dy2.sum(axis=0)
        dxhat = dy2 * self.params["gamma"] if self.scale else dy2
        mean_d = dxhat.mean(axis=1, keepdims=True)
        mean_dx = np.einsum("ij,ij->i", dxhat, self._xhat)[:, None] / dy.dtype.type(shape[-1])
        return ((dxhat - mean_d - self._xhat * mean_dx) * self._inv).reshape(shape)


@register
class GroupNormalization(_Norm):
    """Normalizes each sample over groups of consecutive channels and its spatial axes.

    The channels (last axis) form `groups` groups; ``groups: -1`` is instance normalization
    (one channel per group), ``groups: 1`` normalizes over everything.

    x : (batch, ..., C) → same shape; gamma, beta (C,). C must be a multiple of groups.
    """

    supports_masking = True    # as Keras: the mask passes on, the statistics ignore it

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, **base):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, **base)
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0 and
                                                                       groups != -1):
            raise ConfigError(f"expected a positive integer (or -1 for instance normalization), "
                              f"received {groups!r}", key="groups")
        self.groups = groups

    def _groups(self, channels: int) -> int:
        g = channels if self.groups == -1 else self.groups
        if g > channels or channels % g:
            raise ConfigError(f"{channels} channels cannot be split into {g} groups (the number "
                              f"of channels must be a multiple of groups)", key="groups")
        return g

    def compute_output_shape(self, input_shape):
        super().compute_output_shape(input_shape)
        self._groups(input_shape[-1])
        return input_shape

    def build(self, input_shape, rng):
        self.compute_output_shape(input_shape)
        self._build_affine(input_shape[-1], rng)
        super().build(input_shape, rng)

    def forward(self, x, training=False):
        """x : (N, ..., C) → (N, ..., C), statistics per (sample, group)."""
        g = self._groups(x.shape[-1])
        xg = x.reshape(x.shape[0], -1, g, x.shape[-1] // g)
        count = x.dtype.type(xg.shape[1] * xg.shape[3])
        mean = xg.sum(axis=(1, 3), keepdims=True) / count
        xc = xg - mean
        var = (xc * xc).sum(axis=(1, 3), keepdims=True) / count
        self._inv = 1.0 / np.sqrt(var + x.dtype.type(self.epsilon))
        self._xhat = (xc * self._inv).reshape(x.shape)
        return self._affine(self._xhat)

    def backward(self, dy):
        """dy : (N, ..., C) → dx; grads gamma, beta."""
        c = dy.shape[-1]
        if self.scale:
            self.grads["gamma"] = np.einsum("ij,ij->j", dy.reshape(-1, c),
                                            self._xhat.reshape(-1, c))
        if self.center:
            self.grads["beta"] = dy.reshape(-1, c).sum(axis=0)
        dxhat = dy * self.params["gamma"] if self.scale else dy
        g = self._inv.shape[2]
        shape = (dy.shape[0], -1, g, c // g)
        dxhat, xhat = dxhat.reshape(shape), self._xhat.reshape(shape)
        mean_d = dxhat.mean(axis=(1, 3), keepdims=True)
        mean_dx = (dxhat * xhat).mean(axis=(1, 3), keepdims=True)
        return ((dxhat - mean_d - xhat * mean_dx) * self._inv).reshape(dy.shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}

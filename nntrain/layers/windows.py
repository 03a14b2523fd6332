"""Window geometry shared by convolutions and pooling (channels_last): how many windows fit an
axis and how it is padded, padding and cropping, a copy-free view of every window, its adjoint
(col2im), and the slice one kernel tap reads.

A window layer (Conv1D/2D, Max/AveragePooling1D/2D) plans its spatial axes once per input
shape with `plan`, pads with `pad_spatial`, reads windows with `windows` or `tap_slice`, and
sends gradients back with `col2im` and `crop_spatial`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from nntrain import validate
from nntrain.errors import ConfigError


def plan_axis(size: int, kernel: int, stride: int, dilation: int, padding: str):
    """Output length and (left, right) padding of one spatial axis, as Keras/TensorFlow do it.

    'same' gives ceil(size / stride) outputs with the extra pad on the right; 'causal' pads
    (kernel - 1) * dilation on the left only. The length may be < 1 for 'valid' (`plan` checks).
    """
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (size - span) // stride + 1, (0, 0)
    if padding == "causal":
        return (size - 1) // stride + 1, (span - 1, 0)
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return out, (total // 2, total - total // 2)


def plan(owner: str, spatial, kernel, strides, dilation, padding: str, key: str):
    """Output sizes and (left, right) pads of every spatial axis; a ConfigError naming `owner`
    (the layer type) and `key` (its window argument) when an axis is too short for the window."""
    plans = [plan_axis(n, k, s, d, padding)
             for n, k, s, d in zip(spatial, kernel, strides, dilation)]
    out = tuple(o for o, _ in plans)
    if min(out) < 1:
        dilated = f" at dilation_rate={list(dilation)}" if max(dilation) > 1 else ""
        raise ConfigError(
            f"{owner}: input of spatial shape {list(spatial)} is too short: smaller than "
            f"{key}={list(kernel)}{dilated} with padding={padding!r} (output size {list(out)})",
            key=key)
    return out, tuple(p for _, p in plans)


def pad_spatial(x: np.ndarray, pads, value: float = 0.0) -> np.ndarray:
    """x : (N, *S, C) → (N, *(S + pads), C), filled with `value`; x itself when no padding."""
    if not any(left or right for left, right in pads):
        return x
    shape = (x.shape[0], *(s + l + r for s, (l, r) in zip(x.shape[1:-1], pads)), x.shape[-1])
    out = np.full(shape, value, dtype=x.dtype)
    out[_inner(x.shape, pads)] = x
    return out


def crop_spatial(xp: np.ndarray, shape, pads) -> np.ndarray:
    """Inverse of `pad_spatial`: the (N, *S, C) part of a padded array."""
    if not any(left or right for left, right in pads):
        return xp
    return xp[_inner(shape, pads)]


def _inner(shape, pads):
    return (slice(None), *(slice(l, l + s) for s, (l, _) in zip(shape[1:-1], pads)), slice(None))


def windows(xp: np.ndarray, out, kernel, strides, dilation) -> np.ndarray:
    """Read-only view (N, *out, *kernel, C) of every window of the padded input xp (N, *P, C)."""
    st = xp.strides
    shape = (xp.shape[0], *out, *kernel, xp.shape[-1])
    steps = (st[0], *(a * s for a, s in zip(st[1:-1], strides)),
             *(a * d for a, d in zip(st[1:-1], dilation)), st[-1])
    return as_strided(xp, shape, steps, writeable=False)


def overlapping(kernel, strides, dilation) -> bool:
    """Whether two windows can share an input position (then their gradients add up there)."""
    return any((k - 1) * d + 1 > s for k, s, d in zip(kernel, strides, dilation))


def col2im(dwin: np.ndarray, padded_shape, strides, dilation) -> np.ndarray:
    """Adjoint of `windows`: sum window gradients (N, *out, *kernel, C) into (N, *P, C).

    Non-overlapping windows (stride >= window span) are assigned tap by tap; overlapping ones
    are added, one strided pass per kernel tap (a loop over taps, never over samples).
    """
    r = len(strides)
    out, kernel = dwin.shape[1:1 + r], dwin.shape[1 + r:1 + 2 * r]
    dx = np.zeros(padded_shape, dtype=dwin.dtype)
    add = overlapping(kernel, strides, dilation)
    for tap in np.ndindex(*kernel):
        part = dwin[(slice(None),) * (1 + r) + tap]
        where = tap_slice(tap, out, strides, dilation)
        if add:
            dx[where] += part
        else:
            dx[where] = part
    return dx


def tap_slice(tap, out, strides, dilation) -> tuple:
    """Index of the padded input (N, *P, C) read by kernel tap `tap` across all output positions:
    ``xp[tap_slice(...)]`` is ``windows(xp, ...)[:, ..., *tap, :]``, shaped (N, *out, C)."""
    return (slice(None), *(slice(t * d, t * d + s * (o - 1) + 1, s)
                           for t, d, s, o in zip(tap, dilation, strides, out)))


def check_data_format(data_format):
    """Only channels_last exists here; say so instead of silently transposing."""
    if data_format not in (None, "channels_last"):
        raise ConfigError(f"only channels_last is supported, received {data_format!r}",
                          key="data_format")
    return "channels_last"


def padding_arg(padding, choices) -> str:
    """Keras lower-cases the padding name before checking it."""
    return validate.choice("padding", padding.lower() if isinstance(padding, str) else padding,
                           choices)


def check_strides_dilation(strides, dilation) -> None:
    """Keras refuses strides and dilation above 1 together; so do we, naming both."""
    if max(strides) > 1 and max(dilation) > 1:
        raise ConfigError("strides > 1 is not supported together with dilation_rate > 1 "
                          f"(as in Keras), received strides={list(strides)}, "
                          f"dilation_rate={list(dilation)}", key="strides")

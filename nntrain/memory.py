"""Memory limits, checked from shapes before anything is allocated.

The builder builds a model's shapes first (weights as `WeightShape`s, no data) and asks
`check_weights` whether its weights fit; the trainer's assembly asks `check_training` whether
weights, gradients, optimizer slots and one batch's activations do. Above the limit the answer
is a `ConfigError` naming the layer or the batch size and the size — never NumPy's
``Unable to allocate 298. GiB`` halfway through.

The limit is the machine's available memory (MemAvailable in /proc/meminfo) unless set:
``--max-memory 8GiB`` on the command line, `set_max_memory("8GiB")` from Python (for the
process) or ``with memory_limit("8GiB"):`` (for a block).
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager

import numpy as np

from nntrain.errors import ConfigError
from nntrain.sizes import format_bytes, parse_size

_limit: float | None = None    # bytes; None: the memory available when asked


def set_max_memory(size) -> None:
    """Limit what a model may take: bytes or a size ("8GiB", "512MiB"), "unlimited", or None
    for the default, the machine's available memory."""
    global _limit
    _limit = None if size is None else _parse(size)


@contextmanager
def memory_limit(size):
    """`set_max_memory(size)` for the duration of a block."""
    global _limit
    saved = _limit
    set_max_memory(size)
    try:
        yield
    finally:
        _limit = saved


def _parse(size) -> float:
    try:
        return parse_size(size)
    except ValueError as e:
        raise ConfigError(str(e), key="max_memory") from None


def available_memory() -> float | None:
    """Bytes the system can give a process without swapping (None if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def current_limit() -> tuple[float, str]:
    """(the limit in bytes — math.inf for none —, how to say it in a message)."""
    if _limit is not None:
        return _limit, f"the {format_bytes(_limit)} allowed (max memory)"
    available = available_memory()
    if available is None:
        return math.inf, ""
    return available, (f"the {format_bytes(available)} of memory available (--max-memory sets "
                       "another limit)")


def check_weights(network, keys: list[str]) -> None:
    """Refuse a model whose weights (from a shapes-only build: `WeightShape`s) exceed the
    limit, naming the largest weight; `keys` are the layers' config key paths."""
    limit, words = current_limit()
    rows = [(key, node.layer.name, name, tuple(w.shape), w.nbytes)
            for node, key in zip(network.nodes, keys) for name, w in node.layer.params.items()]
    total = sum(r[4] for r in rows)
    if total <= limit:
        return
    key, layer, param, shape, nbytes = max(rows, key=lambda r: r[4])
    what = f"{layer}: {param} {shape} would take {format_bytes(nbytes)}"
    if nbytes > limit:
        raise ConfigError(f"{what}, more than {words}", key=key)
    raise ConfigError(f"the model's weights would take {format_bytes(total)}, more than "
                      f"{words}; the largest, {what}", key=key)


def activation_bytes_per_sample(network) -> int:
    """Every layer's output for one sample (what a forward pass keeps for backward)."""
    itemsize = np.dtype(network.dtype).itemsize
    return itemsize * sum(math.prod(n.output_shape) for n in network.nodes)


def check_training(network, optimizer, batch_size: int, samples: int | None = None) -> None:
    """Refuse training that cannot fit: the weights, their gradients, the optimizer's slots and
    work buffers, and a batch's activations kept for the backward pass and their gradients
    (about twice the forward's outputs). An estimate from shapes, made before the first step;
    a batch holds at most the `samples` there are."""
    limit, words = current_limit()
    if limit == math.inf:
        return
    if samples is not None:
        batch_size = max(1, min(batch_size, samples))
    weights = sum(w.nbytes for w in network.weights().values())
    trainable = sum(w.nbytes for w in network.trainable_weights().values())
    copies = 1 + len(optimizer.slots()) + 2      # gradient, slots, two scratch buffers
    state = weights + trainable * copies
    per_sample = 2 * activation_bytes_per_sample(network)
    if state > limit:
        raise ConfigError(f"training needs about {format_bytes(state)} for the weights, their "
                          f"gradients and the optimizer's state, more than {words}",
                          key="compile.optimizer")
    if state + per_sample * batch_size > limit:
        fits = int((limit - state) // per_sample) if per_sample else 0
        hint = (f"; a batch_size of at most {fits} fits" if fits >= 1
                else "; not even one sample fits")
        raise ConfigError(f"a batch of {batch_size} would need about "
                          f"{format_bytes(state + per_sample * batch_size)} "
                          f"({format_bytes(per_sample)} of activations and their gradients per "
                          f"sample), more than {words}{hint}", key="fit.batch_size")

"""What every command does first: read a config (a file, a run directory or a dict), apply
``--set`` overrides, check it, and build what it names — with every error located in the file."""

from __future__ import annotations

import copy
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from nntrain import losses
from nntrain.builder import build_model
from nntrain.config import Config, apply_override, load_config, validate_config
from nntrain.errors import InputError
from nntrain.model import Network


@contextmanager
def located(config: Config):
    """Give any InputError raised inside the file and line of the key it names."""
    try:
        yield
    except InputError as e:
        raise config.locate(e) from None


def open_config(target: str | Path | dict | Config, overrides=(),
                needs: tuple[str, ...] = ("model",)) -> Config:
    """A checked config from a file, a run directory, a dict of the same structure or a
    Config; `overrides` are ``--set`` assignments."""
    if isinstance(target, Config):
        config = Config(copy.deepcopy(target.data), target.file, dict(target.lines),
                        list(target.overrides))
    elif isinstance(target, dict):
        config = Config(copy.deepcopy(target), file="<dict>")
    else:
        config = load_config(target)
    for assignment in overrides:
        apply_override(config, assignment)
    with located(config):
        validate_config(config.data, needs=needs)
    return config


def config_dtype(config: Config):
    return np.dtype(config.data.get("dtype", "float32")).type


def random_streams(seed: int) -> tuple[np.random.Generator, ...]:
    """Three independent streams from one seed: weight init, shuffling, dropout. Same seed,
    same run."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))


def build(config: Config, rng: np.random.Generator | None = None, *,
          shapes_only: bool = False) -> Network:
    """Build the model of `config` in its dtype; weights from `rng` (default: the seed's init
    stream, so these are the weights `fit` starts from). `shapes_only`: no weights at all,
    only their shapes (summary)."""
    if rng is None:
        rng = random_streams(config.data.get("seed", 0))[0]
    with located(config):
        return build_model(config.section("model"), dtype=config_dtype(config), rng=rng,
                           shapes_only=shapes_only)


def get_loss(config: Config):
    with located(config):
        return losses.get_loss(config.section("compile").get("loss"), key="compile.loss")

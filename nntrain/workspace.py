"""What every command does first: read a config (a file or a run directory), apply ``--set``
overrides, check it, and build the model — with every error located in the file."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from nntrain.builder import build_model
from nntrain.config import Config, apply_override, load_config, validate_config
from nntrain.errors import InputError
from nntrain.model import Model


@contextmanager
def located(config: Config):
    """Give any InputError raised inside the file and line of the key it names."""
    try:
        yield
    except InputError as e:
        raise config.locate(e) from None


def open_config(target: str | Path, overrides=(), needs: tuple[str, ...] = ("model",)) -> Config:
    config = load_config(target)
    for assignment in overrides:
        apply_override(config, assignment)
    with located(config):
        validate_config(config.data, needs=needs)
    return config


def config_dtype(config: Config):
    return np.dtype(config.data.get("dtype", "float32")).type


def build(config: Config, rng: np.random.Generator | None = None) -> Model:
    """Build the model of `config` in its dtype; weights from `rng` (default: the seed's)."""
    if rng is None:
        rng = np.random.default_rng(config.data.get("seed", 0))
    with located(config):
        return build_model(config.section("model"), dtype=config_dtype(config), rng=rng)


def get_loss(config: Config):
    from nntrain.losses import get_loss as _get_loss
    with located(config):
        return _get_loss(config.section("compile").get("loss"), key="compile.loss")

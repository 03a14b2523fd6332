"""The keys each config section may hold, and checks of the top-level values.

Deeper values (layer arguments, optimizer, loss, callbacks, data) are validated by the part
that uses them; this module makes sure no key anywhere is silently ignored.
"""

from __future__ import annotations

from nntrain import validate
from nntrain.errors import ConfigError, unknown

SECTION_KEYS = {
    "": {"name", "seed", "dtype", "threads", "run_dir", "data", "model", "compile", "fit",
         "sweep"},
    "model": {"input_shape", "inputs", "outputs", "layers", "weights"},
    "compile": {"optimizer", "loss", "metrics", "weighted_metrics"},
    "fit": {"epochs", "batch_size", "shuffle", "callbacks", "class_weight"},
    "data": {"path", "x", "y", "sample_weight", "test", "validation_split", "validation",
             "normalize"},
    "data.test": {"path", "x", "y", "sample_weight"},
    "data.validation": {"path", "x", "y", "sample_weight"},
    # `nntrain sweep`: its keys mean what the command's options do (nntrain/experiments/)
    "sweep": {"name", "grid", "random", "seed", "workers"},
}

DEFAULTS = {"fit": {"epochs": 1, "batch_size": 32, "shuffle": True, "callbacks": [],
                    "class_weight": None}}


def check_keys(mapping: dict, allowed: set[str], prefix: str) -> None:
    """Raise for the first key of `mapping` that is not in `allowed`, with a did-you-mean."""
    for key in mapping:
        if key not in allowed:
            where = f"{prefix}.{key}" if prefix else str(key)
            raise unknown("key", key, allowed, key=where)


def _section(data: dict, path: str):
    node = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def validate_config(data: dict, *, needs: tuple[str, ...] = ("model",)) -> None:
    """Check every section's keys and the top-level scalars; `needs` names required sections
    (``compile.loss`` style paths allowed)."""
    for path, allowed in SECTION_KEYS.items():
        section = data if path == "" else _section(data, path)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"expected a mapping, received {section!r}", key=path)
        check_keys(section, allowed, path)
    for path in needs:
        if _section(data, path) is None:
            raise ConfigError("missing; this command needs it", key=path)
    if "seed" in data:
        validate.non_negative_int("seed", data["seed"])
    if "dtype" in data:
        validate.choice("dtype", data["dtype"], ["float32", "float64"])
    if "threads" in data:      # the BLAS pool's size (nntrain.threads); --threads overrides it
        validate.positive_int("threads", data["threads"])
    if "name" in data and not _plain_name(data["name"]):
        raise ConfigError(f"expected a run name (a directory name, without '/'), received "
                          f"{data['name']!r}", key="name")
    if data.get("run_dir") is not None:
        validate.file_path("run_dir", data["run_dir"], directory=True)
    fit = data.get("fit") or {}
    if "epochs" in fit:
        validate.positive_int("fit.epochs", fit["epochs"])
    if "batch_size" in fit:
        validate.positive_int("fit.batch_size", fit["batch_size"])
    if "shuffle" in fit:
        validate.boolean("fit.shuffle", fit["shuffle"])
    if "callbacks" in fit and not isinstance(fit["callbacks"], list):
        raise ConfigError(f"expected a list of callbacks, received {fit['callbacks']!r}",
                          key="fit.callbacks")
    if fit.get("class_weight") is not None:
        from nntrain.data.weights import class_weight_map
        class_weight_map(fit["class_weight"], key="fit.class_weight")


def _plain_name(name) -> bool:
    """A name that is one directory under runs/ (room left for a "-2" suffix)."""
    return (isinstance(name, str) and bool(name.strip()) and name not in (".", "..")
            and not set(name) & {"/", "\0"} and len(name.encode("utf-8", "replace")) <= 240)


def fit_settings(data: dict) -> dict:
    """The fit section with Keras's defaults filled in."""
    return {**DEFAULTS["fit"], **(data.get("fit") or {})}

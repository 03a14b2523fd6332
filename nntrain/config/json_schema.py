"""The JSON Schema (draft-07) of a config, built from the same source as the config reference:
the sections and their keys from `SECTION_KEYS`, the entries of every registry with their
arguments (`nntrain.reference.describe()`), argument types inferred from their defaults and
names. Editors that read JSON Schema (the YAML language server) then complete names and flag
typos (an unknown key or argument, a misspelt layer) as you type.

It checks the shape of a config, not everything the code checks: values are typed, names
enumerated and unknown keys refused, but ranges and cross-field rules (a validation split that
leaves no samples, a monitored metric that is never logged) remain the code's.
"""

from __future__ import annotations

import re

from nntrain.reference import Description, describe

SCHEMA_URI = "http://json-schema.org/draft-07/schema#"

ANY: dict = {}
STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}
NULL = {"type": "null"}
SHAPE = {"anyOf": [{"type": "integer", "minimum": 1},
                   {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1}]}


def ref(section: str) -> dict:
    return {"$ref": f"#/definitions/{section}"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, NULL]}


def any_case(name: str) -> str:
    """A pattern matching `name` in any letter case (registries that fold case)."""
    return "^" + "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c)
                         for c in name) + "$"


# Arguments whose type their name says better than their default does.
BY_NAME = {
    "layer": ref("layer"), "name": nullable(STRING), "seed": nullable(INTEGER),
    "inputs": {"anyOf": [STRING, STRINGS]}, "target_shape": {"type": "array"},
    "units": INTEGER, "filters": INTEGER, "input_dim": INTEGER, "output_dim": INTEGER,
    "num_heads": INTEGER, "key_dim": INTEGER, "decay_steps": INTEGER,
    "first_decay_steps": INTEGER, "rate": NUMBER, "initial_learning_rate": NUMBER,
    "decay_rate": NUMBER, "boundaries": {"type": "array", "items": NUMBER},
    "values": {"type": "array", "items": NUMBER}, "thresholds": nullable(
        {"anyOf": [NUMBER, {"type": "array", "items": NUMBER}]}),
    "alpha": {"anyOf": [NUMBER, {"type": "array", "items": NUMBER}]},
    "label_weights": nullable({"type": "array", "items": NUMBER}),
    "clipnorm": nullable(NUMBER), "clipvalue": nullable(NUMBER),
    "global_clipnorm": nullable(NUMBER), "weight_decay": nullable(NUMBER),
    "save_freq": {"anyOf": [{"const": "epoch"}, {"type": "integer", "minimum": 1}]},
    "update_freq": {"anyOf": [{"enum": ["epoch", "batch"]}, {"type": "integer", "minimum": 1}]},
}


def from_default(default, *, in_layer: bool) -> dict:
    """A type from a default value: a layer's integer arguments (strides, pool_size, ...) may
    also be lists, one per axis, as Keras's."""
    if isinstance(default, bool):
        return BOOLEAN
    if isinstance(default, int):
        return {"anyOf": [INTEGER, {"type": "array", "items": INTEGER}]} if in_layer else INTEGER
    if isinstance(default, float):
        return NUMBER
    if isinstance(default, str):
        return STRING
    if isinstance(default, (list, tuple)):
        return {"anyOf": [NUMBER, {"type": "array"}]} if in_layer else {"type": "array"}
    return ANY


def argument_schema(d: Description, name: str, default, required: bool) -> dict:
    section = d.kind.section
    if name.endswith("_initializer"):
        return ref("initializer")
    if name.endswith("_regularizer"):
        return nullable(ref("regularizer"))
    if name.endswith("activation") and section == "layer":
        return nullable(ref("activation"))
    if section == "optimizer" and name == "learning_rate":
        return {"anyOf": [{"type": "number", "minimum": 0}, ref("schedule")]}
    if name in BY_NAME:
        schema = BY_NAME[name]
    else:
        schema = ANY if required else from_default(default, in_layer=section == "layer")
    if not required and default is None and schema is not ANY and schema != BY_NAME.get(name):
        schema = nullable(schema)
    return schema


def arguments_object(d: Description, extra: dict | None = None) -> dict:
    props = {a.name: argument_schema(d, a.name, a.default, a.required) for a in d.arguments}
    props.update(extra or {})
    required = [a.name for a in d.arguments if a.required]
    schema = {"type": "object" if required else ["object", "null"], "properties": props,
              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def described(d: Description, text: str | None = None) -> dict:
    return {"description": text or d.summary}


def one_key(d: Description, spellings, extra: dict | None = None) -> list[dict]:
    """``{Name: {arguments}}`` for each spelling of the entry."""
    args = arguments_object(d, extra)
    return [{"type": "object", "properties": {s: {**args, **described(d)}}, "required": [s],
             "additionalProperties": False} for s in spellings]


def flat(d: Description, key: str, name_schema: dict) -> dict:
    """``{key: Name, arguments...}`` (optimizers, schedules, losses, metrics)."""
    args = arguments_object(d)
    props = {key: name_schema, **args["properties"]}
    return {"type": "object", "properties": props,
            "required": [key] + args.get("required", []), "additionalProperties": False,
            **described(d)}


def names_schema(entries: list[Description], any_letter_case: bool = False) -> dict:
    """The bare names (of the entries that need no argument)."""
    names = [s for d in entries if not any(a.required for a in d.arguments)
             for s in (d.name, *d.aliases)]
    schema = {"enum": names}
    if any_letter_case:
        return {"anyOf": [schema, *({"type": "string", "pattern": any_case(n)} for n in names)]}
    return schema


def spelling_schema(d: Description, any_letter_case: bool) -> dict:
    names = [d.name, *d.aliases]
    if any_letter_case:
        return {"anyOf": [{"enum": names}, *({"type": "string", "pattern": any_case(n)}
                                             for n in names)]}
    return {"enum": names}


def definitions() -> dict:
    entries = describe()
    defs = {}
    layers = entries["layer"]
    common = {"inputs": BY_NAME["inputs"], "name": nullable(STRING), "trainable": BOOLEAN,
              "activity_regularizer": nullable(ref("regularizer"))}
    defs["layer"] = {"anyOf": [names_schema(layers)] +
                     [s for d in layers for s in one_key(d, [d.name], common)]}
    defs["callback"] = {"anyOf": [names_schema(entries["callback"])] +
                        [s for d in entries["callback"] for s in one_key(d, [d.name])]}
    defs["activation"] = names_schema(entries["activation"])
    defs["initializer"] = {"anyOf": [names_schema(entries["initializer"])] + [
        s for d in entries["initializer"] for s in one_key(d, (d.name, *d.aliases))]}
    defs["regularizer"] = {"anyOf": [names_schema(entries["regularizer"])] + [
        s for d in entries["regularizer"] for s in one_key(d, (d.name, *d.aliases))] + [
        {"type": "object", "properties": {"l1": NUMBER, "l2": NUMBER}, "minProperties": 1,
         "additionalProperties": False, "description": "L1L2's factors: {l2: 1.0e-4}"}]}
    defs["optimizer"] = {"anyOf": [names_schema(entries["optimizer"], True)] + [
        flat(d, "name", spelling_schema(d, True)) for d in entries["optimizer"]]}
    defs["schedule"] = {"anyOf": [flat(d, "schedule", spelling_schema(d, True))
                                  for d in entries["schedule"]]}
    for section in ("loss", "metric"):
        extra = {"name": STRING} if section == "metric" else None   # the logged name
        defs[section] = {"anyOf": [names_schema(entries[section])] + [
            s for d in entries[section]
            for s in [flat(d, "name", spelling_schema(d, False)),
                      *one_key(d, (d.name, *d.aliases), extra)]]}
    return defs


X_SPEC = {"anyOf": [STRING, STRINGS, {"type": "object",
                                      "additionalProperties": {"anyOf": [STRING, STRINGS]}}],
          "description": "npz key or CSV column(s); for several inputs a map by input name"}
DATA_VALUES = {
    "path": {"type": "string", "description": ".npz, .npy or .csv file"},
    "x": X_SPEC,
    "y": {"anyOf": [STRING, STRINGS], "description": "npz key, CSV column(s) or .npy path"},
    "sample_weight": {"type": "string",
                      "description": "npz key, CSV column or .npy path of per-sample weights"},
    "validation_split": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
    "normalize": {"enum": ["none", "standard", "minmax"]},
}


def section_values() -> dict[str, dict]:
    """The schema of every key of every section, by dotted path."""
    return {
        "name": {"type": "string", "pattern": "^[^/]+$", "description": "runs/<name>"},
        "seed": {"type": "integer", "minimum": 0},
        "dtype": {"enum": ["float32", "float64"]},
        "threads": {"type": "integer", "minimum": 1,
                    "description": "threads for matrix products (default: all cores)"},
        "run_dir": STRING,
        **{f"data.{k}": v for k, v in DATA_VALUES.items()},
        "model.input_shape": SHAPE,
        "model.inputs": {"type": "object", "additionalProperties": SHAPE},
        "model.outputs": {"anyOf": [STRING, STRINGS]},
        "model.weights": nullable(STRING),
        "model.layers": {"type": "array", "items": ref("layer")},
        "compile.optimizer": ref("optimizer"),
        "compile.loss": ref("loss"),
        "compile.metrics": {"type": "array", "items": ref("metric")},
        "compile.weighted_metrics": {"type": "array", "items": ref("metric")},
        "fit.epochs": {"type": "integer", "minimum": 1},
        "fit.batch_size": {"type": "integer", "minimum": 1},
        "fit.shuffle": BOOLEAN,
        "fit.callbacks": {"type": "array", "items": ref("callback")},
        "fit.class_weight": nullable({"type": "object", "propertyNames": {"pattern": "^[0-9]+$"},
                                      "additionalProperties": {"type": "number", "minimum": 0}}),
        "sweep.name": {"type": "string", "pattern": "^[^/]+$"},
        "sweep.grid": {"type": "object", "description": "config key -> list of values, "
                       "label -> value map, or a distribution string"},
        "sweep.random": {"type": "integer", "minimum": 1},
        "sweep.seed": {"type": "integer", "minimum": 0},
        "sweep.workers": {"type": "integer", "minimum": 1},
    }


def config_schema() -> dict:
    """The whole schema: sections from SECTION_KEYS (a key without a known type accepts any
    value), entries from the registries."""
    from nntrain.config.schema import SECTION_KEYS
    values = section_values()

    def section(path: str) -> dict:
        props = {}
        for key in sorted(SECTION_KEYS[path]):
            full = f"{path}.{key}" if path else key
            if full in SECTION_KEYS:
                props[key] = section(full)
            elif path.startswith("data."):      # data.test, data.validation: as data's keys
                props[key] = DATA_VALUES.get(key, ANY)
            else:
                props[key] = values.get(full, ANY)
        return {"type": "object", "properties": props, "additionalProperties": False}

    return {"$schema": SCHEMA_URI, "title": "nntrain config",
            "description": "A config for `nntrain fit` (generated by `nntrain schema`).",
            **section(""), "definitions": definitions()}

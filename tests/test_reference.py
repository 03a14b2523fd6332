"""The config reference, the JSON Schema and `nntrain explain`, all generated from the registries:
the committed docs/config-reference.md and docs/config.schema.json are what the code gives
(regenerate with `python -m nntrain.reference`), every entry's example line is accepted by the
code and by the schema, the schema validates every shipped config and rejects typos.

jsonschema is not a dependency: `validate` below is a small validator for exactly the keywords
the schema uses (a test checks that it knows all of them); where jsonschema is installed, the
schema is also checked as draft-07 and the configs validated with it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from nntrain.config.json_schema import config_schema
from nntrain.config.schema import SECTION_KEYS
from nntrain.reference import KINDS, describe, first_sentence, generated_files

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


# -- a minimal draft-07 validator for the subset the schema uses --------------------------------
KEYWORDS = {"$schema", "title", "description", "definitions", "$ref", "type", "enum", "const",
            "pattern", "properties", "required", "additionalProperties", "propertyNames",
            "items", "anyOf", "minimum", "maximum", "exclusiveMaximum", "minItems",
            "minProperties"}
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is(value, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[kind])


def validate(value, schema: dict, root: dict, path: str = "") -> list[str]:
    """Errors (path: message) of `value` against `schema`; [] when it is valid."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/definitions/")
        return validate(value, root["definitions"][name], root, path)
    errors = []
    where = path or "(top)"
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, k) for k in kinds):
            return [f"{where}: {value!r} is not of type {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum'][:8]}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > {schema['maximum']}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            errors.append(f"{where}: {value} >= {schema['exclusiveMaximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing {key!r}")
        if len(value) < schema.get("minProperties", 0):
            errors.append(f"{where}: too few keys")
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if "propertyNames" in schema:
                errors += validate(str(key), schema["propertyNames"], root, sub)
            if key in props:
                errors += validate(item, props[key], root, sub)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{sub}: unexpected key {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(item, schema["additionalProperties"], root, sub)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: too few items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(item, schema["items"], root, f"{path}.{i}")
    if "anyOf" in schema:
        branches = [validate(value, s, root, path) for s in schema["anyOf"]]
        if all(branches):
            best = min(branches, key=len)
            errors.append(f"{where}: matches none of the {len(branches)} forms"
                          + (f" (closest: {best[0]})" if len(best) == 1 else ""))
    return errors


def keywords(schema) -> set[str]:
    """Every keyword used anywhere in the schema (property names are not keywords)."""
    found = set()
    if isinstance(schema, dict):
        for k, v in schema.items():
            found.add(k)
            if k in ("properties", "definitions"):
                for sub in v.values():
                    found |= keywords(sub)
            elif k != "enum" and k != "const":
                found |= keywords(v)
    elif isinstance(schema, list):
        for item in schema:
            found |= keywords(item)
    return found


def json_like(value):
    """A YAML config as JSON sees it (what an editor's validator gets): keys are strings."""
    if isinstance(value, dict):
        return {str(k): json_like(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_like(v) for v in value]
    return value


SCHEMA = config_schema()


def errors_of(config) -> list[str]:
    return validate(json_like(config), SCHEMA, SCHEMA)


# -- the generated files --------------------------------------------------------------------
def test_the_committed_reference_and_schema_are_up_to_date():
    for path, text in generated_files().items():
        assert path.is_file(), f"{path} missing: run python -m nntrain.reference"
        assert path.read_text() == text, (f"{path.name} is out of date: run "
                                          f"python -m nntrain.reference")


def test_the_reference_lists_every_entry_with_a_line_of_meaning():
    page = generated_files()[ROOT / "docs" / "config-reference.md"]
    for kind in KINDS:
        assert f"## {kind.title}" in page
        for d in describe()[kind.section]:
            assert f"### {d.name}\n\n{d.summary}\n" in page
            assert d.summary and d.summary != "(no description)", (kind.section, d.name)
    assert "| `units` | **required** |" in page and "| `patience` | `0` |" in page


def test_first_sentence():
    assert first_sentence("Stop early. Then more.") == "Stop early."
    text = "Uses ``a.b`` (e.g. x. y) here."
    assert first_sentence(text + " More.") == text
    long = "Adam (Kingma, https://arxiv.org/abs/1412.6980), Keras form: " + "x" * 100 + "."
    assert first_sentence(long) == "Adam (Kingma, https://arxiv.org/abs/1412.6980), Keras form."


def _construct(section: str, example: str):
    """Build what an example line writes, as the code would from a config."""
    from nntrain import regularizers
    from nntrain.losses import get_loss
    from nntrain.metrics import get_metric
    from nntrain.optim import make_optimizer
    from nntrain.optim.schedules import make_learning_rate
    from nntrain.registry import construct
    value = yaml.safe_load(example)
    if section in ("layer", "callback"):
        return value[0], construct(section, value[0], "x")
    value = next(iter(value.values()))
    build = {"activation": lambda v: construct("activation", v, "x"),
             "initializer": lambda v: construct("initializer", v, "x"),
             "regularizer": regularizers.get, "optimizer": make_optimizer,
             "schedule": make_learning_rate, "loss": get_loss,
             "metric": lambda v: get_metric(v[0])}[section]
    return (value[0] if section == "metric" else value), build(value)


@pytest.mark.parametrize("kind", [k.section for k in KINDS])
def test_every_example_line_is_accepted_by_the_code_and_the_schema(kind):
    for d in describe()[kind]:
        entry, built = _construct(kind, d.example)
        assert built is not None, d.example
        errors = validate(json_like(entry), {"$ref": f"#/definitions/{kind}"}, SCHEMA)
        assert not errors, (d.example, errors)


# -- the schema -----------------------------------------------------------------------------
def test_the_validator_knows_every_keyword_the_schema_uses():
    assert keywords(SCHEMA) <= KEYWORDS, keywords(SCHEMA) - KEYWORDS


def test_the_schema_sections_are_the_config_sections():
    def keys_at(path):
        node = SCHEMA
        for part in [p for p in path.split(".") if p]:
            node = node["properties"][part]
        return set(node["properties"]), node["additionalProperties"]
    for path, keys in SECTION_KEYS.items():
        assert keys_at(path) == (keys, False), path


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(ROOT)) for p in CONFIGS])
def test_every_shipped_config_validates(path):
    assert errors_of(yaml.safe_load(path.read_text())) == []


def test_configs_of_the_tests_validate_too():
    """The richest configs the suite trains (every callback, schedules, weights, metrics)."""
    from training.test_resume import DATA_AND_MODEL, EVERY_3_BATCHES, PLATEAU, SCHEDULE
    from training.test_weights import RUN
    values = {"epochs": 3, **EVERY_3_BATCHES}
    for text in (PLATEAU % values, SCHEDULE % values, RUN, DATA_AND_MODEL):
        assert errors_of(yaml.safe_load(text)) == []


def mnist_mlp():
    return yaml.safe_load((ROOT / "configs" / "mnist1d_mlp.yaml").read_text())


@pytest.mark.parametrize("typo,where", [
    (lambda c: c["model"]["layers"].__setitem__(0, {"Dens": c["model"]["layers"][0]["Dense"]}),
     "model.layers.0"),
    (lambda c: c["model"]["layers"][-1]["Dense"].__setitem__(
        "unit", c["model"]["layers"][-1]["Dense"].pop("units")), "model.layers.8"),
    (lambda c: c["fit"].__setitem__("epoch", 3), "fit.epoch"),
    (lambda c: c.__setitem__("compiler", {}), "compiler"),
    (lambda c: c["compile"].__setitem__("optimizer", {"name": "adamm"}), "compile.optimizer"),
    (lambda c: c["compile"].__setitem__("loss", "categorical_crossentropi"), "compile.loss"),
    (lambda c: c["data"].__setitem__("normalize", "standardise"), "data.normalize"),
    (lambda c: c["fit"].__setitem__("batch_size", 0), "fit.batch_size"),
    (lambda c: c["fit"].__setitem__("callbacks", [{"EarlyStopping": {"patiense": 2}}]),
     "fit.callbacks.0"),
])
def test_the_schema_rejects_typos(typo, where):
    config = mnist_mlp()
    assert errors_of(config) == []
    typo(config)
    errors = errors_of(config)
    assert errors and errors[0].startswith(where), errors


def test_names_of_case_insensitive_registries_match_any_case():
    config = mnist_mlp()
    config["compile"]["optimizer"] = {"name": "Adam", "learning_rate": {
        "schedule": "cosinedecay", "initial_learning_rate": 0.1, "decay_steps": 10}}
    assert errors_of(config) == []


def test_against_jsonschema_where_installed():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft7Validator(SCHEMA)
    for path in CONFIGS:
        assert list(validator.iter_errors(json_like(yaml.safe_load(path.read_text())))) == []
    config = mnist_mlp()
    config["model"]["layers"][0] = {"Dens": {"units": 3}}
    assert list(validator.iter_errors(config))


# -- the commands ---------------------------------------------------------------------------
def test_schema_command_prints_the_schema(run_cli):
    code, out, err = run_cli("schema")
    assert code == 0 and err == ""
    assert json.loads(out) == json.loads(json.dumps(SCHEMA))


def test_explain(run_cli):
    code, out, _ = run_cli("explain", "EarlyStopping")
    assert code == 0
    assert "EarlyStopping (callback)" in out and "patience" in out and "val_loss" in out
    assert "Example: - EarlyStopping: {monitor: val_loss}" in out
    code, out, _ = run_cli("explain", "he_normal")
    assert code == 0 and "HeNormal (initializer)" in out and "fan_in" in out
    assert "Example: kernel_initializer: HeNormal" in out
    code, out, _ = run_cli("explain", "Dense")
    assert "units" in out and "required" in out and "- Dense: {units: 10}" in out
    code, out, _ = run_cli("explain", "mse")        # a loss, and a metric
    assert "(loss)" in out and "(metric)" in out


def test_explain_json(run_cli):
    code, out, _ = run_cli("explain", "adam", "--json")
    entry = json.loads(out)["entries"][0]
    assert code == 0 and entry["kind"] == "optimizer" and entry["name"] == "adam"
    assert {"name": "learning_rate", "required": False, "default": 0.001} in entry["arguments"]


def test_explain_an_unknown_name(run_cli):
    code, out, err = run_cli("explain", "EarlyStoping")
    assert code == 2 and out == ""
    assert err.strip() == "error: unknown name 'EarlyStoping' (did you mean 'EarlyStopping'?)"

import pytest

from nntrain.config import apply_override, load_config, parse_yaml, validate_config
from nntrain.errors import ConfigError

TEXT = """\
name: demo
model:
  input_shape: [4]
  layers:
    - Dense: {units: 3}
    - Dropout:
        rate: 0.5
fit:
  epochs: 2
"""


def test_lines_are_recorded_for_every_key_path():
    config = parse_yaml(TEXT, "c.yaml")
    assert config.lines["name"] == 1
    assert config.lines["model.input_shape"] == 3
    assert config.lines["model.layers.0"] == 5
    assert config.lines["model.layers.1.Dropout.rate"] == 7
    assert config.lines["fit.epochs"] == 9


def test_locate_uses_the_longest_known_prefix():
    config = parse_yaml(TEXT, "c.yaml")
    err = config.locate(ConfigError("bad", key="model.layers.1.Dropout.rate.deeper"))
    assert (err.file, err.line) == ("c.yaml", 7)
    assert str(err) == "c.yaml:7: model.layers.1.Dropout.rate.deeper: bad"


def test_yaml_syntax_error_names_the_line():
    with pytest.raises(ConfigError) as e:
        parse_yaml("model:\n  input_shape: [3\nfit: {}\n", "bad.yaml")
    assert e.value.file == "bad.yaml" and e.value.line is not None
    assert "invalid YAML" in e.value.message


def test_duplicate_keys_are_errors_not_silently_merged():
    with pytest.raises(ConfigError) as e:
        parse_yaml("fit:\n  epochs: 1\n  epochs: 2\n", "d.yaml")
    assert e.value.key == "fit.epochs" and e.value.line == 3


def test_top_level_must_be_a_mapping():
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_yaml("- 1\n- 2\n", "l.yaml")


def test_set_overrides_nested_keys_list_items_and_parses_yaml():
    config = parse_yaml(TEXT, "c.yaml")
    apply_override(config, "fit.epochs=7")
    apply_override(config, "model.layers.1.Dropout.rate=0.25")
    apply_override(config, "compile.optimizer.learning_rate=1e-2")
    apply_override(config, "model.input_shape=[8]")
    assert config.data["fit"]["epochs"] == 7
    assert config.data["model"]["layers"][1]["Dropout"]["rate"] == 0.25
    assert config.data["compile"]["optimizer"]["learning_rate"] == 0.01
    assert config.data["model"]["input_shape"] == [8]
    err = config.locate(ConfigError("x", key="fit.epochs"))
    assert err.file == "--set"


@pytest.mark.parametrize("assignment,match", [
    ("fit.epochs", "expected KEY=VALUE"),
    ("model.layers.5.Dense.units=3", "no list item 5"),
    ("name.sub=3", "cannot set a key inside"),
])
def test_bad_set_assignments(assignment, match):
    config = parse_yaml(TEXT, "c.yaml")
    with pytest.raises(ConfigError, match=match):
        apply_override(config, assignment)


@pytest.mark.parametrize("data,key,match", [
    ({"modle": {}}, "modle", "did you mean 'model'"),
    ({"model": {"layers": [], "input_shap": [3]}}, "model.input_shap", "did you mean"),
    ({"model": {}, "fit": {"epoch": 3}}, "fit.epoch", "did you mean 'epochs'"),
    ({"model": {}, "fit": {"epochs": 0}}, "fit.epochs", "positive integer"),
    ({"model": {}, "fit": {"batch_size": "32"}}, "fit.batch_size", "positive integer"),
    ({"model": {}, "dtype": "float16"}, "dtype", "float32"),
    ({"model": {}, "data": {"validation": {"pth": "x"}}}, "data.validation.pth", "did you mean"),
    ({"fit": {}}, "model", "missing"),
])
def test_schema_errors_name_the_key(data, key, match):
    with pytest.raises(ConfigError, match=match) as e:
        validate_config(data, needs=("model",))
    assert e.value.key == key


def test_run_directory_config_is_found(tmp_path):
    (tmp_path / "config.yaml").write_text(TEXT)
    assert load_config(tmp_path).data["name"] == "demo"
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")

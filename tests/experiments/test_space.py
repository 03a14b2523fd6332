"""Sweep spaces: parsing --grid and sweep.grid, grid expansion order, readable run ids,
wildcard keys, reproducible random draws — and the errors of each."""

from __future__ import annotations

import pytest

from nntrain.errors import ConfigError
from nntrain.experiments import space

CONFIG = {
    "model": {"layers": [{"Dense": {"units": 16}}, {"Activation": {"activation": "relu"}},
                         {"Dense": {"units": 16}}, {"Activation": {"activation": "relu"}},
                         {"Dense": {"units": 3, "activation": "softmax"}}]},
    "compile": {"optimizer": {"name": "adam", "learning_rate": 0.01}},
}


def grid(*options):
    return space.expand_grid([space.parse_grid_option(o) for o in options])


def test_grid_expands_every_combination_first_key_slowest_with_readable_ids():
    points = grid("compile.optimizer.learning_rate=0.1,0.01", "fit.batch_size=16,32,64")
    assert [p.id for p in points] == [
        "learning_rate-0.1_batch_size-16", "learning_rate-0.1_batch_size-32",
        "learning_rate-0.1_batch_size-64", "learning_rate-0.01_batch_size-16",
        "learning_rate-0.01_batch_size-32", "learning_rate-0.01_batch_size-64"]
    assert points[4].params == {"compile.optimizer.learning_rate": 0.01, "fit.batch_size": 32}
    assert all(isinstance(p.params["fit.batch_size"], int) for p in points)


def test_one_key_names_runs_by_value_and_values_are_yaml():
    points = grid("model.layers.1.Activation.activation=relu,tanh,'elu'")
    assert [p.id for p in points] == ["relu", "tanh", "elu"]
    points = grid("model.input_shape=[8],[4, 2]", "fit.shuffle=true,false")
    assert [p.params["model.input_shape"] for p in points[::2]] == [[8], [4, 2]]
    assert [p.id for p in points] == ["input_shape-8_shuffle-true", "input_shape-8_shuffle-false",
                                      "input_shape-4x2_shuffle-true",
                                      "input_shape-4x2_shuffle-false"]
    assert [p.id for p in grid("compile.optimizer={name: sgd, momentum: 0.9},adam")] == \
        ["name-sgd-momentum-0.9", "adam"]


def test_short_keys_are_the_shortest_distinguishing_suffixes():
    assert space.short_keys(["model.layers.0.Dense.units", "model.layers.2.Dense.units",
                             "fit.epochs"]) == {"model.layers.0.Dense.units": "0.Dense.units",
                                                "model.layers.2.Dense.units": "2.Dense.units",
                                                "fit.epochs": "fit.epochs"}
    points = grid("model.layers.0.Dense.units=8", "model.layers.2.Dense.units=4,8")
    assert [p.id for p in points] == ["0.Dense.units-8_2.Dense.units-4",
                                      "0.Dense.units-8_2.Dense.units-8"]


def test_equal_ids_get_a_suffix():
    assert [p.id for p in grid("a.b=x y,x/y,x-y")] == ["x-y", "x-y-2", "x-y-3"]


def test_labelled_values_from_the_yaml_name_the_runs():
    dims = space.parse_grid_section(
        {"compile.optimizer": {"sgd": {"name": "sgd", "learning_rate": 0.1},
                               "momentum": {"name": "sgd", "momentum": 0.9}},
         "fit.epochs": [2, 3]}, "c.yaml", {})
    points = space.expand_grid(dims)
    assert [p.id for p in points] == ["optimizer-sgd_epochs-2", "optimizer-sgd_epochs-3",
                                      "optimizer-momentum_epochs-2",
                                      "optimizer-momentum_epochs-3"]
    assert points[2].params["compile.optimizer"] == {"name": "sgd", "momentum": 0.9}
    assert space.point_label(points[2], dims) == "optimizer=momentum, epochs=2"


def test_a_wildcard_stands_for_every_item_where_the_rest_of_the_path_exists():
    dim = space.parse_grid_option("model.layers.*.Activation.activation=tanh")
    assert space.concrete_keys(CONFIG, dim) == ["model.layers.1.Activation.activation",
                                                "model.layers.3.Activation.activation"]
    point = space.expand_grid([dim])[0]
    assert space.assignments(CONFIG, [dim], point) == [
        'model.layers.1.Activation.activation="tanh"',
        'model.layers.3.Activation.activation="tanh"']
    with pytest.raises(ConfigError, match="matches no key"):
        space.concrete_keys(CONFIG, space.parse_grid_option("model.layers.*.Conv1D.filters=3"))


def test_random_draws_are_reproducible_and_within_their_ranges():
    dims = [space.parse_grid_option("compile.optimizer.learning_rate=loguniform(1e-4, 1e-1)"),
            space.parse_grid_option("fit.batch_size=choice(16, 32)"),
            space.parse_grid_option("model.layers.1.Activation.activation=relu,tanh")]
    a, b = space.draw_random(dims, 6, seed=3), space.draw_random(dims, 6, seed=3)
    assert [p.params for p in a] == [p.params for p in b]
    assert [p.params for p in a] != [p.params for p in space.draw_random(dims, 6, seed=4)]
    for p in a:
        lr = p.params["compile.optimizer.learning_rate"]
        assert 1e-4 <= lr <= 1e-1 and lr == float(f"{lr:.3g}")
        assert p.params["fit.batch_size"] in (16, 32)
    assert a[0].id.startswith("1-") and a[5].id.startswith("6-")
    lr = a[0].params["compile.optimizer.learning_rate"]
    assert a[0].id.startswith(f"1-learning_rate-{lr:.3g}_batch_size-")


@pytest.mark.parametrize("option, message", [
    ("fit.epochs", "expected KEY=V1,V2"),
    ("fit.epochs=", "empty value list"),
    ("fit.epochs=1,,2", "empty value"),
    ("fit..epochs=1", "dotted key path"),
    ("sweep.random=1", "cannot sweep itself"),
    ("a.b=loguniform(0, 1)", "0 < a"),
    ("a.b=uniform(2, 1)", "a < b"),
    ("a.b=uniform(1)", "two numbers"),
    ("a.b=logunifrom(1, 2)", "unknown distribution 'logunifrom'"),
    ("a.b=[1, 2", "cannot parse value"),
])
def test_bad_grid_options(option, message):
    with pytest.raises(ConfigError, match=message) as info:
        space.parse_grid_option(option)
    assert str(info.value).startswith("--grid: ")


def test_distributions_need_random_draws_and_keys_are_given_once():
    with pytest.raises(ConfigError, match="add --random N"):
        grid("a.b=loguniform(1e-3, 1e-1)")
    with pytest.raises(ConfigError, match="given twice"):
        space.merge([], [space.parse_grid_option("a.b=1"), space.parse_grid_option("a.b=2")])
    section = space.parse_grid_section({"a.b": [1], "c.d": [2]}, "c.yaml", {"sweep.grid.a.b": 7})
    merged = space.merge(section, [space.parse_grid_option("a.b=3,4")])
    assert [(d.key, d.values, d.file) for d in merged] == [("c.d", [2], "c.yaml"),
                                                          ("a.b", [3, 4], "--grid")]


def test_section_errors_name_the_file_and_line():
    with pytest.raises(ConfigError) as info:
        space.parse_grid_section({"fit.epochs": []}, "c.yaml", {"sweep.grid.fit.epochs": 12})
    assert str(info.value) == "c.yaml:12: fit.epochs: empty value list; give at least one value"
    with pytest.raises(ConfigError, match="expected a list of values"):
        space.parse_grid_section({"fit.epochs": 3}, "c.yaml", {})


def test_commas_inside_brackets_quotes_and_calls_do_not_split():
    assert space.split_top_level("[1,2],{a: 1, b: 2},'x,y',f(1,2),3") == \
        ["[1,2]", "{a: 1, b: 2}", "'x,y'", "f(1,2)", "3"]

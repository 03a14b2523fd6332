"""Hostile configs are refused quickly with one located line: alias bombs (plain and through
merge keys), recursive aliases, deep nesting (written out or through aliases), huge files,
numbers Python will not convert. Anchors and merge keys a real config uses still work."""

from __future__ import annotations

import json
import time

import pytest

from nntrain.config import loader

MODEL = "model:\n  input_shape: [4]\n  layers:\n    - Dense: {units: 2}\n"


def bomb_config(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def refused(run_cli, path, *args) -> tuple[str, float]:
    started = time.perf_counter()
    code, out, err = run_cli("summary", path, *args)
    seconds = time.perf_counter() - started
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0], seconds


def test_the_alias_bomb_is_refused_in_well_under_a_second(tmp_path, run_cli):
    rows = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    rows += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = bomb_config(tmp_path, "\n".join(rows) + "\n" + MODEL + "  bomb: *a8\n")
    assert path.stat().st_size < 1000
    line, seconds = refused(run_cli, path)
    assert line.startswith(f"error: {path}:")
    assert "aliases expand this to more than 100000 values" in line
    assert seconds < 1.0, seconds


def test_a_merge_key_bomb_is_refused_before_pyyaml_flattens_it(tmp_path, run_cli):
    rows = ["m0: &m0 {k: 1}"]
    rows += [f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 9)}]}}" for i in range(1, 9)]
    path = bomb_config(tmp_path, "\n".join(rows) + "\n" + MODEL)
    line, seconds = refused(run_cli, path)
    assert "aliases expand this to more than" in line and seconds < 1.0


@pytest.mark.parametrize("text,line,message", [
    ("a: &a [1, *a]\n" + MODEL, 1, "an alias refers to a value that contains it"),
    ("model: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested more than 64 levels deep"),
    ("model:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(100)), 65,
     "nested more than 64 levels deep"),
    ("a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [[[[[[[[[[*a{i - 1}]]]]]]]]]]\n"
                               for i in range(1, 20)) + MODEL, 8,
     "aliases nest this more than 64 levels deep"),
    ("seed: " + "9" * 10000 + "\n" + MODEL, 1, "cannot read this value: Exceeds the limit"),
    ("seed: 2001-13-45\n" + MODEL, 1, "cannot read this value: month must be in 1..12"),
], ids=["recursive", "deep-flow", "deep-block", "deep-by-aliases", "10000-digits", "date"])
def test_hostile_yaml_is_one_located_line(tmp_path, run_cli, text, line, message):
    path = bomb_config(tmp_path, text)
    got, seconds = refused(run_cli, path)
    assert got.startswith(f"error: {path}:{line}: ") and message in got, got
    assert seconds < 1.0, seconds


def test_too_many_values_are_refused_before_the_slow_parser_reads_them(tmp_path, run_cli):
    path = bomb_config(tmp_path, MODEL + "  x: [" + ", ".join(["1"] * 60000) + "]\n")
    got, seconds = refused(run_cli, path)
    assert got == f"error: {path}:5: more than 10000 values; a config needs far fewer"
    assert seconds < 1.0, seconds


def test_file_size_is_bounded_even_for_endless_files(tmp_path, run_cli):
    path = bomb_config(tmp_path, MODEL + "#" * loader.MAX_BYTES)
    got, _ = refused(run_cli, path)
    assert got == (f"error: {path}: the file is larger than 262144 bytes (256 KiB), the limit "
                   "for a config")
    got, seconds = refused(run_cli, "/dev/zero")
    assert got.startswith("error: /dev/zero: the file is larger than") and seconds < 1.0


def test_set_values_have_the_same_limits(tmp_path, run_cli):
    path = bomb_config(tmp_path, MODEL)
    bomb = "[" + ", ".join(["&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"] + [
        f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]) + "]"
    got, seconds = refused(run_cli, path, "--set", f"model.extra={bomb}")
    assert got.startswith("error: --set: model.extra: cannot parse value") and seconds < 1.0
    assert "aliases expand this to more than 100000 values" in got


def test_anchors_aliases_and_merge_keys_of_a_real_config_still_work(tmp_path, run_cli):
    path = bomb_config(tmp_path, """\
model:
  input_shape: [4]
  layers:
    - Dense: &hidden {units: 8, activation: relu, kernel_initializer: he_normal}
    - Dense: *hidden
    - Dense:
        <<: *hidden
        units: 3
        activation: softmax
""")
    code, out, err = run_cli("summary", path, "--json")
    assert code == 0, err
    assert [r["output_shape"] for r in json.loads(out)["layers"]] == [
        [None, 8], [None, 8], [None, 3]]
    config = loader.load_config(path)
    assert config.lines["model.layers.2.Dense.units"] == 8          # its own key
    assert config.lines["model.layers.2.Dense.kernel_initializer"] == 4   # merged in
    code, _, err = run_cli("summary", path, "--set", "model.layers.2.Dense.units=-1")
    assert code == 2 and "units: expected a positive integer" in err


def test_the_limits_hold_without_libyaml(monkeypatch):
    """pyyaml built without libyaml: the pure-Python composer counts values and depth."""
    monkeypatch.setattr(loader.yaml, "__with_libyaml__", False)
    with pytest.raises(loader.ConfigError, match="more than 10000 values"):
        loader.parse_yaml("x: [" + ", ".join(["1"] * 10001) + "]\n", "c.yaml")
    with pytest.raises(loader.ConfigError, match="nested more than 64 levels") as e:
        loader.parse_yaml("x:\n" + "".join("  " * (i + 1) + "-\n" for i in range(80)), "c.yaml")
    assert e.value.line is not None

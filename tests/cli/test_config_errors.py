"""Every class of bad config input: exit 2, one 'error: FILE:LINE: key: ...' line, no
traceback, and no run directory created."""

import pytest

GOOD = """\
name: t
seed: 0
data:
  path: {data}
  validation_split: 0.2
model:
  input_shape: [4]
  layers:
    - Dense: {{units: 8, activation: relu}}
    - Dense: {{units: 3, activation: softmax}}
compile:
  optimizer: {{name: adam, learning_rate: 1e-3}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: 1
  batch_size: 8
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    import numpy as np
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.standard_normal((40, 4)).astype("float32"),
             y_train=rng.integers(0, 3, 40))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(project, text):
    path = project / "c.yaml"
    path.write_text(text)
    return path


CASES = [
    # (replace this, with this, expected line, expected text)
    ("input_shape: [4]", "input_shape: [4", 8,
     "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence started on "
     "line 7)"),
    ("seed: 0", "sed: 0", 2, "sed: unknown key 'sed' (did you mean 'seed'?)"),
    ("- Dense: {units: 8", "- Dens: {units: 8", 9, "model.layers.0.Dens: unknown layer type"),
    ("activation: relu", "activation: rellu", 9,
     "model.layers.0.Dense.activation: unknown activation 'rellu' (did you mean 'relu'?)"),
    ("{units: 8,", "{units: 8, kernel_initializer: glorot_unifrom,", 9,
     "did you mean 'glorot_uniform'"),
    ("{units: 8,", "{units: -8,", 9, "model.layers.0.Dense.units: expected a positive integer"),
    ("epochs: 1", "epochs: one", 16, "fit.epochs: expected a positive integer, received 'one'"),
    ("name: adam", "name: adamm", 12, "did you mean 'adam'"),
    ("learning_rate: 1e-3", "learning_rate: -1", 12, "learning_rate"),
    ("loss: sparse_categorical_crossentropy", "loss: sparse_categorical_crossentropyy", 13,
     "compile.loss"),
    ("metrics: [accuracy]", "metrics: [acuracy]", 14, "did you mean 'accuracy'"),
    ("batch_size: 8", "batch_size: 8\n  callbacks:\n    - EarlyStoping: {}", 19,
     "unknown callback 'EarlyStoping' (did you mean 'EarlyStopping'?)"),
    ("batch_size: 8", "batch_size: 8\n  callbacks:\n    - EarlyStopping: {patience: -1}", 19,
     "patience"),
    ("validation_split: 0.2", "validation_split: 0.2\n  normalise: standard", 6,
     "did you mean 'normalize'"),
]


@pytest.mark.parametrize("old,new,line,text", CASES)
def test_bad_config_is_one_located_line_and_exit_2(project, run_cli, old, new, line, text):
    source = GOOD.format(data=project / "d.npz")
    assert old in source
    config = write(project, source.replace(old, new, 1))
    code, out, err = run_cli("fit", config)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {config}:{line}: "), lines[0]
    assert text in lines[0]
    assert "Traceback" not in err
    assert not (project / "runs").exists()


def test_the_good_config_trains(project, run_cli):
    config = write(project, GOOD.format(data=project / "d.npz"))
    code, out, err = run_cli("fit", config, "--quiet")
    assert code == 0, err
    assert (project / "runs" / "t" / "checkpoints" / "cp-0001.npz").is_file()


def test_set_errors_name_the_override(project, run_cli):
    config = write(project, GOOD.format(data=project / "d.npz"))
    code, _, err = run_cli("fit", config, "--set", "model.layers.1.Dense.units=0")
    assert code == 2
    assert err.startswith("error: --set: model.layers.1.Dense.units: expected a positive integer")
    code, _, err = run_cli("fit", config, "--set", "fit.epochs")
    assert code == 2 and "expected KEY=VALUE" in err


def test_debug_shows_the_traceback(project, run_cli):
    config = write(project, GOOD.format(data=project / "d.npz").replace("seed: 0", "sed: 0"))
    code, _, err = run_cli("fit", config, "--debug")
    assert code == 2 and "Traceback" in err and err.strip().endswith(
        "unknown key 'sed' (did you mean 'seed'?); expected one of: compile, data, dtype, "
        "fit, model, name, run_dir, seed, sweep, threads")


def test_usage_errors_are_one_line(run_cli):
    code, _, err = run_cli("fit")
    assert code == 2 and err.strip().startswith("error: Missing argument")
    assert len(err.strip().splitlines()) == 1
    code, _, err = run_cli("resume", "--latest", "--checkpoint", "x.npz")
    assert code == 2 and err.startswith("error:")


def test_normalizing_embedding_ids_is_refused_before_the_run(project, run_cli):
    import numpy as np
    np.savez(project / "ids.npz", x_train=np.random.default_rng(0).integers(0, 9, (20, 5)),
             y_train=np.arange(20) % 2)
    config = write(project, """\
data: {path: ids.npz, normalize: standard}
model:
  input_shape: [5]
  layers:
    - Embedding: {input_dim: 9, output_dim: 2}
    - Flatten: {}
    - Dense: {units: 1, activation: sigmoid}
compile: {loss: binary_crossentropy}
""")
    code, _, err = run_cli("fit", config)
    assert code == 2
    assert err.startswith(f"error: {config}:1: data.normalize: normalize: standard would change "
                          "the integer ids that Embedding layer 'embedding' takes")
    assert not (project / "runs").exists()
    config.write_text(config.read_text().replace("normalize: standard", "normalize: none"))
    code, _, err = run_cli("fit", config, "--quiet")
    assert code == 0, err


def test_debug_shows_the_traceback_as_well(run_cli, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  input_shape: [3]\n  layers:\n    - Dens: {units: 2}\n")
    code, _, err = run_cli("summary", path)
    assert code == 2 and "Traceback" not in err
    code, _, err = run_cli("summary", path, "--debug")
    assert code == 2 and "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("error: ") and "did you mean 'Dense'" in err

"""`--threads N` and the config's `threads:` set the BLAS pool for the command, and only for it;
the flag wins over the config; bad values are errors."""

import numpy as np
import pytest

from nntrain import threads
from nntrain.model import Network

CONFIG = """\
name: t
{threads}data:
  path: d.npz
  test: {{x: x_test, y: y_test}}
model:
  input_shape: [4]
  layers:
    - Dense: {{units: 3, activation: softmax}}
compile:
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: 1
  batch_size: 16
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.standard_normal((32, 4)).astype("float32"),
             y_train=rng.integers(0, 3, 32), x_test=rng.standard_normal((8, 4)).astype("float32"),
             y_test=rng.integers(0, 3, 8))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def seen(monkeypatch):
    """The BLAS pool size at every forward pass of a network."""
    sizes = []
    original = Network.forward

    def spy(self, *args, **kwargs):
        sizes.append(threads.blas_threads())
        return original(self, *args, **kwargs)
    monkeypatch.setattr(Network, "forward", spy)
    return sizes


def test_limit_is_scoped():
    before = threads.blas_threads()
    with threads.limit(1):
        assert threads.blas_threads() == 1
    assert threads.blas_threads() == before


def test_flag_and_config_set_the_pool_for_the_command_only(project, run_cli, seen):
    before = threads.blas_threads()
    (project / "c.yaml").write_text(CONFIG.format(threads="threads: 1\n"))
    code, _, err = run_cli("fit", "c.yaml", "--quiet")
    assert code == 0, err
    assert seen and set(seen) == {1}                 # the config's threads, in fit's epochs
    assert threads.blas_threads() == before          # and restored after the command
    seen.clear()
    code, _, err = run_cli("evaluate", "--threads", "2", "--json")
    assert code == 0, err
    assert seen and set(seen) == {min(2, before)}    # the flag wins over the config
    assert threads.blas_threads() == before


@pytest.mark.parametrize("args, text, key", [
    (["--threads", "0"], "", "--threads"),
    ([], "threads: 0\n", "threads"),
    ([], "threads: two\n", "threads"),
])
def test_bad_thread_counts_are_errors(project, run_cli, args, text, key):
    (project / "c.yaml").write_text(CONFIG.format(threads=text))
    code, out, err = run_cli("fit", "c.yaml", *args)
    assert code == 2 and key in err and "Traceback" not in err
    assert not (project / "runs").exists()


def test_fit_records_the_flag_so_resume_uses_the_same_count(project, run_cli):
    import yaml
    (project / "c.yaml").write_text(CONFIG.format(threads=""))
    code, _, err = run_cli("fit", "c.yaml", "--threads", "1", "--quiet")
    assert code == 0, err
    assert yaml.safe_load((project / "runs" / "t" / "config.yaml").read_text())["threads"] == 1

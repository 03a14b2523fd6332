"""The shipped configs that use the layers of issue 13 run end to end through the CLI, on a
slice of their data (speed): the transformer (attention, position embedding, residual adds)
and the autoencoder, whose target is its input (data.y names the same array as data.x)."""

import json

import numpy as np
import pytest

from tests.conftest import ROOT


def data_slice(tmp_path, name, n):
    """The first n samples of each array of a shipped data file, as a file of its own."""
    with np.load(ROOT / "data" / name) as z:
        arrays = {k: z[k][:n] for k in z.files}
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("config,data,n", [
    ("mnist1d_transformer.yaml", "mnist1d.npz", 96),
    ("digits_autoencoder.yaml", "digits.npz", 96),
])
def test_config_fits_evaluates_and_predicts(run_cli, tmp_path, config, data, n):
    run = tmp_path / "run"
    code, _, err = run_cli("fit", ROOT / "configs" / config, "--run-dir", run, "--quiet",
                           "--set", "fit.epochs=2",
                           "--set", f"data.path={data_slice(tmp_path, data, n)}")
    assert code == 0, err
    code, out, err = run_cli("evaluate", run, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["samples"] == n and np.isfinite(result["loss"])
    with np.load(tmp_path / data) as z:
        np.save(tmp_path / "x.npy", z["x_test"][:3])
    code, _, err = run_cli("predict", run, "--input", tmp_path / "x.npy",
                           "--output", tmp_path / "y.npy")
    assert code == 0, err
    expected = (3, 10) if "transformer" in config else (3, 8, 8, 1)   # y = x for the autoencoder
    assert np.load(tmp_path / "y.npy").shape == expected

"""The shipped configs that use the layers of issue 13 run end to end through the CLI, on a
slice of their data (speed): the transformer (attention, position embedding, residual adds),
the autoencoder, whose target is its input (data.y names the same array as data.x), and the
masked LSTM over padded sequences, which learns only with its mask."""

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
    ("padded_lstm.yaml", "padded_sequences.npz", 96),
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
    expected = {"mnist1d_transformer.yaml": (3, 10), "padded_lstm.yaml": (3, 1),
                "digits_autoencoder.yaml": (3, 8, 8, 1)}[config]   # y = x for the autoencoder
    assert np.load(tmp_path / "y.npy").shape == expected


def test_the_padded_sequences_are_learnt_with_the_mask_only(run_cli, tmp_path):
    """Two epochs: the masked LSTM is well above chance on the test split, the same model
    without the mask is not (it must carry its state across the padding)."""
    accuracy = {}
    for mask in ("true", "false"):
        run = tmp_path / mask
        code, _, err = run_cli("fit", ROOT / "configs" / "padded_lstm.yaml", "--run-dir", run,
                               "--quiet", "--set", "fit.epochs=2",
                               "--set", f"model.layers.0.Embedding.mask_zero={mask}",
                               "--set", f"data.path={ROOT / 'data' / 'padded_sequences.npz'}")
        assert code == 0, err
        code, out, err = run_cli("evaluate", run, "--json")
        accuracy[mask] = json.loads(out)["accuracy"]
    assert accuracy["true"] > 0.85 > 0.7 > accuracy["false"], accuracy

"""Summary counts and shapes pinned against Keras's model.summary() for the seeds' models."""

import pytest

from nntrain import from_config
from nntrain.summary import model_summary
from tests.conftest import ROOT


def summary_of(name):
    config = from_config.open_config(ROOT / "configs" / name)
    return model_summary(from_config.build(config))


def test_har_conv1d_network_matches_keras():
    s = summary_of("har_conv1d.yaml")
    assert s["total_params"] == 520_486
    assert s["trainable_params"] == 520_486 and s["non_trainable_params"] == 0
    shapes = [row["output_shape"] for row in s["layers"]]
    assert shapes == [[None, 80, 3], [None, 71, 100], [None, 62, 100], [None, 20, 100],
                      [None, 11, 160], [None, 2, 160], [None, 160], [None, 160], [None, 6]]
    assert [row["name"] for row in s["layers"]][:3] == ["reshape", "conv1d", "conv1d_1"]
    assert [row["params"] for row in s["layers"]] == [0, 3100, 100100, 0, 160160, 256160, 0, 0,
                                                      966]
    # FLOPs of the first convolution: 71 positions x 100 filters x 30 inputs x 2
    assert s["layers"][1]["flops"] == 71 * 100 * 30 * 2
    assert s["param_bytes"] == 520_486 * 4


@pytest.mark.parametrize("name,total,trainable", [
    ("mnist1d_cnn.yaml", 260_630, 260_630),
    ("mnist1d_mlp.yaml", 80_906, 79_882),       # BatchNormalization moving stats: 2 x 2 x 256
    ("embedding_dense.yaml", 64_641, 64_641),   # 1000 x 64 embeddings + 640 + 1
    ("mnist1d_lstm.yaml", 116_618, 116_618),
    ("two_inputs.yaml", 436, 436),
    ("digits_cnn.yaml", 30_762, 30_698),
])
def test_shipped_configs_have_keras_counts(name, total, trainable):
    s = summary_of(name)
    assert (s["total_params"], s["trainable_params"]) == (total, trainable)


def test_two_input_model_lists_inputs_and_connections():
    s = summary_of("two_inputs.yaml")
    rows = {r["name"]: r for r in s["layers"]}
    assert rows["input1"]["type"] == "InputLayer"
    assert rows["add"]["connected_to"] == ["x1", "x2"]
    assert s["functional"] is True


def test_summary_json_on_stdout_only(run_cli):
    import json
    code, out, err = run_cli("summary", ROOT / "configs" / "har_conv1d.yaml", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["total_params"] == 520_486
    assert data["layers"][1]["output_shape"] == [None, 71, 100]


def test_summary_table_shows_keras_columns(run_cli):
    code, out, _ = run_cli("summary", ROOT / "configs" / "har_conv1d.yaml")
    assert code == 0
    for text in ("Layer (type)", "Output Shape", "Param #", "conv1d_1 (Conv1D)",
                 "(None, 71, 100)", "520,486", "Trainable params"):
        assert text in out

"""The probe pass: it records what each layer saw, predicts the optimizer's step exactly, and (in
inference mode) changes nothing — weights, moving statistics, optimizer, dropout stream."""

from __future__ import annotations

import numpy as np
import pytest

from nntrain.builder import build_model
from nntrain.diagnostics import diagnose
from nntrain.diagnostics.probe import run_probe
from nntrain.losses import get_loss
from nntrain.optim import make_optimizer
from nntrain.training.step import forward_backward

MODEL = {"input_shape": [6, 2], "layers": [
    {"SimpleRNN": {"units": 5, "return_sequences": True}},
    {"Flatten": {}},
    {"Dense": {"units": 8, "activation": "relu"}},
    {"BatchNormalization": {}},
    {"Dropout": {"rate": 0.3}},
    {"Dense": {"units": 3, "activation": "softmax"}},
]}


@pytest.fixture
def setup():
    model = build_model(MODEL, rng=np.random.default_rng(0))
    model.set_rng(np.random.default_rng(1))
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((16, 6, 2)).astype("float32")]
    y = rng.integers(0, 3, 16)
    optimizer = make_optimizer({"name": "adam", "learning_rate": 0.01, "clipnorm": 0.5})
    loss = get_loss("sparse_categorical_crossentropy")
    for _ in range(2):   # an optimizer with slots and a step count, as at a checkpoint
        forward_backward(model, loss, xs, y, training=True)
        optimizer.apply(model.trainable_weights(), model.gradients())
    return model, loss, optimizer, xs, y


def _state(model, optimizer):
    return ({k: v.copy() for k, v in model.weights().items()},
            {k: np.array(v, copy=True) for k, v in optimizer.state_arrays().items()},
            model.layers[0].rng.bit_generator.state)


def _same(a, b):
    assert a[0].keys() == b[0].keys() and a[1].keys() == b[1].keys()
    assert all(np.array_equal(a[0][k], b[0][k]) for k in a[0])
    assert all(np.array_equal(a[1][k], b[1][k]) for k in a[1])
    assert a[2] == b[2]


def test_inference_probe_changes_nothing(setup):
    model, loss, optimizer, xs, y = setup
    before = _state(model, optimizer)
    probe = run_probe(model, loss, xs, y, training=False, optimizer=optimizer)
    _same(before, _state(model, optimizer))        # moving statistics are among the weights
    assert probe.updates is not None and probe.samples == 16


def test_training_probe_leaves_weights_and_optimizer_alone(setup):
    """Training mode runs BatchNormalization and Dropout as a step does (so only the moving
    statistics and the dropout stream move); never the trainable weights or the optimizer."""
    model, loss, optimizer, xs, y = setup
    weights, opt, _ = _state(model, optimizer)
    run_probe(model, loss, xs, y, training=True, optimizer=optimizer)
    after_weights, after_opt, _ = _state(model, optimizer)
    for k in model.trainable_weights():
        assert np.array_equal(weights[k], after_weights[k]), k
    assert all(np.array_equal(opt[k], after_opt[k]) for k in opt)


def test_the_predicted_update_is_the_step_the_optimizer_then_takes(setup):
    model, loss, optimizer, xs, y = setup
    probe = run_probe(model, loss, xs, y, training=False, optimizer=optimizer)
    before = {k: v.copy() for k, v in model.trainable_weights().items()}
    forward_backward(model, loss, xs, y, training=False)
    optimizer.apply(model.trainable_weights(), model.gradients())
    for k, w in model.trainable_weights().items():
        assert np.array_equal(w - before[k], probe.updates[k]), k


def test_records_every_layers_output_and_the_gradient_reaching_its_input(setup):
    model, loss, _, xs, y = setup
    probe = run_probe(model, loss, xs, y, training=False)
    assert list(probe.outputs) == [layer.name for layer in model.layers]
    assert np.array_equal(probe.outputs["dense_1"], model.forward(xs, training=False))
    _, _, dxs = forward_backward(model, loss, xs, y, training=False, wrt_inputs=True)
    assert np.array_equal(probe.input_grads["simple_rnn"], dxs[0])
    assert probe.input_grads["flatten"].shape == (16, 6, 5)
    assert probe.updates is None


def test_report_rows_carry_the_spec_keys_and_recurrent_layers_the_time_picture(setup):
    model, loss, optimizer, xs, y = setup
    report = diagnose(model, loss, xs, y, optimizer=optimizer, training=False)
    keys = {"name", "type", "mean", "std", "dead_fraction", "saturated_fraction", "grad_norm",
            "update_ratio"}
    assert [r["name"] for r in report["layers"]] == [layer.name for layer in model.layers]
    assert all(keys <= set(r) for r in report["layers"])
    rnn, flatten, dense = report["layers"][:3]
    assert rnn["through_time"]["steps"] == 6 and len(rnn["through_time"]["norms"]) == 6
    assert flatten["grad_norm"] is None and flatten["update_ratio"] is None
    grads = model.gradients()
    expected = np.sqrt(sum(float((grads[f"dense/{p}"] ** 2).sum()) for p in ("kernel", "bias")))
    assert dense["grad_norm"] == pytest.approx(expected, rel=1e-6)
    assert dense["dead_fraction"] is not None and dense["saturated_fraction"] is None
    assert report["layers"][-1]["saturated_fraction"] is not None          # softmax

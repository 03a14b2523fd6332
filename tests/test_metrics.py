"""Metrics: Keras's documented values, accumulation across batches, accuracy resolution from the
loss, top-k ties as ``in_top_k``, bad specs."""

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.losses import get_loss
from nntrain.metrics import get_metric, in_top_k

RNG = np.random.default_rng(7)


def run(metric, y_true, y_pred, sample_weight=None):
    metric.reset()
    metric.update(np.asarray(y_true), np.asarray(y_pred, dtype=float), sample_weight)
    return metric.result()


# -- Keras's documented examples ----------------------------------------------------------
def test_keras_documented_values():
    m = get_metric("binary_accuracy")
    y, p = [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]
    assert run(m, y, p) == pytest.approx(0.75)
    assert run(m, y, p, [1, 0, 0, 1]) == pytest.approx(0.5)
    assert run(m, [[0], [0]], [[0.5], [0.5]]) == 1.0  # strictly greater than the threshold

    m = get_metric("categorical_accuracy")
    y, p = [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    assert run(m, y, p) == pytest.approx(0.5)
    assert run(m, y, p, [0.7, 0.3]) == pytest.approx(0.3)
    m = get_metric({"name": "top_k_categorical_accuracy", "k": 1})
    assert run(m, y, p) == pytest.approx(0.5)
    assert run(m, y, p, [0.7, 0.3]) == pytest.approx(0.3)

    m = get_metric("sparse_categorical_accuracy")
    y, p = [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]
    assert run(m, y, p) == pytest.approx(0.5)
    assert run(m, y, p, [0.7, 0.3]) == pytest.approx(0.3)
    m = get_metric({"name": "sparse_top_k_categorical_accuracy", "k": 1})
    y, p = [2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    assert run(m, y, p) == pytest.approx(0.5)
    assert run(m, y, p, [0.7, 0.3]) == pytest.approx(0.3)


def test_empty_result_is_zero_and_reset_clears():
    m = get_metric("mae")
    assert m.result() == 0.0
    m.update(np.ones((3, 2)), np.zeros((3, 2)))
    assert m.result() == 1.0
    m.reset()
    assert m.result() == 0.0


# -- accumulation -------------------------------------------------------------------------
def data(kind, n, k=5, steps=None):
    shape = (n, steps, k) if steps else (n, k)
    logits = RNG.standard_normal(shape)
    ids = RNG.integers(0, k, shape[:-1])
    if kind == "sparse":
        return ids, logits
    if kind == "onehot":
        return np.eye(k)[ids], logits
    if kind == "binary":
        return RNG.integers(0, 2, shape).astype(float), RNG.uniform(0, 1, shape)
    return RNG.standard_normal(shape), logits


ACCUMULATING = [
    ("binary_accuracy", "binary"), ({"name": "binary_accuracy", "threshold": 0.3}, "binary"),
    ("categorical_accuracy", "onehot"), ("sparse_categorical_accuracy", "sparse"),
    ({"name": "top_k_categorical_accuracy", "k": 2}, "onehot"),
    ("sparse_top_k_categorical_accuracy", "sparse"), ("mse", "dense"),
    ("mean_absolute_error", "dense"), ("binary_crossentropy", "binary"),
]


@pytest.mark.parametrize("spec,kind", ACCUMULATING)
@pytest.mark.parametrize("steps", [None, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_batches_accumulate_to_the_metric_of_the_concatenation(spec, kind, steps, weighted):
    sizes = [3, 7, 1, 5]
    batches = [data(kind, n, steps=steps) for n in sizes]
    weights = [RNG.uniform(0, 2, n) if weighted else None for n in sizes]
    m = get_metric(spec)
    m.reset()
    for (y, p), w in zip(batches, weights):
        m.update(y, p, w)
    y_all = np.concatenate([b[0] for b in batches])
    p_all = np.concatenate([b[1] for b in batches])
    w_all = np.concatenate(weights) if weighted else None
    once = get_metric(spec)
    assert m.result() == pytest.approx(run(once, y_all, p_all, w_all), rel=1e-12)
    # and both equal an independent per-sample computation
    per_sample = np.asarray(once.fn(y_all, p_all), dtype=float)
    if per_sample.ndim > 1:
        per_sample = per_sample.mean(axis=1)
    expected = np.average(per_sample, weights=w_all)
    assert m.result() == pytest.approx(expected, rel=1e-12)


def test_accuracies_against_direct_formulas():
    y, p = data("sparse", 40)
    assert run(get_metric("sparse_categorical_accuracy"), y, p) == \
        pytest.approx(np.mean(p.argmax(1) == y))
    assert run(get_metric("categorical_accuracy"), np.eye(5)[y], p) == \
        pytest.approx(np.mean(p.argmax(1) == y))
    ranks = (p > p[np.arange(40), y][:, None]).sum(1)
    assert run(get_metric("sparse_top_k_categorical_accuracy"), y, p) == 1.0  # k=5 of 5
    assert run(get_metric({"name": "sparse_top_k_categorical_accuracy", "k": 2}), y, p) == \
        pytest.approx(np.mean(ranks < 2))
    t, q = data("binary", 40)
    assert run(get_metric("binary_accuracy"), t, q) == pytest.approx(np.mean((q > 0.5) == t))
    t, q = data("dense", 10)
    assert run(get_metric("mse"), t, q) == pytest.approx(np.mean((t - q) ** 2))


def test_loss_metrics_equal_the_loss():
    y, p = data("sparse", 9)
    spec = {"name": "sparse_categorical_crossentropy", "from_logits": True}
    m = get_metric(spec)
    assert m.name == "sparse_categorical_crossentropy" and m.direction == "down"
    assert run(m, y, p) == pytest.approx(get_loss(spec)(y, p), rel=1e-12)
    t, q = data("dense", 6, steps=4)
    assert run(get_metric("mse"), t, q) == pytest.approx(get_loss("mse")(t, q), rel=1e-12)


# -- top-k ties ---------------------------------------------------------------------------
def test_in_top_k_counts_ties_at_the_boundary_as_in():
    pred = np.array([[0.5, 0.5, 0.5, 0.1],
                     [0.5, 0.5, 0.5, 0.1],
                     [0.1, 0.4, 0.9, 0.9],
                     [0.2, 0.2, 0.2, 0.2],
                     [0.9, np.nan, 0.1, 0.2],
                     [0.9, 0.8, 0.1, 0.2]])
    ids = np.array([2, 3, 2, 3, 0, 1])
    np.testing.assert_array_equal(in_top_k(ids, pred, 1),
                                  [True, False, True, True, False, False])
    np.testing.assert_array_equal(in_top_k(ids, pred, 3),
                                  [True, False, True, True, False, True])
    np.testing.assert_array_equal(in_top_k(ids, pred, 4), [True, True, True, True, False, True])
    assert run(get_metric({"name": "sparse_top_k_categorical_accuracy", "k": 1}), ids, pred) == \
        pytest.approx(3 / 6)
    onehot = np.eye(4)[ids]
    assert run(get_metric({"name": "top_k_categorical_accuracy", "k": 3}), onehot, pred) == \
        pytest.approx(4 / 6)


# -- accuracy resolution ------------------------------------------------------------------
@pytest.mark.parametrize("loss,y_true,y_pred,expected", [
    # with a crossentropy loss the loss decides, whatever the shapes
    ("sparse_categorical_crossentropy", [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], 0.5),
    ("categorical_crossentropy", [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], 0.5),
    # multi-label sigmoid outputs: binary accuracy per unit (Keras 3's shape rule would say
    # categorical here: 1.0)
    ("binary_crossentropy", [[1, 0, 1], [0, 1, 0]], [[0.9, 0.2, 0.4], [0.3, 0.6, 0.1]], 5 / 6),
    # any other loss: by shapes
    ("mse", [[1], [0], [1], [0]], [[0.7], [0.2], [0.4], [0.1]], 0.75),
    ("mse", [2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], 0.5),
    ("mse", [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], 0.5),
    ("huber", [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], 0.5),
    (None, [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], 0.5),
])
def test_accuracy_resolution(loss, y_true, y_pred, expected):
    for alias in ("accuracy", "acc"):
        m = get_metric(alias, get_loss(loss) if loss else None)
        assert m.name == alias and m.direction == "up"
        assert run(m, y_true, y_pred) == pytest.approx(expected)
        assert run(m, y_true, y_pred) == pytest.approx(expected)  # stays resolved after reset


def test_binary_accuracy_on_logits_thresholds_the_probability():
    logits = np.array([[-0.2], [0.3], [2.0], [-3.0]])
    y = np.array([0, 1, 1, 0])
    loss = get_loss({"name": "binary_crossentropy", "from_logits": True})
    assert run(get_metric("accuracy", loss), y, logits) == 1.0
    assert run(get_metric("binary_accuracy", loss), y, logits) == 1.0
    # threshold 0.8 on probabilities = logit 1.386
    m = get_metric({"name": "binary_accuracy", "threshold": 0.8}, loss)
    assert run(m, y, logits) == 0.75
    # without from_logits the output is a probability, compared with 0.5 as given
    assert run(get_metric("accuracy", get_loss("binary_crossentropy")), y, logits) == 0.75


def test_argmax_accuracy_works_on_logits():
    y, z = data("sparse", 20)
    loss = get_loss({"name": "sparse_categorical_crossentropy", "from_logits": True})
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    assert run(get_metric("accuracy", loss), y, z) == run(get_metric("accuracy", loss), y, probs)


# -- names and bad specs ------------------------------------------------------------------
@pytest.mark.parametrize("spec,name", [
    ("accuracy", "accuracy"), ("mse", "mse"), ("mean_squared_error", "mean_squared_error"),
    ("mae", "mae"), ("BinaryAccuracy", "BinaryAccuracy"),
    ({"name": "top_k_categorical_accuracy", "k": 3}, "top_k_categorical_accuracy"),
    ({"sparse_top_k_categorical_accuracy": {"k": 2}}, "sparse_top_k_categorical_accuracy"),
])
def test_logged_names(spec, name):
    assert get_metric(spec, get_loss("categorical_crossentropy")).name == name


@pytest.mark.parametrize("spec,key,message", [
    ("acuracy", "compile.metrics.0", "did you mean 'accuracy'"),
    ("sparse_categorical_acuracy", "compile.metrics.0",
     "did you mean 'sparse_categorical_accuracy'"),
    ({"name": "top_k_categorical_acuracy", "k": 3}, "compile.metrics.0.name", "did you mean"),
    ({"name": "top_k_categorical_accuracy", "kk": 3}, "compile.metrics.0.kk",
     "did you mean 'k'"),
    ({"name": "top_k_categorical_accuracy", "k": 0}, "compile.metrics.0.k", "positive integer"),
    ({"name": "binary_accuracy", "threshold": 1.0}, "compile.metrics.0.threshold", "< 1"),
    ({"name": "accuracy", "k": 3}, "compile.metrics.0.k", "takes no arguments"),
    ({"name": "mse", "delta": 3}, "compile.metrics.0.delta", "takes no arguments"),
    (7, "compile.metrics.0", "expected a metric name"),
])
def test_bad_specs(spec, key, message):
    with pytest.raises(ConfigError, match=message) as info:
        get_metric(spec, get_loss("categorical_crossentropy"))
    assert info.value.key == key

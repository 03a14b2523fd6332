"""Precision, Recall, AUC, F1Score/FBetaScore and RootMeanSquaredError: Keras's documented values,
results over several batches equal to the result over their concatenation (they are stateful,
not means of batch values), state handed over mid-stream, AUC against the exact rank statistic,
sparse labels and logits, bad specs. (Values equal to real Keras 3.15 on these and other inputs
to float32 rounding: see the report of the coverage branch.)"""

import json

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.losses import get_loss
from nntrain.metrics import get_metric

RNG = np.random.default_rng(11)


def run(spec, y_true, y_pred, sample_weight=None, loss=None):
    m = get_metric(spec, loss)
    m.update(np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float), sample_weight)
    return m.result()


def test_keras_documented_values():
    y, p = [0, 1, 1, 1], [1, 0, 1, 1]
    assert run("Precision", y, p) == pytest.approx(2 / 3)
    assert run("Precision", y, p, [0, 0, 1, 0]) == 1.0
    assert run({"name": "Precision", "top_k": 2}, [[0, 0, 1, 1]], [[1, 1, 1, 1]]) == 0.0
    assert run({"name": "Precision", "top_k": 4}, [[0, 0, 1, 1]], [[1, 1, 1, 1]]) == 0.5
    assert run("Recall", y, p) == pytest.approx(2 / 3)
    assert run("Recall", y, p, [0, 0, 1, 0]) == 1.0
    y, p = [0, 0, 1, 1], [0, 0.5, 0.3, 0.9]
    assert run({"name": "AUC", "num_thresholds": 3}, y, p) == pytest.approx(0.75)
    assert run({"name": "AUC", "num_thresholds": 3}, y, p, [1, 0, 0, 1]) == 1.0
    t = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]])
    p = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]])
    # Keras's per-class example values [0.5, 0.8, 0.6666667] (F1) and
    # [0.3846154, 0.90909094, 0.8333334] (F2), averaged as macro
    assert run({"name": "F1Score", "average": "macro", "threshold": 0.5}, t, p) == \
        pytest.approx(np.mean([0.5, 0.8, 2 / 3]), abs=1e-6)
    assert run({"name": "FBetaScore", "average": "macro", "beta": 2.0, "threshold": 0.5}, t,
               p) == pytest.approx(np.mean([0.3846154, 0.90909094, 0.8333334]), abs=1e-6)


def binary(n):
    t = RNG.integers(0, 2, (n, 1)).astype(float)
    return t, np.clip(0.3 * t + RNG.uniform(0, 0.7, (n, 1)), 0, 1)


def onehot(n, k=4):
    ids = RNG.integers(0, k, n)
    z = RNG.standard_normal((n, k)) + np.eye(k)[ids]
    return np.eye(k)[ids], np.exp(z) / np.exp(z).sum(1, keepdims=True)


STATEFUL = [
    ("Precision", binary), ({"name": "Recall", "thresholds": 0.3}, binary),
    ({"name": "precision", "class_id": 2}, onehot), ({"name": "Recall", "top_k": 2}, onehot),
    ("AUC", binary), ({"name": "AUC", "curve": "PR"}, binary),
    ({"name": "AUC", "curve": "PRGAIN", "summation_method": "majoring"}, binary),
    ({"name": "AUC", "thresholds": [0.2, 0.5, 0.55]}, binary),
    ({"name": "AUC", "multi_label": True}, onehot),
    ({"name": "F1Score", "average": "macro"}, onehot),
    ({"name": "F1Score", "average": "micro", "threshold": 0.3}, onehot),
    ({"name": "FBetaScore", "average": "weighted", "beta": 0.5}, onehot),
    ("RootMeanSquaredError", onehot),
]


@pytest.mark.parametrize("spec,make", STATEFUL)
@pytest.mark.parametrize("weighted", [False, True])
def test_batches_accumulate_to_the_whole(spec, make, weighted):
    """Over batches the result equals the result over their concatenation; handing the state
    over (through JSON, as a checkpoint does) and continuing gives the same result."""
    parts = [make(n) for n in (7, 12, 5)]
    weights = [RNG.uniform(0, 2, len(t)) if weighted else None for t, _ in parts]
    whole = get_metric(spec)
    cat_w = np.concatenate(weights) if weighted else None
    whole.update(np.concatenate([t for t, _ in parts]), np.concatenate([p for _, p in parts]),
                 cat_w)
    m, other = get_metric(spec), get_metric(spec)
    for i, ((t, p), w) in enumerate(zip(parts, weights)):
        m.update(t, p, w)
        if i == 0:
            other.load_state(json.loads(json.dumps(m.state())))
        else:
            other.update(t, p, w)
    assert m.result() == pytest.approx(whole.result(), rel=1e-12)
    assert other.result() == m.result()
    m.reset()
    assert m.result() == get_metric(spec).result()


def test_auc_is_close_to_the_exact_rank_statistic():
    """ROC AUC from 200 thresholds approximates P(score of a positive > score of a negative)."""
    t, p = binary(400)
    pos, neg = p[t == 1], p[t == 0]
    exact = np.mean(pos[:, None] > neg[None, :]) + 0.5 * np.mean(pos[:, None] == neg[None, :])
    assert run("AUC", t, p) == pytest.approx(exact, abs=5e-3)
    assert run({"name": "AUC", "num_thresholds": 2000}, t, p) == pytest.approx(exact, abs=5e-4)
    assert 0 < run({"name": "AUC", "curve": "PR"}, t, p) < 1


def test_class_ids_are_one_hot_encoded():
    """Sparse labels for a softmax output (Keras would refuse them) count as one-hot rows."""
    t, p = onehot(30)
    ids = t.argmax(1)
    for spec in ("Precision", "Recall", "AUC", {"name": "F1Score", "average": "macro"}):
        assert run(spec, ids, p) == run(spec, t, p)


@pytest.mark.parametrize("spec", ["Precision", "Recall", "AUC"])
def test_logits_are_read_through_the_loss(spec):
    t, p = binary(40)
    logits = np.log(p / (1 - p + 1e-12) + 1e-12)
    probs = 1 / (1 + np.exp(-logits))
    from_logits = get_loss({"name": "binary_crossentropy", "from_logits": True})
    assert run(spec, t, logits, loss=from_logits) == pytest.approx(run(spec, t, probs))


def test_auc_from_logits_argument_wins():
    t, p = binary(40)
    logits = np.log(p / (1 - p + 1e-12) + 1e-12)
    assert run({"name": "AUC", "from_logits": True}, t, logits) == pytest.approx(run("AUC", t, p))
    plain = get_loss({"name": "binary_crossentropy", "from_logits": True})
    assert run({"name": "AUC", "from_logits": False}, t, p, loss=plain) == run("AUC", t, p)


def test_directions():
    for name in ("Precision", "Recall", "AUC", "CosineSimilarity"):
        assert get_metric(name).direction == "up"
    assert get_metric({"name": "F1Score", "average": "macro"}).direction == "up"
    for name in ("RootMeanSquaredError", "MeanSquaredError", "MeanAbsoluteError", "mse"):
        assert get_metric(name).direction == "down"


def test_root_mean_squared_error_and_cosine_similarity():
    t, p = RNG.standard_normal((9, 3)), RNG.standard_normal((9, 3))
    assert run("RootMeanSquaredError", t, p) == pytest.approx(np.sqrt(np.mean((t - p) ** 2)))
    assert run("CosineSimilarity", t, p) == pytest.approx(-get_loss("cosine_similarity")(t, p))


def test_a_metric_takes_a_name():
    m = get_metric({"AUC": {"curve": "PR", "name": "pr_auc"}})
    assert m.name == "pr_auc" and m.curve == "PR"


@pytest.mark.parametrize("spec,key,message", [
    ("F1Score", "compile.metrics.0.F1Score.average", "one score per class"),
    ({"name": "F1Score", "average": "mean"}, "compile.metrics.0.average", "micro"),
    ({"name": "Precision", "thresholds": [0.3, 0.5]}, "compile.metrics.0.thresholds",
     "one threshold"),
    ({"name": "Precision", "thresholds": 1.5}, "compile.metrics.0.thresholds", "<= 1"),
    ({"name": "AUC", "curve": "ROCC"}, "compile.metrics.0.curve", "did you mean 'ROC'"),
    ({"name": "AUC", "num_thresholds": 1}, "compile.metrics.0.num_thresholds", "> 1"),
    ({"name": "AUC", "num_labels": 3}, "compile.metrics.0.num_labels", "multi_label"),
    ({"name": "Recall", "clas_id": 1}, "compile.metrics.0.clas_id", "did you mean 'class_id'"),
])
def test_bad_specs(spec, key, message):
    with pytest.raises(ConfigError, match=message) as info:
        get_metric(spec)
    assert info.value.key == key


def test_two_metrics_with_one_name_are_refused(tmp_path):
    from nntrain.config import Config
    from nntrain.training.assembly import compiled_parts
    config = Config({"model": {"input_shape": [2], "layers": [{"Dense": {"units": 1}}]},
                     "compile": {"loss": "binary_crossentropy",
                                 "metrics": ["AUC", {"name": "AUC", "curve": "PR"}]}})
    with pytest.raises(ConfigError, match="a second metric logged as 'AUC'") as info:
        compiled_parts(config)
    assert info.value.key == "compile.metrics.1"
    config.data["compile"]["metrics"][1] = {"AUC": {"curve": "PR", "name": "pr_auc"}}
    assert [m.name for m in compiled_parts(config)[1]] == ["AUC", "pr_auc"]

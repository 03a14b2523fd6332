"""Losses: values against hand-written float64 formulas, Keras's documented examples and
torch.nn.functional; gradients against finite differences; fused gradients against the chain
rule through the activation; config parsing."""

import math

import numpy as np
import pytest

from nntrain import activations
from nntrain.errors import ConfigError, DataError
from nntrain.gradcheck import numeric_gradient, relative_error
from nntrain.losses import EPSILON, get_loss

RNG = np.random.default_rng(1234)


def softmax64(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def onehot(ids, k):
    return np.eye(k)[ids]


# -- independent references (float64, written from the Keras formulas) ---------------------
def ref_mse(t, p):
    return np.mean((t - p) ** 2)


def ref_mae(t, p):
    return np.mean(np.abs(t - p))


def ref_huber(t, p, delta):
    out = []
    for e in (p - t).ravel():
        out.append(0.5 * e * e if abs(e) <= delta else delta * abs(e) - 0.5 * delta ** 2)
    return np.mean(out)


def ref_bce(t, p, from_logits=False, smoothing=0.0):
    t = t * (1 - smoothing) + 0.5 * smoothing
    if from_logits:
        p = 1 / (1 + np.exp(-p))
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))


def ref_cce(t, p, from_logits=False, smoothing=0.0):
    k = p.shape[-1]
    t = t * (1 - smoothing) + smoothing / k
    if from_logits:
        p = softmax64(p)
    q = np.clip(p / p.sum(axis=-1, keepdims=True), EPSILON, 1 - EPSILON)
    return np.mean(-(t * np.log(q)).sum(axis=-1))


def ref_scce(ids, p, from_logits=False):
    k = p.shape[-1]
    return ref_cce(onehot(ids.reshape(p.shape[:-1]).astype(int), k), p, from_logits)


# -- fixtures: inputs kept away from kinks and clip boundaries -----------------------------
def regression_batch(shape=(4, 3)):
    t = RNG.standard_normal(shape)
    e = RNG.uniform(0.2, 0.8, shape) * RNG.choice([-1, 1], shape)  # |e| away from 0 and 1
    e[0, 0] = 1.7  # one error beyond delta=1 so both Huber branches are exercised
    return t, t + e


def probs_batch(n=5, k=4, extra=()):
    z = RNG.standard_normal((n, *extra, k))
    ids = RNG.integers(0, k, (n, *extra))
    return ids, z, softmax64(z)


CASES = {  # id -> (spec, make (y_true, y_pred), reference(y_true, y_pred))
    "mse": ("mse", regression_batch, ref_mse),
    "mae": ("mae", regression_batch, ref_mae),
    "huber": ("huber", regression_batch, lambda t, p: ref_huber(t, p, 1.0)),
    "huber_delta_0.5": ({"name": "huber", "delta": 0.5}, regression_batch,
                        lambda t, p: ref_huber(t, p, 0.5)),
    "bce": ("binary_crossentropy",
            lambda: (RNG.integers(0, 2, (6, 3)).astype(float), RNG.uniform(0.05, 0.95, (6, 3))),
            ref_bce),
    "bce_smooth": ({"name": "binary_crossentropy", "label_smoothing": 0.2},
                   lambda: (RNG.integers(0, 2, (6, 3)).astype(float),
                            RNG.uniform(0.05, 0.95, (6, 3))),
                   lambda t, p: ref_bce(t, p, smoothing=0.2)),
    "bce_logits": ({"name": "binary_crossentropy", "from_logits": True},
                   lambda: (RNG.integers(0, 2, (6, 3)).astype(float),
                            3 * RNG.standard_normal((6, 3))),
                   lambda t, p: ref_bce(t, p, from_logits=True)),
    "bce_logits_smooth": ({"name": "bce", "from_logits": True, "label_smoothing": 0.1},
                          lambda: (RNG.integers(0, 2, (6, 1)).astype(float),
                                   RNG.standard_normal((6, 1))),
                          lambda t, p: ref_bce(t, p, True, 0.1)),
    "cce": ("categorical_crossentropy",
            lambda: (lambda ids, z, p: (onehot(ids, 4), p))(*probs_batch()), ref_cce),
    # rows that do not sum to one: Keras rescales them before the log
    "cce_unnormalised": ("categorical_crossentropy",
                         lambda: (onehot(RNG.integers(0, 4, 5), 4), RNG.uniform(0.1, 0.9, (5, 4))),
                         ref_cce),
    "cce_smooth": ({"name": "categorical_crossentropy", "label_smoothing": 0.1},
                   lambda: (lambda ids, z, p: (onehot(ids, 4), p))(*probs_batch()),
                   lambda t, p: ref_cce(t, p, smoothing=0.1)),
    "cce_logits": ({"name": "categorical_crossentropy", "from_logits": True},
                   lambda: (lambda ids, z, p: (onehot(ids, 4), z))(*probs_batch()),
                   lambda t, p: ref_cce(t, p, from_logits=True)),
    "cce_logits_smooth": ({"name": "categorical_crossentropy", "from_logits": True,
                           "label_smoothing": 0.3},
                          lambda: (lambda ids, z, p: (onehot(ids, 4), z))(*probs_batch()),
                          lambda t, p: ref_cce(t, p, True, 0.3)),
    "scce": ("sparse_categorical_crossentropy",
             lambda: (lambda ids, z, p: (ids, p))(*probs_batch()), ref_scce),
    "scce_col_float": ("sparse_categorical_crossentropy",
                       lambda: (lambda ids, z, p: (ids[:, None].astype(float), p))(*probs_batch()),
                       ref_scce),
    "scce_logits": ({"name": "sparse_categorical_crossentropy", "from_logits": True},
                    lambda: (lambda ids, z, p: (ids, z))(*probs_batch()),
                    lambda t, p: ref_scce(t, p, True)),
    "scce_sequence": ("sparse_categorical_crossentropy",
                      lambda: (lambda ids, z, p: (ids, p))(*probs_batch(3, 5, extra=(4,))),
                      ref_scce),
    "scce_sequence_logits": ({"name": "sparse_categorical_crossentropy", "from_logits": True},
                             lambda: (lambda ids, z, p: (ids, z))(*probs_batch(3, 5, (4,))),
                             lambda t, p: ref_scce(t, p, True)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_value_matches_reference(case):
    spec, make, ref = CASES[case]
    y_true, y_pred = make()
    value = get_loss(spec)(y_true, y_pred)
    assert isinstance(value, float)
    assert value == pytest.approx(ref(y_true, y_pred), rel=1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_gradient_matches_finite_differences(case):
    spec, make, _ = CASES[case]
    y_true, y_pred = make()
    loss = get_loss(spec)
    grad = loss.gradient(y_true, y_pred)
    assert grad.shape == y_pred.shape and grad.dtype == np.float64
    numeric = numeric_gradient(lambda: loss(y_true, y_pred), y_pred)
    assert relative_error(grad, numeric) < 1e-6


@pytest.mark.parametrize("case", list(CASES))
def test_float32_stays_float32(case):
    spec, make, ref = CASES[case]
    y_true, y_pred = make()
    loss = get_loss(spec)
    p32 = y_pred.astype(np.float32)
    grad = loss.gradient(y_true, p32)  # labels stay float64 / int: must not promote
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, loss.gradient(y_true, y_pred), rtol=1e-4, atol=1e-6)
    assert loss(y_true, p32) == pytest.approx(ref(y_true, y_pred), rel=1e-5)


# -- Keras's documented examples ----------------------------------------------------------
def test_keras_documented_values():
    cce_true, cce_pred = [[0, 1, 0], [0, 0, 1]], np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    assert get_loss("categorical_crossentropy")(cce_true, cce_pred) == pytest.approx(1.177,
                                                                                      abs=1e-3)
    np.testing.assert_allclose(
        get_loss("categorical_crossentropy").per_sample(cce_true, cce_pred), [0.0513, 2.303],
        atol=1e-3)
    assert get_loss("sparse_categorical_crossentropy")(np.array([1, 2]), cce_pred) == \
        pytest.approx(1.177, abs=1e-3)
    bce_true, bce_pred = np.array([[0, 1], [0, 0]]), np.array([[0.6, 0.4], [0.4, 0.6]])
    np.testing.assert_allclose(get_loss("binary_crossentropy").per_sample(bce_true, bce_pred),
                               [0.916, 0.714], atol=1e-3)
    logits = get_loss({"name": "binary_crossentropy", "from_logits": True})
    assert logits(np.array([0, 1, 0, 0]), np.array([-18.6, 0.51, 2.94, -12.8])) == \
        pytest.approx(0.8654, abs=1e-4)
    assert get_loss("huber")(bce_true, bce_pred) == pytest.approx(0.155, abs=1e-6)


def test_probabilities_are_clipped_and_the_clip_stops_the_gradient():
    bce = get_loss("binary_crossentropy")
    t, p = np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]])
    assert bce(t, p) == pytest.approx(-0.5 * math.log(EPSILON), rel=1e-6)
    assert np.all(bce.gradient(t, p) == 0)
    cce = get_loss("categorical_crossentropy")
    t, p = np.array([[0.0, 1.0, 0.0]]), np.array([[0.5, 0.0, 0.5]])
    assert cce(t, p) == pytest.approx(-math.log(EPSILON), rel=1e-6)
    assert np.all(np.isfinite(cce.gradient(t, p)))
    scce = get_loss("sparse_categorical_crossentropy")
    assert scce(np.array([1]), p) == pytest.approx(-math.log(EPSILON), rel=1e-6)
    assert np.all(scce.gradient(np.array([1]), p) == 0)


def test_sequence_loss_is_mean_over_all_positions():
    ids, _, p = probs_batch(3, 6, extra=(5,))
    loss = get_loss("sparse_categorical_crossentropy")
    assert loss(ids, p) == pytest.approx(loss(ids.reshape(-1), p.reshape(-1, 6)), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(ids, p).reshape(-1, 6),
                               loss.gradient(ids.reshape(-1), p.reshape(-1, 6)), rtol=1e-12)
    assert loss.per_sample(ids, p).shape == (3, 5)


def test_sparse_label_forms_agree():
    ids, _, p = probs_batch()
    loss = get_loss("sparse_categorical_crossentropy")
    forms = [ids, ids[:, None], ids.astype(np.float32), ids[:, None].astype(float)]
    values = {loss(y, p) for y in forms}
    assert len(values) == 1
    for y in forms:
        np.testing.assert_array_equal(loss.gradient(y, p), loss.gradient(ids, p))
    assert loss(ids, p) == pytest.approx(get_loss("categorical_crossentropy")(onehot(ids, 4), p))


@pytest.mark.parametrize("labels", [np.array([0, 1, 4, 2, 0]), np.array([0, 1, -1, 2, 0]),
                                    np.array([0.5, 1, 2, 2, 0]), np.array([0, 1, 2])])
def test_bad_sparse_labels_are_data_errors(labels):
    _, _, p = probs_batch()
    with pytest.raises(DataError):
        get_loss("sparse_categorical_crossentropy")(labels, p)


def test_mismatched_dense_labels_are_data_errors():
    with pytest.raises(DataError, match="do not match"):
        get_loss("mse")(np.zeros((4, 2)), np.zeros((4, 3)))
    # a missing trailing axis of 1 is forgiven, as Keras squeezes/expands it
    assert get_loss("mse")(np.ones(4), np.zeros((4, 1))) == 1.0


# -- fused gradients ----------------------------------------------------------------------
FUSED = [
    ("categorical_crossentropy", "softmax", lambda ids, k: onehot(ids, k)),
    ({"name": "categorical_crossentropy", "label_smoothing": 0.2}, "softmax",
     lambda ids, k: onehot(ids, k)),
    ("sparse_categorical_crossentropy", "softmax", lambda ids, k: ids),
    ("sparse_categorical_crossentropy", "softmax", lambda ids, k: ids[:, None]),
    ("binary_crossentropy", "sigmoid", lambda ids, k: (ids[:, None] == np.arange(k)) * 1.0),
    ({"name": "binary_crossentropy", "label_smoothing": 0.1}, "sigmoid",
     lambda ids, k: (ids[:, None] == np.arange(k)) * 1.0),
]


@pytest.mark.parametrize("spec,activation,labels", FUSED)
def test_fused_gradient_equals_chain_rule(spec, activation, labels):
    loss = get_loss(spec)
    act = activations.get(activation)
    assert loss.fuses_with(activation)
    z = RNG.standard_normal((6, 4))
    ids = RNG.integers(0, 4, 6)
    y = labels(ids, 4)
    probs = act.forward(z)
    chain = act.backward(z, probs, loss.gradient(y, probs))
    fused = loss.fused_gradient(y, probs)
    assert relative_error(fused, chain) < 1e-10
    # and it is the gradient of the same loss computed from logits
    from_logits = dict(spec) if isinstance(spec, dict) else {"name": spec}
    from_logits["from_logits"] = True
    assert relative_error(fused, get_loss(from_logits).gradient(y, z)) < 1e-10
    f32 = loss.fused_gradient(y, probs.astype(np.float32))
    assert f32.dtype == np.float32


def test_fused_sequence_gradient():
    loss = get_loss("sparse_categorical_crossentropy")
    z = RNG.standard_normal((2, 3, 5))
    ids = RNG.integers(0, 5, (2, 3))
    probs = softmax64(z)
    act = activations.get("softmax")
    chain = act.backward(z, probs, loss.gradient(ids, probs))
    assert relative_error(loss.fused_gradient(ids, probs), chain) < 1e-10


def test_fuses_with():
    assert not get_loss({"name": "categorical_crossentropy", "from_logits": True}) \
        .fuses_with("softmax")
    assert not get_loss("categorical_crossentropy").fuses_with("sigmoid")
    assert not get_loss("binary_crossentropy").fuses_with("softmax")
    assert not get_loss("mse").fuses_with("linear")
    assert get_loss("sparse_categorical_crossentropy").fuses_with("softmax")
    with pytest.raises(TypeError):
        get_loss("mse").fused_gradient(np.zeros((2, 1)), np.zeros((2, 1)))


# -- torch.nn.functional ------------------------------------------------------------------
def test_against_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    T = torch.from_numpy

    t, p = regression_batch((5, 3))
    assert get_loss("mse")(t, p) == pytest.approx(F.mse_loss(T(p), T(t)).item(), rel=1e-12)
    assert get_loss("mae")(t, p) == pytest.approx(F.l1_loss(T(p), T(t)).item(), rel=1e-12)
    for delta in (1.0, 0.5, 2.0):
        ours = get_loss({"name": "huber", "delta": delta})(t, p)
        assert ours == pytest.approx(F.huber_loss(T(p), T(t), delta=delta).item(), rel=1e-12)

    y = RNG.integers(0, 2, (6, 3)).astype(float)
    z = 2 * RNG.standard_normal((6, 3))
    for s in (0.0, 0.2):
        ys = y * (1 - s) + 0.5 * s  # torch has no BCE smoothing: give it Keras's smoothed labels
        want = F.binary_cross_entropy_with_logits(T(z), T(ys)).item()
        spec = {"name": "binary_crossentropy", "from_logits": True, "label_smoothing": s}
        assert get_loss(spec)(y, z) == pytest.approx(want, rel=1e-12)
        spec["from_logits"] = False
        probs = 1 / (1 + np.exp(-z))
        want = F.binary_cross_entropy(T(probs), T(ys)).item()
        assert get_loss(spec)(y, probs) == pytest.approx(want, rel=1e-9)

    ids, z, probs = probs_batch(6, 5)
    for s in (0.0, 0.1, 0.4):
        # torch smooths as (1 - s) * onehot + s / k: the same definition as Keras's CCE
        want = F.cross_entropy(T(z), T(ids), label_smoothing=s).item()
        spec = {"name": "categorical_crossentropy", "from_logits": True, "label_smoothing": s}
        assert get_loss(spec)(onehot(ids, 5), z) == pytest.approx(want, rel=1e-12)
        spec["from_logits"] = False
        assert get_loss(spec)(onehot(ids, 5), probs) == pytest.approx(want, rel=1e-9)
    want = F.cross_entropy(T(z), T(ids)).item()
    assert get_loss({"name": "sparse_categorical_crossentropy", "from_logits": True})(ids, z) \
        == pytest.approx(want, rel=1e-12)
    assert get_loss("sparse_categorical_crossentropy")(ids, probs) == pytest.approx(want,
                                                                                     rel=1e-9)

    ids, z, probs = probs_batch(3, 5, extra=(4,))  # (n, T, k) with labels (n, T)
    want = F.cross_entropy(T(z).permute(0, 2, 1), T(ids)).item()
    assert get_loss("sparse_categorical_crossentropy")(ids, probs) == pytest.approx(want,
                                                                                     rel=1e-9)


def test_gradients_against_torch_autograd():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    ids, z, _ = probs_batch(6, 5)
    zt = torch.tensor(z, requires_grad=True)
    F.cross_entropy(zt, torch.from_numpy(ids), label_smoothing=0.1).backward()
    spec = {"name": "categorical_crossentropy", "from_logits": True, "label_smoothing": 0.1}
    np.testing.assert_allclose(get_loss(spec).gradient(onehot(ids, 5), z), zt.grad.numpy(),
                               rtol=1e-10, atol=1e-14)
    t, p = regression_batch((5, 3))
    pt = torch.tensor(p, requires_grad=True)
    F.huber_loss(pt, torch.from_numpy(t), delta=0.5).backward()
    np.testing.assert_allclose(get_loss({"name": "huber", "delta": 0.5}).gradient(t, p),
                               pt.grad.numpy(), rtol=1e-12)


# -- config -------------------------------------------------------------------------------
@pytest.mark.parametrize("spec,name,kind", [
    ("mse", "mean_squared_error", "dense"), ("MSE", "mean_squared_error", "dense"),
    ("mean_squared_error", "mean_squared_error", "dense"),
    ("MeanSquaredError", "mean_squared_error", "dense"),
    ("mae", "mean_absolute_error", "dense"), ("huber", "huber", "dense"),
    ("Huber", "huber", "dense"), ("bce", "binary_crossentropy", "dense"),
    ("categorical_crossentropy", "categorical_crossentropy", "onehot"),
    ("sparse_categorical_crossentropy", "sparse_categorical_crossentropy", "sparse"),
    ({"name": "CategoricalCrossentropy", "from_logits": True}, "categorical_crossentropy",
     "onehot"),
    ({"categorical_crossentropy": {"label_smoothing": 0.1}}, "categorical_crossentropy",
     "onehot"),
])
def test_names_and_label_kinds(spec, name, kind):
    loss = get_loss(spec)
    assert loss.name == name and loss.label_kind == kind


def test_arguments_are_applied():
    loss = get_loss({"name": "categorical_crossentropy", "from_logits": True,
                     "label_smoothing": 0.1})
    assert loss.from_logits is True and loss.label_smoothing == 0.1
    assert get_loss({"name": "huber", "delta": 2}).delta == 2.0
    assert get_loss("binary_crossentropy").get_config() == {
        "name": "binary_crossentropy", "from_logits": False, "label_smoothing": 0.0}


@pytest.mark.parametrize("spec,key,message", [
    ("categorical_crossentropi", "compile.loss", "did you mean 'categorical_crossentropy'"),
    ({"name": "sparse_categorical_crossentopy"}, "compile.loss.name",
     "did you mean 'sparse_categorical_crossentropy'"),
    ({"name": "huber", "detla": 1.0}, "compile.loss.detla", "did you mean 'delta'"),
    ({"name": "categorical_crossentropy", "from_logit": True}, "compile.loss.from_logit",
     "did you mean 'from_logits'"),
    ({"name": "mse", "from_logits": True}, "compile.loss.from_logits", "takes no arguments"),
    ({"name": "sparse_categorical_crossentropy", "label_smoothing": 0.1},
     "compile.loss.label_smoothing", "no label_smoothing"),
    ({"name": "binary_crossentropy", "label_smoothing": 1.5}, "compile.loss.label_smoothing",
     "<= 1"),
    ({"name": "binary_crossentropy", "from_logits": "yes"}, "compile.loss.from_logits",
     "true or false"),
    ({"name": "huber", "delta": 0}, "compile.loss.delta", "> 0"),
    ({"from_logits": True}, "compile.loss", "'name'"),
    (None, "compile.loss", "expected a loss name"),
    ({"name": 3}, "compile.loss.name", "expected a loss name"),
])
def test_bad_specs(spec, key, message):
    with pytest.raises(ConfigError, match=message) as info:
        get_loss(spec)
    assert info.value.key == key

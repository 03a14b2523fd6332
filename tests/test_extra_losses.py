"""The losses of nntrain/extra_losses.py: values against float64 references written from Keras's
formulas and against the expected values of Keras's own tests (keras/src/losses/losses_test.py),
weighted reductions as Keras's (sum(w l) / positions), gradients against finite differences in
float64, and torch.nn.functional where torch has the loss."""

import numpy as np
import pytest

from nntrain.errors import ConfigError, DataError
from nntrain.gradcheck import numeric_gradient, relative_error
from nntrain.losses import EPSILON, LOSSES, get_loss

RNG = np.random.default_rng(7)


def softmax64(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# -- float64 references, one line of Keras's formula each ----------------------------------------
def ref_kld(t, p):
    t, p = np.clip(t, EPSILON, 1), np.clip(p, EPSILON, 1)
    return np.mean(np.sum(t * np.log(t / p), axis=-1))


def ref_poisson(t, p):
    return np.mean(np.mean(p - t * np.log(p + EPSILON), axis=-1))


def hinge_t(t):
    return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t


def ref_hinge(t, p):
    return np.mean(np.maximum(1 - hinge_t(t) * p, 0))


def ref_squared_hinge(t, p):
    return np.mean(np.maximum(1 - hinge_t(t) * p, 0) ** 2)


def ref_log_cosh(t, p):
    return np.mean(np.log(np.cosh(p - t)))


def ref_cosine(t, p, axis=-1):
    def unit(a):
        return a / np.maximum(np.linalg.norm(a, axis=axis, keepdims=True), EPSILON)
    return np.mean(-np.sum(unit(t) * unit(p), axis=axis))


def ref_focal(t, p, alpha=0.25, gamma=2.0, from_logits=False, smoothing=0.0):
    k = p.shape[-1]
    t = t * (1 - smoothing) + smoothing / k
    if from_logits:
        p = softmax64(p)
    o = np.clip(p / p.sum(axis=-1, keepdims=True), EPSILON, 1 - EPSILON)
    return np.mean(np.sum(np.asarray(alpha) * (1 - o) ** gamma * -t * np.log(o), axis=-1))


# -- inputs away from kinks and clip boundaries ---------------------------------------------
def distributions(n=6, k=4, extra=()):
    shape = (n, *extra, k)
    return softmax64(RNG.standard_normal(shape)), softmax64(RNG.standard_normal(shape))


def onehot_probs(n=6, k=4, extra=()):
    ids = RNG.integers(0, k, (n, *extra))
    return np.eye(k)[ids], softmax64(RNG.standard_normal((n, *extra, k)))


def onehot_logits(n=6, k=4):
    return np.eye(k)[RNG.integers(0, k, n)], 2 * RNG.standard_normal((n, k))


def margins(labels):
    def make():
        t = RNG.integers(0, 2, (6, 3)).astype(float)
        t = t if labels == "01" else 2 * t - 1
        # |1 - t p| at least 0.1, so no entry sits on the hinge's kink
        p = RNG.uniform(0.1, 1.5, (6, 3)) * RNG.choice([-1, 1], (6, 3)) + hinge_t(t)
        return t, p
    return make


def counts():
    return RNG.poisson(2.0, (5, 3)).astype(float), RNG.uniform(0.2, 4.0, (5, 3))


def regression(shape=(5, 3)):
    t = RNG.standard_normal(shape)
    return t, t + 2 * RNG.standard_normal(shape)


ALPHA = [0.1, 0.4, 0.3, 0.2]
CASES = {   # id -> (spec, make, reference)
    "kld": ("kl_divergence", distributions, ref_kld),
    "kld_onehot": ("kld", onehot_probs, ref_kld),
    "kld_sequence": ("KLDivergence", lambda: distributions(3, 4, (5,)), ref_kld),
    "poisson": ("poisson", counts, ref_poisson),
    "hinge_01": ("hinge", margins("01"), ref_hinge),
    "hinge_pm1": ("Hinge", margins("pm1"), ref_hinge),
    "squared_hinge_01": ("squared_hinge", margins("01"), ref_squared_hinge),
    "squared_hinge_pm1": ("SquaredHinge", margins("pm1"), ref_squared_hinge),
    "log_cosh": ("log_cosh", regression, ref_log_cosh),
    "log_cosh_large_errors": ("LogCosh", lambda: (np.zeros((3, 4)), 40 * RNG.standard_normal(
        (3, 4))), lambda t, p: np.mean(np.abs(p - t) - np.log(2) + np.log1p(np.exp(-2 * np.abs(
            p - t))))),
    "cosine": ("cosine_similarity", regression, ref_cosine),
    "cosine_axis_1": ({"name": "CosineSimilarity", "axis": 1}, lambda: regression((3, 4, 2)),
                      lambda t, p: ref_cosine(t, p, axis=1)),
    "focal": ("categorical_focal_crossentropy", onehot_probs, ref_focal),
    "focal_sequence": ("categorical_focal_crossentropy", lambda: onehot_probs(3, 4, (2,)),
                       ref_focal),
    "focal_logits": ({"name": "CategoricalFocalCrossentropy", "from_logits": True},
                     onehot_logits, lambda t, p: ref_focal(t, p, from_logits=True)),
    "focal_all_arguments": ({"name": "categorical_focal_crossentropy", "alpha": ALPHA,
                             "gamma": 1.5, "from_logits": True, "label_smoothing": 0.2},
                            onehot_logits,
                            lambda t, p: ref_focal(t, p, ALPHA, 1.5, True, 0.2)),
    "focal_gamma_0": ({"name": "categorical_focal_crossentropy", "gamma": 0, "alpha": 1.0},
                      onehot_probs, lambda t, p: ref_focal(t, p, 1.0, 0.0)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_value_matches_reference(case):
    spec, make, ref = CASES[case]
    y_true, y_pred = make()
    assert get_loss(spec)(y_true, y_pred) == pytest.approx(ref(y_true, y_pred), rel=1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_gradient_matches_finite_differences(case):
    spec, make, _ = CASES[case]
    y_true, y_pred = make()
    loss = get_loss(spec)
    grad = loss.gradient(y_true, y_pred)
    assert grad.shape == y_pred.shape and grad.dtype == np.float64
    assert relative_error(grad, numeric_gradient(lambda: loss(y_true, y_pred), y_pred)) < 1e-6


@pytest.mark.parametrize("case", list(CASES))
def test_weighted_value_and_gradient(case):
    """Keras's sum_over_batch_size with weights: sum(w * l) / positions; the gradient of that."""
    spec, make, _ = CASES[case]
    y_true, y_pred = make()
    loss = get_loss(spec)
    w = RNG.uniform(0, 2, len(y_pred))
    per = loss.per_sample(y_true, y_pred)
    want = np.sum(per * w.reshape((-1,) + (1,) * (per.ndim - 1))) / per.size
    assert loss(y_true, y_pred, w) == pytest.approx(want, rel=1e-12)
    from nntrain.losses import weigh
    grad = weigh(loss.gradient(y_true, y_pred), w)
    numeric = numeric_gradient(lambda: loss(y_true, y_pred, w), y_pred)
    assert relative_error(grad, numeric) < 1e-6


@pytest.mark.parametrize("case", list(CASES))
def test_float32_stays_float32(case):
    spec, make, ref = CASES[case]
    y_true, y_pred = make()
    loss = get_loss(spec)
    p32 = y_pred.astype(np.float32)
    assert loss.gradient(y_true, p32).dtype == np.float32
    assert loss.per_sample(y_true, p32).dtype == np.float32
    assert loss(y_true, p32) == pytest.approx(ref(y_true, y_pred), rel=1e-5, abs=1e-6)


# -- the expected values of Keras's own tests ---------------------------------------------------
T2, P2 = np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[0.6, 0.4], [0.4, 0.6]])
FOCAL_T = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
FOCAL_P = np.array([[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]], "float32")
FOCAL_Z = np.array([[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]])
FOCAL_W = np.array([1.2, 3.4, 5.6])


def test_keras_expected_values():
    hinge, squared = get_loss("hinge"), get_loss("squared_hinge")
    assert hinge(T2, P2) == pytest.approx(1.3, abs=1e-3)
    np.testing.assert_allclose(hinge.per_sample(T2, P2), [1.1, 1.5], atol=1e-6)
    assert hinge(T2, P2, [1, 0]) == pytest.approx(0.55, abs=1e-3)     # / n, not / sum(w)
    assert squared(T2, P2) == pytest.approx(1.86, abs=1e-3)
    np.testing.assert_allclose(squared.per_sample(T2, P2), [1.46, 2.26], atol=1e-6)
    assert squared(T2, P2, [1, 0]) == pytest.approx(0.73, abs=1e-3)

    focal = get_loss("categorical_focal_crossentropy")
    logits = get_loss({"name": "categorical_focal_crossentropy", "from_logits": True})
    assert focal(FOCAL_T, FOCAL_P) == pytest.approx(0.02059, abs=1e-3)
    assert logits(FOCAL_T, FOCAL_Z) == pytest.approx(0.000345, abs=1e-3)
    assert focal(FOCAL_T, FOCAL_P, 2.3) == pytest.approx(0.047368, abs=1e-3)
    assert logits(FOCAL_T, FOCAL_Z, 2.3) == pytest.approx(0.000794, abs=1e-4)
    assert focal(FOCAL_T, FOCAL_P, FOCAL_W) == pytest.approx(0.06987, abs=1e-3)
    assert logits(FOCAL_T, FOCAL_Z, FOCAL_W) == pytest.approx(0.001933, abs=1e-3)
    np.testing.assert_allclose(logits.per_sample(FOCAL_T, FOCAL_Z),
                               [1.5096224e-09, 2.4136547e-11, 1.0360638e-03], rtol=1e-6,
                               atol=1e-13)   # Keras computed them in float32
    smooth = get_loss({"name": "categorical_focal_crossentropy", "from_logits": True,
                       "label_smoothing": 0.1})
    assert smooth(np.array([[1, 0, 0]]), np.array([[4.9, -0.5, 2.05]])) == pytest.approx(
        0.06685, abs=1e-3)
    # the class docstring's example
    doc_t, doc_p = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    assert focal(doc_t, doc_p) == pytest.approx(0.23315276, rel=1e-6)
    assert focal(doc_t, doc_p, np.array([0.3, 0.7])) == pytest.approx(0.1632, abs=1e-4)
    np.testing.assert_allclose(focal.per_sample(doc_t, doc_p), [3.2058331e-05, 4.6627346e-01],
                               rtol=1e-6)

    kt = np.array([0.5, 0.8, 0.12, 0.7, 0.43, 0.8]).reshape(2, 3)
    kp = np.array([0.4, 0.9, 0.12, 0.36, 0.3, 0.4]).reshape(2, 3)
    per = np.sum(kt * np.log(kt / kp), axis=-1)
    kld = get_loss("kl_divergence")
    assert kld(kt, kp) == pytest.approx(per.sum() / 2, rel=1e-12)
    assert kld(kt, kp, [1.2, 3.4]) == pytest.approx((per * [1.2, 3.4]).sum() / 2, rel=1e-12)
    assert kld(kt, kp, 0) == 0.0

    pt = np.array([4, 8, 12, 8, 1, 3], float).reshape(2, 3)
    pp = np.array([1, 9, 2, 5, 2, 6], float).reshape(2, 3)
    assert get_loss("poisson")(pt, pp) == pytest.approx(np.mean(pp - pt * np.log(pp)), rel=1e-6)

    # keras.losses.log_cosh and cosine_similarity docstrings
    assert get_loss("log_cosh")(np.array([[0.0, 1.0], [0.0, 0.0]]),
                                np.array([[1.0, 1.0], [0.0, 0.0]])) == pytest.approx(0.108,
                                                                                     abs=1e-3)
    np.testing.assert_allclose(
        get_loss("cosine_similarity").per_sample(np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 1.0]]),
                                                 np.array([[1.0, 0.0], [1.0, 1.0], [-1.0, -1.0]])),
        [0.0, -1.0, 1.0], atol=1e-7)


def test_clipping_and_degenerate_inputs():
    """KL clips both sides to [eps, 1]; the clip stops the gradient. A zero prediction vector
    has cosine similarity 0 and the finite gradient -t_hat / eps of Keras 3.16 (3.15 gives NaN)."""
    kld = get_loss("kl_divergence")
    t, p = np.array([[0.0, 1.0]]), np.array([[0.5, 0.0]])
    assert kld(t, p) == pytest.approx(EPSILON * np.log(EPSILON / 0.5) - np.log(EPSILON))
    np.testing.assert_array_equal(kld.gradient(t, p), [[-EPSILON / 0.5, 0.0]])
    cosine = get_loss("cosine_similarity")
    t, p = np.array([[0.0, 2.0]]), np.zeros((1, 2))
    assert cosine(t, p) == 0.0
    np.testing.assert_allclose(cosine.gradient(t, p), [[0.0, -1 / EPSILON]])
    focal = get_loss("categorical_focal_crossentropy")
    g = focal.gradient(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]))
    assert np.all(np.isfinite(g))


def test_hinge_converts_binary_labels_per_batch():
    """Keras decides once per batch: a batch of 0/1 labels becomes -1/1; anything else is kept."""
    hinge = get_loss("hinge")
    p = np.array([[0.3, -0.2]])
    assert hinge(np.array([[1.0, 0.0]]), p) == hinge(np.array([[1.0, -1.0]]), p)
    assert hinge(np.array([[0.5, 0.0]]), p) == pytest.approx(np.mean([1 - 0.15, 1.0]))


# -- torch.nn.functional ---------------------------------------------------------------------
def test_against_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    t, p = distributions(7, 5)
    pt = torch.tensor(p, requires_grad=True)
    want = F.kl_div(torch.log(pt), torch.from_numpy(t), reduction="sum") / 7
    want.backward()
    kld = get_loss("kl_divergence")
    assert kld(t, p) == pytest.approx(want.item(), rel=1e-12)
    np.testing.assert_allclose(kld.gradient(t, p), pt.grad.numpy(), rtol=1e-12)

    t, p = counts()
    pt = torch.tensor(p, requires_grad=True)
    want = F.poisson_nll_loss(pt, torch.from_numpy(t), log_input=False, eps=EPSILON)
    want.backward()
    poisson = get_loss("poisson")
    assert poisson(t, p) == pytest.approx(want.item(), rel=1e-12)
    np.testing.assert_allclose(poisson.gradient(t, p), pt.grad.numpy(), rtol=1e-12)

    t, p = regression((6, 4))
    pt = torch.tensor(p, requires_grad=True)
    want = -F.cosine_similarity(pt, torch.from_numpy(t), dim=-1).mean()
    want.backward()
    cosine = get_loss("cosine_similarity")
    assert cosine(t, p) == pytest.approx(want.item(), rel=1e-12)
    np.testing.assert_allclose(cosine.gradient(t, p), pt.grad.numpy(), rtol=1e-10, atol=1e-15)


# -- config -----------------------------------------------------------------------------------
@pytest.mark.parametrize("spec,name,kind", [
    ("kld", "kl_divergence", "dense"), ("KLD", "kl_divergence", "dense"),
    ("KLDivergence", "kl_divergence", "dense"), ("Poisson", "poisson", "dense"),
    ("hinge", "hinge", "dense"), ("SquaredHinge", "squared_hinge", "dense"),
    ("LogCosh", "log_cosh", "dense"), ("CosineSimilarity", "cosine_similarity", "dense"),
    ("CategoricalFocalCrossentropy", "categorical_focal_crossentropy", "onehot"),
])
def test_names_and_label_kinds(spec, name, kind):
    loss = get_loss(spec)
    assert loss.name == name and loss.label_kind == kind


def test_defaults_are_keras_defaults():
    args = LOSSES.lookup("categorical_focal_crossentropy").arguments()
    assert args == {"alpha": 0.25, "gamma": 2.0, "from_logits": False, "label_smoothing": 0.0,
                    "axis": -1}
    assert LOSSES.lookup("cosine_similarity").arguments() == {"axis": -1}
    assert get_loss({"name": "categorical_focal_crossentropy", "alpha": [1, 2]}).get_config()[
        "alpha"] == [1.0, 2.0]


@pytest.mark.parametrize("spec,key,message", [
    ({"name": "categorical_focal_crossentropy", "gama": 2}, "compile.loss.gama",
     "did you mean 'gamma'"),
    ({"name": "categorical_focal_crossentropy", "gamma": -1}, "compile.loss.gamma", ">= 0"),
    ({"name": "categorical_focal_crossentropy", "alpha": "x"}, "compile.loss.alpha", "a number"),
    ({"name": "cosine_similarity", "axis": 1.5}, "compile.loss.axis", "integer axis"),
    ({"name": "hinge", "from_logits": True}, "compile.loss.from_logits", "takes no arguments"),
    ("kl_divergance", "compile.loss", "did you mean 'kl_divergence'"),
    ({"name": "poisson", "reduction": "sum"}, "compile.loss.reduction", "sum_over_batch_size"),
])
def test_bad_specs(spec, key, message):
    with pytest.raises(ConfigError, match=message) as info:
        get_loss(spec)
    assert info.value.key == key


def test_bad_shapes_at_call_time():
    with pytest.raises(DataError, match="batch axis"):
        get_loss({"name": "cosine_similarity", "axis": 0})(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ConfigError, match="alpha has 2 values"):
        get_loss({"name": "categorical_focal_crossentropy", "alpha": [1, 2]})(
            np.eye(3), np.full((3, 3), 1 / 3))


# -- whole models ------------------------------------------------------------------------------
@pytest.mark.parametrize("loss_name,activation,units", [
    ("kl_divergence", "softmax", 4), ("poisson", "softplus", 3), ("hinge", "tanh", 2),
    ("squared_hinge", "linear", 2), ("log_cosh", "linear", 3), ("cosine_similarity", "linear", 3),
    ("categorical_focal_crossentropy", "softmax", 4),
])
def test_models_trained_with_each_loss_pass_gradcheck(loss_name, activation, units):
    """The training step's own path (nntrain gradcheck) with each new loss."""
    from nntrain import gradcheck
    from nntrain.builder import build_model
    model = build_model({"input_shape": [3], "layers": [
        {"Dense": {"units": 4, "activation": "tanh"}},
        {"Dense": {"units": units, "activation": activation}}]}, rng=np.random.default_rng(2))
    rows = gradcheck.check_model(model, get_loss(loss_name), batch=5)
    worst = max(rows, key=lambda r: r["rel_error"])
    assert worst["rel_error"] < 1e-6, worst

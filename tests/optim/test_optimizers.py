"""Optimizers against float64 references written here from Keras 3's update rules, against
torch.optim where the semantics agree, and their state through a save/load."""

import json

import numpy as np
import pytest

from nntrain.errors import CheckpointError, ConfigError
from nntrain.optim import OPTIMIZERS, make_learning_rate, make_optimizer

# -- float64 references, one Keras update rule each (keras/src/optimizers/*.py) -----------------


def ref_sgd(p, g, s, lr, t, momentum=0.0, nesterov=False):
    if momentum == 0:
        return p - lr * g
    s["m"] = momentum * s.get("m", 0.0) - lr * g
    return p + momentum * s["m"] - lr * g if nesterov else p + s["m"]


def ref_rmsprop(p, g, s, lr, t, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g ** 2
    if centered:
        s["mg"] = rho * s.get("mg", 0.0) + (1 - rho) * g
        increment = lr * g / np.sqrt(s["v"] - s["mg"] ** 2 + epsilon)
    else:
        increment = lr * g / np.sqrt(s["v"] + epsilon)
    if momentum > 0:
        s["mom"] = momentum * s.get("mom", 0.0) + increment
        return p - s["mom"]
    return p - increment


def ref_adagrad(p, g, s, lr, t, initial_accumulator_value=0.1, epsilon=1e-7):
    s["acc"] = s.get("acc", initial_accumulator_value) + g ** 2
    return p - lr * g / np.sqrt(s["acc"] + epsilon)


def ref_adadelta(p, g, s, lr, t, rho=0.95, epsilon=1e-7):
    s["ag"] = rho * s.get("ag", 0.0) + (1 - rho) * g ** 2
    delta = -np.sqrt(s.get("ad", 0.0) + epsilon) * g / np.sqrt(s["ag"] + epsilon)
    s["ad"] = rho * s.get("ad", 0.0) + (1 - rho) * delta ** 2
    return p + lr * delta


def ref_adam(p, g, s, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g ** 2
    v = s["v"]
    if amsgrad:
        v = s["vhat"] = np.maximum(s.get("vhat", 0.0), s["v"])
    return p - alpha * s["m"] / (np.sqrt(v) + epsilon)


def ref_adamax(p, g, s, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["u"] = np.maximum(beta_2 * s.get("u", 0.0), np.abs(g))
    return p - lr * s["m"] / ((1 - beta_1 ** t) * (s["u"] + epsilon))


def ref_nadam(p, g, s, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    mu = beta_1 * (1 - 0.5 * 0.96 ** t)
    mu_next = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
    prod = np.prod([beta_1 * (1 - 0.5 * 0.96 ** i) for i in range(1, t + 1)])
    s["m"] = beta_1 * s.get("m", 0.0) + (1 - beta_1) * g
    s["v"] = beta_2 * s.get("v", 0.0) + (1 - beta_2) * g ** 2
    m_hat = mu_next * s["m"] / (1 - prod * mu_next) + (1 - mu) * g / (1 - prod)
    v_hat = s["v"] / (1 - beta_2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + epsilon)


REFS = {"sgd": ref_sgd, "rmsprop": ref_rmsprop, "adagrad": ref_adagrad,
        "adadelta": ref_adadelta, "adam": ref_adam, "adamw": ref_adam, "adamax": ref_adamax,
        "nadam": ref_nadam}


def reference(spec, params, grad_steps, lrs):
    """Keras's step in float64: clip -> decay (p - p * wd * lr) -> update, `lrs[t-1]` at step t."""
    spec = dict(spec)
    name = spec.pop("name")
    wd = spec.pop("weight_decay", 0.004 if name == "adamw" else None)
    clipnorm, clipvalue, global_clipnorm = (spec.pop(k, None) for k in
                                            ("clipnorm", "clipvalue", "global_clipnorm"))
    spec.pop("learning_rate", None)
    params = {k: v.astype(np.float64) for k, v in params.items()}
    slots = {k: {} for k in params}
    for t, (grads, lr) in enumerate(zip(grad_steps, lrs), start=1):
        grads = {k: g.astype(np.float64) for k, g in grads.items()}
        if clipnorm:
            grads = {k: g * clipnorm / max(np.sqrt(np.sum(g ** 2)), clipnorm)
                     for k, g in grads.items()}
        if global_clipnorm:
            norm = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
            grads = {k: g * global_clipnorm / max(norm, global_clipnorm)
                     for k, g in grads.items()}
        if clipvalue:
            grads = {k: np.clip(g, -clipvalue, clipvalue) for k, g in grads.items()}
        for k in params:
            if wd:
                params[k] = params[k] - params[k] * wd * lr
            params[k] = REFS[name](params[k], grads[k], slots[k], lr, t, **spec)
    return params


def problem(seed=0, steps=3, dtype=np.float32):
    rng = np.random.default_rng(seed)
    params = {"dense/kernel": rng.normal(size=(3, 4)).astype(dtype),
              "dense/bias": rng.normal(size=(5,)).astype(dtype)}
    grads = [{k: (2.0 * rng.normal(size=p.shape) + 0.3).astype(dtype) for k, p in params.items()}
             for _ in range(steps)]
    return params, grads


VARIANTS = [
    {"name": "sgd", "learning_rate": 0.1},
    {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9},
    {"name": "sgd", "learning_rate": 0.1, "momentum": 0.8, "nesterov": True},
    {"name": "rmsprop", "learning_rate": 0.1},
    {"name": "rmsprop", "learning_rate": 0.1, "momentum": 0.5, "centered": True},
    {"name": "rmsprop", "learning_rate": 0.1, "rho": 0.5, "epsilon": 0.5},  # eps inside the root
    {"name": "adagrad", "learning_rate": 0.1},
    {"name": "adagrad", "learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 0.5},
    {"name": "adadelta", "learning_rate": 1.0},
    {"name": "adadelta", "learning_rate": 1.0, "rho": 0.5, "epsilon": 0.01},
    {"name": "adam", "learning_rate": 0.1},
    {"name": "adam", "learning_rate": 0.1, "amsgrad": True, "beta_2": 0.5},
    {"name": "adam", "learning_rate": 0.1, "epsilon": 0.5},  # eps outside, not bias-corrected
    {"name": "adamw", "learning_rate": 0.1},
    {"name": "adamax", "learning_rate": 0.1},
    {"name": "adamax", "learning_rate": 0.1, "beta_2": 0.5, "epsilon": 0.5},
    {"name": "nadam", "learning_rate": 0.1},
    {"name": "nadam", "learning_rate": 0.1, "beta_1": 0.5, "epsilon": 0.5},
]
CLIPS = [{}, {"clipnorm": 0.5}, {"clipvalue": 0.3}, {"global_clipnorm": 0.7}]


def label(spec):
    return ",".join(f"{k}={v}" for k, v in spec.items())


@pytest.mark.parametrize("weight_decay", [None, 0.2])
@pytest.mark.parametrize("clip", CLIPS, ids=label)
@pytest.mark.parametrize("variant", VARIANTS, ids=label)
def test_one_and_three_steps_match_keras_equations(variant, clip, weight_decay):
    spec = {**variant, **clip}
    if weight_decay is not None:
        spec["weight_decay"] = weight_decay
    params, grads = problem()
    p0 = {k: v.copy() for k, v in params.items()}
    opt = make_optimizer(spec)
    lr = opt.current_learning_rate()
    for steps in (1, 3):
        while opt.iterations < steps:
            opt.apply(params, grads[opt.iterations])
        expected = reference(spec, p0, grads[:steps], [lr] * steps)
        for k in params:
            assert params[k].dtype == np.float32
            # Compare the changes, so float32 rounding of the parameters does not hide them.
            np.testing.assert_allclose(params[k] - p0[k].astype(np.float64), expected[k] - p0[k],
                                       rtol=2e-4, atol=3e-7, err_msg=f"{k} after {steps} steps")


def test_epsilon_placement_is_visible_at_these_sizes():
    """The eps=0.5 variants above would fail with epsilon on the wrong side of the root:
    one step with the wrong placement differs from ours far beyond the tolerance."""
    params, grads = problem()
    g = {k: v.astype(np.float64) for k, v in grads[0].items()}
    wrong = {  # rmsprop/adagrad with eps outside the root, adam with eps inside it
        "rmsprop": lambda k: 0.1 * g[k] / (np.sqrt(0.1 * g[k] ** 2) + 0.5),
        "adagrad": lambda k: 0.1 * g[k] / (np.sqrt(0.1 + g[k] ** 2) + 0.5),
        "adam": lambda k: 0.1 * np.sqrt(0.001) / 0.1 * 0.1 * g[k] / np.sqrt(0.001 * g[k] ** 2
                                                                             + 0.5),
    }
    for name, step in wrong.items():
        p = {k: v.copy() for k, v in params.items()}
        make_optimizer({"name": name, "learning_rate": 0.1, "epsilon": 0.5}).apply(p, grads[0])
        for k in p:
            ours = params[k] - p[k].astype(np.float64)
            assert not np.allclose(ours, step(k), rtol=1e-2), (name, k)


def test_schedule_is_read_before_the_step_counter_moves():
    sched = {"schedule": "PiecewiseConstantDecay", "boundaries": [0, 1], "values": [1.0, 0.5, 0.25]}
    spec = {"name": "sgd", "learning_rate": sched, "momentum": 0.5, "weight_decay": 0.1}
    params, grads = problem()
    p0 = {k: v.copy() for k, v in params.items()}
    opt = make_optimizer(spec)
    seen = []
    for g in grads:
        seen.append(opt.current_learning_rate())
        opt.apply(params, g)
    assert seen == [1.0, 0.5, 0.25] and opt.iterations == 3
    expected = reference({**spec, "learning_rate": 0}, p0, grads, seen)
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("clip", ["clipnorm", "global_clipnorm"])
def test_clipping_near_the_threshold(clip):
    """One tensor a little above the norm, one below: clipnorm scales only the first."""
    params, grads = problem(steps=1)
    g = grads[0]
    g = {"dense/kernel": g["dense/kernel"] * (1.3 / np.linalg.norm(g["dense/kernel"])),
         "dense/bias": g["dense/bias"] * (0.7 / np.linalg.norm(g["dense/bias"]))}
    spec = {"name": "sgd", "learning_rate": 1.0, clip: 1.0}
    p = {k: v.copy() for k, v in params.items()}
    make_optimizer(spec).apply(p, g)
    expected = reference(spec, params, [g], [1.0])
    for k in p:
        np.testing.assert_allclose(p[k], expected[k], rtol=1e-6, atol=1e-6)
    assert not np.allclose(p["dense/kernel"], params["dense/kernel"] - g["dense/kernel"])
    bias_unclipped = np.allclose(p["dense/bias"], params["dense/bias"] - g["dense/bias"])
    assert bias_unclipped == (clip == "clipnorm")


def test_large_clip_thresholds_change_nothing():
    params, grads = problem()
    results = []
    for clip in [{}, {"clipnorm": 1e3}, {"global_clipnorm": 1e3}, {"clipvalue": 1e3}]:
        p = {k: v.copy() for k, v in params.items()}
        opt = make_optimizer({"name": "adam", **clip})
        for g in grads:
            opt.apply(p, g)
        results.append(p)
    for r in results[1:]:
        for k in params:
            assert np.array_equal(r[k], results[0][k])


def test_updates_in_place_float32_and_grads_untouched():
    params, grads = problem()
    for name in OPTIMIZERS:
        p = {k: v.copy() for k, v in params.items()}
        ids = {k: id(v) for k, v in p.items()}
        views = {k: v[...] for k, v in p.items()}  # other holders of the same memory
        g_copies = [{k: v.copy() for k, v in g.items()} for g in grads]
        opt = make_optimizer({"name": name, "clipnorm": 0.5, "weight_decay": 0.01})
        for g in grads:
            opt.apply(p, g)
        for k in p:
            assert id(p[k]) == ids[k] and np.array_equal(views[k], p[k])
            assert not np.array_equal(p[k], params[k]), name
            assert p[k].dtype == np.float32
        for g, c in zip(grads, g_copies):
            assert all(np.array_equal(g[k], c[k]) for k in g)
        for k, a in opt.state_arrays().items():
            if "/" in k:
                assert a.dtype == np.float32, (name, k)


def test_float64_parameters_keep_float64_slots():
    params, grads = problem(dtype=np.float64)
    opt = make_optimizer("adam")
    opt.apply(params, grads[0])
    assert opt.state_arrays()["m/dense/kernel"].dtype == np.float64
    assert params["dense/kernel"].dtype == np.float64


# -- torch.optim, where the semantics agree (float64, so the match is tight) --------------------

def _torch_case(name):
    """(our spec, torch optimizer factory). Epsilon is 0 where Keras and torch put it in
    different places (rmsprop, adagrad: inside the root in Keras, outside in torch; adam/adamw:
    Keras's is not bias-corrected; adamax: torch adds it to |g| inside the max). Nadam matches
    with eps as is once torch's momentum_decay is 1 (Keras's schedule is 0.96**t)."""
    torch = pytest.importorskip("torch")
    o = torch.optim
    return {
        "sgd-momentum": ({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9},
                         lambda ps: o.SGD(ps, lr=0.1, momentum=0.9)),
        "sgd-nesterov": ({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
                         lambda ps: o.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
        "rmsprop-centered-momentum": (
            {"name": "rmsprop", "learning_rate": 0.01, "rho": 0.8, "momentum": 0.5,
             "centered": True, "epsilon": 0.0},
            lambda ps: o.RMSprop(ps, lr=0.01, alpha=0.8, momentum=0.5, centered=True, eps=0.0)),
        "adagrad": ({"name": "adagrad", "learning_rate": 0.1, "epsilon": 0.0},
                    lambda ps: o.Adagrad(ps, lr=0.1, initial_accumulator_value=0.1, eps=0.0)),
        "adadelta": ({"name": "adadelta", "learning_rate": 1.0},
                     lambda ps: o.Adadelta(ps, lr=1.0, rho=0.95, eps=1e-7)),
        "adam-amsgrad": ({"name": "adam", "learning_rate": 0.01, "epsilon": 0.0, "amsgrad": True},
                         lambda ps: o.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=0.0,
                                           amsgrad=True)),
        # torch.optim.AdamW decays p *= 1 - lr * wd before the update, like Keras.
        "adamw": ({"name": "adamw", "learning_rate": 0.01, "weight_decay": 0.1, "epsilon": 0.0},
                  lambda ps: o.AdamW(ps, lr=0.01, weight_decay=0.1, eps=0.0)),
        "adamax": ({"name": "adamax", "learning_rate": 0.01, "epsilon": 0.0},
                   lambda ps: o.Adamax(ps, lr=0.01, eps=0.0)),
        "nadam": ({"name": "nadam", "learning_rate": 0.01},
                  lambda ps: o.NAdam(ps, lr=0.01, eps=1e-7, momentum_decay=1.0)),
    }[name]
    # Not compared: weight_decay with SGD/Adam/RMSprop/Adagrad (torch's is an L2 term added to
    # the gradient, Keras's is decoupled), clipping (not part of torch.optim).


@pytest.mark.parametrize("case", ["sgd-momentum", "sgd-nesterov", "rmsprop-centered-momentum",
                                  "adagrad", "adadelta", "adam-amsgrad", "adamw", "adamax",
                                  "nadam"])
def test_matches_torch(case):
    torch = pytest.importorskip("torch")
    spec, make_torch = _torch_case(case)
    params, grads = problem(steps=5, dtype=np.float64)
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    topt = make_torch(list(tparams.values()))
    opt = make_optimizer(spec)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps step counters and nadam's product in it
    try:
        for g in grads:
            opt.apply(params, g)
            for k, tp in tparams.items():
                tp.grad = torch.tensor(g[k])
            topt.step()
    finally:
        torch.set_default_dtype(default)
    for k in params:
        np.testing.assert_allclose(params[k], tparams[k].detach().numpy(), rtol=1e-10, atol=1e-12)


# -- state: save, load, continue --------------------------------------------------------------

@pytest.mark.parametrize("spec", [
    {"name": "sgd", "momentum": 0.9, "nesterov": True, "clipnorm": 0.5},
    {"name": "sgd"},
    {"name": "rmsprop", "momentum": 0.5, "centered": True},
    {"name": "adagrad", "global_clipnorm": 1.0},
    {"name": "adadelta", "learning_rate": 1.0},
    {"name": "adam", "amsgrad": True, "learning_rate": {
        "schedule": "ExponentialDecay", "initial_learning_rate": 0.01, "decay_steps": 2,
        "decay_rate": 0.5}},
    {"name": "adamw", "clipvalue": 0.1},
    {"name": "adamax"},
    {"name": "nadam", "weight_decay": 0.01},
], ids=lambda s: s["name"])
def test_save_load_continue_is_bit_identical(spec, tmp_path):
    """Caffe's TestSnapshot: 6 steps straight == 3 steps, save, load into a new optimizer, 3."""
    params, grads = problem(steps=6)

    def reduce_lr(opt):  # what ReduceLROnPlateau does between the halves, when it can
        if isinstance(opt.learning_rate, float):
            opt.set_learning_rate(opt.learning_rate * 0.3)

    straight = {k: v.copy() for k, v in params.items()}
    opt = make_optimizer(spec)
    for i, g in enumerate(grads):
        if i == 3:
            reduce_lr(opt)
        opt.apply(straight, g)

    first = {k: v.copy() for k, v in params.items()}
    opt1 = make_optimizer(spec)
    for g in grads[:3]:
        opt1.apply(first, g)
    reduce_lr(opt1)
    np.savez(tmp_path / "cp.npz", **{f"optimizer/{k}": v for k, v in opt1.state_arrays().items()},
             **{f"weights/{k}": v for k, v in first.items()})
    del opt1, first

    with np.load(tmp_path / "cp.npz", allow_pickle=False) as f:
        resumed = {k[len("weights/"):]: f[k] for k in f.files if k.startswith("weights/")}
        arrays = {k[len("optimizer/"):]: f[k] for k in f.files if k.startswith("optimizer/")}
    opt2 = make_optimizer(spec)
    opt2.load_state_arrays(arrays)
    assert opt2.iterations == 3
    for g in grads[3:]:
        opt2.apply(resumed, g)
    assert opt2.iterations == opt.iterations == 6
    assert opt2.current_learning_rate() == opt.current_learning_rate()
    for k in params:
        assert np.array_equal(resumed[k], straight[k]), k
    for k, v in opt.state_arrays().items():
        assert np.array_equal(opt2.state_arrays()[k], v), k


def test_state_arrays_layout():
    params, grads = problem()
    opt = make_optimizer("adam")
    assert set(opt.state_arrays()) == {"iterations", "learning_rate"}
    opt.apply(params, grads[0])
    state = opt.state_arrays()
    assert set(state) == {"iterations", "learning_rate", "m/dense/kernel", "m/dense/bias",
                          "v/dense/kernel", "v/dense/bias"}
    assert state["iterations"].shape == () and state["iterations"].dtype == np.int64
    assert int(state["iterations"]) == 1


def test_load_errors():
    params, grads = problem()
    opt = make_optimizer("adam")
    opt.apply(params, grads[0])
    state = opt.state_arrays()

    def load(arrays, spec="adam"):
        make_optimizer(spec).load_state_arrays(arrays)

    with pytest.raises(CheckpointError, match="iterations"):
        load({k: v for k, v in state.items() if k != "iterations"})
    with pytest.raises(CheckpointError, match="v"):
        load({k: v for k, v in state.items() if k != "v/dense/bias"})
    with pytest.raises(CheckpointError, match="v_hat"):
        load(state, {"name": "adam", "amsgrad": True})
    with pytest.raises(CheckpointError, match="m/dense/kernel"):
        load(state, "adagrad")
    with pytest.raises(CheckpointError, match="u_product"):
        load(state, "nadam")
    with pytest.raises(CheckpointError, match="schedule"):
        load(state, {"name": "adam", "learning_rate": {
            "schedule": "InverseTimeDecay", "initial_learning_rate": 0.1, "decay_steps": 10,
            "decay_rate": 1.0}})
    # Slots that do not fit the parameters are found at the next step.
    other = make_optimizer("adam")
    other.load_state_arrays(state)
    with pytest.raises(CheckpointError, match="shape"):
        other.apply({"dense/kernel": np.zeros((4, 3), np.float32),
                     "dense/bias": np.zeros(5, np.float32)}, grads[0])
    other = make_optimizer("adam")
    other.load_state_arrays(state)
    with pytest.raises(CheckpointError, match="dense/other"):
        other.apply({"dense/other": np.zeros((3, 4), np.float32),
                     "dense/bias": np.zeros(5, np.float32)}, grads[0])


# -- learning rate, config, errors -------------------------------------------------------------

def test_learning_rate_can_be_set_unless_it_is_a_schedule():
    opt = make_optimizer({"name": "sgd", "learning_rate": 0.1})
    opt.learning_rate = 0.05
    assert opt.current_learning_rate() == 0.05 and opt.get_config()["learning_rate"] == 0.05
    opt.set_learning_rate(0.01)
    assert opt.learning_rate == 0.01
    with pytest.raises(ConfigError) as e:
        opt.set_learning_rate(-1.0)
    assert e.value.key == "compile.optimizer.learning_rate"
    sched = make_optimizer({"name": "sgd", "learning_rate": {
        "schedule": "PolynomialDecay", "initial_learning_rate": 0.1, "decay_steps": 10}},
        key="model.opt")
    with pytest.raises(ConfigError, match="schedule") as e:
        sched.set_learning_rate(0.01)
    assert e.value.key == "model.opt.learning_rate"


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_config_round_trip_and_keras_defaults(name):
    opt = make_optimizer(name)
    config = opt.get_config()
    assert json.loads(json.dumps(config)) == config
    assert make_optimizer(config).get_config() == config
    defaults = {"sgd": {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
                "rmsprop": {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
                            "epsilon": 1e-7, "centered": False},
                "adagrad": {"learning_rate": 0.001, "initial_accumulator_value": 0.1,
                            "epsilon": 1e-7},
                "adadelta": {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7},
                "adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                         "epsilon": 1e-7, "amsgrad": False, "weight_decay": None},
                "adamw": {"learning_rate": 0.001, "weight_decay": 0.004, "epsilon": 1e-7},
                "adamax": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                           "epsilon": 1e-7},
                "nadam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                          "epsilon": 1e-7}}[name]
    assert {k: config[k] for k in defaults} == defaults


def test_schedule_in_config():
    spec = {"name": "Adam", "learning_rate": {"schedule": "InverseTimeDecay",
                                              "initial_learning_rate": 0.1,
                                              "decay_steps": 1000, "decay_rate": 0.5}}
    opt = make_optimizer(spec)
    assert opt.get_config()["learning_rate"] == {**spec["learning_rate"], "staircase": False}
    assert opt.learning_rate.get_config() == make_learning_rate(spec["learning_rate"]).get_config()


@pytest.mark.parametrize("spec, key, words", [
    ("adm", "compile.optimizer.name", "did you mean 'adam'"),
    ({"name": "rmsprob"}, "compile.optimizer.name", "did you mean 'rmsprop'"),
    ({"learning_rate": 0.1}, "compile.optimizer", "name"),
    ({"name": "adam", "beta1": 0.9}, "compile.optimizer.beta1", "did you mean 'beta_1'"),
    ({"name": "sgd", "nesterov": True, "momentun": 0.9}, "compile.optimizer.momentun",
     "did you mean 'momentum'"),
    ({"name": "adam", "learning_rate": -0.001}, "compile.optimizer.learning_rate", "-0.001"),
    ({"name": "adam", "learning_rate": "0.001"}, "compile.optimizer.learning_rate", "'0.001'"),
    ({"name": "sgd", "momentum": 1.5}, "compile.optimizer.momentum", "1.5"),
    ({"name": "adam", "beta_1": 1.0}, "compile.optimizer.beta_1", "< 1"),
    ({"name": "adam", "amsgrad": "yes"}, "compile.optimizer.amsgrad", "'yes'"),
    ({"name": "adam", "clipnorm": -1}, "compile.optimizer.clipnorm", "> 0"),
    ({"name": "adam", "clipnorm": 1.0, "global_clipnorm": 1.0},
     "compile.optimizer.global_clipnorm", "only one"),
    ({"name": "adamw", "weight_decay": None}, "compile.optimizer.weight_decay", "None"),
    ({"name": "adam", "use_ema": True}, "compile.optimizer.use_ema", "not supported"),
    ({"name": "sgd", "learning_rate": {"schedule": "CosineDecay", "initial_learning_rate": 0.1,
                                       "decay_steps": -5}},
     "compile.optimizer.learning_rate.decay_steps", "-5"),
    (["adam"], "compile.optimizer", "['adam']"),
])
def test_bad_specs(spec, key, words):
    with pytest.raises(ConfigError) as e:
        make_optimizer(spec)
    assert e.value.key == key
    assert words in str(e.value)

"""SimpleRNN, LSTM, GRU: finite differences, Keras parameter counts, an independent reference
written from Keras's equations, and PyTorch's nn.LSTM / nn.GRU with the gate layouts mapped."""

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.core import Dense
from nntrain.layers.recurrent import GRU, LSTM, SimpleRNN

RNNS = [SimpleRNN, LSTM, GRU]
VARIANTS = [
    {},
    {"return_sequences": True},
    {"go_backwards": True},
    {"go_backwards": True, "return_sequences": True},
    {"use_bias": False, "return_sequences": True},
    {"activation": "relu", "return_sequences": True},
]


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("kwargs", VARIANTS)
def test_gradients_match_finite_differences(cls, kwargs):
    errors = check_layer(cls(3, **kwargs), (4, 2))
    assert set(errors) >= {"kernel", "recurrent_kernel", "input"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("kwargs", [{"dropout": 0.4},
                                    {"recurrent_dropout": 0.4, "return_sequences": True},
                                    {"dropout": 0.3, "recurrent_dropout": 0.3,
                                     "go_backwards": True}])
def test_gradients_with_dropout_in_training(cls, kwargs):
    errors = check_layer(cls(3, **kwargs), (4, 2), training=True)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.3])
def test_input_dropout_mask_is_the_same_at_every_time_step(cls, recurrent_dropout):
    layer = cls(4, dropout=0.5, recurrent_dropout=recurrent_dropout, return_sequences=True)
    layer.build((6, 5), np.random.default_rng(0))
    layer.rng = np.random.default_rng(1)
    x = np.random.default_rng(2).standard_normal((32, 6, 5)).astype(np.float32)
    y = layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(y))
    # (N, T, F): an input feature dropped for every gate gets no gradient at any step. From
    # t=1 on: at t=0 the state is zero, so a feature kept only for LSTM's forget gate (or GRU's
    # reset gate, one mask per gate once recurrent_dropout > 0) also gets none there.
    dropped = dx[:, 1:] == 0
    assert dropped.any()
    assert (dropped == dropped[:, :1, :]).all()


@pytest.mark.parametrize("cls", RNNS)
def test_dropout_only_in_training(cls):
    layer = cls(4, dropout=0.5, recurrent_dropout=0.5)
    layer.build((6, 5), np.random.default_rng(0))
    layer.rng = np.random.default_rng(1)
    x = np.random.default_rng(2).standard_normal((3, 6, 5)).astype(np.float32)
    assert np.array_equal(layer.forward(x), layer.forward(x))
    assert not np.allclose(layer.forward(x, training=True), layer.forward(x))


def _chain(layers, shape):
    counts = []
    for layer in layers:
        layer.build(shape, np.random.default_rng(0))
        counts.append(sum(layer.count_params()))
        shape = layer.compute_output_shape(shape)
    return counts, shape


def test_parameter_counts_equal_keras():
    counts, shape = _chain([LSTM(128, return_sequences=True), LSTM(64), Dense(10)], (40, 1))
    assert counts == [66_560, 49_408, 650] and sum(counts) == 116_618 and shape == (10,)
    counts, _ = _chain([GRU(32), Dense(10)], (40, 1))
    assert counts == [3_360, 330] and sum(counts) == 3_690
    counts, _ = _chain([SimpleRNN(32), Dense(10)], (40, 1))
    assert counts == [1_088, 330] and sum(counts) == 1_418


def test_weight_shapes_and_initial_biases_follow_keras():
    lstm, gru, rnn = LSTM(3), GRU(3), SimpleRNN(3)
    for layer in (lstm, gru, rnn):
        layer.build((5, 2), np.random.default_rng(0))
    assert [v.shape for v in lstm.params.values()] == [(2, 12), (3, 12), (12,)]
    assert [v.shape for v in gru.params.values()] == [(2, 9), (3, 9), (2, 9)]
    assert [v.shape for v in rnn.params.values()] == [(2, 3), (3, 3), (3,)]
    assert np.array_equal(lstm.params["bias"], np.r_[np.zeros(3), np.ones(3), np.zeros(6)])
    assert not gru.params["bias"].any()
    r = lstm.params["recurrent_kernel"]  # orthogonal: rows orthonormal
    assert np.allclose(r @ r.T, np.eye(3), atol=1e-5)
    no_forget = LSTM(3, unit_forget_bias=False)
    no_forget.build((5, 2), np.random.default_rng(0))
    assert not no_forget.params["bias"].any()


def test_output_shapes():
    assert LSTM(7).compute_output_shape((5, 2)) == (7,)
    assert GRU(7, return_sequences=True).compute_output_shape((5, 2)) == (5, 7)
    with pytest.raises(ConfigError, match=r"\[5\]"):
        SimpleRNN(7).compute_output_shape((5,))


@pytest.mark.parametrize("kwargs, key, echo", [
    ({"units": -3}, "units", "-3"),
    ({"units": 4, "dropout": 1.5}, "dropout", "1.5"),
    ({"units": 4, "recurrent_dropout": -0.1}, "recurrent_dropout", "-0.1"),
    ({"units": 4, "return_state": True}, "return_state", "True"),
    ({"units": 4, "recurrent_activation": "sigmod"}, "recurrent_activation", "sigmoid"),
    ({"units": 4, "recurrent_initializer": "orthogonl"}, "recurrent_initializer", "orthogonl"),
    ({"units": 4, "recurrent_regularizer": {"l3": 1}}, "recurrent_regularizer", "l3"),
])
def test_bad_arguments_name_the_argument(kwargs, key, echo):
    with pytest.raises(ConfigError) as info:
        LSTM(**kwargs)
    assert info.value.key == key
    assert echo in str(info.value)


def test_float32_throughout():
    layer = LSTM(4, return_sequences=True, dropout=0.2, recurrent_dropout=0.2)
    layer.build((5, 3), np.random.default_rng(0))
    layer.rng = np.random.default_rng(1)
    x = np.ones((2, 5, 3), dtype=np.float32)
    y = layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())


# -- an independent reference: Keras's equations, one sample and one step at a time ----------
def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def ref_lstm(x, kernel, recurrent, bias):
    u = recurrent.shape[0]
    out = np.zeros((x.shape[0], x.shape[1], u))
    for n in range(x.shape[0]):
        h, c = np.zeros(u), np.zeros(u)
        for t in range(x.shape[1]):
            z = x[n, t] @ kernel + h @ recurrent + bias
            i, f = _sigmoid(z[:u]), _sigmoid(z[u:2 * u])
            cc, o = np.tanh(z[2 * u:3 * u]), _sigmoid(z[3 * u:])
            c = f * c + i * cc
            h = o * np.tanh(c)
            out[n, t] = h
    return out


def ref_gru(x, kernel, recurrent, bias):
    u = recurrent.shape[0]
    out = np.zeros((x.shape[0], x.shape[1], u))
    for n in range(x.shape[0]):
        h = np.zeros(u)
        for t in range(x.shape[1]):
            mx = x[n, t] @ kernel + bias[0]
            mi = h @ recurrent + bias[1]
            z = _sigmoid(mx[:u] + mi[:u])
            r = _sigmoid(mx[u:2 * u] + mi[u:2 * u])
            hh = np.tanh(mx[2 * u:] + r * mi[2 * u:])
            h = z * h + (1 - z) * hh
            out[n, t] = h
    return out


def ref_simple_rnn(x, kernel, recurrent, bias):
    u = recurrent.shape[0]
    out = np.zeros((x.shape[0], x.shape[1], u))
    for n in range(x.shape[0]):
        h = np.zeros(u)
        for t in range(x.shape[1]):
            h = np.tanh(x[n, t] @ kernel + h @ recurrent + bias)
            out[n, t] = h
    return out


def _random_layer(cls, units, shape, seed=0, **kwargs):
    """A float64 layer with every weight random (biases too, so they are tested)."""
    layer = cls(units, **kwargs)
    layer.dtype = np.float64
    layer.build(shape, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    for k, v in layer.params.items():
        v[...] = 0.5 * rng.standard_normal(v.shape)
    return layer


@pytest.mark.parametrize("cls, ref", [(LSTM, ref_lstm), (GRU, ref_gru),
                                      (SimpleRNN, ref_simple_rnn)])
def test_forward_equals_keras_equations(cls, ref):
    layer = _random_layer(cls, 3, (4, 2), return_sequences=True)
    x = np.random.default_rng(5).standard_normal((2, 4, 2))
    p = layer.params
    expected = ref(x, p["kernel"], p["recurrent_kernel"], p["bias"])
    assert np.allclose(layer.forward(x), expected, atol=1e-12)
    # one step, and the last output alone
    assert np.allclose(layer.forward(x[:, :1]), expected[:, :1], atol=1e-12)
    last = _random_layer(cls, 3, (4, 2))
    assert np.allclose(last.forward(x), expected[:, -1], atol=1e-12)
    # go_backwards: the reversed input, returned in processing order (as Keras)
    back = _random_layer(cls, 3, (4, 2), return_sequences=True, go_backwards=True)
    assert np.allclose(back.forward(x), ref(x[:, ::-1], p["kernel"], p["recurrent_kernel"],
                                            p["bias"]), atol=1e-12)


# -- PyTorch ---------------------------------------------------------------------------------
def _torch_pair(cls, units=3, n_in=2):
    torch = pytest.importorskip("torch")
    ours = _random_layer(cls, units, (5, n_in), return_sequences=True)
    k, r, b = (ours.params[n] for n in ("kernel", "recurrent_kernel", "bias"))
    if cls is LSTM:  # same gate order i, f, g(c), o; torch weights are (4u, in)
        theirs = torch.nn.LSTM(n_in, units, batch_first=True).double()
        order = [0, 1, 2, 3]
        b_ih, b_hh = b, np.zeros_like(b)
    else:  # Keras z, r, h  →  torch r, z, n; Keras bias rows = torch (b_ih, b_hh)
        theirs = torch.nn.GRU(n_in, units, batch_first=True).double()
        order = [1, 0, 2]
        b_ih, b_hh = b[0], b[1]

    def to_torch(w):  # columns in Keras gate blocks → torch row blocks
        blocks = np.split(w, len(order), axis=-1)
        return np.concatenate([blocks[g] for g in order], axis=-1)

    with torch.no_grad():
        theirs.weight_ih_l0.copy_(torch.from_numpy(to_torch(k).T.copy()))
        theirs.weight_hh_l0.copy_(torch.from_numpy(to_torch(r).T.copy()))
        theirs.bias_ih_l0.copy_(torch.from_numpy(to_torch(b_ih).copy()))
        theirs.bias_hh_l0.copy_(torch.from_numpy(to_torch(b_hh).copy()))
    inverse = list(np.argsort(order))

    def to_keras(w):  # torch (G*u, ...) gradient → Keras (..., G*u)
        blocks = np.split(w.T, len(order), axis=-1)
        return np.concatenate([blocks[g] for g in inverse], axis=-1)

    return torch, ours, theirs, to_keras


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_matches_pytorch_outputs_and_gradients(cls):
    torch, ours, theirs, to_keras = _torch_pair(cls)
    x = np.random.default_rng(3).standard_normal((4, 5, 2))
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt, _ = theirs(xt)
    yt.sum().backward()
    y = ours.forward(x, training=True)
    dx = ours.backward(np.ones_like(y))
    assert np.allclose(y, yt.detach().numpy(), atol=1e-10)
    assert np.allclose(dx, xt.grad.numpy(), atol=1e-10)
    assert np.allclose(ours.grads["kernel"], to_keras(theirs.weight_ih_l0.grad.numpy()))
    assert np.allclose(ours.grads["recurrent_kernel"],
                       to_keras(theirs.weight_hh_l0.grad.numpy()))
    b_ih = to_keras(theirs.bias_ih_l0.grad.numpy())
    b_hh = to_keras(theirs.bias_hh_l0.grad.numpy())
    expected_bias = b_ih if cls is LSTM else np.stack([b_ih, b_hh])
    assert np.allclose(ours.grads["bias"], expected_bias, atol=1e-10)


def test_simple_rnn_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours = _random_layer(SimpleRNN, 3, (5, 2), return_sequences=True)
    theirs = torch.nn.RNN(2, 3, batch_first=True).double()
    with torch.no_grad():
        theirs.weight_ih_l0.copy_(torch.from_numpy(ours.params["kernel"].T.copy()))
        theirs.weight_hh_l0.copy_(torch.from_numpy(ours.params["recurrent_kernel"].T.copy()))
        theirs.bias_ih_l0.copy_(torch.from_numpy(ours.params["bias"].copy()))
        theirs.bias_hh_l0.zero_()
    x = np.random.default_rng(3).standard_normal((4, 5, 2))
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt, _ = theirs(xt)
    yt.sum().backward()
    y = ours.forward(x, training=True)
    dx = ours.backward(np.ones_like(y))
    assert np.allclose(y, yt.detach().numpy(), atol=1e-10)
    assert np.allclose(dx, xt.grad.numpy(), atol=1e-10)
    assert np.allclose(ours.grads["kernel"], theirs.weight_ih_l0.grad.numpy().T)
    assert np.allclose(ours.grads["recurrent_kernel"], theirs.weight_hh_l0.grad.numpy().T)
    assert np.allclose(ours.grads["bias"], theirs.bias_ih_l0.grad.numpy())


# -- the fast paths: buffers, inference, layouts ---------------------------------------------
@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("kwargs", [{}, {"return_sequences": True, "go_backwards": True}])
def test_inference_computes_what_training_does_and_keeps_nothing(cls, kwargs):
    layer = cls(5, **kwargs)
    layer.build((7, 3), np.random.default_rng(0))
    layer.rng = rng = np.random.default_rng(1)
    x = np.random.default_rng(2).standard_normal((4, 7, 3)).astype(np.float32)
    state = rng.bit_generator.state
    y = layer.forward(x)
    assert rng.bit_generator.state == state            # no dropout draws at inference
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones_like(y))
    np.testing.assert_array_equal(layer.forward(x, training=True), y)


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("kwargs", [{"return_sequences": True},
                                    {"dropout": 0.3, "recurrent_dropout": 0.3}])
def test_buffers_reused_between_batches_leave_no_trace(cls, kwargs):
    """A layer that trained on other batches (another size, an inference pass between) gives
    the gradients of a fresh layer."""
    def make():
        layer = cls(4, **kwargs)
        layer.build((6, 3), np.random.default_rng(0))
        layer.rng = np.random.default_rng(1)
        return layer
    rng = np.random.default_rng(2)
    used, fresh = make(), make()
    for n in (5, 3):
        x = rng.standard_normal((n, 6, 3)).astype(np.float32)
        used.forward(x, training=True)
        used.backward(np.ones_like(used.forward(x, training=True)))
        used.forward(x)
    x = rng.standard_normal((3, 6, 3)).astype(np.float32)
    fresh.rng, used.rng = np.random.default_rng(7), np.random.default_rng(7)
    results = []
    for layer in (used, fresh):
        y = layer.forward(x, training=True)
        dy = np.random.default_rng(3).standard_normal(y.shape).astype(np.float32)
        results.append((y, layer.backward(dy), dict(layer.grads)))
    (y1, dx1, g1), (y2, dx2, g2) = results
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(dx1, dx2)
    for k in g2:
        np.testing.assert_array_equal(g1[k], g2[k])


@pytest.mark.parametrize("cls", [LSTM, GRU])
@pytest.mark.parametrize("activation, recurrent_activation", [("relu", "hard_sigmoid"),
                                                              ("tanh", "hard_sigmoid"),
                                                              ("softsign", "sigmoid")])
def test_other_activations_take_the_general_path(cls, activation, recurrent_activation):
    layer = cls(3, activation=activation, recurrent_activation=recurrent_activation,
                return_sequences=True)
    errors = check_layer(layer, (4, 2))
    assert max(errors.values()) < 1e-6, errors


def test_softmax_is_refused_as_a_recurrent_activation():
    with pytest.raises(ConfigError) as info:
        LSTM(3, recurrent_activation="softmax")
    assert info.value.key == "recurrent_activation"
    with pytest.raises(ConfigError) as info:
        SimpleRNN(3, activation="softmax")
    assert info.value.key == "activation"


def test_first_layer_skips_its_input_gradient_when_told():
    layer = LSTM(4)
    layer.build((5, 2), np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((3, 5, 2)).astype(np.float32)
    dy = np.ones((3, 4), dtype=np.float32)
    layer.forward(x, training=True)
    dx = layer.backward(dy)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    layer.needs_input_grad = False
    layer.forward(x, training=True)
    assert dx is not None and layer.backward(dy) is None
    for k, g in grads.items():
        np.testing.assert_array_equal(layer.grads[k], g)


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("kwargs", [{"return_sequences": True},
                                    {"go_backwards": True, "dropout": 0.3},
                                    {"recurrent_dropout": 0.3, "return_sequences": True}])
def test_shards_run_the_same_arithmetic_as_one_batch(cls, kwargs, monkeypatch):
    """Split in shards (the engine's threads), a batch gives bit for bit what it gives whole:
    results do not depend on the thread count."""
    from nntrain import parallel, threads

    def run(workers):
        monkeypatch.setattr(threads, "count", lambda: workers)
        layer = cls(4, **kwargs)
        layer.build((6, 3), np.random.default_rng(0))
        layer.rng = np.random.default_rng(1)
        x = np.random.default_rng(2).standard_normal((7, 6, 3)).astype(np.float32)
        y = layer.forward(x, training=True)
        assert len(layer._cache["parts"]) == workers
        dx = layer.backward(np.random.default_rng(3).standard_normal(y.shape).astype(np.float32))
        return [y, dx, layer.forward(x), *layer.grads.values()]

    monkeypatch.setattr(parallel, "SMALLEST_SHARD", 2)
    whole, sharded = run(1), run(3)
    for a, b in zip(whole, sharded):
        np.testing.assert_array_equal(a, b)

"""MultiHeadAttention: Keras's weight layout and counts, one to three inputs through the
builder, finite differences, forward and backward against PyTorch, the causal mask, dropout
from the model's stream, and bad arguments naming the key."""

import numpy as np
import pytest

from nntrain.builder import build_model
from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.attention import MultiHeadAttention
from nntrain.summary import model_summary


def built(layer, shapes, seed=0):
    layer.build([tuple(s) for s in shapes], np.random.default_rng(seed))
    return layer


def randomize(layer, seed=5):
    rng = np.random.default_rng(seed)
    for w in layer.params.values():
        w[...] = rng.standard_normal(w.shape) * 0.5
    return layer


# -- weights ------------------------------------------------------------------------------------
def test_weights_in_keras_order_and_layout():
    layer = built(MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4), [(5, 8), (7, 6)])
    assert [(k, v.shape) for k, v in layer.params.items()] == [
        ("query/kernel", (8, 2, 3)), ("query/bias", (2, 3)),
        ("key/kernel", (6, 2, 3)), ("key/bias", (2, 3)),
        ("value/kernel", (6, 2, 4)), ("value/bias", (2, 4)),
        ("attention_output/kernel", (2, 4, 8)), ("attention_output/bias", (8,))]
    assert layer.count_params() == (224, 0)      # Keras 3.15: 224
    assert layer.compute_output_shape([(5, 8), (7, 6)]) == (5, 8)


@pytest.mark.parametrize("kwargs,shapes,out,params", [   # counts from Keras 3.15
    ({"num_heads": 4, "key_dim": 8}, [(10, 16)], (10, 16), 2160),
    ({"num_heads": 2, "key_dim": 5, "value_dim": 3}, [(10, 16), (12, 6)], (10, 16), 394),
    ({"num_heads": 2, "key_dim": 5, "output_shape": 7, "use_bias": False},
     [(10, 16), (12, 6), (12, 4)], (10, 7), 330),
])
def test_keras_counts(kwargs, shapes, out, params):
    layer = built(MultiHeadAttention(**kwargs), shapes)
    assert layer.compute_output_shape(shapes) == out
    assert sum(layer.count_params()) == params


def test_output_shape_may_have_several_axes():
    layer = built(MultiHeadAttention(num_heads=2, key_dim=3, output_shape=[2, 5]), [(4, 6)])
    assert layer.params["attention_output/kernel"].shape == (2, 3, 2, 5)
    assert layer.params["attention_output/bias"].shape == (2, 5)
    x = np.random.default_rng(0).standard_normal((3, 4, 6)).astype(np.float32)
    assert layer.forward([x]).shape == (3, 4, 2, 5)


# -- gradients ----------------------------------------------------------------------------------
CASES = [
    ({}, [(4, 6)]),
    ({"value_dim": 3}, [(4, 6), (5, 3)]),
    ({"use_bias": False}, [(4, 6), (5, 3), (5, 2)]),
    ({}, [(4, 6), (5, 3), (5, 2)]),
    ({"use_causal_mask": True}, [(4, 6)]),
    ({"output_shape": [2, 3]}, [(3, 4)]),
    ({}, [(2, 3, 4)]),                       # an image: attention over both axes jointly
    ({"dropout": 0.3}, [(4, 6)]),
]


@pytest.mark.parametrize("kwargs,shapes", CASES)
def test_gradients(kwargs, shapes):
    layer = MultiHeadAttention(num_heads=2, key_dim=3, bias_initializer="random_normal",
                               **kwargs)
    errors = check_layer(layer, shapes, training=True)
    assert {f"input_{i}" for i in range(len(shapes))} <= set(errors) or "input" in errors
    # The key bias adds q·b_k to every score of a query row: softmax ignores it, so its
    # gradient is exactly zero and both estimates are rounding noise.
    if layer.use_bias:
        assert np.abs(layer.grads["key/bias"]).max() < 1e-12
        errors.pop("key/bias")
    assert max(errors.values()) < 1e-6, errors


def test_self_attention_gradient_sums_the_three_roles():
    """One input is query, key and value at once: its gradient is the sum of the three."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 6))
    one = randomize(built(MultiHeadAttention(num_heads=2, key_dim=3), [(4, 6)]))
    three = randomize(built(MultiHeadAttention(num_heads=2, key_dim=3), [(4, 6)] * 3))
    np.testing.assert_allclose(one.forward([x]), three.forward([x, x, x]), rtol=1e-12)
    dy = rng.standard_normal((2, 4, 6))
    [dx] = one.backward(dy)
    np.testing.assert_allclose(dx, sum(three.backward(dy)), rtol=1e-10, atol=1e-12)


# -- against PyTorch ----------------------------------------------------------------------------
def torch_attention(torch, p, q, v, k, causal, use_bias=True):
    """The same attention written with torch ops: einsum projections and PyTorch's own
    scaled_dot_product_attention (scale 1/sqrt(key_dim))."""
    def proj(name, x):
        y = torch.einsum("nld,dhk->nhlk", x, p[f"{name}/kernel"])
        return y + p[f"{name}/bias"][None, :, None, :] if use_bias else y
    heads = torch.nn.functional.scaled_dot_product_attention(
        proj("query", q), proj("key", k), proj("value", v), is_causal=causal)
    out = torch.einsum("nhtv,hvo->nto", heads, p["attention_output/kernel"])
    return out + p["attention_output/bias"] if use_bias else out


@pytest.mark.parametrize("kwargs,shapes", [
    ({}, [(5, 8)]),
    ({"value_dim": 2}, [(5, 8), (7, 6)]),
    ({"use_bias": False}, [(5, 8), (7, 6), (7, 4)]),
    ({"use_causal_mask": True}, [(6, 8)]),
])
def test_matches_torch_forward_and_backward(kwargs, shapes):
    torch = pytest.importorskip("torch")
    layer = randomize(built(MultiHeadAttention(num_heads=3, key_dim=4, **kwargs), shapes))
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((3, *s)).astype(np.float32) for s in shapes]
    y = layer.forward(xs)
    assert y.dtype == np.float32

    ts = [torch.from_numpy(x).requires_grad_() for x in xs]
    p = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in layer.params.items()}
    q = ts[0]
    v = ts[1] if len(ts) > 1 else q
    k = ts[2] if len(ts) > 2 else v
    ref = torch_attention(torch, p, q, v, k, layer.use_causal_mask, layer.use_bias)
    np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-5, atol=1e-5)

    dy = rng.standard_normal(y.shape).astype(np.float32)
    dxs = layer.backward(dy)
    ref.backward(torch.from_numpy(dy))
    for dx, t in zip(dxs, ts):
        np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, g in layer.grads.items():
        np.testing.assert_allclose(g, p[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


# -- behaviour ----------------------------------------------------------------------------------
def test_causal_mask_hides_later_steps():
    layer = randomize(built(MultiHeadAttention(num_heads=2, key_dim=3, use_causal_mask=True),
                            [(6, 4)]))
    x = np.random.default_rng(3).standard_normal((2, 6, 4))
    changed = x.copy()
    changed[:, 4:] += 10.0
    y, y2 = layer.forward([x]), layer.forward([changed])
    np.testing.assert_allclose(y[:, :4], y2[:, :4], rtol=1e-12)
    assert not np.allclose(y[:, 4:], y2[:, 4:])


def test_dropout_only_in_training_and_from_the_model_stream():
    layer = randomize(built(MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5), [(5, 4)]))
    x = np.random.default_rng(4).standard_normal((2, 5, 4)).astype(np.float32)
    layer.rng = np.random.default_rng(7)
    inference = layer.forward([x])
    np.testing.assert_array_equal(inference, layer.forward([x], training=False))
    state = layer.rng.bit_generator.state
    assert state == np.random.default_rng(7).bit_generator.state  # no draw at inference
    a = layer.forward([x], training=True)
    layer.rng = np.random.default_rng(7)
    b = layer.forward([x], training=True)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, inference)


# -- through the builder ------------------------------------------------------------------------
def test_one_two_and_three_inputs_in_a_config():
    model = build_model({
        "inputs": {"q": [5, 8], "v": [7, 6], "k": [7, 4]},
        "layers": [
            {"MultiHeadAttention": {"num_heads": 2, "key_dim": 3, "inputs": "q"}},
            {"MultiHeadAttention": {"num_heads": 2, "key_dim": 3,
                                    "inputs": ["multi_head_attention", "v"]}},
            {"MultiHeadAttention": {"num_heads": 2, "key_dim": 3,
                                    "inputs": ["multi_head_attention_1", "v", "k"]}},
            {"MultiHeadAttention": {"num_heads": 1, "key_dim": 2}},   # the layer before
        ]})
    rows = {r["name"]: r for r in model_summary(model)["layers"]}
    assert rows["multi_head_attention_2"]["connected_to"] == ["multi_head_attention_1", "v",
                                                              "k"]
    assert rows["multi_head_attention_3"]["connected_to"] == ["multi_head_attention_2"]
    assert rows["multi_head_attention_1"]["output_shape"] == [None, 5, 8]
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((2, *s)).astype(np.float32) for s in ([5, 8], [7, 6], [7, 4])]
    y = model.forward(xs, training=True)
    dxs = model.backward(np.ones_like(y))
    assert [d.shape for d in dxs] == [(2, 5, 8), (2, 7, 6), (2, 7, 4)]


def test_four_inputs_are_refused_naming_the_entry():
    with pytest.raises(ConfigError, match="1 input .*received 4") as e:
        build_model({"inputs": {"a": [3, 4]}, "layers": [
            {"MultiHeadAttention": {"num_heads": 1, "key_dim": 2,
                                    "inputs": ["a", "a", "a", "a"]}}]})
    assert e.value.key.startswith("model.layers.0.MultiHeadAttention")


@pytest.mark.parametrize("shapes,match", [
    ([(5, 8), (7, 6), (6, 4)], "value and key must agree"),
    ([(8,)], r"per-sample shape \(steps, features\)"),
    ([(5, 8), (2, 3, 6)], "same rank"),
])
def test_shape_errors(shapes, match):
    with pytest.raises(ConfigError, match=match):
        MultiHeadAttention(num_heads=2, key_dim=3).compute_output_shape(shapes)


@pytest.mark.parametrize("kwargs,key", [
    ({"num_heads": 0, "key_dim": 2}, "num_heads"),
    ({"num_heads": 2, "key_dim": -1}, "key_dim"),
    ({"num_heads": 2, "key_dim": 2, "value_dim": "4"}, "value_dim"),
    ({"num_heads": 2, "key_dim": 2, "dropout": 1.0}, "dropout"),
    ({"num_heads": 2, "key_dim": 2, "use_bias": "yes"}, "use_bias"),
    ({"num_heads": 2, "key_dim": 2, "output_shape": [0]}, "output_shape"),
    ({"num_heads": 2, "key_dim": 2, "attention_axes": "time"}, "attention_axes"),
    ({"num_heads": 2, "key_dim": 2, "use_causal_mask": 1}, "use_causal_mask"),
    ({"num_heads": 2, "key_dim": 2, "kernel_initializer": "glorot_unifrom"},
     "kernel_initializer"),
    ({"num_heads": 2, "key_dim": 2, "bias_regularizer": "l3"}, "bias_regularizer"),
])
def test_bad_arguments_name_the_argument(kwargs, key):
    with pytest.raises(ConfigError) as e:
        MultiHeadAttention(**kwargs)
    assert e.value.key == key


def test_only_the_default_attention_axes():
    ok = MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=[1, 2])
    assert ok.compute_output_shape([(3, 4, 5)]) == (3, 4, 5)
    assert MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=-2) \
        .compute_output_shape([(3, 5)]) == (3, 5)
    with pytest.raises(ConfigError, match="only the default attention_axes") as e:
        MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=[2]) \
            .compute_output_shape([(3, 4, 5)])
    assert e.value.key == "attention_axes"
    with pytest.raises(ConfigError) as e:
        MultiHeadAttention(num_heads=2, key_dim=2, use_causal_mask=True) \
            .compute_output_shape([(3, 4, 5)])
    assert e.value.key == "use_causal_mask"


def test_get_config():
    cfg = MultiHeadAttention(num_heads=2, key_dim=3, output_shape=5).get_config()
    assert cfg["num_heads"] == 2 and cfg["key_dim"] == 3 and cfg["value_dim"] == 3
    assert cfg["output_shape"] == [5] and cfg["attention_axes"] is None

"""Masked layers: finite differences (float64) for every layer that consumes a mask, the
semantics of a masked step, and the fast paths (inference, buffers, shards) with a mask. The
comparison with Keras itself is test_masking_keras.py."""

import numpy as np
import pytest

from nntrain.gradcheck import check_layer
from nntrain.builder import build_model
from nntrain.layers.attention import MultiHeadAttention
from nntrain.layers.masking import Masking
from nntrain.layers.merge import Add, Concatenate, Maximum, Minimum, Multiply
from nntrain.layers.normalization import BatchNormalization
from nntrain.layers.pooling import GlobalAveragePooling1D
from nntrain.layers.recurrent import GRU, LSTM, SimpleRNN
from nntrain.layers.wrappers import Bidirectional

RNNS = [SimpleRNN, LSTM, GRU]


def padding_mask(n=4, steps=5):
    """(n, steps): right padding, left padding, a hole, a fully masked sequence (then all
    kept for any further samples)."""
    mask = np.ones((n, steps), dtype=bool)
    mask[0, -2:] = False
    mask[1, :2] = False
    mask[2, 2] = False
    mask[3] = False
    return mask


def built(layer, shape, seed=0):
    layer.build(shape, np.random.default_rng(seed))
    layer.rng = np.random.default_rng(seed + 1)
    return layer


# -- finite differences ---------------------------------------------------------------------
@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("kwargs", [
    {}, {"return_sequences": True}, {"go_backwards": True},
    {"go_backwards": True, "return_sequences": True},
    {"zero_output_for_mask": True}, {"zero_output_for_mask": True, "return_sequences": True},
    {"activation": "relu", "return_sequences": True}])
def test_masked_recurrent_gradients_match_finite_differences(cls, kwargs):
    errors = check_layer(cls(3, **kwargs), (5, 2), batch=4, mask=padding_mask())
    assert set(errors) >= {"kernel", "recurrent_kernel", "input"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("kwargs", [{"dropout": 0.3, "return_sequences": True},
                                    {"recurrent_dropout": 0.4, "go_backwards": True}])
def test_masked_recurrent_gradients_with_dropout_in_training(cls, kwargs):
    errors = check_layer(cls(3, **kwargs), (5, 2), batch=4, training=True,
                         mask=padding_mask())
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("kwargs", [
    {"layer": {"LSTM": {"units": 3, "return_sequences": True}}},
    {"layer": {"GRU": {"units": 2}}, "merge_mode": "sum"},
    {"layer": {"SimpleRNN": {"units": 2, "return_sequences": True}}, "merge_mode": "mul"}])
def test_masked_bidirectional_gradients_match_finite_differences(kwargs):
    errors = check_layer(Bidirectional(**kwargs), (5, 2), batch=4, mask=padding_mask())
    assert max(errors.values()) < 1e-6, errors


def test_masked_average_pooling_gradients_match_finite_differences():
    mask = padding_mask()
    mask[3, 1] = True           # a fully masked sequence would average 0/0 (below)
    errors = check_layer(GlobalAveragePooling1D(), (5, 3), batch=4, mask=mask)
    assert errors["input"] < 1e-7, errors


def test_batch_norm_masked_moments_gradients_match_finite_differences():
    errors = check_layer(BatchNormalization(), (5, 3), batch=4, training=True,
                         mask=padding_mask())
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cls", [Multiply, Maximum, Minimum])
def test_masked_merge_gradients_match_finite_differences(cls):
    other = np.ones((4, 5), dtype=bool)
    other[0, :3] = False
    for masks in ([padding_mask(), other], [padding_mask(), None]):
        errors = check_layer(cls(), [(5, 2), (5, 2)], batch=4, mask=masks)
        assert max(errors.values()) < 1e-6, (masks[1] is None, errors)


def _key_mask():
    """(4, 6): sample 1 left-padded, so under the causal mask its first query rows see no key."""
    mask = np.ones((4, 6), dtype=bool)
    mask[1, :3] = False
    mask[2, 4] = False
    return mask


@pytest.mark.parametrize("kwargs, shapes, masks", [
    ({}, [(5, 3)], [padding_mask()]),
    ({"value_dim": 2}, [(5, 3), (6, 2)], [None, _key_mask()]),
    ({"use_causal_mask": True}, [(5, 3), (6, 2), (6, 4)], [padding_mask(), None, _key_mask()]),
    ({"use_causal_mask": True, "dropout": 0.3},
     [(5, 3), (6, 2), (6, 4)], [padding_mask(), _key_mask(), _key_mask()])])
@pytest.mark.parametrize("training", [False, True])
def test_masked_attention_gradients_match_finite_differences(kwargs, shapes, masks, training):
    layer = MultiHeadAttention(num_heads=2, key_dim=3, bias_initializer="random_normal",
                               **kwargs)
    errors = check_layer(layer, shapes, batch=4, training=training, mask=masks)
    errors.pop("key/bias")      # exactly 0 (softmax ignores a per-row shift): noise both ways
    assert max(errors.values()) < 1e-6, errors


# -- what a masked step does ----------------------------------------------------------------
def _sequences(n=4, steps=5, features=2, seed=3):
    return np.random.default_rng(seed).standard_normal((n, steps, features))


@pytest.mark.parametrize("cls", RNNS)
def test_a_masked_step_is_skipped(cls):
    """The last output with a hole at step 2 is the output of the sequence without step 2;
    with return_sequences, a masked step repeats the previous output (zeros before any
    unmasked step); a fully masked sequence gives zeros."""
    x, mask = _sequences(), padding_mask()
    last = built(cls(3), (5, 2)).forward(x, mask=mask)
    seq = built(cls(3, return_sequences=True), (5, 2)).forward(x, mask=mask)
    shorter = built(cls(3), (4, 2)).forward(np.delete(x[2:3], 2, axis=1))
    np.testing.assert_allclose(last[2], shorter[0], atol=1e-6)
    np.testing.assert_array_equal(seq[2, 2], seq[2, 1])
    np.testing.assert_array_equal(seq[1, :2], 0)
    np.testing.assert_array_equal(seq[0, 3:], seq[0, 2:3].repeat(2, axis=0))
    np.testing.assert_array_equal(last[0], seq[0, 2])
    np.testing.assert_array_equal(last[3], 0)
    zeros = built(cls(3, return_sequences=True, zero_output_for_mask=True), (5, 2))
    np.testing.assert_array_equal(zeros.forward(x, mask=mask), seq * mask[..., None])


@pytest.mark.parametrize("cls", RNNS)
def test_an_all_true_mask_changes_nothing(cls):
    layer = built(cls(3, return_sequences=True), (5, 2))
    x = _sequences().astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x, mask=np.ones((4, 5), bool)),
                                  layer.forward(x))


def test_bidirectional_zeroes_masked_steps_of_sequences_as_keras():
    layer = built(Bidirectional({"GRU": {"units": 2, "return_sequences": True}}), (5, 2))
    y = layer.forward(_sequences(), mask=padding_mask())
    np.testing.assert_array_equal(y[~padding_mask()], 0)
    assert np.abs(y[padding_mask()]).min() > 0


def test_masking_zeroes_the_masked_steps_and_their_gradient():
    layer = built(Masking(mask_value=-1.0), (3, 2))
    x = np.array([[[1.0, 2.0], [-1.0, -1.0], [-1.0, 0.5]]])
    np.testing.assert_array_equal(layer.forward(x), [[[1, 2], [0, 0], [-1, 0.5]]])
    np.testing.assert_array_equal(layer.compute_mask(x, None), [[True, False, True]])
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)),
                                  [[[1, 1], [0, 0], [1, 1]]])


def test_average_pooling_of_a_fully_masked_sequence_is_nan_as_in_keras():
    layer = built(GlobalAveragePooling1D(), (5, 2))
    y = layer.forward(_sequences(), mask=padding_mask())
    assert np.isnan(y[3]).all() and np.isfinite(y[:3]).all()
    np.testing.assert_allclose(y[0], _sequences()[0, :3].mean(axis=0))


def test_merged_masks_follow_keras():
    a, b = padding_mask(), np.ones((4, 5), dtype=bool)
    b[:, 0] = False
    x = [np.zeros((4, 5, 2))] * 2
    np.testing.assert_array_equal(Add().compute_mask(x, [a, b]), a | b)
    assert Add().output_masked([True, False]) is False
    cat = Concatenate()
    assert cat.output_masked([True, False])
    np.testing.assert_array_equal(cat.compute_mask(x, [a, None]), np.ones((4, 5), bool))
    np.testing.assert_array_equal(Concatenate(axis=1).compute_mask(x, [a, None]),
                                  np.concatenate([a, np.ones_like(a)], axis=1))


def _attention(dropout=0.0, shapes=((4, 3), (5, 2))):
    layer = MultiHeadAttention(num_heads=2, key_dim=3, dropout=dropout,
                               bias_initializer="random_normal")
    return built(layer, list(shapes))


def test_attention_ignores_masked_keys_and_rows_that_see_nothing_follow_keras():
    rng = np.random.default_rng(4)
    q, v = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 2))
    key_mask = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0]], dtype=bool)
    layer = _attention()
    y = layer.forward([q, v], mask=[None, key_mask])
    v2 = v.copy()
    v2[0, [2, 4]] = 9.0
    assert np.array_equal(layer.forward([q, v2], mask=[None, key_mask])[0], y[0])
    # Sample 1 sees no key: uniform weights with dropout 0 (Keras's dot_product_attention) ...
    layer.forward([q, v], mask=[None, key_mask])
    assert np.all(layer._cache[4][1] == 1 / 5)
    assert not np.allclose(layer.forward([q, v])[1], y[1])
    # ... all-zero weights with dropout > 0 (Keras's _masked_softmax), in inference too.
    dropped = _attention(dropout=0.5)
    out = dropped.forward([q, v], mask=[None, key_mask])
    assert np.all(dropped._cache[4][1] == 0)
    assert np.allclose(out[1], dropped.params["attention_output/bias"])


def test_attention_output_carries_the_query_mask():
    cfg = {"inputs": {"a": [4], "b": [4, 1]}, "outputs": "qv", "layers": [
        {"Embedding": {"name": "ea", "input_dim": 5, "output_dim": 3, "mask_zero": True,
                       "inputs": "a"}},
        {"Dense": {"name": "db", "units": 3, "inputs": "b"}},
        {"MultiHeadAttention": {"name": "vq", "num_heads": 1, "key_dim": 2,
                                "inputs": ["db", "ea"]}},
        {"MultiHeadAttention": {"name": "qv", "num_heads": 1, "key_dim": 2,
                                "inputs": ["ea", "db"]}}]}
    model = build_model(cfg)
    assert [n.masked for n in model.nodes] == [True, False, False, True]
    ids = np.array([[1, 2, 0, 0], [3, 0, 4, 0]])
    model.forward([ids, np.ones((2, 4, 1), np.float32)])
    assert np.array_equal(model.output_mask, ids != 0)


# -- the fast paths with a mask -------------------------------------------------------------
@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("kwargs", [{}, {"return_sequences": True, "go_backwards": True},
                                    {"zero_output_for_mask": True}])
def test_masked_inference_computes_what_training_does(cls, kwargs):
    layer = built(cls(5, **kwargs), (5, 3))
    x = _sequences(features=3).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x, mask=padding_mask()),
                                  layer.forward(x, training=True, mask=padding_mask()))


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("kwargs", [{"return_sequences": True},
                                    {"go_backwards": True, "dropout": 0.3},
                                    {"recurrent_dropout": 0.3, "zero_output_for_mask": True}])
def test_masked_shards_run_the_same_arithmetic_as_one_batch(cls, kwargs, monkeypatch):
    from nntrain import parallel, threads
    mask = np.ones((7, 6), dtype=bool)
    mask[:4, :5] = padding_mask(4, 5)

    def run(workers):
        monkeypatch.setattr(threads, "count", lambda: workers)
        layer = built(cls(4, **kwargs), (6, 3))
        x = np.random.default_rng(2).standard_normal((7, 6, 3)).astype(np.float32)
        y = layer.forward(x, training=True, mask=mask)
        assert len(layer._cache["parts"]) == workers
        dx = layer.backward(np.random.default_rng(3).standard_normal(y.shape).astype(np.float32))
        return [y, dx, layer.forward(x, mask=mask), *layer.grads.values()]

    monkeypatch.setattr(parallel, "SMALLEST_SHARD", 2)
    whole, sharded = run(1), run(3)
    for a, b in zip(whole, sharded):
        np.testing.assert_array_equal(a, b)

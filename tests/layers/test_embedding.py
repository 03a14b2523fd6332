"""Embedding: Keras weight layout and initializer, lookup, scattered gradient, id checks;
PositionEmbedding (keras_hub's): the table's rows, broadcast over the batch."""

import numpy as np
import pytest

from nntrain.errors import ConfigError, DataError
from nntrain.gradcheck import check_layer
from nntrain.layers.embedding import Embedding, PositionEmbedding


def built(layer, shape, seed=0):
    layer.build(tuple(shape), np.random.default_rng(seed))
    return layer


def test_keras_weights_and_shapes():
    layer = built(Embedding(1000, 64), (10,))
    assert layer.params["embeddings"].shape == (1000, 64)
    assert layer.params["embeddings"].dtype == np.float32
    assert layer.count_params() == (64_000, 0)
    assert layer.compute_output_shape((10,)) == (10, 64)
    w = layer.params["embeddings"]
    assert -0.05 <= w.min() < -0.04 and 0.04 < w.max() <= 0.05  # Keras's "uniform"


def test_lookup_matches_indexing():
    layer = built(Embedding(7, 3), (4,))
    ids = np.array([[0, 6, 2, 2], [5, 5, 1, 0]])
    y = layer.forward(ids)
    assert y.shape == (2, 4, 3) and y.dtype == np.float32
    for n in range(2):
        for t in range(4):
            np.testing.assert_array_equal(y[n, t], layer.params["embeddings"][ids[n, t]])


def test_gradient_scatters_and_adds_repeated_ids():
    layer = built(Embedding(5, 2), (3,))
    ids = np.array([[1, 3, 1], [4, 1, 0]])
    layer.forward(ids)
    dy = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    assert layer.backward(dy) is None
    expect = np.zeros((5, 2), dtype=np.float32)
    for n in range(2):
        for t in range(3):
            expect[ids[n, t]] += dy[n, t]
    np.testing.assert_array_equal(layer.grads["embeddings"], expect)
    assert layer.grads["embeddings"].dtype == np.float32


@pytest.mark.parametrize("shape", [(4,), (3, 2)])
def test_finite_differences(shape):
    ids = np.random.default_rng(0).integers(0, 6, size=(3, *shape))
    layer = Embedding(6, 4)
    errors = check_layer(layer, shape, inputs=ids)
    assert set(errors) == {"embeddings"}
    assert errors["embeddings"] < 1e-6


def test_float_ids_that_are_whole_numbers_are_accepted():
    layer = built(Embedding(4, 2), (2,))
    y = layer.forward(np.array([[1.0, 3.0]]))
    np.testing.assert_array_equal(y[0], layer.params["embeddings"][[1, 3]])
    with pytest.raises(DataError, match="integer ids"):
        layer.forward(np.array([[1.5, 3.0]]))


@pytest.mark.parametrize("bad", [4, -1])
def test_out_of_range_ids_are_a_clear_error(bad):
    layer = built(Embedding(4, 2, name="emb"), (2,))
    with pytest.raises(DataError, match=rf"id {bad}, outside \[0, 4\)"):
        layer.forward(np.array([[0, bad]]))


def test_arguments():
    with pytest.raises(ConfigError) as e:
        Embedding(0, 4)
    assert e.value.key == "input_dim"
    with pytest.raises(ConfigError) as e:
        Embedding(10, 4, mask_zero="yes")
    assert e.value.key == "mask_zero"
    with pytest.raises(ConfigError) as e:
        Embedding(10, 4, embeddings_initializer="unifrom")
    assert e.value.key == "embeddings_initializer"
    layer = built(Embedding(10, 4, embeddings_initializer="ones", embeddings_regularizer="l2"),
                  (3,))
    np.testing.assert_array_equal(layer.params["embeddings"], 1)
    assert "embeddings" in layer.regularizers
    assert layer.get_config()["input_dim"] == 10


# -- PositionEmbedding --------------------------------------------------------------------------
def test_position_embedding_returns_the_table_rows():
    layer = PositionEmbedding(sequence_length=6)
    layer.build((4, 3), np.random.default_rng(0))
    assert layer.params["embeddings"].shape == (6, 3) and layer.count_params() == (18, 0)
    x = np.random.default_rng(1).standard_normal((2, 4, 3)).astype(np.float32)
    y = layer.forward(x)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(y[0], layer.params["embeddings"][:4])
    np.testing.assert_array_equal(y[1], y[0])
    dx = layer.backward(np.ones_like(y))
    assert not dx.any()
    np.testing.assert_array_equal(layer.grads["embeddings"][:4], 2.0)
    np.testing.assert_array_equal(layer.grads["embeddings"][4:], 0.0)


def test_position_embedding_gradients_and_errors():
    errors = check_layer(PositionEmbedding(5), (3, 2))
    assert errors["embeddings"] < 1e-6 and errors["input"] == 0.0
    with pytest.raises(ConfigError) as e:
        PositionEmbedding(4).compute_output_shape((5, 2))
    assert e.value.key == "sequence_length"
    with pytest.raises(ConfigError, match=r"\(steps, features\)"):
        PositionEmbedding(4).compute_output_shape((4,))
    for bad, key in (({"sequence_length": 0}, "sequence_length"),
                     ({"sequence_length": 3, "initializer": "glorot"}, "initializer")):
        with pytest.raises(ConfigError) as e:
            PositionEmbedding(**bad)
        assert e.value.key == key

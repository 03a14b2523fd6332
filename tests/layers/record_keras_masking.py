"""Record real Keras 3's masking numbers for the models of test_masking_keras.py into
keras_3_15_masking.npz (the test's expected values). Not a test; needs Keras:

    KERAS_BACKEND=torch python tests/layers/record_keras_masking.py   # in a venv with Keras

Recorded with Keras 3.15.1 on the torch backend (CPU, float32). Each model here is the Keras
twin of the nntrain config of the same name in test_masking_keras.py. Per model the file holds
its inputs (``<name>/x0``, ...), weights in ``model.weights`` order (``<name>/w0``, ...), the
output, the objective (``sum(output * r)``, or the compiled loss for models with labels) and
its gradients with respect to the trainable weights (``<name>/g0``, ... in
``model.trainable_weights`` order) and the float inputs (``<name>/dx0``).
"""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

L = keras.layers
OUT = Path(__file__).with_name("keras_3_15_masking.npz")


def padded_floats(rng, shape):
    """Sequences (4, T, F) with all-zero (masked) steps: right padding, left padding, a hole
    in the middle, and a fully masked sequence."""
    x = rng.standard_normal(shape).astype(np.float32)
    x[0, -2:] = 0
    x[1, :2] = 0
    x[2, 2] = 0
    x[3] = 0
    return x


def padded_ids(rng, n_ids, steps, full=True):
    """Ids (4, T) in [1, n_ids) with 0 (padding) placed like `padded_floats`'s zeros."""
    ids = rng.integers(1, n_ids, size=(4, steps))
    ids[0, -2:] = 0
    ids[1, :2] = 0
    ids[2, 2] = 0
    if full:
        ids[3] = 0
    return ids


def masking_lstm(rng):
    inp = keras.Input((6, 3))
    h = L.LSTM(4)(L.Masking()(inp))
    return keras.Model(inp, L.Dense(2)(h)), [padded_floats(rng, (4, 6, 3))], None


def backwards_sequence(rng):
    """go_backwards with return_sequences: the outputs come reversed, the mask does not (a
    Keras quirk the loss sees)."""
    inp = keras.Input((5, 2))
    h = L.LSTM(3, return_sequences=True, go_backwards=True)(L.Masking()(inp))
    model = keras.Model(inp, L.Dense(2)(h))
    y = rng.standard_normal((4, 5, 2)).astype(np.float32)
    return model, [padded_floats(rng, (4, 5, 2))], ("mean_squared_error", y)


def embedding_gru(rng):
    inp = keras.Input((6,))
    h = L.Embedding(7, 4, mask_zero=True)(inp)
    h = L.GRU(3, return_sequences=True)(h)
    h = L.Dropout(0.5)(L.LayerNormalization()(h))
    model = keras.Model(inp, L.Dense(3, activation="softmax")(h))
    y = rng.integers(0, 3, size=(4, 6))
    return model, [padded_ids(rng, 7, 6)], ("sparse_categorical_crossentropy", y)


def bidirectional(rng):
    inp = keras.Input((6, 3))
    h = L.TimeDistributed(L.Dense(3))(L.Masking()(inp))
    h = L.Bidirectional(L.LSTM(3, return_sequences=True))(h)
    h = L.Bidirectional(L.GRU(2), merge_mode="sum")(h)
    return keras.Model(inp, L.Dense(2)(h)), [padded_floats(rng, (4, 6, 3))], None


def average_pooling(rng):
    inp = keras.Input((6,))
    h = L.GlobalAveragePooling1D()(L.Embedding(7, 3, mask_zero=True)(inp))
    return keras.Model(inp, L.Dense(2)(h)), [padded_ids(rng, 7, 6, full=False)], None


def simple_rnn_chain(rng):
    inp = keras.Input((6,))
    h = L.Embedding(7, 3, mask_zero=True)(inp)
    h = L.SimpleRNN(3, return_sequences=True, go_backwards=True)(h)
    h = L.LSTM(2, zero_output_for_mask=True)(h)
    return keras.Model(inp, L.Dense(2)(h)), [padded_ids(rng, 7, 6)], None


def batch_norm(rng):
    """Masked moments: run in training mode (see TRAINING)."""
    inp = keras.Input((6,))
    h = L.BatchNormalization()(L.Embedding(7, 3, mask_zero=True)(inp))
    h = L.GRU(2)(h)
    return keras.Model(inp, L.Dense(1)(h)), [padded_ids(rng, 7, 6)], None


def merges(rng):
    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    ea = L.Embedding(6, 3, mask_zero=True, name="ea")(a)
    eb = L.Embedding(6, 3, mask_zero=True, name="eb")(b)
    mul = L.Multiply()([ea, eb])
    mx = L.Maximum()([ea, mul])
    mn = L.Minimum()([mx, L.Dense(3, name="d")(eb)])
    h = L.Concatenate(axis=1)([mn, eb])
    h = L.GRU(2, return_sequences=True)(h)
    model = keras.Model([a, b], L.Dense(2, name="out")(h))
    ids_a = padded_ids(rng, 6, 5)
    ids_b = rng.integers(0, 6, size=(4, 5))
    ids_b[3] = 0
    y = rng.standard_normal((4, 10, 2)).astype(np.float32)
    return model, [ids_a, ids_b], ("mean_squared_error", y)


def attention_self(rng):
    """Self-attention over padded ids: padded query rows see nothing (Keras's SDPA path)."""
    inp = keras.Input((6,))
    h = L.Embedding(7, 4, mask_zero=True)(inp)
    h = L.MultiHeadAttention(num_heads=2, key_dim=3)(h, h)
    h = L.GlobalAveragePooling1D()(h)
    return keras.Model(inp, L.Dense(2)(h)), [padded_ids(rng, 7, 6, full=False)], None


def _query_value_key(rng, dropout):
    """Three inputs with their own masks, causal; the value and key are left-padded in sample
    1, so its first query rows see no key though the query is unmasked there."""
    q, v, k = (keras.Input((n,), name=name) for name, n in (("q", 5), ("v", 6), ("k", 6)))
    eq = L.Embedding(7, 4, mask_zero=True, name="eq")(q)
    ev = L.Embedding(7, 3, mask_zero=True, name="ev")(v)
    ek = L.Embedding(7, 2, mask_zero=True, name="ek")(k)
    mha = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2, dropout=dropout,
                               name="mha")
    h = mha(eq, ev, key=ek, use_causal_mask=True)
    ids_q = padded_ids(rng, 7, 5, full=False)
    ids_q[1] = rng.integers(1, 7, size=5)
    ids_v = padded_ids(rng, 7, 6, full=False)
    ids_k = rng.integers(1, 7, size=(4, 6))
    ids_k[1, :3] = 0
    ids_k[2, 4] = 0
    return [q, v, k], h, [ids_q, ids_v, ids_k]


def attention_causal_key(rng):
    inputs, h, ids = _query_value_key(rng, 0.0)
    out = L.Dense(2, name="out")(L.GlobalAveragePooling1D()(h))
    return keras.Model(inputs, out), ids, None


def attention_dropout_sequence(rng):
    """dropout > 0 (inference): Keras's _masked_softmax path; the output keeps the query's
    mask, which the loss reads."""
    inputs, h, ids = _query_value_key(rng, 0.25)
    model = keras.Model(inputs, L.Dense(2, name="out")(h))
    y = rng.standard_normal((4, 5, 2)).astype(np.float32)
    return model, ids, ("mean_squared_error", y)


MODELS = {f.__name__: f for f in (masking_lstm, backwards_sequence, embedding_gru,
                                  bidirectional, average_pooling, simple_rnn_chain, batch_norm,
                                  merges, attention_self, attention_causal_key,
                                  attention_dropout_sequence)}
TRAINING = {"batch_norm"}


def set_weights(model, rng):
    values = []
    for v in model.weights:
        if "moving_variance" in v.path:
            w = rng.uniform(0.5, 1.5, v.shape)
        else:
            w = 0.5 * rng.standard_normal(v.shape)
        v.assign(w.astype(np.float32))
        values.append(w.astype(np.float32))
    return values


def record(name, build, arrays):
    rng = np.random.default_rng(sum(map(ord, name)))
    model, xs, labels = build(rng)
    weights = set_weights(model, rng)
    tensors = [torch.tensor(x, requires_grad=bool(np.issubdtype(x.dtype, np.floating)))
               for x in xs]
    out = model(tensors if len(tensors) > 1 else tensors[0], training=name in TRAINING)
    if labels is None:
        r = rng.standard_normal(tuple(out.shape)).astype(np.float32)
        objective = (out * torch.tensor(r)).sum()
        arrays[f"{name}/r"] = r
    else:
        loss_name, y = labels
        loss = {"mean_squared_error": keras.losses.MeanSquaredError(),
                "sparse_categorical_crossentropy":
                    keras.losses.SparseCategoricalCrossentropy()}[loss_name]
        objective = loss(torch.tensor(y), out)   # reads the output's _keras_mask
        arrays[f"{name}/y"] = y
    objective.backward()
    for i, x in enumerate(xs):
        arrays[f"{name}/x{i}"] = x
        if tensors[i].grad is not None:
            arrays[f"{name}/dx{i}"] = tensors[i].grad.numpy()
    for i, w in enumerate(weights):
        arrays[f"{name}/w{i}"] = w
    for i, v in enumerate(model.trainable_weights):
        grad = v.value.grad
        arrays[f"{name}/g{i}"] = np.zeros(v.shape, np.float32) if grad is None else grad.numpy()
    arrays[f"{name}/out"] = out.detach().numpy()
    arrays[f"{name}/objective"] = np.float64(objective.item())
    mask = getattr(out, "_keras_mask", None)
    if mask is not None:
        arrays[f"{name}/mask"] = mask.numpy()
    if name in TRAINING:
        for i, v in enumerate(model.weights):
            arrays[f"{name}/after{i}"] = np.asarray(v.numpy())


if __name__ == "__main__":
    arrays = {"keras_version": np.array(keras.__version__)}
    for name, build in MODELS.items():
        record(name, build, arrays)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({len(arrays)} arrays)")

"""Compare nntrain's new layers with real Keras 3 on the same weights, and print Keras's
parameter counts for a small model of each new layer (the numbers pinned in
tests/layers/test_keras_counts.py).

Run with a Keras 3 venv (torch backend) and this checkout on the path:

    KERAS_BACKEND=torch PYTHONPATH=. python tools/keras_reference.py

Outputs and parameter counts only; nothing here runs in the test suite (Keras is not a test
dependency).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from nntrain.layers import LAYERS  # noqa: E402

RNG = np.random.default_rng(0)


def nn_layer(name, shape, **kwargs):
    layer = LAYERS[name](**kwargs)
    layer.build(shape, np.random.default_rng(1))
    return layer


def randomize(layer):
    for w in layer.params.values():
        w[...] = RNG.standard_normal(w.shape) * 0.5


def keras_out(klayer, xs):
    y = klayer(*xs) if isinstance(xs, list) else klayer(xs)
    return keras.ops.convert_to_numpy(y)


def compare_mha():
    cases = [
        ({"num_heads": 2, "key_dim": 3}, [(5, 8)]),
        ({"num_heads": 3, "key_dim": 4, "value_dim": 2}, [(5, 8), (7, 6)]),
        ({"num_heads": 2, "key_dim": 3, "use_bias": False}, [(5, 8), (7, 6), (7, 4)]),
        ({"num_heads": 2, "key_dim": 3, "output_shape": 5}, [(5, 8), (7, 6)]),
        ({"num_heads": 2, "key_dim": 3, "use_causal_mask": True}, [(6, 8)]),
        ({"num_heads": 2, "key_dim": 3}, [(3, 4, 8)]),
    ]
    print("MultiHeadAttention: max |nntrain - keras| (float32)")
    for kwargs, shapes in cases:
        causal = kwargs.pop("use_causal_mask", False)
        ours = nn_layer("MultiHeadAttention", shapes, use_causal_mask=causal, **kwargs)
        randomize(ours)
        xs = [RNG.standard_normal((4, *s)).astype("float32") for s in shapes]
        theirs = keras.layers.MultiHeadAttention(**kwargs)
        kxs = [xs[0], xs[1] if len(xs) > 1 else xs[0]]
        theirs(*kxs, key=xs[2] if len(xs) > 2 else None)
        keras_names = [w.path.split("/", 1)[1] for w in theirs.weights]
        assert keras_names == list(ours.params), (keras_names, list(ours.params))
        theirs.set_weights([ours.params[n] for n in keras_names])
        ref = keras.ops.convert_to_numpy(
            theirs(*kxs, key=xs[2] if len(xs) > 2 else None, use_causal_mask=causal))
        y = ours.forward(xs)
        print(f"  {kwargs} causal={causal} inputs={shapes}: {np.abs(y - ref).max():.2e}")


def compare_conv_transpose():
    print("Conv1DTranspose / Conv2DTranspose: output shape equal, max |nntrain - keras|")
    grid = [
        dict(kernel_size=k, strides=s, padding=p, output_padding=op, dilation_rate=d)
        for k in (1, 2, 3, 4, 5) for s in (1, 2, 3) for p in ("valid", "same")
        for op in (None, 0, 1, 2) for d in (1, 2)
        if (op is None or op < s) and not (s > 1 and d > 1)
    ]
    worst, n = 0.0, 0
    for kw in grid:
        for rank, name in ((1, "Conv1DTranspose"), (2, "Conv2DTranspose")):
            shape = (5, 3) if rank == 1 else (4, 5, 3)
            try:
                ours = nn_layer(name, shape, filters=2, bias_initializer="random_normal", **kw)
            except Exception as e:  # an empty output: Keras would make one of length 0
                print(f"  skipped {name} {kw}: {e}")
                continue
            randomize(ours)
            x = RNG.standard_normal((2, *shape)).astype("float32")
            theirs = getattr(keras.layers, name)(filters=2, **kw)
            theirs(x)
            theirs.set_weights([ours.params["kernel"], ours.params["bias"]])
            ref = keras_out(theirs, x)
            y = ours.forward(x)
            assert y.shape == ref.shape, (name, kw, y.shape, ref.shape)
            worst = max(worst, float(np.abs(y - ref).max()))
            n += 1
    print(f"  {n} configurations (kernel 1-5, strides 1-3, valid/same, output_padding "
          f"None/0/1/2, dilation 1/2): worst {worst:.2e}")


# (nntrain layer entry, Keras layer, input shape): one small Sequential model each
def keras_count_models():
    L = keras.layers
    return [
        ("MultiHeadAttention self", lambda: mha_model((10, 16), [], num_heads=4, key_dim=8)),
        ("MultiHeadAttention q,v", lambda: mha_model((10, 16), [(12, 6)], num_heads=2,
                                                     key_dim=5, value_dim=3)),
        ("MultiHeadAttention q,v,k", lambda: mha_model((10, 16), [(12, 6), (12, 4)],
                                                       num_heads=2, key_dim=5,
                                                       output_shape=7, use_bias=False)),
        ("Conv1DTranspose", (40, 3), L.Conv1DTranspose(8, 5, strides=2, padding="same")),
        ("Conv2DTranspose", (7, 7, 4), L.Conv2DTranspose(6, 3, strides=2)),
        ("UpSampling1D", (10, 3), L.UpSampling1D(3)),
        ("UpSampling2D", (4, 5, 3), L.UpSampling2D((2, 3), interpolation="bilinear")),
        ("ZeroPadding1D", (10, 3), L.ZeroPadding1D((1, 2))),
        ("ZeroPadding2D", (4, 5, 3), L.ZeroPadding2D(((1, 0), (2, 3)))),
        ("Cropping1D", (10, 3), L.Cropping1D((1, 2))),
        ("Cropping2D", (6, 7, 3), L.Cropping2D(((1, 0), (2, 3)))),
        ("SpatialDropout1D", (10, 3), L.SpatialDropout1D(0.3)),
        ("SpatialDropout2D", (4, 5, 3), L.SpatialDropout2D(0.3)),
        ("GaussianNoise", (10, 3), L.GaussianNoise(0.1)),
        ("GaussianDropout", (10, 3), L.GaussianDropout(0.2)),
        ("AlphaDropout", (10, 3), L.AlphaDropout(0.2)),
        ("RepeatVector", (6,), L.RepeatVector(4)),
        ("Permute", (4, 5, 3), L.Permute((3, 1, 2))),
        ("ReLU", (10,), L.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5)),
        ("Softmax", (4, 5), L.Softmax(axis=1)),
        ("GroupNormalization", (10, 8), L.GroupNormalization(groups=4)),
        ("RandomFlip", (8, 8, 1), L.RandomFlip()),
        ("RandomTranslation", (8, 8, 1), L.RandomTranslation(0.1, 0.2)),
        ("RandomCrop", (8, 8, 1), L.RandomCrop(6, 5)),
        ("RandomRotation", (8, 8, 1), L.RandomRotation(0.1)),
        ("RandomZoom", (8, 8, 1), L.RandomZoom(0.2)),
        ("Maxout (as Dense units*pieces)", (10,), L.Dense(4 * 3)),
        ("PositionEmbedding (as Embedding seq x dim)", None, None),
    ]


def mha_model(q_shape, others, **kwargs):
    inputs = [keras.Input(q_shape)] + [keras.Input(s) for s in others]
    layer = keras.layers.MultiHeadAttention(**kwargs)
    value = inputs[1] if len(inputs) > 1 else inputs[0]
    out = layer(inputs[0], value, key=inputs[2] if len(inputs) > 2 else None)
    return keras.Model(inputs, out)


def print_counts():
    print("Keras parameter counts and output shapes (model.summary() totals):")
    for row in keras_count_models():
        name = row[0]
        if len(row) == 2:
            model = row[1]()
        else:
            _, shape, layer = row
            if shape is None:
                model = keras.Sequential([keras.Input((40,), dtype="int32"),
                                          keras.layers.Embedding(40, 32)])
            else:
                model = keras.Sequential([keras.Input(shape), layer])
        t = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        nt = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
        print(f"  {name:45s} total {model.count_params():6d} trainable {t:6d} "
              f"non-trainable {nt:4d} output {tuple(model.output_shape)}")


if __name__ == "__main__":
    compare_mha()
    compare_conv_transpose()
    print_counts()

"""Compare nntrain's new layers with real Keras 3 on the same weights, and Keras's parameter
counts and output shapes for a small model of each new layer and for the configs using them
with nntrain's and with the numbers pinned in tests/test_summary_layers.py.

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
        print(f"  {kwargs} causal={causal} inputs={shapes}: {np.abs(y - ref).max():.2e} "
              f"(outputs up to {np.abs(ref).max():.1f})")


def compare_conv_transpose():
    print("Conv1DTranspose / Conv2DTranspose: output shape equal, max |nntrain - keras|")
    grid = [
        dict(kernel_size=k, strides=s, padding=p, output_padding=op, dilation_rate=d)
        for k in (1, 2, 3, 4, 5) for s in (1, 2, 3) for p in ("valid", "same")
        for op in (None, 0, 1, 2) for d in (1, 2)
        if (op is None or op < s) and not (s > 1 and d > 1)
    ]
    worst, scale, n = 0.0, 0.0, 0
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
            scale = max(scale, float(np.abs(ref).max()))
            n += 1
    print(f"  {n} configurations (kernel 1-5, strides 1-3, valid/same, output_padding "
          f"None/0/1/2, dilation 1/2): worst {worst:.2e} (outputs up to {scale:.1f})")


def compare_deterministic():
    """Weight-free or simple layers, forward on the same input (and weights)."""
    L = keras.layers
    cases = [
        ("UpSampling2D", (5, 4, 3), {"size": (2, 3), "interpolation": "bilinear"},
         L.UpSampling2D((2, 3), interpolation="bilinear")),
        ("UpSampling2D", (5, 4, 3), {"size": 2}, L.UpSampling2D(2)),
        ("UpSampling1D", (5, 3), {"size": 3}, L.UpSampling1D(3)),
        ("ZeroPadding2D", (5, 4, 3), {"padding": ((1, 0), (2, 3))},
         L.ZeroPadding2D(((1, 0), (2, 3)))),
        ("Cropping2D", (5, 4, 3), {"cropping": ((1, 0), (2, 1))}, L.Cropping2D(((1, 0), (2, 1)))),
        ("Cropping1D", (5, 3), {"cropping": (2, 1)}, L.Cropping1D((2, 1))),
        ("RepeatVector", (5,), {"n": 3}, L.RepeatVector(3)),
        ("Permute", (5, 4, 3), {"dims": (3, 1, 2)}, L.Permute((3, 1, 2))),
        ("ReLU", (20,), {"max_value": 0.8, "negative_slope": 0.1, "threshold": 0.3},
         L.ReLU(max_value=0.8, negative_slope=0.1, threshold=0.3)),
        ("ReLU", (20,), {"negative_slope": 0.2}, L.ReLU(negative_slope=0.2)),
        ("Softmax", (4, 5), {"axis": [1, 2]}, L.Softmax(axis=[1, 2])),
        ("GroupNormalization", (5, 4, 8), {"groups": 4}, L.GroupNormalization(groups=4)),
        ("GroupNormalization", (6, 8), {"groups": -1}, L.GroupNormalization(groups=-1)),
        ("RandomCrop", (8, 8, 2), {"height": 6, "width": 5}, None),
    ]
    print("Deterministic layers: max |nntrain - keras| (inference)")
    for name, shape, kwargs, theirs in cases:
        ours = nn_layer(name, shape, **kwargs)
        randomize(ours)
        x = RNG.standard_normal((3, *shape)).astype("float32")
        if theirs is None:   # Keras 3.15 RandomCrop returns x at inference; its documented rule:
            ref = keras.ops.convert_to_numpy(keras.ops.image.resize(
                x, (6, 5), crop_to_aspect_ratio=True))
        else:
            theirs(x)
            if ours.params:
                theirs.set_weights(list(ours.params.values()))
            ref = keras_out(theirs, x)
        y = ours.forward(x)
        assert y.shape == ref.shape, (name, y.shape, ref.shape)
        print(f"  {name} {kwargs}: {np.abs(y - ref).max():.2e}")


def compare_affine_sampling():
    """The augmentation layers' sampling against ``keras.ops.image.affine_transform`` on the
    same transforms (the random draws themselves cannot agree)."""
    from nntrain.layers.sampling import AffineSample
    print("Affine sampling (RandomTranslation/Rotation/Zoom): max |nntrain - keras|")
    n, h, w = 4, 7, 6
    x = RNG.standard_normal((n, h, w, 2)).astype("float32")
    rows, cols = np.meshgrid(np.arange(h, dtype=float), np.arange(w, dtype=float), indexing="ij")
    angle = RNG.uniform(-40, 40, n)
    zoom = RNG.uniform(0.7, 1.3, (n, 2))
    shift = RNG.uniform(-3, 3, (n, 2))
    worst = {}
    for i in range(n):
        c, s = np.cos(np.deg2rad(angle[i])), np.sin(np.deg2rad(angle[i]))
        cx, cy = (w - 1) / 2, (h - 1) / 2
        zx, zy = zoom[i]
        transforms = {
            "translation": [1, 0, -shift[i, 0], 0, 1, -shift[i, 1], 0, 0],
            "rotation": [c, -s, cx - cx * c + cy * s, s, c, cy - cx * s - cy * c, 0, 0],
            "zoom": [zx, 0, cx * (1 - zx), 0, zy, cy * (1 - zy), 0, 0],
        }
        for kind, t in transforms.items():
            a0, a1, a2, b0, b1, b2 = t[:6]
            src_cols = a0 * cols + a1 * rows + a2
            src_rows = b0 * cols + b1 * rows + b2
            for fill in ("reflect", "wrap", "nearest", "constant"):
                for interp in ("bilinear", "nearest"):
                    plan = AffineSample((1, h, w, 2), src_rows[None], src_cols[None],
                                        interpolation=interp, fill_mode=fill, fill_value=0.5)
                    ours = plan.apply(x[i:i + 1])
                    ref = keras.ops.convert_to_numpy(keras.ops.image.affine_transform(
                        x[i:i + 1], np.array([t], "float32"), interpolation=interp,
                        fill_mode=fill, fill_value=0.5))
                    key = (kind, fill, interp)
                    worst[key] = max(worst.get(key, 0.0), float(np.abs(ours - ref).max()))
    for key, err in worst.items():
        print(f"  {key}: {err:.2e}")


MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot")


class PositionEmbedding(keras.layers.Layer):
    """keras_hub's PositionEmbedding (not installed here): one learned row per position."""

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.sequence_length, self.initializer = sequence_length, initializer

    def build(self, shape):
        self.embeddings = self.add_weight(name="embeddings", initializer=self.initializer,
                                          shape=(self.sequence_length, shape[-1]))

    def call(self, x):
        return keras.ops.broadcast_to(self.embeddings[:x.shape[1]], keras.ops.shape(x))


class Maxout(keras.layers.Layer):
    """nntrain's Maxout in Keras: Dense(units * pieces), then the max of each group of pieces."""

    def __init__(self, units, pieces=2, **kwargs):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.dense = keras.layers.Dense(units * pieces, **kwargs)

    def call(self, x):
        z = self.dense(x)
        return keras.ops.max(keras.ops.reshape(z, (*z.shape[:-1], self.units, self.pieces)), -1)


def keras_model(model_cfg: dict) -> keras.Model:
    """The Keras functional model of an nntrain `model:` section."""
    shapes = model_cfg.get("inputs") or {"input_layer": model_cfg["input_shape"]}
    tensors = {name: keras.Input(tuple(shape), name=name) for name, shape in shapes.items()}
    previous = next(iter(tensors))
    for entry in model_cfg["layers"]:
        (cls, args), = entry.items()
        args = dict(args or {})
        sources = args.pop("inputs", previous)
        xs = [tensors[s] for s in ([sources] if isinstance(sources, str) else sources)]
        if cls == "MultiHeadAttention":
            causal = args.pop("use_causal_mask", False)
            layer = keras.layers.MultiHeadAttention(**args)
            y = layer(xs[0], xs[1] if len(xs) > 1 else xs[0],
                      key=xs[2] if len(xs) > 2 else None, use_causal_mask=causal)
        else:
            make = {"PositionEmbedding": PositionEmbedding, "Maxout": Maxout}.get(cls) or \
                getattr(keras.layers, cls)
            layer = make(**args)
            y = layer(xs) if cls in MERGES else layer(xs[0])
        tensors[layer.name] = y
        previous = layer.name
    return keras.Model(list(tensors[n] for n in shapes), tensors[previous])


def print_counts():
    """Keras's counts for the models pinned in tests/test_summary_layers.py."""
    import yaml

    from nntrain.builder import build_model
    from nntrain.summary import model_summary
    from tests.test_summary_layers import CASES, SHIPPED, model_config

    print("Parameter counts, Keras 3.15 vs nntrain (and the numbers pinned in the tests):")
    rows = [(name, model_config(shape, layers), total, trainable, out)
            for name, shape, layers, total, trainable, out in CASES]
    for config, total, trainable in SHIPPED:
        with open(f"configs/{config}") as f:
            model = yaml.safe_load(f)["model"]
        out = [None, *build_model(model).output_shape]
        rows.append((config, model, total, trainable, out))
    for name, cfg, total, trainable, out in rows:
        km = keras_model(cfg)
        t = sum(int(np.prod(w.shape)) for w in km.trainable_weights)
        ours = model_summary(build_model(cfg))
        keras_out = [None, *km.output_shape[1:]]
        same = (km.count_params(), t) == (ours["total_params"], ours["trainable_params"]) \
            and keras_out == ours["layers"][-1]["output_shape"]
        pinned = "" if total is None else \
            ("pinned ok" if (total, trainable, out) == (km.count_params(), t, keras_out)
             else f"PINNED {total} {trainable} {out}")
        print(f"  {name:28s} keras total {km.count_params():6d} trainable {t:6d} output "
              f"{keras_out}  {'same' if same else 'DIFFERENT: ' + str(ours['total_params'])}"
              f"  {pinned}")


if __name__ == "__main__":
    compare_mha()
    compare_conv_transpose()
    compare_deterministic()
    compare_affine_sampling()
    print_counts()

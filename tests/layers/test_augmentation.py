"""Image augmentation: off at inference (a test of each layer), Keras's transforms in training
(the sampling against PyTorch's grid_sample and a direct loop), draws from the model's stream
only, finite differences with the stream fixed, Keras's argument checks."""

import numpy as np
import pytest

from nntrain.builder import build_model
from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.augmentation import (RandomCrop, RandomFlip, RandomRotation,
                                         RandomTranslation, RandomZoom)
from nntrain.layers.sampling import AffineSample

X = np.random.default_rng(0).standard_normal((4, 6, 5, 2)).astype(np.float32)

AUGMENTERS = [
    lambda: RandomFlip(),
    lambda: RandomFlip("horizontal"),
    lambda: RandomFlip("vertical"),
    lambda: RandomTranslation(0.2, 0.3),
    lambda: RandomTranslation((-0.2, 0.1), 0.3, fill_mode="constant", fill_value=0.5),
    lambda: RandomRotation(0.1),
    lambda: RandomRotation((-0.2, 0.3), fill_mode="wrap", interpolation="nearest"),
    lambda: RandomZoom(0.3),
    lambda: RandomZoom((-0.3, -0.1), width_factor=0.2, fill_mode="nearest"),
]


@pytest.mark.parametrize("make", AUGMENTERS)
def test_off_at_inference_and_on_in_training(make):
    layer = make()
    layer.rng = np.random.default_rng(1)
    assert layer.forward(X) is X                         # inference: the identity
    assert layer.forward(X, training=False) is X
    assert layer.backward(X) is X
    assert layer.rng.bit_generator.state == np.random.default_rng(1).bit_generator.state
    y = layer.forward(X, training=True)
    assert y.shape == X.shape and y.dtype == np.float32
    assert not np.array_equal(y, X)
    layer.rng = np.random.default_rng(1)
    np.testing.assert_array_equal(layer.forward(X, training=True), y)   # the stream decides


@pytest.mark.parametrize("make", AUGMENTERS + [lambda: RandomCrop(4, 3),
                                               lambda: RandomCrop(6, 4)])
def test_gradients_in_training(make):
    errors = check_layer(make(), (5, 4, 2), training=True, batch=3)
    assert max(errors.values()) < 1e-6, errors


def test_flip_values():
    layer = RandomFlip("horizontal")
    layer.rng = np.random.default_rng(0)
    y = layer.forward(X, training=True)
    for a, b in zip(y, X):
        assert np.array_equal(a, b) or np.array_equal(a, b[:, ::-1])
    both = RandomFlip()
    both.rng = np.random.default_rng(0)
    for a, b in zip(both.forward(X, training=True), X):   # Keras 3: one draw for both flips
        assert np.array_equal(a, b) or np.array_equal(a, b[::-1, ::-1])


def test_whole_pixel_translation_with_reflect_fill():
    layer = RandomTranslation((0.5, 0.5), (0.4, 0.4))    # exactly 3 rows down, 2 columns right
    layer.rng = np.random.default_rng(0)
    y = layer.forward(X, training=True)
    rows = [2, 1, 0, 0, 1, 2]            # reflect (c b a | a b c ...): source row = row - 3
    cols = [1, 0, 0, 1, 2]
    np.testing.assert_allclose(y, X[:, rows][:, :, cols], rtol=1e-6)


def test_zero_factors_are_the_identity():
    for layer in (RandomRotation(0.0), RandomZoom(0.0), RandomTranslation(0.0, 0.0)):
        layer.rng = np.random.default_rng(0)
        np.testing.assert_allclose(layer.forward(X, training=True), X, atol=1e-6)


def test_rotation_by_half_a_turn_reverses_both_axes():
    layer = RandomRotation((0.5, 0.5))
    layer.rng = np.random.default_rng(0)
    np.testing.assert_allclose(layer.forward(X, training=True), X[:, ::-1, ::-1], atol=1e-5)


def naive_sample(image, rows, cols, interpolation, fill_mode, fill_value):
    """A per-pixel loop over Keras's map_coordinates rules, for one image (H, W, C)."""
    h, w, _ = image.shape

    def fix(i, n):
        if fill_mode == "wrap":
            return i % n
        if fill_mode == "reflect":     # (d c b a | a b c d | d c b a)
            i = i % (2 * n)
            return i if i < n else 2 * n - 1 - i
        return min(max(i, 0), n - 1)

    def nodes(c):
        if interpolation == "nearest":
            return [(int(np.round(c)), 1.0)]
        f = int(np.floor(c))
        return [(f, 1 - (c - f)), (f + 1, c - f)]

    out = np.zeros((*rows.shape, image.shape[-1]))
    for i in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            for y, wy in nodes(rows[i, j]):
                for x, wx in nodes(cols[i, j]):
                    if fill_mode == "constant" and not (0 <= y < h and 0 <= x < w):
                        out[i, j] += wy * wx * fill_value
                    else:
                        out[i, j] += wy * wx * image[fix(y, h), fix(x, w)]
    return out


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "nearest", "constant"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_sampling_follows_keras_rules(fill_mode, interpolation):
    rng = np.random.default_rng(3)
    image = rng.standard_normal((1, 4, 5, 2))
    rows = rng.uniform(-6, 9, (1, 4, 5))
    cols = rng.uniform(-6, 10, (1, 4, 5))
    plan = AffineSample(image.shape, rows, cols, interpolation=interpolation,
                        fill_mode=fill_mode, fill_value=0.7)
    np.testing.assert_allclose(plan.apply(image)[0],
                               naive_sample(image[0], rows[0], cols[0], interpolation, fill_mode,
                                            0.7), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fill_mode,padding_mode", [("constant", "zeros"),
                                                    ("nearest", "border"),
                                                    ("reflect", "reflection")])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_sampling_matches_torch_grid_sample(fill_mode, padding_mode, interpolation):
    """grid_sample with align_corners=False reflects about the image border, as Keras does."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    n, h, w = 3, 6, 5
    image = rng.standard_normal((n, h, w, 2))
    rows = rng.uniform(-4, h + 3, (n, h, w))
    cols = rng.uniform(-4, w + 3, (n, h, w))
    plan = AffineSample(image.shape, rows, cols, interpolation=interpolation,
                        fill_mode=fill_mode)
    grid = np.stack([(2 * cols + 1) / w - 1, (2 * rows + 1) / h - 1], axis=-1)
    ref = torch.nn.functional.grid_sample(
        torch.from_numpy(image).permute(0, 3, 1, 2), torch.from_numpy(grid),
        mode=interpolation, padding_mode=padding_mode, align_corners=False)
    np.testing.assert_allclose(plan.apply(image), ref.permute(0, 2, 3, 1).numpy(),
                               rtol=1e-10, atol=1e-10)


def test_random_crop_shapes_and_windows():
    layer = RandomCrop(4, 3)
    assert layer.compute_output_shape((6, 5, 2)) == (4, 3, 2)
    layer.rng = np.random.default_rng(0)
    y = layer.forward(X, training=True)
    assert y.shape == (4, 4, 3, 2)
    top, left = layer._plan[1:]
    np.testing.assert_array_equal(y, X[:, top:top + 4, left:left + 3])   # one window a batch
    # inference: the largest central window of the target's aspect ratio (6 x 4.5 -> 6 x 4),
    # resized to 4 x 3, as Keras documents it
    y = layer.forward(X)
    assert y.shape == (4, 4, 3, 2)
    exact = RandomCrop(6, 3).forward(X)                   # same height: a central crop
    np.testing.assert_array_equal(exact, X[:, :, 1:4])


@pytest.mark.parametrize("make,key", [
    (lambda: RandomFlip("diagonal"), "mode"),
    (lambda: RandomTranslation(1.5, 0.1), "height_factor"),
    (lambda: RandomTranslation(0.1, [0.1, 0.2, 0.3]), "width_factor"),
    (lambda: RandomTranslation(0.1, 0.1, fill_mode="mirror"), "fill_mode"),
    (lambda: RandomRotation(0.1, interpolation="bicubic"), "interpolation"),
    (lambda: RandomRotation("a lot"), "factor"),
    (lambda: RandomZoom(-1.0), "height_factor"),
    (lambda: RandomZoom(0.2, width_factor=2), "width_factor"),
    (lambda: RandomZoom(0.2, fill_value="black"), "fill_value"),
    (lambda: RandomCrop(0, 3), "height"),
    (lambda: RandomCrop(3, 3, data_format="channels_first"), "data_format"),
])
def test_bad_arguments_name_the_argument(make, key):
    with pytest.raises(ConfigError) as e:
        make()
    assert e.value.key == key


def test_needs_images():
    with pytest.raises(ConfigError, match="images"):
        RandomFlip().compute_output_shape((10, 3))


def test_a_model_with_augmentation_predicts_as_the_model_without():
    """Inference through a model is untouched by augmentation (Keras's training=False)."""
    layers = [{"Flatten": {}}, {"Dense": {"units": 3}}]
    augment = [{"RandomFlip": {}}, {"RandomTranslation": {"height_factor": 0.2,
                                                          "width_factor": 0.2}},
               {"RandomRotation": {"factor": 0.1}}, {"RandomZoom": {"height_factor": 0.2}},
               {"GaussianNoise": {"stddev": 0.3}}]
    plain = build_model({"input_shape": [6, 5, 2], "layers": layers})
    augmented = build_model({"input_shape": [6, 5, 2], "layers": augment + layers})
    augmented.set_rng(np.random.default_rng(0))
    augmented.node("dense").layer.params.update(plain.node("dense").layer.params)
    np.testing.assert_array_equal(augmented.predict([X]), plain.predict([X]))
    assert not np.allclose(augmented.forward([X], training=True), plain.forward([X]))

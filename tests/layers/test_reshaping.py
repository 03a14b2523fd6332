"""UpSampling1D/2D, ZeroPadding1D/2D, Cropping1D/2D, RepeatVector, Permute: Keras's argument
forms and output shapes, values against NumPy and PyTorch, finite differences, bad arguments."""

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.gradcheck import check_layer
from nntrain.layers.reshaping import (Cropping1D, Cropping2D, Permute, RepeatVector,
                                      UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D)

X2 = np.random.default_rng(0).standard_normal((2, 4, 5, 3)).astype(np.float32)
X1 = np.random.default_rng(1).standard_normal((2, 6, 3)).astype(np.float32)


@pytest.mark.parametrize("layer,shape,out", [   # output shapes from Keras 3.15
    (UpSampling1D(3), (10, 3), (30, 3)),
    (UpSampling2D((2, 3), interpolation="bilinear"), (4, 5, 3), (8, 15, 3)),
    (UpSampling2D(), (4, 5, 3), (8, 10, 3)),
    (ZeroPadding1D((1, 2)), (10, 3), (13, 3)),
    (ZeroPadding1D(), (10, 3), (12, 3)),
    (ZeroPadding2D(((1, 0), (2, 3))), (4, 5, 3), (5, 10, 3)),
    (ZeroPadding2D((1, 2)), (4, 5, 3), (6, 9, 3)),
    (ZeroPadding2D(), (4, 5, 3), (6, 7, 3)),
    (Cropping1D((1, 2)), (10, 3), (7, 3)),
    (Cropping1D(), (10, 3), (8, 3)),
    (Cropping2D(((1, 0), (2, 3))), (6, 7, 3), (5, 2, 3)),
    (Cropping2D(1), (6, 7, 3), (4, 5, 3)),
    (Cropping2D(), (6, 7, 3), (6, 7, 3)),
    (RepeatVector(4), (6,), (4, 6)),
    (Permute((3, 1, 2)), (4, 5, 3), (3, 4, 5)),
])
def test_output_shapes_match_keras(layer, shape, out):
    assert layer.compute_output_shape(shape) == out
    x = np.zeros((2, *shape), dtype=np.float32)
    y = layer.forward(x)
    assert y.shape == (2, *out) and y.dtype == np.float32
    assert layer.count_params() == (0, 0)


def test_values_against_numpy():
    np.testing.assert_array_equal(UpSampling1D(2).forward(X1), np.repeat(X1, 2, axis=1))
    np.testing.assert_array_equal(UpSampling2D((2, 3)).forward(X2),
                                  X2.repeat(2, axis=1).repeat(3, axis=2))
    np.testing.assert_array_equal(ZeroPadding1D((1, 2)).forward(X1),
                                  np.pad(X1, ((0, 0), (1, 2), (0, 0))))
    np.testing.assert_array_equal(ZeroPadding2D(((1, 0), (2, 3))).forward(X2),
                                  np.pad(X2, ((0, 0), (1, 0), (2, 3), (0, 0))))
    np.testing.assert_array_equal(Cropping1D((2, 1)).forward(X1), X1[:, 2:-1])
    np.testing.assert_array_equal(Cropping2D(((1, 0), (2, 1))).forward(X2), X2[:, 1:, 2:-1])
    v = X1[:, 0]
    np.testing.assert_array_equal(RepeatVector(3).forward(v), np.stack([v] * 3, axis=1))
    np.testing.assert_array_equal(Permute((3, 1, 2)).forward(X2), X2.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(Permute((2, 1)).forward(X1), X1.transpose(0, 2, 1))


@pytest.mark.parametrize("size", [(2, 2), (2, 3), (3, 1)])
def test_bilinear_upsampling_matches_torch(size):
    torch = pytest.importorskip("torch")
    layer = UpSampling2D(size, interpolation="bilinear")
    xt = torch.from_numpy(X2).permute(0, 3, 1, 2).requires_grad_()
    ref = torch.nn.functional.interpolate(xt, scale_factor=size, mode="bilinear",
                                          align_corners=False).permute(0, 2, 3, 1)
    y = layer.forward(X2)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    dy = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
    ref.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(layer.backward(dy), xt.grad.permute(0, 2, 3, 1).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_nearest_upsampling_matches_torch():
    torch = pytest.importorskip("torch")
    ref = torch.nn.functional.interpolate(torch.from_numpy(X2).permute(0, 3, 1, 2),
                                          scale_factor=(3, 2), mode="nearest")
    np.testing.assert_array_equal(UpSampling2D((3, 2)).forward(X2),
                                  ref.permute(0, 2, 3, 1).numpy())


@pytest.mark.parametrize("layer,shape", [
    (UpSampling1D(3), (3, 2)),
    (UpSampling2D((2, 3)), (2, 3, 2)),
    (UpSampling2D((2, 2), interpolation="bilinear"), (3, 2, 2)),
    (UpSampling2D((3, 2), interpolation="bilinear"), (2, 3, 1)),
    (ZeroPadding1D((1, 2)), (3, 2)),
    (ZeroPadding2D(((1, 0), (2, 1))), (2, 3, 2)),
    (Cropping1D((1, 2)), (5, 2)),
    (Cropping2D(((1, 0), (0, 2))), (3, 4, 2)),
    (RepeatVector(3), (4,)),
    (Permute((2, 3, 1)), (2, 3, 4)),
    (Permute((2, 1)), (3, 4)),
])
def test_gradients(layer, shape):
    errors = check_layer(layer, shape)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("make,key", [
    (lambda: UpSampling1D(0), "size"),
    (lambda: UpSampling2D((2, 0)), "size"),
    (lambda: UpSampling2D(interpolation="bicubic"), "interpolation"),
    (lambda: UpSampling2D(data_format="channels_first"), "data_format"),
    (lambda: ZeroPadding1D(-1), "padding"),
    (lambda: ZeroPadding1D((1, 2, 3)), "padding"),
    (lambda: ZeroPadding2D(((1, 2), (3,))), "padding"),
    (lambda: ZeroPadding2D("same"), "padding"),
    (lambda: Cropping1D((1, -1)), "cropping"),
    (lambda: Cropping2D((1, 2, 3)), "cropping"),
    (lambda: RepeatVector(0), "n"),
    (lambda: Permute((1, 3)), "dims"),
    (lambda: Permute((0, 1)), "dims"),
    (lambda: Permute("12"), "dims"),
])
def test_bad_arguments_name_the_argument(make, key):
    with pytest.raises(ConfigError) as e:
        make()
    assert e.value.key == key


def test_shape_errors():
    with pytest.raises(ConfigError, match="leaves nothing") as e:
        Cropping1D((3, 3)).compute_output_shape((6, 2))
    assert e.value.key == "cropping"
    with pytest.raises(ConfigError, match="rank 1"):
        RepeatVector(2).compute_output_shape((3, 4))
    with pytest.raises(ConfigError, match="rank 3"):
        UpSampling2D().compute_output_shape((3, 4))
    with pytest.raises(ConfigError, match="rank 2"):
        Permute((2, 1)).compute_output_shape((3, 4, 5))


def test_get_config_is_keras_shaped():
    assert ZeroPadding2D(1).get_config()["padding"] == [[1, 1], [1, 1]]
    assert ZeroPadding1D(2).get_config()["padding"] == [2, 2]
    assert Cropping2D(((1, 0), (2, 3))).get_config()["cropping"] == [[1, 0], [2, 3]]
    assert UpSampling2D(3).get_config()["size"] == [3, 3]
    assert Permute((2, 1)).get_config()["dims"] == [2, 1]

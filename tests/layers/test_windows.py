"""Window geometry shared by conv and pooling: planning errors and col2im as the exact adjoint
of the window view."""

import numpy as np
import pytest

from nntrain.errors import ConfigError
from nntrain.layers.windows import col2im, pad_spatial, plan, windows


def test_plan_names_the_layer_and_its_window_argument():
    assert plan("Conv1D", (10,), (3,), (1,), (1,), "valid", "kernel_size") == ((8,), ((0, 0),))
    assert plan("MaxPooling2D", (5, 5), (2, 2), (2, 2), (1, 1), "same", "pool_size") == \
        ((3, 3), ((0, 1), (0, 1)))
    with pytest.raises(ConfigError, match=r"Conv1D: .*\[4\] is too short.*kernel_size=\[3\] "
                                          r"at dilation_rate=\[2\]") as info:
        plan("Conv1D", (4,), (3,), (1,), (2,), "valid", "kernel_size")
    assert info.value.key == "kernel_size"


@pytest.mark.parametrize("spatial, kernel, strides, dilation", [
    ((9,), (3,), (1,), (1,)), ((9,), (2,), (3,), (1,)), ((9,), (3,), (3,), (1,)),
    ((9,), (3,), (1,), (2,)), ((6, 7), (3, 2), (2, 1), (1, 1)), ((6, 7), (2, 2), (2, 2), (1, 1)),
])
def test_col2im_is_the_adjoint_of_windows(spatial, kernel, strides, dilation):
    """<windows(x), w> == <x, col2im(w)> for every x, w: overlapping or not."""
    rng = np.random.default_rng(0)
    out, pads = plan("L", spatial, kernel, strides, dilation, "valid", "k")
    x = pad_spatial(rng.standard_normal((2, *spatial, 3)), pads)
    view = windows(x, out, kernel, strides, dilation)
    w = rng.standard_normal(view.shape)
    assert np.isclose((view * w).sum(), (x * col2im(w, x.shape, strides, dilation)).sum())

"""NumPy layers with Keras names, arguments and weight layouts. Importing this package registers
every layer class in `LAYERS` under its Keras class name."""

from nntrain.layers import (  # noqa: F401  (imported to register the layers)
    activation_layers, attention, augmentation, conv, conv_transpose, core, embedding, maxout,
    masking, merge, noise, normalization, pooling, recurrent, reshaping, wrappers,
)
from nntrain.layers.base import LAYERS, Layer, register, snake_case

__all__ = ["LAYERS", "Layer", "register", "snake_case"]

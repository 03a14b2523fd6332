"""Summary counts and output shapes of a small model of each layer added for issue 13, and of
the configs that use them, pinned against Keras 3.15's model.summary().

The numbers were produced by real Keras (torch backend) from these very entries:
``KERAS_BACKEND=torch PYTHONPATH=. python tools/keras_reference.py`` builds the Keras model of
each case (keras_hub's PositionEmbedding and Maxout, which Keras lacks, as the Keras layers
with the same weights) and compares with the numbers below.
"""

import pytest

from nntrain import from_config
from nntrain.builder import build_model
from nntrain.summary import model_summary
from tests.conftest import ROOT

# (name, per-sample input shape(s), layer entries, Keras total, trainable, output shape)
CASES = [
    ("mha_self", [10, 16], [{"MultiHeadAttention": {"num_heads": 4, "key_dim": 8}}],
     2160, 2160, [None, 10, 16]),
    ("mha_query_value", {"q": [10, 16], "v": [12, 6]},
     [{"MultiHeadAttention": {"num_heads": 2, "key_dim": 5, "value_dim": 3,
                              "inputs": ["q", "v"]}}], 394, 394, [None, 10, 16]),
    ("mha_query_value_key", {"q": [10, 16], "v": [12, 6], "k": [12, 4]},
     [{"MultiHeadAttention": {"num_heads": 2, "key_dim": 5, "output_shape": 7,
                              "use_bias": False, "inputs": ["q", "v", "k"]}}],
     330, 330, [None, 10, 7]),
    ("conv1d_transpose", [40, 3],
     [{"Conv1DTranspose": {"filters": 8, "kernel_size": 5, "strides": 2, "padding": "same"}}],
     128, 128, [None, 80, 8]),
    ("conv2d_transpose", [7, 7, 4],
     [{"Conv2DTranspose": {"filters": 6, "kernel_size": 3, "strides": 2}}],
     222, 222, [None, 15, 15, 6]),
    ("upsampling1d", [10, 3], [{"UpSampling1D": {"size": 3}}], 0, 0, [None, 30, 3]),
    ("upsampling2d", [4, 5, 3], [{"UpSampling2D": {"size": [2, 3],
                                                   "interpolation": "bilinear"}}],
     0, 0, [None, 8, 15, 3]),
    ("zeropadding1d", [10, 3], [{"ZeroPadding1D": {"padding": [1, 2]}}], 0, 0, [None, 13, 3]),
    ("zeropadding2d", [4, 5, 3], [{"ZeroPadding2D": {"padding": [[1, 0], [2, 3]]}}],
     0, 0, [None, 5, 10, 3]),
    ("cropping1d", [10, 3], [{"Cropping1D": {"cropping": [1, 2]}}], 0, 0, [None, 7, 3]),
    ("cropping2d", [6, 7, 3], [{"Cropping2D": {"cropping": [[1, 0], [2, 3]]}}],
     0, 0, [None, 5, 2, 3]),
    ("spatial_dropout1d", [10, 3], [{"SpatialDropout1D": {"rate": 0.3}}], 0, 0, [None, 10, 3]),
    ("spatial_dropout2d", [4, 5, 3], [{"SpatialDropout2D": {"rate": 0.3}}],
     0, 0, [None, 4, 5, 3]),
    ("gaussian_noise", [10, 3], [{"GaussianNoise": {"stddev": 0.1}}], 0, 0, [None, 10, 3]),
    ("gaussian_dropout", [10, 3], [{"GaussianDropout": {"rate": 0.2}}], 0, 0, [None, 10, 3]),
    ("alpha_dropout", [10, 3], [{"AlphaDropout": {"rate": 0.2}}], 0, 0, [None, 10, 3]),
    ("repeat_vector", [6], [{"RepeatVector": {"n": 4}}], 0, 0, [None, 4, 6]),
    ("permute", [4, 5, 3], [{"Permute": {"dims": [3, 1, 2]}}], 0, 0, [None, 3, 4, 5]),
    ("relu", [10], [{"ReLU": {"max_value": 6.0, "negative_slope": 0.1, "threshold": 0.5}}],
     0, 0, [None, 10]),
    ("softmax", [4, 5], [{"Softmax": {"axis": 1}}], 0, 0, [None, 4, 5]),
    ("group_normalization", [10, 8], [{"GroupNormalization": {"groups": 4}}],
     16, 16, [None, 10, 8]),
    ("random_flip", [8, 8, 1], [{"RandomFlip": {}}], 0, 0, [None, 8, 8, 1]),
    ("random_translation", [8, 8, 1],
     [{"RandomTranslation": {"height_factor": 0.1, "width_factor": 0.2}}],
     0, 0, [None, 8, 8, 1]),
    ("random_crop", [8, 8, 1], [{"RandomCrop": {"height": 6, "width": 5}}],
     0, 0, [None, 6, 5, 1]),
    ("random_rotation", [8, 8, 1], [{"RandomRotation": {"factor": 0.1}}], 0, 0, [None, 8, 8, 1]),
    ("random_zoom", [8, 8, 1], [{"RandomZoom": {"height_factor": 0.2}}], 0, 0, [None, 8, 8, 1]),
    ("maxout", [10], [{"Maxout": {"units": 4, "pieces": 3}}], 132, 132, [None, 4]),
    ("position_embedding", [40, 32], [{"PositionEmbedding": {"sequence_length": 40}}],
     1280, 1280, [None, 40, 32]),
]


def model_config(shape, layers) -> dict:
    if isinstance(shape, dict):
        return {"inputs": shape, "layers": layers}
    return {"input_shape": shape, "layers": layers}


@pytest.mark.parametrize("name,shape,layers,total,trainable,output",
                         CASES, ids=[c[0] for c in CASES])
def test_new_layers_have_keras_counts_and_shapes(name, shape, layers, total, trainable, output):
    s = model_summary(build_model(model_config(shape, layers)))
    assert (s["total_params"], s["trainable_params"]) == (total, trainable)
    assert s["layers"][-1]["output_shape"] == output


# (config, Keras total, trainable): the configs that use the new layers
SHIPPED = [
    ("mnist1d_transformer.yaml", 18_890, 18_890),
    ("digits_autoencoder.yaml", 3_217, 3_217),
]


@pytest.mark.parametrize("config,total,trainable", SHIPPED)
def test_shipped_configs_have_keras_counts(config, total, trainable):
    s = model_summary(from_config.build(from_config.open_config(ROOT / "configs" / config)))
    assert (s["total_params"], s["trainable_params"]) == (total, trainable)

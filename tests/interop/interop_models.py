"""Shared pieces of the Keras interop tests (imported by them; pytest puts this directory on
sys.path): tiny model configs, the nntrain twins of the Keras models in record_keras_layout.py,
and models built from them with random weights."""

import numpy as np

from nntrain.builder import build_model
from nntrain.data import Normalizer

MODELS = {
    "mlp_bn": {"input_shape": [40], "layers": [
        {"Dense": {"units": 8}}, {"BatchNormalization": {}}, {"Activation": {"activation": "relu"}},
        {"Dropout": {"rate": 0.2}}, {"Dense": {"units": 3, "activation": "softmax"}}]},
    "cnn": {"input_shape": [40, 1], "layers": [
        {"Conv1D": {"filters": 4, "kernel_size": 5, "activation": "relu"}},
        {"MaxPooling1D": {"pool_size": 3}}, {"Conv1D": {"filters": 6, "kernel_size": 5}},
        {"GlobalAveragePooling1D": {}}, {"Dropout": {"rate": 0.5}}, {"Dense": {"units": 3}}]},
    "rnn": {"input_shape": [10, 2], "layers": [
        {"LSTM": {"units": 4, "return_sequences": True}}, {"GRU": {"units": 3}},
        {"Dense": {"units": 2}}]},
    "bidirectional": {"input_shape": [10, 2], "layers": [
        {"Bidirectional": {"layer": {"LSTM": {"units": 4, "return_sequences": True}}}},
        {"Bidirectional": {"layer": {"GRU": {"units": 3}}}}, {"Dense": {"units": 2}}]},
    "misc": {"input_shape": [10], "layers": [
        {"Embedding": {"input_dim": 20, "output_dim": 4}},
        {"SimpleRNN": {"units": 3, "return_sequences": True}},
        {"TimeDistributed": {"layer": {"Dense": {"units": 2, "use_bias": False}}}},
        {"LayerNormalization": {}}, {"PReLU": {}}, {"Flatten": {}}, {"Dense": {"units": 2}}]},
    # config order c, a, b; Keras's functional order is a, b, c (by depth from the output)
    "dag": {"input_shape": [6], "layers": [
        {"Dense": {"name": "c", "units": 4}},
        {"Dense": {"name": "a", "units": 3, "inputs": "input_layer"}},
        {"Dense": {"name": "b", "units": 4}},
        {"Add": {"inputs": ["b", "c"]}}, {"Dense": {"units": 2}}]},
    "two_inputs": {"inputs": {"input1": [16], "input2": [32]}, "layers": [
        {"Dense": {"name": "x1", "units": 8, "activation": "relu", "inputs": "input1"}},
        {"Dense": {"name": "x2", "units": 8, "activation": "relu", "inputs": "input2"}},
        {"Add": {"inputs": ["x1", "x2"]}}, {"Dense": {"units": 4}}]},
    # not pinned: the other layers, and argument forms the Keras config must translate
    "kitchen": {"input_shape": [10, 3], "layers": [
        {"Conv1D": {"filters": 4, "kernel_size": 3, "padding": "causal",
                    "kernel_initializer": {"RandomNormal": {"stddev": 0.02}},
                    "activity_regularizer": "l2"}},
        {"LayerNormalization": {"epsilon": 0.01}}, {"PReLU": {"shared_axes": [1]}},
        {"SimpleRNN": {"units": 5, "return_sequences": True,
                       "recurrent_regularizer": {"l1": 0.01, "l2": 0.02}}},
        {"TimeDistributed": {"layer": {"Dense": {"units": 3,
                                                 "kernel_regularizer": {"L1L2": {"l1": 0.1}}}}}},
        {"LeakyReLU": {"negative_slope": 0.1}}, {"ELU": {}},
        {"AveragePooling1D": {"pool_size": 2, "padding": "same"}},
        {"Bidirectional": {"layer": {"GRU": {"units": 2, "return_sequences": True}},
                           "merge_mode": "sum"}},
        {"Bidirectional": {"layer": {"LSTM": {"units": 2, "go_backwards": False,
                                              "unit_forget_bias": False}}, "merge_mode": "ave"}},
        {"Dropout": {"rate": 0.3}},
        {"Dense": {"units": 4, "activation": "softmax", "kernel_initializer": "he_normal",
                   "kernel_regularizer": "l1_l2"}}]},
    # masks: Embedding(mask_zero) ids include 0; Masking sees no all-zero step in random data
    "masked": {"input_shape": [10], "layers": [
        {"Embedding": {"input_dim": 20, "output_dim": 4, "mask_zero": True}},
        {"Bidirectional": {"layer": {"LSTM": {"units": 3, "return_sequences": True}}}},
        {"GRU": {"units": 3, "return_sequences": True, "go_backwards": True}},
        {"GlobalAveragePooling1D": {}}, {"Dense": {"units": 2}}]},
    "masking": {"input_shape": [6, 2], "layers": [
        {"Masking": {"mask_value": 0.0}}, {"SimpleRNN": {"units": 3}}, {"Dense": {"units": 2}}]},
    "image": {"input_shape": [8, 8, 1], "layers": [
        {"Conv2D": {"filters": 3, "kernel_size": 3, "padding": "same", "activation": "relu",
                    "kernel_initializer": "HeNormal"}},
        {"BatchNormalization": {"momentum": 0.9, "center": False}},
        {"MaxPooling2D": {"pool_size": 2}}, {"AveragePooling2D": {"pool_size": 2}},
        {"Flatten": {}}, {"Reshape": {"target_shape": [4, 3]}}, {"GlobalMaxPooling1D": {}},
        {"Activation": {"activation": "gelu"}},
        {"GlobalMaxPooling2D": {"inputs": "batch_normalization"}},
        {"Add": {"inputs": ["activation", "global_max_pooling2d"]}}]},
    "branches": {"input_shape": [6], "layers": [
        {"Dense": {"name": "c", "units": 4}},
        {"Dense": {"name": "a", "units": 3, "inputs": "input_layer"}},
        {"Dense": {"name": "b", "units": 4, "activation": "tanh"}},
        {"Concatenate": {"inputs": ["b", "c"]}},
        {"Dense": {"name": "unused", "units": 5, "inputs": "a"}},
        {"Multiply": {"inputs": ["b", "c"]}}, {"Subtract": {"inputs": ["multiply", "c"]}},
        {"Dot": {"axes": 1, "normalize": True, "inputs": ["concatenate", "concatenate"]}},
        {"Average": {"inputs": ["b", "c"]}}, {"Maximum": {"inputs": ["b", "c", "average"]}},
        {"Minimum": {"inputs": ["maximum", "c"]}},
        {"Concatenate": {"inputs": ["dot", "subtract", "minimum"]}},
        {"Dense": {"units": 2, "activation": "sigmoid"}}], "outputs": "dense"},
    # a transformer encoder block: self-attention, residual Adds, LayerNormalization, a
    # feed-forward pair (functional in Keras: MultiHeadAttention is called on query and value)
    "transformer": {"input_shape": [8, 6], "layers": [
        {"MultiHeadAttention": {"num_heads": 2, "key_dim": 3}},
        {"Add": {"inputs": ["input_layer", "multi_head_attention"]}},
        {"LayerNormalization": {"epsilon": 1.0e-6}},
        {"Dense": {"units": 12, "activation": "relu"}}, {"Dense": {"units": 6}},
        {"Add": {"inputs": ["layer_normalization", "dense_1"]}},
        {"LayerNormalization": {"epsilon": 1.0e-6}}, {"GlobalAveragePooling1D": {}},
        {"Dense": {"units": 3, "activation": "softmax"}}]},
    # the other ways to call it: a causal mask (a call argument in Keras), query + value,
    # query + value + key, value_dim, output_shape, no biases, attention dropout, 2-D attention
    "attention": {"inputs": {"target": [6, 4], "source": [5, 3], "image": [3, 4, 2]},
                  "layers": [
        {"Dense": {"name": "keys", "units": 2, "inputs": "source"}},
        {"MultiHeadAttention": {"name": "causal", "num_heads": 2, "key_dim": 3,
                                "use_causal_mask": True, "inputs": "target"}},
        {"MultiHeadAttention": {"name": "cross", "num_heads": 3, "key_dim": 2, "value_dim": 4,
                                "output_shape": 5, "use_bias": False,
                                "inputs": ["causal", "source", "keys"]}},
        {"MultiHeadAttention": {"name": "cross2", "num_heads": 1, "key_dim": 2, "dropout": 0.2,
                                "inputs": ["cross", "source"]}},
        {"MultiHeadAttention": {"name": "pixels", "num_heads": 2, "key_dim": 2,
                                "output_shape": [2, 3], "inputs": "image"}},
        {"Flatten": {"name": "f1", "inputs": "cross2"}}, {"Flatten": {"name": "f2",
                                                                      "inputs": "pixels"}},
        {"Concatenate": {"inputs": ["f1", "f2"]}}, {"Dense": {"units": 2}}]},
    # masks into attention: query, value and key masks (Embedding mask_zero, passed on by
    # Dense), combined with the causal mask; the output carries the query's mask (small
    # vocabularies: a quarter to a third of the ids are 0)
    "masked_attention": {"inputs": {"q": [6], "v": [7]}, "layers": [
        {"Embedding": {"name": "eq", "input_dim": 4, "output_dim": 4, "mask_zero": True,
                       "inputs": "q"}},
        {"Embedding": {"name": "ev", "input_dim": 3, "output_dim": 3, "mask_zero": True,
                       "inputs": "v"}},
        {"Dense": {"name": "keys", "units": 2, "inputs": "ev"}},
        {"MultiHeadAttention": {"name": "self", "num_heads": 2, "key_dim": 3,
                                "use_causal_mask": True, "inputs": "eq"}},
        {"MultiHeadAttention": {"name": "cross", "num_heads": 2, "key_dim": 2,
                                "inputs": ["self", "ev", "keys"]}},
        {"GlobalAveragePooling1D": {}}, {"Dense": {"units": 2}}]},
    # a 1-D conv autoencoder: transposed convolutions (strides, output_padding, dilation),
    # up-sampling, zero padding and cropping
    "autoencoder": {"input_shape": [12, 2], "layers": [
        {"Conv1D": {"filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"}},
        {"MaxPooling1D": {"pool_size": 2}},
        {"ZeroPadding1D": {"padding": [1, 2]}}, {"Cropping1D": {"cropping": [2, 1]}},
        {"Conv1DTranspose": {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same",
                             "activation": "relu"}},
        {"UpSampling1D": {"size": 2}}, {"ZeroPadding1D": {}},
        {"Conv1DTranspose": {"filters": 2, "kernel_size": 4, "strides": 3,
                             "output_padding": 1}},
        {"Conv1DTranspose": {"filters": 3, "kernel_size": 3, "dilation_rate": 2,
                             "padding": "same", "use_bias": False}},
        {"Conv1DTranspose": {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same",
                             "output_padding": 1, "activation": "tanh"}},
        {"Cropping1D": {"cropping": 3}}]},
    # 2-D: transposed convolutions, GroupNormalization (groups, instance norm), padding,
    # cropping, nearest and bilinear up-sampling
    "decoder": {"input_shape": [4, 4, 3], "layers": [
        {"Conv2DTranspose": {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}},
        {"GroupNormalization": {"groups": 2}},
        {"ZeroPadding2D": {"padding": [[1, 0], [2, 1]]}},
        {"Cropping2D": {"cropping": [[0, 1], [1, 2]]}},
        {"UpSampling2D": {"size": [2, 1], "interpolation": "bilinear"}},
        {"Conv2DTranspose": {"filters": 2, "kernel_size": [3, 2], "strides": [1, 2],
                             "output_padding": [0, 1], "use_bias": False}},
        {"GroupNormalization": {"groups": -1, "center": False, "epsilon": 0.01}},
        {"UpSampling2D": {}}, {"ZeroPadding2D": {"padding": 1}}, {"Cropping2D": {"cropping": 2}},
        {"Conv2D": {"filters": 2, "kernel_size": 3}}, {"GlobalAveragePooling2D": {}},
        {"Dense": {"units": 3}}]},
    # training-only noise and augmentation (the identity at inference), and the reshaping and
    # activation layers without weights
    "augment": {"input_shape": [8, 8, 3], "layers": [
        {"RandomFlip": {}}, {"RandomTranslation": {"height_factor": 0.2, "width_factor": 0.1}},
        {"RandomRotation": {"factor": 0.1, "fill_mode": "nearest"}},
        {"RandomZoom": {"height_factor": [-0.2, 0.1], "interpolation": "nearest"}},
        {"RandomCrop": {"height": 8, "width": 8}},
        {"GaussianNoise": {"stddev": 0.1}}, {"SpatialDropout2D": {"rate": 0.2}},
        {"Conv2D": {"filters": 4, "kernel_size": 3}},
        {"ReLU": {"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.2}},
        {"GaussianDropout": {"rate": 0.1}}, {"AlphaDropout": {"rate": 0.1}},
        {"Softmax": {"axis": [1, 2]}},
        {"Permute": {"dims": [3, 1, 2]}}, {"Reshape": {"target_shape": [4, 36]}},
        {"SpatialDropout1D": {"rate": 0.1}}, {"Softmax": {}}, {"GlobalMaxPooling1D": {}},
        {"RepeatVector": {"n": 3}}, {"Permute": {"dims": [2, 1]}}, {"Flatten": {}},
        {"Dense": {"units": 2}}]},
}


def randomize(model, rng) -> None:
    """Random values in every weight (positive moving variances), so that a weight put in the
    wrong place changes the predictions."""
    for key, w in model.weights().items():
        if key.endswith("moving_variance"):
            w[...] = rng.uniform(0.5, 2.0, w.shape)
        else:
            w[...] = rng.normal(0.0, 0.5, w.shape)


def inputs_for(model, n, rng) -> list[np.ndarray]:
    """Raw inputs: integer ids for an Embedding model (below the smallest vocabulary),
    shifted and scaled values otherwise."""
    vocabularies = [node.layer.input_dim for node in model.nodes if node.layer.integer_input]
    if vocabularies:
        return [rng.integers(0, min(vocabularies), (n, *s)).astype(np.float32)
                for s in model.input_shapes.values()]
    return [(rng.normal(size=(n, *s)) * 3 + 1).astype(np.float32)
            for s in model.input_shapes.values()]


def normalizer_for(model, rng) -> Normalizer:
    """Standard-normalization statistics per input feature (none for an Embedding model)."""
    if any(node.layer.integer_input for node in model.nodes):
        return Normalizer("none", [], [])
    shapes = list(model.input_shapes.values())
    return Normalizer("standard", [rng.normal(1.0, 0.5, s[-1:]) for s in shapes],
                      [rng.uniform(2.0, 4.0, s[-1:]) for s in shapes])


def random_model(cfg, seed=0):
    """A model built from `cfg` (or the name of one of MODELS) with random weights."""
    cfg = MODELS[cfg] if isinstance(cfg, str) else cfg
    rng = np.random.default_rng(seed)
    model = build_model(cfg, rng=rng)
    randomize(model, rng)
    return model

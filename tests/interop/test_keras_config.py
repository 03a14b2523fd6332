"""The Keras JSON config we write, checked without Keras: how layers are called in the
functional graph (MultiHeadAttention's query, value, ``key=`` and ``use_causal_mask``), and that
every layer the export supports is in the zoo that test_keras_real.py runs through Keras."""

import pytest

from interop_models import MODELS, random_model
from nntrain.builder import build_model
from nntrain.data import Normalizer
from nntrain.errors import ConfigError
from nntrain.interop.keras_config import keras_model_config
from nntrain.interop.keras_layout import (KERAS_LAYERS, NOT_IN_KERAS, is_sequential,
                                          layer_paths)
from nntrain.interop.keras_weights import save_keras_weights
from nntrain.layers import LAYERS

NONE = Normalizer("none", [], [])


def layers_of(name):
    spec = keras_model_config(MODELS[name], random_model(name), NONE, name=name)
    return spec, {x["config"]["name"]: x for x in spec["config"]["layers"]}


def sources(node_part):
    """The layer names the tensors of an inbound node's args or kwargs come from."""
    if isinstance(node_part, dict) and node_part.get("class_name") == "__keras_tensor__":
        return node_part["config"]["keras_history"][0]
    if isinstance(node_part, dict):
        return {k: sources(v) for k, v in node_part.items()}
    if isinstance(node_part, list):
        return [sources(v) for v in node_part]
    return node_part


def test_a_chain_with_attention_is_a_functional_model():
    """Keras's Sequential calls each layer on one tensor; MultiHeadAttention needs a query
    and a value, so the model is functional in both files (an input_layer group too)."""
    model = build_model(MODELS["transformer"])
    assert not is_sequential(model)
    assert layer_paths(model)[0] == ("layers/input_layer", "input_layer")
    spec, layers = layers_of("transformer")
    assert spec["class_name"] == "Functional"
    node = layers["multi_head_attention"]["inbound_nodes"][0]
    assert sources(node) == {"args": ["input_layer", "input_layer"], "kwargs": {}}


def test_attention_calls_follow_kerass_signature():
    """mha(query, value, key=None, use_causal_mask=False): our inputs [q], [q, v] or
    [q, v, k]; use_causal_mask leaves the layer's config for the call."""
    _, layers = layers_of("attention")
    calls = {name: sources(layers[name]["inbound_nodes"][0])
             for name in ("causal", "cross", "cross2", "pixels")}
    assert calls == {
        "causal": {"args": ["target", "target"], "kwargs": {"use_causal_mask": True}},
        "cross": {"args": ["causal", "source"], "kwargs": {"key": "keys"}},
        "cross2": {"args": ["cross", "source"], "kwargs": {}},
        "pixels": {"args": ["image", "image"], "kwargs": {}}}
    assert all("use_causal_mask" not in layers[n]["config"] for n in calls)
    assert layers["cross"]["config"]["output_shape"] == 5
    assert layers["cross2"]["config"]["dropout"] == 0.2


def test_other_layers_are_called_on_one_tensor_or_a_list():
    _, layers = layers_of("branches")
    assert sources(layers["maximum"]["inbound_nodes"][0]) == {
        "args": [["b", "c", "average"]], "kwargs": {}}
    assert sources(layers["dense"]["inbound_nodes"][0]) == {"args": ["concatenate_1"],
                                                            "kwargs": {}}


def test_every_registered_layer_is_exported_or_refused_with_a_reason():
    """A layer that lands later must be added to the table (or to NOT_IN_KERAS)."""
    assert set(KERAS_LAYERS) | set(NOT_IN_KERAS) == set(LAYERS.names())
    assert not set(KERAS_LAYERS) & set(NOT_IN_KERAS)


def test_every_exported_layer_is_in_the_zoo():
    """So test_keras_real.py runs each of them through real Keras."""
    used = set()

    def walk(entry):
        spec, args, _, _ = LAYERS.parse(entry, "layer")
        used.add(spec.name)
        if isinstance(args.get("layer"), dict):
            walk(args["layer"])
    for cfg in MODELS.values():
        for entry in cfg["layers"]:
            walk(entry)
    assert set(KERAS_LAYERS) <= used, sorted(set(KERAS_LAYERS) - used)


def crop(size):
    return {"input_shape": [size, size, 1], "layers": [
        {"RandomCrop": {"height": 8, "width": 8}}, {"Flatten": {}}, {"Dense": {"units": 2}}]}


def test_random_crop_exports_only_for_inputs_of_its_target_size(tmp_path):
    """At inference Keras 3.15 returns a larger image uncropped (test_keras_real.py shows
    it), nntrain crops it: the Keras model would predict something else."""
    keras_model_config(crop(8), build_model(crop(8)), NONE)
    model = build_model(crop(10))
    with pytest.raises(ConfigError) as e:
        keras_model_config(crop(10), model, NONE)
    assert e.value.key == "model.layers.0"
    assert "layer 'random_crop' (RandomCrop): at inference Keras 3.15 returns the 10x10 image " \
           "uncropped where nntrain crops it to 8x8" in str(e.value)
    pytest.importorskip("h5py")
    save_keras_weights(model, tmp_path / "m.weights.h5")   # no weights involved: the same file

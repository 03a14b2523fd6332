"""Turn the config's `model` section into a built `Network`.

Each layer entry is a one-key map ``LayerName: {arguments}``; `name` and `inputs` are ours, the
rest go to the layer's constructor, checked against its signature first so that an unknown
argument gets a did-you-mean. Every error raised while constructing or building a layer is
prefixed with the entry's key path (``model.layers.3.Conv1D``).
"""

from __future__ import annotations

import numpy as np

from nntrain import memory, validate
from nntrain.errors import ConfigError, InputError, unknown
from nntrain.layers import LAYERS, snake_case
from nntrain.layers.base import shapes_only as no_weights
from nntrain.model import Network, Node

SINGLE_INPUT_NAME = "input_layer"  # Keras 3's name for a Sequential model's input


def make_layer(entry, key: str):
    """Construct (not build) a layer from its one-key config map; returns (layer, the
    `inputs` it names, the entry's key path)."""
    spec, args, _, key = LAYERS.parse(entry, key)
    inputs = args.pop("inputs", None)
    return LAYERS.call(spec, args, key), inputs, key


def _input_shapes(model_cfg: dict) -> dict[str, tuple]:
    has_single, has_multi = "input_shape" in model_cfg, "inputs" in model_cfg
    if has_single == has_multi:
        raise ConfigError("give either input_shape (one input) or inputs (a map of named inputs)",
                          key="model")
    if has_single:
        return {SINGLE_INPUT_NAME: validate.shape("model.input_shape", model_cfg["input_shape"])}
    inputs = model_cfg["inputs"]
    if not isinstance(inputs, dict) or not inputs:
        raise ConfigError(f"expected a map of input name to shape, received {inputs!r}",
                          key="model.inputs")
    return {str(k): validate.shape(f"model.inputs.{k}", v) for k, v in inputs.items()}


def _source_names(inputs, previous: str, known: dict, key: str) -> list[str]:
    if inputs is None:
        return [previous]
    names = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"expected a layer or input name or a list of them, received "
                          f"{inputs!r}", key=f"{key}.inputs")
    for n in names:
        if n not in known:
            raise unknown("layer or input", n, known, key=f"{key}.inputs")
    return names


def build_model(model_cfg: dict, *, dtype="float32", rng: np.random.Generator | None = None,
                shapes_only: bool = False) -> Network:
    """Build every layer (weights initialized from `rng`) and check all shapes. The shapes
    are built first, with no weight allocated, and checked against the memory limit (an
    oversized model is refused naming its largest weight); with `shapes_only` that build is
    the answer (weights are `WeightShape`s: what summary needs, for a model of any size)."""
    with no_weights():
        plan, keys = _build(model_cfg, np.dtype(dtype).type, None)
    if shapes_only:
        return plan
    memory.check_weights(plan, keys)
    return _build(model_cfg, np.dtype(dtype).type,
                  rng if rng is not None else np.random.default_rng(0))[0]


def _build(model_cfg: dict, dtype, rng) -> tuple[Network, list[str]]:
    """The network and each layer's config key path."""
    input_shapes = _input_shapes(model_cfg)
    layers_cfg = model_cfg.get("layers")
    if not isinstance(layers_cfg, list) or not layers_cfg:
        raise ConfigError("expected a non-empty list of layers", key="model.layers")
    shapes: dict[str, tuple] = dict(input_shapes)   # name → per-sample output shape
    masked = {name: False for name in input_shapes}  # name → whether it carries a mask
    counters: dict[str, int] = {}
    nodes: list[Node] = []
    keys: list[str] = []
    previous = next(iter(input_shapes))
    for i, entry in enumerate(layers_cfg):
        layer, inputs, key = make_layer(entry, f"model.layers.{i}")
        if layer.name is None:
            stem = snake_case(type(layer).__name__)
            count = counters.get(stem, 0)
            counters[stem] = count + 1
            layer.name = stem if count == 0 else f"{stem}_{count}"
            while layer.name in shapes:   # a user name took it: Keras skips to the next number
                count = counters[stem]
                counters[stem] = count + 1
                layer.name = f"{stem}_{count}"
        elif not isinstance(layer.name, str) or layer.name in shapes:
            raise ConfigError(f"layer name {layer.name!r} is already used", key=f"{key}.name")
        sources = _source_names(inputs, previous, shapes, key)
        if layer.multi_input:
            if len(sources) < layer.fewest_inputs:
                raise ConfigError(f"{type(layer).__name__} merges several inputs; name them with "
                                  f"inputs: [a, b]", key=f"{key}.inputs")
            in_shape = [shapes[s] for s in sources]
            in_masked = [masked[s] for s in sources]
        else:
            if len(sources) != 1:
                raise ConfigError(f"{type(layer).__name__} takes one input, received "
                                  f"{sources}", key=f"{key}.inputs")
            in_shape = shapes[sources[0]]
            in_masked = masked[sources[0]]
        layer.dtype = dtype
        try:
            out_shape = tuple(layer.compute_output_shape(in_shape))
            layer.build(in_shape, rng)
            masked[layer.name] = bool(layer.output_masked(in_masked))
        except InputError as e:
            raise e.prefixed(key) from None
        shapes[layer.name] = out_shape
        nodes.append(Node(layer, sources, in_shape, out_shape, masked[layer.name]))
        keys.append(key)
        previous = layer.name
    output = model_cfg.get("outputs", previous)
    if isinstance(output, list) and len(output) == 1:
        output = output[0]
    if not isinstance(output, str) or output not in {n.layer.name for n in nodes}:
        raise unknown("output layer", output, [n.layer.name for n in nodes],
                      key="model.outputs")
    return Network(input_shapes, nodes, output, dtype=dtype), keys

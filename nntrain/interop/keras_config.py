"""The architecture as a Keras 3 JSON config (what ``model.to_json()`` writes and
``keras.models.model_from_json`` reads), with the run's input normalization in front.

A layer's config is its entry in our YAML — the arguments are Keras's names already — with its
resolved name; initializers and regularizers become Keras's class names or serialized objects
with the same values (a regularizer always as explicit factors: Keras's ``l1_l2`` shorthand
means zeros, ours 0.01 each).
Only layers in `KERAS_LAYERS` are exported. A layer argument that Keras takes when the layer
is called (`CALL_ARGUMENTS`: MultiHeadAttention's ``use_causal_mask``) goes into the layer's
inbound node instead of its config, which makes the model functional (`keras_layout`
`is_sequential`). Each normalized input gets a Keras
``Normalization(axis=-1, mean=shift, variance=scale**2)``: Keras computes
``(x - mean) / max(sqrt(variance), 1e-7)``, and in float32 ``sqrt(fl(scale**2)) == scale``
exactly, so raw data going into both models is normalized identically. Keras keeps mean and
variance in the config (no variables), so the weights file is the same with or without it.
"""

from __future__ import annotations

import numpy as np

from nntrain import regularizers
from nntrain.errors import CheckpointError, ConfigError, InputError
from nntrain.initializers import INITIALIZERS
from nntrain.interop.keras_layout import is_sequential, keras_layer
from nntrain.layers import LAYERS
from nntrain.model import Network

KERAS_EPSILON = 1e-7   # keras.backend.epsilon(): the floor of Normalization's sqrt(variance)

# Our layer arguments that are call arguments in Keras (passed in the inbound node's kwargs).
CALL_ARGUMENTS = {"MultiHeadAttention": ("use_causal_mask",)}


def _object(module: str, class_name: str, config: dict) -> dict:
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": None}


def _initializer(spec):
    """An initializer name or ``{RandomNormal: {stddev: 0.02}}`` as Keras's class name (Keras
    takes class names as strings) or serialized object."""
    if isinstance(spec, dict) and len(spec) == 1:
        (name, args), = spec.items()
        return _object("keras.initializers", INITIALIZERS.lookup(name).name, dict(args or {}))
    entry = INITIALIZERS.lookup(spec)
    return entry.name if entry else spec


def _regularizer(spec):
    """Any of our regularizer forms (``l2``, ``{l2: 1e-4}``, ``{L1L2: {...}}``, ``l1_l2``) as
    the Keras object with the same factors: L1, L2 or L1L2."""
    reg = regularizers.get(spec)
    if reg is None:
        return None
    if not reg.l1:
        return _object("keras.regularizers", "L2", {"l2": reg.l2})
    if not reg.l2:
        return _object("keras.regularizers", "L1", {"l1": reg.l1})
    return _object("keras.regularizers", "L1L2", {"l1": reg.l1, "l2": reg.l2})


def _arguments(kind: str, args: dict, dtype: str) -> dict:
    out = {}
    for k, v in args.items():
        if k == "inputs" or k in CALL_ARGUMENTS.get(kind, ()):
            continue
        if k.endswith("_initializer"):
            v = _initializer(v)
        elif k.endswith("_regularizer"):
            v = _regularizer(v)
        elif k == "layer":   # a wrapper's inner layer, a one-key map like the layers list
            v = _layer_object(v, None, dtype)
        out[k] = v
    return {**out, "dtype": dtype}


def _layer_object(entry, layer, dtype: str) -> dict:
    """A serialized Keras layer from one of our layer entries; `layer` is the built layer
    (None for a wrapper's inner entry)."""
    spec, args, _, _ = LAYERS.parse(entry, "layer")
    kind = spec.name   # the canonical class name, whatever spelling the config used
    keras_layer(kind, layer.name if layer is not None else None)
    if layer is not None:
        _check_inference(kind, layer)
    config = _arguments(kind, args, dtype)
    if layer is not None:
        config["name"] = layer.name
    return _object("keras.layers", kind, config)


def _check_inference(kind: str, layer) -> None:
    """Refuse a layer whose Keras twin predicts differently. RandomCrop at inference: ours
    takes the central window (Keras's documented rule), Keras 3.15 returns the image uncropped;
    the two agree only when the image already has the target size."""
    if kind == "RandomCrop" and tuple(layer.input_shape[:2]) != (layer.height, layer.width):
        h, w = layer.input_shape[:2]
        raise ConfigError(
            f"layer {layer.name!r} (RandomCrop): at inference Keras 3.15 returns the {h}x{w} "
            f"image uncropped where nntrain crops it to {layer.height}x{layer.width}, so the "
            f"Keras model would not predict the same; export needs inputs of the target size")


def _call(node, tensors: list[dict], args: dict) -> dict:
    """The inbound node of `node` called on `tensors`: Keras's call signature of the layer.
    MultiHeadAttention is ``mha(query, value, key=None, use_causal_mask=False)``; our one
    input (self-attention) is the query and the value, a third is the key."""
    kind = type(node.layer).__name__
    kwargs = {k: args[k] for k in CALL_ARGUMENTS.get(kind, ()) if k in args}
    if kind == "MultiHeadAttention":
        query, value = tensors[0], tensors[1 if len(tensors) > 1 else 0]
        if len(tensors) > 2:
            kwargs = {"key": tensors[2], **kwargs}
        return {"args": [query, value], "kwargs": kwargs}
    return {"args": [tensors if node.layer.multi_input else tensors[0]], "kwargs": kwargs}


def _tensor(source: str, shape, dtype: str) -> dict:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None, *shape], "dtype": dtype, "keras_history": [source, 0, 0]}}


def _normalization(name: str, input_name: str, shift, scale, dtype: str) -> dict:
    scale = np.asarray(scale, dtype=np.float64)
    small = np.flatnonzero(scale < KERAS_EPSILON)
    if small.size:
        i = int(small[0])
        raise CheckpointError(f"input {input_name!r}: feature {i} has normalization scale "
                              f"{scale[i]:.3g}, below the {KERAS_EPSILON:g} floor of Keras's "
                              f"Normalization, which would divide by {KERAS_EPSILON:g} instead")
    config = {"name": name, "axis": -1, "invert": False,
              "mean": [float(v) for v in np.ravel(shift)],
              "variance": [float(v) for v in np.ravel(scale) ** 2], "dtype": dtype}
    return _object("keras.layers", "Normalization", config)


def _input_layer(name: str, shape, dtype: str) -> dict:
    return _object("keras.layers", "InputLayer",
                   {"batch_shape": [None, *shape], "dtype": dtype, "sparse": False,
                    "name": name})


def _unique(stem: str, used: set[str]) -> str:
    name, k = stem, 0
    while name in used:
        k += 1
        name = f"{stem}_{k}"
    used.add(name)
    return name


def keras_model_config(model_cfg: dict, model: Network, normalizer, name: str | None = None
                       ) -> dict:
    """The Keras config of the model that `model_cfg` (the config's `model` section) built as
    `model`, with `normalizer` (the run's statistics) in front of each input."""
    dtype = np.dtype(model.dtype).name
    layers = _layer_objects(model_cfg, model, dtype)
    norms = _normalizations(model, normalizer, dtype)
    if is_sequential(model):
        inp = model.input_names[0]
        stack = [_input_layer(inp, model.input_shapes[inp], dtype),
                 *(obj for _, obj in norms.values()), *(obj for obj, _, _ in layers)]
        return _object("keras", "Sequential", {"name": name or "sequential", "trainable": True,
                                               "layers": stack})
    return _functional(model, layers, norms, name or "functional", dtype)


def _layer_objects(model_cfg: dict, model: Network, dtype: str
                   ) -> list[tuple[dict, object, dict]]:
    """(serialized layer, node, its arguments) for every layer the output uses, in config
    order."""
    needed, out = _used(model), []
    for i, node in enumerate(model.nodes):
        if node.layer.name in needed:
            entry = model_cfg["layers"][i]
            try:
                out.append((_layer_object(entry, node.layer, dtype), node,
                            LAYERS.parse(entry, "layer")[1]))
            except InputError as e:
                raise e.prefixed(f"model.layers.{i}") from None
    return out


def _normalizations(model: Network, normalizer, dtype: str) -> dict[str, tuple[str, dict]]:
    """Input name → (name, serialized Normalization) for each input, if the run normalizes."""
    if normalizer.method == "none":
        return {}
    used = set(model.input_names) | {n.layer.name for n in model.nodes}
    out = {}
    for i, inp in enumerate(model.input_names):
        norm = _unique("normalization", used)
        out[inp] = (norm, _normalization(norm, inp, normalizer.shifts[i], normalizer.scales[i],
                                         dtype))
    return out


def _functional(model: Network, layers, norms, name: str, dtype: str) -> dict:
    """A Functional config: every layer with its inbound node (the tensors it is called on);
    layers that read a normalized input read its Normalization's output instead."""
    shapes = {**model.input_shapes, **{n.layer.name: n.output_shape for n in model.nodes}}
    feeds = {inp: norm for inp, (norm, _) in norms.items()}

    graph = [{**_input_layer(inp, shapes[inp], dtype), "name": inp, "inbound_nodes": []}
             for inp in model.input_names]
    graph += [{**obj, "name": norm, "inbound_nodes": [
        {"args": [_tensor(inp, shapes[inp], dtype)], "kwargs": {}}]}
              for inp, (norm, obj) in norms.items()]
    for obj, n, args in layers:
        tensors = [_tensor(feeds.get(s, s), shapes[s], dtype) for s in n.inputs]
        graph.append({**obj, "name": n.layer.name, "inbound_nodes": [_call(n, tensors, args)]})
    inputs = [[i, 0, 0] for i in model.input_names]
    return {**_object("keras.src.models.functional", "Functional",
                      {"name": name, "trainable": True, "layers": graph,
                       "input_layers": inputs[0] if len(inputs) == 1 else inputs,
                       "output_layers": [model.output, 0, 0]}),
            "registered_name": "Functional"}


def _used(model: Network) -> set[str]:
    """Layers the output depends on (a Keras model holds only those)."""
    seen, stack = set(), [model.output]
    while stack:
        name = stack.pop()
        if name in seen or name in model.input_shapes:
            continue
        seen.add(name)
        stack.extend(model.node(name).inputs)
    return seen

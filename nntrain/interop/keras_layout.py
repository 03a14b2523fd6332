"""Where each weight of a model lives in a Keras 3 ``.weights.h5`` file: one table
(`KERAS_LAYERS`) and the two orderings Keras uses.

Keras 3 (keras/src/saving/saving_lib.py: `save_weights_only` → `_save_state`) walks the model:
the model itself writes an empty group ``vars``; then the list ``model.layers``, where each
layer is addressed not by its name but by the snake_case of its class, numbered in order of
appearance (``layers/dense``, ``layers/dense_1``, ``layers/conv1d``). A layer writes its
variables as datasets ``<path>/vars/0``, ``/1``, ... in the order ``_trainable_variables +
_non_trainable_variables``, then recurses into its sub-objects by attribute name: a recurrent
layer's ``cell``, Bidirectional's ``forward_layer`` / ``backward_layer``, TimeDistributed's
``layer``. Every ``vars`` group carries a ``name`` attribute (the object's name), even when
empty; loading ignores it.

``model.layers`` is the config order for a Sequential model (its InputLayer left out) and, for a
functional model, Keras's graph order (`keras_order`), with the InputLayers.
"""

from __future__ import annotations

from dataclasses import dataclass

from nntrain.builder import SINGLE_INPUT_NAME
from nntrain.errors import ConfigError
from nntrain.layers import snake_case
from nntrain.model import Network


@dataclass(frozen=True)
class KerasLayer:
    """How one of our layer classes appears in a Keras weights file.

    variables: our param names in Keras's variable order (``vars/0``, ``vars/1``, ...); a param
        the layer does not have (``bias`` with ``use_bias: false``) is skipped, as in Keras.
    cell: the name Keras gives the ``cell`` sub-object that owns the variables (recurrent
        layers), or None when the layer owns them itself.
    wraps: for wrappers, (Keras attribute, our attribute, prefix of the inner layer's keys in
        the wrapper's params, formatted with the inner layer's name).
    """

    variables: tuple[str, ...] = ()
    cell: str | None = None
    wraps: tuple[tuple[str, str, str], ...] = ()


_KERNEL_BIAS = ("kernel", "bias")
_RECURRENT = ("kernel", "recurrent_kernel", "bias")
_NO_WEIGHTS = KerasLayer()

# Every layer with a one-to-one Keras counterpart (same class name, arguments and weights).
KERAS_LAYERS: dict[str, KerasLayer] = {
    "Dense": KerasLayer(_KERNEL_BIAS),
    "Conv1D": KerasLayer(_KERNEL_BIAS),
    "Conv2D": KerasLayer(_KERNEL_BIAS),
    "Embedding": KerasLayer(("embeddings",)),
    "BatchNormalization": KerasLayer(("gamma", "beta", "moving_mean", "moving_variance")),
    "LayerNormalization": KerasLayer(("gamma", "beta")),
    "PReLU": KerasLayer(("alpha",)),
    "SimpleRNN": KerasLayer(_RECURRENT, cell="simple_rnn_cell"),
    "LSTM": KerasLayer(_RECURRENT, cell="lstm_cell"),
    "GRU": KerasLayer(_RECURRENT, cell="gru_cell"),
    "Bidirectional": KerasLayer(wraps=(("forward_layer", "forward_layer", "{name}/"),
                                       ("backward_layer", "backward_layer", "{name}/"))),
    "TimeDistributed": KerasLayer(wraps=(("layer", "layer", ""),)),
    **{name: _NO_WEIGHTS for name in (
        "Activation", "Dropout", "Flatten", "Reshape", "LeakyReLU", "ELU",
        "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot")},
}

INPUT_LAYER = "InputLayer"


def keras_layer(kind: str, name: str | None) -> KerasLayer:
    """The table entry of layer class `kind`; a ConfigError naming the layer if it has none."""
    if kind not in KERAS_LAYERS:
        who = f"layer {name!r}" if name else "the wrapped layer"
        raise ConfigError(f"{who} ({kind}) has no one-to-one Keras counterpart; Keras export "
                          f"supports {', '.join(sorted(KERAS_LAYERS))}")
    return KERAS_LAYERS[kind]


# -- which layers, in which order ----------------------------------------------------------
def is_sequential(model: Network) -> bool:
    """Whether the config describes a Keras Sequential model: the single unnamed input
    (``input_shape``) and a chain where each layer takes the one before."""
    if model.input_names != [SINGLE_INPUT_NAME]:
        return False
    previous = SINGLE_INPUT_NAME
    for node in model.nodes:
        if node.inputs != [previous]:
            return False
        previous = node.layer.name
    return model.output == previous


def keras_order(model: Network) -> list[str]:
    """Input and layer names in the order of a Keras functional model's ``model.layers``
    (keras/src/ops/function.py `map_graph`): a depth-first walk from the output, following each
    layer's inputs in order, numbers the operations as it first meets them; an operation's depth
    is its longest distance to the output; the order is by depth, deepest first, then by that
    number. Inputs the output does not use come first among depth 0. Layers the output does not
    use are not in a Keras model and are left out."""
    parents = {n.layer.name: list(n.inputs) for n in model.nodes}
    number: dict[str, int] = {}
    finished: set[str] = set()
    post_order: list[str] = []
    stack: list[tuple[str, int]] = [(model.output, 0)]
    while stack:   # iterative form of Keras's recursive `_build_map_helper`
        name, i = stack.pop()
        if i == 0:
            if name in finished:
                continue
            number.setdefault(name, len(number))
        sources = parents.get(name, [])
        if i < len(sources):
            stack.append((name, i + 1))
            stack.append((sources[i], 0))
        elif name not in finished:
            finished.add(name)
            post_order.append(name)
    depth: dict[str, int] = {}
    for name in reversed(post_order):
        d = depth.setdefault(name, 0)
        for src in parents.get(name, []):
            depth[src] = max(depth.get(src, 0), d + 1)
    for name in model.input_names:
        if name not in depth:
            depth[name], number[name] = 0, -1
    return sorted(depth, key=lambda n: (-depth[n], number[n]))


def layer_paths(model: Network) -> list[tuple[str, str]]:
    """(group path in the file, our layer or input name) for every entry of Keras's
    ``model.layers``: ``("layers/dense_1", "dense_1")``, ``("layers/input_layer", "input1")``."""
    names = ([n.layer.name for n in model.nodes] if is_sequential(model)
             else keras_order(model))
    counts: dict[str, int] = {}
    out = []
    for name in names:
        kind = INPUT_LAYER if name in model.input_shapes else type(model.node(name).layer).__name__
        stem = snake_case(kind)
        k = counts.get(stem, 0)
        counts[stem] = k + 1
        out.append((f"layers/{stem}" if k == 0 else f"layers/{stem}_{k}", name))
    return out


# -- the groups of the file ----------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """One ``<path>/vars`` group: the ``name`` attribute Keras writes, and the model weights
    (keys of `Network.weights()`) stored in it as datasets ``0``, ``1``, ...; `layer` and `kind`
    name the model's layer for messages."""

    path: str
    name: str
    keys: tuple[str, ...]
    layer: str
    kind: str

    @property
    def vars(self) -> str:
        return f"{self.path}/vars" if self.path else "vars"


def _groups_of(layer, path: str, prefix: str, top) -> list[Group]:
    spec = keras_layer(type(layer).__name__, top.name)
    present = [v for v in spec.variables if v in layer.params]
    if not spec.wraps and set(layer.params) != set(present):
        extra = sorted(set(layer.params) - set(present))
        raise ConfigError(f"layer {top.name!r} ({type(top).__name__}): no Keras place for "
                          f"weight(s) {', '.join(extra)}")
    keys = tuple(prefix + v for v in present)
    kind = type(top).__name__
    if spec.cell:
        groups = [Group(path, layer.name, (), top.name, kind),
                  Group(f"{path}/cell", spec.cell, keys, top.name, kind)]
    else:
        groups = [Group(path, layer.name, keys, top.name, kind)]
    for keras_attr, attr, inner_prefix in spec.wraps:
        inner = getattr(layer, attr)
        groups += _groups_of(inner, f"{path}/{keras_attr}",
                             prefix + inner_prefix.format(name=inner.name), top)
    return groups


def weight_groups(model: Network) -> list[Group]:
    """Every ``vars`` group Keras 3 writes for this architecture, the model's own first."""
    kind = "Sequential" if is_sequential(model) else "Functional"
    groups = [Group("", kind.lower(), (), "model", kind)]
    for path, name in layer_paths(model):
        if name in model.input_shapes:
            groups.append(Group(path, name, (), name, INPUT_LAYER))
        else:
            layer = model.node(name).layer
            groups += _groups_of(layer, path, f"{layer.name}/", layer)
    return groups

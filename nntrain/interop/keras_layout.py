"""Where each weight of a model lives in a Keras 3 ``.weights.h5`` file: one table
(`KERAS_LAYERS`) and the two orderings Keras uses.

Keras 3 (keras/src/saving/saving_lib.py: `save_weights_only` → `_save_state`) walks the model:
the model itself writes an empty group ``vars``; then the list ``model.layers``, where each
layer is addressed not by its name but by the snake_case of its class, numbered in order of
appearance (``layers/dense``, ``layers/dense_1``, ``layers/conv1d``). A layer writes its
variables as datasets ``<path>/vars/0``, ``/1``, ... in the order ``_trainable_variables +
_non_trainable_variables``, then recurses into its sub-objects by attribute name: a recurrent
layer's ``cell``, MultiHeadAttention's ``query_dense`` ... ``output_dense``, ``_softmax`` and
``_dropout_layer``, Bidirectional's ``forward_layer`` / ``backward_layer``, TimeDistributed's
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
class Part:
    """A sub-object of a Keras layer with a group of its own: its attribute under the layer's
    group (``cell``, ``query_dense``), the name Keras gives it (the group's ``name``
    attribute, which loading ignores), and our param names in its variable order."""

    path: str
    name: str
    variables: tuple[str, ...] = ()


@dataclass(frozen=True)
class KerasLayer:
    """How one of our layer classes appears in a Keras weights file.

    variables: our param names in Keras's variable order (``vars/0``, ``vars/1``, ...); a param
        the layer does not have (``bias`` with ``use_bias: false``) is skipped, as in Keras.
    parts: sub-objects with groups of their own, e.g. a recurrent layer's ``cell`` that owns
        its variables, MultiHeadAttention's four EinsumDense projections.
    wraps: for wrappers, (Keras attribute, our attribute, prefix of the inner layer's keys in
        the wrapper's params, formatted with the inner layer's name).
    functional: Keras's Sequential cannot call the layer (MultiHeadAttention takes a query
        and a value), so a model with it is a functional model even when it is a chain.
    """

    variables: tuple[str, ...] = ()
    parts: tuple[Part, ...] = ()
    wraps: tuple[tuple[str, str, str], ...] = ()
    functional: bool = False


_KERNEL_BIAS = ("kernel", "bias")
_RECURRENT = ("kernel", "recurrent_kernel", "bias")
_NO_WEIGHTS = KerasLayer()


def _cell(name: str) -> KerasLayer:
    return KerasLayer(parts=(Part("cell", name, _RECURRENT),))


def _dense(path: str, name: str) -> Part:
    return Part(path, name, (f"{name}/kernel", f"{name}/bias"))


# keras/src/layers/attention/multi_head_attention.py: EinsumDense sub-layers named query, key,
# value and attention_output, saved under the attributes query_dense, ..., output_dense, and
# the Softmax and Dropout it applies to the scores (no variables)
_ATTENTION = KerasLayer(parts=(
    _dense("query_dense", "query"), _dense("key_dense", "key"), _dense("value_dense", "value"),
    _dense("output_dense", "attention_output"), Part("_softmax", "softmax"),
    Part("_dropout_layer", "dropout")), functional=True)

# Every layer with a one-to-one Keras counterpart (same class name, arguments and weights).
KERAS_LAYERS: dict[str, KerasLayer] = {
    "Dense": KerasLayer(_KERNEL_BIAS),
    "Conv1D": KerasLayer(_KERNEL_BIAS),
    "Conv2D": KerasLayer(_KERNEL_BIAS),
    "Conv1DTranspose": KerasLayer(_KERNEL_BIAS),   # kernel (k, filters, in) in both
    "Conv2DTranspose": KerasLayer(_KERNEL_BIAS),
    "Embedding": KerasLayer(("embeddings",)),
    "BatchNormalization": KerasLayer(("gamma", "beta", "moving_mean", "moving_variance")),
    "LayerNormalization": KerasLayer(("gamma", "beta")),
    "GroupNormalization": KerasLayer(("gamma", "beta")),
    "PReLU": KerasLayer(("alpha",)),
    "MultiHeadAttention": _ATTENTION,
    "SimpleRNN": _cell("simple_rnn_cell"),
    "LSTM": _cell("lstm_cell"),
    "GRU": _cell("gru_cell"),
    "Bidirectional": KerasLayer(wraps=(("forward_layer", "forward_layer", "{name}/"),
                                       ("backward_layer", "backward_layer", "{name}/"))),
    "TimeDistributed": KerasLayer(wraps=(("layer", "layer", ""),)),
    **{name: _NO_WEIGHTS for name in (
        "Activation", "Dropout", "Flatten", "Reshape", "LeakyReLU", "ELU", "ReLU", "Softmax",
        "Masking",
        "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D",
        "UpSampling2D", "RepeatVector", "Permute",
        # training only: the identity at inference in both (Keras's seed generators are not
        # saved in weights files)
        "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
        "AlphaDropout", "RandomFlip", "RandomTranslation", "RandomRotation", "RandomZoom",
        "RandomCrop",
        "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot")},
}

# Our layers that core Keras 3 lacks, and what a Keras user would use instead.
NOT_IN_KERAS = {
    "Maxout": "Keras 3 has no Maxout; in Keras it is Dense(units * pieces), Reshape((units, "
              "pieces)) and a max over the pieces",
    "PositionEmbedding": "it is keras_hub's layer (keras_hub.layers.PositionEmbedding), not "
                         "core Keras 3's",
}

INPUT_LAYER = "InputLayer"


def keras_layer(kind: str, name: str | None) -> KerasLayer:
    """The table entry of layer class `kind`; a ConfigError naming the layer if it has none."""
    if kind not in KERAS_LAYERS:
        who = f"layer {name!r}" if name else "the wrapped layer"
        why = NOT_IN_KERAS.get(kind, "see docs/keras-interop.md for the layers that export")
        raise ConfigError(f"{who} ({kind}) has no one-to-one Keras counterpart: {why}")
    return KERAS_LAYERS[kind]


# -- which layers, in which order ----------------------------------------------------------
def is_sequential(model: Network) -> bool:
    """Whether the config describes a Keras Sequential model: the single unnamed input
    (``input_shape``) and a chain where each layer takes the one before, each callable on one
    tensor."""
    if model.input_names != [SINGLE_INPUT_NAME]:
        return False
    if any(KERAS_LAYERS.get(type(n.layer).__name__, _NO_WEIGHTS).functional
           for n in model.nodes):
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
    kind = type(top).__name__

    def group(at: str, name: str, variables) -> Group:
        present = tuple(prefix + v for v in variables if v in layer.params)
        return Group(at, name, present, top.name, kind)

    groups = [group(path, layer.name, spec.variables)]
    groups += [group(f"{path}/{p.path}", p.name, p.variables) for p in spec.parts]
    placed = {k[len(prefix):] for g in groups for k in g.keys}
    if not spec.wraps and set(layer.params) != placed:
        extra = sorted(set(layer.params) - placed)
        raise ConfigError(f"layer {top.name!r} ({kind}): no Keras place for "
                          f"weight(s) {', '.join(extra)}")
    for keras_attr, attr, inner_prefix in spec.wraps:
        inner = getattr(layer, attr)
        groups += _groups_of(inner, f"{path}/{keras_attr}",
                             prefix + inner_prefix.format(name=inner.name), top)
    return groups


def weight_groups(model: Network) -> list[Group]:
    """Every ``vars`` group Keras 3 writes for this architecture, the model's own first. A
    layer without a Keras place is a ConfigError keyed by its entry (``model.layers.3``)."""
    kind = "Sequential" if is_sequential(model) else "Functional"
    groups = [Group("", kind.lower(), (), "model", kind)]
    index = {n.layer.name: i for i, n in enumerate(model.nodes)}
    for path, name in layer_paths(model):
        if name in model.input_shapes:
            groups.append(Group(path, name, (), name, INPUT_LAYER))
            continue
        layer = model.node(name).layer
        try:
            groups += _groups_of(layer, path, f"{layer.name}/", layer)
        except ConfigError as e:
            raise e.prefixed(f"model.layers.{index[name]}") from None
    return groups

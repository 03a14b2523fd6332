"""One way from a name in a config to an object, for every kind of thing a config names.

Keras resolves ``"adam"`` or ``{"class_name": "Adam", "config": {...}}`` through one ``get()`` →
``deserialize_keras_object``; here each kind (layer, callback, optimizer, schedule, loss, metric,
initializer, regularizer, activation) has one `Registry`, and `Registry.construct` is the only
code that splits a config entry, looks the name up, checks the arguments against the factory's
signature (with a did-you-mean) and prefixes errors with the entry's key path. The config
reference and the JSON schema read the same registries (`entries()`).

The forms an entry may take (each registry says which it accepts):

- a bare name: ``relu``, ``adam``, ``mse``, ``TerminateOnNaN``;
- a one-key map ``{Name: {arguments}}``: ``{Dense: {units: 10}}``, ``{RandomNormal: {stddev: 1}}``;
- a map with a name key: ``{name: adam, learning_rate: 0.01}``,
  ``{schedule: CosineDecay, initial_learning_rate: 0.1, decay_steps: 100}``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from nntrain.errors import ConfigError, InputError, unknown

REQUIRED = inspect.Parameter.empty   # the default of an argument that has none
REGISTRIES: dict[str, "Registry"] = {}


def signature_arguments(obj) -> dict[str, object]:
    """Argument name → default (`REQUIRED` when there is none) of a function or a class's
    constructor. A class's ``**kwargs`` is followed up the hierarchy (a recurrent layer hands
    its Keras arguments to a shared base), and only the most derived constructor's arguments
    can be required (a subclass fills in its base's positional ones)."""
    if not inspect.isclass(obj):
        return _parameters(inspect.signature(obj), required_ok=True)[0]
    out: dict[str, object] = {}
    first = True
    for klass in obj.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        found, open_ended = _parameters(inspect.signature(init), required_ok=first)
        for name, default in found.items():
            out.setdefault(name, default)
        first = False
        if not open_ended:
            break
    return out


def _parameters(sig: inspect.Signature, required_ok: bool) -> tuple[dict, bool]:
    found, open_ended = {}, False
    for name, p in sig.parameters.items():
        if p.kind is p.VAR_KEYWORD:
            open_ended = True
        elif name != "self" and p.kind is not p.VAR_POSITIONAL:
            found[name] = p.default if (required_ok or p.default is not p.empty) else None
    return found, open_ended


@dataclass
class Entry:
    """One registered name. `signature` is what the user's arguments are checked against
    (default: the factory itself); `refused` maps Keras arguments we know but do not offer to
    the reason given instead of "unknown"."""

    name: str
    factory: Callable
    aliases: tuple[str, ...] = ()
    signature: Callable | None = None
    refused: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""

    def arguments(self, hidden=()) -> dict[str, object]:
        """User-visible argument → default (`REQUIRED` if none), in signature order."""
        target = self.signature or self.factory
        if not callable(target):
            return {}
        args = signature_arguments(target)
        return {k: v for k, v in args.items() if k not in hidden}

    def summary(self) -> str:
        """One line of meaning: the doc given, else the first line of the docstring."""
        doc = self.doc or inspect.getdoc(self.signature or self.factory) or ""
        return doc.strip().split("\n\n")[0].replace("\n", " ")


class Registry:
    """The names of one kind of thing and how configs construct them.

    kind: how errors name the kind ("layer type", "optimizer", ...).
    expected: what a well-formed entry looks like, for the "expected ..., received ..." error.
    one_key / bare: whether ``{Name: {args}}`` and a bare name are accepted.
    name_key: the key naming the entry in a flat map (``name``, ``schedule``), if that form is
    accepted. case_insensitive: names match whatever their case (optimizers, schedules).
    hidden: arguments `construct` passes itself (never from the config), e.g. a metric's loss.
    instances: the entries are ready-made objects handed out as they are (activations), not
    factories to call.
    section: the name of the registry in `REGISTRIES` and in the config reference.
    """

    def __init__(self, kind: str, *, expected: str, one_key: bool = True, bare: bool = True,
                 name_key: str | None = None, case_insensitive: bool = False,
                 hidden: tuple[str, ...] = (), instances: bool = False,
                 section: str | None = None):
        self.kind, self.expected = kind, expected
        self.one_key, self.bare, self.name_key = one_key, bare, name_key
        self.case_insensitive, self.hidden, self.instances = case_insensitive, hidden, instances
        self.section = section or kind
        self._entries: dict[str, Entry] = {}
        self._names: dict[str, str] = {}   # every accepted spelling → canonical name
        REGISTRIES[self.section] = self

    # -- registering ----------------------------------------------------------------------
    def add(self, name: str, factory: Callable, *, aliases=(), signature=None, refused=None,
            doc: str = "") -> Callable:
        entry = Entry(name, factory, tuple(aliases), signature, dict(refused or {}), doc)
        self._entries[name] = entry
        for spelling in (name, *entry.aliases):
            self._names[self._fold(spelling)] = name
        return factory

    def register(self, cls=None, *, name: str | None = None, aliases=()):
        """Class decorator: register under the class name (or `name`)."""
        def deco(c):
            self.add(name or c.__name__, c, aliases=aliases)
            return c
        return deco(cls) if cls is not None else deco

    def _fold(self, name: str) -> str:
        return name.lower() if self.case_insensitive else name

    # -- looking up -----------------------------------------------------------------------
    def lookup(self, name) -> Entry | None:
        if not isinstance(name, str):
            return None
        canonical = self._names.get(self._fold(name))
        return self._entries[canonical] if canonical else None

    def __contains__(self, name) -> bool:
        return self.lookup(name) is not None

    def __getitem__(self, name) -> Callable:
        entry = self.lookup(name)
        if entry is None:
            raise KeyError(name)
        return entry.factory

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self):
        """(canonical name, factory or instance) pairs."""
        return [(e.name, e.factory) for e in self._entries.values()]

    def names(self) -> list[str]:
        """Canonical names, in registration order."""
        return list(self._entries)

    def spellings(self) -> list[str]:
        """Every accepted name: canonical names and aliases."""
        return [s for e in self._entries.values() for s in (e.name, *e.aliases)]

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    # -- constructing ---------------------------------------------------------------------
    def parse(self, spec, key: str) -> tuple[Entry, dict, str, str]:
        """Split a config entry into (entry, arguments, the key of its name, the key its
        arguments hang under)."""
        if isinstance(spec, str) and self.bare and not self.one_key and self.name_key:
            spec = {self.name_key: spec}   # "adam" is {name: adam}
        if isinstance(spec, str) and self.bare:   # "Flatten" is {Flatten: {}}
            name, args, name_key = spec, {}, key
            arg_key = f"{key}.{spec}" if self.one_key else key
        elif isinstance(spec, Mapping) and self.name_key and self.name_key in spec:
            args = dict(spec)
            name = args.pop(self.name_key)
            name_key, arg_key = f"{key}.{self.name_key}", key
        elif isinstance(spec, Mapping) and self.one_key and len(spec) == 1 and (
                not self.name_key or isinstance(next(iter(spec.values())), (Mapping, type(None)))):
            (name, args), = spec.items()
            name_key = arg_key = f"{key}.{name}"
        else:
            raise ConfigError(f"expected {self.expected}, received {spec!r}", key=key)
        if not isinstance(name, str):
            raise ConfigError(f"expected {_article(self.kind)} {self.kind} name (a string), "
                              f"received {name!r}", key=name_key)
        entry = self.lookup(name)
        if entry is None:
            raise unknown(self.kind, name, self.spellings(), key=name_key)
        if args is not None and not isinstance(args, Mapping):
            raise ConfigError(f"expected a mapping of arguments, received {args!r}", key=arg_key)
        return entry, dict(args or {}), name, arg_key

    def construct(self, spec, key: str, **hidden):
        """Build the object a config entry names; `hidden` are arguments the caller supplies
        (see `hidden` in the class docstring). Every error names the key path."""
        entry, args, given, arg_key = self.parse(spec, key)
        if self.instances:
            return entry.factory
        return self.call(entry, args, arg_key, given=given, **hidden)

    def call(self, entry: Entry, args: dict, key: str, *, given: str | None = None, **hidden):
        """`entry.factory(**args, **hidden)` after checking every argument name."""
        allowed = entry.arguments(self.hidden)
        if "name" in self.hidden and "name" in args:   # {AUC: {name: pr_auc, curve: PR}}
            args = dict(args)
            given = args.pop("name")
            if not isinstance(given, str) or not given:
                raise ConfigError(f"expected a name, received {given!r}", key=f"{key}.name")
        for arg in args:
            if arg in entry.refused:
                raise ConfigError(entry.refused[arg], key=f"{key}.{arg}")
            if arg not in allowed:
                if not allowed:
                    raise ConfigError(f"{entry.name} takes no arguments, received {arg!r}",
                                      key=f"{key}.{arg}")
                raise unknown(f"argument for {entry.name}", arg, allowed, key=f"{key}.{arg}")
        for arg, default in allowed.items():
            if default is REQUIRED and arg not in args:
                raise ConfigError(f"missing required argument {arg!r}", key=key)
        if "name" in self.hidden:
            hidden.setdefault("name", given or entry.name)
        try:
            return entry.factory(**args, **hidden)
        except InputError as e:
            raise e.prefixed(key) from None


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def construct(kind: str, spec, key: str, **hidden):
    """Build what a config entry of `kind` names (``construct("optimizer", "adam",
    "compile.optimizer")``); the registries are filled when their modules are imported."""
    _import_all()
    return REGISTRIES[kind].construct(spec, key, **hidden)


def _import_all() -> None:
    """Import every module that fills a registry (they import this module, not the reverse)."""
    import nntrain.activations  # noqa: F401
    import nntrain.initializers  # noqa: F401
    import nntrain.layers  # noqa: F401
    import nntrain.losses  # noqa: F401
    import nntrain.metrics  # noqa: F401
    import nntrain.optim  # noqa: F401
    import nntrain.regularizers  # noqa: F401
    import nntrain.training.callbacks  # noqa: F401


def all_registries() -> dict[str, Registry]:
    """Every registry, by section name (for the config reference and the schema)."""
    _import_all()
    return dict(REGISTRIES)

"""Config entries of the form ``Name: {arguments}`` (layers, callbacks): look the name up,
check the arguments against the constructor (with a did-you-mean), construct, and prefix any
error with the entry's key path."""

from __future__ import annotations

import inspect

from nntrain.errors import ConfigError, InputError, unknown


def constructor_arguments(cls) -> set[str]:
    """Argument names a class's constructor accepts, following ``**kwargs`` up the class
    hierarchy (a recurrent layer passes its Keras arguments to a shared base)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        names |= {p for p, v in params.items()
                  if p != "self" and v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)}
        if not any(v.kind == v.VAR_KEYWORD for v in params.values()):
            break
    return names


def required_arguments(cls) -> list[str]:
    params = inspect.signature(cls.__init__).parameters
    return [p for p, v in params.items() if p != "self" and v.default is v.empty
            and v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)]


def parse_entry(entry, key: str, registry: dict, kind: str, example: str):
    """Split ``{Name: {args}}`` (or a bare ``Name``) into (class, args, key of the entry)."""
    if isinstance(entry, str):
        entry = {entry: {}}
    if not isinstance(entry, dict) or len(entry) != 1:
        raise ConfigError(f"expected a one-key map such as {example}, received {entry!r}",
                          key=key)
    (name, args), = entry.items()
    if name not in registry:
        raise unknown(kind, name, registry, key=f"{key}.{name}")
    key = f"{key}.{name}"
    args = {} if args is None else args
    if not isinstance(args, dict):
        raise ConfigError(f"expected a mapping of arguments, received {args!r}", key=key)
    return registry[name], dict(args), key


def construct(cls, args: dict, key: str):
    """`cls(**args)` after checking every argument name; errors carry the key path."""
    allowed = constructor_arguments(cls)
    for arg in args:
        if arg not in allowed:
            raise unknown(f"argument for {cls.__name__}", arg, allowed, key=f"{key}.{arg}")
    for arg in required_arguments(cls):
        if arg not in args:
            raise ConfigError(f"missing required argument {arg!r}", key=key)
    try:
        return cls(**args)
    except InputError as e:
        raise e.prefixed(key) from None

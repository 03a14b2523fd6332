"""Read a YAML config into plain Python data plus a map from key path to line number.

Key paths are dotted, with list indices as numbers, exactly as ``--set`` takes them:
``model.layers.2.Dropout.rate``. Every `InputError` raised later with such a key is located
through `Config.locate`, so the user sees ``error: config.yaml:14: model.layers.2...: ...``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nntrain.errors import ConfigError, InputError


class ConfigLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float: YAML 1.1 wants ``1.0e-3`` and would
    otherwise hand a Keras user's ``learning_rate: 1e-3`` over as a string."""


ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def yaml_value(text: str):
    """Parse one YAML value (a --set VALUE) with the config's rules."""
    return yaml.load(text, Loader=ConfigLoader)


@dataclass
class Config:
    """A loaded config: `data` is the plain dict; `lines` maps key paths to 1-based lines."""

    data: dict
    file: str = "<config>"
    lines: dict[str, int] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)

    def locate(self, err: InputError) -> InputError:
        """Fill in the file and line of `err` from its key path (longest known prefix)."""
        key = err.key or ""
        for path in self.overrides:
            if key == path or key.startswith(path + ".") or path.startswith(key + ".") and key:
                return err.located("--set", None)
        parts = key.split(".") if key else []
        while parts:
            line = self.lines.get(".".join(parts))
            if line is not None:
                return err.located(self.file, line)
            parts.pop()
        return err.located(self.file, None)

    def section(self, name: str) -> dict:
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}


def _walk(node: yaml.Node, path: str, lines: dict[str, int], file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            sub = f"{path}.{key}" if path else key
            if key in seen:
                raise ConfigError(f"duplicate key {key!r}", key=sub, file=file,
                                  line=key_node.start_mark.line + 1)
            seen.add(key)
            lines[sub] = key_node.start_mark.line + 1
            _walk(value_node, sub, lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = f"{path}.{i}" if path else str(i)
            lines[sub] = item.start_mark.line + 1
            _walk(item, sub, lines, file)


def parse_yaml(text: str, file: str) -> Config:
    """Parse YAML text; syntax errors become a ConfigError with the line."""
    try:
        loader = ConfigLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        if e.context and e.context_mark and e.problem_mark and \
                e.context_mark.line != e.problem_mark.line:
            problem += f" ({e.context} started on line {e.context_mark.line + 1})"
        raise ConfigError(f"invalid YAML: {problem}", file=file,
                          line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", file=file) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of sections (model, compile, fit, ...), received "
                          f"{type(data).__name__}", file=file, line=1)
    lines: dict[str, int] = {}
    _walk(node, "", lines, file)
    return Config(data=data, file=file, lines=lines)


def load_config(path: str | Path) -> Config:
    """Read and parse a config file (no validation yet)."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.yaml"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such config file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config: {e}", file=str(path)) from None
    return parse_yaml(text, str(path))


def apply_override(config: Config, assignment: str) -> None:
    """Apply one ``--set a.b.c=VALUE`` (VALUE parsed as YAML) to `config` in place."""
    path, sep, raw = assignment.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ConfigError(f"expected KEY=VALUE, received {assignment!r}", file="--set")
    try:
        value = yaml_value(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"cannot parse value {raw!r} as YAML: {e}", key=path,
                          file="--set") from None
    parts = path.split(".")
    node = config.data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[:i + 1])
        if isinstance(node, list):
            if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                raise ConfigError(f"no list item {part} (the list has {len(node)} items)",
                                  key=where, file="--set")
            idx = int(part)
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[part] = copy.deepcopy(value)
            else:
                node = node.setdefault(part, {})
        else:
            raise ConfigError(f"cannot set a key inside {type(node).__name__} value "
                              f"{node!r}", key=".".join(parts[:i]), file="--set")
    config.overrides.append(path)

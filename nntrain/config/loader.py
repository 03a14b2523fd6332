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
from nntrain.sizes import format_bytes


# What a config may be: far beyond any real one (the biggest shipped config is ~2 KiB, a few
# hundred values, nesting depth 6), far below what would take a noticeable time to read.
# pyyaml's pure-Python parser, whose error messages are the best, reads ~25,000 values a second,
# so the number of values written is what bounds the time to answer.
MAX_BYTES = 256 * 1024       # the file
MAX_DEPTH = 64               # nesting, counted after aliases are expanded
MAX_VALUES = 10_000          # values (scalars, lists, maps) as written
MAX_EXPANDED = 100_000       # values once aliases are expanded

_COLLECTION_START = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_COLLECTION_END = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


class ConfigLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float: YAML 1.1 wants ``1.0e-3`` and would
    otherwise hand a Keras user's ``learning_rate: 1e-3`` over as a string. It also refuses
    nesting deeper than MAX_DEPTH while composing (pyyaml's composer recurses per level)."""

    file = "<config>"
    _depth = 0
    _values = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if not self.check_event(yaml.AliasEvent):
                self._values += 1
                _check_counts(self._values, self._depth, self.peek_event().start_mark,
                              self.file)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def fetch_flow_collection_start(self, TokenClass):
        # The scanner looks ahead for a possible key after every '[' / '{' (quadratic in
        # the nesting), so flow nesting is cut off here, before the composer sees any of it.
        if self.flow_level >= MAX_DEPTH:
            raise ConfigError(f"nested more than {MAX_DEPTH} levels deep; a config needs a "
                              "few", file=self.file, line=self.line + 1)
        super().fetch_flow_collection_start(TokenClass)

    def construct_object(self, node, deep=False):
        # A scalar Python refuses (an integer of 10,000 digits, the 13th month of a date) is a
        # ValueError from the constructor, without a line; give it the node's.
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as e:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {e}", node.start_mark) from None


ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def _check_counts(values: int, depth: int, mark, file: str) -> None:
    line = mark.line + 1 if mark else None
    if depth > MAX_DEPTH:
        raise ConfigError(f"nested more than {MAX_DEPTH} levels deep; a config needs a few",
                          file=file, line=line)
    if values > MAX_VALUES:
        raise ConfigError(f"more than {MAX_VALUES} values; a config needs far fewer",
                          file=file, line=line)


def _prescan(text: str, file: str) -> None:
    """Count values and nesting on libyaml's event stream (C speed, when pyyaml has it), so
    an oversized document is refused before the pure-Python parser spends seconds on it.
    Syntax errors are left to that parser, whose messages are better."""
    if not getattr(yaml, "__with_libyaml__", False):
        return
    from yaml.cyaml import CParser
    parser = CParser(text)
    values = depth = 0
    try:
        while True:
            event = parser.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return
            if isinstance(event, _COLLECTION_END):
                depth -= 1
                continue
            if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, *_COLLECTION_START)):
                values += not isinstance(event, yaml.AliasEvent)
                depth += isinstance(event, _COLLECTION_START)
                _check_counts(values, depth, event.start_mark, file)
    except yaml.YAMLError:
        return
    finally:
        parser.dispose()


def yaml_value(text: str):
    """Parse one YAML value (a --set VALUE) with the config's rules and limits; bad YAML (or
    a limit passed) is a yaml.YAMLError, as from yaml.load."""
    try:
        return _load(text, "--set")[1]
    except ConfigError as e:
        raise yaml.YAMLError(e.message.removeprefix("invalid YAML: ")) from None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse a node graph whose aliases expand it beyond MAX_EXPANDED values or MAX_DEPTH
    levels, or refer to a node containing them (a cycle), before anything walks it expanded.
    pyyaml shares an aliased node, so nine levels of nine aliases are 90 nodes here but 9**9
    values to every walk of the data; sizes and depths are memoized per node, so this costs
    the graph's size, not its expansion. Iterative: the graph may be deep."""
    sizes: dict[int, tuple[int, int]] = {}     # id(node) -> (values, depth) when expanded
    entered: set[int] = set()                  # the nodes on the path being walked
    stack = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        line = node.start_mark.line + 1
        if finished:
            entered.discard(key)
            parts = [sizes[id(c)] for c in _children(node)]
            values = 1 + sum(v for v, _ in parts)
            depth = 1 + max((d for _, d in parts), default=0)
            if values > MAX_EXPANDED:
                raise ConfigError(f"aliases expand this to more than {MAX_EXPANDED} values; a "
                                  "config needs far fewer", file=file, line=line)
            if depth > MAX_DEPTH:
                raise ConfigError(f"aliases nest this more than {MAX_DEPTH} levels deep; a "
                                  "config needs a few", file=file, line=line)
            sizes[key] = (values, depth)
        elif key not in sizes:
            if key in entered:
                raise ConfigError("an alias refers to a value that contains it (a recursive "
                                  "alias)", file=file, line=line)
            entered.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node) if id(c) not in sizes)


def _load(text: str, file: str, lines: dict[str, int] | None = None
          ) -> tuple[yaml.Node | None, object]:
    """Compose (depth-limited), check the expansion, record the key paths' `lines` (when
    asked), then construct: (node, data). Syntax errors become a ConfigError with the line."""
    if len(text) > MAX_BYTES:
        raise ConfigError(f"the config is {len(text)} characters long; configs are limited to "
                          f"{MAX_BYTES} ({format_bytes(MAX_BYTES)})", file=file)
    _prescan(text, file)
    try:
        loader = ConfigLoader(text)
        loader.file = file
        try:
            node = loader.get_single_node()
            if node is None:
                return None, None
            check_expansion(node, file)
            if lines is not None:
                _walk(node, "", lines, file)
            return node, loader.construct_document(node)
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


MERGE_TAG = "tag:yaml.org,2002:merge"


def _walk(node: yaml.Node, path: str, lines: dict[str, int], file: str) -> None:
    """Record the line of every key path and refuse duplicate keys. Runs on the composed graph
    before construction (which flattens merge keys into the mapping): keys merged in with
    ``<<: *anchor`` are the anchor's, and the mapping's own keys override them, as in YAML."""
    if isinstance(node, yaml.MappingNode):
        seen = set()
        merged = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged += value_node.value if isinstance(value_node, yaml.SequenceNode) \
                    else [value_node]
                continue
            key = str(key_node.value)
            sub = f"{path}.{key}" if path else key
            if key in seen:
                raise ConfigError(f"duplicate key {key!r}", key=sub, file=file,
                                  line=key_node.start_mark.line + 1)
            seen.add(key)
            lines[sub] = key_node.start_mark.line + 1
            _walk(value_node, sub, lines, file)
        for source in merged:
            if isinstance(source, yaml.MappingNode):
                inherited: dict[str, int] = {}
                _walk(source, path, inherited, file)
                for sub, line in inherited.items():
                    lines.setdefault(sub, line)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = f"{path}.{i}" if path else str(i)
            lines[sub] = item.start_mark.line + 1
            _walk(item, sub, lines, file)


def parse_yaml(text: str, file: str) -> Config:
    """Parse YAML text within the limits above; errors become a ConfigError with the line."""
    lines: dict[str, int] = {}
    _, data = _load(text, file, lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of sections (model, compile, fit, ...), received "
                          f"{type(data).__name__}", file=file, line=1)
    return Config(data=data, file=file, lines=lines)


def load_config(path: str | Path) -> Config:
    """Read and parse a config file (no validation yet)."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.yaml"
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_BYTES + 1)   # bounded: the path may be huge, or /dev/zero
        if len(raw) > MAX_BYTES:
            raise ConfigError(f"the file is larger than {MAX_BYTES} bytes "
                              f"({format_bytes(MAX_BYTES)}), the limit for a config",
                              file=str(path))
        text = raw.decode("utf-8")
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

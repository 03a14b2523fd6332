"""A sweep's space: dimensions from ``--grid KEY=V1,V2,...`` or the config's ``sweep.grid``,
expanded into points (one per run) — the full grid, or N reproducible random draws.

A dimension is a config key path as ``--set`` takes it, where ``*`` stands for every list item
or mapping key at which the whole rest of the path exists (``model.layers.*.Dense.activation``:
the activation of every Dense layer that sets one). Its values are a list, a map from a
readable label to a value (YAML only), or for random draws ``loguniform(a,b)``,
``uniform(a,b)`` or ``choice(v1,v2,...)``.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field

import numpy as np
import yaml

from nntrain.config.loader import yaml_value
from nntrain.errors import ConfigError

DISTRIBUTIONS = ("loguniform", "uniform", "choice")
_CALL = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$", re.S)
ID_LENGTH = 48


@dataclass
class Dimension:
    """One swept key. `values` (with `labels`, None where unlabelled) for a list; `dist` =
    ("loguniform"|"uniform", low, high) for a continuous draw. `file`/`line` locate errors."""

    key: str
    values: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    dist: tuple | None = None
    file: str = "--grid"
    line: int | None = None

    def error(self, message: str, key: str | None = None) -> ConfigError:
        return ConfigError(message, key=key or self.key, file=self.file, line=self.line)

    def describe(self):
        """JSON-ready description for the sweep's manifest."""
        if self.dist:
            return {"key": self.key, "draw": f"{self.dist[0]}({self.dist[1]}, {self.dist[2]})"}
        if any(self.labels):
            return {"key": self.key, "values": dict(zip(self.labels, self.values))}
        return {"key": self.key, "values": self.values}


@dataclass
class Point:
    """One run of the sweep: its id, the value of each dimension (`params`, keys as written)
    and the label of a labelled value."""

    id: str
    params: dict
    labels: dict


# -- parsing -------------------------------------------------------------------------------
def split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets, braces, parentheses and quotes: ``[1,2],3``."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _parse_values(dim: Dimension, items: list[str]) -> list:
    values = []
    for raw in items:
        if not raw.strip():
            raise dim.error(f"empty value in {','.join(items)!r}; expected V1,V2,...")
        try:
            values.append(yaml_value(raw))
        except yaml.YAMLError as e:
            raise dim.error(f"cannot parse value {raw.strip()!r} as YAML "
                            f"({str(e).splitlines()[0]})") from None
    return values


def _parse_call(dim: Dimension, text: str) -> bool:
    """Fill `dim` from ``name(args)`` if `text` is one; False if it is not a call."""
    match = _CALL.match(text)
    if not match or len(split_top_level(text)) > 1:      # a list, maybe of call-like strings
        return False
    name, args = match.group(1), match.group(2)
    if name not in DISTRIBUTIONS:
        raise dim.error(f"unknown distribution {name!r}; expected one of "
                        f"{', '.join(DISTRIBUTIONS)} or a list V1,V2,...")
    if not args.strip():
        raise dim.error(f"{name}() needs arguments")
    values = _parse_values(dim, split_top_level(args))
    if name == "choice":
        dim.values, dim.labels = values, [None] * len(values)
        return True
    if len(values) != 2 or not all(_is_number(v) for v in values):
        raise dim.error(f"{name}(a, b) takes two numbers, received {name}({args.strip()})")
    low, high = float(values[0]), float(values[1])
    if not low < high:
        raise dim.error(f"{name}(a, b) needs a < b, received {name}({args.strip()})")
    if name == "loguniform" and low <= 0:
        raise dim.error(f"loguniform(a, b) needs 0 < a, received {name}({args.strip()})")
    dim.dist = (name, low, high)
    return True


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_grid_option(text: str) -> Dimension:
    """One ``--grid KEY=V1,V2,...`` (or ``KEY=loguniform(a,b)``); values parsed as YAML."""
    key, sep, rhs = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"expected KEY=V1,V2,..., received {text!r}", file="--grid")
    dim = Dimension(key)
    _check_key(dim)
    if not rhs.strip():
        raise dim.error("empty value list; expected KEY=V1,V2,...")
    if not _parse_call(dim, rhs):
        dim.values = _parse_values(dim, split_top_level(rhs))
        dim.labels = [None] * len(dim.values)
    return dim


def parse_grid_section(grid, file: str, lines: dict) -> list[Dimension]:
    """The config's ``sweep.grid``: key → list, label → value map, or a distribution string."""
    if not isinstance(grid, dict):
        raise ConfigError(f"expected a mapping of config keys to values, received {grid!r}",
                          key="sweep.grid", file=file, line=lines.get("sweep.grid"))
    dims = []
    for key, spec in grid.items():
        where = f"sweep.grid.{key}"
        dim = Dimension(str(key), file=file, line=lines.get(where))
        _check_key(dim)
        if isinstance(spec, list):
            dim.values, dim.labels = list(spec), [None] * len(spec)
        elif isinstance(spec, dict):
            dim.labels, dim.values = [str(k) for k in spec], list(spec.values())
        elif isinstance(spec, str) and _parse_call(dim, spec):
            pass
        else:
            raise dim.error(f"expected a list of values, a map from label to value, or "
                            f"loguniform(a,b) / uniform(a,b) / choice(...), received {spec!r}")
        if not dim.values and not dim.dist:
            raise dim.error("empty value list; give at least one value")
        dims.append(dim)
    return dims


def _check_key(dim: Dimension) -> None:
    parts = dim.key.split(".")
    if any(not p for p in parts):
        raise dim.error(f"expected a dotted key path such as fit.batch_size, received "
                        f"{dim.key!r}")
    if parts[0] == "sweep":
        raise dim.error("the sweep section cannot sweep itself")


def merge(section: list[Dimension], options: list[Dimension]) -> list[Dimension]:
    """The YAML's dimensions with the command line's: a ``--grid`` key replaces the same key of
    ``sweep.grid``; a key given twice on the command line is an error."""
    seen = set()
    for dim in options:
        if dim.key in seen:
            raise dim.error("given twice; put every value in one --grid KEY=V1,V2,...")
        seen.add(dim.key)
    return [d for d in section if d.key not in seen] + options


# -- wildcards -----------------------------------------------------------------------------
def concrete_keys(data: dict, dim: Dimension) -> list[str]:
    """The key paths `dim.key` stands for in `data` (itself unless it holds ``*``)."""
    parts = dim.key.split(".")
    if "*" not in parts:
        return [dim.key]
    found: list[str] = []

    def walk(node, i: int, prefix: list[str]) -> None:
        if i == len(parts):
            found.append(".".join(prefix))
            return
        part = parts[i]
        if isinstance(node, dict):
            items = node.items() if part == "*" else ([(part, node[part])] if part in node
                                                      else [])
        elif isinstance(node, list):
            if part == "*":
                items = enumerate(node)
            elif part.isdigit() and int(part) < len(node):
                items = [(part, node[int(part)])]
            else:
                items = []
        else:
            items = []
        for k, child in items:
            walk(child, i + 1, prefix + [str(k)])

    walk(data, 0, [])
    if not found:
        raise dim.error("matches no key of the config (* stands for every list item or key "
                        "at which the rest of the path exists)")
    return found


def assignments(data: dict, dims: list[Dimension], point: Point) -> list[str]:
    """The ``--set KEY=VALUE`` assignments of `point` (values as JSON, which YAML reads)."""
    out = []
    for dim in dims:
        value = json.dumps(point.params[dim.key])
        out += [f"{key}={value}" for key in concrete_keys(data, dim)]
    return out


# -- expansion ------------------------------------------------------------------------------
def expand_grid(dims: list[Dimension]) -> list[Point]:
    """Every combination, the first dimension varying slowest."""
    for dim in dims:
        if dim.dist:
            raise dim.error(f"{dim.dist[0]}(...) draws random values; add --random N (or "
                            f"sweep.random: N)")
    points = []
    for combo in itertools.product(*[range(len(d.values)) for d in dims]):
        params = {d.key: d.values[i] for d, i in zip(dims, combo)}
        labels = {d.key: d.labels[i] for d, i in zip(dims, combo) if d.labels[i] is not None}
        points.append(Point("", params, labels))
    return _name(points, dims, numbered=False)


def draw_random(dims: list[Dimension], n: int, seed: int) -> list[Point]:
    """`n` draws from one NumPy generator seeded with `seed` (same command, same draws).
    Continuous values are rounded to 3 significant digits, so a run's id is its value."""
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(n):
        params, labels = {}, {}
        for dim in dims:
            if dim.dist:
                name, low, high = dim.dist
                x = (math.exp(rng.uniform(math.log(low), math.log(high)))
                     if name == "loguniform" else rng.uniform(low, high))
                params[dim.key] = float(f"{x:.3g}")
            else:
                i = int(rng.integers(len(dim.values)))
                params[dim.key] = dim.values[i]
                if dim.labels[i] is not None:
                    labels[dim.key] = dim.labels[i]
        points.append(Point("", params, labels))
    return _name(points, dims, numbered=True)


# -- readable ids ---------------------------------------------------------------------------
def short_keys(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix telling the keys apart: ``learning_rate``, ``0.Dense.units``."""
    longest = max((len(k.split(".")) for k in keys), default=1)
    for n in range(1, longest + 1):
        short = {k: ".".join(k.split(".")[-n:]) for k in keys}
        if len(set(short.values())) == len(keys):
            return short
    return {k: k for k in keys}


def format_value(value) -> str:
    """A value as a short text for ids and tables: 0.001, relu, 64x64, name-sgd."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "x".join(format_value(v) for v in value)
    if isinstance(value, dict):
        return "-".join(f"{k}-{format_value(v)}" for k, v in value.items())
    return str(value)


def _slug(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-.")
    return re.sub(r"-{2,}", "-", text)[:ID_LENGTH].strip("-.") or "run"


def _name(points: list[Point], dims: list[Dimension], *, numbered: bool) -> list[Point]:
    short = short_keys([d.key for d in dims])
    width = len(str(len(points)))
    seen: dict[str, int] = {}
    for i, p in enumerate(points):
        texts = [p.labels.get(d.key) or format_value(p.params[d.key]) for d in dims]
        if len(dims) == 1:
            slug = _slug(texts[0])
        else:
            slug = "_".join(_slug(f"{short[d.key]}-{t}") for d, t in zip(dims, texts))
        if numbered:
            slug = f"{i + 1:0{width}d}-{slug}"
        n = seen.get(slug, 0) + 1
        seen[slug] = n
        p.id = slug if n == 1 else f"{slug}-{n}"
    return points


def point_label(point: Point, dims_or_keys) -> str:
    """How plots and tables name a run: its labels or ``key=value`` of the distinguishing keys."""
    keys = [d.key if isinstance(d, Dimension) else d for d in dims_or_keys]
    short = short_keys(keys) if keys else {}
    if len(keys) == 1:
        k = keys[0]
        return point.labels.get(k) or format_value(point.params[k])
    return ", ".join(f"{short[k]}={point.labels.get(k) or format_value(point.params[k])}"
                     for k in keys)

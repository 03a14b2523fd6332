"""The config reference, generated from the registries (`nntrain.registry.all_registries()`):
every layer, activation, initializer, regularizer, optimizer, schedule, callback, loss and metric
with its aliases, arguments and defaults, and one line of meaning (the first sentence of its
docstring). `docs/config-reference.md`, ``nntrain explain NAME`` and ``nntrain schema`` all read
`describe()`, so they cannot disagree with the code.

    python -m nntrain.reference            # rewrite docs/config-reference.md and config.schema.json
    python -m nntrain.reference --check    # exit 1 when either is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from nntrain.registry import REQUIRED, all_registries

DOCS = Path(__file__).resolve().parents[1] / "docs"
REFERENCE_NAME, SCHEMA_NAME = "config-reference.md", "config.schema.json"


@dataclass(frozen=True)
class Kind:
    """A registry as a config sees it: where its entries go and how one is written."""

    section: str       # the registry's name in all_registries()
    title: str
    where: str         # the config keys that take one
    form: str          # how an entry is written

    @property
    def noun(self) -> str:
        return {"Losses": "loss", "Learning-rate schedules": "learning-rate schedule"}.get(
            self.title, self.title.lower().rstrip("s"))


KINDS = (
    Kind("layer", "Layers", "`model.layers` (a list)",
         "a one-key map `- Name: {arguments}`; a layer without arguments may be just its name. "
         "Every layer also takes `name` (default: the snake_case class name, numbered), "
         "`trainable` (default true), `activity_regularizer` (default null) and `inputs` (the "
         "layers or model inputs it reads; default: the layer before)"),
    Kind("activation", "Activations", "`activation:` and `recurrent_activation:` of a layer",
         "a name"),
    Kind("initializer", "Initializers", "a layer's `*_initializer:` arguments",
         "a name, or a one-key map `{Name: {arguments}}`"),
    Kind("regularizer", "Regularizers", "a layer's `*_regularizer:` arguments",
         "a name, a one-key map `{Name: {arguments}}`, or the factors `{l1: ..., l2: ...}`"),
    Kind("optimizer", "Optimizers", "`compile.optimizer`",
         "a name, or a map `{name: Name, arguments...}`; names in any case (`adam`, `Adam`)"),
    Kind("schedule", "Learning-rate schedules", "an optimizer's `learning_rate:`",
         "a map `{schedule: Name, arguments...}` (or a number: a constant rate)"),
    Kind("loss", "Losses", "`compile.loss`",
         "a name, a map `{name: Name, arguments...}` or a one-key map `{Name: {arguments}}`"),
    Kind("metric", "Metrics", "`compile.metrics` and `compile.weighted_metrics` (lists)",
         "as a loss; logged under the name written, or the one given by a `name:` argument "
         "in the one-key form (`- AUC: {curve: PR, name: pr_auc}`)"),
    Kind("callback", "Callbacks", "`fit.callbacks` (a list)",
         "a one-key map `- Name: {arguments}`, or just the name"),
)

# Values that make an example line valid for arguments without a default.
EXAMPLE_VALUES = {
    "units": 10, "filters": 32, "kernel_size": 3, "rate": 0.5, "target_shape": [-1],
    "input_dim": 1000, "output_dim": 64, "axes": 1, "activation": "relu",
    "layer": {"LSTM": {"units": 16}}, "num_heads": 2, "key_dim": 16, "pieces": 2, "groups": 2,
    "initial_learning_rate": 0.1, "decay_steps": 1000, "first_decay_steps": 1000,
    "decay_rate": 0.5, "boundaries": [1000, 2000], "values": [0.1, 0.01, 0.001],
    "n": 2, "dims": [2, 1], "size": 2, "height": 24, "width": 24, "factor": 0.1,
    "stddev": 0.1, "height_factor": 0.1, "width_factor": 0.1, "sequence_length": 40,
}
# Entries whose defaults alone do not make a usable example.
EXAMPLE_ARGUMENTS = {("metric", "f1_score"): {"average": "macro"},
                     ("metric", "fbeta_score"): {"average": "macro", "beta": 2.0}}


COMMON_LAYER_ARGUMENTS = ("name", "trainable", "activity_regularizer")   # Layer.__init__'s


@dataclass(frozen=True)
class Argument:
    name: str
    default: object        # REQUIRED when there is none
    required: bool


@dataclass(frozen=True)
class Description:
    """One registered entry, as the reference shows it."""

    kind: Kind
    name: str
    aliases: tuple[str, ...]
    arguments: tuple[Argument, ...]
    summary: str

    @property
    def own_arguments(self) -> tuple[Argument, ...]:
        """The arguments but those every layer takes (listed once, in the layers' section)."""
        if self.kind.section != "layer":
            return self.arguments
        return tuple(a for a in self.arguments if a.name not in COMMON_LAYER_ARGUMENTS)

    @property
    def example(self) -> str:
        """A config line that uses it: its required arguments filled in, else its first
        argument that has a non-null default."""
        args = {a.name: EXAMPLE_VALUES.get(a.name, f"<{a.name}>")
                for a in self.arguments if a.required}
        args.update(EXAMPLE_ARGUMENTS.get((self.kind.section, self.name), {}))
        if not args:
            first = next((a for a in self.own_arguments if a.default is not None), None)
            args = {first.name: first.default} if first else {}
        return example_line(self.kind.section, self.name, args)


def first_sentence(text: str, long: int = 100) -> str:
    """One line of meaning from a docstring's first paragraph: its first sentence (ending at a
    period followed by a space, outside parentheses and backquotes), and of a long one the part
    before its first top-level colon or semicolon (what follows is usually the formula)."""
    text = " ".join(text.split())
    depth, quoted, clause = 0, False, None
    for i, ch in enumerate(text):
        if ch == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(depth - 1, 0)
        elif depth == 0 and ch in ":;" and clause is None and i >= 20 and text[i + 1:i + 2] == " ":
            clause = i
        elif ch == "." and depth == 0 and (i + 1 == len(text) or text[i + 1] == " ") \
                and not re.search(r"\b(e\.g|i\.e|etc|vs)$", text[:i]):
            sentence = text[:i + 1]
            break
    else:
        sentence = text
    if len(sentence) > long and clause is not None and clause < len(sentence):
        return text[:clause].rstrip(",") + "."
    return sentence


def describe() -> dict[str, list[Description]]:
    """Every registry's entries, by section, in registration order."""
    registries = all_registries()
    out = {}
    for kind in KINDS:
        registry = registries[kind.section]
        entries = []
        for e in registry.entries():
            args = () if registry.instances else tuple(
                Argument(k, v, v is REQUIRED) for k, v in e.arguments(registry.hidden).items())
            entries.append(Description(kind, e.name, e.aliases, args, first_sentence(e.summary())))
        out[kind.section] = entries
    return out


def find(name: str) -> list[Description]:
    """The entries (of any kind) a name or alias means; case-insensitive registries match any
    case."""
    registries = all_registries()
    found = []
    for kind, entries in describe().items():
        entry = registries[kind].lookup(name)
        found += [d for d in entries if entry is not None and d.name == entry.name]
    return found


def all_names() -> list[str]:
    registries = all_registries()
    return sorted({s for k in KINDS for s in registries[k.section].spellings()})


# -- YAML ----------------------------------------------------------------------------------------
def flow(value) -> str:
    """`value` as one line of YAML flow style."""
    if value is REQUIRED:
        return "required"
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=1000, sort_keys=False).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def json_value(value):
    """A default as JSON gives it (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [json_value(v) for v in value]
    return value


def example_line(section: str, name: str, args: dict) -> str:
    """One line of YAML writing `name` with `args` where its kind goes (inside
    `model.layers`, `compile`, ... as `KINDS` says)."""
    if section in ("layer", "callback"):
        return f"- {name}: {flow(args)}" if args else f"- {name}"
    if section == "activation":
        return f"activation: {name}"
    if section in ("initializer", "regularizer"):
        arg = f"kernel_{section}"
        return f"{arg}: {{{name}: {flow(args)}}}" if args else f"{arg}: {name}"
    if section == "optimizer":
        return f"optimizer: {flow({'name': name, **args})}"
    if section == "schedule":
        return f"learning_rate: {flow({'schedule': name, **args})}"
    if section == "loss":
        return f"loss: {flow({'name': name, **args})}" if args else f"loss: {name}"
    if section == "metric":
        return f"metrics: [{flow({'name': name, **args})}]" if args else f"metrics: [{name}]"
    raise ValueError(section)


# -- the markdown page ---------------------------------------------------------------------------
def markdown() -> str:
    from nntrain.config.schema import SECTION_KEYS
    described = describe()
    lines = ["# Config reference", "",
             "Generated from the code by `python -m nntrain.reference`: do not edit by hand "
             "(a test fails when this file is out of date). `nntrain explain NAME` prints one "
             "entry; `nntrain schema` prints the JSON Schema of a config, built from the same "
             "source.", "",
             "## Sections", "",
             "| section | keys |", "| --- | --- |"]
    for path, keys in SECTION_KEYS.items():
        lines.append(f"| {path or '(top level)'} | {', '.join(f'`{k}`' for k in sorted(keys))} |")
    lines += ["", "Contents: " + ", ".join(
        f"[{k.title}](#{k.title.lower().replace(' ', '-')}) ({len(described[k.section])})"
        for k in KINDS), ""]
    for kind in KINDS:
        lines += [f"## {kind.title}", "", f"Where: {kind.where}. Written as {kind.form}.", ""]
        for d in described[kind.section]:
            lines += [f"### {d.name}", "", d.summary or "(no description)", ""]
            if d.aliases:
                lines += ["Also: " + ", ".join(f"`{a}`" for a in d.aliases), ""]
            if d.own_arguments:
                lines += ["| argument | default |", "| --- | --- |"]
                lines += [f"| `{a.name}` | {_default(a)} |" for a in d.own_arguments]
                lines.append("")
            lines += [f"Example: `{d.example}`", ""]
    return "\n".join(lines).rstrip() + "\n"


def _default(a: Argument) -> str:
    return "**required**" if a.required else f"`{flow(a.default)}`"


def generated_files(directory: Path = DOCS) -> dict[Path, str]:
    """What `python -m nntrain.reference` writes: the reference page and the JSON Schema."""
    import json
    from nntrain.config.json_schema import config_schema
    return {directory / REFERENCE_NAME: markdown(),
            directory / SCHEMA_NAME: json.dumps(config_schema(), indent=1) + "\n"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nntrain.reference",
        description=f"Write docs/{REFERENCE_NAME} and docs/{SCHEMA_NAME} from the code.")
    parser.add_argument("--check", action="store_true",
                        help="Exit 1 if a file differs from what the code gives.")
    parser.add_argument("--directory", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated_files(args.directory).items():
        current = path.read_text() if path.is_file() else None
        if args.check:
            if current != text:
                stale.append(path)
        elif current != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    for path in stale:
        print(f"{path} is out of date: run python -m nntrain.reference", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

"""Commands that describe the config language from the code: `schema` (the JSON Schema editors
use to complete and check configs) and `explain NAME` (one entry of the config reference)."""

from __future__ import annotations

import json

import click

from nntrain.cli import render
from nntrain.cli.app import cli, debug_option, stdout_json
from nntrain.errors import ConfigError, unknown


@cli.command()
@debug_option
def schema():
    """Print the JSON Schema of a config (for editors: see the README's yaml-language-server
    line)."""
    from nntrain.config.json_schema import config_schema
    click.echo(json.dumps(config_schema(), indent=1))
    return 0


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@debug_option
def explain(name, as_json):
    """Describe one layer, activation, initializer, regularizer, optimizer, schedule, loss,
    metric or callback: its meaning, arguments with defaults and an example line."""
    from nntrain.reference import all_names, find, json_value
    found = find(name)
    if not found:
        raise unknown("name", name, all_names(), key=None, cls=ConfigError)
    if as_json:
        stdout_json({"name": name, "entries": [
            {"kind": d.kind.section, "name": d.name, "aliases": list(d.aliases),
             "summary": d.summary, "where": d.kind.where, "example": d.example,
             "arguments": [{"name": a.name, "required": a.required,
                            **({} if a.required else {"default": json_value(a.default)})}
                           for a in d.arguments]} for d in found]})
        return 0
    console = render.wide_console()
    for d in found:
        render.print_explanation(console, d)
    return 0

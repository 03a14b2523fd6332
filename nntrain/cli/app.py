"""The `nntrain` click group. Command modules import `cli` from here and register on it;
`nntrain.cli.main` imports them all and runs the group."""

from __future__ import annotations

import json

import click


def stdout_json(obj) -> None:
    """The one JSON object a ``--json`` command prints on stdout."""
    click.echo(json.dumps(obj, indent=2, default=float))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nntrain")
def cli():
    """Train Keras-style neural networks from YAML configs with a NumPy engine."""

"""The `nntrain` click group and what every command shares: `stdout_json`, the `--debug` flag
and file-name completion for path arguments. Command modules import `cli` from here and register
on it; `nntrain.cli.main` imports them all and runs the group."""

from __future__ import annotations

import json
from dataclasses import dataclass

import click

from nntrain.memory import memory_limit
from nntrain.sizes import parse_size


@dataclass
class Settings:
    """Per-invocation settings the entry point reads after a command ends (or fails)."""

    debug: bool = False


def stdout_json(obj) -> None:
    """The one JSON object a ``--json`` command prints on stdout."""
    click.echo(json.dumps(obj, indent=2, default=float))


def _set_debug(ctx: click.Context, param, value) -> None:
    if value and isinstance(ctx.obj, Settings):
        ctx.obj.debug = True


def debug_option(f):
    """``--debug``: on an error, print the full traceback as well."""
    return click.option("--debug", is_flag=True, expose_value=False, is_eager=True,
                        callback=_set_debug,
                        help="On an error, also print the full traceback.")(f)


def _set_max_memory(ctx: click.Context, param, value) -> None:
    if value is None:
        return
    try:
        size = parse_size(value)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx=ctx, param=param) from None
    ctx.with_resource(memory_limit(size))   # for this command only


def max_memory_option(f):
    """``--max-memory SIZE``: the most a model (weights, optimizer state, a batch's
    activations) may take; default: the memory available."""
    return click.option("--max-memory", metavar="SIZE", expose_value=False,
                        callback=_set_max_memory,
                        help="Refuse models that need more memory than this (e.g. 8GiB; "
                             "'unlimited'). Default: the memory available.")(f)


# Arguments naming files or directories complete file names in the shell (click's completion).
CONFIG = click.Path(dir_okay=True, path_type=str)
RUN_DIR = click.Path(file_okay=False, path_type=str)
FILE = click.Path(dir_okay=False, path_type=str)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nntrain")
def cli():
    """Train Keras-style neural networks from YAML configs with a NumPy engine."""

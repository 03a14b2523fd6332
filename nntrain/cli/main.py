"""The `nntrain` command: a thin click group. Each command parses its arguments, calls the
library and renders the result; the library never prints.

Errors: an `InputError` prints one ``error: ...`` line and exits 2 (a traceback only with
``--debug``); a `TrainingAborted` exits 1.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import click
from rich.console import Console

from nntrain.errors import InputError, TrainingAborted

err_console = Console(stderr=True)


def stdout_json(obj) -> None:
    """The one JSON object a ``--json`` command prints on stdout."""
    click.echo(json.dumps(obj, indent=2, default=float))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nntrain")
def cli():
    """Train Keras-style neural networks from YAML configs with a NumPy engine."""


def main(argv=None) -> None:
    """Console-script entry point: run the group and turn errors into exit codes."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args or bool(os.environ.get("NNTRAIN_DEBUG"))
    try:
        code = cli.main(args=args, prog_name="nntrain", standalone_mode=False)
    except click.UsageError as e:
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx else ""
        click.echo(f"error: {e.format_message()}{hint}", err=True)
        code = 2
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        code = e.exit_code
    except click.Abort:
        click.echo("error: aborted", err=True)
        code = 130
    except InputError as e:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {e}", err=True)
        code = e.exit_code
    except TrainingAborted as e:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {e}", err=True)
        code = e.exit_code
    sys.exit(code if isinstance(code, int) else 0)


# Commands register themselves on `cli` when their modules are imported.
from nntrain.cli import inspect_commands  # noqa: E402,F401
from nntrain.cli import train_commands  # noqa: E402,F401

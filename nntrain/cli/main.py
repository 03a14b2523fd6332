"""The `nntrain` entry point: runs the click group of nntrain/cli/app.py. Each command parses
its arguments, calls the library and renders the result; the library never prints.

Errors: an `InputError` prints one ``error: ...`` line and exits 2 (a traceback only with
``--debug``); a `TrainingAborted` or a `WriteError` (disk full, ...) exits 1.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from nntrain.cli import (diagnose_commands, experiment_commands,  # noqa: F401  (register
                         inspect_commands, interop_commands, reference_commands,  # the
                         train_commands)  # commands)
from nntrain.cli.app import Settings, cli
from nntrain.errors import InputError, TrainingAborted, WriteError


def main(argv=None) -> None:
    """Console-script entry point: run the group and turn errors into exit codes."""
    args = sys.argv[1:] if argv is None else list(argv)
    settings = Settings(debug=bool(os.environ.get("NNTRAIN_DEBUG")))
    try:
        code = cli.main(args=args, prog_name="nntrain", standalone_mode=False, obj=settings)
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
        if settings.debug:
            traceback.print_exc()
        click.echo(f"error: {e}", err=True)
        code = e.exit_code
    except (TrainingAborted, WriteError) as e:
        if settings.debug:
            traceback.print_exc()
        click.echo(f"error: {e}", err=True)
        code = e.exit_code
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

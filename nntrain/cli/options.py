"""Options several commands share."""

from __future__ import annotations

import click

from nntrain import threads
from nntrain.config import Config

_GIVEN = "nntrain.threads"   # ctx.meta key: --threads was given


def _set_threads(ctx: click.Context, param, value):
    if value is not None:
        ctx.meta[_GIVEN] = value
        ctx.call_on_close(threads.limit(value, key="--threads").restore_original_limits)
    return value


threads_option = click.option(
    "--threads", type=click.IntRange(min=1), default=None, expose_value=False,
    callback=_set_threads, metavar="N",
    help="Threads for matrix products (default: the config's `threads`, else all cores).")


def record_threads(config: Config) -> None:
    """Put --threads into the config a run records: results can differ in the last bits
    between thread counts (BLAS splits its sums differently), so resume must use the same."""
    n = click.get_current_context().meta.get(_GIVEN)
    if n is not None:
        config.data["threads"] = n


def use_config_threads(config: Config) -> None:
    """Apply the config's ``threads:`` (checked with the config) for the rest of the command,
    unless --threads was given: the flag wins."""
    ctx = click.get_current_context()
    n = config.data.get("threads")
    if n is not None and _GIVEN not in ctx.meta:
        ctx.call_on_close(threads.limit(n).restore_original_limits)

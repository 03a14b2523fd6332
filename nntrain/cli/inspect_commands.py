"""Commands that need no training: summary and gradcheck."""

from __future__ import annotations

import math

import click

from nntrain import from_config, gradcheck, memory
from nntrain.cli import render
from nntrain.cli.app import CONFIG, cli, debug_option, max_memory_option, stdout_json
from nntrain.summary import model_summary


@cli.command()
@click.argument("target", metavar="CONFIG|RUN_DIR", type=CONFIG)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one config key (VALUE is YAML).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@max_memory_option
@debug_option
def summary(target, overrides, as_json):
    """Print layers, output shapes and parameter counts, like Keras's model.summary()."""
    config = from_config.open_config(target, overrides, needs=("model",))
    model = from_config.build(config, shapes_only=True)   # any size: no weight is allocated
    info = model_summary(model)
    limit, words = memory.current_limit()
    info["max_memory"] = None if limit == math.inf else limit
    if as_json:
        stdout_json(info)
    else:
        title = f'Model: "{config.data.get("name", "model")}"'
        console = render.wide_console()
        render.print_summary(console, info, title)
        if info["param_bytes"] > limit:
            console.print(f" The weights need more than {words}: fit would refuse this model.")


@cli.command(name="gradcheck")
@click.argument("config_path", metavar="CONFIG", type=CONFIG)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one config key (VALUE is YAML).")
@click.option("--tolerance", default=1e-6, show_default=True, type=float,
              help="Largest relative error that passes.")
@click.option("--entries", default=30, show_default=True, type=click.IntRange(min=1),
              help="Entries checked per tensor (all of a smaller tensor).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@max_memory_option
@debug_option
def gradcheck_command(config_path, overrides, tolerance, entries, as_json):
    """Compare every gradient with central finite differences in float64; exit 1 on failure."""
    config = from_config.open_config(config_path, overrides, needs=("model", "compile.loss"))
    loss = from_config.get_loss(config)
    model = from_config.build(config)
    rows = gradcheck.check_model(model, loss, seed=config.data.get("seed", 0),
                                 max_entries=entries)
    worst = max((r["rel_error"] for r in rows), default=0.0)
    if as_json:
        stdout_json({"max_rel_error": worst, "tolerance": tolerance, "passed": worst <= tolerance,
                     "tensors": rows})
    else:
        render.print_gradcheck(render.wide_console(), rows, tolerance)
    return 0 if worst <= tolerance else 1

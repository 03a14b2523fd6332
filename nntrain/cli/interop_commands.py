"""Commands that move models to and from Keras 3: export and import-weights."""

from __future__ import annotations

from pathlib import Path

import click

from nntrain.cli.app import CONFIG, FILE, RUN_DIR, cli, debug_option
from nntrain.interop import exchange
from nntrain.training.run_dir import run_dir_argument


@cli.command()
@click.argument("run_dir", metavar="RUN_DIR", type=RUN_DIR)
@click.option("--format", "fmt", type=click.Choice(sorted(exchange.FORMATS)), required=True,
              help="keras: the weights as Keras 3's .weights.h5; keras-config: the "
                   "architecture (with the run's normalization in front) as Keras JSON.")
@click.option("--output", required=True, metavar="FILE", type=FILE,
              help="model.weights.h5 (keras) or model.json (keras-config).")
@click.option("--checkpoint", "checkpoint_path", default=None, type=FILE,
              help="Export this checkpoint (default: the final model of a finished run, "
                   "else the latest).")
@debug_option
def export(run_dir, fmt, output, checkpoint_path):
    """Write a run's model for Keras: load it with model_from_json(...) and load_weights(...)."""
    model = exchange.export_run(run_dir_argument(run_dir), fmt, output, checkpoint_path)
    what = "Keras 3 weights" if fmt == "keras" else "Keras model config"
    click.echo(f"Wrote {output} ({what} of {model.checkpoint}, "
               f"{model.checkpoint_description})", err=True)
    return 0


@cli.command(name="import-weights")
@click.argument("config_path", metavar="CONFIG", type=CONFIG)
@click.argument("weights_path", metavar="FILE.weights.h5", type=FILE)
@click.option("--run-dir", "run_dir", required=True, type=RUN_DIR,
              help="Create the run here (DIR-2, ... if DIR already holds a run).")
@debug_option
def import_weights(config_path, weights_path, run_dir):
    """Create a run whose final model is a Keras 3 .weights.h5 of the config's architecture."""
    run = exchange.import_weights(config_path, weights_path, run_dir)
    if run.path.resolve() != Path(run_dir).resolve():
        click.echo(f"{run_dir} already holds a run; writing {run} instead", err=True)
    click.echo(f"Imported {weights_path} into {run}; score it with: nntrain evaluate {run}",
               err=True)
    return 0

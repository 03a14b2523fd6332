"""Commands that move models to and from Keras 3: export and import-weights."""

from __future__ import annotations

from pathlib import Path

import click

from nntrain.cli.app import cli
from nntrain.interop import exchange
from nntrain.training import run as runs


@cli.command()
@click.argument("run_dir", metavar="RUN_DIR")
@click.option("--format", "fmt", type=click.Choice(sorted(exchange.FORMATS)), required=True,
              help="keras: the weights as Keras 3's .weights.h5; keras-config: the "
                   "architecture (with the run's normalization in front) as Keras JSON.")
@click.option("--output", required=True, metavar="FILE",
              help="model.weights.h5 (keras) or model.json (keras-config).")
@click.option("--checkpoint", "checkpoint_path", default=None,
              help="Export this checkpoint (default: the run's final model, else the latest).")
def export(run_dir, fmt, output, checkpoint_path):
    """Write a run's model for Keras: load it with model_from_json(...) and load_weights(...)."""
    directory = runs.run_dir_argument(run_dir)
    path = exchange.export_run(directory, fmt, output, checkpoint_path)
    what = "Keras 3 weights" if fmt == "keras" else "Keras model config"
    click.echo(f"Wrote {output} ({what} of {path})", err=True)
    return 0


@cli.command(name="import-weights")
@click.argument("config_path", metavar="CONFIG")
@click.argument("weights_path", metavar="FILE.weights.h5")
@click.option("--run-dir", "run_dir", required=True,
              help="Create the run here (DIR-2, ... if DIR already holds a run).")
def import_weights(config_path, weights_path, run_dir):
    """Create a run whose final model is a Keras 3 .weights.h5 of the config's architecture."""
    directory = exchange.import_weights(config_path, weights_path, run_dir)
    if directory.resolve() != Path(run_dir).resolve():
        click.echo(f"{run_dir} already holds a run; writing {directory} instead", err=True)
    click.echo(f"Imported {weights_path} into {directory}; evaluate it with: "
               f"nntrain evaluate {directory}", err=True)
    return 0

"""`nntrain diagnose`: look inside a network on one batch of its data."""

from __future__ import annotations

import click

from nntrain.cli import diagnose_view
from nntrain.cli.app import CONFIG, cli, debug_option, stdout_json
from nntrain.cli.render import wide_console
from nntrain.diagnostics import diagnose as diagnose_batch
from nntrain.diagnostics.subject import first_samples, open_subject
from nntrain.errors import InputError


def _plotter(path: str):
    """The plotting module, checked before any work (a missing extra costs nothing)."""
    if not path.lower().endswith(".png"):
        raise InputError(f"expected a file name ending in .png, received {path!r}",
                         key="--plot")
    try:
        from nntrain.cli import diagnose_plot
    except ImportError:
        raise InputError('--plot needs matplotlib: pip install "nntrain[plot]"') from None
    return diagnose_plot


@cli.command()
@click.argument("target", metavar="CONFIG|RUN_DIR", type=CONFIG)
@click.option("--checkpoint", "checkpoint_path", default=None, metavar="PATH",
              help="Weights to look at (default: what evaluate scores — a finished run's "
                   "final model, else its latest checkpoint; a config's initial weights).")
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=256,
              show_default=True, help="Samples to look at: the first N of the split.")
@click.option("--split", type=click.Choice(["train", "val"]), default="train",
              show_default=True)
@click.option("--plot", "plot_path", default=None, metavar="FILE.png",
              help="Also draw each layer's histogram and gradient norm (needs matplotlib).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one config key (VALUE is YAML).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@debug_option
def diagnose(target, checkpoint_path, batch_size, split, plot_path, overrides, as_json):
    """Per-layer statistics on one batch: activations (mean, std, dead and saturated units,
    histogram), gradient norms, the update one optimizer step would make, and warnings."""
    plotter = _plotter(plot_path) if plot_path else None
    subject = open_subject(target, checkpoint=checkpoint_path, overrides=overrides)
    xs, y = first_samples(subject, split, batch_size)
    # training=True: what the next training step would see (Dropout on, BatchNormalization on
    # batch statistics); the model is a throwaway, so nothing it changes is kept.
    report = diagnose_batch(subject.model, subject.loss, xs, y, optimizer=subject.optimizer,
                            training=True, initial=subject.checkpoint is None)
    report = {"target": str(target), "config": subject.config_file,
              "checkpoint": subject.checkpoint, "epoch": subject.epoch,
              "weights": subject.weights, "fresh_optimizer": subject.fresh_optimizer,
              "split": split, **report}
    if plotter:
        plotter.save(report, plot_path, diagnose_view.title_of(report))
        click.echo(f"Wrote {plot_path}", err=True)
    if as_json:
        stdout_json(report)
    else:
        diagnose_view.print_report(wide_console(), report)
    return 0

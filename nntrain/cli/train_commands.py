"""Commands that train or use a run: fit, resume, evaluate, predict, checkpoints. Each is a thin
layer over the Python API (nntrain/api.py): parse, call, render."""

from __future__ import annotations

import signal
from pathlib import Path

import click

import nntrain
from nntrain import from_config
from nntrain.cli import render
from nntrain.cli.app import (CONFIG, FILE, RUN_DIR, cli, debug_option, max_memory_option,
                             stdout_json)
from nntrain.cli.options import record_threads, threads_option, use_config_threads
from nntrain.cli.progress import make_progress
from nntrain.predict import predict_file
from nntrain.training import checkpoint as ckpt
from nntrain.training.callbacks import Callback
from nntrain.training.restore import checkpoint_for
from nntrain.training.run_dir import base_directory, run_dir_argument
from nntrain.training.trainer import Interrupted, StoppedAtOnce

SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


class SignalStop(Callback):
    """Ctrl-C / SIGTERM while training: the first finishes the batch and checkpoints (the
    trainer's save-and-stop path), a second stops at once (the previous checkpoint stays
    valid). Installed for the duration of one command; a listener, so it knows the trainer."""

    def __init__(self, progress):
        self.progress = progress
        self.trainer = None
        self._previous = {}

    def __enter__(self):
        for sig in SIGNAL_EXIT:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, h in self._previous.items():
            signal.signal(sig, h)

    def _handle(self, signum, frame):
        if self.trainer is None or self.trainer.interrupt_signal is not None:
            raise StoppedAtOnce(signum)
        self.trainer.interrupt_signal = signum
        self.progress.message("Stopping after this batch (press Ctrl-C again to stop at once)...")


def _train(progress, run_training) -> int:
    """Run `run_training(listeners)` with signals handled; the exit code."""
    stop = SignalStop(progress)
    with stop:
        try:
            run_training([progress, stop])
        except StoppedAtOnce as e:
            progress.close()
            where = stop.trainer.run_dir if stop.trainer else "RUN_DIR"
            click.echo(f"error: stopped at once by a second signal; the checkpoint before it is "
                       f"intact: nntrain resume {where} --latest", err=True)
            return SIGNAL_EXIT.get(e.signum, 130)
        except Interrupted as e:
            progress.close()
            # on stderr even with --quiet: the one thing the user must know after an interrupt
            click.echo(f"Interrupted; saved {e.checkpoint}. Continue with: "
                       f"nntrain resume {stop.trainer.run_dir} --latest", err=True)
            return SIGNAL_EXIT.get(e.signum, 130)
    return 0


@cli.command()
@click.argument("config_path", metavar="CONFIG", type=CONFIG)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one config key (VALUE is YAML), e.g. fit.epochs=3.")
@click.option("--run-dir", default=None, type=RUN_DIR,
              help="Write the run here instead of runs/<name>.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@max_memory_option
@debug_option
@threads_option
def fit(config_path, overrides, run_dir, quiet):
    """Train the model a config describes; writes runs/<name>/."""
    config = from_config.open_config(config_path, overrides,
                                     needs=("model", "compile.loss", "data"))
    record_threads(config)
    use_config_threads(config)
    model = nntrain.Model.from_config(config)
    target = base_directory(config.data, run_dir, Path(config_path).stem)
    progress = make_progress(quiet)
    if "sweep" in config.data:
        progress.message(f"Note: {config_path} has a sweep: section; fit trains the config once, "
                         f"as it is. To run the sweep: nntrain sweep {config_path}")
    return _train(progress, lambda listeners: model.fit(run_dir=target, listeners=listeners))


@cli.command()
@click.argument("run_dir", required=False, metavar="[RUN_DIR]", type=RUN_DIR)
@click.option("--latest", is_flag=True, help="Continue from the newest complete checkpoint.")
@click.option("--checkpoint", "checkpoint_path", default=None, type=FILE,
              help="Continue from this file.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Total number of epochs of the run (Keras `epochs`).")
@click.option("--weights-only-ok", is_flag=True,
              help="Accept a weights-only checkpoint and start a fresh optimizer.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@max_memory_option
@debug_option
@threads_option
def resume(run_dir, latest, checkpoint_path, epochs, weights_only_ok, quiet):
    """Continue a run exactly where it stopped."""
    if latest == bool(checkpoint_path):
        raise click.UsageError("give exactly one of --latest or --checkpoint PATH")
    run = run_dir_argument(run_dir)
    use_config_threads(from_config.open_config(run.config))
    progress = make_progress(quiet)
    return _train(progress, lambda listeners: nntrain.resume(
        run.path, checkpoint=checkpoint_path, epochs=epochs, weights_only_ok=weights_only_ok,
        listeners=listeners))


def _which(final, latest, best, checkpoint_path) -> str | None:
    if sum(map(bool, (final, latest, best, checkpoint_path))) > 1:
        raise click.UsageError("give at most one of --final, --latest, --best, --checkpoint")
    return "final" if final else "latest" if latest else "best" if best else None


def _load(run_dir, which, checkpoint_path):
    run = run_dir_argument(run_dir)
    if checkpoint_path:
        return nntrain.load(checkpoint_for(run, which, checkpoint_path))
    return nntrain.load(run.path, which=which)


def which_options(f):
    for opt in reversed([
            click.option("--final", is_flag=True,
                         help="The weights fit ended with (default for a finished run)."),
            click.option("--latest", is_flag=True,
                         help="The newest checkpoint (default for an unfinished run)."),
            click.option("--best", is_flag=True, help="The best checkpoint."),
            click.option("--checkpoint", "checkpoint_path", default=None, type=FILE,
                         help="This checkpoint file.")]):
        f = opt(f)
    return f


@cli.command()
@click.argument("run_dir", required=False, metavar="[RUN_DIR]", type=RUN_DIR)
@which_options
@click.option("--split", type=click.Choice(["test", "val", "train"]), default="test",
              show_default=True)
@click.option("--confusion", is_flag=True,
              help="Also show the confusion matrix (true class by predicted class).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@max_memory_option
@debug_option
@threads_option
def evaluate(run_dir, final, latest, best, checkpoint_path, split, confusion, as_json):
    """Score a saved model on the test (or val/train) split."""
    model = _load(run_dir, _which(final, latest, best, checkpoint_path), checkpoint_path)
    use_config_threads(model.config)
    part = model.data_split(split)
    matrix = model.confusion_matrix(part) if confusion else None
    results, samples = model.evaluate(part), len(part)
    if as_json:
        extra = {"confusion_matrix": matrix.tolist()} if confusion else {}
        stdout_json({**results, "checkpoint": str(model.checkpoint), "split": split,
                     "samples": samples, "epoch": model.checkpoint_meta.get("epoch"),
                     "holds": model.checkpoint_description, **extra})
        return 0
    console = render.wide_console()
    render.print_evaluation(console, results,
                            f"Evaluation of {model.checkpoint} ({model.checkpoint_description}) "
                            f"on {split} ({samples} samples)")
    if confusion:
        console.print(render.confusion_table(matrix))
    return 0


@cli.command()
@click.argument("run_dir", required=False, metavar="[RUN_DIR]", type=RUN_DIR)
@click.option("--input", "input_path", required=True, type=FILE,
              help=".npy, .npz or .csv of inputs.")
@click.option("--output", "output_path", default=None, type=FILE,
              help=".npy (probabilities) or .csv (probabilities and class); "
                   "default: CSV on stdout.")
@which_options
@max_memory_option
@debug_option
@threads_option
def predict(run_dir, input_path, output_path, final, latest, best, checkpoint_path):
    """Predict with a saved model; class probabilities and the predicted class."""
    model = _load(run_dir, _which(final, latest, best, checkpoint_path), checkpoint_path)
    use_config_threads(model.config)
    click.echo(predict_file(model, input_path, output_path), err=True)
    return 0


@cli.command(name="checkpoints")
@click.argument("run_dir", required=False, metavar="[RUN_DIR]", type=RUN_DIR)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@debug_option
def checkpoints_command(run_dir, as_json):
    """List a run's checkpoints: epoch, monitored values, size, latest, best and final."""
    run = run_dir_argument(run_dir)
    index = ckpt.read_index(run.checkpoints)
    if as_json:
        stdout_json(index)
        return 0
    render.wide_console().print(render.checkpoints_table(index, f"Checkpoints of {run}"))
    return 0

"""Commands that train or use a run: fit, resume, evaluate, predict, checkpoints."""

from __future__ import annotations

import signal
from pathlib import Path

import click
from rich.table import Table

from nntrain import workspace
from nntrain.cli.app import cli, stdout_json
from nntrain.cli.render import wide_console
from nntrain.cli.progress import make_reporter
from nntrain.errors import InputError
from nntrain.predict import predict_file
from nntrain.training import checkpoint as ckpt
from nntrain.training import run as runs
from nntrain.training.trainer import Interrupted

SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StoppedAtOnce(BaseException):
    """A second Ctrl-C / SIGTERM: leave now, whatever is running (writes are atomic, so the
    previous checkpoint stays valid). A BaseException so no `except Exception` swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _train(session, reporter) -> int:
    """Train with Ctrl-C / SIGTERM handled: the first finishes the batch and checkpoints, a
    second stops at once (the previous checkpoint stays valid)."""
    trainer = session.trainer
    previous = {}

    def handler(signum, frame):
        if trainer.interrupt_signal is not None:
            raise StoppedAtOnce(signum)
        trainer.interrupt_signal = signum
        reporter.message("Stopping after this batch (press Ctrl-C again to stop at once)...")

    for sig in SIGNAL_EXIT:
        previous[sig] = signal.signal(sig, handler)
    try:
        with workspace.located(session.config):
            trainer.fit(session.epochs)
    except StoppedAtOnce as e:
        reporter.train_end()
        click.echo(f"error: stopped at once by a second signal; the checkpoint before it is "
                   f"intact: nntrain resume {trainer.run_dir} --latest", err=True)
        return SIGNAL_EXIT.get(e.signum, 130)
    except Interrupted as e:
        reporter.train_end()
        # on stderr even with --quiet: the one thing the user must know after an interrupt
        click.echo(f"Interrupted; saved {e.checkpoint}. Continue with: "
                   f"nntrain resume {trainer.run_dir} --latest", err=True)
        return SIGNAL_EXIT.get(e.signum, 130)
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)
    return 0


@cli.command()
@click.argument("config_path", metavar="CONFIG")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one config key (VALUE is YAML), e.g. fit.epochs=3.")
@click.option("--run-dir", default=None, help="Write the run here instead of runs/<name>.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def fit(config_path, overrides, run_dir, quiet, debug):
    """Train the model a config describes; writes runs/<name>/."""
    config = workspace.open_config(config_path, overrides,
                                   needs=("model", "compile.loss", "data"))
    reporter = make_reporter(quiet)
    if "sweep" in config.data:
        reporter.message(f"Note: {config_path} has a sweep: section; fit trains the config once, "
                         f"as it is. To run the sweep: nntrain sweep {config_path}")
    session = runs.start_fit(config, run_dir=run_dir, reporter=reporter,
                             config_name=runs.default_run_name(config_path))
    directory = session.trainer.run_dir
    base = run_dir or config.data.get("run_dir") or f"runs/{config.data.get('name', '')}"
    if Path(base).resolve() != directory.resolve():
        reporter.message(f"{base} already holds a run; writing {directory} instead")
    reporter.message(f"Run directory: {directory} ({session.trainer.dataset.describe()})")
    return _train(session, reporter)


@cli.command()
@click.argument("run_dir", required=False, metavar="[RUN_DIR]")
@click.option("--latest", is_flag=True, help="Continue from the newest complete checkpoint.")
@click.option("--checkpoint", "checkpoint_path", default=None, help="Continue from this file.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Total number of epochs of the run (Keras `epochs`).")
@click.option("--weights-only-ok", is_flag=True,
              help="Accept a weights-only checkpoint and start a fresh optimizer.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def resume(run_dir, latest, checkpoint_path, epochs, weights_only_ok, quiet, debug):
    """Continue a run exactly where it stopped."""
    if latest == bool(checkpoint_path):
        raise click.UsageError("give exactly one of --latest or --checkpoint PATH")
    directory = runs.run_dir_argument(run_dir)
    reporter = make_reporter(quiet)
    path = runs.checkpoint_for(directory, "latest", checkpoint_path) if checkpoint_path else None
    session, cp, fresh = runs.start_resume(directory, path, epochs=epochs,
                                           weights_only_ok=weights_only_ok, reporter=reporter)
    state = session.trainer.state
    if fresh:
        reporter.message("Weights-only checkpoint: starting a fresh optimizer (not an exact "
                         "resume).")
    if state.epoch >= session.epochs:
        reporter.message(f"Nothing to do: the run has completed {state.epoch} of "
                         f"{session.epochs} epochs (use --epochs N to train longer).")
        return 0
    where = f"epoch {state.epoch + 1}" + (f", batch {state.batch + 1}" if state.batch else "")
    reporter.message(f"Resuming {directory} from {cp.path} at {where}")
    return _train(session, reporter)


def _open_for_scoring(run_dir, latest, best, checkpoint_path, *, need_data=True):
    if sum(map(bool, (latest, best, checkpoint_path))) > 1:
        raise click.UsageError("give at most one of --latest, --best, --checkpoint")
    directory = runs.run_dir_argument(run_dir)
    path = runs.checkpoint_for(directory, "best" if best else "latest", checkpoint_path)
    session, cp = runs.open_checkpoint(directory, path, need_data=need_data)
    return directory, path, session, cp


@cli.command()
@click.argument("run_dir", required=False, metavar="[RUN_DIR]")
@click.option("--latest", is_flag=True, help="Score the newest checkpoint (the default).")
@click.option("--best", is_flag=True, help="Score the best checkpoint.")
@click.option("--checkpoint", "checkpoint_path", default=None, help="Score this file.")
@click.option("--split", type=click.Choice(["test", "val", "train"]), default="test",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def evaluate(run_dir, latest, best, checkpoint_path, split, as_json):
    """Score a saved model on the test (or val/train) split."""
    directory, path, session, cp = _open_for_scoring(run_dir, latest, best, checkpoint_path)
    data = session.trainer.dataset
    part = {"test": data.test, "val": data.val, "train": data.train}[split]
    if part is None:
        raise InputError(f"the run has no {split} split; set data.{split} in the config or "
                         f"choose --split", key=f"data.{'validation' if split == 'val' else split}",
                         file=str(directory / "config.yaml"))
    results = session.trainer.evaluate(part, batch_size=256)
    out = {**results, "checkpoint": str(path), "split": split, "samples": len(part),
           "epoch": cp.meta.get("epoch")}
    if as_json:
        stdout_json(out)
        return 0
    table = Table()
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    for k, v in results.items():
        table.add_row(k, f"{v:.4f}")
    console = wide_console()
    console.print(f"Evaluation of {path} on {split} ({len(part)} samples)", soft_wrap=True)
    console.print(table)
    if "accuracy" in results:
        console.print(f"Restored model, accuracy: {100 * results['accuracy']:5.2f}%")
    return 0


@cli.command()
@click.argument("run_dir", required=False, metavar="[RUN_DIR]")
@click.option("--input", "input_path", required=True, help=".npy, .npz or .csv of inputs.")
@click.option("--output", "output_path", default=None,
              help=".npy (probabilities) or .csv (probabilities and class); default: CSV on stdout.")
@click.option("--latest", is_flag=True)
@click.option("--best", is_flag=True)
@click.option("--checkpoint", "checkpoint_path", default=None)
def predict(run_dir, input_path, output_path, latest, best, checkpoint_path):
    """Predict with a saved model; class probabilities and the predicted class."""
    _, _, session, cp = _open_for_scoring(run_dir, latest, best, checkpoint_path,
                                          need_data=False)
    message = predict_file(session.trainer.model, runs.checkpoint_normalizer(cp), input_path,
                           output_path)
    click.echo(message, err=True)
    return 0


@cli.command(name="checkpoints")
@click.argument("run_dir", required=False, metavar="[RUN_DIR]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def checkpoints_command(run_dir, as_json):
    """List a run's checkpoints: epoch, monitored values, size, latest and best."""
    directory = runs.run_dir_argument(run_dir)
    index = ckpt.read_index(directory / "checkpoints")
    if as_json:
        stdout_json(index)
        return 0
    table = Table(title=f"Checkpoints of {directory}", title_justify="left")
    names = sorted({k for e in index["checkpoints"] for k in e.get("values", {})} - {"lr"})
    for col in ["File", "Epoch", "Step", *names, "Size", ""]:
        table.add_column(col, justify="left" if col in ("File", "") else "right")
    for e in index["checkpoints"]:
        marks = [m for m, key in (("latest", "latest"), ("best", "best")) if index.get(key) ==
                 e["file"]]
        epoch = f"{e['epoch']}" + (f" (batch {e['batch']})" if e.get("batch") else "")
        values = [f"{e['values'][n]:.4f}" if n in e.get("values", {}) else "" for n in names]
        size = f"{e['size'] / 1024:.1f} KB" if e.get("size") else ""
        table.add_row(e["file"], epoch, str(e.get("global_step", "")), *values, size,
                      ", ".join(marks) + (" weights-only" if e.get("weights_only") else ""))
    wide_console().print(table)
    return 0

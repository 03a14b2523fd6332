"""Commands for families of runs: plot (learning curves), runs (table, --diff) and sweep."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click
from rich.console import Console

from nntrain.cli import plot_view, runs_view
from nntrain.cli.app import CONFIG, FILE, RUN_DIR, cli, debug_option, stdout_json
from nntrain.cli.render import wide_console
from nntrain.cli.sweep_view import SweepDisplay
from nntrain.errors import CheckpointError, InputError
from nntrain.experiments import catalog, compare
from nntrain.experiments import sweep as sweeps
from nntrain.training.run_dir import RUNS_ROOT, latest_run

SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


# -- plot -----------------------------------------------------------------------------------
def _curves(directories: list[Path]) -> tuple[list, list[Path]]:
    """(label, history rows) per run with at least one finished epoch, and the runs without."""
    infos = [catalog.describe(d, d.parent) for d in directories]
    labels = [i.label for i in infos]
    if len(set(labels)) < len(labels):            # e.g. runs of two sweeps: use their paths
        labels = [str(d) for d in directories]
    curves, empty = [], []
    for d, label in zip(directories, labels):
        rows = catalog.read_history(d)
        if rows:
            curves.append((label, rows))
        else:
            empty.append(d)
    return curves, empty


@cli.command()
@click.argument("run_dirs", nargs=-1, metavar="RUN_DIR...", type=RUN_DIR)
@click.option("--metric", "metrics", multiple=True, metavar="NAME",
              help="A quantity to draw (repeatable): loss, accuracy, val_accuracy, lr, ...")
@click.option("--output", default=None, metavar="FILE.png", type=FILE,
              help="Write a PNG (matplotlib) instead of drawing in the terminal.")
@click.option("--log-y", is_flag=True, help="Logarithmic y axis.")
@debug_option
def plot(run_dirs, metrics, output, log_y):
    """Learning curves of runs (a sweep directory means all its runs): loss and each metric,
    training solid and validation dashed, the learning rate on its own panel."""
    directories = catalog.resolve_runs(list(run_dirs)) if run_dirs else [latest_run().path]
    curves, empty = _curves(directories)
    for d in empty:
        click.echo(f"{d}: no finished epoch yet; left out", err=True)
    if not curves:
        raise CheckpointError("no run has a finished epoch to plot yet (history.csv)",
                              file=str(directories[0]))
    sweeps_of = {d.parent.name if catalog.read_manifest(d.parent) else None for d in directories}
    title = next(iter(sweeps_of)) or "" if len(sweeps_of) == 1 else ""   # all of one sweep
    if output:
        fig = plot_view.figure(curves, metrics, log_y=log_y, title=title)
        try:
            plot_view.save_png(fig, output)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot write the figure: {e}", file=output) from None
        click.echo(f"Wrote {output} ({len(curves)} runs)", err=True)
        return 0
    console = Console()
    width = console.width if console.is_terminal else 120
    try:
        text = plot_view.terminal_chart(curves, metrics, width=width,
                                        colour=console.is_terminal, log_y=log_y)
    except ImportError:
        raise InputError('the terminal chart needs plotext: pip install "nntrain[plot]" '
                         '(or write a PNG with --output)') from None
    click.echo(text)
    return 0


# -- runs -----------------------------------------------------------------------------------
def _run_argument(text: str, directory: Path) -> Path:
    for candidate in (Path(text), directory / text):
        if catalog.is_run(candidate):
            return candidate
    raise CheckpointError("not a run directory (no config.yaml)", file=text)


@cli.command(name="runs")
@click.argument("directory", required=False, metavar="[DIR]", type=RUN_DIR)
@click.option("--sort", "sort_key", default=None, metavar="KEY",
              help="path, status, epochs, time, a monitored metric (best first) or a key.")
@click.option("--diff", nargs=2, default=None, metavar="RUN_A RUN_B",
              help="Two runs' configs side by side, changed keys only.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@debug_option
def runs_command(directory, sort_key, diff, as_json):
    """The runs under ./runs (or DIR), found recursively: status, epochs, best values, time and
    the config keys in which they differ."""
    root = Path(directory or RUNS_ROOT)
    if directory and not root.is_dir():
        raise CheckpointError("no such directory", file=directory)
    if diff:
        a, b = (_run_argument(t, root) for t in diff)
        changes = compare.config_diff(catalog.read_config(a), catalog.read_config(b))
        if as_json:
            stdout_json({"a": str(a), "b": str(b), "changes": [
                {"key": k, **({"a": va} if va is not compare.MISSING else {}),
                 **({"b": vb} if vb is not compare.MISSING else {})} for k, va, vb in changes]})
        elif changes:
            wide_console().print(runs_view.diff_table(str(a), str(b), changes))
        else:
            click.echo(f"{a} and {b} have the same config")
        return 0
    infos = catalog.list_runs(root)
    shown = compare.table_columns(infos)
    infos = compare.sort_runs(infos, sort_key, shown)
    if as_json:
        stdout_json({"runs": [i.to_json() for i in infos]})
        return 0
    runs_view.print_runs(wide_console(), infos, shown, title=f"Runs under {root}")
    return 0


# -- sweep ----------------------------------------------------------------------------------
@cli.command()
@click.argument("config_path", metavar="CONFIG", type=CONFIG)
@click.option("--grid", "grids", multiple=True, metavar="KEY=V1,V2,...",
              help="A swept key and its values (repeatable); KEY=loguniform(a,b), "
                   "uniform(a,b) or choice(...) with --random.")
@click.option("--random", "random_n", type=click.IntRange(min=1), default=None, metavar="N",
              help="N random draws instead of the full grid.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed of the random draws (default 0).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Runs at once on this machine (default: its cores).")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS|auto",
              help="Run each run as a Ray task on the cluster at ADDRESS (HOST:6379).")
@click.option("--cpus-per-run", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="CPUs Ray reserves for each run.")
@click.option("--name", default=None, help="The sweep's directory: runs/NAME.")
@click.option("--dry-run", is_flag=True, help="Show the runs and what would happen; run none.")
@debug_option
def sweep(config_path, grids, random_n, seed, workers, ray_address, cpus_per_run, name,
          dry_run):
    """Train a family of runs: the grid (or N random draws) of --grid values or the config's
    sweep: section, each an ordinary resumable run under runs/<sweep>/<id>/. Re-running the
    same command skips finished runs and resumes interrupted ones."""
    plan = sweeps.plan(config_path, grids, random=random_n, seed=seed, name=name)
    console = Console(stderr=True, highlight=False)
    if dry_run:
        for run in plan.runs:
            console.print(f"{run.directory}  {run.label}  ({' '.join(run.sets)})",
                          soft_wrap=True)
        return 0
    connected = False
    if ray_address:
        from nntrain.experiments import ray_backend
        connected = ray_backend.connect(ray_address)       # a bad address fails here, first
    try:
        with sweeps.session(plan):
            outcomes, signals = _execute(plan, console, workers, ray_address, cpus_per_run)
    finally:
        if connected:
            ray_backend.disconnect()
    return _report(plan, outcomes, signals)


def _execute(plan, console, workers, ray_address, cpus_per_run):
    todo = plan.to_run()
    for state, verb in (("finished", "finished already"), ("running", "running elsewhere")):
        skipped = [r.id for r in plan.runs if r.action == state]
        if skipped:
            console.print(f"Skipping {len(skipped)} {verb}: {', '.join(skipped)}",
                          soft_wrap=True)
    if not todo:
        return {}, []
    specs = [plan.spec(r) for r in todo]
    with SweepDisplay(console, plan) as display:
        if ray_address:
            from nntrain.experiments import ray_backend
            if workers:
                display.say("Note: --workers is for local runs; Ray runs as many at once as "
                            "the cluster's CPUs allow (--cpus-per-run each)")
            display.say(f"Sweep {plan.name}: {len(todo)} runs as Ray tasks "
                        f"({cpus_per_run:g} CPU each)")
            return ray_backend.run_ray(specs, cpus_per_run, display)
        from nntrain.experiments.local import run_local
        cores = os.cpu_count() or 1
        n = min(workers or plan.workers or cores, len(todo))
        display.say(f"Sweep {plan.name}: {len(todo)} runs, {n} at a time")
        return run_local(specs, n, display, threads=max(1, cores // n))


def _report(plan, outcomes, signals) -> int:
    ids = {r.id for r in plan.runs}
    infos = [i for i in catalog.list_runs(plan.root) if i.path in ids]
    shown = compare.table_columns(infos)
    monitor = plan.monitor.name if plan.monitor else None
    key = monitor if monitor and any(monitor in i.best for i in infos) else None
    infos = compare.sort_runs(infos, key, shown)
    runs_view.print_runs(wide_console(), infos, shown,
                         title=f"Sweep {plan.name}" + (f", sorted by best {key}" if key else ""))
    failed = [r for r in plan.runs if outcomes.get(r.id) and outcomes[r.id].status == "failed"]
    if signals:
        stopped = sum(1 for o in outcomes.values() if o.status in ("interrupted", "not started"))
        click.echo(f"Interrupted: {stopped} runs left to do; run the same command again to "
                   f"resume them.", err=True)
        return SIGNAL_EXIT.get(signals[0], 130)
    if failed:
        click.echo(f"error: {len(failed)} of {len(outcomes)} runs failed: "
                   f"{', '.join(str(r.directory) for r in failed)}", err=True)
        return 1
    return 0

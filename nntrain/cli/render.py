"""Rich tables for the commands' human-readable output. Nothing here computes anything."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def wide_console() -> Console:
    """A console that does not squeeze tables to 80 columns when stdout is a file or pipe."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)
    return console


def _shape(shape) -> str:
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def _flops(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}FLOPs"
    return f"{n} FLOPs"


def summary_table(summary: dict, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("Layer (type)")
    table.add_column("Output Shape")
    table.add_column("Param #", justify="right")
    if summary["functional"]:
        table.add_column("Connected to")
    table.add_column("FLOPs/sample", justify="right")
    for row in summary["layers"]:
        cells = [f"{row['name']} ({row['type']})", _shape(row["output_shape"]),
                 f"{row['params']:,}"]
        if summary["functional"]:
            cells.append(", ".join(row["connected_to"]))
        cells.append(f"{row['flops']:,}")
        table.add_row(*cells)
    return table


def print_summary(console: Console, summary: dict, title: str) -> None:
    console.print(summary_table(summary, title))
    console.print(f" Total params: {summary['total_params']:,} "
                  f"({_bytes(summary['param_bytes'])})")
    console.print(f" Trainable params: {summary['trainable_params']:,}")
    console.print(f" Non-trainable params: {summary['non_trainable_params']:,}")
    console.print(f" Activation memory per sample: "
                  f"{_bytes(summary['activation_bytes_per_sample'])}")
    console.print(f" Forward FLOPs per sample: {_flops(summary['flops_per_sample'])}")
    carried = [r["name"] for r in summary["layers"] if r.get("masked")]
    dropped = [r["name"] for r in summary["layers"] if r.get("mask_dropped")]
    if carried:
        console.print(f" Mask carried by: {', '.join(carried)}")
    if dropped:
        console.print(f" Mask dropped by: {', '.join(dropped)} (no masking support)")


def print_gradcheck(console: Console, rows: list[dict], tolerance: float) -> None:
    table = Table(title="Gradient check (float64, central differences)", title_justify="left")
    for col in ("Layer", "Tensor", "Entries", "Relative error", ""):
        table.add_column(col, justify="right" if col in ("Entries", "Relative error") else "left")
    for r in rows:
        ok = r["rel_error"] <= tolerance
        table.add_row(r["layer"], r["param"], str(r["entries"]), f"{r['rel_error']:.2e}",
                      "[green]ok[/]" if ok else "[red]FAIL[/]")
    console.print(table)
    worst = max((r["rel_error"] for r in rows), default=0.0)
    verdict = "[green]passed[/]" if worst <= tolerance else "[red]failed[/]"
    console.print(f" max relative error {worst:.2e} (tolerance {tolerance:.0e}): {verdict}")


def print_evaluation(console: Console, results: dict, heading: str) -> None:
    """`evaluate`: a Metric / Value table under a heading naming the file and split."""
    table = Table()
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    for k, v in results.items():
        table.add_row(k, f"{v:.4f}")
    console.print(heading, soft_wrap=True)
    console.print(table)
    if "accuracy" in results:
        console.print(f"Restored model, accuracy: {100 * results['accuracy']:5.2f}%")


def checkpoints_table(index: dict, title: str) -> Table:
    """`checkpoints`: one row per file with epoch, step, monitored values, size and marks
    (latest, best, final)."""
    table = Table(title=title, title_justify="left")
    names = sorted({k for e in index["checkpoints"] for k in e.get("values", {})} - {"lr"})
    for col in ["File", "Epoch", "Step", *names, "Size", ""]:
        table.add_column(col, justify="left" if col in ("File", "") else "right")
    for e in index["checkpoints"]:
        marks = [m for m in ("latest", "best", "final") if index.get(m) == e["file"]]
        if e.get("weights_only") and not e.get("final"):
            marks.append("weights-only")
        if e.get("restored_epoch"):
            marks.append(f"weights of epoch {e['restored_epoch']}")
        epoch = f"{e['epoch']}" + (f" (batch {e['batch']})" if e.get("batch") else "")
        values = [f"{e['values'][n]:.4f}" if n in e.get("values", {}) else "" for n in names]
        size = f"{e['size'] / 1024:.1f} KB" if e.get("size") else ""
        table.add_row(e["file"], epoch, str(e.get("global_step", "")), *values, size,
                      ", ".join(marks))
    return table


def confusion_table(matrix) -> Table:
    """`evaluate --confusion`: rows are true classes, columns predicted ones; the diagonal (the
    correct predictions) in bold, each row's recall at its end."""
    k = len(matrix)
    table = Table(title="Confusion matrix (rows: true class, columns: predicted class)",
                  title_justify="left")
    table.add_column("true \\ pred", justify="right")
    for j in range(k):
        table.add_column(str(j), justify="right")
    table.add_column("recall", justify="right")
    for i, row in enumerate(matrix):
        total = int(sum(row))
        cells = [f"[bold]{int(v)}[/]" if i == j else str(int(v)) for j, v in enumerate(row)]
        recall = f"{row[i] / total:.3f}" if total else "-"
        table.add_row(str(i), *cells, recall)
    return table


def print_explanation(console: Console, d) -> None:
    """`explain`: one registry entry (a nntrain.reference.Description) — kind and name, its
    meaning, where it goes, its arguments with defaults, an example line."""
    from nntrain.reference import flow
    console.print(f"[bold]{d.name}[/] ({d.kind.noun})"
                  + (f" — also {', '.join(d.aliases)}" if d.aliases else ""), soft_wrap=True)
    console.print(d.summary or "(no description)", soft_wrap=True)
    console.print(f"Where: {d.kind.where}.", soft_wrap=True, markup=False)
    if d.own_arguments:
        table = Table(show_edge=False)
        table.add_column("argument")
        table.add_column("default")
        for a in d.own_arguments:
            table.add_row(a.name, "required" if a.required else flow(a.default))
        console.print(table)
    else:
        console.print("No arguments.")
    console.print(f"Example: {d.example}", soft_wrap=True, markup=False, highlight=False)

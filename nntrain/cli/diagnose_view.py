"""`nntrain diagnose` in the terminal: one rich table row per layer, its histogram as a one-line
bar chart beside its numbers, the through-time picture of recurrent layers, then the warnings.
Nothing here computes statistics; it only draws the report of `nntrain.diagnostics.diagnose`."""

from __future__ import annotations

import math
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

BARS = " ▁▂▃▄▅▆▇█"   # a zero count is a blank, so an empty bin differs from a small one


def zero_spike(row: dict) -> bool:
    """Whether a histogram of non-negative values (ReLU outputs, and what pooling or dropout make
    of them) has a first bin — the zeros — more than twice the tallest other bin: it is then
    drawn off scale, so the shape of the positive part stays visible."""
    counts, edges = row["histogram"]["counts"], row["histogram"]["edges"]
    rest = max(counts[1:], default=0)
    probabilities = row["activation"] in ("softmax", "sigmoid", "hard_sigmoid")
    return edges[0] == 0.0 and not probabilities and rest > 0 and counts[0] > 2 * rest


def bar_chart(counts: list[int], first_off_scale: bool = False) -> str:
    """One character per bin, its height proportional to the count (the tallest is █). With
    `first_off_scale`, heights are relative to the tallest of the other bins and the first bin
    is a full block."""
    top = max(counts[1:] if first_off_scale else counts, default=0)
    if top == 0:
        return " " * len(counts)
    chars = [BARS[0] if c == 0 else BARS[min(8, max(1, math.ceil(8 * c / top)))] for c in counts]
    return "".join(chars)


def sparkline(values: list[float]) -> str:
    """Heights on a log scale (gradient norms span orders of magnitude), lowest ▁, highest █."""
    logs = [math.log10(v) for v in values if v > 0]
    if not logs:
        return ""
    lo, hi = min(logs), max(logs)
    span = hi - lo or 1.0
    return "".join(BARS[1 + round(7 * (math.log10(v) - lo) / span)] if v > 0 else BARS[0]
                   for v in values)


def _num(v, fmt: str = ".3g") -> str:
    return "[dim]–[/]" if v is None else format(v, fmt)


def _pct(v) -> str:
    return "[dim]–[/]" if v is None else f"{100 * v:.0f}%"


def _range(histogram: dict) -> str:
    edges = histogram["edges"]
    return f"{edges[0]:.2g} … {edges[-1]:.2g}"


def layers_table(report: dict) -> Table:
    table = Table()
    for name, justify in (("Layer (type)", "left"), ("Act.", "left"), ("Mean", "right"),
                          ("Std", "right"), ("Dead", "right"), ("Sat.", "right"),
                          ("Histogram", "left"), ("Range", "left"), ("Grad norm", "right"),
                          ("Update/weight", "right")):
        table.add_column(name, justify=justify, no_wrap=name == "Histogram")
    for r in report["layers"]:
        hist = r.get("histogram")
        chart = ""
        if hist:
            spike = zero_spike(r)
            bars = bar_chart(hist["counts"], spike)
            chart = (f"[magenta]{bars[0]}[/][cyan]{bars[1:]}[/]" if spike
                     else f"[cyan]{bars}[/]")
        table.add_row(escape(f"{r['name']} ({r['type']})"), r["activation"] or "[dim]–[/]",
                      _num(r["mean"]), _num(r["std"]), _pct(r["dead_fraction"]),
                      _pct(r["saturated_fraction"]),
                      chart,
                      _range(hist) if hist else "", _num(r["grad_norm"], ".2e"),
                      _num(r["update_ratio"], ".1e"))
    return table


def through_time_lines(report: dict) -> list[str]:
    """For each recurrent layer: the gradient reaching its input, first vs last step."""
    lines = []
    for r in report["layers"]:
        tt = r.get("through_time")
        if not tt:
            continue
        ratio = "" if tt["ratio"] is None else f" (first/last = {tt['ratio']:.2g})"
        lines.append(f" {escape(r['name'])}: gradient reaching the input over {tt['steps']} steps "
                     f"[cyan]{sparkline(tt['norms'])}[/] (log scale) — first step "
                     f"{_num(tt['first'], '.2e')}, last {_num(tt['last'], '.2e')}{ratio}")
    return lines


def title_of(report: dict) -> str:
    """What was looked at, where and on what: one line."""
    where = (f"at {Path(report['checkpoint']).name} ({report['weights']})"
             if report.get("checkpoint") else "at initialization")
    loss = "" if report["loss"] is None else f", loss {report['loss']:.4f}"
    return (f"Diagnosis of {report['target']} {where}: {report['samples']} "
            f"{report['split']} samples{loss}")


def print_report(console: Console, report: dict) -> None:
    console.print(title_of(report), markup=False, soft_wrap=True)
    console.print(layers_table(report))
    if any(r.get("histogram") and zero_spike(r) for r in report["layers"]):
        console.print(" [magenta]█[/] a first bin of zeros (ReLU outputs, and pooling or dropout "
                      "of them), taller than drawn: the other bins are scaled to the tallest of "
                      "them")
    lines = through_time_lines(report)
    if lines:
        console.print("Through time:")
        for line in lines:
            console.print(line, soft_wrap=True)
    if report.get("fresh_optimizer"):
        console.print(" Update/weight: a fresh optimizer's first step (this checkpoint holds no "
                      "optimizer state)")
    ratio = report.get("gradient_ratio")
    if ratio and ratio["ratio"] is not None:
        console.print(f" gradient norm, last weighted layer over first: {ratio['from']} / "
                      f"{ratio['to']} = {ratio['ratio']:.3g}")
    if report["warnings"]:
        console.print("[bold yellow]Warnings[/]")
        for text in report["warnings"]:
            console.print(Text.assemble((" • ", "yellow"), text), soft_wrap=True)
    else:
        console.print("[green]No warnings.[/]")

"""Rich tables for `nntrain runs`: the runs with status, epochs, best values and the keys in
which they differ; `--diff`: two configs side by side. Nothing here computes anything beyond
formatting."""

from __future__ import annotations

import json

from rich.table import Table

from nntrain.experiments import catalog, compare, space

STATUS_STYLE = {"finished": "green", "running": "cyan", "interrupted": "yellow",
                "failed": "red"}


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def value_text(value) -> str:
    if value is compare.MISSING:
        return "–"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return space.format_value(value) if isinstance(value, float) else str(value)


def runs_table(infos: list[catalog.RunInfo], shown, title: str = "") -> Table:
    """`shown`: compare.TableColumns (monitors and differing keys)."""
    table = Table(title=title or None, title_justify="left")
    longest = max((len(i.path) for i in infos), default=3)
    table.add_column("Run", no_wrap=True, min_width=longest)      # never cut the run's name
    table.add_column("Status")
    table.add_column("Epochs", justify="right")
    for m in shown.monitors:
        table.add_column(f"best {m.name}", justify="right")
    table.add_column("Time", justify="right")
    for key, header in shown.keys:
        table.add_column(header, max_width=24, overflow="ellipsis")
    for info in infos:
        style = STATUS_STYLE.get(info.status, "")
        cells = [info.path, f"[{style}]{info.status}[/]" if style else info.status,
                 f"{info.epochs}/{info.planned}"]
        for m in shown.monitors:
            b = info.best.get(m.name)
            cells.append(f"{b['value']:.4f} (ep {b['epoch']})" if b else "–")
        cells.append(duration(info.seconds))
        cells += [shown.cell(info, key) for key, _ in shown.keys]
        table.add_row(*cells)
    return table


def print_runs(console, infos, shown, title: str = "") -> None:
    if not infos:
        console.print("No runs found.")
        return
    console.print(runs_table(infos, shown, title))
    if shown.hidden:
        console.print(f" {shown.hidden} more config keys differ between these runs; compare "
                      f"two with: nntrain runs --diff RUN_A RUN_B")


def diff_table(a: str, b: str, changes) -> Table:
    table = Table(title=f"Config keys that differ ({len(changes)})", title_justify="left")
    table.add_column("Key")
    table.add_column(a)
    table.add_column(b)
    for key, va, vb in changes:
        table.add_row(key, value_text(va), value_text(vb))
    return table

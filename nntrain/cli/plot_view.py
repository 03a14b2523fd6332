"""Learning curves of one or several runs: a matplotlib figure (PNG) or a terminal chart.

One panel per quantity (loss, each metric, the learning rate); one colour per run; training
solid and validation dashed in the figure, side-by-side panels in the terminal (which has no
dashes). Input: `curves`, a list of (label, history rows) with rows as read from history.csv.
"""

from __future__ import annotations

import math

from nntrain.errors import InputError

SKIP = ("epoch", "seconds", "lr")
MARKERS = "•+x*o#@%=~"          # one per run when the terminal shows no colours


# -- what to draw ---------------------------------------------------------------------------
def columns(curves) -> list[str]:
    seen: list[str] = []
    for _, rows in curves:
        for row in rows:
            seen += [k for k in row if k not in seen]
    return seen


def panels(curves, metrics: tuple[str, ...] = ()) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(title, [(column, "train"|"val"|"lr")])]: the asked metrics, else loss, every training
    metric and the learning rate. A name like val_accuracy draws that curve alone."""
    have = columns(curves)
    names = list(metrics) or ["loss"] + [c for c in have if c not in SKIP and
                                         not c.startswith("val_") and c != "loss"] + ["lr"]
    out = []
    for name in names:
        if name == "lr":
            lines = [("lr", "lr")]
        elif name.startswith("val_"):
            lines = [(name, "val")]
        else:
            lines = [(name, "train"), (f"val_{name}", "val")]
        lines = [line for line in lines if line[0] in have]
        if lines:
            out.append(("learning rate" if name == "lr" else name, lines))
        elif metrics:
            available = ", ".join(c for c in have if c not in ("epoch", "seconds"))
            raise InputError(f"no run logged {name!r}; available: {available}", key=name,
                             file="--metric")
    return out


def _series(rows, column):
    points = [(r["epoch"], r[column]) for r in rows if column in r and "epoch" in r
              and math.isfinite(r[column])]
    return [p[0] for p in points], [p[1] for p in points]


def _wide_range(curves, column) -> bool:
    values = [v for _, rows in curves for v in _series(rows, column)[1] if v > 0]
    return bool(values) and max(values) / min(values) > 20


# -- matplotlib -----------------------------------------------------------------------------
def import_pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError('--output needs matplotlib: pip install "nntrain[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def figure(curves, metrics=(), *, log_y: bool = False, title: str = ""):
    """The figure: panels in rows of up to three, a shared legend of runs and line styles
    below them. Returns the matplotlib Figure (its axes hold one Line2D per run and curve)."""
    plt = import_pyplot()
    from matplotlib.lines import Line2D
    spec = panels(curves, metrics)
    cols = min(len(spec), 3)
    rows = math.ceil(len(spec) / cols)
    legend_rows = 0.3 * len(curves) ** 0.5 + 0.6           # room for the legend below
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.3 * rows + legend_rows),
                             layout="constrained", squeeze=False)
    cmap = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20")
    colours = [cmap(i % cmap.N) for i in range(len(curves))]
    for ax, (name, lines) in zip(axes.flat, spec):
        for (label, rows_), colour in zip(curves, colours):
            for column, kind in lines:
                x, y = _series(rows_, column)
                if x:
                    ax.plot(x, y, color=colour, linestyle="--" if kind == "val" else "-",
                            linewidth=1.6, label=f"{label} ({column})")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        if (lines[0][1] == "lr" and _wide_range(curves, "lr")) or (log_y and name != "lr"):
            ax.set_yscale("log")
        if lines[0][1] == "lr":
            _constant_rate_ticks(ax, curves)
        ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in list(axes.flat)[len(spec):]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=c, linewidth=2.5, label=label)
               for (label, _), c in zip(curves, colours)]
    if any(kind == "val" for _, lines in spec for _, kind in lines):
        handles += [Line2D([], [], color="0.3", label="training"),
                    Line2D([], [], color="0.3", linestyle="--", label="validation")]
    # as many legend columns as fit the figure's width (about 0.07 in per character)
    longest = max(len(h.get_label()) for h in handles)
    fit = max(1, int(4.6 * cols / (0.07 * longest + 0.8)))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), fit),
               frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def _constant_rate_ticks(ax, curves) -> None:
    """Runs with constant rates: tick exactly those rates (not an offset scale around one)."""
    rates = {v for _, rows in curves for v in _series(rows, "lr")[1]}
    each_constant = all(len(set(_series(rows, "lr")[1])) <= 1 for _, rows in curves)
    if rates and each_constant and len(rates) <= 6:
        ax.set_yticks(sorted(rates), [f"{v:g}" for v in sorted(rates)])
        ax.minorticks_off()
        low, high = min(rates), max(rates)
        if low == high:
            ax.set_ylim(low * 0.5, low * 1.5)


def save_png(fig, path: str) -> None:
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt
    plt.close(fig)


# -- terminal -------------------------------------------------------------------------------
TAB10 = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
         (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def _epoch_ticks(curves) -> list[int]:
    last = int(max((r.get("epoch", 1) for _, rows in curves for r in rows), default=1))
    step = max(1, math.ceil(last / 8))
    return list(range(1, last + 1, step))


def terminal_chart(curves, metrics=(), *, width: int = 100, colour: bool = False,
                   log_y: bool = False, height: int = 16) -> str:
    """The curves as text (plotext): a legend line, then a row per quantity with training |
    validation side by side. Runs are told apart by colour (the PNG's), or by marker when
    `colour` is off (pipes, files, logs)."""
    import plotext as plt
    plt.terminal.limit(width=False, height=False)     # the size asked for, terminal or not
    styles = [plt.marker("hd", TAB10[i % 10]) if colour else MARKERS[i % len(MARKERS)]
              for i in range(len(curves))]
    legend = "   ".join(plt.colorize(f"━━ {label}", TAB10[i % 10]).string() if colour
                        else f"{styles[i]} {label}" for i, (label, _) in enumerate(curves))
    ticks = _epoch_ticks(curves)
    blocks = [legend, ""]
    for name, lines in panels(curves, metrics):
        fig = plt.figure
        fig.clear()
        fig.theme("clear")
        fig.plot_size(width if len(lines) > 1 else width // 2, height)
        if len(lines) > 1:
            fig.subplots(1, len(lines))
        for c, (column, kind) in enumerate(lines, start=1):
            sub = fig.subplot(1, c) if len(lines) > 1 else fig
            for style, (label, rows) in zip(styles, curves):
                x, y = _series(rows, column)
                if x:
                    sub.draw(sub.signal(x, y, marker=style).lines())
            sub.title(name if kind == "lr" else
                      f"{name} ({'validation' if kind == 'val' else 'training'})")
            sub.label("epoch")
            sub.ruler("x").ticks(ticks)
            if (log_y and kind != "lr") or (kind == "lr" and _wide_range(curves, "lr")):
                sub.ruler("y").scale("log")
        blocks.append(fig.build().string(colorless=not colour))
    return "\n".join(blocks)

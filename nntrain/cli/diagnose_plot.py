"""`nntrain diagnose --plot FILE.png`: the seed's figure with matplotlib — one histogram panel
per layer, left to right, mean and std in each title, and below them the gradient norm of every
layer with weights. Only the CLI imports this module; matplotlib is the optional extra `plot`."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image   # matplotlib's own dependency

from nntrain.cli.diagnose_view import zero_spike
from nntrain.training.atomic_files import atomic_write


def figure(report: dict, title: str) -> Figure:
    """Histograms in a row, gradient norms below; recurrent layers add a row with the gradient
    reaching their input at each time step."""
    layers = [r for r in report["layers"] if r.get("histogram")]
    recurrent = [r for r in report["layers"] if r.get("through_time")]
    n = max(len(layers), 1)
    ratios = [1.25, 1] + ([1] if recurrent else [])
    fig = Figure(figsize=(max(8.0, 1.45 * n), 2.3 * sum(ratios)), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(ratios), n, height_ratios=ratios)
    for i, r in enumerate(layers):
        _histogram_panel(fig.add_subplot(grid[0, i]), r)
    # one slot per histogram column, so each bar sits under its layer's panel
    ax = fig.add_subplot(grid[1, :])
    slots = [(i, r["grad_norm"]) for i, r in enumerate(layers) if r["grad_norm"] is not None]
    if slots:
        ax.bar([i for i, _ in slots], [g for _, g in slots], color="tab:orange", width=0.6)
        norms = [g for _, g in slots]
        if min(norms) > 0 and max(norms) / min(norms) > 20:
            ax.set_yscale("log")
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_xticks(range(len(layers)), [r["name"] for r in layers], fontsize=7,
                  rotation=30 if n > 8 else 0)
    ax.set_ylabel("gradient norm", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    if recurrent:
        _through_time_panel(fig.add_subplot(grid[2, :]), recurrent)
    fig.suptitle(title, fontsize=9)
    return fig


def _through_time_panel(ax, rows: list[dict]) -> None:
    """Norm of the gradient reaching each recurrent layer's input, per step, in the order the
    layer processes the steps (log scale: explosion and vanishing are exponential)."""
    for r in rows:
        norms = r["through_time"]["norms"]
        ax.plot(range(1, len(norms) + 1), norms, marker=".", label=r["name"])
    ax.set_yscale("log")
    ax.set_xlabel("time step (processing order)", fontsize=8)
    ax.set_ylabel("gradient at input", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)


def _histogram_panel(ax, r: dict) -> None:
    """A layer's histogram, titled with its mean and std (and dead or saturated fraction). Zeros
    that tower over the rest (ReLU outputs) are cut at the top and labelled, so the positive part
    stays visible."""
    edges, counts = r["histogram"]["edges"], r["histogram"]["counts"]
    ax.stairs(counts, edges, fill=True, color="tab:blue" if r["finite"] else "tab:red")
    if zero_spike(r):
        top = max(counts[1:]) * 1.25
        ax.set_ylim(0, top)
        share = counts[0] / max(sum(counts), 1)
        ax.text(edges[1], top * 0.97, f"◀ {100 * share:.0f}% in first bin", fontsize=6,
                va="top", ha="left", color="tab:purple")
    mean = "nan" if r["mean"] is None else f"{r['mean']:.2g}"
    std = "nan" if r["std"] is None else f"{r['std']:.2g}"
    title = f"{r['name']}\nmean {mean}\nstd {std}"
    if r["dead_fraction"] is not None:
        title += f"\ndead {100 * r['dead_fraction']:.0f}%"
    elif r["saturated_fraction"] is not None:
        title += f"\nsaturated {100 * r['saturated_fraction']:.0f}%"
    ax.set_title(title, fontsize=7)
    ax.set_yticks([])
    ax.set_xticks([edges[0], edges[-1]], [f"{edges[0]:.2g}", f"{edges[-1]:.2g}"])
    ax.tick_params(axis="x", labelsize=6)


def save(report: dict, path: str, title: str) -> None:
    """Write the figure as a PNG, atomically (an existing file is replaced only when done). The
    few colours of a chart fit a 64-colour palette: a third of the size, the same picture."""
    canvas = figure(report, title).canvas
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
    buf = io.BytesIO()
    image.convert("RGB").quantize(colors=64).save(buf, format="png", optimize=True)
    atomic_write(path, lambda f: f.write(buf.getvalue()))

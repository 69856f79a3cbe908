"""Loss curves as a small PNG (matplotlib, Agg backend), for channels that cannot draw charts."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

Points = list[list[float]]


def loss_chart_png(train: Points, valid: Points, title: str = "Loss") -> bytes:
    """A compact PNG of the training (and validation) loss by step."""
    figure = Figure(figsize=(4.8, 2.7), dpi=80)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if train:
        axes.plot([p[0] for p in train], [p[1] for p in train], label="training", lw=1.4)
    if valid:
        axes.plot([p[0] for p in valid], [p[1] for p in valid], label="validation", lw=1.4)
    axes.set_title(title, fontsize=10)
    axes.set_xlabel("step", fontsize=8)
    axes.set_ylabel("loss", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    if train or valid:
        axes.legend(fontsize=7, frameon=False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()

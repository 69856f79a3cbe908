"""Loss curves as a small PNG (matplotlib, Agg backend), for channels that cannot draw charts."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

PALETTE = 16

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
    drawn = io.BytesIO()
    figure.savefig(drawn, format="png", metadata={"Software": None})
    # 16 colours are plenty for two lines on a grid, and take a fifth of the bytes: the chart
    # rides inline with the notice, within Teams' message size limit.
    image = Image.open(io.BytesIO(drawn.getvalue())).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=PALETTE, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue()

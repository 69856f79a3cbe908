"""Loss curves as a PNG (matplotlib, Agg backend): the fallback of the notice's Chart.Line, for
Teams clients that cannot draw charts (Teams for iOS does not: microsoft/AdaptiveCards#9120)."""

from __future__ import annotations

import io
from functools import cache
from importlib.util import find_spec
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties, fontManager  # noqa: E402
from PIL import Image  # noqa: E402

from infra.i18n import SOURCE, _, current  # noqa: E402

OPAQUE = 80
"""The alpha from which a pixel of the drawing is ink (below it: background)."""
HANGUL_FONTS = (
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "NanumGothic",
    "Malgun Gothic",
    "Apple SD Gothic Neo",
    "UnDotum",
)
"""Fonts that draw Korean, best first (the first one installed is used)."""
NANUM_GOTHIC = ("koreanize_matplotlib", "fonts/NanumGothic.ttf")
"""NanumGothic (SIL Open Font Licence) as the PyPI package koreanize-matplotlib ships it: the
Korean font every install has (the package itself is never imported: it would change
matplotlib's global settings)."""

Points = list[list[float]]


@cache
def _font(language: str) -> str | None:
    """The font that draws `language` (None: the default one does, or none does)."""
    if language != "ko":
        return None
    package, name = NANUM_GOTHIC
    spec = find_spec(package)  # finds it without running it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / name).is_file():
            fontManager.addfont(str(Path(folder) / name))
    installed = {font.name for font in fontManager.ttflist}
    return next((name for name in HANGUL_FONTS if name in installed), None)


def _labels(title: str | None) -> tuple[str, str, str, str, str, str | None]:
    """Title, legend and axis words in the current language, and the font that draws them; in
    English when no installed font draws the language (words beat empty boxes)."""
    language = current()
    font = _font(language)
    if language != SOURCE and font is None:
        return title or "Loss", "training", "validation", "step", "loss", None
    return (
        title or _("Loss"),
        _("training"),
        _("validation"),
        _("step"),
        _("loss"),
        font,
    )


SIZE = (4.0, 2.0)
"""The chart's size in inches; at DPI it is 640 x 320 pixels, twice the 320 px a phone shows it
at (Teams mobile is where the fallback shows: Teams desktop draws the Chart.Line), so its text
stays sharp; larger would crowd the notice out of Teams' message size limit."""
DPI = 160
GREY = "#8c8c8c"
"""Text, axes and grid: a mid-grey that reads on Teams' light (#ffffff) and dark (#2d2c2c) card
backgrounds alike (3.4:1 and 4.1:1, above the 3:1 WCAG asks of graphics and large text; the
host configs of npm adaptivecards-designer); the background is transparent."""
LINES = ("#3a7bf0", "#e0601c")
"""Training and validation lines, a blue and an orange: 4.0:1 and 3.6:1 on light, 3.5:1 and
3.9:1 on dark."""


def loss_chart_png(train: Points, valid: Points, title: str | None = None) -> bytes:
    """A PNG of the training (and validation) loss by step, labelled in the current language, on
    a transparent background that suits Teams' light and dark themes."""
    title, training, validation, step, loss, font = _labels(title)
    figure = Figure(figsize=SIZE, dpi=DPI)
    figure.patch.set_alpha(0)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_facecolor("none")
    for label, points, color in ((training, train, LINES[0]), (validation, valid, LINES[1])):
        if points:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            axes.plot(xs, ys, label=label, lw=1.6, color=color)
    axes.set_title(title, fontproperties=FontProperties(family=font, size=10), color=GREY)
    axes.set_xlabel(step, fontproperties=FontProperties(family=font, size=8.5), color=GREY)
    axes.set_ylabel(loss, fontproperties=FontProperties(family=font, size=8.5), color=GREY)
    axes.tick_params(labelsize=8, colors=GREY)
    for spine in axes.spines.values():
        spine.set_color(GREY)
    axes.grid(color=GREY, lw=0.4)
    if train or valid:
        legend = axes.legend(prop=FontProperties(family=font, size=8), frameon=False)
        for said in legend.get_texts():
            said.set_color(GREY)
    figure.tight_layout(pad=0.4)
    drawn = io.BytesIO()
    figure.savefig(drawn, format="png", transparent=True, metadata={"Software": None})
    return _four_colours(Image.open(io.BytesIO(drawn.getvalue())).convert("RGBA"))


def _rgb(colour: str) -> list[int]:
    return [int(colour[i : i + 2], 16) for i in (1, 3, 5)]


def _four_colours(image: Image.Image) -> bytes:
    """`image` as a 2-bit PNG: transparent, grey, and the two line colours. It rides as base64
    inside the notice, within Teams' size limit counted in UTF-16 (bot/limits.py: 32 KB for the
    whole message, where base64 takes two bytes a character): a third of an 8-colour image's
    bytes, and drawn at half its size it looks smooth."""
    inks = np.array([_rgb(GREY), *(_rgb(line) for line in LINES)], dtype=np.int32)
    pixels = np.asarray(image).astype(np.int32)
    nearest = ((pixels[..., None, :3] - inks) ** 2).sum(axis=-1).argmin(axis=-1)
    index = np.where(pixels[..., 3] < OPAQUE, 0, 1 + nearest).astype(np.uint8)
    out = Image.fromarray(index, "P")
    out.putpalette([0, 0, 0, *inks.flatten().tolist()])
    kept = io.BytesIO()
    out.save(kept, "PNG", optimize=True, transparency=0, bits=2)
    return kept.getvalue()

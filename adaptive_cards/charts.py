"""Loss curves as a PNG (matplotlib, Agg backend): the fallback of the notice's Chart.Line, for
Teams clients that cannot draw charts (Teams for iOS does not: microsoft/AdaptiveCards#9120)."""

from __future__ import annotations

import io
from functools import cache
from importlib.util import find_spec
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties, fontManager  # noqa: E402
from PIL import Image  # noqa: E402

from infra.i18n import SOURCE, _, current  # noqa: E402

PALETTE = 16
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
"""The chart's size in inches; at DPI it is 960 x 480 pixels, twice the ~480 px a card shows it
at, so its text stays sharp on high-density screens."""
DPI = 240
GREY = "#8c8c8c"
"""Text, axes and grid: mid-grey reads on Teams' light (#ffffff) and dark (#1f1f1f) themes alike
(3.3:1 and 5.3:1, above the 3:1 WCAG asks of graphics); the background is transparent."""
LINES = ("#3a7bf0", "#e0601c")
"""Training and validation lines: a blue and an orange, each 3:1 or more on both themes."""


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
    axes.grid(alpha=0.35, color=GREY, lw=0.6)
    if train or valid:
        legend = axes.legend(prop=FontProperties(family=font, size=8), frameon=False)
        for said in legend.get_texts():
            said.set_color(GREY)
    figure.tight_layout(pad=0.4)
    drawn = io.BytesIO()
    figure.savefig(drawn, format="png", transparent=True, metadata={"Software": None})
    # A few colours are plenty for two lines on a grid, and take a fraction of the bytes: the
    # chart rides inside the notice, within Teams' message size limit (bot/limits.py).
    image = Image.open(io.BytesIO(drawn.getvalue())).convert("RGBA")
    out = io.BytesIO()
    image.quantize(colors=PALETTE, method=Image.Quantize.FASTOCTREE).save(out, "PNG", optimize=True)
    return out.getvalue()

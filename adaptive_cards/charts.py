"""Loss curves as a small PNG (matplotlib, Agg backend), for channels that cannot draw charts."""

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


def loss_chart_png(train: Points, valid: Points, title: str | None = None) -> bytes:
    """A compact PNG of the training (and validation) loss by step, labelled in the current
    language."""
    title, training, validation, step, loss, font = _labels(title)
    figure = Figure(figsize=(4.8, 2.7), dpi=80)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if train:
        axes.plot([p[0] for p in train], [p[1] for p in train], label=training, lw=1.4)
    if valid:
        axes.plot([p[0] for p in valid], [p[1] for p in valid], label=validation, lw=1.4)
    axes.set_title(title, fontproperties=FontProperties(family=font, size=10))
    axes.set_xlabel(step, fontproperties=FontProperties(family=font, size=8))
    axes.set_ylabel(loss, fontproperties=FontProperties(family=font, size=8))
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    if train or valid:
        axes.legend(prop=FontProperties(family=font, size=7), frameon=False)
    figure.tight_layout()
    drawn = io.BytesIO()
    figure.savefig(drawn, format="png", metadata={"Software": None})
    # 16 colours are plenty for two lines on a grid, and take a fifth of the bytes: the chart
    # rides inline with the notice, within Teams' message size limit.
    image = Image.open(io.BytesIO(drawn.getvalue())).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=PALETTE, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue()

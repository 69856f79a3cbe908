"""`make gallery` (`python -m tools.gallery`): every card the bot sends, drawn as Microsoft Teams
draws it, in English and Korean, Teams' light and dark themes, 560 px (desktop) and 360 px
(mobile) wide, to PNGs and an `index.html` with each card's rendered height, in build/gallery/.

The cards are the snapshots of tests/adaptive_cards/test_cards.py (tests/data/cards/*.json,
English), the same cards built again as that test builds them with Korean active, and the help
card as `help` shows it (every listed command; the snapshot lists one). tools/gallery.js draws
them (Microsoft's Adaptive Cards renderer, the Teams host configs, Teams' markdown subset,
headless chromium; run inside tools/in-netns); this module picks the cards, plans the shots and
writes the index. A developer's tool: `make test` does not run it.
"""

from __future__ import annotations

import html
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from adaptive_cards.common import Card
from adaptive_cards.help import help_card
from bot.commands import build_router
from bot.help import mode_line
from infra.i18n import LANGUAGES, SOURCE, use
from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "tests" / "data" / "cards"
OUT = ROOT / "build" / "gallery"
THEMES = ("light", "dark")
WIDTHS = (560, 360)
"""Teams desktop's card width and a phone's."""
TALL = 2000
"""Rendered heights above this are marked in the index (issue 26: no card over 2,000 px)."""
FULL_HELP = "help-full"
HELP_TALL = 1200
"""The help cards' limit at 560 px (issue 26: help under 1,200 px on the desktop)."""


@dataclass(frozen=True)
class Shot:
    """One card drawn in one language, theme and width."""

    card: str
    language: str
    theme: str
    width: int

    @property
    def key(self) -> str:
        """The card's key in the job: its name and language."""
        return f"{self.card}.{self.language}"

    @property
    def png(self) -> str:
        """Where its picture goes, relative to the gallery."""
        return f"png/{self.card}-{self.language}-{self.theme}-{self.width}.png"


def snapshots(folder: Path = SNAPSHOTS) -> dict[str, Card]:
    """The English snapshots by card name."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.json"))
    }


def built(language: str, scratch: Path) -> dict[str, Card]:
    """The snapshot test's cards built with `language` active, and the whole help card.

    The test module is imported by name: its `cards()` is the one list of every card the bot
    sends, built from typical data, and the snapshots are its English output."""
    test_cards = importlib.import_module("tests.adaptive_cards.test_cards")
    with use(language):
        found: dict[str, Card] = dict(test_cards.cards(scratch))
        mode = mode_line(Settings(_env_file=None))
        found[FULL_HELP] = help_card(build_router().listing(), mode=mode)
    return found


def gallery_cards(scratch: Path) -> dict[tuple[str, str], Card]:
    """(name, language) -> card: every snapshot in every language, and the whole help card."""
    english = snapshots()
    cards: dict[tuple[str, str], Card] = {(name, SOURCE): card for name, card in english.items()}
    for language in LANGUAGES:
        made = built(language, scratch / language)
        if sorted(made) != sorted([*english, FULL_HELP]):
            raise SystemExit(
                "The snapshots and the snapshot test's cards differ: run "
                "`FTBOT_UPDATE_SNAPSHOTS=1 pytest tests/adaptive_cards/test_cards.py` first."
            )
        if language == SOURCE:
            cards[(FULL_HELP, SOURCE)] = made[FULL_HELP]
        else:
            cards.update(((name, language), card) for name, card in made.items())
    return cards


def shots(cards: Iterable[tuple[str, str]]) -> list[Shot]:
    """Every card in every theme and width, by name, then language."""
    return [
        Shot(name, language, theme, width)
        for name, language in sorted(cards, key=lambda c: (c[0], LANGUAGES.index(c[1])))
        for theme in THEMES
        for width in WIDTHS
    ]


def job(cards: Mapping[tuple[str, str], Card]) -> dict[str, Any]:
    """What tools/gallery.js reads: the cards by key and the shots to take."""
    planned = shots(cards)
    return {
        "cards": {f"{name}.{language}": card for (name, language), card in cards.items()},
        "shots": [{**asdict(shot), "card": shot.key, "png": shot.png} for shot in planned],
    }


def index(planned: list[Shot], drawn: Mapping[str, Mapping[str, Any]]) -> str:
    """The gallery's page: each card's rendered height per language, theme and width (each
    linking to its picture, heights over TALL marked), the renderer's warnings, and the
    pictures."""
    columns = [(lang, theme, width) for lang in LANGUAGES for theme in THEMES for width in WIDTHS]
    names = sorted({shot.card for shot in planned})
    by_key = {(s.card, s.language, s.theme, s.width): s for s in planned}
    head = "".join(f"<th>{lang} {theme} {width}</th>" for lang, theme, width in columns)
    rows = []
    for name in names:
        cells = []
        warnings: set[str] = set()
        for column in columns:
            shot = by_key.get((name, *column))
            result = drawn.get(shot.png) if shot else None
            if shot is None or result is None:
                cells.append("<td>—</td>")
                continue
            height = int(result["height"])
            warnings.update(str(w) for w in result.get("warnings", ()))
            mark = ' class="tall"' if height > TALL else ""
            cells.append(f'<td{mark}><a href="{shot.png}">{height:,}</a></td>')
        said = "<br>".join(html.escape(w) for w in sorted(warnings))
        rows.append(
            f'<tr><th><a href="#{name}">{html.escape(name)}</a></th>{"".join(cells)}'
            f"<td>{said}</td></tr>"
        )
    pictures = []
    for name in names:
        shown = "".join(
            f'<figure><img loading="lazy" src="{s.png}" alt="{html.escape(s.png)}">'
            f"<figcaption>{s.language} {s.theme} {s.width} px</figcaption></figure>"
            for s in planned
            if s.card == name
        )
        pictures.append(f'<section id="{name}"><h2>{html.escape(name)}</h2>{shown}</section>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FineTune Ops cards</title>
<style>
body {{ font-family: sans-serif; margin: 24px; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
td:last-child {{ text-align: left; font-size: small; }}
td.tall {{ background: #fdd; font-weight: bold; }}
figure {{ display: inline-block; vertical-align: top; margin: 8px; }}
</style></head><body>
<h1>FineTune Ops cards</h1>
<p>Rendered height in px of every card as Microsoft Teams draws it: Microsoft's Adaptive Cards
renderer (npm adaptivecards), the Teams host configs of the Adaptive Cards designer, Teams'
markdown subset (bold, italic, lists, links), headless chromium. Charts show their fallback.
Over {TALL:,} px: marked.</p>
<table><tr><th>card</th>{head}<th>renderer's warnings</th></tr>
{"".join(rows)}
</table>
{"".join(pictures)}
</body></html>
"""


def too_tall(planned: list[Shot], drawn: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The pictures over their limit: any card over TALL, a help card over HELP_TALL at 560 px."""
    found = []
    for shot in planned:
        height = int(drawn[shot.png]["height"]) if shot.png in drawn else 0
        limit = HELP_TALL if shot.card in ("help", FULL_HELP) and shot.width == 560 else TALL
        if height > limit:
            found.append(f"{shot.png}: {height:,} px, over {limit:,}")
    return found


def main() -> None:
    """Build the gallery in build/gallery/ and print each card's height (light theme)."""
    if shutil.which("node") is None or not Path("/usr/bin/chromium").exists():
        sys.exit("make gallery needs node and Debian's chromium: apt-get install -y chromium")
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        cards = gallery_cards(Path(scratch))
    planned = shots(cards)
    (OUT / "job.json").write_text(json.dumps(job(cards), ensure_ascii=False), encoding="utf-8")
    subprocess.run(["node", str(ROOT / "tools" / "gallery.js"), str(OUT)], check=True)
    drawn = json.loads((OUT / "heights.json").read_text(encoding="utf-8"))
    (OUT / "index.html").write_text(index(planned, drawn), encoding="utf-8")
    light = [(lang, width) for lang in LANGUAGES for width in WIDTHS]
    print("| card | " + " | ".join(f"{lang} {width}" for lang, width in light) + " |")
    print("|---" * (len(light) + 1) + "|")
    for name in sorted({shot.card for shot in planned}):
        heights = (drawn[Shot(name, lang, "light", width).png]["height"] for lang, width in light)
        print(f"| {name} | " + " | ".join(f"{h:,}" for h in heights) + " |")
    print(f"{len(planned)} pictures and the index: {OUT / 'index.html'}")
    if tall := too_tall(planned, drawn):
        sys.exit("Too tall:\n" + "\n".join(tall))


if __name__ == "__main__":
    main()

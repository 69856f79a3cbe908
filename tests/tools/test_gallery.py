"""The card gallery's own part (tools/gallery.py): it takes every card snapshot in both languages,
plans every picture, and its index shows each one's height. Drawing them needs chromium:
`make gallery` runs that part (tools/gallery.js)."""

from __future__ import annotations

import re
from pathlib import Path

from infra.i18n import LANGUAGES, SOURCE
from tools.gallery import (
    FULL_HELP,
    HELP_TALL,
    TALL,
    THEMES,
    WIDTHS,
    gallery_cards,
    index,
    shots,
    snapshots,
    too_tall,
)

HANGUL = re.compile("[\uac00-\ud7a3]")


def test_every_snapshot_is_in_the_gallery_in_every_language(tmp_path: Path) -> None:
    english = snapshots()
    assert len(english) >= 40
    cards = gallery_cards(tmp_path)
    names = [*english, FULL_HELP]
    assert sorted(cards) == sorted((name, lang) for name in names for lang in LANGUAGES)
    assert all(cards[(name, SOURCE)] == card for name, card in english.items())
    for name in names:
        shown = str(cards[(name, "ko")])
        assert HANGUL.search(shown), f"{name} has no Korean"
        assert not HANGUL.search(str(cards[(name, SOURCE)])), f"{name} has Korean in English"
    # The whole help card, as `help` shows it, lists far more than the snapshot's one command.
    assert len(str(cards[(FULL_HELP, SOURCE)])) > 10 * len(str(english["help"]))


def test_the_index_shows_every_picture_with_its_height(tmp_path: Path) -> None:
    cards = [("help", "en"), ("help", "ko"), ("validation", "en"), ("validation", "ko")]
    planned = shots(cards)
    assert len({shot.png for shot in planned}) == len(cards) * len(THEMES) * len(WIDTHS)
    drawn = {shot.png: {"height": 100 + n, "warnings": []} for n, shot in enumerate(planned)}
    tall = planned[-1]
    drawn[tall.png] = {"height": TALL + 1, "warnings": ['Unknown element type "Chart.Line".']}
    missing = planned[0]
    del drawn[missing.png]
    page = index(planned, drawn)
    for shot in planned:
        if shot is missing:
            assert f'href="{shot.png}"' not in page
            continue
        height = drawn[shot.png]["height"]
        cell = f'<a href="{shot.png}">{height:,}</a></td>'
        assert cell in page
        assert (f'<td class="tall">{cell}' in page) == (shot is tall)
        assert f'src="{shot.png}"' in page
    assert "Unknown element type &quot;Chart.Line&quot;." in page
    assert page.count("<td>—</td>") == 1


def test_the_gallery_names_every_card_over_its_limit() -> None:
    planned = shots([("help", "en"), ("validation", "ko")])
    drawn = {shot.png: {"height": HELP_TALL} for shot in planned}
    assert too_tall(planned, drawn) == []
    help_desktop, help_mobile = (s for s in planned if s.card == "help" and s.theme == "dark")
    drawn[help_desktop.png] = drawn[help_mobile.png] = {"height": HELP_TALL + 1}
    validation = next(s for s in planned if s.card == "validation")
    drawn[validation.png] = {"height": TALL + 1}
    assert too_tall(planned, drawn) == [
        f"{help_desktop.png}: {HELP_TALL + 1:,} px, over {HELP_TALL:,}",
        f"{validation.png}: {TALL + 1:,} px, over {TALL:,}",
    ]

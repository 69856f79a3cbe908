"""Teams' card rules (issue 26), checked on every card the bot sends, built in English and in
Korean (tests/adaptive_cards/test_cards.py `cards()` and the whole help card: the cards of
`make gallery`).

Sources: Microsoft Teams "Format cards in Teams" and Adaptive Cards "Text features": a TextBlock's
text, a Fact's title and value are markdown, of which Teams draws bold, italic, bullet and
numbered lists and links, nothing else (no code, headings, tables, HTML); a RichTextBlock's
TextRun is never markdown; DATE()/TIME() are upper case, without spaces, on RFC 3339 moments.
Contrast: WCAG 2.1 AA (4.5:1) with the colours of the Teams host configs (tests/data/hostconfigs,
the Adaptive Cards designer's, as `make gallery` draws them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adaptive_cards import verbs
from adaptive_cards.common import QUOTE_ID, Card
from bot.render import render
from infra.i18n import LANGUAGES, use
from tests.adaptive_cards.test_cards import MODEL, RESOURCE, TUNED, VIEWS
from tools.gallery import built

HOSTCONFIGS = Path(__file__).parents[1] / "data" / "hostconfigs"
THEMES = {
    theme: json.loads((HOSTCONFIGS / f"microsoft-teams-{theme}.json").read_text(encoding="utf-8"))
    for theme in ("light", "dark")
}
NAMES = (
    RESOURCE.account,
    "aoai-lab2",
    "rg-lab",
    TUNED,
    "training_set.jsonl",
    "validation_set.jsonl",
    "ftjob-0123",
    "ftchkpt-1",
)
"""Names in the cards' data (others' words): never in markdown text; MODEL (Azure's own name
of a base model, without markdown characters) may be."""
assert MODEL not in NAMES

UNSUPPORTED = {
    "code": re.compile(r"`"),
    "heading": re.compile(r"^\s{0,3}#{1,6}\s", re.M),
    "table": re.compile(r"^\s*\|.*\|\s*$", re.M),
    "strikethrough": re.compile(r"~~"),
    "HTML": re.compile(r"</?[a-zA-Z][^>]*>"),
    "block quote": re.compile(r"^\s*>", re.M),
    "rule": re.compile(r"^\s*(-{3,}|\*{3,}|_{3,})\s*$", re.M),
}
MARKUP = re.compile(r"`|\*\*|\[[^\]]*\]\([^)]*\)")
"""Markdown in a TextRun, where it would show as it is."""
LIST_LINE = re.compile(r"^\s*(\d+[.)]|[-*+])\s")
FUNCTION = re.compile(r"\{\{(DATE|TIME)\(([^)]*)\)\}\}")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
LITERAL_TIME = re.compile(
    r"(?<![\w.-])\d{4}-\d{2}-\d{2}(?![\w-])|\d{1,2}:\d{2}(:\d{2})?\s?(UTC|AM|PM|am|pm)|오[전후] \d"
)
DESTRUCTIVE = {
    verbs.DELETE,
    verbs.DELETE_CONFIRM,
    verbs.PURGE,
    verbs.PURGE_CONFIRM,
    verbs.TEARDOWN_CONFIRM,
    verbs.CANCEL,
    verbs.CANCEL_CONFIRM,
    verbs.CLEANUP_CONFIRM,
    verbs.KEYS_ROTATE_CONFIRM,
}
"""Buttons that delete, stop or replace: `destructive`."""
POSITIVE = {
    verbs.TRAIN_CONFIRM,
    verbs.DEPLOY_CONFIRM,
    verbs.PROVISION_CONFIRM,
    verbs.EVALUATE_CONFIRM,
    verbs.SPEND_APPROVE,
}
"""The yes of a question that starts work: `positive`."""
ENGLISH_VERBS = {
    "Approve", "Ask", "Cancel", "Chat", "Check", "Clear", "Compare", "Confirm", "Continue",
    "Create", "Delete", "Deploy", "End", "Evaluate", "Keep", "List", "Open", "Pause", "Purge",
    "Redeploy", "Refuse", "Regenerate", "Resume", "See", "Send", "Show", "Start", "Stop", "Tear",
    "Train", "Try", "Upload", "Use", "Validate", "View", "Assign",
}  # fmt: skip
"""The first word of an English button: a verb (a label says what pressing it does)."""
AA = 4.5


@dataclass(frozen=True)
class Text:
    """One piece of text on a card: where it is, what it says, how it is drawn."""

    where: str
    value: str
    markdown: bool
    quote: bool = False
    color: str = "Default"
    subtle: bool = False
    style: str = "default"


def pieces(node: Any, where: str = "", style: str = "default") -> Iterator[Text]:
    """Every text of a card (ShowCards too), with the container style it is drawn on."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from pieces(item, f"{where}[{index}]", style)
        return
    if not isinstance(node, dict):
        return
    kind = str(node.get("type", ""))
    style = (
        str(node.get("style") or style) if kind in ("Container", "Column", "ColumnSet") else style
    )
    look = {"color": str(node.get("color") or "Default"), "subtle": bool(node.get("isSubtle"))}
    if kind == "TextBlock":
        yield Text(f"{where} TextBlock", str(node["text"]), True, style=style, **look)
    elif kind == "TextRun":
        quote = str(node.get("id", "")).startswith(QUOTE_ID)
        yield Text(f"{where} TextRun", str(node["text"]), False, quote, style=style, **look)
    elif kind == "FactSet":
        for fact in node["facts"]:
            yield Text(f"{where} Fact.title", str(fact["title"]), True, style=style)
            yield Text(f"{where} Fact.value", str(fact["value"]), True, style=style)
    elif kind.startswith("Action."):
        yield Text(f"{where} {kind}", str(node.get("title", "")), False, style=style)
    for key, value in node.items():
        if key not in ("data", "fallback") and isinstance(value, list | dict):
            yield from pieces(value, f"{where}.{key}", style)


def actions(node: Any) -> Iterator[list[dict[str, Any]]]:
    """Every list of buttons of a card: its own, each ShowCard's, each ActionSet's."""
    if isinstance(node, list):
        for item in node:
            yield from actions(item)
    elif isinstance(node, dict):
        if isinstance(node.get("actions"), list):
            yield node["actions"]
        for key, value in node.items():
            if key != "actions" and isinstance(value, list | dict):
                yield from actions(value)
        for action in node.get("actions") or []:
            yield from actions(action)


def _rgb(color: str, under: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> tuple[float, ...]:
    """A host config colour (#RRGGBB or #AARRGGBB) as RGB, blended over `under`."""
    digits = color.lstrip("#")
    alpha = int(digits[:2], 16) / 255 if len(digits) == 8 else 1.0
    rgb = [int(digits[i : i + 2], 16) / 255 for i in range(len(digits) - 6, len(digits), 2)]
    return tuple(alpha * c + (1 - alpha) * u for c, u in zip(rgb, under, strict=True))


def _luminance(rgb: tuple[float, ...]) -> float:
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(piece: Text, config: dict[str, Any]) -> float:
    """WCAG contrast of a text's colour on its container's background in a host config."""
    container = config["containerStyles"].get(
        piece.style.lower(), config["containerStyles"]["default"]
    )
    background = _rgb(container["backgroundColor"])
    shades = container["foregroundColors"][piece.color.lower()]
    foreground = _rgb(shades["subtle" if piece.subtle else "default"], background)
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def broken(card: Card) -> list[str]:
    """What in a card breaks Teams' rules, one line each."""
    found: list[str] = []
    for piece in pieces(card):
        said = f"{piece.where}: {piece.value!r}"
        if piece.markdown:
            found += [
                f"{name} {said}" for name, rule in UNSUPPORTED.items() if rule.search(piece.value)
            ]
            lines = [line for line in piece.value.splitlines() if line.strip()]
            if sum(bool(LIST_LINE.match(line)) for line in lines) == 1:
                found.append(f"a line read as a list {said}")
            if any(line.lstrip().startswith("{{DATE(") for line in lines):
                found.append(f"a date read as a list in Korean {said}")
        elif not piece.quote and MARKUP.search(piece.value):
            found.append(f"markdown shown as it is {said}")
        if not piece.quote and not piece.where.split()[-1].startswith("Action."):
            found += [f"others' words as the bot's {said}" for n in NAMES if n in piece.value]
        for function, argument in FUNCTION.findall(piece.value):
            moment, _, form = argument.partition(",")
            if not RFC3339.fullmatch(moment) or form not in ("", "COMPACT", "SHORT", "LONG"):
                found.append(f"malformed {function}() {said}")
        if LITERAL_TIME.search(FUNCTION.sub("", piece.value)):
            found.append(f"a time not in the reader's zone {said}")
        for theme, config in THEMES.items():
            ratio = contrast(piece, config)
            if ratio < AA and piece.value.strip():
                found.append(f"contrast {ratio:.1f}:1 on {theme} ({piece.color}) {said}")
    for buttons in actions(card):
        positives = [a for a in buttons if a.get("style") == "positive"]
        if len(positives) > 1:
            found.append(f"{len(positives)} positive buttons: {[a['title'] for a in positives]}")
        for action in buttons:
            verb = (
                (action.get("data") or {}).get("verb")
                if isinstance(action.get("data"), dict)
                else None
            )
            title, style = action.get("title", ""), action.get("style")
            if verb in DESTRUCTIVE and style != "destructive":
                found.append(f"{title!r} ({verb}) is not styled destructive")
            if verb in POSITIVE and style != "positive":
                found.append(f"{title!r} ({verb}) is not styled positive")
            if card.get("lang") == "en" and title.split()[0] not in ENGLISH_VERBS:
                found.append(f"{title!r} is not labelled with a verb")
    return found


@pytest.fixture(scope="module", params=LANGUAGES)
def every_card(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Card]:
    language = str(request.param)
    return built(language, tmp_path_factory.mktemp(language))


def test_every_card_keeps_teams_rules(every_card: dict[str, Card]) -> None:
    problems = [f"{name}: {line}" for name, card in every_card.items() for line in broken(card)]
    assert problems == [], "\n".join(problems)


def test_the_rules_catch_what_teams_would_draw_wrongly() -> None:
    """Each rule, on a card that breaks it (a rule that cannot fail checks nothing)."""
    bad: Card = {
        "type": "AdaptiveCard",
        "lang": "en",
        "body": [
            {"type": "TextBlock", "text": "Ready: `aoai-lab`"},
            {"type": "TextBlock", "text": "2026. 12. 6. 오후 3:37:05 UTC"},
            {"type": "TextBlock", "text": "Done", "color": "Good"},
            {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": "**bold**"}]},
            {"type": "TextBlock", "text": "{{DATE(2026-12-06 15:37,SHORT)}}"},
        ],
        "actions": [
            {"type": "Action.Submit", "title": "Events", "data": {"verb": "events"}},
            {"type": "Action.Submit", "title": "Delete", "data": {"verb": "delete"}},
        ],
    }
    found = "\n".join(broken(bad))
    for expected in (
        "code",
        "others' words as the bot's",
        "a line read as a list",
        "a time not in the reader's zone",
        "contrast 2.1:1 on light (Good)",
        "markdown shown as it is",
        "malformed DATE()",
        "'Events' is not labelled with a verb",
        "'Delete' (delete) is not styled destructive",
    ):
        assert expected in found, expected


@pytest.mark.parametrize("language", LANGUAGES)
def test_notification_previews_are_plain_text(language: str) -> None:
    """A card's `summary` is the notification's preview, drawn as plain text: no markdown, and
    a time says its zone (a preview cannot use DATE()/TIME())."""
    problems = []
    with use(language):
        for view in VIEWS:
            summary = str(render(view).summary)
            if MARKUP.search(summary) or "{{" in summary:
                problems.append(f"{type(view).__name__}: {summary!r}")
    assert problems == []

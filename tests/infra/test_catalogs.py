"""The catalogs hold every message the code says, in every language, with the same placeholders;
and a message is always a literal template (an f-string could never be found in a catalog)."""

from __future__ import annotations

import ast
import string
from pathlib import Path

from infra import i18n
from infra.errors import UserError
from tools import catalogs


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _said() -> dict[str, tuple[str, ...]]:
    """msgid -> the English forms (one, or singular and plural) the code says."""
    found: dict[str, tuple[str, ...]] = {}
    for message in catalogs.extracted():
        if message.id:
            forms = message.id if isinstance(message.id, tuple) else (message.id,)
            found[forms[0]] = tuple(forms)
    return found


def test_the_code_says_messages_the_walk_can_see() -> None:
    said = _said()
    assert "That button no longer works; type `help` to see what I can do." in said
    assert len(said) > 300


def test_every_message_has_every_language_with_the_same_placeholders() -> None:
    said = _said()
    for language in i18n.LANGUAGES:
        if language == i18n.SOURCE:
            continue
        table = i18n.translations(language)
        missing = sorted(m for m in said if m not in table)
        assert missing == [], f"{language}: {len(missing)} messages without a translation"
        wrong = [
            (msgid, translation)
            for msgid, forms in said.items()
            for translation in table[msgid]
            if _fields(translation) != set().union(*(_fields(f) for f in forms))
        ]
        assert wrong == [], f"{language}: placeholders differ"


def test_no_catalog_keeps_a_message_the_code_no_longer_says() -> None:
    said = _said()
    for language in i18n.LANGUAGES:
        if language != i18n.SOURCE:
            stale = sorted(set(i18n.translations(language)) - set(said))
            assert stale == [], f"{language}: run `make catalog`"


def _computed_messages(path: Path) -> list[str]:
    """Calls whose message is built at run time (f-string, +, %): no catalog can hold them."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in catalogs.KEYWORDS and isinstance(node.args[0], ast.JoinedStr | ast.BinOp):
            found.append(f"{path.relative_to(catalogs.ROOT)}:{node.lineno}")
    return found


def test_every_message_is_a_literal_template() -> None:
    computed = [where for path in catalogs.sources() for where in _computed_messages(path)]
    assert computed == []


def test_a_message_is_said_in_the_language_of_the_context() -> None:
    error = UserError("That button no longer works; type `help` to see what I can do.")
    english = error.message
    with i18n.use("ko"):
        korean = error.message
        assert i18n.current() == "ko"
    assert i18n.current() == "en"
    assert korean != english and "`도움말`" in korean
    with i18n.use("xx"):
        assert i18n.current() == "en"


def test_plurals_follow_the_catalogs_plural_forms() -> None:
    with i18n.use("en"):
        one = i18n.n_("{count} file", "{count} files", 1)
        many = i18n.n_("{count} file", "{count} files", 1200)
    assert (one, many) == ("1 file", "1,200 files")
    korean = i18n._catalog("ko").plural  # Plural-Forms: nplurals=1; plural=0
    assert [korean(n) for n in (0, 1, 2, 21)] == [0, 0, 0, 0]


def test_numbers_prices_and_durations_follow_the_locale() -> None:
    with i18n.use("en"):
        assert (i18n.number(1234567), i18n.price(1234.5)) == ("1,234,567", "$1,234.50")
        assert i18n.duration(200) == "3 min 20 sec"
    with i18n.use("ko"):
        assert (i18n.percent(0.423), i18n.price(0.5)) == ("42.3%", "US$0.50")
        assert i18n.duration(3900) == "1시간 5분"
    assert (i18n.supported("ko-KR"), i18n.supported("en-GB"), i18n.supported("fr")) == (
        "ko",
        "en",
        None,
    )

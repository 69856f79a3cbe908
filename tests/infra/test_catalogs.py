"""The catalogs hold every message the code says, in every language, with the same placeholders;
and a message is always a literal template (an f-string could never be found in a catalog)."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from infra import i18n, particles
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


def test_a_sentence_kept_for_later_is_said_in_its_readers_language() -> None:
    """An audit detail written during an English user's turn reads in Korean to a Korean reader:
    its state through the catalog, its price formatted for the reader, its particle chosen."""
    with i18n.use("en"):
        kept = i18n.later(
            "Azure accepted it; its state: {state}.", state="Accepted", translated=("state",)
        )
        priced = i18n.later(
            "Confirmed for {files}, about {price}; the launch runs in the background.",
            files="train.jsonl",
            price=1234.5,
            prices=("price",),
        )
        english = (kept.text(), priced.text())
    assert english == (
        "Azure accepted it; its state: Accepted.",
        "Confirmed for train.jsonl, about $1,234.50; the launch runs in the background.",
    )
    kept_as = TypeAdapter(i18n.Said)  # as a record holding one stores it
    stored = kept_as.validate_json(kept_as.dump_json(priced))
    with i18n.use("ko"):
        assert kept.text() == "Azure가 요청을 접수했습니다. 상태: 접수됨."
        assert stored.text() == (
            "`train.jsonl`로 학습 시작을 승인했습니다(약 US$1,234.50). "
            "학습은 백그라운드에서 시작됩니다."
        )


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


# -- the Korean catalog's words (docs/glossary.md) -------------------------------------------

GLOSSARY = catalogs.ROOT / "docs" / "glossary.md"
_CODE_SPAN = re.compile(r"`([^`]*)`")
_FIXED_PARTICLE = re.compile(
    r"(?<!\{)\{\w+\}[`*_\"'”’]*(이라고|라고|이나|이며|으로|을|를|은|는|이|가|과|와|로|나|며)"
    r"(?![가-힣(])"
)


_CODE_PARTICLE = re.compile(
    r"`([^`{}]*[0-9A-Za-z가-힣][^`{}]*)`(이라고|라고|이나|이며|으로|을|를|은|는|이|가|과|와|로|나|며)"
    r"(?![가-힣(])"
)
_MARKER_OF = {
    "을": ("을(를)", ""), "를": ("을(를)", ""), "이": ("이(가)", ""), "가": ("이(가)", ""),
    "은": ("은(는)", ""), "는": ("은(는)", ""), "과": ("과(와)", ""), "와": ("과(와)", ""),
    "으로": ("(으)로", ""), "로": ("(으)로", ""), "이라고": ("(이)", "라고"),
    "라고": ("(이)", "라고"), "이나": ("(이)", "나"), "나": ("(이)", "나"),
    "이며": ("(이)", "며"), "며": ("(이)", "며"),
}  # fmt: skip
"""A particle written after a code -> its marker (infra/particles.py) and what follows it."""


def _korean() -> dict[str, tuple[str, ...]]:
    return i18n.translations("ko")


def _rejected() -> dict[str, str]:
    """Each rendering the glossary's "not" column rejects -> the word it chose instead."""
    words = GLOSSARY.read_text(encoding="utf-8").split("## Words", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in words.splitlines()
        if line.startswith("|")
    ]
    column = rows[0].index("not")
    return {
        variant: row[1] for row in rows[2:] for variant in re.findall(r"`([^`]+)`", row[column])
    }


def test_the_glossary_rejects_what_it_replaced() -> None:
    rejected = _rejected()
    assert rejected["계정"] == "리소스, Azure OpenAI 리소스" and "회전" in rejected
    found = [
        f"{variant!r} (the glossary says {word!r}) in {msgid!r}: {text!r}"
        for msgid, forms in _korean().items()
        for text in forms
        for variant, word in rejected.items()
        if variant in text
    ]
    assert found == [], "\n".join(found)


def test_korean_particles_after_a_value_are_chosen_by_it() -> None:
    """A particle after a placeholder is the pair `을(를)` that infra/particles.py resolves,
    never a fixed form (`{key}`가), and a pair stands nowhere else: the translator chooses after
    a word of their own."""
    fixed, stray = [], []
    for forms in _korean().values():
        for text in forms:
            fixed += [f"{m.group(0)!r} in {text!r}" for m in _FIXED_PARTICLE.finditer(text)]
            placed = {m.start(3) for m in particles._PLACED.finditer(text)}
            stray += [
                f"{m.group(0)!r} in {text!r}"
                for m in particles.MARKERS.finditer(text)
                if m.start() not in placed
            ]
    assert fixed == [], "write the pair after a placeholder:\n" + "\n".join(fixed)
    assert stray == [], "choose the particle after your own word:\n" + "\n".join(stray)


def test_a_particle_after_a_code_is_the_form_it_is_read_with() -> None:
    """After a code the translator writes (`검증`, `teacher`, `채팅 <배포>`) the particle is the
    one infra/particles.py would choose: "`teacher`으로" is wrong, "`teacher`로" right. A code
    that is only a symbol (`.`, `/`) is read by the name the sentence gives it, so it is left
    to the translator."""
    wrong = []
    for forms in _korean().values():
        for text in forms:
            for match in _CODE_PARTICLE.finditer(text):
                code, written = match.groups()
                marker, rest = _MARKER_OF[written]
                right = particles.particle(code, marker) + rest
                if right != written:
                    wrong.append(f"{match.group(0)!r} (read: {right!r}) in {text!r}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("value", ["ft-teacher", "aoai-lab", "파일", "KEY1", "12"])
def test_no_korean_message_says_a_particle_pair(value: str) -> None:
    said = []
    with i18n.use("ko"):
        for msgid, forms in _said().items():
            params = {name: value for form in forms for name in _fields(form)}
            said.append(i18n._(msgid, **params))
            if len(forms) > 1:
                said.append(i18n.n_(forms[0], forms[1], 3, **params))
    pairs = [text for text in said if particles.MARKERS.search(text)]
    assert pairs == [], "\n".join(pairs)


def test_korean_sentences_name_the_korean_command() -> None:
    """A command in a Korean sentence is the word the reader types in Korean (`검증`, not
    `validate`); the English word may follow in parentheses, outside the code."""
    from bot.commands import build_router

    english = {
        word for command in build_router().commands if command.korean for word in (command.name,)
    }
    found = [
        f"`{span}` in {text!r}"
        for forms in _korean().values()
        for text in forms
        for span in _CODE_SPAN.findall(text)
        if span.split(" ", 1)[0].lstrip("/").lower() in english
    ]
    assert found == [], "\n".join(found)

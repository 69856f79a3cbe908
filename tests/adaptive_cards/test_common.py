"""The pieces every card shares (adaptive_cards/common.py): others' words in a sentence of the
bot's, as TextRuns of a RichTextBlock, which Teams never reads as markdown."""

from __future__ import annotations

from adaptive_cards.common import QUOTE_ID, quoted, sentence, spoken, their_words
from infra import i18n
from infra.i18n import N_

LINK = "**Boss** [click](https://evil.example/x)"


def test_a_sentence_with_others_words_keeps_them_out_of_markdown() -> None:
    block = sentence(N_("{when}, by {user}"), {"user": LINK}, {"isSubtle": True}, when="today")
    assert block["type"] == "RichTextBlock"
    runs = block["inlines"]
    assert [r["text"] for r in runs] == ["today, by ", LINK]
    assert all(r["type"] == "TextRun" and r["isSubtle"] for r in runs)
    assert runs[1]["id"].startswith(QUOTE_ID) and "id" not in runs[0]


def test_the_bot_s_words_are_said_in_the_language_of_the_turn() -> None:
    with i18n.use("ko"):
        block = sentence(N_("Held by {names}"), {"names": ["Ada", LINK]})
    texts = [r["text"] for r in block["inlines"]]
    assert texts[1:] == ["Ada", ", ", LINK] and texts[0] == "보유자: "
    quotes = [r["text"] for r in block["inlines"] if r.get("id", "").startswith(QUOTE_ID)]
    assert quotes == ["Ada", LINK]


def test_others_words_are_capped_with_the_bot_s_note() -> None:
    runs = their_words("x" * 600, cap=500)
    assert runs[0]["text"] == "x" * 500 + "…" and runs[0]["id"].startswith(QUOTE_ID)
    assert runs[1]["text"] == " (cut at 500 of 600 characters)" and "id" not in runs[1]
    assert quoted("  hi ")["inlines"] == their_words("hi")


def test_a_korean_particle_after_others_words_is_the_one_they_take() -> None:
    """infra/particles.py reads the words themselves, not what stands in for them."""
    with i18n.use("ko"):
        vowel = sentence(N_("Deploy {name}?"), {"name": "teacher"})  # 티처: 를
        consonant = sentence(N_("Deploy {name}?"), {"name": "teacherlab"})  # 티처랩: 을
    assert [r["text"] for r in vowel["inlines"]] == ["teacher", "를 배포할까요?"]
    assert [r["text"] for r in consonant["inlines"]] == ["teacherlab", "을 배포할까요?"]


def test_the_bot_s_words_said_elsewhere_show_their_codes_as_others_words() -> None:
    """A reason or an audit detail written for a chat message marks names with backticks: on a
    card each becomes a TextRun of its own, without them."""
    block = spoken("It is still not ready; `deployments` shows `its` state.", isSubtle=True)
    runs = block["inlines"]
    assert [r["text"] for r in runs] == [
        "It is still not ready; ",
        "deployments",
        " shows ",
        "its",
        " state.",
    ]
    assert [bool(r.get("id")) for r in runs] == [False, True, False, True, False]
    assert all(r["isSubtle"] for r in runs) and "`" not in str(block)

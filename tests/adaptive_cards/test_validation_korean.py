"""Validation, file checks and datasets speak Korean to a Korean reader: the report card on real
reports of real files (every kind of problem the rules find), the cards of a check as bot/render.py
renders them, the error list, and the one sentences of refused files; the user's data stays
quoted, and English is still English (the report's `message` and `--json` stay English). A Korean
turn's check end to end: tests/e2e/test_datasets_chat.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adaptive_cards.validation import error_lines, personal_chat_card, validation_card
from bot.render import render
from infra import i18n
from infra.datasets import too_large
from infra.downloads import refused
from infra.errors import UserError
from infra.graph import GraphRefused
from infra.i18n import N_
from skills.checks import CheckFailed, CheckingFiles, FilesOffered, FilesReport
from skills.sample import write_sample
from skills.validation import ValidationReport, validate_file
from tests.korean import english, texts_of


def _line(*messages: dict[str, Any], **extra: Any) -> str:
    return json.dumps({"messages": list(messages), **extra})


USER = {"role": "user", "content": "What is AI?"}
ASSISTANT = {"role": "assistant", "content": "A field of computer science."}
SYSTEM = {"role": "system", "content": "You teach AI."}
GOOD = _line(SYSTEM, USER, ASSISTANT)


def broken_chat(tmp_path: Path) -> Path:
    """Valid examples, warnings, and one line of every chat problem the rules report."""
    lines = [
        _line(SYSTEM, USER, {"role": "assistant", "content": f"Answer {n}."}) for n in range(12)
    ]
    lines += [
        GOOD,
        GOOD,  # a duplicate
        _line(USER, ASSISTANT),  # no system message
        _line(SYSTEM, ASSISTANT),  # no user message
        _line(SYSTEM, USER, ASSISTANT, metadata={"a": 1}),  # an extra top-level key
        "",  # a blank line
        "{nope",
        '{"messages": [], "messages": []}',
        '{"messages": NaN}',
        "[1, 2]",
        json.dumps({"messages": "hello"}),
        _line(SYSTEM, USER),
        _line(USER, "not a message", ASSISTANT),
        _line({"role": "robot", "content": "beep"}, ASSISTANT),
        _line({"content": "no role"}, ASSISTANT),
        _line(USER, {"role": "assistant", "content": "ok", "colour": "red"}),
        _line(USER, {"role": "assistant", "content": ""}),
        _line(USER, {"role": "user", "content": "hi", "weight": 1}, ASSISTANT),
        _line(USER, {"role": "assistant", "content": "<|endoftext|>"}),
        "[" * 100_000,
        b"\xff\xfe".decode("latin-1"),
        _line(USER, {"role": "assistant", "content": "long " * 5000}),
    ]
    path = tmp_path / "broken_set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _card_texts(content: dict[str, Any]) -> list[str]:
    return texts_of({"attachments": [{"content": content}]})


def all_korean(texts: list[str], names: tuple[str, ...] = ()) -> None:
    """The texts are Korean: some Hangul, and no English outside quotations and `names`."""
    assert english(texts, names) == []
    assert any("\uac00" <= c <= "\ud7a3" for t in texts for c in t)  # some Hangul


def _activity(view: Any) -> dict[str, Any]:
    activity = render(view)
    attachments = [{"content": a.content} for a in activity.attachments or []]
    return {"text": activity.text, "attachments": attachments, "summary": activity.summary}


def test_a_report_of_every_chat_problem_is_korean(tmp_path: Path) -> None:
    path = broken_chat(tmp_path)
    with i18n.use("ko"):
        report = validate_file(path, model="gpt-35-turbo-0613")
        codes = set(report.error_counts)
        assert {"invalid_json", "duplicate_key", "data_type", "unrecognized_role"} <= codes
        assert {"message_missing_key", "message_unrecognized_key", "missing_content"} <= codes
        assert {"invalid_weight", "special_token", "missing_messages_list"} <= codes
        assert "example_missing_assistant_message" in codes
        assert len(report.warnings) == 5 and report.over_limit
        card = validation_card([report], ["a" * 64], 1.25)
        shown = _card_texts(card)
        all_korean(shown)
        assert "❌ 학습 준비 안 됨" in shown
        assert "파일을 고친 뒤 **검증**으로 다시 보내세요." in shown  # the next step
        assert [a["title"] for a in card["actions"]] == ["모든 오류 보기"]
        lines = error_lines(report)
        all_korean(lines)
        all_korean([report.summary()])
        assert report.errors and all(e.text() != e.message for e in report.errors)
    # what validation keeps (the --json shape, the stored report) says it in English
    assert all(e.message.isascii() for e in report.errors)
    assert all(w.message.isascii() for w in report.warnings)
    data = report.to_json()
    assert "template" not in data["errors"][0]  # type: ignore[index]
    assert "message 2 has key(s) colour" in json.dumps(data)


def test_a_stored_report_is_shown_in_the_readers_language(tmp_path: Path) -> None:
    report = validate_file(broken_chat(tmp_path), model="gpt-35-turbo-0613")
    kept = ValidationReport.from_json(json.loads(json.dumps(report.stored())))
    assert kept == report
    english_lines = error_lines(kept)
    with i18n.use("ko"):
        korean_lines = error_lines(kept)
        all_korean(korean_lines)
    assert english_lines[0].startswith("broken_set.jsonl line ")
    assert english(english_lines)  # English stays English


def test_files_the_service_would_refuse_are_explained_in_korean(tmp_path: Path) -> None:
    files = {
        "page.jsonl": "<!doctype html><html><body>Sign in</body></html>\n",
        "markup.jsonl": "<xml/>\n",
        "notes.jsonl": "hello there\n",
        "binary.jsonl": "a\0b\n",
        "legacy.jsonl": json.dumps({"prompt": "a", "completion": "b"}) + "\n",
        "keys.jsonl": json.dumps({k: 1 for k in "abcdefgh"}) + "\n",
        "few.jsonl": GOOD + "\n",
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    (tmp_path / "latin.jsonl").write_bytes(b"\xff\xfe not text\n")
    dpo = [
        json.dumps({"input": {"messages": [USER]}, "preferred_output": [ASSISTANT]}),
        json.dumps({"input": {}, "preferred_output": [], "non_preferred_output": []}),
        json.dumps(
            {
                "input": {"messages": [USER, 3]},
                "preferred_output": [ASSISTANT],
                "non_preferred_output": [USER],
            }
        ),
    ]
    (tmp_path / "dpo.jsonl").write_text("\n".join(dpo) + "\n", encoding="utf-8")
    with i18n.use("ko"):
        for path in sorted(tmp_path.glob("*.jsonl")):
            report = validate_file(path)
            assert not report.ok
            all_korean(_card_texts(validation_card([report], ["c" * 64], None)))
            all_korean(error_lines(report))
            all_korean([report.summary()])
    english_report = validate_file(tmp_path / "page.jsonl")
    assert english_report.file_errors[0].text() == (
        'the file holds an HTML page; expected the chat format, one {"messages": [...]} object '
        "per line."
    )
    assert validate_file(tmp_path / "few.jsonl").file_errors[0].text() == (
        "the file has 1 valid example; the service needs 10 or more."
    )


def test_the_cards_of_a_check_are_korean_as_the_bot_renders_them(tmp_path: Path) -> None:
    reports = tuple(validate_file(p) for p in write_sample(tmp_path))
    names = ("training_set.jsonl", "validation_set.jsonl")
    with i18n.use("ko"):
        ready = _activity(FilesReport(reports, ("a" * 64, "b" * 64), 0.42))
        card = ready["attachments"][0]["content"]
        assert [a["title"] for a in card["actions"]] == ["학습 시작", "자세히 보기"]
        assert card["actions"][0]["data"]["language"] == "ko"
        views = [
            ready,
            _activity(CheckingFiles(names, "downloading")),
            _activity(CheckingFiles(names, "validating")),
            _activity(FilesOffered(names, ("a" * 64, "b" * 64))),
            _activity(CheckFailed(names, refused("training_set.jsonl").message)),
            _activity(CheckFailed(names, too_large("training_set.jsonl", 4096).message)),
        ]
        for activity in views:
            all_korean(texts_of(activity))
        all_korean([ready["summary"]], names)
    with i18n.use("en"):
        card = _activity(FilesReport(reports, ("a" * 64, "b" * 64), 0.42))["attachments"][0]
        assert card["content"]["body"][0]["text"] == "✅ Ready to train"


def test_files_in_a_channel_are_explained_in_korean() -> None:
    with i18n.use("ko"):
        for reason in (
            GraphRefused(N_("Without an app registration I cannot read files in channels.")),
            GraphRefused(N_("Microsoft Graph did not let me read that message.")),
        ):
            content = personal_chat_card(reason.message, "General", "https://teams.example/l")
            all_korean(_card_texts(content))
    content = personal_chat_card("No access.", "General", None)
    assert "Send the file to me in our personal chat" in json.dumps(content)


@pytest.mark.parametrize(
    "error",
    [
        lambda path: validate_file(path, model="gpt-0"),
        lambda path: validate_file(path, epochs=99),
        lambda path: validate_file(path.parent),
        lambda path: validate_file(path.parent / "missing.jsonl"),
    ],
)
def test_refusals_of_validation_are_korean(tmp_path: Path, error: Any) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(GOOD + "\n", encoding="utf-8")
    with i18n.use("ko"), pytest.raises(UserError) as raised:
        error(path)
    with i18n.use("ko"):
        all_korean([raised.value.message])
    assert raised.value.message.isascii()  # said again outside: English

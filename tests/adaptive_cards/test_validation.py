"""The validation report card and the full error list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adaptive_cards.validation import error_lines, validation_card
from skills.sample import read_sample, write_sample
from skills.validation import ValidationReport, validate_file
from tests.channel import fact_rows

SAMPLE_LINES = len(read_sample("training_set.jsonl").splitlines())


def texts(element: Any) -> list[str]:
    """Every line a reader sees in an element tree, in order (a ShowCard's too): a TextBlock's
    text, a RichTextBlock's runs as one line."""
    if isinstance(element, dict):
        if element.get("type") == "TextBlock":
            return [element["text"]]
        if element.get("type") == "RichTextBlock":
            return ["".join(run["text"] for run in element["inlines"])]
        return [t for value in element.values() for t in texts(value)]
    if isinstance(element, list):
        return [t for item in element for t in texts(item)]
    return []


def broken(tmp_path: Path, bad_lines: int) -> ValidationReport:
    path = tmp_path / "broken.jsonl"
    good = (tmp_path / "s" / "training_set.jsonl").read_text(encoding="utf-8")
    path.write_text(good + "{nope\n" * bad_lines, encoding="utf-8")
    return validate_file(path)


def test_ready_card(tmp_path: Path) -> None:
    """Ready first, with the estimate and Start training; the statistics behind Show details, in
    words that wrap between words (no 7-column table)."""
    reports = [validate_file(p) for p in write_sample(tmp_path)]
    card = validation_card(reports, ["a" * 64, "b" * 64], 0.42)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["body"][0]["text"] == "✅ Ready to train"
    words = texts(card["body"])
    assert "training_set.jsonl: ready, 16 examples" in words
    assert "validation_set.jsonl: ready, 12 examples" in words
    assert "Table" not in json.dumps(card)
    facts = fact_rows(card["body"])  # those a reader sees first
    billing = reports[0].billing
    assert (
        facts["Epochs"] == str(billing.epochs)
        and f"{billing.billed_tokens:,}" in facts["Billed tokens"]
    )
    assert facts["Estimated price"] == "about $0.42 (an estimate, not a quote)"
    start, details = card["actions"]
    assert start == {
        "type": "Action.Submit",
        "title": "Start training",
        "data": {"verb": "train", "datasets": ["a" * 64, "b" * 64], "language": "en"},
        "style": "positive",
    }
    assert (details["type"], details["title"]) == ("Action.ShowCard", "Show details")
    shown = fact_rows(details["card"])
    total = reports[-1].tokens.total if reports[-1].tokens else None
    assert total and shown["Tokens per example"].startswith(f"median {total.shown()[3]}, mean ")
    assert {"Format", "Model", "Token limit", "Assistant tokens", "Messages"} <= set(shown)
    json.dumps(card)


def test_not_ready_card_says_what_where_and_what_next(tmp_path: Path) -> None:
    """Not ready: the problem in words with its lines, the next step; no estimate, no token
    table, no internal codes."""
    write_sample(tmp_path / "s")
    report = broken(tmp_path, 14)
    card = validation_card([report], ["c" * 64], None)
    assert card["body"][0]["text"] == "❌ Not ready to train"
    words = texts(card["body"])
    bad = ", ".join(str(SAMPLE_LINES + n) for n in range(1, 15))
    assert any(w.startswith(f"• Lines {bad}: The line is not JSON (") for w in words), words
    assert "Fix the file, then send it again with **validate**." in words
    shown = json.dumps(card)
    assert "invalid_json" not in shown and "`" not in shown
    for hidden in ("Epochs", "Estimated price", "Billed tokens", "Table", "median"):
        assert hidden not in shown, hidden
    assert [a["title"] for a in card["actions"]] == ["Show all errors"]
    assert card["actions"][0]["data"] == {
        "verb": "errors",
        "datasets": ["c" * 64],
        "model": "gpt-4o-mini-2024-07-18",
        "language": "en",
    }


def test_error_lines_list_every_error(tmp_path: Path) -> None:
    write_sample(tmp_path / "s")
    report = broken(tmp_path, 14)
    lines = error_lines(report)
    assert len(lines) == 14 and lines[-1].startswith(
        f"broken.jsonl line {SAMPLE_LINES + 14}: invalid_json"
    )


def test_over_limit_and_warnings_are_shown(tmp_path: Path) -> None:
    training, _ = write_sample(tmp_path)
    long = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "ok " * 5000},
        ]
    }
    with training.open("a", encoding="utf-8") as f:
        f.write(json.dumps(long) + "\n")
    report = validate_file(training, model="gpt-35-turbo-0613")
    words = texts(validation_card([report], [], None)["body"])
    over = "• 1 example is over 4,096 tokens, the most gpt-35-turbo-0613 takes: line"
    assert f"{over} {SAMPLE_LINES + 1}" in words
    assert "⚠️ 1 example has no system message." in words

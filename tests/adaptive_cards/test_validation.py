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
    """Every TextBlock text in an element tree, in order."""
    if isinstance(element, dict):
        own = [element["text"]] if element.get("type") == "TextBlock" else []
        return own + [t for value in element.values() for t in texts(value)]
    if isinstance(element, list):
        return [t for item in element for t in texts(item)]
    return []


def broken(tmp_path: Path, bad_lines: int) -> ValidationReport:
    path = tmp_path / "broken.jsonl"
    good = (tmp_path / "s" / "training_set.jsonl").read_text(encoding="utf-8")
    path.write_text(good + "{nope\n" * bad_lines, encoding="utf-8")
    return validate_file(path)


def test_ready_card(tmp_path: Path) -> None:
    reports = [validate_file(p) for p in write_sample(tmp_path)]
    card = validation_card(reports, ["a" * 64, "b" * 64], 0.42)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["body"][0]["text"].startswith("✅ Ready to train")
    words = texts(card["body"])
    assert any("training_set.jsonl" in t for t in words) and any(
        "validation_set.jsonl" in t for t in words
    )
    tables = [e for e in card["body"] if e["type"] == "Table"]
    assert len(tables) == 2 and len(tables[0]["rows"]) == 4
    facts = fact_rows(card)
    billing = reports[0].billing
    assert (
        facts["Epochs"] == str(billing.epochs)
        and f"{billing.billed_tokens:,}" in facts["Billed tokens"]
    )
    assert facts["Estimated price"] == "about $0.42 (an estimate, not a quote)"
    assert card["actions"] == [
        {
            "type": "Action.Submit",
            "title": "Start training",
            "data": {"verb": "train", "datasets": ["a" * 64, "b" * 64], "language": "en"},
        }
    ]
    json.dumps(card)


def test_not_ready_card_shows_first_ten_errors(tmp_path: Path) -> None:
    write_sample(tmp_path / "s")
    report = broken(tmp_path, 14)
    card = validation_card([report], ["c" * 64], None)
    assert card["body"][0]["text"].startswith("❌ Not ready")
    error_texts = [t for t in texts(card["body"]) if t.startswith("Line ")]
    assert len(error_texts) == 10 and error_texts[0].startswith(
        f"Line {SAMPLE_LINES + 1} · `invalid_json`"
    )
    assert any("14 in all" in t for t in texts(card["body"]))
    assert not any("Estimated price" in json.dumps(e) for e in card["body"])
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
    assert any(f"1 example exceeds 4,096 tokens: line {SAMPLE_LINES + 1}" in t for t in words)
    assert any("1 example has no system message." in t for t in words)

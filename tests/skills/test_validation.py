"""The validation rules, token counting, statistics and billing of skills.validation."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.errors import UserError
from infra.tokens import get_encoding, token_counter
from skills.validation import (
    TOKEN_LIMITS,
    billing_epochs,
    distribution,
    estimated_price,
    validate_file,
)
from skills.validation_rules import TokenCounter
from skills.validation_scan import PARALLEL_MIN_BYTES, Job, Tally, scan_range

ENCODING = get_encoding("o200k_base")


def tokens(text: str) -> int:
    return len(ENCODING.encode(text))


def example(
    user: str = "What is AI?", assistant: str = "Software that learns.", **extra: Any
) -> dict[str, Any]:
    messages = [
        {"role": "system", "content": "You teach AI."},
        {"role": "user", "content": user},
        {"role": "assistant", "content": assistant},
    ]
    return {"messages": messages, **extra}


def line(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def write(tmp_path: Path, *lines: object, valid: int = 10, name: str = "data.jsonl") -> Path:
    """A file of `valid` distinct good examples followed by `lines`."""
    good = [line(example(user=f"Question {i}?")) for i in range(valid)]
    path = tmp_path / name
    path.write_text("\n".join(good + [line(x) for x in lines]) + "\n", encoding="utf-8")
    return path


def lab_total(messages: list[dict[str, Any]]) -> int:
    """The lab's count for plain string messages."""
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            total += tokens(value)
            total += key == "name"
    return total


ASSISTANT = {"role": "assistant", "content": "ok"}


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ('{"messages": [', "invalid_json"),
        ("[1, 2]", "data_type"),
        ({"messages": ["hello", ASSISTANT]}, "data_type"),
        ({"messages": []}, "missing_messages_list"),
        ({"messages": "hi"}, "missing_messages_list"),
        ({"prompt": "hi", "completion": "there"}, "missing_messages_list"),
        ({"messages": [{"content": "hi"}, ASSISTANT]}, "message_missing_key"),
        (
            {"messages": [{"role": "user", "content": "hi", "mood": "x"}, ASSISTANT]},
            "message_unrecognized_key",
        ),
        ({"messages": [{"role": "robot", "content": "hi"}, ASSISTANT]}, "unrecognized_role"),
        ({"messages": [{"role": ["user"], "content": "hi"}, ASSISTANT]}, "unrecognized_role"),
        (
            {"messages": [{"role": {"a": 1}, "content": "hi", "name": "x"}, ASSISTANT]},
            "unrecognized_role",
        ),
        ({"messages": [{"role": "user", "content": ""}, ASSISTANT]}, "missing_content"),
        ({"messages": [{"role": "user"}, ASSISTANT]}, "missing_content"),
        ({"messages": [{"role": "user", "content": 7}, ASSISTANT]}, "missing_content"),
        ({"messages": [{"role": "user", "content": []}, ASSISTANT]}, "missing_content"),
        (
            {"messages": [{"role": "user", "content": [{"type": "audio"}]}, ASSISTANT]},
            "missing_content",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi", "tool_calls": []},
                    {"role": "assistant"},
                ]
            },
            "missing_content",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}, {**ASSISTANT, "weight": 2}]},
            "invalid_weight",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}, {**ASSISTANT, "weight": True}]},
            "invalid_weight",
        ),
        (
            {"messages": [{"role": "user", "content": "hi", "weight": 1}, ASSISTANT]},
            "invalid_weight",
        ),
        ({"messages": [{"role": "user", "content": "hi"}]}, "example_missing_assistant_message"),
        (
            {"messages": [{"role": "user", "content": "a <|endoftext|> b"}, ASSISTANT]},
            "special_token",
        ),
        ({"messages": [{"role": "user", "content": "<|fim_middle|>"}, ASSISTANT]}, "special_token"),
        (
            '{"messages": [{"role": "user", "content": "\\u003c|endofprompt|>"}, '
            '{"role": "assistant", "content": "x"}]}',
            "special_token",
        ),
        (
            {
                "messages": [{"role": "user", "content": "hi"}, ASSISTANT],
                "tools": [{"d": "<|fim_suffix|>"}],
            },
            "special_token",
        ),
    ],
)
def test_each_error_code_names_its_line(tmp_path: Path, bad: object, code: str) -> None:
    report = validate_file(write(tmp_path, bad))
    assert report.error_counts == {code: 1}
    assert [(e.line, e.code) for e in report.errors] == [(11, code)]
    assert report.examples == 11 and report.invalid_examples == 1
    assert not report.ok
    assert report.tokens is not None and report.valid_examples == 10


def test_invalid_utf8_line_is_invalid_json(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_bytes(path.read_bytes() + b'{"messages": "\xff\xfe"}\n')
    report = validate_file(path)
    assert report.errors[0].line == 11 and report.errors[0].code == "invalid_json"
    assert "UTF-8" in report.errors[0].message


def test_an_example_can_have_several_codes(tmp_path: Path) -> None:
    bad = {"messages": [{"content": "hi", "x": 1}, {"role": "user", "content": ""}]}
    report = validate_file(write(tmp_path, bad))
    assert report.error_counts == {
        "example_missing_assistant_message": 1,
        "message_missing_key": 1,
        "message_unrecognized_key": 1,
        "missing_content": 1,
    }
    assert report.invalid_examples == 1


@pytest.mark.parametrize(
    "good",
    [
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [{"id": "1"}]},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": None, "function_call": {"name": "f"}},
            ]
        },
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                    ],
                },
                ASSISTANT,
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {**ASSISTANT, "weight": 0},
                {"role": "user", "content": "more"},
                {**ASSISTANT, "weight": 1},
            ]
        },
        {
            "messages": [{"role": "user", "content": "hi", "name": "ann"}, ASSISTANT],
            "parallel_tool_calls": False,
        },
        {"messages": [{"role": "user", "content": "a <|endoftext"}, ASSISTANT]},
    ],
)
def test_accepted_variants(tmp_path: Path, good: object) -> None:
    report = validate_file(write(tmp_path, good))
    assert report.ok, report.errors


def test_bom_blank_lines_crlf_and_no_final_newline(tmp_path: Path) -> None:
    lines = [line(example(user=f"Q{i}")) for i in range(10)]
    text = (
        "\ufeff" + lines[0] + "\r\n\r\n" + "\n".join(lines[1:5]) + "\n   \n" + "\n".join(lines[5:])
    )
    path = tmp_path / "bom.jsonl"
    path.write_text(text, encoding="utf-8")
    report = validate_file(path)
    assert report.ok and report.examples == 10
    blank = [w for w in report.warnings if w.code == "blank_lines"]
    assert blank and blank[0].lines == [2, 7] and blank[0].count == 2
    # line numbers stay physical after blank lines
    path.write_text(text + "\n{oops\n", encoding="utf-8")
    assert [e.line for e in validate_file(path).errors] == [13]


def test_tokens_follow_the_lab_rule_with_true_percentiles(tmp_path: Path) -> None:
    rng = random.Random(7)
    words = "model data token learn train predict neural layer weight epoch".split()
    examples = []
    for i in range(57):
        user = " ".join(rng.choices(words, k=rng.randint(1, 40)))
        turns = [
            {"role": "system", "content": "You teach AI."},
            {"role": "user", "content": user, "name": "sam"},
        ]
        for _ in range(rng.randint(1, 3)):
            turns.append(
                {"role": "assistant", "content": " ".join(rng.choices(words, k=rng.randint(1, 60)))}
            )
            turns.append({"role": "user", "content": f"and {i}?"})
        examples.append({"messages": turns[:-1]})
    path = tmp_path / "random.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in examples), encoding="utf-8")
    report = validate_file(path)
    total = [lab_total(e["messages"]) for e in examples]
    assistant = [
        sum(tokens(m["content"]) for m in e["messages"] if m["role"] == "assistant")
        for e in examples
    ]
    messages = [len(e["messages"]) for e in examples]
    assert report.tokens is not None
    for stats, values in (
        (report.tokens.total, total),
        (report.tokens.assistant, assistant),
        (report.tokens.messages, messages),
    ):
        assert (stats.min, stats.max) == (min(values), max(values))
        assert stats.mean == pytest.approx(np.mean(values))
        assert stats.median == pytest.approx(np.median(values))
        assert stats.p5 == pytest.approx(np.percentile(values, 5))
        assert stats.p95 == pytest.approx(np.percentile(values, 95))
    assert report.tokens.total.p95 != pytest.approx(np.percentile(total, 90))
    assert report.billing.dataset_tokens == sum(total)
    assert report.billing.epochs == 3 and report.billing.billed_tokens == 3 * sum(total)


@pytest.mark.parametrize("size", [1, 2, 3, 10, 101, 1000])
def test_histogram_percentiles_match_numpy(size: int) -> None:
    rng = np.random.default_rng(size)
    values = [int(v) for v in rng.integers(0, 50, size)]
    stats = distribution(Counter(values))
    assert stats.p5 == pytest.approx(np.percentile(values, 5), rel=1e-12)
    assert stats.p95 == pytest.approx(np.percentile(values, 95), rel=1e-12)
    assert stats.median == pytest.approx(np.median(values), rel=1e-12)
    assert stats.mean == pytest.approx(np.mean(values), rel=1e-12)


@pytest.mark.parametrize(
    ("n", "epochs"),
    [
        (0, 3),
        (1, 25),
        (4, 25),
        (5, 20),
        (33, 3),
        (34, 3),
        (8333, 3),
        (8334, 2),
        (12500, 2),
        (12501, 1),
        (30000, 1),
    ],
)
def test_billing_epochs(n: int, epochs: int) -> None:
    assert billing_epochs(n) == epochs
    assert billing_epochs(n, 7) == 7


def test_over_limit_lines_and_billing_cap(tmp_path: Path) -> None:
    long = " ".join(["tokenization"] * 5000)
    path = write(tmp_path, example(assistant=long), valid=12)
    report = validate_file(path, model="gpt-35-turbo-0613", epochs=2)
    assert report.encoding == "cl100k_base" and report.token_limit == 4096
    assert report.over_limit == [13] and not report.ok and report.invalid_examples == 0
    assert report.tokens is not None and report.tokens.total.max > 4096
    normal = validate_file(
        write(tmp_path, valid=12, name="normal.jsonl"), model="gpt-35-turbo-0613"
    )
    assert report.billing.dataset_tokens == normal.billing.dataset_tokens + 4096
    assert report.billing.billed_tokens == 2 * report.billing.dataset_tokens
    assert validate_file(path).ok  # within gpt-4o-mini's 65,536


def test_estimated_price(tmp_path: Path) -> None:
    report = validate_file(write(tmp_path))
    price = estimated_price(report, {report.model: 2.0})
    assert price == pytest.approx(report.billing.billed_tokens * 2.0 / 1e6)
    assert estimated_price(report, {}) is None


def test_unknown_format_is_said_once(tmp_path: Path) -> None:
    path = tmp_path / "legacy.jsonl"
    path.write_text(
        "".join(json.dumps({"prompt": f"p{i}", "completion": "c"}) + "\n" for i in range(12))
    )
    report = validate_file(path)
    assert report.format == "unknown" and report.examples == 12 and report.invalid_examples == 12
    assert report.errors == [] and report.error_counts == {"unknown_format": 12}
    codes = [e.code for e in report.file_errors]
    assert codes == ["unknown_format", "too_few_examples"]
    assert (
        "prompt/completion" in report.file_errors[0].message
        and "messages" in report.file_errors[0].message
    )
    assert report.tokens is None and not report.ok


def dpo(question: str, preferred: object = None) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": question}]},
        "preferred_output": preferred
        if preferred is not None
        else [{"role": "assistant", "content": "Good."}],
        "non_preferred_output": [{"role": "assistant", "content": "Bad."}],
    }


def test_dpo_files(tmp_path: Path) -> None:
    path = tmp_path / "dpo.jsonl"
    rows = [dpo(f"Q{i}?") for i in range(10)] + [dpo("x", preferred=[]), {"input": {}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = validate_file(path)
    assert report.format == "dpo"
    assert report.error_counts == {
        "example_missing_assistant_message": 1,
        "missing_messages_list": 1,
    }
    assert [e.line for e in report.errors] == [11, 12]
    assert report.tokens is not None
    every = [
        {"role": "user", "content": "Q0?"},
        {"role": "assistant", "content": "Good."},
        {"role": "assistant", "content": "Bad."},
    ]
    assert report.tokens.total.min == lab_total(every)
    assert report.tokens.assistant.max == tokens("Good.") + tokens("Bad.")


def test_tool_calls_tools_and_content_parts_count(tmp_path: Path) -> None:
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    parts = [
        {"type": "text", "text": "Look at this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    messages = [
        {"role": "user", "content": parts},
        {"role": "assistant", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "assistant", "content": "It is 42."},
    ]
    path = write(tmp_path, {"messages": messages, "tools": tools}, valid=0)
    report = validate_file(path)
    compact = {"ensure_ascii": False, "separators": (",", ":")}
    expected = (
        3
        + (3 + tokens("user") + tokens("Look at this") + 85)
        + (3 + tokens("assistant") + tokens(json.dumps(calls, **compact)))  # type: ignore[arg-type]
        + (3 + tokens("tool") + tokens("c1") + tokens("42"))
        + (3 + tokens("assistant") + tokens("It is 42."))
        + tokens(json.dumps(tools, **compact))  # type: ignore[arg-type]
    )
    assert report.tokens is not None
    assert report.tokens.total.max == expected
    assert report.tokens.assistant.max == tokens(json.dumps(calls, **compact)) + tokens("It is 42.")  # type: ignore[arg-type]


def test_too_few_examples(tmp_path: Path) -> None:
    report = validate_file(write(tmp_path, valid=9))
    assert [e.code for e in report.file_errors] == ["too_few_examples"] and not report.ok
    assert validate_file(write(tmp_path, valid=10)).ok


def test_warnings_system_user_duplicates_and_top_level_keys(tmp_path: Path) -> None:
    no_system = {"messages": [{"role": "user", "content": "a"}, ASSISTANT]}
    no_user = {"messages": [{"role": "system", "content": "s"}, ASSISTANT], "metadata": {"id": 1}}
    path = write(tmp_path, no_system, no_user, no_system, example(user="Question 3?"))
    report = validate_file(path)
    found = {w.code: (w.count, w.lines) for w in report.warnings}
    assert found == {
        "unrecognized_top_level_key": (1, [12]),
        "missing_system_message": (2, [11, 13]),
        "missing_user_message": (1, [12]),
        "duplicate_examples": (2, [13, 14]),
    }
    assert report.ok
    assert "metadata" in next(
        w.message for w in report.warnings if w.code == "unrecognized_top_level_key"
    )


def test_unknown_model_and_unreadable_files(tmp_path: Path) -> None:
    path = write(tmp_path)
    with pytest.raises(UserError) as error:
        validate_file(path, model="gpt-5-mega")
    assert all(name in error.value.message for name in TOKEN_LIMITS)
    with pytest.raises(UserError, match="Cannot read missing.jsonl"):
        validate_file(tmp_path / "missing.jsonl")
    with pytest.raises(UserError, match="folder"):
        validate_file(tmp_path)
    with pytest.raises(UserError, match="Epochs"):
        validate_file(path, epochs=0)


def test_json_shape(tmp_path: Path) -> None:
    data = validate_file(write(tmp_path, "{bad"), name="shown.jsonl").to_json()
    assert data["file"] == "shown.jsonl" and data["ok"] is False
    for key in (
        "model",
        "encoding",
        "format",
        "examples",
        "invalid_examples",
        "errors",
        "error_counts",
        "warnings",
        "over_limit",
        "token_limit",
        "tokens",
        "billing",
    ):
        assert key in data
    assert data["errors"] == [
        {"line": 11, "code": "invalid_json", "message": data["errors"][0]["message"]}
    ]  # type: ignore[index]
    json.dumps(data)


def _scan(path: Path, bounds: list[int]) -> Tally:
    whole = Tally()
    for start, end in zip(bounds, bounds[1:], strict=False):
        whole.merge(scan_range(Job(path, start, end, "chat", "o200k_base", 65536)))
    return whole


def test_byte_ranges_split_anywhere_give_the_same_tally(tmp_path: Path) -> None:
    path = write(tmp_path, "{bad", "", example(user="Question 2?"), {"messages": []}, valid=30)
    size = path.stat().st_size
    one = _scan(path, [0, size])
    rng = random.Random(3)
    for _ in range(20):
        bounds = sorted({0, size, *rng.sample(range(1, size), 6)})
        split = _scan(path, bounds)
        assert (split.lines, split.examples, split.invalid, split.errors) == (
            one.lines,
            one.examples,
            one.invalid,
            one.errors,
        )
        assert (split.total, split.warnings, list(split.digest_lines)) == (
            one.total,
            one.warnings,
            list(one.digest_lines),
        )


def test_a_large_file_uses_worker_processes_with_the_same_result(tmp_path: Path) -> None:
    path = tmp_path / "large.jsonl"
    rng = random.Random(1)
    with path.open("w") as f:
        written = 0
        number = 0
        while written <= PARALLEL_MIN_BYTES:
            number += 1
            row = (
                "{oops"
                if number % 5000 == 0
                else line(
                    example(user=f"Q {rng.random()}", assistant="word " * rng.randint(1, 400))
                )
            )
            f.write(row + "\n")
            written += len(row) + 1
    report = validate_file(path)
    size = path.stat().st_size
    expected = _scan(path, [0, size])
    assert report.examples == expected.examples == number
    assert (
        [e.line for e in report.errors]
        == [e[0] for e in expected.errors]
        == list(range(5000, number + 1, 5000))
    )
    assert report.tokens is not None
    assert report.tokens.total == distribution(expected.total)
    assert report.billing.dataset_tokens == expected.dataset_tokens


DATA = Path(__file__).resolve().parents[1] / "data"
COMPACT: dict[str, Any] = {"ensure_ascii": False, "separators": (",", ":")}
ASSISTANT_KEYS = ("content", "tool_calls", "function_call")


def naive_counts(path: Path) -> dict[str, list[int]]:
    """Every example's total, assistant and message counts, written out plainly: json.loads and
    tiktoken's `encode_ordinary` per value, by the lab's rule and docs/validation.md's table."""

    def count(value: object) -> int:
        text = value if isinstance(value, str) else json.dumps(value, **COMPACT)
        return len(ENCODING.encode_ordinary(text))

    found: dict[str, list[int]] = {"total": [], "assistant": [], "messages": []}
    for line in path.read_text(encoding="utf-8").splitlines():
        example = json.loads(line)
        if "input" in example:
            given = example["input"]
            messages = given["messages"] + example["preferred_output"]
            messages += example["non_preferred_output"]
        else:
            given, messages = example, example["messages"]
        total, assistant = 3, 0
        for message in messages:
            total += 3
            for key, value in message.items():
                if key == "weight" or value is None:
                    tokens = 0
                elif key == "content" and isinstance(value, list):
                    tokens = sum(count(p["text"]) if p["type"] == "text" else 85 for p in value)
                else:
                    tokens = count(value)
                total += tokens + (key == "name")
                if message["role"] == "assistant" and key in ASSISTANT_KEYS:
                    assistant += tokens
        total += sum(count(given[key]) for key in ("tools", "functions") if given.get(key))
        found["total"].append(total)
        found["assistant"].append(assistant)
        found["messages"].append(len(messages))
    return found


def generated(tmp_path: Path, corpus: str, size: int) -> Path:
    """The first `size` bytes (whole lines) of a benchmark corpus."""
    from benchmarks.validation import CORPORA

    path = tmp_path / f"{corpus}.jsonl"
    written = 0
    with path.open("w", encoding="utf-8") as f:
        for line in CORPORA[corpus](random.Random(11)):
            f.write(line)
            written += len(line.encode())
            if written > size:
                return path
    raise AssertionError("a corpus is endless")


def hard_text(tmp_path: Path) -> Path:
    """Valid examples whose text tests the tokenizer: lone surrogates (tiktoken replaces them),
    whitespace runs of every kind, digits, contractions, scripts, emoji and a long repeat."""
    rng = random.Random(5)
    pieces = [" ", "   ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\x85", "a", "Z", "é",
              "ǅ", "ʰ", "한글", "漢字", "ا", "\u0301", "1", "٣", "²", "12345", "'s", "'LL", "’re",
              "!?", "...", "/", "😀", "👍🏽", "\u200d", "camelCase", "HELLO", "ß", "<|", "|>",
              "\ud800", "\udfff"]  # fmt: skip
    lines = []
    for i in range(60):
        user = "".join(rng.choices(pieces, k=rng.randint(1, 80)))
        answer = "".join(rng.choices(pieces, k=rng.randint(1, 80))) + "A" * (i * 50)
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        lines.append(json.dumps({"messages": messages}))  # ASCII: surrogates as \u escapes
    path = tmp_path / "hard.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name",
    [
        "mslearn_training_set.jsonl",
        "mslearn_validation_set.jsonl",
        "toy_chat_fine_tuning.jsonl",
        "tool_calling.jsonl",
        "dpo.jsonl",
        "high-entropy",
        "generated",
        "hard text",
    ],
)
def test_every_statistic_equals_the_naive_count(tmp_path: Path, name: str) -> None:
    """The counts, histograms and every statistic equal those of plain json.loads and tiktoken
    counting (the generated corpora pass PARALLEL_MIN_BYTES: through the worker processes)."""
    if name == "hard text":
        path = hard_text(tmp_path)
    elif name in ("high-entropy", "generated"):
        path = generated(tmp_path, name, PARALLEL_MIN_BYTES)
    else:
        path = DATA / name
    expected = naive_counts(path)
    size = path.stat().st_size
    fmt = "dpo" if name == "dpo.jsonl" else "chat"
    tally = scan_range(Job(path, 0, size, fmt, "o200k_base", 65536))
    assert tally.invalid == 0
    for key in ("total", "assistant", "messages"):
        assert getattr(tally, key) == Counter(expected[key])
    report = validate_file(path)
    assert report.tokens is not None and report.invalid_examples == 0
    for key in ("total", "assistant", "messages"):
        values = expected[key]
        stats = getattr(report.tokens, key)
        assert stats == distribution(Counter(values))
        assert (stats.min, stats.max, stats.mean) == (min(values), max(values), np.mean(values))
    assert report.billing.dataset_tokens == sum(expected["total"])


WORDS = ["a", "the", "Model", "HELLO", "camelCase", "ß", "é", "한국어", "漢字", "ا", "123", "1234",
         "2048.", "it's", "don'T", "we'LL", "!", "?!", ".", ",", "/", "\\", "<|", "😀", "👍🏽",
         "\u0301", "\u00a0", "\u3000", "\t", "\n", "\r\n", "x\n", "\u2028", "\x85", "\ud800",
         ""]  # fmt: skip


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.lists(st.lists(st.sampled_from(WORDS), max_size=3).map("".join), min_size=8, max_size=40))
def test_counting_by_words_equals_tiktoken(words: list[str]) -> None:
    """Words of letters, digits, marks, punctuation, contractions and whitespace (an empty word
    is two spaces in a row), joined by spaces: counted word by word where that is exact, the
    total is tiktoken's for the whole text, in both encodings."""
    text = " ".join(words)
    for name in ("o200k_base", "cl100k_base"):
        counter = TokenCounter(token_counter(name))
        expected = len(get_encoding(name).encode_ordinary(text))
        assert (counter.text(text), counter.text(text)) == (expected, expected), name
        assert counter.by_words and counter._words  # the words were remembered


def test_counting_by_words_stops_on_a_vocabulary_too_large_to_remember() -> None:
    """Repeated words are encoded once; once the word memo fills with words seen once, whole
    texts are counted, and every count stays tiktoken's."""
    calls: list[str] = []

    def count(text: str) -> int:
        calls.append(text)
        return len(ENCODING.encode_ordinary(text))

    rng = random.Random(3)
    repeating = TokenCounter(count)
    repeating.WORDS = 200
    vocabulary = [f"w{i}" for i in range(100)]
    for _ in range(300):
        text = " ".join(rng.choices(vocabulary, k=20))
        assert repeating.text(text) == len(ENCODING.encode_ordinary(text))
    assert repeating.by_words
    assert len(calls) <= 300 + 100  # each text's first word, each word of the vocabulary once

    calls.clear()
    fresh = TokenCounter(count)
    fresh.WORDS = 200
    for number in range(300):
        text = " ".join(f"v{number}x{i}" for i in range(20))
        assert fresh.text(text) == len(ENCODING.encode_ordinary(text))
    assert not fresh.by_words and not fresh._words
    assert calls[-1] == text  # counted whole


def test_what_repeats_is_counted_once_in_bounded_memory() -> None:
    """System messages that never repeat cannot fill the memory; one that does is counted once."""
    calls: list[str] = []

    def count(text: str) -> int:
        calls.append(text)
        return len(ENCODING.encode_ordinary(text))

    counter = TokenCounter(count)
    rng = random.Random(2)
    for _ in range(1000):
        unique = " ".join(str(rng.random()) for _ in range(100))
        for system in (unique, "The system is an AI teacher."):
            messages = [{"role": "system", "content": system}, ASSISTANT]
            assert counter.measure(messages, {}).total == lab_total(messages)
        held = sum(map(len, counter._memo))
        assert held <= TokenCounter.REPEATED_CHARS
    assert calls.count("The system is an AI teacher.") < 10
    assert calls.count("assistant") < 10

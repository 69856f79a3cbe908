"""`ftbot validate` and `ftbot sample` as a user runs them: the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from infra.tokens import get_encoding

pytestmark = pytest.mark.slow  # each test runs `ftbot validate` or `ftbot sample`

FTBOT = Path(sys.executable).with_name("ftbot")
DATA = Path(__file__).parent / "data"
ENCODING = get_encoding("o200k_base")
COMPACT: dict[str, Any] = {"ensure_ascii": False, "separators": (",", ":")}


def ftbot(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FTBOT), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def tokens(value: object) -> int:
    text = value if isinstance(value, str) else json.dumps(value, **COMPACT)
    return len(ENCODING.encode(text))


def reference(path: Path) -> dict[str, list[int]]:
    """The lab's counting written out plainly (plus the documented rule for non-strings)."""
    totals, assistants, counts = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        example = json.loads(line)
        if "input" in example:
            messages = (
                example["input"]["messages"]
                + example["preferred_output"]
                + example["non_preferred_output"]
            )
            extras = example["input"]
        else:
            messages, extras = example["messages"], example
        total, assistant = 3, 0
        for message in messages:
            total += 3
            for key, value in message.items():
                total += tokens(value) + (key == "name")
                if message["role"] == "assistant" and key != "role":
                    assistant += tokens(value)
        total += sum(tokens(extras[k]) for k in ("tools", "functions") if extras.get(k))
        totals.append(total)
        assistants.append(assistant)
        counts.append(len(messages))
    return {"total": totals, "assistant": assistants, "messages": counts}


def stats(values: list[int]) -> dict[str, float]:
    return {
        "min": min(values),
        "max": max(values),
        "mean": float(np.mean(values)),
        "median": float(np.median(values)),
        "p5": float(np.percentile(values, 5)),
        "p95": float(np.percentile(values, 95)),
    }


@pytest.mark.parametrize(
    ("name", "ok", "format"),
    [
        ("mslearn_training_set.jsonl", True, "chat"),
        ("mslearn_validation_set.jsonl", True, "chat"),
        ("toy_chat_fine_tuning.jsonl", False, "chat"),
        ("tool_calling.jsonl", True, "chat"),
        ("dpo.jsonl", True, "dpo"),
    ],
)
def test_public_datasets_give_the_reference_numbers(name: str, ok: bool, format: str) -> None:
    result = ftbot("validate", "--json", DATA / name)
    assert result.returncode == (0 if ok else 1), result.stderr
    report = json.loads(result.stdout)
    expected = reference(DATA / name)
    n = len(expected["total"])
    assert (report["file"], report["format"], report["ok"]) == (name, format, ok)
    assert (report["examples"], report["invalid_examples"]) == (n, 0)
    for key in ("total", "assistant", "messages"):
        assert report["tokens"][key] == pytest.approx(stats(expected[key]), rel=1e-12)
    epochs = min(25, 100 // n)
    assert report["billing"] == {
        "dataset_tokens": sum(expected["total"]),
        "epochs": epochs,
        "billed_tokens": epochs * sum(expected["total"]),
    }


def test_ms_learn_files_match_the_tutorial_printout() -> None:
    """The tutorial prints min/max 46, 59 and mean/median 49.8, 48.5 for its training file."""
    report = json.loads(ftbot("validate", "--json", DATA / "mslearn_training_set.jsonl").stdout)
    total = report["tokens"]["total"]
    assert (total["min"], total["max"], total["mean"], total["median"]) == (46, 59, 49.8, 48.5)


def test_toy_file_problems() -> None:
    report = json.loads(ftbot("validate", "--json", DATA / "toy_chat_fine_tuning.jsonl").stdout)
    assert [e["code"] for e in report["file_errors"]] == ["too_few_examples"]
    warnings = {w["code"]: w["lines"] for w in report["warnings"]}
    assert warnings == {"missing_system_message": [3], "missing_user_message": [4]}


def test_several_files_give_an_array_and_the_readable_report(tmp_path: Path) -> None:
    assert ftbot("sample", tmp_path).returncode == 0
    files = [tmp_path / "training_set.jsonl", tmp_path / "validation_set.jsonl"]
    result = ftbot("validate", "--json", *files)
    assert result.returncode == 0
    assert [r["file"] for r in json.loads(result.stdout)] == [f.name for f in files]
    text = ftbot("validate", *files, "--epochs", "2")
    assert text.returncode == 0
    assert "training_set.jsonl: OK" in text.stdout and "validation_set.jsonl: OK" in text.stdout
    assert "2 epoch(s)" in text.stdout and "(estimate)" in text.stdout
    mixed = ftbot("validate", "--json", files[0], DATA / "toy_chat_fine_tuning.jsonl")
    assert mixed.returncode == 1 and len(json.loads(mixed.stdout)) == 2


def hostile(tmp_path: Path, name: str, data: bytes) -> dict[str, Any]:
    path = tmp_path / name
    path.write_bytes(data)
    result = ftbot("validate", "--json", path)
    assert result.returncode == 1 and result.stderr == ""
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["ok"] is False
    return report


def test_binary_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    report = hostile(tmp_path, "model.bin", b"\x00\x01PK" + rng.bytes(20000))
    assert report["format"] == "unknown" and "binary" in report["file_errors"][0]["message"]
    assert report["invalid_examples"] == report["examples"] > 0 and report["errors"] == []


def test_html_page(tmp_path: Path) -> None:
    page = (
        b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body>Sign in</body></html>\n"
    )
    report = hostile(tmp_path, "training.jsonl", page)
    assert report["format"] == "unknown" and "HTML page" in report["file_errors"][0]["message"]
    assert report["examples"] == 3 and "tokens" in report and report["tokens"] is None


def test_invalid_utf8_and_empty_files(tmp_path: Path) -> None:
    lines = (DATA / "mslearn_training_set.jsonl").read_bytes().splitlines(keepends=True)
    report = hostile(
        tmp_path, "latin1.jsonl", b"".join(lines[:4]) + "caf\u00e9\n".encode("latin-1")
    )
    assert report["errors"][0]["line"] == 5 and report["errors"][0]["code"] == "invalid_json"
    empty = hostile(tmp_path, "empty.jsonl", b"")
    assert (empty["examples"], empty["tokens"], empty["format"]) == (0, None, "chat")
    assert [e["code"] for e in empty["file_errors"]] == ["too_few_examples"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "nope.jsonl"], "Cannot read nope.jsonl"),
        (["validate", "--model", "gpt-9", str(DATA / "dpo.jsonl")], "Unknown model `gpt-9`"),
        (["validate", "--epochs", "0", str(DATA / "dpo.jsonl")], "epochs"),
        (["validate"], "FILE"),
    ],
)
def test_usage_errors_and_unreadable_files_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = subprocess.run(
        [str(FTBOT), *args], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    files = [DATA / "mslearn_training_set.jsonl"] * 200  # more than a pipe holds
    command = [str(FTBOT), "validate", "--json", *map(str, files)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        assert child.stdout is not None and child.stderr is not None
        assert child.stdout.read(10) == b"[\n  {\n    "
        child.stdout.close()  # as `| head` does
        errors = child.stderr.read()
    assert child.returncode == 0
    assert errors == b""

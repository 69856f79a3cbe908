"""The original sample dataset validates cleanly and is on the lab's theme."""

from __future__ import annotations

import json
from pathlib import Path

from skills.sample import SAMPLE_FILES, read_sample, write_sample
from skills.validation import validate_file


def test_sample_files_validate_ok(tmp_path: Path) -> None:
    training, validation = write_sample(tmp_path / "new")
    assert (training.name, validation.name) == SAMPLE_FILES
    for path, minimum in ((training, 15), (validation, 12)):
        report = validate_file(path)
        assert report.ok, report.summary()
        assert report.examples >= minimum and report.warnings == []
        assert path.read_bytes() == read_sample(path.name)


def test_sample_is_an_ai_teacher(tmp_path: Path) -> None:
    training, _ = write_sample(tmp_path)
    for line in training.read_text(encoding="utf-8").splitlines():
        roles = [m["role"] for m in json.loads(line)["messages"]]
        system = json.loads(line)["messages"][0]["content"]
        assert roles == ["system", "user", "assistant"]
        assert "AI teacher" in system and "learn about AI" in system

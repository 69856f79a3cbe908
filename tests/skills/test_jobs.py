"""Fine-tuning calls (skills/training/jobs.py): the name an upload is made under."""

from __future__ import annotations

from skills.training.jobs import upload_name
from skills.training.plan import Dataset


def dataset(name: str, sha256: str = "0123456789abcdef" * 4) -> Dataset:
    return Dataset(sha256=sha256, path="", name=name, examples=10)


def test_an_upload_is_named_by_its_content() -> None:
    """The file's own name with 16 hex digits of its SHA-256 before the extension: the same
    content under the same name is found again, another content never is."""
    assert upload_name(dataset("training_set.jsonl")) == "training_set.0123456789abcdef.jsonl"
    assert upload_name(dataset("my.data.JSONL")) == "my.data.0123456789abcdef.JSONL"
    assert upload_name(dataset("notes")) == "notes.0123456789abcdef.jsonl"
    other = dataset("training_set.jsonl", "fedcba9876543210" * 4)
    assert upload_name(other) != upload_name(dataset("training_set.jsonl"))

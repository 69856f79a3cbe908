"""The sample dataset: an AI teacher that helps people learn about AI, written for this project."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from infra.errors import UserError

SAMPLE_FILES = ("training_set.jsonl", "validation_set.jsonl")


def read_sample(name: str) -> bytes:
    """The bytes of one sample file (one of SAMPLE_FILES), e.g. to send as an attachment."""
    if name not in SAMPLE_FILES:
        raise ValueError(f"no sample file {name!r}")
    return resources.files("skills.sample_data").joinpath(name).read_bytes()


def write_sample(directory: Path) -> tuple[Path, Path]:
    """Write training_set.jsonl and validation_set.jsonl into `directory`; returns their paths."""
    written: list[Path] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name in SAMPLE_FILES:
            target = directory / name
            partial = directory / f".{name}.{os.getpid()}.part"
            partial.write_bytes(read_sample(name))
            partial.replace(target)
            written.append(target)
    except OSError as error:
        raise UserError(
            "Cannot write the sample files to {directory}: {reason}.",
            directory=str(directory),
            reason=str(error.strerror),
        ) from None
    return written[0], written[1]

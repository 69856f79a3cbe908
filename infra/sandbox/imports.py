"""File imports: an uploaded training file goes pending -> running -> processed | error.

The checks are `ftbot validate`'s own (`skills.validation.validate_file`), so the sandbox refuses
exactly what the bot's validation card reports.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from infra.catalog import DEFAULT_MODEL
from infra.sandbox.service import Sandbox

PENDING_SECONDS = 1.0
IMPORT_SECONDS = 3.0
"""Sandbox seconds an import takes: it waits PENDING, then runs IMPORT plus 1 s per MB."""


def file_path(sandbox: Sandbox, file_id: str) -> Path:
    """Where a file's bytes live."""
    return sandbox.files_dir / file_id


def check_file(path: Path, model: str, name: str) -> str | None:
    """None when the file passes `ftbot validate` for `model`, else why not (`status_details`)."""
    from skills.validation import validate_file

    report = validate_file(path, model=model, name=name)
    return None if report.ok else report.summary()


async def import_file(sandbox: Sandbox, file_id: str) -> None:
    """Run one file's import to its end, from wherever it stopped."""
    store, clock = sandbox.store, sandbox.clock
    doc = store.get("file", file_id)
    if doc is None or doc["status"] not in ("pending", "running"):
        return
    if doc["status"] == "pending":
        await clock.sleep_until(doc["created_at"] + PENDING_SECONDS)
        doc = store.get("file", file_id)
        if doc is None:
            return
        doc["status"] = "running"
        store.put("file", file_id, doc)
    size_mb = int(doc.get("bytes") or 0) / 1e6
    await clock.sleep_until(doc["created_at"] + PENDING_SECONDS + IMPORT_SECONDS + size_mb)
    path, name = file_path(sandbox, file_id), str(doc["filename"])
    problem = await asyncio.to_thread(check_file, path, DEFAULT_MODEL, name)
    doc = store.get("file", file_id)
    if doc is None:
        return
    doc["status"] = "processed" if problem is None else "error"
    if problem is not None:
        doc["status_details"] = problem
    store.put("file", file_id, doc)


def resume_imports(sandbox: Sandbox) -> None:
    """Carry on imports a restart interrupted."""
    for file_id, doc in sandbox.store.items("file"):
        if doc["status"] in ("pending", "running"):
            sandbox.spawn(import_file(sandbox, file_id), f"import {file_id}")

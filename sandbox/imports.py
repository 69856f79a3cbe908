"""File imports: an uploaded training file goes pending -> running -> processed | error.

The sandbox checks what Azure checks when it imports a fine-tuning file, and no more: every
line is a JSON object, and the lines share one training format, chat (`messages`, for
supervised fine-tuning) or preference (`input`, `preferred_output`, `non_preferred_output`,
for DPO). A job checks the rest when it starts (`check_for_job`): the format fits its method,
at least 10 examples, each within the base model's training context. These are the sandbox's
own rules, independent of the bot's validator, so a validator bug shows as a disagreement.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.service import Sandbox
from sandbox.tokens import o200k

PENDING_SECONDS = 1.0
IMPORT_SECONDS = 3.0
"""Sandbox seconds an import takes: it waits PENDING, then runs IMPORT plus 1 s per MB."""
MIN_EXAMPLES = 10
IN_PROCESS_BYTES = 8 * 1024 * 1024
"""Files above this are checked in a worker process, off the sandbox's GIL."""
CHAT = "chat"
PREFERENCE = "preference"
FORMAT_OF_METHOD = {"supervised": CHAT, "dpo": PREFERENCE}


def file_path(sandbox: Sandbox, file_id: str) -> Path:
    """Where a file's bytes live."""
    return sandbox.files_dir / file_id


@dataclass(frozen=True)
class Imported:
    """What an import found: the format and example count, or why the file is refused."""

    format: str = ""
    examples: int = 0
    problem: str | None = None


def _messages_ok(messages: object, *, needs_assistant: bool) -> bool:
    if not isinstance(messages, list) or not messages:
        return False
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    if any(
        r not in ("system", "user", "assistant", "tool", "function", "developer") for r in roles
    ):
        return False
    return "assistant" in roles or not needs_assistant


def line_format(record: Any) -> str | None:
    """`chat`, `preference` or None (neither) for one parsed line."""
    if not isinstance(record, dict):
        return None
    if "messages" in record:
        return CHAT if _messages_ok(record["messages"], needs_assistant=True) else None
    source = record.get("input")
    if isinstance(source, dict) and {"preferred_output", "non_preferred_output"} <= set(record):
        outputs_ok = all(
            _messages_ok(record[k], needs_assistant=True)
            for k in ("preferred_output", "non_preferred_output")
        )
        if outputs_ok and _messages_ok(source.get("messages"), needs_assistant=False):
            return PREFERENCE
    return None


def check_file(path: Path) -> Imported:
    """Azure's import checks of a fine-tuning file (reads it line by line)."""
    found: str | None = None
    examples = 0
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                return Imported(problem=f"Invalid file format. Line {number}: not valid JSON.")
            kind = line_format(record)
            if kind is None:
                return Imported(
                    problem=f"Invalid file format. Line {number}: expected a chat example "
                    "with `messages` (one assistant message at least) or a preference example "
                    "with `input`, `preferred_output` and `non_preferred_output`."
                )
            if found is not None and kind != found:
                return Imported(
                    problem=f"Invalid file format. Line {number} is a {kind} example; the lines "
                    f"before it are {found} examples."
                )
            found = kind
            examples += 1
    if found is None:
        return Imported(problem="Invalid file format. The file has no examples.")
    return Imported(found, examples)


def _tokens(record: dict[str, Any]) -> int:
    encoding = o200k()
    text = json.dumps(record, ensure_ascii=False)
    return len(encoding.encode(text, disallowed_special=()))


def check_for_job(path: Path, method: str, context: int) -> str | None:
    """None when the file can train `method` within `context` tokens, else why not."""
    imported = check_file(path)
    if imported.problem:
        return imported.problem
    wanted = FORMAT_OF_METHOD.get(method, CHAT)
    if imported.format != wanted:
        return (
            f"The file has {imported.format} examples; the {method} method needs {wanted} examples."
        )
    if imported.examples < MIN_EXAMPLES:
        return (
            f"The file has {imported.examples} examples; fine-tuning needs at least {MIN_EXAMPLES}."
        )
    with path.open("rb") as lines:
        for number, raw in enumerate((r for r in lines if r.strip()), start=1):
            if _tokens(json.loads(raw)) > context:
                return f"Example {number} is longer than the model's {context:,}-token context."
    return None


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
    path = file_path(sandbox, file_id)
    if int(doc.get("bytes") or 0) > IN_PROCESS_BYTES:
        # A big file is parsed in another process: a parsing thread would hold the GIL
        # against the event loop and every other request would wait on it.
        found = await asyncio.get_running_loop().run_in_executor(
            sandbox.processes(), check_file, path
        )
    else:
        found = await asyncio.to_thread(check_file, path)
    doc = store.get("file", file_id)
    if doc is None:
        return
    doc["status"] = "processed" if found.problem is None else "error"
    if found.problem is not None:
        doc["status_details"] = found.problem
    doc["_format"], doc["_examples"] = found.format, found.examples
    store.put("file", file_id, doc)


def resume_imports(sandbox: Sandbox) -> None:
    """Carry on imports a restart interrupted."""
    for file_id, doc in sandbox.store.items("file"):
        if doc["status"] in ("pending", "running"):
            sandbox.spawn(import_file(sandbox, file_id), f"import {file_id}")

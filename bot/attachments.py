"""Files users attach: find them in an activity and stream their bytes safely.

Teams personal chat sends `application/vnd.microsoft.teams.file.download.info` with a
pre-authenticated `content.downloadUrl`; the Emulator and the Agents Playground send a `contentUrl`
(a URL or a `data:` URL). `file_chunks` refuses an announced size over the limit before reading, and
an HTML page served in place of the file; the dataset store stops a stream that passes the limit.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from botbuilder.schema import Attachment

from infra.datasets import too_large
from infra.errors import UserError

TEAMS_FILE = "application/vnd.microsoft.teams.file.download.info"
CHUNK = 1 << 20
DOWNLOAD_SECONDS = 300.0


@dataclass(frozen=True)
class IncomingFile:
    """An attached file: its name and where to fetch it."""

    name: str
    url: str


def incoming_files(attachments: list[Attachment]) -> list[IncomingFile]:
    """The files among an activity's attachments (cards and message HTML are not files)."""
    files: list[IncomingFile] = []
    for attachment in attachments:
        content = attachment.content if isinstance(attachment.content, dict) else {}
        kind = attachment.content_type or ""
        if kind == TEAMS_FILE and content.get("downloadUrl"):
            files.append(IncomingFile(attachment.name or "file", str(content["downloadUrl"])))
        elif attachment.content_url and not kind.startswith(
            ("application/vnd.microsoft.card", "text/html")
        ):
            files.append(IncomingFile(attachment.name or "file", str(attachment.content_url)))
    return files


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def _not_a_file(file: IncomingFile) -> UserError:
    return UserError(
        f"{file.name} came back as a web page, not the file; attach the .jsonl file itself."
    )


async def file_chunks(
    file: IncomingFile, max_bytes: int, *, seconds: float = DOWNLOAD_SECONDS
) -> AsyncIterator[bytes]:
    """The bytes of an attached file, chunk by chunk; failures are one sentence (UserError)."""
    if file.url.startswith("data:"):
        header, _, payload = file.url.partition(",")
        try:
            data = base64.b64decode(payload) if header.endswith(";base64") else payload.encode()
        except (binascii.Error, ValueError):
            raise UserError(f"I could not read {file.name}: its content is damaged.") from None
        if _looks_like_html(data[:64]):
            raise _not_a_file(file)
        yield data
        return
    timeout = aiohttp.ClientTimeout(total=seconds)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(file.url) as response,
        ):
            if response.status != 200:
                raise UserError(
                    f"I could not download {file.name} (the server answered {response.status}); "
                    "attach it again."
                )
            if (response.content_length or 0) > max_bytes:
                raise too_large(file.name, max_bytes)
            first = True
            async for chunk in response.content.iter_chunked(CHUNK):
                if first and (response.content_type == "text/html" or _looks_like_html(chunk)):
                    raise _not_a_file(file)
                first = False
                yield chunk
    except TimeoutError:
        raise UserError(f"Downloading {file.name} took too long; try again.") from None
    except aiohttp.ClientError:
        raise UserError(f"I could not download {file.name}; attach it again.") from None

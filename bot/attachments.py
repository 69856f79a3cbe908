"""Files in an activity, as the Bot Framework and Teams shape them: which attachments are files,
and whether a channel message refers to files that only Microsoft Graph can read.

Teams personal chat sends `application/vnd.microsoft.teams.file.download.info` with a
pre-authenticated `content.downloadUrl`; the Emulator and the Agents Playground send a `contentUrl`
(a URL or a `data:` URL). Fetching them is infra/downloads.py's.
"""

from __future__ import annotations

import re

from botbuilder.schema import Attachment

from infra.downloads import IncomingFile
from infra.text import file_label

TEAMS_FILE = "application/vnd.microsoft.teams.file.download.info"
REFERENCE = "reference"
"""A file on SharePoint or OneDrive that only Graph can read (channels and group chats)."""


def incoming_files(attachments: list[Attachment]) -> list[IncomingFile]:
    """The files among an activity's attachments (cards and message HTML are not files), their
    names made safe to show (infra.text.file_label)."""
    files: list[IncomingFile] = []
    for attachment in attachments:
        content = attachment.content if isinstance(attachment.content, dict) else {}
        kind = attachment.content_type or ""
        name = file_label(str(attachment.name or "file"))
        if kind == TEAMS_FILE and content.get("downloadUrl"):
            files.append(IncomingFile(name, str(content["downloadUrl"])))
        elif attachment.content_url and not kind.startswith(
            ("application/vnd.microsoft.card", "text/html", REFERENCE)
        ):
            files.append(IncomingFile(name, str(attachment.content_url)))
    return files


_FILE_TAG = re.compile(r"<attachment\s+id=", re.IGNORECASE)


def refers_to_files(text: str | None, attachments: list[Attachment]) -> bool:
    """A channel or group-chat message with files: Teams sends its HTML, where each file is an
    `<attachment id=..>` tag, sometimes with `reference` attachments (the files are on
    SharePoint or OneDrive, reached through Graph)."""
    if any((a.content_type or "") == REFERENCE for a in attachments):
        return True
    html = [str(a.content) for a in attachments if (a.content_type or "") == "text/html"]
    return any(_FILE_TAG.search(part) for part in [text or "", *html])

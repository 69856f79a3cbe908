"""Teams' message size limit, kept on every message the bot sends.

Teams refuses a bot message over about 28 KB (HTTP 413, `MessageSizeTooBig`); its documentation
now says 40 KB of the payload encoded as UTF-16. Every message keeps both: at most `MAX_UTF8`
bytes as UTF-8 and `MAX_UTF16` as UTF-16, measured on the activity's JSON. Long text is split
into several messages on line boundaries (`split_text`); a card message over the limit loses its
inline images first, then its last body elements, and says so (`fit`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botbuilder.schema import Activity

from infra.i18n import n_

log = logging.getLogger(__name__)

MAX_UTF8 = 28_000
MAX_UTF16 = 40_000
ENVELOPE = 4_000
"""Bytes left for what the Connector adds to a message (conversation, sender, recipient...)."""
CARD = "application/vnd.microsoft.card.adaptive"


def sizes(payload: Any) -> tuple[int, int]:
    """(UTF-8 bytes, UTF-16 bytes) of `payload` as JSON."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_plain)
    return len(text.encode("utf-8")), len(text.encode("utf-16-le"))


def _fits(payload: Any, room: int = 0) -> bool:
    utf8, utf16 = sizes(payload)
    return utf8 + room <= MAX_UTF8 - ENVELOPE and utf16 + 2 * room <= MAX_UTF16 - 2 * ENVELOPE


def _plain(value: Any) -> Any:
    """A botbuilder model as JSON (a card's content is usually a dict already)."""
    return value.serialize() if hasattr(value, "serialize") else str(value)


def _payload(activity: Activity) -> dict[str, Any]:
    """What makes an activity large: its text, attachments, entities and channel data. Built by
    hand, as msrest's `serialize` cost 1.5 ms for the help card, a third of a `help` turn."""
    return {
        "text": activity.text,
        "summary": activity.summary,
        "speak": activity.speak,
        "attachments": [
            {"contentType": a.content_type, "contentUrl": a.content_url, "name": a.name}
            | {"content": a.content}
            for a in activity.attachments or []
        ],
        "entities": activity.entities,
        "channelData": activity.channel_data,
        "value": activity.value,
    }


def fits(activity: Activity) -> bool:
    """The activity stays under Teams' message size limit (what the Connector adds to it, and
    the ids and addresses it already has, are within `ENVELOPE`)."""
    return _fits(_payload(activity))


def _text_fits(text: str) -> bool:
    return _fits(text, room=500)


PIECE_CHARS = (MAX_UTF8 - ENVELOPE - 500) // 4
"""A piece of this many characters fits whatever they are (4 bytes each at most)."""


def split_text(text: str) -> list[str]:
    """`text` in parts that each fit in one message, cut between lines where it can be."""
    if _text_fits(text):
        return [text]
    parts: list[str] = []
    current = ""
    for number, whole in enumerate(text.split("\n")):
        pieces = [whole[i : i + PIECE_CHARS] for i in range(0, len(whole), PIECE_CHARS)]
        for index, piece in enumerate(pieces or [""]):
            joint = "\n" if number and not index else ""  # pieces of one line join as they were
            candidate = f"{current}{joint}{piece}"
            if current and not _text_fits(candidate):
                parts.append(current)
                candidate = piece
            current = candidate
    return [*parts, current] if current else parts


def cut_note(dropped: int) -> str:
    """The line a card cut to fit ends with (in the language of the message)."""
    return n_(
        "This card was cut to fit Teams' message size limit: {count} part is not shown.",
        "This card was cut to fit Teams' message size limit: {count} parts are not shown.",
        dropped,
    )


def fit(activity: Activity) -> Activity:
    """The activity, made to fit: text cut, then inline images dropped, then the card's last
    body elements left out with a note saying how many (logged: a builder should not need it)."""
    if fits(activity):
        return activity
    if activity.text and not _text_fits(activity.text):
        activity.text = split_text(activity.text)[0]
    attachments = list(activity.attachments or [])
    if any(a.content_type != CARD for a in attachments):
        activity.attachments = [a for a in attachments if a.content_type == CARD]
        log.warning("a message was over Teams' size limit: its inline images were dropped")
        if fits(activity):
            return activity
    for attachment in activity.attachments or []:
        content = attachment.content
        if attachment.content_type != CARD or not isinstance(content, dict):
            continue
        body = list(content.get("body") or [])
        dropped = 0
        while body and not fits(activity):
            body.pop()
            dropped += 1
            note = {"type": "TextBlock", "text": cut_note(dropped), "wrap": True}
            content["body"] = [*body, {**note, "isSubtle": True}]
        log.warning("a card was over Teams' size limit: %d body element(s) left out", dropped)
    return activity

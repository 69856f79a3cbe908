"""The edge of POST /api/messages: a request body becomes an `Activity`, or one sentence why not.

Checked before anything else runs, so nothing malformed reaches a turn: the body is JSON, an
object, nested at most `MAX_DEPTH` deep; every field the bot reads has its JSON type (`FIELDS`);
`serviceUrl` is there (in local mode: a loopback address, the only place a local channel lives);
botbuilder's own deserialization then succeeds. A refusal is `BadActivity` (HTTP 400).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from botbuilder.schema import Activity

MAX_DEPTH = 64
"""Deepest nesting of objects and arrays accepted (Adaptive Card payloads stay far below)."""

Shape = type | dict[str, Any] | list[Any]
"""A JSON type (str, bool, dict, list), an object with typed fields, or `[item shape]`."""

_ACCOUNT: dict[str, Shape] = {"id": str, "name": str, "aadObjectId": str, "role": str}
_CONVERSATION: dict[str, Shape] = {
    "id": str,
    "name": str,
    "conversationType": str,
    "isGroup": bool,
    "tenantId": str,
    "role": str,
}
_ATTACHMENT: dict[str, Shape] = {
    "contentType": str,
    "contentUrl": str,
    "name": str,
    "thumbnailUrl": str,
}
FIELDS: dict[str, Shape] = {
    "type": str,
    "id": str,
    "serviceUrl": str,
    "channelId": str,
    "timestamp": str,
    "localTimestamp": str,
    "localTimezone": str,
    "locale": str,
    "from": _ACCOUNT,
    "recipient": _ACCOUNT,
    "conversation": _CONVERSATION,
    "text": str,
    "textFormat": str,
    "summary": str,
    "name": str,
    "replyToId": str,
    "action": str,
    "callerId": str,
    "attachmentLayout": str,
    "membersAdded": [_ACCOUNT],
    "membersRemoved": [_ACCOUNT],
    "attachments": [_ATTACHMENT],
    "entities": [dict],
    "channelData": dict,
    "relatesTo": dict,
}
"""The fields botbuilder and the bot read, with the JSON type each must have (null: absent)."""
_REQUIRED_FOR_TURNS = ("from", "recipient")
_CONVERSATION_ID = re.compile(r"[\x20-\x7e]{1,1024}")
"""Channels' conversation ids are printable ASCII (Teams: `a:1...`, `19:...@thread.tacv2`)."""


class BadActivity(Exception):
    """A request body that is not a usable activity; `sentence` says why (HTTP 400)."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def _too_deep(value: object) -> bool:
    """True when `value` nests objects or arrays deeper than MAX_DEPTH (walked without
    recursion, so no input can exhaust the stack)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > MAX_DEPTH:
                    return True
                stack.append((child, depth + 1))
    return False


def _json_type(shape: Shape) -> str:
    if isinstance(shape, dict):
        return "an object"
    if isinstance(shape, list):
        return "a list"
    return {str: "a string", bool: "true or false", dict: "an object"}.get(shape, "a value")


def _check(value: object, shape: Shape, where: str) -> None:
    """Raise BadActivity naming the first field whose JSON type is not `shape`'s."""
    if value is None:
        return
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise BadActivity(f"{where} must be {_json_type(shape)}.")
        for index, item in enumerate(value):
            _check(item, shape[0], f"{where}[{index}]")
        return
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise BadActivity(f"{where} must be {_json_type(shape)}.")
        for key, inner in shape.items():
            _check(value.get(key), inner, f"{where}.{key}")
        return
    if not isinstance(value, shape) or (shape is not bool and isinstance(value, bool)):
        raise BadActivity(f"{where} must be {_json_type(shape)}.")


def is_loopback(url: str) -> bool:
    """True for an http(s) URL whose host is this machine (localhost, 127.0.0.0/8, ::1)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    if parts.scheme not in ("http", "https"):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_service_url(url: str, *, local: bool) -> None:
    if not url:
        raise BadActivity("The activity has no serviceUrl, so I could not answer it.")
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadActivity("The activity's serviceUrl is not an http(s) URL.")
    if local and not is_loopback(url):
        raise BadActivity(
            "Without an app id I only answer channels on this machine: serviceUrl must be a "
            "loopback address."
        )


def read_body(raw: bytes) -> object:
    """The JSON value of a request body (BadActivity when it is not JSON or nests too deep)."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadActivity(f"The body nests deeper than {MAX_DEPTH} levels.") from None
    except ValueError:  # also a body that is not UTF-8
        raise BadActivity("The body is not JSON.") from None
    if _too_deep(value):
        raise BadActivity(f"The body nests deeper than {MAX_DEPTH} levels.")
    return value


def parse_activity(body: object, *, local: bool) -> Activity:
    """The activity a JSON body carries; BadActivity with one sentence when it is not one."""
    if not isinstance(body, Mapping):
        raise BadActivity("The body must be a JSON object (one activity).")
    if _too_deep(body):
        raise BadActivity(f"The body nests deeper than {MAX_DEPTH} levels.")
    _check(body, FIELDS, "activity")
    if not body.get("type"):
        raise BadActivity("The activity has no type.")
    if not isinstance(body.get("conversation"), dict) or not body["conversation"].get("id"):
        raise BadActivity("The activity names no conversation (conversation.id).")
    if not _CONVERSATION_ID.fullmatch(body["conversation"]["id"]):
        # it goes into the Connector's URLs and headers, which take ASCII only
        raise BadActivity("The activity's conversation.id is not a channel's conversation id.")
    for key in _REQUIRED_FOR_TURNS:
        if not isinstance(body.get(key), dict) or not body[key].get("id"):
            raise BadActivity(f"The activity names no {key} ({key}.id).")
    _check_service_url(str(body.get("serviceUrl") or ""), local=local)
    try:
        activity: Activity = Activity().deserialize(dict(body))
    except Exception:  # msrest's DeserializationError, or whatever a value made it raise
        raise BadActivity(
            "The activity could not be read (a timestamp or another field has the wrong form)."
        ) from None
    return activity

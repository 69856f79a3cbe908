"""Teams messages through Graph: a message posted in a channel, as a reply in a channel's thread,
or in a chat, with `reference` attachments (files already in SharePoint or OneDrive), and read
back.

Shapes from Microsoft's Graph documentation: chatmessage-post (Example 4, "Send a message with
file attachment in it": a `reference` attachment's `contentUrl` is the file's `webUrl`, and its id
is the one of the `<attachment id="...">` tag in the body) and chatmessage-get (a message in a
chat, in a channel, a reply). Posting takes a person's delegated token (ChannelMessage.Send,
ChatMessage.Send; the only application permission for it, Teamwork.Migrate.All, is for
migrations); reading takes a member's token or the app's with its resource-specific consent there
(ChannelMessage.Read.Group, ChatMessage.Read.Chat). A file posted in a chat is shared with the
chat's members, as Teams does. Message ids are epoch milliseconds, as Teams' are.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from sandbox.graph import drives, tenant
from sandbox.graph.bodies import json_body
from sandbox.graph.callers import Caller, caller, person
from sandbox.graph.errors import bad_request, forbidden, not_found
from sandbox.service import Sandbox
from sandbox.store import Doc, wire

MESSAGE = "graph-message"
POST_ROLE = "Teamwork.Migrate.All"
CHANNEL_READ = "ChannelMessage.Read.Group, ChannelMessage.Read.All"
CHAT_READ = "ChatMessage.Read.Chat, Chat.Read.All"


def channel_container(team: str, channel: str) -> str:
    """Where a channel's messages are kept."""
    return f"channel|{team.lower()}|{channel}"


def chat_container(chat: str) -> str:
    """Where a chat's messages are kept."""
    return f"chat|{chat}"


def _key(container: str, message: str) -> str:
    return f"{container}|{message}"


def _stamp(milliseconds: int) -> str:
    moment = datetime.fromtimestamp(milliseconds / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_id(sandbox: Sandbox, container: str) -> str:
    """Epoch milliseconds, unique in the channel or chat."""
    number = int(time.time() * 1000)
    while sandbox.store.get(MESSAGE, _key(container, str(number))) is not None:
        number += 1
    return str(number)


def _mention(raw: Any) -> Doc:
    if not isinstance(raw, dict) or not isinstance(raw.get("mentioned"), dict):
        raise bad_request("Each mention has an id, its mentionText and whom it mentions.")
    mentioned = {
        key: raw["mentioned"].get(key) for key in ("application", "device", "conversation", "user")
    }
    return {"id": raw.get("id"), "mentionText": raw.get("mentionText"), "mentioned": mentioned}


def _attachments(sandbox: Sandbox, raw: Any, content: str) -> list[tuple[Doc, Doc | None]]:
    """The message's attachments as Graph keeps them, with the file each `reference` names."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("attachments is a list.")
    found: list[tuple[Doc, Doc | None]] = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise bad_request("Each attachment has an id.")
        tag = re.compile(rf'<attachment\s+id="{re.escape(entry["id"])}"', re.IGNORECASE)
        if not tag.search(content):  # chatmessage-post, Example 3's note
            raise bad_request(
                f"The attachment {entry['id']} is not in the body: add "
                f'<attachment id="{entry["id"]}"></attachment> there.'
            )
        shown = {
            "id": entry["id"],
            "contentType": entry.get("contentType"),
            "contentUrl": entry.get("contentUrl"),
            "content": entry.get("content"),
            "name": entry.get("name"),
            "thumbnailUrl": entry.get("thumbnailUrl"),
        }
        file = None
        if entry.get("contentType") == "reference":
            url = entry.get("contentUrl")
            file = drives.by_web_url(sandbox, url) if isinstance(url, str) else None
            if file is None:
                raise bad_request(
                    f"The file of attachment {entry['id']} was not found: its contentUrl is "
                    "a file's webUrl."
                )
        found.append((shown, file))
    return found


def store_message(
    sandbox: Sandbox,
    container: str,
    root: str,
    user: str,
    body: Doc,
    where: Doc,
    *,
    message_id: str = "",
) -> Doc:
    """Keep a message (a reply when `root` is another message) posted by `user`: `body` is the
    request's chatMessage, `where` its channelIdentity / chatId / webUrl fields."""
    content = body.get("body")
    if not isinstance(content, dict) or not isinstance(content.get("content"), str):
        raise bad_request("A message needs body.content.", "BadRequest")
    kind = content.get("contentType", "text")
    if kind not in ("text", "html"):
        raise bad_request("body.contentType is text or html.", "BadRequest")
    mentions = body.get("mentions") or []
    if not isinstance(mentions, list):
        raise bad_request("mentions is a list.", "BadRequest")
    attachments = _attachments(sandbox, body.get("attachments"), content["content"])
    message_id = message_id or _new_id(sandbox, container)
    stamp = _stamp(int(message_id))
    doc: Doc = {
        "id": message_id,
        "replyToId": root if root and root != message_id else None,
        "etag": message_id,
        "messageType": "message",
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "lastEditedDateTime": None,
        "deletedDateTime": None,
        "subject": body.get("subject"),
        "summary": body.get("summary"),
        "chatId": None,
        "importance": body.get("importance") or "normal",
        "locale": "en-us",
        "webUrl": None,
        "channelIdentity": None,
        "policyViolation": None,
        "eventDetail": None,
        "from": {
            "application": None,
            "device": None,
            "conversation": None,
            "user": {
                "@odata.type": "#microsoft.graph.teamworkUserIdentity",
                "id": user,
                "displayName": tenant.display_name(sandbox, user),
                "userIdentityType": "aadUser",
                "tenantId": tenant.TENANT_ID,
            },
        },
        "body": {"contentType": kind, "content": content["content"]},
        "attachments": [shown for shown, _ in attachments],
        "mentions": [_mention(m) for m in mentions],
        "reactions": [],
        "messageHistory": [],
        "_root": root or message_id,
        "_files": [file["id"] for _, file in attachments if file is not None],
    }
    doc.update(where)
    sandbox.store.put(MESSAGE, _key(container, message_id), doc, parent=container)
    return doc


def channel_where(group: str, channel: str, message: str, root: str) -> Doc:
    """The fields a channel message has: its channelIdentity and its Teams link."""
    link = (
        f"https://teams.microsoft.com/l/message/{quote(channel, safe='')}/{message}?groupId={group}"
        f"&tenantId={tenant.TENANT_ID}&createdTime={message}&parentMessageId={root}"
    )
    return {"channelIdentity": {"teamId": group, "channelId": channel}, "webUrl": link}


def _view(request: web.Request, doc: Doc, entity: str) -> Doc:
    return {"@odata.context": drives.context(request, entity), **wire(doc)}


def _channel_entity(group: str, channel: str, root: str = "") -> str:
    base = f"teams('{group}')/channels('{quote(channel, safe='')}')/messages"
    return f"{base}('{root}')/replies/$entity" if root else f"{base}/$entity"


def _found(sandbox: Sandbox, container: str, message: str, root: str | None) -> Doc:
    """A root message (`root` None) or a reply to `root`; 404 otherwise."""
    doc = sandbox.store.get(MESSAGE, _key(container, message))
    wanted = message if root is None else root
    if doc is None or doc["_root"] != wanted or (root is not None and message == root):
        raise not_found("NotFound", f"Message {message} was not found.")
    return doc


def _may_read(who: Caller, doc: Doc, permissions: str) -> None:
    """A team's or chat's messages: its members read them, the app where it holds consent."""
    if not who.app:
        tenant.require_member(doc, who.user)
    elif not doc["consent"]:
        raise forbidden(permissions)


async def post_channel_message(request: web.Request) -> web.Response:
    """POST /teams/{team-id}/channels/{channel-id}/messages[/{message-id}/replies]."""
    sandbox, who = caller(request)
    user = person(who, POST_ROLE)
    group, channel = request.match_info["team"], request.match_info["channel"]
    team, _ = tenant.channel(sandbox, group, channel)
    tenant.require_member(team, user)
    container = channel_container(group, channel)
    root = request.match_info.get("message", "")
    if root:
        _found(sandbox, container, root, None)
    body = await json_body(request)
    message = _new_id(sandbox, container)
    where = channel_where(team["id"], channel, message, root or message)
    doc = store_message(sandbox, container, root, user, body, where, message_id=message)
    entity = _channel_entity(team["id"], channel, root)
    return web.json_response(_view(request, doc, entity), status=201)


async def post_chat_message(request: web.Request) -> web.Response:
    """POST /chats/{chat-id}/messages: its files are shared with the chat's members."""
    sandbox, who = caller(request)
    user = person(who, POST_ROLE)
    chat = tenant.chat(sandbox, request.match_info["chat"])
    tenant.require_member(chat, user)
    body = await json_body(request)
    doc = store_message(sandbox, chat_container(chat["id"]), "", user, body, {"chatId": chat["id"]})
    for file_id in doc["_files"]:
        file = sandbox.store.get(drives.ITEM, file_id)
        if file is not None:
            drives.share(file, list(chat["members"]))
            sandbox.store.put(drives.ITEM, file_id, file)
    entity = f"chats('{quote(chat['id'], safe='')}')/messages/$entity"
    return web.json_response(_view(request, doc, entity), status=201)


async def get_channel_message(request: web.Request) -> web.Response:
    """GET /teams/{team-id}/channels/{channel-id}/messages/{message-id}[/replies/{reply-id}]."""
    sandbox, who = caller(request)
    group, channel = request.match_info["team"], request.match_info["channel"]
    team, _ = tenant.channel(sandbox, group, channel)
    _may_read(who, team, CHANNEL_READ)
    container = channel_container(group, channel)
    root = request.match_info["message"]
    reply = request.match_info.get("reply")
    doc = _found(sandbox, container, reply or root, root if reply else None)
    entity = _channel_entity(team["id"], channel, root if reply else "")
    return web.json_response(_view(request, doc, entity))


async def get_chat_message(request: web.Request) -> web.Response:
    """GET /chats/{chat-id}/messages/{message-id}."""
    sandbox, who = caller(request)
    chat = tenant.chat(sandbox, request.match_info["chat"])
    _may_read(who, chat, CHAT_READ)
    doc = _found(sandbox, chat_container(chat["id"]), request.match_info["message"], None)
    entity = f"chats('{quote(chat['id'], safe='')}')/messages/$entity"
    return web.json_response(_view(request, doc, entity))

"""The sandbox's own surface for its Microsoft 365 tenant (`{sandbox}/graph/tenant/...`, not
Graph's): declare a team with its channels, a chat, who belongs, whether the bot's app holds
resource-specific consent there, and a message posted in Teams itself.

Teams' client here has ids of its own (sandbox/graph/tenant.py says why), so a tool that posts a
file "in a channel" (`ftbot sandbox post-file`) or a test first declares the team or chat it
uses, with that client's ids. Only the sandbox's access secret itself may do it (its owner).

- `PUT /graph/tenant/teams/{group-id}` `{"displayName", "channels": [{"id", "displayName"}],
  "members": [{"id", "displayName"}], "consent": true}`: the team (its document library, with a
  folder per channel, comes with it); again, it is updated (channels added, members and consent
  replaced).
- `PUT /graph/tenant/chats/{chat-id}` `{"topic", "members", "consent"}`: a group chat.
- `PUT /graph/tenant/teams/{group-id}/channels/{channel-id}/messages/{message-id}`
  `{"from": <member id>, "body": {"contentType", "content"}}`: a message someone posted in that
  Teams client, so that a reply can be posted in its thread through Graph.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.graph import drives, tenant
from sandbox.graph.bodies import json_body
from sandbox.graph.callers import caller
from sandbox.graph.errors import access_denied, bad_request
from sandbox.graph.messages import channel_container, channel_where, store_message
from sandbox.ids import is_guid
from sandbox.service import Sandbox
from sandbox.store import Doc, wire


async def _owner_body(request: web.Request) -> tuple[Sandbox, dict[str, Any]]:
    sandbox, who = caller(request)
    if not who.app:
        raise access_denied("Only the sandbox's access secret declares its tenant.")
    return sandbox, await json_body(request)


def _text(body: dict[str, Any], key: str, default: str = "") -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise bad_request(f"{key} is a string.")
    return value


def _members(body: dict[str, Any]) -> dict[str, str]:
    raw = body.get("members", [])
    if not isinstance(raw, list):
        raise bad_request("members is a list of {id, displayName}.")
    found: dict[str, str] = {}
    for member in raw:
        if not isinstance(member, dict) or not is_guid(str(member.get("id", ""))):
            raise bad_request("Each member has an id, an Entra object id (a GUID).")
        found[str(member["id"]).lower()] = _text(member, "displayName")
    return found


def _consent(body: dict[str, Any]) -> bool:
    value = body.get("consent", True)
    if not isinstance(value, bool):
        raise bad_request("consent is true or false.")
    return value


async def put_team(request: web.Request) -> web.Response:
    """Declare a team, its channels (each with its files folder), members and consent."""
    sandbox, body = await _owner_body(request)
    group = request.match_info["team"].lower()
    if not is_guid(group):
        raise bad_request("A team is named by its Microsoft 365 group id (a GUID).")
    name = _text(body, "displayName", "Sandbox team") or "Sandbox team"
    channels = body.get("channels")
    if not isinstance(channels, list) or not channels:
        raise bad_request("channels lists the team's channels: [{id, displayName}].")
    team: Doc = sandbox.store.get(tenant.TEAM, group) or {"id": group, "channels": {}}
    site = "".join(ch for ch in name if ch.isalnum()) or "team"
    drive = drives.team_drive(sandbox, group, team.get("_site", site))
    for entry in channels:
        if not isinstance(entry, dict) or not _text(entry, "id"):
            raise bad_request("Each channel has an id (its Teams thread id) and a displayName.")
        title = _text(entry, "displayName", "General") or "General"
        known = team["channels"].get(entry["id"])
        folder = (
            known["folder"] if known else drives.folder(sandbox, drive, drive["_root"], title)["id"]
        )
        team["channels"][entry["id"]] = {"id": entry["id"], "displayName": title, "folder": folder}
    team.update(
        {
            "displayName": name,
            "internalId": _text(body, "internalId"),
            "members": _members(body),
            "consent": _consent(body),
            "_site": team.get("_site", site),
            "_drive": drive["id"],
        }
    )
    sandbox.store.put(tenant.TEAM, group, team)
    return web.json_response(wire(team))


async def put_chat(request: web.Request) -> web.Response:
    """Declare a group chat, its members and consent."""
    sandbox, body = await _owner_body(request)
    chat_id = request.match_info["chat"]
    chat: Doc = {
        "id": chat_id,
        "topic": _text(body, "topic") or None,
        "members": _members(body),
        "consent": _consent(body),
    }
    sandbox.store.put(tenant.CHAT, chat_id, chat)
    return web.json_response(wire(chat))


async def put_channel_message(request: web.Request) -> web.Response:
    """Keep a message posted in Teams itself (its id is the Teams client's), as a thread's root."""
    sandbox, body = await _owner_body(request)
    group, channel = request.match_info["team"], request.match_info["channel"]
    team, _ = tenant.channel(sandbox, group, channel)
    message = request.match_info["message"]
    if not message.isdigit():
        raise bad_request("A Teams message id is a number (epoch milliseconds).")
    author = _text(body, "from").lower()
    tenant.require_member(team, author)
    where = channel_where(team["id"], channel, message, message)
    container = channel_container(team["id"], channel)
    doc = store_message(sandbox, container, "", author, body, where, message_id=message)
    return web.json_response(wire(doc))

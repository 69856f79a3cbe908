"""The sandbox's Microsoft 365 tenant: its teams and their channels, its chats, who belongs to
each, and whether the bot's app was granted resource-specific consent there.

In Microsoft 365, Teams and Graph share one store. Here the Teams side is a client of its own (the
Agents Playground, or a test's channel fake) whose ids the sandbox cannot know, so a team, its
channels and a chat exist once declared with the ids that client uses (`PUT /graph/tenant/...`,
sandbox/graph/setup.py). A team is named by its Microsoft 365 group id (Graph's team id), a channel
and a chat by their Teams thread ids. `consent` is the sandbox setting "the app was installed
there with its resource-specific permissions granted" (`ChannelMessage.Read.Group`,
`File.Read.Group` in a team, `ChatMessage.Read.Chat` in a chat): without it the app's token reads
no message there (403), as on Microsoft 365 when the owner did not grant them.
"""

from __future__ import annotations

from sandbox.graph.errors import access_denied, not_found
from sandbox.service import Sandbox
from sandbox.store import Doc

TEAM = "graph-team"
CHAT = "graph-chat"
TENANT_ID = "00000000-0000-0000-0000-00000000c0de"
"""The tenant every Graph object of the sandbox belongs to (`tenantId` in its answers)."""


def team(sandbox: Sandbox, group: str) -> Doc:
    """A team by its group id; 404 in Graph's words when there is none."""
    doc = sandbox.store.get(TEAM, group.lower())
    if doc is None:
        raise not_found("NotFound", f"No team found with Group Id {group}")
    return doc


def channel(sandbox: Sandbox, group: str, channel_id: str) -> tuple[Doc, Doc]:
    """A team and one of its channels; 404 when either is unknown."""
    found = team(sandbox, group)
    entry = found["channels"].get(channel_id)
    if entry is None:
        raise not_found("NotFound", f"Channel {channel_id} was not found in team {group}.")
    return found, entry


def chat(sandbox: Sandbox, chat_id: str) -> Doc:
    """A chat by its id; 404 when there is none."""
    doc = sandbox.store.get(CHAT, chat_id)
    if doc is None:
        raise not_found("NotFound", f"Chat {chat_id} was not found.")
    return doc


def require_member(doc: Doc, user: str) -> None:
    """A person may act in a team or chat only as one of its members (403 otherwise)."""
    if user not in doc["members"]:
        raise access_denied("The caller is not a member of this team or chat.")


def display_name(sandbox: Sandbox, user: str) -> str:
    """What a person is called, from any team or chat that names them ('' when none does)."""
    for kind in (TEAM, CHAT):
        for doc in sandbox.store.docs(kind):
            if name := doc["members"].get(user):
                return str(name)
    return ""

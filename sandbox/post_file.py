"""`ftbot sandbox post-file`: put a file "in a channel" (or a group chat) offline, as a person does
in Teams, and show what the bot answers in a running Agents Playground.

Teams hands a bot the files of a channel or group chat only through Microsoft Graph, and neither
the Bot Framework Emulator nor the Agents Playground has a Graph; the sandbox's stand-in does. So
this tool, for the Playground's team (or group chat) and signed-in user:

1. declares them in the sandbox's tenant (`/graph/tenant`, with the Playground's ids);
2. uploads the file through Graph as that person: to the channel's `filesFolder`, or to their
   OneDrive for a chat; files over 4 MiB go in an upload session, in fragments of 10 MiB;
3. posts the message that refers to it (`@<bot> validate` and a `reference` attachment) with the
   person's delegated token, as the Teams client does;
4. delivers the activity Teams sends the bot for that message: its text and HTML, the mention,
   `channelData` with the team's id and group id and the channel, the message id as the activity
   id, through the Playground's custom-activity endpoint; then prints the bot's answers from the
   Playground's stream.

The Playground knows only the threads it started, so a new post's activity names the channel
itself (Teams names the new thread, `<channel>;messageid=<id>`; the bot reads both alike), and
`reply_to` must be a message posted in the Playground: it is copied into the sandbox's Graph so
that the reply can be posted in its thread there. Steps 1-3 and the activity are functions of
their own, which the tests use with their channel fake instead of the Playground.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from sandbox import SandboxError
from sandbox.contract import GRAPH, token
from sandbox.ids import is_guid

Json = dict[str, Any]
SIMPLE_UPLOAD = 4 * 1024 * 1024
"""Files up to this size go in one request; larger ones in an upload session (as Graph's SDKs
do)."""
FRAGMENT = 32 * 320 * 1024
"""An upload session's fragment: 10 MiB, a multiple of 320 KiB as Graph requires."""
TIMEOUT = aiohttp.ClientTimeout(total=300)


class GraphFailed(SandboxError):
    """The sandbox's Graph refused a step: one sentence with its status and Graph's message."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status


def person_id(object_id: str) -> str:
    """An Entra object id as a GUID: the Playground's ids are GUID-shaped but one digit long, so
    those get a stable GUID of their own."""
    if is_guid(object_id):
        return str(uuid.UUID(object_id))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"playground-user:{object_id}"))


@dataclass(frozen=True)
class Person:
    """Someone in the tenant: their object id and name."""

    id: str
    name: str


@dataclass(frozen=True)
class Channel:
    """A team's channel, by the ids Teams and Graph use."""

    team: str
    """Teams' id of the team (`channelData.team.id`)."""
    group: str
    """The team's Microsoft 365 group id: Graph's team id."""
    id: str
    name: str
    team_name: str = "Sandbox team"


@dataclass(frozen=True)
class Posted:
    """A message posted through Graph with files: its id, the thread's root, the HTML Teams gives
    a bot for it, and the files' driveItems."""

    message: str
    root: str
    html: str
    files: list[Json]


class GraphClient:
    """The sandbox's Graph, as a person (`as_person`) or as the sandbox's owner (the tenant)."""

    def __init__(self, session: aiohttp.ClientSession, sandbox_url: str, secret: str) -> None:
        self.session = session
        self.root = sandbox_url.rstrip("/")
        self.secret = secret

    async def call(
        self, method: str, path: str, user: str = "", *, body: Any = None, data: bytes | None = None
    ) -> Json:
        """One Graph request (a tenant one when `path` starts with `/graph/tenant`); its JSON."""
        url = path if path.startswith("http") else f"{self.root}{path}"
        headers = {"Authorization": f"Bearer {token(self.secret, user)}"}
        try:
            async with self.session.request(
                method, url, json=body, data=data, headers=headers, allow_redirects=False
            ) as response:
                return await _answer(response, f"{method} {path.split('?')[0]}")
        except aiohttp.ClientConnectionError as error:
            raise SandboxError(
                f"no sandbox answers at {self.root} ({type(error).__name__}): start the bot "
                "(`ftbot run`) or the sandbox (`ftbot sandbox`) with the same SANDBOX_ARM_TOKEN"
            ) from None

    async def declare_team(
        self, channel: Channel, members: list[Person], *, consent: bool = True
    ) -> Json:
        """The team and channel in the sandbox's tenant."""
        body = {
            "displayName": channel.team_name,
            "internalId": channel.team,
            "channels": [{"id": channel.id, "displayName": channel.name}],
            "members": [{"id": m.id, "displayName": m.name} for m in members],
            "consent": consent,
        }
        return await self.call("PUT", f"/graph/tenant/teams/{channel.group}", body=body)

    async def declare_chat(self, chat: str, members: list[Person], *, consent: bool = True) -> Json:
        """The group chat in the sandbox's tenant."""
        body = {
            "members": [{"id": m.id, "displayName": m.name} for m in members],
            "consent": consent,
        }
        return await self.call("PUT", f"/graph/tenant/chats/{_segment(chat)}", body=body)

    async def upload(self, user: str, drive: str, folder: str, path: Path) -> Json:
        """Upload a file into a folder as `user`: in one request, or in an upload session."""
        name = quote(path.name, safe="")
        where = f"{GRAPH}/drives/{drive}/items/{folder}:/{name}:"
        size = (await asyncio.to_thread(path.stat)).st_size
        if size <= SIMPLE_UPLOAD:
            content = await asyncio.to_thread(path.read_bytes)
            return await self.call("PUT", f"{where}/content", user, data=content)
        item = {"@microsoft.graph.conflictBehavior": "replace", "name": path.name}
        created = await self.call("POST", f"{where}/createUploadSession", user, body={"item": item})
        upload_url = str(created["uploadUrl"])
        answer: Json = {}
        with path.open("rb") as source:
            for first in range(0, size, FRAGMENT):
                chunk = await asyncio.to_thread(source.read, FRAGMENT)
                last = first + len(chunk) - 1
                headers = {"Content-Range": f"bytes {first}-{last}/{size}"}
                async with self.session.put(upload_url, data=chunk, headers=headers) as response:
                    answer = await _answer(response, "PUT uploadUrl")  # no Authorization here
        return answer

    async def post(self, user: str, path: str, body: Json) -> Json:
        """Post a chatMessage as `user` (Graph takes posts only with a delegated token)."""
        return await self.call("POST", f"{GRAPH}{path}", user, body=body)


async def _answer(response: aiohttp.ClientResponse, what: str) -> Json:
    text = await response.text()
    if response.status >= 300:
        try:
            error = json.loads(text)["error"]
            said = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            said = text[:200]
        raise GraphFailed(
            response.status, f"the sandbox's Graph answered {what} with {response.status} ({said})"
        )
    found: Json = json.loads(text) if text else {}
    return found


def _segment(value: str) -> str:
    return quote(value, safe="")


def _attachment_id(item: Json) -> str:
    """A file attachment's id is the GUID in the driveItem's eTag (chatmessage-post, Example 4)."""
    found = re.search(r"\{([0-9A-Fa-f-]{36})\}", str(item.get("eTag", "")))
    return found.group(1) if found else str(uuid.uuid4())


def file_message(items: list[Json], bot: Person, text: str) -> tuple[Json, str]:
    """The chatMessage that mentions the bot and refers to the uploaded files, and the HTML Teams
    gives the bot for it."""
    ids = [_attachment_id(item) for item in items]
    tags = "".join(f'<attachment id="{attachment}"></attachment>' for attachment in ids)
    body = {
        "body": {"contentType": "html", "content": f'<at id="0">{bot.name}</at> {text} {tags}'},
        "mentions": [
            {
                "id": 0,
                "mentionText": bot.name,
                "mentioned": {
                    "application": {
                        "@odata.type": "#microsoft.graph.teamworkApplicationIdentity",
                        "id": bot.id,
                        "displayName": bot.name,
                        "applicationIdentityType": "bot",
                    }
                },
            }
        ],
        "attachments": [
            {
                "id": attachment,
                "contentType": "reference",
                "contentUrl": item["webUrl"],
                "name": item["name"],
            }
            for attachment, item in zip(ids, items, strict=True)
        ],
    }
    return body, f"<p><at>{bot.name}</at> {text}</p>{tags}"


async def post_in_channel(
    graph: GraphClient,
    user: Person,
    channel: Channel,
    paths: list[Path],
    bot: Person,
    *,
    reply_to: str = "",
    text: str = "validate",
) -> Posted:
    """Upload the files to the channel's files folder and post them there (a reply in the thread
    of `reply_to` when given), as `user`."""
    team = f"/teams/{channel.group}/channels/{_segment(channel.id)}"
    folder = await graph.call("GET", f"{GRAPH}{team}/filesFolder", user.id)
    drive = folder["parentReference"]["driveId"]
    items = [await graph.upload(user.id, drive, folder["id"], path) for path in paths]
    body, html = file_message(items, bot, text)
    where = f"{team}/messages/{reply_to}/replies" if reply_to else f"{team}/messages"
    message = await graph.post(user.id, where, body)
    return Posted(str(message["id"]), reply_to or str(message["id"]), html, items)


async def post_in_chat(
    graph: GraphClient,
    user: Person,
    chat: str,
    paths: list[Path],
    bot: Person,
    *,
    text: str = "validate",
) -> Posted:
    """Upload the files to the person's OneDrive and post them in the group chat, as `user`."""
    drive = await graph.call("GET", f"{GRAPH}/me/drive", user.id)
    items = [await graph.upload(user.id, str(drive["id"]), "root", path) for path in paths]
    body, html = file_message(items, bot, text)
    message = await graph.post(user.id, f"/chats/{_segment(chat)}/messages", body)
    return Posted(str(message["id"]), str(message["id"]), html, items)


def thread_id(channel: str, root: str) -> str:
    """The conversation id of a channel thread, as Teams names it."""
    return f"{channel};messageid={root}"


def activity_fields(
    posted: Posted,
    bot: Person,
    conversation: Json,
    channel_data: Json,
    *,
    text: str = "validate",
) -> Json:
    """What Teams sends a bot for a message that mentions it (the rest of the activity, `from`,
    `recipient`, `serviceUrl`, `channelId`, comes from the client that delivers it): the text
    with the mention, the message's HTML (where its files are `<attachment>` tags), the message
    id as the activity id."""
    mention = f"<at>{bot.name}</at>"
    return {
        "type": "message",
        "id": posted.message,
        "text": f"{mention} {text}",
        "textFormat": "plain",
        "attachments": [{"contentType": "text/html", "content": posted.html}],
        "entities": [
            {"type": "mention", "mentioned": {"id": bot.id, "name": bot.name}, "text": mention}
        ],
        "conversation": conversation,
        "channelData": channel_data,
    }


def channel_data(channel: Channel, tenant: str) -> Json:
    """Teams' channelData of a channel message."""
    return {
        "team": {"id": channel.team, "aadGroupId": channel.group, "name": channel.team_name},
        "channel": {"id": channel.id, "name": channel.name},
        "tenant": {"id": tenant},
    }


# -- the Agents Playground ------------------------------------------------------------------------


class Playground:
    """A running Agents Playground (docs/playground.md): its configuration, the custom-activity
    endpoint, and the stream of what the bot posts."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self.config: Json = {}

    async def load(self) -> None:
        """Read the configuration: tenant, bot, signed-in user, chats, teams."""
        try:
            async with self.session.get(f"{self.url}/_internal/v1/config") as response:
                self.config = (await response.json())["config"]
        except (aiohttp.ClientError, ValueError, KeyError) as error:
            raise SandboxError(
                f"no Agents Playground answers at {self.url} ({type(error).__name__}); start it "
                '(README, "Talk to it") or give its address with --playground'
            ) from None

    def person(self, user_id: str) -> Person:
        """A Playground user as a person of the sandbox's tenant."""
        users = [self.config["currentUser"], *self.config.get("users", [])]
        found = next(u for u in users if u["id"] == user_id)
        return Person(person_id(str(found.get("aadObjectId") or found["id"])), str(found["name"]))

    @property
    def me(self) -> Person:
        """The signed-in user, who posts."""
        return self.person(str(self.config["currentUser"]["id"]))

    @property
    def bot(self) -> Person:
        return Person(str(self.config["bot"]["id"]), str(self.config["bot"]["name"]))

    def channel(self, team: str = "", channel: str = "") -> Channel:
        """A team's channel by id or name (by default the first team's first channel)."""
        teams = self.config.get("teams") or []
        found = next((t for t in teams if team in ("", t["id"], t.get("name"))), None)
        if found is None:
            raise SandboxError(f"the Playground has no team {team!r}")
        entry = next(
            (c for c in found["channels"] if channel in ("", c["id"], c.get("name"))), None
        )
        if entry is None:
            raise SandboxError(f"the Playground's team {found['name']} has no channel {channel!r}")
        group = str(found.get("aadGroupId") or "")
        group = group if is_guid(group) else person_id(f"team:{found['id']}")
        return Channel(found["id"], group, entry["id"], entry["name"], found.get("name", "Team"))

    def chat(self, chat: str = "") -> tuple[str, str, list[Person]]:
        """A group chat by id or name (by default the first): its id, name and members."""
        found = next(
            (c for c in self.config.get("groupChats") or [] if chat in ("", c["id"], c["name"])),
            None,
        )
        if found is None:
            raise SandboxError(f"the Playground has no group chat {chat!r}")
        members = [self.person(m) for m in found.get("members", [])]
        return str(found["id"]), str(found.get("name") or found["id"]), members

    def members(self, team: str) -> list[Person]:
        """A team's members."""
        found = next(t for t in self.config["teams"] if t["id"] == team)
        return [self.person(m) for m in found.get("members", [])]

    async def template(self, conversation: str) -> Json | None:
        """The Playground's activity template for a conversation; None when it has no such one."""
        async with self.session.get(
            f"{self.url}/_internal/v1/customActivities/template",
            params={"conversationId": conversation},
        ) as response:
            if response.status != 200:
                return None
            found: Json = await response.json()
            return found

    async def deliver(self, activity: Json) -> None:
        """Send an activity to the bot as the Playground's client does (POST customActivities)."""
        async with self.session.post(
            f"{self.url}/_internal/v1/customActivities", json=activity
        ) as response:
            if response.status >= 300:
                raise SandboxError(f"the Playground refused the activity ({response.status})")

    async def stream(self) -> aiohttp.ClientWebSocketResponse:
        """The stream of what the bot posts and updates."""
        return await self.session.ws_connect(
            f"{self.url}/_ws_conversation/v1/conversations/stream", heartbeat=30
        )


def card_lines(message: Json) -> Iterator[str]:
    """A bot message as lines of text: its text, then its cards' texts and buttons."""
    if message.get("text"):
        yield str(message["text"])

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if node.get("type") == "Table":  # a row a line
                for row in node.get("rows") or []:
                    yield " | ".join(" ".join(walk(cell)) for cell in row.get("cells") or [])
                return
            if node.get("type") == "FactSet":
                for fact in node.get("facts") or []:
                    yield f"{fact.get('title')}: {fact.get('value')}"
                return
            if node.get("type") == "TextBlock" and node.get("text"):
                yield str(node["text"])
            elif str(node.get("type", "")).startswith("Action.") and node.get("title"):
                yield f"[{node['title']}]"
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for attachment in message.get("attachments") or []:
        yield from walk(attachment.get("content"))


async def bot_answers(
    ws: aiohttp.ClientWebSocketResponse, bot: str, where: str, *, quiet: float, within: float
) -> AsyncGenerator[Json]:
    """The bot's messages and updates in the conversations starting with `where`, until it has
    been quiet for `quiet` seconds after its first one (or `within` seconds have passed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    heard = False
    while True:
        left = deadline - loop.time()
        if left <= 0:
            return
        try:
            frame = await asyncio.wait_for(ws.receive(), min(left, quiet) if heard else left)
        except TimeoutError:
            return
        if frame.type != aiohttp.WSMsgType.TEXT:
            return
        event = json.loads(frame.data)
        message = event.get("message") or {}
        if (
            event.get("action") in ("createMessage", "updateMessage")
            and (message.get("from") or {}).get("id") == bot
            and str(event.get("actionConversationId", "")).startswith(where)
        ):
            heard = True
            yield {"action": event["action"], **message}


@dataclass(frozen=True)
class Request:
    """What `ftbot sandbox post-file` was asked."""

    files: list[Path]
    playground: str
    team: str = ""
    channel: str = ""
    chat: str | None = None
    """None: a channel; '' the Playground's first group chat; else a group chat's id or name."""
    reply_to: str = ""
    text: str = "validate"
    consent: bool = True
    within: float = 60.0
    """How long to wait for the bot's first answer."""
    quiet: float = 5.0
    """After it, how long the bot may be quiet before the answer is taken as complete."""


async def post_activity(
    request: Request, playground: Playground, graph: GraphClient
) -> tuple[str, Json]:
    """Steps 1-3: declare, upload and post; the line that says what was posted, and Teams'
    activity for the message (to deliver through the Playground)."""
    me, bot = playground.me, playground.bot
    tenant = str(playground.config.get("tenantId") or "")
    if request.chat is not None:
        chat, where, members = playground.chat(request.chat)
        await graph.declare_chat(chat, [me, *members], consent=request.consent)
        conversation_id, kind = chat, "groupChat"
        posted = await post_in_chat(graph, me, chat, request.files, bot, text=request.text)
        data: Json = {"tenant": {"id": tenant}}
    else:
        channel = playground.channel(request.team, request.channel)
        members = playground.members(channel.team)
        await graph.declare_team(channel, [me, *members], consent=request.consent)
        where = f"{channel.team_name} > {channel.name}"
        conversation_id, kind = channel.id, "channel"
        if request.reply_to:
            conversation_id = thread_id(channel.id, request.reply_to)
            if await playground.template(conversation_id) is None:
                raise SandboxError(
                    f"the Playground has no thread {request.reply_to} in {where}: reply to a "
                    "message posted there (its id is the messageid in the thread's link)"
                )
            await _copy_root(graph, channel, request.reply_to, me)
        posted = await post_in_channel(
            graph, me, channel, request.files, bot, reply_to=request.reply_to, text=request.text
        )
        data = channel_data(channel, tenant)
    template = await playground.template(conversation_id)
    if template is None:
        raise SandboxError(f"the Playground has no conversation {conversation_id}")
    conversation = {
        **template["conversation"],
        "id": conversation_id,
        "conversationType": kind,
        "tenantId": tenant,
    }
    activity = {**template, **activity_fields(posted, bot, conversation, data, text=request.text)}
    names = ", ".join(path.name for path in request.files)
    return f"Posted {names} in {where} as {me.name}: message {posted.message}.", activity


async def post_file(request: Request, sandbox_url: str, secret: str) -> AsyncGenerator[str]:
    """Do it all (the module's steps 1-4): the lines to print, each as soon as it is known."""
    for path in request.files:
        if not await asyncio.to_thread(path.is_file):
            raise SandboxError(f"{path} is not a file")
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        playground = Playground(session, request.playground)
        await playground.load()
        graph = GraphClient(session, sandbox_url, secret)
        said, activity = await post_activity(request, playground, graph)
        yield said
        bot = playground.bot
        async with await playground.stream() as ws:
            await playground.deliver(activity)
            heard = False
            where = str(activity["conversation"]["id"]).split(";")[0]
            answers = bot_answers(ws, bot.id, where, quiet=request.quiet, within=request.within)
            async with contextlib.aclosing(answers):
                async for answer in answers:
                    heard = True
                    verb = "updated" if answer["action"] == "updateMessage" else "said"
                    yield f"{bot.name} {verb}:"
                    for line in card_lines(answer):
                        yield f"  {line}"
            if not heard:
                yield f"{bot.name} said nothing within {request.within:g} s."


async def _copy_root(graph: GraphClient, channel: Channel, root: str, author: Person) -> None:
    """Keep the Playground's message `root` in the sandbox's Graph (if it is not there yet), so
    that a reply can be posted in its thread."""
    path = f"{GRAPH}/teams/{channel.group}/channels/{_segment(channel.id)}/messages/{root}"
    try:
        await graph.call("GET", path, author.id)
    except GraphFailed as failed:
        if failed.status != 404:
            raise
        body = {
            "from": author.id,
            "body": {"contentType": "text", "content": "(in the Playground)"},
        }
        await graph.call(
            "PUT",
            f"/graph/tenant/teams/{channel.group}/channels/{_segment(channel.id)}/messages/{root}",
            body=body,
        )

"""A channel fake: a local server playing the Bot Connector API at the activity's serviceUrl.

Tests POST real activities into the bot's /api/messages, as the Bot Framework Emulator does; the
bot answers through the Connector API, which this server records (posts and in-place updates). It
also serves attachment files, as the Emulator's and Teams' download URLs do.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from adaptive_cards.common import FACT_TITLE_WIDTH
from infra import i18n

Activity = dict[str, Any]
Predicate = Callable[[Activity], bool]


THREAD = "19:abc@thread.tacv2;messageid=1"
"""A Teams channel thread's conversation id (the notifier fixture remembers it)."""


class ChannelFake:
    """Records what the bot sends; `conversation()` opens a chat with the bot."""

    def __init__(self) -> None:
        self.sent: list[Activity] = []  # every activity the bot posted or updated, in order
        self.files: dict[str, tuple[bytes, str]] = {}
        self.redirects: dict[str, str] = {}
        self.held: asyncio.Event | None = None  # set: held downloads go on (see `hold_files`)
        self.downloading = asyncio.Event()  # a held download has started
        self.uploads: dict[str, bytes] = {}  # files the bot uploaded (Teams file consent)
        self.failures: list[tuple[int, dict[str, str]]] = []  # (status, headers) for next calls
        self.refused: list[Activity] = []  # what `refuse` refused, in order
        self.calls = 0
        self._refusals: list[_Refusal] = []
        self._holds: list[tuple[Predicate, asyncio.Event]] = []
        self.peers: set[tuple[str, int]] = set()  # the bot's TCP connections (address, port)
        self.members: dict[str, dict[str, Any]] = {}  # Teams member lookup: user id -> member
        self.teams: dict[str, str] = {}  # Teams team id -> its Microsoft 365 group id
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1:`port` (0: a free one)."""
        app = web.Application(client_max_size=1024**3)
        app.router.add_post("/v3/conversations/{cid}/activities", self._post)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._post)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._put)
        app.router.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_get("/redirect/{name}", self._redirect)
        app.router.add_put("/upload/{name}", self._upload)
        app.router.add_get("/v3/teams/{team}", self._team)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def serve_file(
        self, name: str, content: bytes, content_type: str = "application/octet-stream"
    ) -> str:
        """Make `content` downloadable; returns its URL."""
        self.files[name] = (content, content_type)
        return f"{self.url}/files/{name}"

    def serve_redirect(self, name: str, target: str) -> str:
        """A URL that answers 302 to `target`; returns it."""
        self.redirects[name] = target
        return f"{self.url}/redirect/{name}"

    async def _team(self, request: web.Request) -> web.Response:
        """Teams' team details (TeamsInfo.get_team_details): the group id behind a team."""
        team = request.match_info["team"]
        if team not in self.teams:
            raise web.HTTPNotFound()
        return web.json_response({"id": team, "name": "Lab team", "aadGroupId": self.teams[team]})

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        target = self.redirects.get(request.match_info["name"])
        if target is None:
            raise web.HTTPNotFound()
        raise web.HTTPFound(target)

    def refuse(
        self,
        predicate: Predicate,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` posts or updates that match `predicate` with `status`, whenever
        they come (each one refused is kept in `refused`)."""
        self._refusals.append(_Refusal(predicate, status, headers or {}, times))

    def hold(self, predicate: Predicate) -> asyncio.Event:
        """Record each post or update that matches `predicate` at once (the user sees it), but
        answer the bot's request only once the returned event is set."""
        release = asyncio.Event()
        self._holds.append((predicate, release))
        return release

    def _failure(self, request: web.Request, activity: Activity) -> web.Response | None:
        self.calls += 1
        if request.transport is not None:
            self.peers.add(request.transport.get_extra_info("peername"))
        body = {"error": {"code": "Throttled", "message": "injected by the test"}}
        for refusal in self._refusals:
            if refusal.times > 0 and refusal.predicate(activity):
                refusal.times -= 1
                self.refused.append(activity)
                return web.json_response(body, status=refusal.status, headers=refusal.headers)
        if not self.failures:
            return None
        status, headers = self.failures.pop(0)
        return web.json_response(body, status=status, headers=headers)

    async def _record(self, activity: Activity) -> None:
        async with self._changed:
            self.sent.append(activity)
            self._changed.notify_all()

    async def _received(self, request: web.Request, op: str) -> web.Response:
        activity = await request.json()
        activity["id"] = f"bot-{next(self._ids)}" if op == "post" else request.match_info["aid"]
        activity["_op"] = op
        activity["_authorization"] = request.headers.get("Authorization")
        activity["_conversation"] = request.match_info["cid"]
        if (failure := self._failure(request, activity)) is not None:
            return failure
        await self._record(activity)
        for predicate, release in self._holds:
            if predicate(activity):  # the user may see, and press, the card meanwhile
                await release.wait()
        return web.json_response({"id": activity["id"]})

    async def _post(self, request: web.Request) -> web.Response:
        return await self._received(request, "post")

    async def _put(self, request: web.Request) -> web.Response:
        return await self._received(request, "update")

    def add_member(self, user_id: str, name: str, aad_object_id: str) -> dict[str, Any]:
        """A person the member lookup knows; returns the mention entity that names them."""
        self.members[user_id] = {"id": user_id, "name": name, "aadObjectId": aad_object_id}
        return {
            "type": "mention",
            "mentioned": {"id": user_id, "name": name},
            "text": f"<at>{name}</at>",
        }

    async def _member(self, request: web.Request) -> web.Response:
        """GET /v3/conversations/{cid}/members/{mid}, as Teams answers TeamsInfo.get_member."""
        member = self.members.get(request.match_info["mid"])
        if member is None:
            body = {"error": {"code": "MemberNotFoundInConversation", "message": "not found"}}
            return web.json_response(body, status=404)
        return web.json_response(member)

    async def _upload(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Range") != f"bytes 0-{len(body) - 1}/{len(body)}":
            return web.Response(status=400, text="Content-Range must cover the whole file")
        self.uploads[request.match_info["name"]] = body
        return web.json_response({"id": request.match_info["name"]}, status=201)

    def hold_files(self) -> asyncio.Event:
        """Make downloads slow on purpose: each sends its first bytes, then waits until the
        returned event is set."""
        self.held = asyncio.Event()
        self.downloading.clear()
        return self.held

    async def _file(self, request: web.Request) -> web.StreamResponse:
        found = self.files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        content, content_type = found
        if self.held is None:
            return web.Response(body=content, content_type=content_type)
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.content_length = len(content)
        await response.prepare(request)
        await response.write(content[:1])
        self.downloading.set()
        await self.held.wait()
        await response.write(content[1:])
        await response.write_eof()
        return response

    async def wait_for(
        self, predicate: Predicate, start: int = 0, seconds: float = 10.0
    ) -> Activity:
        """The first recorded activity from index `start` on that matches `predicate`."""

        def found() -> Activity | None:
            return next((a for a in self.sent[start:] if predicate(a)), None)

        async with self._changed:
            match = await asyncio.wait_for(self._changed.wait_for(found), seconds)
        assert match is not None
        return match


@dataclass
class _Refusal:
    predicate: Predicate
    status: int
    headers: dict[str, str]
    times: int


class Conversation:
    """One user talking to the bot in one conversation, through the channel fake."""

    def __init__(
        self,
        bot_url: str,
        channel: ChannelFake,
        session: aiohttp.ClientSession,
        *,
        conversation_type: str = "personal",
        channel_id: str = "emulator",
        user_id: str = "user-1",
        aad_object_id: str | None = None,
        user_name: str = "Test User",
        team_id: str | None = None,
    ) -> None:
        self.bot_url = bot_url
        self.channel = channel
        self.session = session
        self.id = f"conv-{uuid.uuid4().hex[:12]}"
        self.conversation_type = conversation_type
        self.channel_id = channel_id
        self.user = {"id": user_id, "name": user_name}
        self.team_id = team_id
        if aad_object_id:
            self.user["aadObjectId"] = aad_object_id
        self.bot = {"id": "bot-1", "name": "FineTuneBot"}
        self.headers: dict[str, str] = {}  # sent with every post (Authorization, with an app id)
        self.mark = 0  # how many activities the channel had recorded before the last post
        self.last = ""  # the id of the activity posted last, if answers to it carry it

    def activity(self, **fields: Any) -> Activity:
        """A complete incoming activity in this conversation."""
        return {
            "type": "message",
            "id": uuid.uuid4().hex,
            "channelId": self.channel_id,
            "serviceUrl": self.channel.url,
            "from": self.user,
            "recipient": self.bot,
            "conversation": {"id": self.id, "conversationType": self.conversation_type},
            **({"channelData": {"team": {"id": self.team_id}}} if self.team_id else {}),
            **fields,
        }

    async def post(self, activity: Activity) -> aiohttp.ClientResponse:
        """POST an activity to the bot; the response is read and released."""
        self.mark = len(self.channel.sent)
        # botbuilder's answers carry the incoming id as replyToId, except to a conversationUpdate
        answered = activity.get("type") != "conversationUpdate"
        self.last = str(activity.get("id") or "") if answered else ""
        url = f"{self.bot_url}/api/messages"
        async with self.session.post(url, json=activity, headers=self.headers) as response:
            await response.read()
            return response

    async def say(self, text: str, answer: Predicate | None = None, **fields: Any) -> Activity:
        """Send a message and return the bot's first answer to it (see `reply`), or the first
        activity since that matches `answer`."""
        response = await self.post(self.activity(text=text, **fields))
        assert response.status in (200, 201), response.status
        return await self.reply(answer)

    async def checked(self, text: str, seconds: float = 30.0, **fields: Any) -> Activity:
        """Send files (or press Validate) and return how the check ends: the "Checking your
        files..." card's last state, or the answer when no check started."""
        first = await self.say(text, **fields)
        if not is_checking(first):
            return first
        return await self.reply(
            lambda a: a["id"] == first["id"] and a["_op"] == "update" and not is_checking(a),
            seconds,
        )

    async def reply(self, predicate: Predicate | None = None, seconds: float = 10.0) -> Activity:
        """The first activity the bot sent in this conversation since the last post that matches
        `predicate`; without one, the bot's first answer to the activity posted last: one that
        replies to it (not a card update a background task or another turn sent meanwhile), or
        the "Checking your files..." card a `validate` starts (its workflow posts it through
        Notify, not as a reply)."""
        last = self.last

        def wanted(activity: Activity) -> bool:
            if predicate is None:
                answer = activity.get("replyToId") == last
                started = activity["_op"] == "post" and is_checking(activity)
                return not last or answer or started
            return predicate(activity)

        return await self.channel.wait_for(
            lambda a: a["_conversation"] == self.id and wanted(a),
            start=self.mark,
            seconds=seconds,
        )

    async def press(self, card: Activity, title: str, **fields: Any) -> Activity:
        """Press a button on a card the bot sent, as Teams does (Action.Submit: a message whose
        value is the button's data, replyToId the card's id); returns the activity posted."""
        activity = self.activity(value=button(card, title), replyToId=card["id"], **fields)
        response = await self.post(activity)
        assert response.status in (200, 201), response.status
        return activity

    def replies(self) -> list[Activity]:
        """Everything the bot sent in this conversation so far."""
        return [a for a in self.channel.sent if a["_conversation"] == self.id]


def _checking_titles() -> tuple[str, ...]:
    titles = []
    for language in i18n.LANGUAGES:
        with i18n.use(language):
            titles.append(i18n._("Checking your files..."))
    return tuple(titles)


_CHECKING = _checking_titles()


def is_checking(activity: Activity) -> bool:
    """The card a check shows while files are fetched or validated, in any language."""
    shown = card_text(activity)
    return any(title in shown for title in _CHECKING)


def card_of(activity: Activity) -> dict[str, Any]:
    """The Adaptive Card an activity carries (the first one)."""
    for attachment in activity.get("attachments") or []:
        if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
            content: dict[str, Any] = attachment["content"]
            return content
    raise AssertionError(f"no Adaptive Card in {activity}")


def _objects(activity: Activity) -> Iterator[dict[str, Any]]:
    """Every JSON object inside an activity's attachments, in document order."""

    for attachment in activity.get("attachments") or []:
        yield from nodes(attachment.get("content"))


def card_text(activity: Activity) -> str:
    """All text of an activity and its card, for assertions that read like a user: a
    RichTextBlock's runs read as one line, as Teams draws them."""
    parts: list[str] = [activity.get("text") or ""]
    for node in _objects(activity):
        if node.get("type") == "TextRun":
            continue  # read with its RichTextBlock
        if node.get("type") == "RichTextBlock":
            parts.append("".join(run.get("text", "") for run in node.get("inlines") or []))
            continue
        parts += [node[key] for key in ("text", "title", "value") if isinstance(node.get(key), str)]
    return "\n".join(parts)


def nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in `node`, in document order."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from nodes(value)


def drawn(element: dict[str, Any]) -> str:
    """A text element as Teams draws it: a RichTextBlock's runs as one line."""
    if element.get("type") == "RichTextBlock":
        return "".join(str(run["text"]) for run in element.get("inlines") or [])
    return str(element["text"])


def title_of(card: dict[str, Any]) -> str:
    """A card's first line as Teams draws it (a title on a coloured band included)."""
    first = card["body"][0]
    while first.get("type") == "Container":
        first = first["items"][0]
    return drawn(first)


def fact_rows(card: Any) -> dict[str, str]:
    """The (title, value) rows of adaptive_cards.common.facts() anywhere in a card (hidden
    ShowCards too), each value read as Teams draws it (its runs as one line)."""
    found: dict[str, str] = {}
    for node in nodes(card):
        columns = node.get("columns") if node.get("type") == "ColumnSet" else None
        if not columns or len(columns) != 2 or columns[0].get("width") != FACT_TITLE_WIDTH:
            continue
        title, value = (drawn(column["items"][0]) for column in columns)
        found[title] = value
    return found


def facts_of(activity: Activity) -> dict[str, str]:
    """The fact rows of an activity's cards (see fact_rows)."""
    found: dict[str, str] = {}
    for attachment in activity.get("attachments") or []:
        found.update(fact_rows(attachment.get("content")))
    return found


def buttons(activity: Activity) -> dict[str, dict[str, Any]]:
    """The Action.Submit buttons anywhere in an activity's cards: title -> data."""
    return {
        str(node["title"]): dict(node["data"])
        for node in _objects(activity)
        if node.get("type") == "Action.Submit"
    }


def verbs(activity: Activity) -> dict[str, dict[str, Any]]:
    """The Action.Submit buttons anywhere in an activity's cards by verb: verb -> data (a
    button's title is in the card's language, its verb is not)."""
    found: dict[str, dict[str, Any]] = {}
    for node in _objects(activity):
        data = node.get("data")
        if node.get("type") == "Action.Submit" and isinstance(data, dict):
            found.setdefault(str(data.get("verb")), dict(data))
    return found


def button(activity: Activity, title: str) -> dict[str, Any]:
    """The data of the button called `title` (fails naming the buttons there are)."""
    found = buttons(activity)
    assert title in found, f"no button {title!r} in {list(found)}: {card_text(activity)}"
    return found[title]

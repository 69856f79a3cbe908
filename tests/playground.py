"""Microsoft 365 Agents Playground as a test client: the real Teams-like channel, run headless.

`running_playground(bot_messages_url, workdir)` starts the pinned CLI on a free loopback port and
yields a `Playground`: send messages, press card buttons, send any activity, and read the bot's
messages from the playground's WebSocket stream. The `playground` fixture points it at the real
bot (`bot_url` from conftest). docs/playground.md records the API shapes this relies on.

The playground probes cloud metadata addresses when it starts, so it only ever runs inside a
loopback-only network namespace (`tools/in-netns`, which `make test` uses); anywhere else the
test fails, it is never skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.channel import card_text
from tests.harness import HTTP_TIMEOUT, free_port

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / ".playground" / "node_modules" / ".bin" / "agentsplayground"
START_SECONDS = 30.0
STOP_SECONDS = 5.0
LISTENING = re.compile(r"Listening on (\d+)")

Json = dict[str, Any]


class PlaygroundError(RuntimeError):
    """The playground could not start, or answered an API call with an error."""


class PortTaken(PlaygroundError):
    """The CLI found its port taken and listened on another one."""


class PlaygroundUnavailable(PlaygroundError):
    """The playground must not or cannot run here (no namespace, not installed)."""


@dataclass(frozen=True)
class BotMessage:
    """One message the bot created or updated, as the playground streams it."""

    action: str  # "createMessage" or "updateMessage"
    conversation_id: str  # a channel post's thread id ("team-id;messageid=...") in channels
    message_id: str
    text: str
    attachments: list[Json]
    raw: Json = field(repr=False)

    @property
    def all_text(self) -> str:
        """The message text and every text of its cards, for assertions that read like a user."""
        return card_text({"text": self.text, "attachments": self.attachments})

    @property
    def cards(self) -> list[Json]:
        """The Adaptive Cards the message carries."""
        return [
            a["content"]
            for a in self.attachments
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]


def isolated_network() -> bool:
    """True when the only network interface is loopback (a private network namespace)."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def unavailable_reason() -> str | None:
    """Why the playground must not or cannot start here, or None when it can."""
    if not isolated_network():
        return (
            "Agents Playground runs only inside a loopback-only network namespace (it probes "
            "cloud metadata addresses when it starts). Run `make test`, or "
            "`tools/in-netns .venv/bin/pytest ...`."
        )
    if not CLI.exists():
        return (
            f"Agents Playground is not installed ({CLI.relative_to(ROOT)} is missing): "
            "run `make test` (it installs the playground)."
        )
    return None


class Playground:
    """A running playground: its HTTP API and the bot's messages from its WebSocket stream."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, output: deque[str]) -> None:
        self.base_url = base_url
        self.session = session
        self.output = output  # the CLI's last lines of output, for failure messages
        self.settings: Json = {}  # the playground's `config` (tenant, bot, users, chats, teams)
        self._events: asyncio.Queue[Json] = asyncio.Queue()
        self._last_bot_message: dict[str, str] = {}  # conversation id -> last bot message read
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def conversation_id(self) -> str:
        """The personal chat with the bot, where messages go by default."""
        return str(self.settings["personalChat"]["id"])

    @property
    def user_id(self) -> str:
        """The signed-in user (`currentUser`), who sends everything."""
        return str(self.settings["currentUser"]["id"])

    @property
    def bot_id(self) -> str:
        return str(self.settings["bot"]["id"])

    async def open(self) -> None:
        """Load the configuration (which waits for the bot to answer) and open the stream."""
        self.settings = await self.config()
        self._ws = await self.session.ws_connect(
            f"{self.base_url}/_ws_conversation/v1/conversations/stream", heartbeat=30
        )
        self._reader = asyncio.create_task(self._read(self._ws))

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type == aiohttp.WSMsgType.TEXT:
                await self._events.put(json.loads(frame.data))

    async def _call(self, method: str, path: str, body: Json | None = None) -> Any:
        async with self.session.request(method, f"{self.base_url}{path}", json=body) as response:
            text = await response.text()
            if response.status >= 300:
                raise PlaygroundError(f"{method} {path} -> {response.status}: {text}")
            return json.loads(text) if text else None

    async def config(self) -> Json:
        """GET /_internal/v1/config: tenant, bot, users, personal chat, group chats, teams.

        The playground waits (up to 15 s) for the bot endpoint to accept connections first.
        """
        response = await self._call("GET", "/_internal/v1/config")
        settings: Json = response["config"]
        return settings

    async def send(
        self, text: str, *, conversation_id: str | None = None, mention_bot: bool = False
    ) -> None:
        """The user types `text`; with `mention_bot`, it starts with `<at>bot name</at>`."""
        body: Json = {"from": {"id": self.user_id}, "text": text, "textFormat": "plain"}
        if mention_bot:
            mention = f"<at>{self.settings['bot']['name']}</at>"
            body["text"] = f"{mention} {text}"
            body["mentions"] = [{"mentioned": {"id": self.bot_id}, "text": mention}]
        cid = conversation_id or self.conversation_id
        await self._call("POST", f"/_conversation/v1/conversations/{cid}/messages", body)

    async def submit(
        self, value: Json, *, reply_to: str | None = None, conversation_id: str | None = None
    ) -> None:
        """Press an Action.Submit button: the bot gets a message whose `value` is `value`.

        `reply_to` is the id of the message holding the card (default: the latest bot message
        read from that conversation).
        """
        cid = conversation_id or self.conversation_id
        body = {
            "conversation": {"id": cid},
            "from": {"id": self.user_id},
            "replyToId": reply_to or self._reply_to(cid),
            "value": value,
        }
        await self._call("POST", "/_conversation/v1/submit", body)

    async def invoke(
        self,
        verb: str,
        data: Json | None = None,
        *,
        reply_to: str | None = None,
        conversation_id: str | None = None,
    ) -> Json:
        """Press an Action.Execute button: an `adaptiveCard/action` invoke; returns its answer.

        The answer is the bot's InvokeResponse body (`{"type": ..., "value": ...}`); the playground
        answers 502 if the bot did not answer 200.
        """
        cid = conversation_id or self.conversation_id
        body = {
            "name": "adaptiveCard/action",
            "conversation": {"id": cid},
            "from": {"id": self.user_id},
            "replyToId": reply_to or self._reply_to(cid),
            "value": {
                "action": {"type": "Action.Execute", "verb": verb, "data": data or {}},
                "trigger": "manual",
            },
        }
        answer: Json = await self._call("POST", "/_conversation/v1/invoke", body)
        return answer

    async def send_activity(self, activity: Json, *, conversation_id: str | None = None) -> None:
        """Send any activity (e.g. a message with a file attachment) to the bot.

        The playground forwards a custom activity as it is, so the fields it needs to answer
        (`serviceUrl`, `conversation`, `from`, `recipient`, `channelId`, `id`) come from its own
        template unless `activity` sets them.
        """
        cid = conversation_id or self.conversation_id
        async with self.session.get(
            f"{self.base_url}/_internal/v1/customActivities/template",
            params={"conversationId": cid},
        ) as response:
            if response.status != 200:
                raise PlaygroundError(f"template -> {response.status}: {await response.text()}")
            template: Json = await response.json()
        await self._call("POST", "/_internal/v1/customActivities", {**template, **activity})

    async def install(self, *, conversation_id: str | None = None) -> None:
        """Add the bot to a conversation, as opening the playground's web page does.

        The bot gets an `installationUpdate` (action `add`) and a `conversationUpdate` whose
        `membersAdded` holds the user and the bot (only the bot in group chats and channels).
        """
        cid = conversation_id or self.conversation_id
        await self._call("POST", f"/_debug/conversation/{cid}/installation", {})

    async def next_message(self, seconds: float = 10.0) -> BotMessage:
        """The next message the bot created or updated, in any conversation."""
        try:
            async with asyncio.timeout(seconds):
                return await self._next_message()
        except TimeoutError:
            raise AssertionError(
                f"no bot message within {seconds} s; playground output:\n" + self.tail()
            ) from None

    async def wait_for(
        self, predicate: Callable[[BotMessage], bool], seconds: float = 10.0
    ) -> BotMessage:
        """The first bot message that matches `predicate`; earlier ones are dropped."""
        seen: list[str] = []
        try:
            async with asyncio.timeout(seconds):
                while not predicate(message := await self._next_message()):
                    seen.append(message.all_text[:200])
                return message
        except TimeoutError:
            raise AssertionError(
                f"no matching bot message within {seconds} s; the bot sent: {seen}"
            ) from None

    async def _next_message(self) -> BotMessage:
        while (message := self._bot_message(await self._events.get())) is None:
            pass
        return message

    def tail(self, lines: int = 30) -> str:
        return "\n".join(list(self.output)[-lines:])

    def _bot_message(self, event: Json) -> BotMessage | None:
        if event.get("action") not in ("createMessage", "updateMessage"):
            return None  # typing indicators
        message: Json = event.get("message") or {}
        if (message.get("from") or {}).get("id") != self.bot_id:
            return None
        conversation_id = str(event.get("actionConversationId") or "")
        message_id = str(message.get("messageId") or "")
        self._last_bot_message[conversation_id] = message_id
        return BotMessage(
            action=str(event["action"]),
            conversation_id=conversation_id,
            message_id=message_id,
            text=str(message.get("text") or ""),
            attachments=list(message.get("attachments") or []),
            raw=message,
        )

    def _reply_to(self, conversation_id: str) -> str:
        try:
            return self._last_bot_message[conversation_id]
        except KeyError:
            raise PlaygroundError(
                f"no bot message in {conversation_id} to press a button on: read one first"
            ) from None


async def _pump(
    stream: asyncio.StreamReader, output: deque[str], port: asyncio.Future[int]
) -> None:
    """Keep the CLI's output, and resolve `port` from its `Listening on <port>` line."""
    while line := await stream.readline():
        text = line.decode(errors="replace").rstrip()
        output.append(text)
        match = LISTENING.search(text)
        if match and not port.done():
            port.set_result(int(match.group(1)))
    if not port.done():
        port.set_exception(PlaygroundError("Agents Playground exited before it listened"))


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the CLI's process group, SIGKILL it if it lingers, and reap it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), STOP_SECONDS)


@asynccontextmanager
async def _cli(bot_messages_url: str, workdir: Path, port: int) -> AsyncIterator[deque[str]]:
    """Run the CLI on `port` until the block ends; yields its output once it listens there."""
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        *("-e", bot_messages_url, "-c", "msteams", "-p", str(port)),
        *("--service-url", f"http://127.0.0.1:{port}/_connector", "--disable-telemetry"),
        cwd=workdir,  # it writes devTools/m365agentsplayground.log there
        env={**os.environ, "TEAMSAPPTESTER_BROWSER": "none"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stopping it leaves nothing behind
    )
    output: deque[str] = deque(maxlen=200)
    listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    assert process.stdout is not None
    pump = asyncio.create_task(_pump(process.stdout, output, listening))
    try:
        try:
            actual = await asyncio.wait_for(listening, START_SECONDS)
        except (TimeoutError, PlaygroundError) as error:
            raise PlaygroundError(
                f"Agents Playground did not start ({error or 'timed out'}); its output:\n"
                + "\n".join(output)
            ) from None
        if actual != port:  # the CLI falls back to a random port if it is taken
            raise PortTaken(f"port {port} was taken (it listens on {actual})")
        yield output
    finally:
        await _stop(process)
        await pump
        listening.cancel()


@asynccontextmanager
async def running_playground(
    bot_messages_url: str, workdir: Path, *, attempts: int = 3
) -> AsyncIterator[Playground]:
    """Start Agents Playground against `bot_messages_url` (`.../api/messages`); stop it after.

    `workdir` is an existing folder, its working directory.

    Raises `PlaygroundUnavailable` outside a loopback-only network namespace or when the CLI is
    not installed, before starting anything.
    """
    if (reason := unavailable_reason()) is not None:
        raise PlaygroundUnavailable(reason)
    async with contextlib.AsyncExitStack() as stack:
        for attempt in range(1, attempts + 1):
            port = free_port()
            try:
                output = await stack.enter_async_context(_cli(bot_messages_url, workdir, port))
                break
            except PortTaken:
                if attempt == attempts:
                    raise
        session = await stack.enter_async_context(aiohttp.ClientSession(timeout=HTTP_TIMEOUT))
        client = Playground(f"http://127.0.0.1:{port}", session, output)
        stack.push_async_callback(client.close)
        await client.open()
        yield client


@pytest.fixture(name="playground")
async def playground_fixture(bot_url: str, tmp_path: Path) -> AsyncIterator[Playground]:
    """Agents Playground talking to the real bot; fails (never skips) where it cannot run."""
    if (reason := unavailable_reason()) is not None:
        pytest.fail(reason, pytrace=False)
    async with running_playground(f"{bot_url}/api/messages", tmp_path) as client:
        yield client

"""Pieces of the turns benchmark: a channel fake, bot processes, and the load generator.

Everything listens on and talks to 127.0.0.1 only; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import DEVNULL
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
REPLY_SECONDS = 60.0
"""A message whose reply has not reached the channel after this long counts as an error."""

Activity = dict[str, Any]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Channel:
    """The Bot Connector API at the activities' serviceUrl: records what bots send.

    Each conversation's posts and updates land in its own queue, in arrival order; `files` are
    served for attachment downloads.
    """

    def __init__(self) -> None:
        self.url = ""
        self.inbox: defaultdict[str, asyncio.Queue[Activity]] = defaultdict(asyncio.Queue)
        self.files: dict[str, bytes] = {}
        self.authorization: set[str] = set()  # every Authorization header seen
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_post("/v3/conversations/{cid}/activities", self._post)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._post)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._put)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _record(self, request: web.Request, activity: Activity, op: str) -> None:
        activity["_op"], activity["_at"] = op, time.monotonic()
        self.authorization.add(request.headers.get("Authorization", ""))
        self.inbox[request.match_info["cid"]].put_nowait(activity)

    async def _post(self, request: web.Request) -> web.Response:
        activity = await request.json()
        activity["id"] = f"bot-{next(self._ids)}"
        self._record(request, activity, "post")
        return web.json_response({"id": activity["id"]})

    async def _put(self, request: web.Request) -> web.Response:
        activity = await request.json()
        activity["id"] = request.match_info["aid"]
        self._record(request, activity, "update")
        return web.json_response({"id": activity["id"]})

    async def _file(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(body=found, content_type="application/octet-stream")

    def serve_file(self, name: str, content: bytes) -> str:
        """Make `content` downloadable; returns its URL."""
        self.files[name] = content
        return f"{self.url}/files/{name}"


def message(channel: Channel, conversation: str, text: str, **fields: Any) -> Activity:
    """An incoming message from a user in a personal conversation."""
    return {
        "type": "message",
        "id": uuid.uuid4().hex,
        "channelId": "msteams",
        "serviceUrl": channel.url,
        "from": {"id": f"user-{conversation}", "name": "Load"},
        "recipient": {"id": "bot", "name": "Bot"},
        "conversation": {"id": conversation, "conversationType": "personal"},
        "text": text,
        **fields,
    }


def proc_status(pid: int | str, field_name: str) -> int:
    """A kB figure of process `pid` ("self": this one) from /proc/<pid>/status (VmHWM: its own
    peak resident memory, which getrusage's ru_maxrss is not: that one keeps the peak of the
    process it was forked from through exec)."""
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith(field_name + ":"):
            return int(row.split()[1])
    raise KeyError(field_name)


@dataclass
class BotProcess:
    """A bot serving /api/messages in its own process."""

    url: str
    process: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return self.process.pid

    def status(self, field_name: str) -> int:
        """A kB figure of the process from /proc/<pid>/status (`proc_status`)."""
        return proc_status(self.pid, field_name)

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _listening(url: str, process: asyncio.subprocess.Process, seconds: float = 60.0) -> None:
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + seconds
    while True:
        if process.returncode is not None:
            raise RuntimeError(f"the bot process exited with {process.returncode}")
        try:
            _, writer = await asyncio.open_connection(host, int(port))
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


@asynccontextmanager
async def bot_process(
    command: list[str], env: Mapping[str, str], port: int, log: Path
) -> AsyncIterator[BotProcess]:
    """Start a bot process on 127.0.0.1:`port` (its stderr into `log`), wait until it listens,
    stop it afterwards."""
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env={**os.environ, **env}, stdout=DEVNULL, stderr=stderr
        )
    try:
        url = f"http://127.0.0.1:{port}"
        await _listening(url, process)
        yield BotProcess(url, process)
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


def echo_bot(port: int) -> list[str]:
    """The command line of the baseline echo bot."""
    return [sys.executable, "-m", "benchmarks._echo_bot", str(port)]


def our_bot() -> list[str]:
    """The command line of `ftbot run` (HOST, PORT and FTBOT_DATA_DIR from the environment)."""
    return [sys.executable, "-c", "import cli, sys; sys.exit(cli.main(['run']))"]


@dataclass
class Load:
    """What one load run measured."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    sent: int = 0
    peak_kb: int = 0  # the bot's VmHWM after the load

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")


async def _conversation(
    http: aiohttp.ClientSession, bot: str, channel: Channel, text: str, count: int, out: Load
) -> None:
    """One user sending `count` messages in sequence, each after the previous reply arrived."""
    conversation = f"conv-{uuid.uuid4().hex[:12]}"
    inbox = channel.inbox[conversation]
    for _ in range(count):
        out.sent += 1
        began = time.monotonic()
        try:
            async with http.post(
                f"{bot}/api/messages", json=message(channel, conversation, text)
            ) as response:
                await response.read()
                ok = response.status in (200, 201)
            reply = await asyncio.wait_for(inbox.get(), REPLY_SECONDS)
        except (aiohttp.ClientError, TimeoutError):
            out.errors += 1
            continue
        if not ok or reply["_op"] != "post":
            out.errors += 1
            continue
        out.latencies.append(time.monotonic() - began)
    if not inbox.empty():
        out.errors += inbox.qsize()  # a reply too many


async def load(bot: str, channel: Channel, text: str, conversations: int, messages: int) -> Load:
    """`conversations` users at once, each sending `messages` messages in sequence."""
    out = Load()
    connector = aiohttp.TCPConnector(limit=conversations + 10)
    timeout = aiohttp.ClientTimeout(total=REPLY_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await _conversation(http, bot, channel, text, 3, Load())  # warm-up, not counted
        began = time.monotonic()
        await asyncio.gather(
            *(_conversation(http, bot, channel, text, messages, out) for _ in range(conversations))
        )
        out.elapsed = time.monotonic() - began
    return out

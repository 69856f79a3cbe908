"""`help` latency in one conversation while a file validates in another.

The bot runs as its own process (`ftbot run`, sandbox mode) on 127.0.0.1; this process plays the
channel (it serves the attached file and records the bot's answers, as the Bot Connector does).
A file of 1M invalid lines under 8 MB is validated (such files were scanned in the bot's own
process and stalled every other turn for seconds); meanwhile `help` is sent again and again in
another conversation, each timed from the POST to the bot's answer. Goal: under 0.5 s.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from statistics import median
from typing import Any

import aiohttp
from aiohttp import web

LINES = 1_000_000
GOAL_SECONDS = 0.5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Channel:
    """Records what the bot sends and serves the file."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.sent: list[dict[str, Any]] = []
        self.changed = asyncio.Condition()
        self.ids = itertools.count(1)

    async def _record(self, request: web.Request) -> web.Response:
        activity = await request.json()
        activity["_conversation"] = request.match_info["cid"]
        activity["_at"] = time.monotonic()
        activity.setdefault("id", f"bot-{next(self.ids)}")
        async with self.changed:
            self.sent.append(activity)
            self.changed.notify_all()
        return web.json_response({"id": activity["id"]})

    async def _file(self, request: web.Request) -> web.Response:
        return web.Response(body=self.content, content_type="application/octet-stream")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations/{cid}/activities", self._record)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._record)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._record)
        app.router.add_get("/files/{name}", self._file)
        return app

    async def wait(self, conversation: str, start: int, what: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next(
                (
                    a
                    for a in self.sent[start:]
                    if a["_conversation"] == conversation and what in str(a)
                ),
                None,
            )

        async with self.changed:
            match = await asyncio.wait_for(self.changed.wait_for(found), 120)
        assert match is not None
        return match


def _activity(channel_url: str, conversation: str, text: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "id": uuid.uuid4().hex,
        "channelId": "emulator",
        "serviceUrl": channel_url,
        "from": {"id": "bench-user"},
        "recipient": {"id": "bot"},
        "conversation": {"id": conversation},
        "text": text,
        **fields,
    }


async def _help(
    http: aiohttp.ClientSession, bot: str, channel: _Channel, channel_url: str, conversation: str
) -> float:
    """Seconds from sending `help` to the bot's answer."""
    start = len(channel.sent)
    began = time.monotonic()
    async with http.post(bot, json=_activity(channel_url, conversation, "help")) as response:
        await response.read()
    answer = await channel.wait(conversation, start, "FineTune Ops commands")
    return float(answer["_at"]) - began


async def _measure(data_dir: Path) -> None:
    channel = _Channel(b"{}\n" * LINES)
    runner = web.AppRunner(channel.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    channel_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "FTBOT_DATA_DIR": str(data_dir)}
    ftbot = str(Path(sys.executable).with_name("ftbot"))
    bot = await asyncio.create_subprocess_exec(
        ftbot, "run", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    async with http.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    if time.monotonic() > deadline:
                        raise
                await asyncio.sleep(0.2)
            url = f"{base}/api/messages"
            idle = [await _help(http, url, channel, channel_url, "idle") for _ in range(5)]
            start = len(channel.sent)
            file = {
                "contentType": "application/octet-stream",
                "contentUrl": f"{channel_url}/files/invalid.jsonl",
                "name": "invalid.jsonl",
            }
            began = time.monotonic()
            activity = _activity(channel_url, "validating", "validate", attachments=[file])
            async with http.post(url, json=activity) as response:
                await response.read()
            answered = time.monotonic() - began
            done = asyncio.ensure_future(channel.wait("validating", start, "Not ready to train"))
            busy: list[float] = []
            while not done.done():
                busy.append(await _help(http, url, channel, channel_url, "other"))
            validated = float((await done)["_at"]) - began
    finally:
        bot.terminate()
        await asyncio.wait_for(bot.wait(), 30)
        await runner.cleanup()
    size = LINES * 3 / 1e6
    print(f"  file: {LINES:,} invalid lines ({size:.0f} MB); validated in {validated:.2f} s")
    print(f"  the validate turn's HTTP answer: {answered * 1000:.0f} ms")
    print(
        f"  help, idle:        median {median(idle) * 1000:.0f} ms, max {max(idle) * 1000:.0f} ms"
    )
    print(
        f"  help, validating:  median {median(busy) * 1000:.0f} ms, max {max(busy) * 1000:.0f} ms "
        f"over {len(busy)} turns (goal < {GOAL_SECONDS * 1000:.0f} ms)"
    )


def run() -> None:
    """Start the bot, validate, time `help` meanwhile, print the figures."""
    with tempfile.TemporaryDirectory(prefix="ftbot-bench-") as data_dir:
        asyncio.run(_measure(Path(data_dir)))

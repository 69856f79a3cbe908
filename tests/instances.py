"""Bot instances and a sandbox as real processes (`ftbot run`, `ftbot sandbox`), for tests that
kill one, and a balancer that hands each incoming activity to a random live instance, as Azure
Bot Service does in front of several hosts."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.harness import free_port

ROOT = Path(__file__).resolve().parent.parent
FTBOT = [sys.executable, "-c", "import cli, sys; sys.exit(cli.main(sys.argv[1:]))"]
START_SECONDS = 60.0
OWNS = re.compile(r"^(\S+ \S+) INFO infra\.ownership: (\S+) owns watch/(\S+)$", re.MULTILINE)


@dataclass
class Process:
    """One `ftbot` process: its name, URL, log file and the process itself."""

    name: str
    url: str
    log: Path
    process: subprocess.Popen[bytes]
    killed_at: float | None = None

    @property
    def alive(self) -> bool:
        return self.killed_at is None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no lease released, as when a host dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.killed_at = time.monotonic()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start(name: str, args: list[str], env: dict[str, str], folder: Path, url: str) -> Process:
    """Start `ftbot <args>` with `env` on top of this process's environment."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*FTBOT, *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Process(name, url, log, process)


async def ready(process: Process, path: str, session: aiohttp.ClientSession) -> None:
    """Wait until the process answers `GET {url}{path}` (any status below 500)."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.process.poll() is not None:
            raise AssertionError(f"{process.name} exited:\n{process.output()[-3000:]}")
        try:
            async with session.get(process.url + path) as response:
                if response.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{process.name} did not start:\n{process.output()[-3000:]}")
        await asyncio.sleep(0.1)


@dataclass
class Balancer:
    """POST /api/messages to a random live instance (another one if that one is down)."""

    instances: list[Process]
    session: aiohttp.ClientSession
    seed: int = 12
    url: str = ""
    handled: dict[str, int] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._random = random.Random(self.seed)
        app = web.Application(client_max_size=1024**3)
        app.router.add_post("/api/messages", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        live = [i for i in self.instances if i.alive]
        self._random.shuffle(live)
        for instance in live:
            try:
                async with self.session.post(
                    f"{instance.url}/api/messages",
                    data=body,
                    headers={"Content-Type": request.headers.get("Content-Type", "")},
                ) as response:
                    answer = await response.read()
                    self.handled[instance.name] = self.handled.get(instance.name, 0) + 1
                    return web.Response(
                        status=response.status,
                        body=answer,
                        content_type=response.content_type,
                    )
            except aiohttp.ClientConnectionError:
                continue  # down: the next instance gets it, as behind a health-checked pool
        return web.Response(status=503, text="no instance is up")


@asynccontextmanager
async def processes(*started: Process) -> AsyncIterator[None]:
    """Stop (or reap) every process when the block ends."""
    try:
        yield
    finally:
        for process in started:
            process.stop()


def sandbox_process(folder: Path, env: dict[str, str]) -> Process:
    """`ftbot sandbox` on a free port (its data under `folder/sandbox`)."""
    port = free_port()
    return start(
        "sandbox",
        ["sandbox", "--port", str(port)],
        {"FTBOT_DATA_DIR": str(folder), **env},
        folder,
        f"http://127.0.0.1:{port}",
    )


def bot_process(name: str, folder: Path, env: dict[str, str]) -> Process:
    """`ftbot run` on a free port, with a data folder of its own."""
    port = free_port()
    values = {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "FTBOT_DATA_DIR": str(folder / name),
        "FTBOT_INSTANCE": name,
        **env,
    }
    return start(name, ["run"], values, folder, f"http://127.0.0.1:{port}")


def owners_in_logs(instances: list[Process]) -> list[tuple[datetime, str, str]]:
    """(when, instance, job) for every watch lease an instance took, from their logs, in order."""
    found = []
    for instance in instances:
        for stamp, name, job in OWNS.findall(instance.output()):
            found.append((datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f"), name, job))
    return sorted(found)

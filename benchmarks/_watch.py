"""The job watcher's cost per unfinished job: N jobs launched through the chat, watched to the end.

This process serves the sandbox (its own data, counting the data-plane requests it answers) and
the channel fake; the bot runs in its own process with the sandbox as its Azure OpenAI endpoint
(key auth), so its CPU figure holds the bot's work only, not the sandbox's training. Resource
Manager is out of reach there (no credential), and the idle watcher tries it again every second:
the bot's idle CPU rate, measured before the launches, is taken off the watch window's CPU.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks._load import (
    ROOT,
    Activity,
    BotProcess,
    Channel,
    bot_process,
    free_port,
    message,
    our_bot,
)
from infra.azure import sandbox_endpoint
from sandbox import contract
from sandbox.app import create_sandbox_app
from sandbox.service import SANDBOX

SAMPLE = ROOT / "skills" / "sample_data"
FILES = ("training_set.jsonl", "validation_set.jsonl")
ACCOUNT = (
    f"/subscriptions/{contract.SUBSCRIPTION}/resourceGroups/{contract.RESOURCE_GROUP}"
    f"/providers/Microsoft.CognitiveServices/accounts/{contract.ACCOUNT}"
)
IDLE_SECONDS = 5.0
"""How long the bot's idle CPU rate is measured for."""
FINAL = "Fine-tuning: Succeeded"
"""The heading of a job card in its final state."""


def _nodes(activity: Activity) -> Iterator[dict[str, Any]]:
    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            yield node
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for attachment in activity.get("attachments") or []:
        yield from walk(attachment.get("content"))


def heading(activity: Activity) -> str:
    """The first text of the activity's card."""
    return next((str(n["text"]) for n in _nodes(activity) if n.get("type") == "TextBlock"), "")


def button(activity: Activity, title: str) -> dict[str, Any] | None:
    """The data of the Action.Submit button called `title`."""
    for node in _nodes(activity):
        if node.get("type") == "Action.Submit" and node.get("title") == title:
            return dict(node["data"])
    return None


@dataclass
class Job:
    """One user's job, as the channel saw it."""

    conversation: str
    suffix: str  # `train suffix=..`: tells the jobs apart in the sandbox
    card: str = ""
    launched: float = 0.0
    final_card: bool = False
    notices: list[float] = field(default_factory=list)
    ended: float | None = None  # when the sandbox finished it (polled in-process)


@dataclass
class Watch:
    """What one watch run measured."""

    jobs: int
    cpu_seconds: float  # the bot's CPU in the window, less its idle rate
    idle_rate: float  # CPU seconds per second of the bot doing nothing
    requests: int
    job_minutes: float
    notice_delays: list[float]
    all_final: bool
    notices_once: bool
    peak_mb: float

    @property
    def cpu_per_job_minute(self) -> float:
        return self.cpu_seconds / self.job_minutes

    @property
    def requests_per_job_minute(self) -> float:
        return self.requests / self.job_minutes


class _Sandbox:
    """The sandbox under /sandbox on a free port, counting data-plane requests."""

    def __init__(self, data: Path, speedup: float) -> None:
        self.inner = create_sandbox_app(data, speedup=speedup, arm_token="bench")
        self.requests = 0
        self.jobs_created = 0
        self.expected = 0
        self.created = asyncio.Event()  # `expected` jobs exist
        self.url = ""
        self._runner: web.AppRunner | None = None

    @web.middleware
    async def _count(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        if request.path.startswith("/sandbox/openai-accounts/"):
            self.requests += 1
            created = request.method == "POST" and request.path.endswith("/fine_tuning/jobs")
            self.jobs_created += created and response.status in (200, 201)  # v1: 200
            if self.expected and self.jobs_created >= self.expected:
                self.created.set()
        return response

    async def start(self) -> None:
        root = web.Application(middlewares=[self._count])
        root.add_subapp("/sandbox", self.inner)
        self._runner = web.AppRunner(root, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/sandbox"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def key(self, http: aiohttp.ClientSession) -> str:
        url = f"{self.url}{ACCOUNT}/listKeys?api-version=2025-09-01"
        async with http.post(url, headers={"Authorization": "Bearer bench"}) as response:
            return str((await response.json())["key1"])

    def finished(self) -> set[str]:
        """The suffixes of the jobs the sandbox has finished."""
        docs = self.inner[SANDBOX].store.docs("job", contract.ACCOUNT)
        return {
            str(d["suffix"]) for d in docs if d["status"] in ("succeeded", "failed", "cancelled")
        }


async def _next(channel: Channel, job: Job, predicate: Callable[[Activity], bool]) -> Activity:
    inbox = channel.inbox[job.conversation]
    while True:
        activity = await asyncio.wait_for(inbox.get(), 120)
        if predicate(activity):
            return activity


async def _say(http: aiohttp.ClientSession, bot: str, activity: Activity) -> None:
    async with http.post(f"{bot}/api/messages", json=activity) as response:
        await response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"the bot answered {response.status}")


async def _launch(http: aiohttp.ClientSession, bot: str, channel: Channel, job: Job) -> None:
    """validate (the sample files attached), train, Confirm training: as a user does."""
    attachments = [
        {
            "contentType": "application/octet-stream",
            "contentUrl": channel.serve_file(
                f"{job.conversation}-{name}", (SAMPLE / name).read_bytes()
            ),
            "name": name,
        }
        for name in FILES
    ]
    await _say(http, bot, message(channel, job.conversation, "validate", attachments=attachments))
    await _next(channel, job, lambda a: button(a, "Start training") is not None)
    await _say(http, bot, message(channel, job.conversation, f"train suffix={job.suffix}"))
    confirm = await _next(channel, job, lambda a: button(a, "Confirm training") is not None)
    data = button(confirm, "Confirm training")
    pressed = message(channel, job.conversation, "", value=data, replyToId=confirm["id"])
    await _say(http, bot, pressed)
    card = await _next(channel, job, lambda a: heading(a).startswith("Fine-tuning:"))
    job.card, job.launched = card["id"], time.monotonic()


async def _follow(channel: Channel, job: Job) -> None:
    """Every update of the job card and every notice, until the notice (and a moment more)."""
    inbox = channel.inbox[job.conversation]
    while True:
        try:
            timeout = 1.0 if job.notices else 600.0
            activity = await asyncio.wait_for(inbox.get(), timeout)
        except TimeoutError:
            return
        if activity["_op"] == "update" and activity["id"] == job.card:
            job.final_card = heading(activity) == FINAL
        elif activity["_op"] == "post" and heading(activity).startswith("Training "):
            job.notices.append(activity["_at"])


async def _ends(sandbox: _Sandbox, jobs: list[Job]) -> None:
    """Record when the sandbox finishes each job (its store, read in-process every 50 ms)."""
    while any(j.ended is None for j in jobs):
        done, now = sandbox.finished(), time.monotonic()
        for job in jobs:
            if job.ended is None and job.suffix in done:
                job.ended = now
        await asyncio.sleep(0.05)


async def watch(
    jobs: int, data: Path, log: Path, speedup: float, settings: Mapping[str, str]
) -> Watch:
    """Launch `jobs` jobs at once in as many conversations, then watch them all to their end;
    `settings`: more environment for the bot (the watcher's FTBOT_POLL_*)."""
    sandbox, channel = _Sandbox(data / "sandbox", speedup), Channel()
    await sandbox.start()
    await channel.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            key = await sandbox.key(http)
            port = free_port()
            env = {
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "FTBOT_DATA_DIR": str(data / "bot"),
                "AZURE_OPENAI_ENDPOINT": sandbox_endpoint(sandbox.url, contract.ACCOUNT),
                "AZURE_OPENAI_API_KEY": key,
                "AZURE_SUBSCRIPTION_ID": contract.SUBSCRIPTION,
                "AZURE_RESOURCE_GROUP": contract.RESOURCE_GROUP,
                "AZURE_OPENAI_ACCOUNT": contract.ACCOUNT,
                "AZURE_TOKEN_CREDENTIALS": "environmentcredential",  # fail at once, no probes
                **settings,
            }
            async with bot_process(our_bot(), env, port, log) as bot:
                return await _measure(bot, http, sandbox, channel, jobs)
    finally:
        await channel.close()
        await sandbox.close()


async def _measure(
    bot: BotProcess, http: aiohttp.ClientSession, sandbox: _Sandbox, channel: Channel, n: int
) -> Watch:
    jobs = [Job(f"watch-{n}-{i}", f"bench{i}") for i in range(n)]
    idle_from, idle_cpu = time.monotonic(), bot.cpu_seconds()
    await asyncio.sleep(IDLE_SECONDS)
    idle_rate = (bot.cpu_seconds() - idle_cpu) / (time.monotonic() - idle_from)
    sandbox.expected = n
    await asyncio.gather(*(_launch(http, bot.url, channel, job) for job in jobs))
    await asyncio.wait_for(sandbox.created.wait(), 300)
    began, cpu, requests = time.monotonic(), bot.cpu_seconds(), sandbox.requests
    ends = asyncio.create_task(_ends(sandbox, jobs))
    await asyncio.gather(*(_follow(channel, job) for job in jobs))
    last = max(job.notices[0] for job in jobs if job.notices)
    cpu, requests = bot.cpu_seconds() - cpu, sandbox.requests - requests
    cpu -= idle_rate * (time.monotonic() - began)
    ends.cancel()
    minutes = sum(min(job.notices or [last]) - began for job in jobs) / 60
    delays = [min(j.notices) - j.ended for j in jobs if j.notices and j.ended is not None]
    return Watch(
        jobs=n,
        cpu_seconds=cpu,
        idle_rate=idle_rate,
        requests=requests,
        job_minutes=minutes,
        notice_delays=delays,
        all_final=all(job.final_card for job in jobs),
        notices_once=all(len(job.notices) == 1 for job in jobs),
        peak_mb=bot.status("VmHWM") / 1024,
    )

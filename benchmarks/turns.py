"""Turn speed against a bare botbuilder echo bot, and how the cost grows with the work.

(1) 100 conversations each send 20 messages in sequence over loopback, the replies going to a
channel fake in this process: the echo bot (benchmarks/_echo_bot.py, the same pinned botbuilder)
and ours answering `help` and `hlep`. Goals: `help` throughput >= 2x the echo bot's and p99 <=
0.5x, zero errors, every reply delivered. (2) The same `help` load with 10,000 conversation
references and 1,000 job records in the state store: p50 within 1.2x of the empty store's.
(3) The job watcher with 2 and then 20 unfinished jobs on one sandbox account (1 running, the
rest queued): its CPU seconds and Azure requests per job-minute, the 20-job figures within 1.2x
of the 2-job ones; every card final, one notice each, job end -> notice within the running poll
interval + 2 s. Peak memory (VmHWM) of the bot process in both.

Each bot is its own process, started fresh for each load; the machine may be shared, so the
loads run in ROUNDS rounds and each ratio is the median of the rounds' paired ratios.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._load import Channel, Load, bot_process, echo_bot, free_port, load, our_bot
from benchmarks._watch import Watch, watch
from infra.azure import Resource
from infra.records import RecordStore
from infra.storage import SqliteStorage
from sandbox.contract import ACCOUNT, RESOURCE_GROUP, SUBSCRIPTION
from skills.records import ConversationRef
from skills.training.jobs import Series
from skills.training.records import JobRecord

LOG = Path("bench-data/turns.log")
"""The bots' stderr (ours logs every request at INFO)."""
POLL_RUNNING = 5.0
"""The watcher's default poll interval of a running job (FTBOT_POLL_RUNNING)."""


@dataclass(frozen=True)
class Sizes:
    """How big a run is (the smoke test makes it tiny)."""

    conversations: int = 100
    messages: int = 20
    rounds: int = 3
    references: int = 10_000
    job_records: int = 1_000
    watched: tuple[int, ...] = (2, 20)
    speedup: float = 4.0  # sandbox time: a sample job runs ~11 s, longer than a queued poll
    watcher: Mapping[str, str] = field(default_factory=dict)  # FTBOT_POLL_* for the smoke test


def _fill(data: Path, sizes: Sizes) -> None:
    """A state store as after months of use: references and finished jobs' records."""
    asyncio.run(_write_records(data, sizes))


async def _write_records(data: Path, sizes: Sizes) -> None:
    storage = SqliteStorage(data / "state.sqlite3")
    records = RecordStore(storage)
    now = time.time()
    resource = Resource(SUBSCRIPTION, RESOURCE_GROUP, ACCOUNT, "http://127.0.0.1:9/")
    refs = [
        ConversationRef(
            conversation=f"19:old-{i}@thread.tacv2",
            reference={
                "activityId": f"a{i}",
                "user": {"id": f"29:user-{i}", "aadObjectId": f"aad-{i}"},
                "bot": {"id": "28:bot", "name": "FineTuneBot"},
                "conversation": {"id": f"19:old-{i}@thread.tacv2", "conversationType": "channel"},
                "channelId": "msteams",
                "serviceUrl": "https://smba.trafficmanager.net/emea/",
            },
        )
        for i in range(sizes.references)
    ]
    jobs = [
        JobRecord(
            job=f"ftjob-{i:032x}",
            resource=resource,
            conversation=f"19:old-{i}@thread.tacv2",
            card=f"card-{i}",
            model="gpt-4o-mini-2024-07-18",
            files="training_set.jsonl",
            examples=20,
            launched_at=now - 86_400,
            ended_at=now - 80_000,
            status="succeeded",
            step=120,
            total=120,
            series=Series(train=[[s, 1.0 / s] for s in range(1, 121)], valid=[]),
            final=True,
        )
        for i in range(sizes.job_records)
    ]
    await records.put(*refs)
    await records.put(*jobs)
    await storage.close()


async def _ours(channel: Channel, sizes: Sizes, texts: tuple[str, ...], full: bool) -> list[Load]:
    """Fresh `ftbot run` (empty or full store) under the load of each text; its peak RSS kB."""
    with tempfile.TemporaryDirectory() as data:
        if full:
            await asyncio.to_thread(_fill, Path(data), sizes)
        port = free_port()
        env = {"HOST": "127.0.0.1", "PORT": str(port), "FTBOT_DATA_DIR": data}
        async with bot_process(our_bot(), env, port, LOG) as bot:
            results = []
            for text in texts:
                results.append(
                    await load(bot.url, channel, text, sizes.conversations, sizes.messages)
                )
            results[-1].peak_kb = bot.status("VmHWM")
            return results


async def _round(channel: Channel, sizes: Sizes) -> dict[str, Load]:
    port = free_port()
    async with bot_process(echo_bot(port), {}, port, LOG) as echo:
        echo_load = await load(echo.url, channel, "help", sizes.conversations, sizes.messages)
    help_, hlep = await _ours(channel, sizes, ("help", "hlep"), full=False)
    (full,) = await _ours(channel, sizes, ("help",), full=True)
    return {"echo": echo_load, "help": help_, "hlep": hlep, "full": full}


def _ratio(rounds: list[dict[str, Load]], a: str, b: str, q: float | None = None) -> float:
    """The median over rounds of a/b: throughput, or the percentile `q` of the latencies."""
    if q is None:
        return statistics.median(r[a].rate / r[b].rate for r in rounds)
    return statistics.median(r[a].percentile(q) / r[b].percentile(q) for r in rounds)


def _verdict(ok: bool) -> str:
    return "ok" if ok else "OVER GOAL"


NAMES = {
    "echo": "echo bot (baseline)",
    "help": "ours `help`",
    "hlep": "ours `hlep`",
    "full": "ours `help`, full store",
}


def _table(rounds: list[dict[str, Load]]) -> None:
    print(f"  {'':<26}{'msg/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}  delivered")
    for key, name in NAMES.items():
        loads = [r[key] for r in rounds]
        rate = statistics.median(x.rate for x in loads)
        p50 = statistics.median(x.percentile(50) for x in loads) * 1000
        p99 = statistics.median(x.percentile(99) for x in loads) * 1000
        errors = sum(x.errors for x in loads)
        delivered = sum(len(x.latencies) for x in loads)
        sent = sum(x.sent for x in loads)
        print(f"  {name:<26}{rate:8.1f}{p50:9.0f}{p99:9.0f}{errors:8d}  {delivered}/{sent}")


async def _turns(sizes: Sizes) -> None:
    channel = Channel()
    await channel.start()
    rounds: list[dict[str, Load]] = []
    try:
        for number in range(1, sizes.rounds + 1):
            rounds.append(await _round(channel, sizes))
            r = rounds[-1]
            print(
                f"  round {number}: echo {r['echo'].rate:.0f}/s p99 "
                f"{r['echo'].percentile(99) * 1000:.0f} ms; help {r['help'].rate:.0f}/s p99 "
                f"{r['help'].percentile(99) * 1000:.0f} ms; hlep {r['hlep'].rate:.0f}/s; "
                f"full store p50 {r['full'].percentile(50) * 1000:.0f} ms",
                flush=True,
            )
    finally:
        await channel.close()
    _table(rounds)
    clean = all(x.errors == 0 and len(x.latencies) == x.sent for r in rounds for x in r.values())
    rate, p99 = _ratio(rounds, "help", "echo"), _ratio(rounds, "help", "echo", 99)
    print(
        f"  `help` vs echo: throughput {rate:.2f}x (goal >= 2.0), p99 {p99:.2f}x (goal <= 0.5), "
        f"{'no errors, every reply delivered' if clean else 'ERRORS'}: "
        f"{_verdict(rate >= 2.0 and p99 <= 0.5 and clean)}"
    )
    growth = _ratio(rounds, "full", "help", 50)
    print(
        f"  {sizes.references:,} references and {sizes.job_records:,} job records vs an empty "
        f"store: p50 {growth:.2f}x (goal <= 1.2): {_verdict(growth <= 1.2)}"
    )
    peak = max(r[k].peak_kb for r in rounds for k in ("hlep", "full")) / 1024
    print(f"  bot peak RSS under the turn load: {peak:.0f} MB")


def _watch_line(result: Watch, poll: float) -> str:
    slowest = max(result.notice_delays, default=float("nan"))
    return (
        f"  {result.jobs:>2} jobs: {result.cpu_per_job_minute:.3f} CPU s and "
        f"{result.requests_per_job_minute:.1f} Azure requests per job-minute "
        f"({result.cpu_seconds:.2f} s, {result.requests} requests, {result.job_minutes:.2f} "
        f"job-minutes); cards final: {'all' if result.all_final else 'NOT ALL'}; "
        f"one notice each: {'yes' if result.notices_once else 'NO'}; end -> notice at most "
        f"{slowest:.1f} s (goal <= {poll + 2:g} s); peak RSS {result.peak_mb:.0f} MB"
    )


async def _watcher(sizes: Sizes) -> None:
    poll = float(sizes.watcher.get("FTBOT_POLL_RUNNING", POLL_RUNNING))
    results: list[Watch] = []
    for jobs in sizes.watched:
        with tempfile.TemporaryDirectory() as data:
            result = await watch(jobs, Path(data), LOG, sizes.speedup, sizes.watcher)
        results.append(result)
        print(_watch_line(result, poll), flush=True)
        ok = result.all_final and result.notices_once
        if not ok or max(result.notice_delays, default=0) > poll + 2:
            print(f"  {jobs} jobs: OVER GOAL")
    small, large = results[0], results[-1]
    cpu = large.cpu_per_job_minute / small.cpu_per_job_minute
    requests = large.requests_per_job_minute / small.requests_per_job_minute
    print(
        f"  {large.jobs} vs {small.jobs} jobs, per job-minute: CPU {cpu:.2f}x, Azure requests "
        f"{requests:.2f}x (goal <= 1.2): {_verdict(cpu <= 1.2 and requests <= 1.2)}"
    )


def run(sizes: Sizes | None = None) -> None:
    """Run the turn loads and the watcher runs; print ours beside the baseline, with ratios."""
    sizes = sizes or Sizes()
    LOG.parent.mkdir(exist_ok=True)
    LOG.write_bytes(b"")
    print(
        f"  {sizes.conversations} conversations x {sizes.messages} messages; "
        f"{sizes.rounds} round(s), each ratio the median of the rounds' paired ratios",
        flush=True,
    )
    asyncio.run(_turns(sizes))
    running = sizes.watcher.get("FTBOT_POLL_RUNNING", f"{POLL_RUNNING:g}")
    queued = sizes.watcher.get("FTBOT_POLL_QUEUED", "10")
    print(
        f"  job watcher (polls a running job every {running} s, a queued one every {queued} s; "
        f"sandbox time x{sizes.speedup:g}):",
        flush=True,
    )
    asyncio.run(_watcher(sizes))


if __name__ == "__main__":
    run()

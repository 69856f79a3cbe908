"""The Blob state store (on Azurite) against SQLite, and a 512 MB dataset to Blob and back.

(a) Turn latency: the real bot in-process, a channel fake for the connector, `help` said over
and over; every turn reads and writes the state store (conversation reference, delivery claim).
One bot on SQLite, one on Blob Storage (Azurite, in memory, on loopback); rounds alternate
between them and the ratio is the median of the rounds' paired p50 ratios. Then the delivery
claim alone is timed (`Claims.once` on Blob, which every message's turn awaits before it may
answer): the SQLite turn plus that one round trip is about as fast as a Blob turn can be while
it keeps the claim (printed as the floor, a ratio to the SQLite turn's p50).
(b) Memory: in a process of its own, a generated 512 MB file is kept in the Blob dataset store
(staged 4 MiB blocks) and fetched back by a second store with an empty cache (chunked download);
its peak RSS above the idle process must stay under 100 MB.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING

import aiohttp
import numpy as np

from benchmarks._load import proc_status

if TYPE_CHECKING:
    from skills.claims import Claims

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "bench-data"
TURNS = 40
ROUNDS = 5
SIZE = 512 * 1024 * 1024
MEMORY_GOAL_MB = 100.0


async def _turns(url: str, count: int) -> list[float]:
    from tests.channel import ChannelFake, Conversation
    from tests.harness import HTTP_TIMEOUT

    channel = ChannelFake()
    await channel.start()
    took = []
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
        chat = Conversation(url, channel, session)
        for _ in range(count):
            began = time.perf_counter()
            await chat.say("help")
            took.append(time.perf_counter() - began)
    await channel.close()
    return took


async def _claims(claims: Claims, count: int) -> list[float]:
    """Delivery claims taken one after another, as a turn takes its own."""
    from skills.records import delivery_claim

    took = []
    for _ in range(count):
        began = time.perf_counter()
        assert await claims.once(delivery_claim("bench", uuid.uuid4().hex))
        took.append(time.perf_counter() - began)
    return took


async def _latency(connection: str) -> None:
    from infra.blob import BlobAccount, BlobStorage
    from infra.records import RecordStore
    from infra.settings import Settings
    from skills.claims import Claims
    from tests.harness import bot_settings, running_bot

    with tempfile.TemporaryDirectory() as folder:
        sqlite = bot_settings(Path(folder) / "sqlite")
        container = f"bench-{uuid.uuid4().hex[:12]}"
        blob = bot_settings(
            Path(folder) / "blob",
            state="blob",
            storage_connection_string=connection,
            state_container=container,
        )
        settings = Settings(_env_file=None, state="blob", storage_connection_string=connection)
        store = BlobStorage(BlobAccount(settings), container, own_account=True)
        claims = Claims(RecordStore(store))
        async with running_bot(sqlite) as sqlite_url, running_bot(blob) as blob_url:
            await _turns(sqlite_url, 5)  # warm up: imports, tiktoken, first connections
            await _turns(blob_url, 5)
            ratios, ours, theirs = [], [], []
            for _ in range(ROUNDS):
                base = await _turns(sqlite_url, TURNS)
                mine = await _turns(blob_url, TURNS)
                ours += mine
                theirs += base
                ratios.append(float(np.median(mine) / np.median(base)))
        await _claims(claims, 5)  # after the turns, so that they run as they always did
        alone = await _claims(claims, ROUNDS * TURNS)
        await store.close()
    blob_ms, sqlite_ms = np.array(ours) * 1000, np.array(theirs) * 1000
    claim_ms = float(np.median(alone)) * 1000
    print(f"turn latency (`help`, {ROUNDS} rounds x {TURNS} turns each):")
    print(
        f"  blob (Azurite) p50 {np.median(blob_ms):.1f} ms, p99 {np.percentile(blob_ms, 99):.1f} ms"
        f" vs sqlite p50 {np.median(sqlite_ms):.1f} ms, p99 {np.percentile(sqlite_ms, 99):.1f} ms"
        f": ratio {median(ratios):.2f}x"
    )
    floor = (np.median(sqlite_ms) + claim_ms) / np.median(sqlite_ms)
    print(
        f"  the delivery claim alone on blob p50 {claim_ms:.1f} ms: floor (sqlite turn + claim)"
        f" {floor:.2f}x"
    )


def _generate(path: Path) -> Path:
    """A 512 MB JSONL file (kept in bench-data/ for the next run)."""
    if path.exists() and path.stat().st_size == SIZE:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    line = b'{"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "'
    block = bytearray()
    n = 0
    while len(block) < 1024 * 1024:
        block += line + f"answer {n:08d}".encode() + b'"}]}\n'
        n += 1
    chunk = bytes(block[: 1024 * 1024])
    with path.open("wb") as out:
        for _ in range(SIZE // len(chunk)):
            out.write(chunk)
    return path


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


async def _move(connection: str, source: Path, folder: Path) -> tuple[float, float, float]:
    from infra.blob import BlobAccount
    from infra.datasets import BlobDatasets
    from infra.settings import Settings

    settings = Settings(_env_file=None, state="blob", storage_connection_string=connection)
    account = BlobAccount(settings)
    container = account.container(f"bench-{uuid.uuid4().hex[:12]}")
    first, second = BlobDatasets(container, folder / "a"), BlobDatasets(container, folder / "b")

    async def chunks() -> AsyncIterator[bytes]:
        with source.open("rb") as file:
            while chunk := await asyncio.to_thread(file.read, 1024 * 1024):
                yield chunk

    async def small() -> AsyncIterator[bytes]:
        yield b'{"messages": []}\n'

    warm = await first.add_stream(small(), "warm.jsonl", max_bytes=SIZE)  # clients, container
    await second.get(warm.sha256)
    idle = _rss_mb()
    began = time.monotonic()
    stored = await first.add_stream(chunks(), "big.jsonl", max_bytes=SIZE)
    up = time.monotonic() - began
    began = time.monotonic()
    fetched = await second.get(stored.sha256)
    down = time.monotonic() - began
    assert fetched.size == SIZE and fetched.sha256 == stored.sha256
    await account.close()
    return idle, up, down


def child() -> None:
    """The memory measurement, in a process of its own: prints idle MB, peak MB, up s, down s."""
    connection = os.environ["BENCH_AZURITE"]
    source = _generate(DATA_DIR / "dataset-512mb.jsonl")
    with tempfile.TemporaryDirectory() as folder:
        idle, up, down = asyncio.run(_move(connection, source, Path(folder)))
    peak = proc_status("self", "VmHWM") / 1024  # not ru_maxrss: the runner's 1.7 GB after fuzz
    print(f"{idle:.1f} {peak:.1f} {up:.2f} {down:.2f}")


def _memory(connection: str) -> None:
    found = subprocess.run(
        [sys.executable, "-c", "from benchmarks.state_store import child; child()"],
        cwd=ROOT,
        env={**os.environ, "BENCH_AZURITE": connection},
        capture_output=True,
        text=True,
        check=True,
    )
    idle, peak, up, down = (float(v) for v in found.stdout.split()[-4:])
    above = peak - idle
    verdict = "ok" if above < MEMORY_GOAL_MB else "OVER GOAL"
    mb = SIZE / 1024 / 1024
    print("512 MB dataset to Blob (Azurite) and back, in a process of its own:")
    print(
        f"  up {up:.1f} s ({mb / up:.0f} MB/s), down {down:.1f} s ({mb / down:.0f} MB/s); peak RSS "
        f"{peak:.0f} MB, {above:.0f} MB above the idle {idle:.0f} MB (goal < "
        f"{MEMORY_GOAL_MB:g} MB above): {verdict}"
    )


def run() -> None:
    """Start Azurite, then measure (a) and (b)."""
    from tests.azurite import running_azurite

    with running_azurite() as connection:
        asyncio.run(_latency(connection))
        _memory(connection)


if __name__ == "__main__":
    run()

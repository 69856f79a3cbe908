"""The sandbox under load: 100 clients each polling one job's status 10 times a second.

The sandbox runs in its own process (`ftbot sandbox`, speedup 2) on 127.0.0.1 while a real job
trains in it; the clients share one aiohttp session in this process. Goal: p99 under 50 ms.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 100
RATE = 10.0
SECONDS = 10.0
GOAL_MS = 50.0
ACCOUNT = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sandbox"
    "/providers/Microsoft.CognitiveServices/accounts/aoai-sandbox"
)


TOKEN = "bench-sandbox-secret"
"""The sandbox's access secret for this run (SANDBOX_ARM_TOKEN)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _ready(http: aiohttp.ClientSession, url: str) -> str:
    """Wait for the sandbox to answer; returns KEY1."""
    deadline = time.monotonic() + 30
    while True:
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with http.post(
                f"{url}{ACCOUNT}/listKeys?api-version=2025-09-01", headers=headers
            ) as response:
                if response.status != 200:
                    raise RuntimeError(f"the sandbox answered listKeys with {response.status}")
                return str((await response.json())["key1"])
        except aiohttp.ClientConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _job(http: aiohttp.ClientSession, base: str, key: str) -> str:
    """Upload the sample training file and start a job on it; returns the job id."""
    headers, query = {"api-key": key}, "?api-version=2024-10-21"
    form = aiohttp.FormData()
    form.add_field("purpose", "fine-tune")
    sample = ROOT / "skills" / "sample_data" / "training_set.jsonl"
    form.add_field("file", sample.read_bytes(), filename="training_set.jsonl")
    async with http.post(f"{base}/files{query}", data=form, headers=headers) as response:
        file_id = (await response.json())["id"]
    while True:
        async with http.get(f"{base}/files/{file_id}{query}", headers=headers) as response:
            if (await response.json())["status"] == "processed":
                break
        await asyncio.sleep(0.2)
    body = {"model": "gpt-4o-mini-2024-07-18", "training_file": file_id}
    async with http.post(f"{base}/fine_tuning/jobs{query}", json=body, headers=headers) as response:
        job = str((await response.json())["id"])
    while True:  # measure while the job trains: the server's CPU is busy then
        async with http.get(f"{base}/fine_tuning/jobs/{job}/events{query}", headers=headers) as got:
            if any(e["type"] == "metrics" for e in (await got.json())["data"]):
                return job
        await asyncio.sleep(0.2)


async def _client(http: aiohttp.ClientSession, url: str, key: str, out: list[float]) -> int:
    """Poll at RATE per second for SECONDS; returns the count of non-200 answers."""
    errors, interval = 0, 1 / RATE
    start = time.monotonic()
    await asyncio.sleep(interval * np.random.random())
    while (now := time.monotonic()) - start < SECONDS:
        async with http.get(url, headers={"api-key": key}) as response:
            await response.read()
            errors += response.status != 200
        out.append(time.monotonic() - now)
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - now)))
    return errors


async def _bench(url: str) -> None:
    connector = aiohttp.TCPConnector(limit=CLIENTS + 10)
    async with aiohttp.ClientSession(connector=connector) as http:
        key = await _ready(http, url)
        base = f"{url}/openai-accounts/aoai-sandbox/openai"
        job = await _job(http, base, key)
        status_url = f"{base}/fine_tuning/jobs/{job}?api-version=2024-10-21"
        latencies: list[float] = []
        began = time.monotonic()
        errors = await asyncio.gather(
            *(_client(http, status_url, key, latencies) for _ in range(CLIENTS))
        )
        elapsed = time.monotonic() - began
    ms = np.array(latencies) * 1000
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    verdict = "ok" if p99 < GOAL_MS else "OVER GOAL"
    print(f"{CLIENTS} clients x {RATE:g} req/s for {SECONDS:g} s while a job trains:")
    rate = len(ms) / elapsed
    print(f"  {len(ms)} requests in {elapsed:.1f} s ({rate:.0f} req/s), {sum(errors)} errors")
    print(
        f"  job status p50 {p50:.1f} ms, p99 {p99:.1f} ms (goal p99 < {GOAL_MS:g} ms, "
        f"{p99 / GOAL_MS:.2f}x of it): {verdict}"
    )


def run() -> None:
    """Start a sandbox process, load it, print p50/p99 beside the goal."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ,
            "FTBOT_DATA_DIR": data,
            "SANDBOX_FAULTS": "",
            "SANDBOX_SPEEDUP": "2",
            "SANDBOX_ARM_TOKEN": TOKEN,
        }
        command = [sys.executable, "-c", "import cli, sys; sys.exit(cli.main(sys.argv[1:]))"]
        server = subprocess.Popen(
            [*command, "sandbox", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            asyncio.run(_bench(f"http://127.0.0.1:{port}"))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    run()

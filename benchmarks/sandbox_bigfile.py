"""The sandbox while a 512 MB training file is uploaded and imported, and its start and memory.

`ftbot sandbox` runs in its own process (speedup 1000, so the import's 1 s per MB of sandbox
time passes quickly and its checks run at once). Another process streams a generated 512 MB
chat file; 20 clients poll the file and job lists 10 times a second the whole time, until the
import is done. Goal: their p99 under 100 ms. Then the sample trains to its end. Also printed:
seconds from start to listening, and the process's peak memory (goal: under 300 MB).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np

from benchmarks._load import proc_status
from benchmarks.sandbox_load import ROOT, TOKEN, _free_port, _ready

SIZE = 512 * 1024 * 1024 - 4096
CLIENTS = 20
RATE = 10.0
GOAL_MS = 100.0
MEMORY_GOAL_MB = 300.0
Q = "?api-version=2024-10-21"


UPLOAD = """
import asyncio, sys, aiohttp
async def main(url, key, path):
    timeout = aiohttp.ClientTimeout(total=900)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        with open(path, "rb") as stream:
            form = aiohttp.FormData()
            form.add_field("purpose", "fine-tune")
            form.add_field("file", stream, filename="big.jsonl")
            async with http.post(url, data=form, headers={"api-key": key}) as response:
                print((await response.json())["id"])
asyncio.run(main(*sys.argv[1:]))
"""


def _write_file(path: Path) -> None:
    """A chat training file of just under 512 MB (distinct lines, as a real one has)."""
    sample = (ROOT / "skills" / "sample_data" / "training_set.jsonl").read_text().splitlines()
    with path.open("w", encoding="utf-8") as out:
        written, n = 0, 0
        while written < SIZE - 4096:
            record = json.loads(sample[n % len(sample)])
            record["messages"][1]["content"] += f" (variant {n})"
            line = json.dumps(record) + "\n"
            out.write(line)
            written += len(line.encode())
            n += 1


async def _poll(
    http: aiohttp.ClientSession, urls: list[str], key: str, stop: asyncio.Event, out: list[float]
) -> int:
    errors, interval, i = 0, 1 / RATE, 0
    await asyncio.sleep(interval * np.random.random())
    while not stop.is_set():
        began = time.monotonic()
        async with http.get(urls[i % len(urls)], headers={"api-key": key}) as response:
            await response.read()
            errors += response.status != 200
        out.append(time.monotonic() - began)
        i += 1
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))
    return errors


async def _bench(url: str, big: Path) -> tuple[float, float, int, int, float]:
    connector = aiohttp.TCPConnector(limit=CLIENTS + 10)
    timeout = aiohttp.ClientTimeout(total=900)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        key = await _ready(http, url)
        base = f"{url}/openai-accounts/aoai-sandbox/openai"
        headers = {"api-key": key}
        form = aiohttp.FormData()
        form.add_field("purpose", "fine-tune")
        sample = ROOT / "skills" / "sample_data" / "training_set.jsonl"
        form.add_field("file", sample.read_bytes(), filename="training_set.jsonl")
        async with http.post(f"{base}/files{Q}", data=form, headers=headers) as response:
            small = (await response.json())["id"]
        body = {"model": "gpt-4o-mini-2024-07-18", "training_file": small}
        await asyncio.sleep(5 / 1000)  # the small import is done in a few ms at speedup 1000
        while True:
            async with http.get(f"{base}/files/{small}{Q}", headers=headers) as response:
                if (await response.json())["status"] == "processed":
                    break
            await asyncio.sleep(0.05)
        urls = [f"{base}/files{Q}", f"{base}/files/{small}{Q}", f"{base}/fine_tuning/jobs{Q}"]
        latencies: list[float] = []
        stop = asyncio.Event()
        pollers = [
            asyncio.create_task(_poll(http, urls, key, stop, latencies)) for _ in range(CLIENTS)
        ]
        began = time.monotonic()
        # The upload comes from another process, so that its client's work is not measured.
        uploader = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            UPLOAD,
            f"{base}/files{Q}",
            key,
            str(big),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await uploader.communicate()
        big_id = out.decode().strip()
        uploaded = time.monotonic() - began
        while True:
            async with http.get(f"{base}/files/{big_id}{Q}", headers=headers) as response:
                status = (await response.json())["status"]
            if status in ("processed", "error"):
                break
            await asyncio.sleep(0.2)
        imported = time.monotonic() - began
        stop.set()
        errors = sum(await asyncio.gather(*pollers))
        # Then the sample trains, for the memory of a sandbox with a job training.
        async with http.post(f"{base}/fine_tuning/jobs{Q}", json=body, headers=headers) as got:
            job = (await got.json())["id"]
        while True:
            async with http.get(f"{base}/fine_tuning/jobs/{job}{Q}", headers=headers) as got:
                if (await got.json())["status"] in ("succeeded", "failed", "cancelled"):
                    break
            await asyncio.sleep(0.1)
    ms = np.array(latencies) * 1000
    return (
        float(np.percentile(ms, 99)),
        float(np.percentile(ms, 50)),
        len(ms),
        errors,
        (imported if status == "processed" else -uploaded),
    )


def run() -> None:
    """Start a sandbox process, time its start, load it with the big file, print the figures."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        big = Path(data) / "big.jsonl"
        _write_file(big)
        env = {
            **os.environ,
            "FTBOT_DATA_DIR": str(Path(data) / "state"),
            "SANDBOX_FAULTS": "",
            "SANDBOX_SPEEDUP": "1000",
            "SANDBOX_ARM_TOKEN": TOKEN,
        }
        command = [sys.executable, "-c", "import cli, sys; sys.exit(cli.main(sys.argv[1:]))"]
        started = time.monotonic()
        server = subprocess.Popen(
            [*command, "sandbox", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            server.stdout.readline()  # "Azure sandbox listening on ..."
            listening = time.monotonic() - started
            p99, p50, count, errors, imported = asyncio.run(_bench(f"http://127.0.0.1:{port}", big))
            peak = proc_status(server.pid, "VmHWM") / 1024
        finally:
            server.terminate()
            server.wait(timeout=60)
    verdict = "ok" if p99 < GOAL_MS else "OVER GOAL"
    print(f"ftbot sandbox: listening {listening:.1f} s after start")
    state = f"imported in {imported:.0f} s" if imported > 0 else "refused"
    print(f"512 MB training file uploaded and {state}, meanwhile {CLIENTS} clients polling:")
    print(
        f"  {count} requests, {errors} errors; p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"(goal p99 < {GOAL_MS:g} ms): {verdict}"
    )
    memory = "ok" if peak < MEMORY_GOAL_MB else "OVER GOAL"
    print(
        f"  sandbox peak memory {peak:.0f} MB with a job training (goal < "
        f"{MEMORY_GOAL_MB:g} MB): {memory}"
    )


if __name__ == "__main__":
    run()

"""The sandbox's workers on a full disk (issue 28, finding 10): they pause and double the pause
while it lasts, log one traceback, and leave no empty or cut file."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import openai
import pytest

from tests.sandbox_server import ACCOUNT, BEARER, TRAINING, openai_client, running_sandbox, wait_for

pytestmark = pytest.mark.slow  # a training job and a few seconds of backoff

Q = "?api-version=2025-09-01"


async def test_a_full_disk_pauses_the_job_worker_and_leaves_no_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sandbox.service")
    room = TRAINING.stat().st_size + 64  # the training file fits; the job's results do not
    async with (
        running_sandbox(tmp_path, speedup=1_000_000, faults=f"disk={room}") as url,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(f"{url}{ACCOUNT}/listKeys{Q}", headers=BEARER) as response:
            key = (await response.json())["key1"]
        endpoint = f"{url}/openai-accounts/aoai-sandbox/"
        async with openai_client(endpoint, key, max_retries=0) as client:
            training = await client.files.create(
                file=(TRAINING.name, TRAINING.read_bytes()), purpose="fine-tune"
            )

            async def processed() -> bool:
                return (await client.files.retrieve(training.id)).status == "processed"

            await wait_for(processed)
            with pytest.raises(openai.InternalServerError):  # no room for a second upload
                await client.files.create(
                    file=(TRAINING.name, TRAINING.read_bytes()), purpose="fine-tune"
                )
            job = await client.fine_tuning.jobs.create(
                model="gpt-4o-mini-2024-07-18", training_file=training.id
            )

            def tries() -> list[logging.LogRecord]:
                return [r for r in caplog.records if r.getMessage().startswith(f"job {job.id}")]

            async def three_tries() -> bool:
                return len(tries()) >= 3

            await wait_for(three_tries, within=120)
            first, second, third = tries()[:3]
            assert first.levelno == logging.ERROR and first.exc_info is not None
            assert "No space left on device" in first.getMessage()
            # Repeats of the same failure: debug lines, no traceback, 1 s then 2 s apart (at least).
            assert [r.levelno for r in (second, third)] == [logging.DEBUG, logging.DEBUG]
            assert second.created - first.created >= 1.0
            assert third.created - second.created >= 2.0
            assert (await client.fine_tuning.jobs.retrieve(job.id)).status == "running"
    files = sorted((tmp_path / "files").iterdir())
    assert [p.stat().st_size for p in files] == [TRAINING.stat().st_size]  # nothing empty or cut
    assert list((tmp_path / "models").iterdir()) == []

"""State over time: a restart loses nothing; Azure's deployment deletions come in sandbox time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import openai
import pytest

from tests.sandbox_server import (
    ACCOUNT,
    BEARER,
    EXAMPLES,
    TRAINING,
    openai_client,
    running_sandbox,
    wait_for,
)

pytestmark = pytest.mark.slow  # restarts and sandbox days

Q = "?api-version=2025-09-01"


async def _keys(url: str) -> dict[str, str]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}{ACCOUNT}/listKeys{Q}", headers=BEARER) as response:
            return await response.json()  # type: ignore[no-any-return]


async def _start_job(client: openai.AsyncOpenAI) -> str:
    training = await client.files.create(
        file=(TRAINING.name, TRAINING.read_bytes()), purpose="fine-tune"
    )

    async def processed() -> bool:
        return (await client.files.retrieve(training.id)).status == "processed"

    await wait_for(processed)
    job = await client.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18", training_file=training.id
    )
    return job.id


async def test_restart_keeps_state_and_finishes_the_job(tmp_path: Path) -> None:
    async with running_sandbox(tmp_path, speedup=20) as url:
        keys = await _keys(url)
        async with openai_client(f"{url}/openai-accounts/aoai-sandbox/", keys["key1"]) as client:
            job_id = await _start_job(client)

            async def some_steps() -> bool:
                page = await client.fine_tuning.jobs.list_events(job_id, limit=100)
                return sum(e.type == "metrics" for e in page.data) >= 5

            await wait_for(some_steps)
    async with running_sandbox(tmp_path, speedup=500) as url:
        assert await _keys(url) == keys
        async with openai_client(f"{url}/openai-accounts/aoai-sandbox/", keys["key1"]) as client:
            assert (await client.fine_tuning.jobs.retrieve(job_id)).status == "running"

            async def succeeded() -> bool:
                return (await client.fine_tuning.jobs.retrieve(job_id)).status == "succeeded"

            await wait_for(succeeded, within=60)
            events = [e async for e in client.fine_tuning.jobs.list_events(job_id, limit=100)]
            steps = [e.data["step"] for e in events if e.type == "metrics"]
            assert steps == list(range(1, 6 * EXAMPLES + 1))
            assert [e.message for e in events].count("Job started.") == 1


async def test_idle_fine_tuned_and_developer_deployments_are_deleted(tmp_path: Path) -> None:
    async with running_sandbox(tmp_path, speedup=1_000_000) as url, aiohttp.ClientSession() as http:
        keys = await _keys(url)
        async with openai_client(f"{url}/openai-accounts/aoai-sandbox/", keys["key1"]) as client:
            job_id = await _start_job(client)

            async def trained() -> str | None:
                return (await client.fine_tuning.jobs.retrieve(job_id)).fine_tuned_model

            model = await wait_for(trained, within=60)
            deployments = {"kept": ("standard", model), "dev": ("DeveloperTier", model)}
            for name, (sku, model_name) in deployments.items():
                body = {
                    "sku": {"name": sku, "capacity": 1},
                    "properties": {
                        "model": {"format": "OpenAI", "name": model_name, "version": "1"}
                    },
                }
                async with http.put(
                    f"{url}{ACCOUNT}/deployments/{name}{Q}", json=body, headers=BEARER
                ) as response:
                    assert response.status == 201

            async def listed() -> list[str]:
                async with http.get(f"{url}{ACCOUNT}/deployments{Q}", headers=BEARER) as response:
                    return [d["name"] for d in (await response.json())["value"]]

            # 15 days are 1.3 s here; completions keep "kept" alive, "dev" ends after 24 h.
            for _ in range(10):
                await client.chat.completions.create(
                    model="kept", messages=[{"role": "user", "content": "hi"}]
                )
                await asyncio.sleep(0.2)
            assert await listed() == ["kept"]
            await wait_for(lambda: _empty(listed), within=10)
            assert model in [m.id async for m in client.models.list()]


async def _empty(listed: object) -> bool:
    return await listed() == []  # type: ignore[operator,no-any-return]


async def test_a_deployment_is_deleted_as_a_long_running_operation(tmp_path: Path) -> None:
    body = {
        "sku": {"name": "Standard", "capacity": 1},
        "properties": {
            "model": {"format": "OpenAI", "name": "gpt-4o-mini", "version": "2024-07-18"}
        },
    }
    deployment = f"{ACCOUNT}/deployments/base{Q}"
    async with running_sandbox(tmp_path, speedup=10) as url, aiohttp.ClientSession() as http:
        async with http.put(f"{url}{deployment}", json=body, headers=BEARER) as response:
            assert response.status == 201
        async with http.delete(f"{url}{deployment}", headers=BEARER) as response:
            assert response.status == 202  # as Azure answers, with an operation to poll
            operation = response.headers["Azure-AsyncOperation"]
            assert operation.startswith(f"{url}/subscriptions/") and "api-version=" in operation
        async with http.get(f"{url}{deployment}", headers=BEARER) as response:
            assert (await response.json())["properties"]["provisioningState"] == "Deleting"
        async with http.get(operation, headers=BEARER) as response:
            started = await response.json()
            assert started["status"] == "InProgress"
            assert float(response.headers["Retry-After"]) > 0
        async with http.delete(f"{url}{deployment}", headers=BEARER) as response:
            assert response.headers["Azure-AsyncOperation"] == operation  # the same operation
        async with http.put(f"{url}{deployment}", json=body, headers=BEARER) as response:
            assert response.status == 409
        async with http.get(operation, headers=BEARER) as response:
            assert await response.json() == started  # the repeated DELETE changed nothing

        async def finished() -> bool:
            async with http.get(operation, headers=BEARER) as response:
                return bool((await response.json())["status"] == "Succeeded")

        await wait_for(finished, within=10)  # 20 sandbox seconds at speedup 10
        async with http.get(f"{url}{deployment}", headers=BEARER) as response:
            assert response.status == 404
        async with http.delete(f"{url}{deployment}", headers=BEARER) as response:
            assert response.status == 204

"""A fault test's barriers on the sandbox (sandbox/barriers.py): a request held once served (its
work done, its answer not given) or before it is served, until released; requests refused with a
status, unserved. Driven with the official SDK, as the bot calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest
from openai import AsyncOpenAI

from sandbox.service import Sandbox
from tests.sandbox_server import TRAINING, openai_client, serving_sandbox

UPLOAD = r"/openai/v1/files$"


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, AsyncOpenAI]]:
    async with serving_sandbox(tmp_path) as (url, served):
        endpoint = f"{url}/openai-accounts/aoai-sandbox/"
        async with openai_client(endpoint, served.default_keys()[0], max_retries=0) as client:
            yield served, client


def upload(client: AsyncOpenAI) -> asyncio.Future[openai.types.FileObject]:
    content = ("training_set.jsonl", TRAINING.read_bytes())
    return asyncio.ensure_future(client.files.create(file=content, purpose="fine-tune"))


async def names(client: AsyncOpenAI) -> list[str]:
    return [f.id async for f in client.files.list()]


async def test_a_request_held_once_served_has_done_its_work(
    sandbox: tuple[Sandbox, AsyncOpenAI],
) -> None:
    """The moment to kill a caller: the upload is stored, its answer has not left."""
    served, client = sandbox
    held = served.barriers.hold("POST", UPLOAD)
    sent = upload(client)
    await asyncio.wait_for(held.reached.wait(), 30)
    stored = await names(client)  # other requests pass meanwhile
    assert len(stored) == 1 and not sent.done()
    held.release()
    assert (await sent).id == stored[0]
    again = await upload(client)  # released for good
    assert len(await names(client)) == 2 and again.id not in stored


async def test_a_request_held_before_it_is_served_has_done_nothing(
    sandbox: tuple[Sandbox, AsyncOpenAI],
) -> None:
    served, client = sandbox
    held = served.barriers.hold("POST", UPLOAD, served=False)
    sent = upload(client)
    await asyncio.wait_for(held.reached.wait(), 30)
    assert await names(client) == [] and held.waiting == 1
    held.release()
    created = await sent  # served once released (the list is read after its answer)
    assert await names(client) == [created.id]


async def test_refused_requests_get_the_status_and_are_not_served(
    sandbox: tuple[Sandbox, AsyncOpenAI],
) -> None:
    served, client = sandbox
    refusal = served.barriers.refuse("POST", UPLOAD, 503, times=2)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError) as refused:
            await upload(client)
        assert refused.value.status_code == 503
        assert refused.value.response.headers["Retry-After"]
    assert await names(client) == []
    created = await upload(client)
    assert refusal.refused == 2 and await names(client) == [created.id]

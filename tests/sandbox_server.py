"""The sandbox in-process on a free 127.0.0.1 port, mounted under /sandbox as the bot mounts it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from openai import AsyncAzureOpenAI, AsyncOpenAI

from sandbox.app import create_sandbox_app
from sandbox.service import SANDBOX, Sandbox
from tests.harness import SANDBOX_TOKEN

SAMPLE = Path(__file__).resolve().parents[1] / "skills" / "sample_data"
TRAINING = SAMPLE / "training_set.jsonl"
VALIDATION = SAMPLE / "validation_set.jsonl"
EXAMPLES = len(TRAINING.read_text(encoding="utf-8").splitlines())
"""Training examples in the sample: one step each per epoch (batch size 1), 6 epochs."""
ACCOUNT = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sandbox"
    "/providers/Microsoft.CognitiveServices/accounts/aoai-sandbox"
)
"""The ARM path of the well-known account."""
BEARER = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
"""The bot's own principal, as tests reach a test sandbox on Resource Manager and the data plane."""


@asynccontextmanager
async def running_sandbox(data_dir: Path, **options: Any) -> AsyncIterator[str]:
    """Serve a sandbox on a free port; yields its base URL (`http://127.0.0.1:N/sandbox`)."""
    async with serving_sandbox(data_dir, **options) as (url, _):
        yield url


@asynccontextmanager
async def serving_sandbox(data_dir: Path, **options: Any) -> AsyncIterator[tuple[str, Sandbox]]:
    """`running_sandbox`, and the `Sandbox` itself: a test sets its barriers
    (`sandbox.barriers.hold(...)`, sandbox/barriers.py) while a bot it runs as a process of its
    own calls it. Every hold is released at the end, so the server can stop."""
    root = web.Application()
    options.setdefault("arm_token", SANDBOX_TOKEN)
    app = create_sandbox_app(data_dir, **options)
    root.add_subapp("/sandbox", app)
    runner = web.AppRunner(root)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sandbox = app[SANDBOX]
    try:
        yield f"http://127.0.0.1:{port}/sandbox", sandbox
    finally:
        sandbox.barriers.release_all()
        await runner.cleanup()


def openai_client(endpoint: str, key: str, **options: Any) -> AsyncOpenAI:
    """The official client as the lab builds it: Azure's v1 API at the endpoint, the key as a
    bearer token (60 s per request)."""
    return AsyncOpenAI(
        base_url=f"{endpoint.rstrip('/')}/openai/v1/",
        api_key=key,
        **{"timeout": 60.0, **options},
    )


def dated_client(endpoint: str, key: str, **options: Any) -> AsyncAzureOpenAI:
    """The client of the dated API (2024-10-21), for tests of the sandbox's dated surface: the
    bot uses it for one call only (deleting a job)."""
    return AsyncAzureOpenAI(
        azure_endpoint=endpoint,
        api_key=key,
        api_version="2024-10-21",
        **{"timeout": 60.0, **options},
    )


async def wait_for(check: Any, within: float = 30.0, every: float = 0.02) -> Any:
    """Call the async `check` until it returns something truthy (or fail after `within` s)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {within} s")
        await asyncio.sleep(every)

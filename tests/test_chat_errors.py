"""Azure's chat failures in plain words: throttling (retried, then "try again in N s") from the
sandbox's injected 429s, and the content filter from a stand-in answering as Azure does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from openai import AsyncAzureOpenAI

from infra.azure import azure_clients
from infra.settings import Settings
from skills.chat import complete
from skills.errors import UserError
from tests.sandbox_server import running_sandbox

HELLO = [{"role": "user", "content": "hello"}]


async def test_throttling_is_retried_then_explained(tmp_path: Path) -> None:
    async with running_sandbox(tmp_path / "sandbox", faults="429=1.0,retry_after=0.01") as url:
        settings = Settings(_env_file=None, data_dir=tmp_path)
        async with azure_clients(settings, sandbox_url=url) as azure:
            with pytest.raises(UserError) as caught:
                await complete(azure.openai, "teacher", HELLO)
    assert caught.value.message == (
        "`teacher` is busy right now (Azure is throttling it); try again in 1 s."
    )


FILTERED = {
    "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
        "content management policy. Please modify your prompt and retry.",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {
                "hate": {"filtered": False, "severity": "safe"},
                "self_harm": {"filtered": True, "severity": "medium"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": False, "severity": "safe"},
            },
        },
    }
}


@pytest.fixture
async def filtering_azure() -> AsyncIterator[str]:
    """An endpoint whose every chat completion is refused by the content filter."""

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response(FILTERED, status=400)

    app = web.Application()
    app.router.add_post("/openai/deployments/{name}/chat/completions", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    await runner.cleanup()


async def test_content_filter_is_explained(filtering_azure: str) -> None:
    async with AsyncAzureOpenAI(
        azure_endpoint=filtering_azure, api_key="k", api_version="2024-10-21"
    ) as client:
        with pytest.raises(UserError) as caught:
            await complete(client, "teacher", HELLO)
    assert caught.value.message == (
        "Azure's content filter blocked this message (self harm); rephrase it and try again."
    )

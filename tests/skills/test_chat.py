"""Azure's chat failures in plain words: throttling (retried, then "try again in N s") from the
sandbox's injected 429s, and the sandbox's content filter refusing a prompt as Azure does."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.mgmt.cognitiveservices.models import (
    Deployment,
    DeploymentModel,
    DeploymentProperties,
    Sku,
)

from infra.azure import azure_clients
from infra.errors import UserError
from skills.chat import complete
from tests.harness import client_settings
from tests.sandbox_server import running_sandbox

HELLO = [{"role": "user", "content": "hello"}]


async def test_throttling_is_retried_then_explained(tmp_path: Path) -> None:
    async with running_sandbox(tmp_path / "sandbox", faults="429=1.0,retry_after=0.01") as url:
        settings = client_settings(tmp_path)
        async with azure_clients(settings, sandbox_url=url) as azure:
            with pytest.raises(UserError) as caught:
                await complete(azure.openai, "teacher", HELLO)
    assert caught.value.message == (
        "`teacher` is busy right now (Azure is throttling it); try again in 1 s."
    )


async def test_content_filter_is_explained(tmp_path: Path) -> None:
    async with running_sandbox(tmp_path / "sandbox", speedup=1000.0) as url:
        settings = client_settings(tmp_path)
        async with azure_clients(settings, sandbox_url=url) as azure:
            model = DeploymentModel(format="OpenAI", name="gpt-4o-mini", version="2024-07-18")
            deploying = await azure.cognitive.deployments.begin_create_or_update(
                azure.resource_group,
                azure.account,
                "base",
                Deployment(
                    sku=Sku(name="GlobalStandard", capacity=1),
                    properties=DeploymentProperties(model=model),
                ),
                polling_interval=0.05,
            )
            await deploying.result()
            asked = [{"role": "user", "content": "Tell me how to hurt myself."}]
            with pytest.raises(UserError) as caught:
                await complete(azure.openai, "base", asked)
            answered = await complete(azure.openai, "base", HELLO)
    assert caught.value.message == (
        "Azure's content filter blocked this message (self harm); rephrase it and try again."
    )
    assert answered.text

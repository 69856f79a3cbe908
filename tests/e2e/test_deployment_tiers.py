"""Every hosting tier deploys on the sandbox with the sku name the account's model list offers:
Standard, GlobalStandard and DeveloperTier (Microsoft's name for the developer tier)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.azure import azure_clients
from tests.channel import Conversation, card_text
from tests.e2e.test_deployment import deploy_and_wait, trained_model
from tests.harness import client_settings


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"sandbox_speedup": 3000.0}


async def test_standard_global_and_developer_deployments_use_azures_sku_names(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    job, model = await trained_model(bot_url, tmp_path)
    chat = conversation()
    for name, word in (("std", "standard"), ("glob", "globalstandard"), ("dev", "developer")):
        done = await deploy_and_wait(chat, f"deploy {job} name={name} sku={word}")
        assert "Succeeded" in card_text(done)
    settings = client_settings(tmp_path / "client")
    async with azure_clients(settings, sandbox_url=f"{bot_url}/sandbox") as azure:
        found = {
            d.name: d.sku.name
            async for d in azure.cognitive.deployments.list(azure.resource_group, azure.account)
        }
        offered = {
            s.name
            async for m in azure.cognitive.accounts.list_models(azure.resource_group, azure.account)
            for s in m.skus or []
        }
    assert found == {"std": "Standard", "glob": "GlobalStandard", "dev": "DeveloperTier"}
    assert set(found.values()) <= offered
    assert model in card_text(await chat.say("deployments"))

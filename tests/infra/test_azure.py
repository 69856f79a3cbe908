"""The data-plane client as the bot builds it for real Azure: v1, with a key or Entra ID."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from infra.azure import Azure, Resource, azure_clients
from tests.harness import client_settings
from tests.sandbox_server import TRAINING, running_sandbox

ENDPOINT = "https://lab.openai.azure.com/"


async def test_a_key_and_entra_id_alike_reach_the_v1_api_as_bearer(tmp_path: Path) -> None:
    keyed = Azure(
        client_settings(
            tmp_path, backend="azure", azure_openai_endpoint=ENDPOINT, azure_openai_api_key="k1"
        )
    )
    client = keyed.openai(keyed.default)
    assert str(client.base_url) == f"{ENDPOINT}openai/v1/"
    keyed.use_key(keyed.default, "k2")  # a rotation: the next call uses the new key
    assert client._api_key_provider is not None and await client._api_key_provider() == "k2"
    entra = Azure(client_settings(tmp_path, backend="azure", azure_openai_endpoint=ENDPOINT))
    other = entra.openai(entra.default)
    assert str(other.base_url) == f"{ENDPOINT}openai/v1/"
    assert other._api_key_provider is not None  # azure.identity.aio.get_bearer_token_provider
    assert not entra.key_auth(entra.default)


async def test_a_401_with_a_key_asks_which_key_is_in_use_once_and_sends_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another instance regenerated the key this one used: the first call's 401 makes the
    client ask its `rekey` hook once (for every call that failed with that key), and each call,
    an upload too, is sent again with the new key; no error reaches the caller."""
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with running_sandbox(tmp_path / "sandbox", speedup=3000) as url:
        async with azure_clients(client_settings(tmp_path), sandbox_url=url) as arm:
            keys = await arm.cognitive.accounts.list_keys("sandbox", "aoai-sandbox")
            settings = client_settings(tmp_path, azure_openai_api_key=keys.key1)
            azure = Azure(settings, sandbox_url=url)
            asked: list[str] = []

            async def rekey(resource: Resource) -> None:  # what access.py's rekey does
                asked.append(resource.account)
                found = await arm.cognitive.accounts.list_keys("sandbox", "aoai-sandbox")
                azure.use_key(resource, str(found.key2))

            azure.rekey = rekey
            client = azure.openai(azure.default)
            try:
                await client.models.list()
                await arm.cognitive.accounts.regenerate_key(
                    "sandbox", "aoai-sandbox", key_name="Key1"
                )
                listed = await asyncio.gather(*(client.models.list() for _ in range(4)))
                uploaded = await client.files.create(
                    file=("a.jsonl", TRAINING.read_bytes()), purpose="fine-tune"
                )
            finally:
                await azure.close()
    assert all(page.data for page in listed) and uploaded.bytes == TRAINING.stat().st_size
    assert asked == ["aoai-sandbox"]
    refused = [r for r in caplog.records if '" 401 ' in r.getMessage()]
    assert 1 <= len(refused) <= 4  # the calls sent with the old key, each sent once more

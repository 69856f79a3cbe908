"""The data-plane client as the bot builds it for real Azure: v1, with a key or Entra ID."""

from __future__ import annotations

from pathlib import Path

from infra.azure import Azure
from tests.harness import client_settings

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

"""The service: health, bad requests, settings and authentication."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from pydantic import ValidationError

from app import graph_client
from infra.errors import UserError
from infra.settings import describe_error, load_settings
from tests.harness import PRODUCTION, SANDBOX_TOKEN, bot_settings, running_bot


async def test_healthz(bot_url: str, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{bot_url}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_bad_bodies_get_4xx(bot_url: str, session: aiohttp.ClientSession) -> None:
    url = f"{bot_url}/api/messages"
    async with session.post(
        url, data=b"{not json", headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 400
    async with session.post(url, data=b"hello", headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415
    async with session.post(url, json={"text": "no type"}) as r:
        assert r.status == 400


async def test_with_an_app_id_unauthenticated_requests_get_401(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    settings = bot_settings(
        tmp_path,
        app_id="11111111-2222-3333-4444-555555555555",
        admins=["admin-1"],
        demo_sandbox=True,
    )
    async with running_bot(settings) as url:
        activity = {
            "type": "message",
            "text": "help",
            "channelId": "msteams",
            "serviceUrl": "http://127.0.0.1:9/",
            "from": {"id": "u"},
            "recipient": {"id": "b"},
            "conversation": {"id": "c"},
        }
        async with session.post(f"{url}/api/messages", json=activity) as response:
            assert response.status == 401


@pytest.mark.slow  # runs `ftbot run`
def test_a_bad_setting_stops_the_start_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PORT": "not-a-port", "FTBOT_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ftbot"), "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ftbot: invalid setting PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_secrets_do_not_show_in_settings(tmp_path: Path) -> None:
    settings = bot_settings(tmp_path, app_password="hunter2", azure_openai_api_key="k3y")
    assert "hunter2" not in repr(settings) and "k3y" not in str(settings)


def test_a_private_cloud_needs_its_login_and_its_channel_keys(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        bot_settings(tmp_path, bot_login_url="https://login.example/botframework.com")
    assert describe_error(raised.value) == (
        "invalid settings: TO_CHANNEL_FROM_BOT_LOGIN_URL, "
        "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER and TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL go together"
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"FTBOT_STATE": "blob"},
            "invalid settings: FTBOT_STATE=blob needs AZURE_STORAGE_CONNECTION_STRING or "
            "AZURE_STORAGE_ACCOUNT_URL",
        ),
        (
            {"AZURE_STORAGE_ACCOUNT_URL": "https://acct.blob.core.windows.net"},
            "invalid settings: a storage account is set but FTBOT_STATE is sqlite: set "
            "FTBOT_STATE=blob to keep the state there (or unset AZURE_STORAGE_*)",
        ),
        (
            {
                "FTBOT_STATE": "blob",
                "AZURE_STORAGE_ACCOUNT_URL": "https://acct.blob.core.windows.net",
                "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
            },
            "invalid settings: set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL, "
            "not both",
        ),
        (
            {"FTBOT_SANDBOX_URL": "http://127.0.0.1:8089", "AZURE_OPENAI_ENDPOINT": "https://x/"},
            "invalid settings: set FTBOT_SANDBOX_URL or AZURE_OPENAI_ENDPOINT, not both",
        ),
        (
            {"FTBOT_STATE_CONTAINER": "Bad_Name"},
            "invalid setting FTBOT_STATE_CONTAINER: a Blob container name: 3 to 54 lowercase "
            "letters, digits and single hyphens",
        ),
        (
            {"FTBOT_LEASE_SECONDS": "10"},
            "invalid setting FTBOT_LEASE_SECONDS: Input should be greater than or equal to 15",
        ),
    ],
)
def test_invalid_state_settings_fail_at_start_with_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], line: str
) -> None:
    for name in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_URL", "FTBOT_STATE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UserError) as raised:
        load_settings()
    assert raised.value.message == line


def test_the_storage_connection_string_is_a_secret(tmp_path: Path) -> None:
    connection = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=s3cret"
    settings = bot_settings(tmp_path, state="blob", storage_connection_string=connection)
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings)


async def test_which_graph_the_bot_reads(tmp_path: Path) -> None:
    """Microsoft's with an app registration (also on a demo sandbox: real Teams keeps real files);
    without one, the sandbox's stand-in with its secret (embedded or external); on Azure, none."""
    graph = graph_client(
        bot_settings(tmp_path, app_id="app", app_password="pw", **PRODUCTION), None
    )
    assert graph is not None and graph.base_url == "https://graph.microsoft.com/v1.0"
    await graph.close()

    embedded = bot_settings(tmp_path, port=3999)
    graph = graph_client(embedded, None, "the-embedded-secret")
    assert graph is not None and graph.base_url == "http://127.0.0.1:3999/sandbox/graph/v1.0"
    assert await graph.token("any tenant") == "the-embedded-secret"

    external = bot_settings(tmp_path, sandbox_url="http://127.0.0.1:8089")
    graph = graph_client(external, None)
    assert graph is not None and graph.base_url == "http://127.0.0.1:8089/graph/v1.0"
    assert await graph.token("any tenant") == SANDBOX_TOKEN

    azure = bot_settings(
        tmp_path, azure_openai_endpoint="https://a.openai.azure.com/", azure_openai_api_key="k"
    )
    assert graph_client(azure, None) is None

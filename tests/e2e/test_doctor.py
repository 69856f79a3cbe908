"""`ftbot doctor` run as an operator runs it: against the sandbox it passes (✓ where the sandbox
stands in, "skipped" with the reason where nothing does), and breaking one setting at a time gives
the ✗ line that names it, with its fix. Bot Framework and Graph sign-ins go to the loopback login
(tests/bot_framework_login.py), Blob state to Azurite."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.settings import Settings
from tests.bot_framework_login import APP_ID, APP_PASSWORD, TENANT, LoginServer
from tests.harness import TEST_ADMIN, free_port

ROOT = Path(__file__).resolve().parents[2]
HOST = "ftbot.contoso.com"
_OURS = tuple(
    str(alias)
    for field in Settings.model_fields.values()
    for alias in getattr(field.validation_alias, "choices", ())
)


def _clean_environment() -> dict[str, str]:
    """This process's environment without any setting of the bot, so only a test's count."""
    return {k: v for k, v in os.environ.items() if k not in _OURS}


def doctor(tmp_path: Path, **env: str) -> tuple[int, list[str]]:
    """`ftbot doctor` in a folder with no .env, with `env` on top of a clean environment: its
    exit status and its lines."""
    values = {"FTBOT_DATA_DIR": str(tmp_path / "data"), "PORT": str(free_port()), **env}
    done = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "doctor"],
        cwd=tmp_path,
        env={**_clean_environment(), "PYTHONPATH": str(ROOT), **values},
        capture_output=True,
        text=True,
        check=False,
        timeout=110,
    )
    assert done.stderr == "", done.stderr
    return done.returncode, done.stdout.splitlines()


def line(lines: list[str], name: str) -> str:
    """The line of check `name`."""
    found = [text for text in lines if text.split(" ", 1)[1].startswith(f"{name}:")]
    assert len(found) == 1, lines
    return found[0]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


@pytest.fixture
def login(tmp_path: Path) -> Iterator[LoginServer]:
    with LoginServer(tmp_path) as server:
        yield server


def production(login: LoginServer, **overrides: str) -> dict[str, str]:
    """A bot with an app id on the built-in stand-in (FTBOT_DEMO_SANDBOX), signing in at the
    loopback login."""
    return {
        "MicrosoftAppId": APP_ID,
        "MicrosoftAppPassword": APP_PASSWORD,
        "MicrosoftAppTenantId": TENANT,
        "TO_CHANNEL_FROM_BOT_LOGIN_URL": f"{login.url}/{TENANT}",
        "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": "https://api.botframework.com",
        "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": f"{login.url}/v1/.well-known/"
        "openidconfiguration",
        "VALIDATE_AUTHORITY": "false",
        "AZURE_AUTHORITY_HOST": login.url,
        "REQUESTS_CA_BUNDLE": str(login.ca),
        "FTBOT_ADMINS": TEST_ADMIN,
        "FTBOT_DEMO_SANDBOX": "1",
        "FTBOT_PUBLIC_HOST": HOST,
        **overrides,
    }


def test_against_the_sandbox_it_passes_and_says_what_it_skipped(tmp_path: Path) -> None:
    status, lines = doctor(tmp_path)
    assert status == 0, lines
    assert [text.split(":")[0] for text in lines] == [
        "skipped Settings",
        "skipped Bot Framework token",
        "✓ State store",
        "✓ Azure OpenAI",
        "✓ Bot identity's roles",
        "skipped Subscription rights",
        "skipped Microsoft Graph",
        "skipped Teams package",
    ]
    assert "nothing stands in for the Bot Framework login" in line(lines, "Bot Framework token")
    assert line(lines, "State store") == (
        f"✓ State store: SQLite in {tmp_path / 'data'}: written, read back and deleted"
    )
    assert "(the sandbox) answered with the bot's identity (Entra ID): " in line(
        lines, "Azure OpenAI"
    )
    assert "Resource Manager checks no roles" in line(lines, "Subscription rights")


def test_with_an_app_id_the_sign_ins_and_the_package_pass(
    tmp_path: Path, login: LoginServer
) -> None:
    status, lines = doctor(tmp_path, **production(login))
    assert status == 0, lines
    assert line(lines, "Settings").startswith("✓ Settings: production on a sandbox stand-in")
    assert line(lines, "Bot Framework token") == (
        f"✓ Bot Framework token: app {APP_ID} signed in at {login.url}/{TENANT}"
    )
    assert line(lines, "Microsoft Graph").startswith(
        f"✓ Microsoft Graph: signed in as app {APP_ID}"
    )
    assert line(lines, "Teams package").startswith("✓ Teams package: the manifest (schema 1.29)")
    assert login.tokens_issued >= 1 and login.graph_tokens == 1


def test_a_wrong_app_password_fails_both_sign_ins(tmp_path: Path, login: LoginServer) -> None:
    status, lines = doctor(tmp_path, **production(login, MicrosoftAppPassword="not-the-password"))
    assert status == 1
    bot = line(lines, "Bot Framework token")
    assert bot.startswith(f"✗ Bot Framework token: app {APP_ID} got no token from ")
    assert (
        "the login refused it (invalid_client)" in bot
        and "Fix: check MicrosoftAppId, MicrosoftAppType" in bot
    )
    graph = line(lines, "Microsoft Graph")
    assert graph.startswith(f"✗ Microsoft Graph: could not sign in as app {APP_ID}")
    assert "files in channels take the fallback (a personal chat)" in graph
    assert "not-the-password" not in "\n".join(lines)  # a secret never shows


def test_a_bad_public_host_fails_the_package(tmp_path: Path, login: LoginServer) -> None:
    status, lines = doctor(tmp_path, **production(login, FTBOT_PUBLIC_HOST="bot.contoso.com/x"))
    assert status == 1
    assert line(lines, "Teams package") == (
        "✗ Teams package: Set FTBOT_PUBLIC_HOST to the bot's public host name (like "
        "bot.contoso.com) to build the Teams package. Fix: set FTBOT_PUBLIC_HOST to the bot's "
        "host name (like bot.contoso.com: the azd output FTBOT_PUBLIC_HOST)."
    )


def test_a_data_folder_that_cannot_be_made_fails_the_state_store(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    status, lines = doctor(tmp_path, FTBOT_DATA_DIR=str(tmp_path / "a-file" / "data"))
    assert status == 1
    state = line(lines, "State store")
    assert state.startswith(f"✗ State store: SQLite in {tmp_path / 'a-file' / 'data'}: ")
    assert state.endswith("Fix: make FTBOT_DATA_DIR a folder this user can write.")
    assert line(lines, "Azure (sandbox)").startswith("✗ Azure (sandbox): the sandbox did not start")


def test_blob_state_passes_on_azurite_with_a_lease(tmp_path: Path, azurite: str) -> None:
    container = f"doctor-{uuid.uuid4().hex[:8]}"
    status, lines = doctor(
        tmp_path,
        FTBOT_STATE="blob",
        AZURE_STORAGE_CONNECTION_STRING=azurite,
        FTBOT_STATE_CONTAINER=container,
    )
    assert status == 0, lines
    assert line(lines, "State store") == (
        f"✓ State store: Blob Storage, container {container}: written, read back, deleted; a "
        "lease taken and released"
    )


def test_an_unreachable_storage_account_fails_the_state_store(tmp_path: Path, azurite: str) -> None:
    elsewhere = azurite.replace(azurite.split("127.0.0.1:")[1].split("/")[0], str(closed_port()))
    status, lines = doctor(tmp_path, FTBOT_STATE="blob", AZURE_STORAGE_CONNECTION_STRING=elsewhere)
    assert status == 1
    state = line(lines, "State store")
    assert state.startswith("✗ State store: Blob Storage, container ftbot-state: ")
    assert "Fix: check AZURE_STORAGE_ACCOUNT_URL (or AZURE_STORAGE_CONNECTION_STRING)" in state


def test_an_openai_endpoint_that_does_not_answer_fails(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}/"
    status, lines = doctor(tmp_path, AZURE_OPENAI_ENDPOINT=endpoint, AZURE_OPENAI_API_KEY="k")
    assert status == 1
    found = line(lines, "Azure OpenAI")
    assert found.startswith(f"✗ Azure OpenAI: {endpoint} did not answer with its key: ")
    assert "Fix: check AZURE_OPENAI_ENDPOINT" in found
    assert line(lines, "Bot identity's roles") == (
        "skipped Bot identity's roles: no AZURE_SUBSCRIPTION_ID: the resource commands are off"
    )


def test_an_external_sandbox_that_is_not_there_fails_azure(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    status, lines = doctor(tmp_path, FTBOT_SANDBOX_URL=url, SANDBOX_ARM_TOKEN="secret")
    assert status == 1
    assert line(lines, "Azure OpenAI").startswith(f"✗ Azure OpenAI: {url}/openai-accounts/")
    assert line(lines, "Bot identity's roles").startswith(
        "✗ Bot identity's roles: could not list the role assignments at /subscriptions/"
    )


def test_production_on_azure_names_the_missing_settings(tmp_path: Path, login: LoginServer) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}/"
    env = production(login, AZURE_OPENAI_ENDPOINT=endpoint, AZURE_OPENAI_API_KEY="k")
    del env["FTBOT_DEMO_SANDBOX"]
    status, lines = doctor(tmp_path, **env)
    assert status == 1
    assert line(lines, "Settings") == (
        "✗ Settings: missing AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, FTBOT_BOT_PRINCIPAL_ID, "
        "FTBOT_STATE=blob. Fix: set them where the bot runs (deploy/bot.bicep sets them all; "
        'README "Deploy to Azure").'
    )


def test_settings_that_do_not_load_are_the_one_line(tmp_path: Path) -> None:
    status, lines = doctor(tmp_path, FTBOT_STATE="blob")
    assert (status, lines) == (
        1,
        [
            "✗ Settings: invalid settings: FTBOT_STATE=blob needs AZURE_STORAGE_CONNECTION_STRING "
            "or AZURE_STORAGE_ACCOUNT_URL"
        ],
    )

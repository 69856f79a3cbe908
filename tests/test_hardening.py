"""The embedded sandbox takes only its secret, only from loopback, and only outside production
(unless FTBOT_DEMO_SANDBOX asks for it); role lists are authoritative (that questions are answered
by the person who asked: tests/e2e/test_deployment.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from pydantic import ValidationError

from bot.help import mode_line
from sandbox.auth import from_loopback, principal_of
from sandbox.contract import BOT_PRINCIPAL
from tests.channel import ChannelFake, Conversation, card_text
from tests.harness import SANDBOX_TOKEN, bot_settings, free_port, running_bot
from tests.sandbox_server import ACCOUNT

APP_ID = "11111111-2222-3333-4444-555555555555"
KEYS = f"/sandbox{ACCOUNT}/listKeys?api-version=2025-09-01"
FTBOT = Path(sys.executable).parent / "ftbot"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_embedded_sandbox_takes_only_its_secret(
    bot_url: str, session: aiohttp.ClientSession
) -> None:
    for token in ("anything", "sandbox", f"{SANDBOX_TOKEN}x"):
        async with session.post(f"{bot_url}{KEYS}", headers=bearer(token)) as response:
            assert response.status == 401, token
    async with session.post(f"{bot_url}{KEYS}", headers=bearer(SANDBOX_TOKEN)) as response:
        assert response.status == 200


async def test_with_no_sandbox_arm_token_the_bot_makes_a_secret_of_its_own(
    channel: ChannelFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(tmp_path, sandbox_arm_token="")) as url:
        for token in ("sandbox", "anything"):
            async with session.post(f"{url}{KEYS}", headers=bearer(token)) as response:
                assert response.status == 401
        chat = Conversation(url, channel, session)
        assert "There are no deployments" in card_text(await chat.say("deployments"))


def test_the_sandbox_answers_only_callers_on_this_machine() -> None:
    def from_(address: str) -> aiohttp.web.Request:
        transport = type("T", (), {"get_extra_info": lambda self, name, d=None: (address, 1)})()
        return make_mocked_request("GET", "/", transport=transport)

    assert from_loopback(from_("127.0.0.1")) and from_loopback(from_("::1"))
    assert not from_loopback(from_("10.1.2.3")) and not from_loopback(from_("192.168.0.7"))


def test_the_token_format() -> None:
    principal = "0a11ce00-0000-4000-8000-000000000001"
    assert principal_of("s3cret", "s3cret") == BOT_PRINCIPAL
    assert principal_of(f"s3cret:{principal}", "s3cret") == principal
    assert principal_of(f"other:{principal}", "s3cret") is None
    assert principal_of("s3cret:not-a-guid", "s3cret") is None
    assert principal_of("anything", "") is None


async def test_in_production_the_sandbox_is_mounted_only_on_demand(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ValidationError, match="FTBOT_DEMO_SANDBOX=1"):
        bot_settings(tmp_path, app_id=APP_ID, admins=["admin-1"])
    demo = bot_settings(tmp_path / "demo", app_id=APP_ID, admins=["a"], demo_sandbox=True)
    assert "stand-in Azure" in mode_line(demo)
    async with running_bot(demo) as url:
        async with session.post(f"{url}{KEYS}", headers=bearer(SANDBOX_TOKEN)) as response:
            assert response.status == 200
    external = bot_settings(
        tmp_path / "ext", app_id=APP_ID, admins=["a"], sandbox_url="http://127.0.0.1:9/sandbox"
    )
    async with running_bot(external) as url:
        async with session.post(f"{url}{KEYS}", headers=bearer(SANDBOX_TOKEN)) as response:
            assert response.status == 404


def _env(tmp_path: Path, **env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FTBOT_", "SANDBOX_"))}
    return {**clean, "FTBOT_DATA_DIR": str(tmp_path), "PORT": str(free_port()), **env}


@contextmanager
def ftbot(tmp_path: Path, *args: str, **env: str) -> Iterator[subprocess.Popen[str]]:
    """`ftbot ARGS` running until the block ends (then stopped: it is this test's process)."""
    process = subprocess.Popen(
        [str(FTBOT), *args],
        env=_env(tmp_path, **env),
        cwd=tmp_path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.communicate(timeout=30)


def read_until(process: subprocess.Popen[str], wanted: str) -> list[str]:
    """The lines it printed, up to the first that holds `wanted`."""
    assert process.stdout is not None
    lines: list[str] = []
    while line := process.stdout.readline():
        lines.append(line.rstrip())
        if wanted in line:
            break
    return lines


@pytest.mark.slow  # runs `ftbot run`
def test_production_refuses_to_start_without_admins(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(FTBOT), "run"],
        env=_env(tmp_path, MicrosoftAppId=APP_ID, FTBOT_DEMO_SANDBOX="1"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ftbot: invalid settings: FTBOT_ADMINS must name at least one admin (an AAD object id) "
        "when MicrosoftAppId is set"
    ]


@pytest.mark.slow  # runs `ftbot run` twice
def test_with_no_roles_set_the_start_says_everyone_is_admin(tmp_path: Path) -> None:
    with ftbot(tmp_path, "run") as process:
        lines = read_until(process, "everyone is admin")
    assert lines[-1] == "No FTBOT_ADMINS or FTBOT_TRAINERS set: everyone is admin."
    with ftbot(tmp_path, "run", FTBOT_TRAINERS="t-1") as process:
        lines = read_until(process, "listening on")
    assert "everyone is admin" not in "\n".join(lines)


@pytest.mark.slow  # runs `ftbot sandbox`
async def test_ftbot_sandbox_prints_the_secret_it_generated(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    port = free_port()
    with ftbot(tmp_path, "sandbox", "--port", str(port)) as process:
        line = read_until(process, "SANDBOX_ARM_TOKEN")[-1]
        secret = line.split()[1]
        assert "generated now" in line and len(secret) >= 32
        url = f"http://127.0.0.1:{port}{ACCOUNT}/listKeys?api-version=2025-09-01"
        async with session.post(url, headers=bearer("anything")) as response:
            assert response.status == 401
        async with session.post(url, headers=bearer(secret)) as response:
            assert response.status == 200

"""Inbound authentication with an app id: botbuilder's real token validation against a loopback
OpenID provider (tests/openid.py). A token signed by the provider's key for this app id is
accepted; every forged one gets 401; metadata out of reach gets 503 and one log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.channel import ChannelFake, Conversation
from tests.harness import PRODUCTION, bot_settings, free_port, running_bot
from tests.openid import (
    EMULATOR_ISSUER,
    ISSUER,
    OpenIdProvider,
    claims,
    hs256_with_public_key,
    new_key,
    openid_provider,
    signed,
    unsigned,
)

APP_ID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def provider() -> Iterator[OpenIdProvider]:
    with openid_provider() as running:
        yield running


@pytest.fixture
async def secured_bot(tmp_path: Path, provider: OpenIdProvider) -> AsyncIterator[str]:
    settings = bot_settings(
        tmp_path / "data",
        app_id=APP_ID,
        **PRODUCTION,
        app_password="not-used-for-inbound",
        channel_token_issuer=ISSUER,
        channel_openid_metadata_url=provider.channel_metadata,
        emulator_openid_metadata_url=provider.emulator_metadata,
    )
    async with running_bot(settings) as url:
        yield url


async def _post(
    session: aiohttp.ClientSession, url: str, activity: dict[str, Any], token: str | None
) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with session.post(f"{url}/api/messages", json=activity, headers=headers) as response:
        await response.read()
        return response.status


def _typing(channel: ChannelFake, session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """An activity that needs no answer (the bot's outbound token would need the internet)."""
    return Conversation(url, channel, session, channel_id="msteams").activity(type="typing")


async def test_a_token_signed_for_this_app_is_accepted(
    secured_bot: str,
    provider: OpenIdProvider,
    channel: ChannelFake,
    session: aiohttp.ClientSession,
) -> None:
    activity = _typing(channel, session, secured_bot)
    token = signed(provider.key, claims(APP_ID, activity["serviceUrl"]))
    assert await _post(session, secured_bot, activity, token) == 201


FORGED: list[tuple[str, Callable[[OpenIdProvider, str], str | None]]] = [
    ("no token", lambda p, s: None),
    ("garbage", lambda p, s: "not-a-token"),
    ("three dots of garbage", lambda p, s: "a.b.c"),
    ("alg none", lambda p, s: unsigned(claims(APP_ID, s))),
    ("self-signed", lambda p, s: signed(new_key(), claims(APP_ID, s))),
    ("unknown key id", lambda p, s: signed(new_key(), claims(APP_ID, s), kid="other")),
    ("HS256 with the public key", lambda p, s: hs256_with_public_key(p.key, claims(APP_ID, s))),
    ("wrong issuer", lambda p, s: signed(p.key, claims(APP_ID, s, iss="https://evil.test"))),
    (
        "expired",
        lambda p, s: signed(p.key, claims(APP_ID, s, exp=1_000_000, nbf=999_000, iat=999_000)),
    ),
    ("wrong audience", lambda p, s: signed(p.key, claims("someone-else", s))),
    ("another serviceUrl", lambda p, s: signed(p.key, claims(APP_ID, "https://evil.test/"))),
    (
        "Emulator issuer, self-signed",
        lambda p, s: signed(new_key(), claims(APP_ID, s, iss=EMULATOR_ISSUER, ver="1.0")),
    ),
]


@pytest.mark.parametrize(("case", "forge"), FORGED, ids=[case for case, _ in FORGED])
async def test_forged_tokens_get_401(
    secured_bot: str,
    provider: OpenIdProvider,
    channel: ChannelFake,
    session: aiohttp.ClientSession,
    case: str,
    forge: Callable[[OpenIdProvider, str], str | None],
) -> None:
    activity = _typing(channel, session, secured_bot)
    assert (
        await _post(session, secured_bot, activity, forge(provider, activity["serviceUrl"])) == 401
    )


async def test_metadata_out_of_reach_gets_503_and_one_log_line(
    tmp_path: Path,
    channel: ChannelFake,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/.well-known/openidconfiguration"
    settings = bot_settings(
        tmp_path / "data",
        app_id=APP_ID,
        **PRODUCTION,
        channel_token_issuer=ISSUER,
        channel_openid_metadata_url=nowhere,
    )
    async with running_bot(settings) as url:
        activity = _typing(channel, session, url)
        caplog.set_level(logging.INFO)
        caplog.clear()
        token = signed(new_key(), claims(APP_ID, activity["serviceUrl"]))
        assert await _post(session, url, activity, token) == 503
    lines = [r for r in caplog.records if r.name.startswith(("ftbot", "bot", "app"))]
    assert len(lines) == 1 and lines[0].exc_info is None, [r.getMessage() for r in lines]
    assert "503" in lines[0].getMessage()

"""Attachments are fetched only from where they may come: in local mode the origin of the
activity's serviceUrl, in production https to public addresses; every redirect hop and the
address actually connected to are checked, and a refusal says nothing about the target."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from infra.downloads import (
    Fetching,
    IncomingFile,
    file_chunks,
    local_fetching,
    production_fetching,
)
from infra.errors import UserError
from skills.sample import read_sample
from tests.channel import ChannelFake, Conversation, card_text

TRAINING = read_sample("training_set.jsonl")
REFUSED = (
    "I did not download {name}: its address is not one I fetch attachments from; attach the "
    "file itself to your message in this chat."
)


class Target:
    """A loopback server that counts the requests it gets (none should reach it)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.hits = 0


@asynccontextmanager
async def target(host: str = "127.0.0.1") -> AsyncIterator[Target]:
    app = web.Application()
    server = Target("")

    async def anything(request: web.Request) -> web.Response:
        server.hits += 1
        return web.json_response({"status": "ok", "secret": "s3cr3t"})

    app.router.add_get("/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    server.url = f"http://{host}:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()


def _file(url: str, name: str = "t.jsonl") -> dict[str, Any]:
    return {"contentType": "application/octet-stream", "contentUrl": url, "name": name}


async def _refused_in_chat(chat: Conversation, attachment: dict[str, Any]) -> None:
    shown = card_text(await chat.checked("validate", attachments=[attachment]))
    assert REFUSED.format(name=attachment["name"]) in shown
    assert "status" not in shown and "s3cr3t" not in shown


async def test_local_mode_fetches_from_the_service_url_origin_only(
    conversation: Callable[..., Conversation], channel: ChannelFake, bot_url: str
) -> None:
    chat = conversation()
    async with target() as other:
        await _refused_in_chat(chat, _file(f"{other.url}/training.jsonl"))
        await _refused_in_chat(chat, _file(f"{bot_url}/healthz"))
        await _refused_in_chat(chat, _file("http://169.254.169.254/latest/meta-data/"))
        await _refused_in_chat(chat, _file(channel.serve_redirect("r", f"{other.url}/x.jsonl")))
        teams = {
            "contentType": "application/vnd.microsoft.teams.file.download.info",
            "name": "t.jsonl",
            "content": {"downloadUrl": f"{other.url}/download", "uniqueId": "x"},
        }
        await _refused_in_chat(chat, teams)
        assert other.hits == 0
    # the channel's own files (and its redirects to them) still come through
    url = channel.serve_file("training_set.jsonl", TRAINING)
    ok = _file(channel.serve_redirect("ok", url), "t.jsonl")
    assert "Ready to train" in card_text(await chat.checked("validate", attachments=[ok]))


async def _read(file: IncomingFile, policy: Fetching) -> bytes:
    return b"".join([chunk async for chunk in file_chunks(file, 1 << 20, policy)])


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/t.jsonl",  # not https
        "https://127.0.0.1/t.jsonl",
        "https://localhost/t.jsonl",  # a name for a loopback address
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:127.0.0.1]/t.jsonl",
        "https://[::1]/t.jsonl",
        "https://10.0.0.1/t.jsonl",
        "https://2130706433/t.jsonl",  # 127.0.0.1 as one number
        "file:///etc/passwd",
        "ftp://example.com/t.jsonl",
        "not a url",
    ],
)
async def test_production_fetches_https_from_public_addresses_only(url: str) -> None:
    with pytest.raises(UserError) as refused:
        await _read(IncomingFile("t.jsonl", url), production_fetching())
    assert refused.value.message == REFUSED.format(name="t.jsonl")


class FixedResolver(AbstractResolver):
    """Resolves every name to one address (a DNS answer the attacker controls)."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": self.address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        pass


def _only_127_0_0_1(resolver: AbstractResolver | None = None) -> Fetching:
    """Production's rule with http allowed and 127.0.0.1 playing the one public address, so a
    test can serve both sides on loopback."""
    return Fetching(("http",), lambda address: str(address) == "127.0.0.1", resolver=resolver)


async def test_every_redirect_hop_is_checked(channel: ChannelFake) -> None:
    async with target("127.0.0.2") as inside:
        hop = channel.serve_redirect("in", f"{inside.url}/x")
        with pytest.raises(UserError) as refused:
            await _read(IncomingFile("t.jsonl", hop), _only_127_0_0_1())
        assert refused.value.message == REFUSED.format(name="t.jsonl")
        assert inside.hits == 0


async def test_the_address_connected_to_is_checked_not_the_name() -> None:
    """DNS rebinding: a name that resolves to a forbidden address gets no connection."""
    async with target("127.0.0.2") as inside:
        port = inside.url.rsplit(":", 1)[1]
        file = IncomingFile("t.jsonl", f"http://files.example.test:{port}/t.jsonl")
        with pytest.raises(UserError) as refused:
            await _read(file, _only_127_0_0_1(FixedResolver("127.0.0.2")))
        assert refused.value.message == REFUSED.format(name="t.jsonl")
        assert inside.hits == 0
    async with target("127.0.0.1") as allowed:
        port = allowed.url.rsplit(":", 1)[1]
        file = IncomingFile("t.jsonl", f"http://files.example.test:{port}/t.jsonl")
        assert b"status" in await _read(file, _only_127_0_0_1(FixedResolver("127.0.0.1")))
        assert allowed.hits == 1


def test_local_mode_keeps_the_service_url_origin() -> None:
    policy = local_fetching("http://localhost:56150/")
    assert policy.origin == ("http", "localhost", 56150)

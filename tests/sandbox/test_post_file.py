"""`ftbot sandbox post-file` (sandbox/post_file.py) without what it needs: one sentence each.

Its whole path, through the Agents Playground, is tests/e2e/test_channel_files_playground.py;
its Graph calls are in tests/sandbox/test_graph.py.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from sandbox import SandboxError
from sandbox import post_file as tool
from tests.harness import HTTP_TIMEOUT, SANDBOX_TOKEN, free_port


async def lines(request: tool.Request, sandbox_url: str) -> list[str]:
    return [line async for line in tool.post_file(request, sandbox_url, SANDBOX_TOKEN)]


async def test_without_a_playground_or_a_file_it_says_so(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SandboxError, match=r"^.*missing.jsonl is not a file$"):
        await lines(tool.Request([tmp_path / "missing.jsonl"], nowhere), nowhere)
    data = tmp_path / "a.jsonl"
    data.write_text("{}\n")
    with pytest.raises(SandboxError) as raised:
        await lines(tool.Request([data], nowhere), nowhere)
    assert str(raised.value) == (
        f"no Agents Playground answers at {nowhere} (ClientConnectorError); start it "
        '(README, "Talk to it") or give its address with --playground'
    )


async def test_without_a_sandbox_it_says_so() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/sandbox"
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
        graph = tool.GraphClient(session, nowhere, SANDBOX_TOKEN)
        with pytest.raises(SandboxError) as raised:
            await graph.call("GET", "/graph/v1.0/me/drive", "0a11ce00-0000-4000-8000-000000000001")
    assert str(raised.value) == (
        f"no sandbox answers at {nowhere} (ClientConnectorError): start the bot (`ftbot run`) "
        "or the sandbox (`ftbot sandbox`) with the same SANDBOX_ARM_TOKEN"
    )

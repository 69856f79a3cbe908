"""One sandbox per data folder: a second `ftbot sandbox` (or a bot embedding one) on the same
folder is refused with one sentence."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from sandbox.lock import SandboxBusy, hold
from tests.harness import HTTP_TIMEOUT, bot_settings, running_bot
from tests.instances import FTBOT, ROOT, processes, ready, sandbox_process


@pytest.mark.slow  # runs `ftbot sandbox` twice
async def test_a_second_sandbox_on_one_data_folder_is_refused(tmp_path: Path) -> None:
    first = sandbox_process(tmp_path, {})
    async with processes(first), aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
        await ready(first, "/", session)
        second = await asyncio.create_subprocess_exec(
            *FTBOT,
            "sandbox",
            "--port",
            "0",
            cwd=ROOT,
            env={"FTBOT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, error = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 2, error
        assert error.decode().strip() == (
            f"ftbot: Another sandbox is already running on the data folder {tmp_path / 'sandbox'} "
            f"(process {first.process.pid}). Stop it, or let this bot use it with "
            "FTBOT_SANDBOX_URL."
        )
        # a bot on the same folder would embed a second one: refused at start as well
        with pytest.raises(SandboxBusy):
            async with running_bot(bot_settings(tmp_path)):
                pass


def test_the_lock_goes_with_its_holder(tmp_path: Path) -> None:
    lock = hold(tmp_path)
    with pytest.raises(SandboxBusy, match="Another sandbox"):
        hold(tmp_path)
    lock.release()
    hold(tmp_path).release()

"""`ftbot sandbox`: run the sandbox alone and print its endpoints and keys."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

from aiohttp import web

from sandbox.app import create_sandbox_app
from sandbox.contract import ACCOUNT, BOT_PRINCIPAL, GRAPH, RESOURCE_GROUP, SUBSCRIPTION
from sandbox.service import SANDBOX, Sandbox


def banner(base: str, sandbox: Sandbox, *, given: bool, faults: str) -> str:
    """What `ftbot sandbox` prints: where each surface answers, its access secret (`given` by
    SANDBOX_ARM_TOKEN, or generated at this start) and the well-known account."""
    endpoint = f"{base}/openai-accounts/{ACCOUNT}/"
    keys = sandbox.default_keys()
    origin = (
        "from SANDBOX_ARM_TOKEN" if given else "generated now; set SANDBOX_ARM_TOKEN to keep one"
    )
    return "\n".join(
        [
            f"Azure sandbox listening on {base} (data in {sandbox.data_dir})",
            f"  Resource Manager base URL  {base}",
            f"  SANDBOX_ARM_TOKEN          {sandbox.secret}   ({origin})",
            "  bearer tokens              <secret> acts as the bot's principal "
            f"({BOT_PRINCIPAL}); <secret>:<object id> as that principal",
            f"  AZURE_OPENAI_ENDPOINT      {endpoint}",
            f"  Microsoft Graph            {base}{GRAPH}   (its tenant: {base}/graph/tenant)",
            f"  AZURE_OPENAI_API_KEY       {keys[0]}",
            f"  KEY2                       {keys[1]}",
            f"  subscription {SUBSCRIPTION}, resource group {RESOURCE_GROUP}, account {ACCOUNT}",
            f"  speedup {sandbox.clock.speedup:g}, faults {faults or 'none'}",
        ]
    )


async def _serve(
    data_dir: Path,
    host: str,
    port: int,
    *,
    speedup: float,
    faults: str,
    arm_token: str,
    cost_delay_hours: float,
) -> None:
    app = create_sandbox_app(
        data_dir,
        speedup=speedup,
        faults=faults,
        arm_token=arm_token,
        cost_delay_hours=cost_delay_hours,
    )
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        text = banner(f"http://{host}:{port}", app[SANDBOX], given=bool(arm_token), faults=faults)
        print(text, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(
    data_dir: Path,
    host: str,
    port: int,
    *,
    speedup: float = 1.0,
    faults: str = "",
    arm_token: str = "",
    cost_delay_hours: float = 8.0,
) -> int:
    """Run the sandbox on `data_dir` until interrupted; returns the exit status. The keywords are
    those of `create_sandbox_app` (SANDBOX_SPEEDUP, SANDBOX_FAULTS, SANDBOX_ARM_TOKEN,
    FTBOT_COST_DELAY_HOURS)."""
    asyncio.run(
        _serve(
            data_dir,
            host,
            port,
            speedup=speedup,
            faults=faults,
            arm_token=arm_token,
            cost_delay_hours=cost_delay_hours,
        )
    )
    return 0

"""`ftbot sandbox`: run the sandbox alone and print its endpoints and keys."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from aiohttp import web

from infra.sandbox.app import create_sandbox_app
from infra.sandbox.service import SANDBOX
from infra.settings import (
    SANDBOX_ACCOUNT,
    SANDBOX_BOT_PRINCIPAL,
    SANDBOX_RESOURCE_GROUP,
    SANDBOX_SUBSCRIPTION,
    Settings,
)


def banner(base: str, keys: tuple[str, str], settings: Settings, secret: str) -> str:
    """What `ftbot sandbox` prints: where each surface answers, its access secret (the one
    generated at this start unless SANDBOX_ARM_TOKEN set it) and the well-known account."""
    endpoint = f"{base}/openai-accounts/{SANDBOX_ACCOUNT}/"
    given = bool(settings.sandbox_arm_token.get_secret_value())
    origin = (
        "from SANDBOX_ARM_TOKEN" if given else "generated now; set SANDBOX_ARM_TOKEN to keep one"
    )
    return "\n".join(
        [
            f"Azure sandbox listening on {base} (data in {settings.data_dir / 'sandbox'})",
            f"  Resource Manager base URL  {base}",
            f"  SANDBOX_ARM_TOKEN          {secret}   ({origin})",
            "  bearer tokens              <secret> acts as the bot's principal "
            f"({SANDBOX_BOT_PRINCIPAL}); <secret>:<object id> as that principal",
            f"  AZURE_OPENAI_ENDPOINT      {endpoint}",
            f"  AZURE_OPENAI_API_KEY       {keys[0]}",
            f"  KEY2                       {keys[1]}",
            f"  subscription {SANDBOX_SUBSCRIPTION}, resource group {SANDBOX_RESOURCE_GROUP}, "
            f"account {SANDBOX_ACCOUNT}",
            f"  speedup {settings.sandbox_speedup:g}, faults {settings.sandbox_faults or 'none'}",
        ]
    )


async def _serve(settings: Settings, host: str, port: int) -> None:
    app = create_sandbox_app(
        settings.data_dir / "sandbox",
        speedup=settings.sandbox_speedup,
        faults=settings.sandbox_faults,
        arm_token=settings.sandbox_arm_token.get_secret_value(),
    )
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        sandbox = app[SANDBOX]
        base = f"http://{host}:{port}"
        print(banner(base, sandbox.default_keys(), settings, sandbox.secret), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(settings: Settings, host: str, port: int) -> int:
    """Run the sandbox until interrupted; returns the exit status."""
    asyncio.run(_serve(settings, host, port))
    return 0

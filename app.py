"""The bot service: `create_app(settings)` builds the aiohttp app, `main()` runs it."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator

from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter

from bot.adapter import create_adapter
from bot.commands import build_router
from bot.handler import FineTuneBot
from bot.help import mode_line
from bot.hosting import Hosting
from bot.notifier import Notifier
from bot.services import Services
from bot.training import resume_launches
from bot.watcher import JobWatcher
from infra.azure import AzureClients, azure_clients
from infra.settings import Settings, load_settings
from infra.storage import SqliteStorage
from infra.tasks import Tasks
from skills.datasets import DatasetStore

log = logging.getLogger("ftbot")

ADAPTER = web.AppKey("adapter", CloudAdapter)
BOT = web.AppKey("bot", FineTuneBot)


async def messages(request: web.Request) -> web.StreamResponse:
    """POST /api/messages: one Bot Framework activity."""
    if "application/json" not in request.headers.get("Content-Type", ""):
        return web.json_response({"error": "expected an application/json activity"}, status=415)
    try:
        await request.json()
    except ValueError:
        return web.json_response({"error": "the body is not JSON"}, status=400)
    response = await request.app[ADAPTER].process(request, request.app[BOT])
    return response if response is not None else web.Response(status=201)


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: the service is up."""
    return web.json_response({"status": "ok"})


def create_app(settings: Settings) -> web.Application:
    """The bot's aiohttp application, with everything built from `settings`."""
    storage = SqliteStorage(settings.data_dir / "state.sqlite3")
    adapter = create_adapter(settings)
    notifier = Notifier(adapter, storage, settings.app_id)
    tasks = Tasks()
    clients: list[AzureClients] = []  # built at start (infra/azure.py), closed at cleanup
    watcher = JobWatcher(settings, storage, notifier, tasks, lambda: clients[0].openai)
    hosting = Hosting.for_settings(settings, lambda: clients[0])  # deploy and chat
    datasets = DatasetStore(settings.data_dir / "datasets")
    services = Services(settings, storage, notifier, tasks, datasets, watcher, hosting)
    app = web.Application()
    app[ADAPTER] = adapter
    app[BOT] = FineTuneBot(build_router(), services)
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)

    async def close(_: web.Application) -> None:
        await services.tasks.close()
        await adapter.close()  # after the last proactive send
        storage.close()

    async def forget(app: web.Application) -> None:
        await app[BOT].forget_old_deliveries()

    app.on_startup.append(forget)

    async def azure(_: web.Application) -> AsyncIterator[None]:
        async with azure_clients(settings) as built:
            clients.append(built)
            await watcher.start()  # resumes the watch list of unfinished jobs
            await resume_launches(services)
            await hosting.start(services)  # deployments in progress, the idle watcher
            yield
            await watcher.stop()
            await tasks.close()  # launches too: stop all work before the clients close

    app.cleanup_ctx.append(azure)
    if settings.sandbox_mode:
        from infra.sandbox import create_sandbox_app

        sandbox = create_sandbox_app(
            settings.data_dir / "sandbox",
            speedup=settings.sandbox_speedup,
            faults=settings.sandbox_faults,
            arm_token=settings.sandbox_arm_token.get_secret_value(),
        )
        app.add_subapp("/sandbox", sandbox)
    app.on_cleanup.append(close)
    return app


def main() -> int:
    """Start the bot with settings from the environment (a bad one raises a one-line UserError)."""
    settings = load_settings()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for chatty in ("azure", "httpx", "httpx2", "openai"):  # every request, headers included
        logging.getLogger(chatty).setLevel(logging.WARNING)
    app = create_app(settings)
    print(
        f"FineTune Ops listening on http://{settings.host}:{settings.port}/api/messages "
        f"(data in {settings.data_dir}). {mode_line(settings)}",
        flush=True,
    )
    web.run_app(app, host=settings.host, port=settings.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

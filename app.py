"""The bot service: `create_app(settings)` builds the aiohttp app, `main()` runs it."""

from __future__ import annotations

import logging
import sys

from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter
from pydantic import ValidationError

from bot.adapter import create_adapter
from bot.commands import build_router
from bot.handler import FineTuneBot
from bot.help import mode_line
from bot.notifier import Notifier
from bot.services import Services
from infra.settings import Settings, describe_error, load_settings
from infra.storage import SqliteStorage
from infra.tasks import Tasks

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
    services = Services(settings, storage, Notifier(adapter, storage, settings.app_id), Tasks())
    app = web.Application()
    app[ADAPTER] = adapter
    app[BOT] = FineTuneBot(build_router(), services)
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)

    async def close(_: web.Application) -> None:
        await services.tasks.close()
        storage.close()

    app.on_cleanup.append(close)
    return app


def main() -> int:
    """Start the bot with settings from the environment; a bad setting stops it with one line."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings()
    except ValidationError as error:
        print(f"ftbot: {describe_error(error)}", file=sys.stderr)
        return 2
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

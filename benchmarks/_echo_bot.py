"""The baseline: a bare botbuilder echo bot (CloudAdapter, one `send_activity` per message).

`python -m benchmarks._echo_bot PORT` serves it on 127.0.0.1; the same pinned botbuilder as ours.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication


class EchoBot(ActivityHandler):  # type: ignore[misc]
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(f"Echo: {turn_context.activity.text}")


def main(port: int) -> None:
    """Serve the echo bot at http://127.0.0.1:`port`/api/messages (no app id: local mode)."""
    config = SimpleNamespace(APP_ID="", APP_PASSWORD="")
    adapter, bot = CloudAdapter(ConfigurationBotFrameworkAuthentication(config)), EchoBot()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot) or web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))

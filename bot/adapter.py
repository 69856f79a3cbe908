"""The Bot Framework adapter: CloudAdapter with configuration from our settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)

from infra.errors import unexpected
from infra.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _BotFrameworkConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str


def create_adapter(settings: Settings) -> CloudAdapter:
    """A CloudAdapter; with no app id it runs in local mode (Emulator, Agents Playground)."""
    config = _BotFrameworkConfig(
        APP_ID=settings.app_id,
        APP_PASSWORD=settings.app_password.get_secret_value(),
        APP_TYPE=settings.app_type,
        APP_TENANTID=settings.app_tenant_id,
    )
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))

    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        sentence = unexpected("turn", error)
        try:
            await context.send_activity(sentence)
        except Exception:
            log.exception("could not tell the user: %s", sentence)

    adapter.on_turn_error = on_turn_error
    return adapter

"""The Bot Framework adapter: CloudAdapter with configuration from our settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)

from bot.connector import SharedConnectors, SharedCredentials
from infra.errors import unexpected
from infra.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _BotFrameworkConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads (None: the default)."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str
    TO_CHANNEL_FROM_BOT_LOGIN_URL: str | None
    TO_CHANNEL_FROM_BOT_OAUTH_SCOPE: str | None
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: str | None
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str | None
    VALIDATE_AUTHORITY: bool


class Adapter(CloudAdapter):  # type: ignore[misc]
    """CloudAdapter whose connector clients are shared (bot/connector.py)."""

    def __init__(self, connectors: SharedConnectors) -> None:
        super().__init__(connectors)
        self.connectors = connectors

    async def close(self) -> None:
        """Release the connectors' HTTP session (at app cleanup)."""
        await self.connectors.close()


def create_adapter(settings: Settings) -> Adapter:
    """A CloudAdapter; with no app id it runs in local mode (Emulator, Agents Playground)."""
    config = _BotFrameworkConfig(
        APP_ID=settings.app_id,
        APP_PASSWORD=settings.app_password.get_secret_value(),
        APP_TYPE=settings.app_type,
        APP_TENANTID=settings.app_tenant_id,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=settings.bot_login_url or None,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=settings.bot_oauth_scope or None,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=settings.channel_token_issuer or None,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.channel_openid_metadata_url or None,
        VALIDATE_AUTHORITY=settings.validate_authority,
    )
    credentials = SharedCredentials(ConfigurationServiceClientCredentialFactory(config))
    authentication = ConfigurationBotFrameworkAuthentication(
        config, credentials_factory=credentials
    )
    adapter = Adapter(SharedConnectors(authentication))

    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        sentence = unexpected("turn", error)
        try:
            await context.send_activity(sentence)
        except Exception:
            log.exception("could not tell the user: %s", sentence)

    adapter.on_turn_error = on_turn_error
    return adapter

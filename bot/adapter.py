"""The Bot Framework adapter: CloudAdapter with configuration from our settings, and the one place
an inbound token is checked (`authenticate`), with its failures told apart: a token that does not
prove who sent it (`Unauthorized`, HTTP 401) or the keys to check it with out of reach
(`AuthUnavailable`, HTTP 503)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    PasswordServiceClientCredentialFactory,
    ServiceClientCredentialsFactory,
)

from bot.connector import SharedConnectors, SharedCredentials
from bot.language import spoken
from infra import i18n
from infra.errors import unexpected
from infra.settings import Settings

log = logging.getLogger(__name__)

# The public cloud's values, for the settings left empty when another cloud setting is given
# (botbuilder then reads every one of them from the configuration).
_PUBLIC_CHANNEL_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
_PUBLIC_EMULATOR_METADATA = (
    "https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration"
)


@dataclass(frozen=True)
class _BotFrameworkConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads (None: the default)."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: str | None = None
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str | None = None
    TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL: str | None = None
    TO_CHANNEL_FROM_BOT_LOGIN_URL: str | None = None
    TO_CHANNEL_FROM_BOT_OAUTH_SCOPE: str | None = None
    OAUTH_URL: str | None = None
    CALLER_ID: str | None = None
    VALIDATE_AUTHORITY: bool = True


def _config(settings: Settings) -> _BotFrameworkConfig:
    """The app's registration and, where a setting names another cloud (a private one, or a
    loopback test), every cloud value: the given ones, the public cloud's for the rest."""
    base = _BotFrameworkConfig(
        APP_ID=settings.app_id,
        APP_PASSWORD=settings.app_password.get_secret_value(),
        APP_TYPE=settings.app_type,
        APP_TENANTID=settings.app_tenant_id,
        VALIDATE_AUTHORITY=settings.validate_authority,
    )
    cloud = (
        settings.bot_login_url,
        settings.bot_oauth_scope,
        settings.channel_token_issuer,
        settings.channel_openid_metadata_url,
        settings.emulator_openid_metadata_url,
    )
    if not any(cloud):
        return base  # botbuilder's built-in public cloud
    return _BotFrameworkConfig(
        APP_ID=base.APP_ID,
        APP_PASSWORD=base.APP_PASSWORD,
        APP_TYPE=base.APP_TYPE,
        APP_TENANTID=base.APP_TENANTID,
        VALIDATE_AUTHORITY=base.VALIDATE_AUTHORITY,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=settings.channel_token_issuer
        or AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.channel_openid_metadata_url
        or _PUBLIC_CHANNEL_METADATA,
        TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=settings.emulator_openid_metadata_url
        or _PUBLIC_EMULATOR_METADATA,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=settings.bot_login_url
        or AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=settings.bot_oauth_scope
        or AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
        OAUTH_URL=AuthenticationConstants.OAUTH_URL,
        CALLER_ID=str(CallerIdConstants.public_azure_channel.value),
    )


class Adapter(CloudAdapter):  # type: ignore[misc]
    """CloudAdapter whose connector clients are shared (bot/connector.py)."""

    def __init__(self, connectors: SharedConnectors) -> None:
        super().__init__(connectors)
        self.connectors = connectors

    async def close(self) -> None:
        """Release the connectors' HTTP session (at app cleanup)."""
        await self.connectors.close()


def bot_credentials(
    settings: Settings, assertion: Callable[[], str] | None = None
) -> SharedCredentials:
    """The bot's credentials factory (its Bot Framework token). With `assertion`
    (infra/identity.py) the app registration signs in with its managed identity's token instead
    of a password."""
    factory: ServiceClientCredentialsFactory
    if assertion is not None:  # botbuilder's configuration factory insists on a password
        tenant = settings.app_tenant_id if settings.app_type == "SingleTenant" else None
        factory = PasswordServiceClientCredentialFactory(settings.app_id, "", tenant)
    else:
        factory = ConfigurationServiceClientCredentialFactory(_config(settings))
    return SharedCredentials(factory, assertion)


def login(settings: Settings) -> tuple[str, str]:
    """Where the bot gets its Bot Framework token, and for which scope: the settings' cloud, else
    the public one."""
    return (
        settings.bot_login_url or AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
        settings.bot_oauth_scope or AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
    )


def create_adapter(settings: Settings, assertion: Callable[[], str] | None = None) -> Adapter:
    """A CloudAdapter; with no app id it runs in local mode (Emulator, Agents Playground)."""
    config = _config(settings)
    authentication = ConfigurationBotFrameworkAuthentication(
        config, credentials_factory=bot_credentials(settings, assertion)
    )
    adapter = Adapter(SharedConnectors(authentication))

    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        with i18n.use(spoken(context)):
            sentence = unexpected("turn", error)
        try:
            await context.send_activity(sentence)
        except Exception:
            log.exception("could not tell the user: %s", sentence)

    adapter.on_turn_error = on_turn_error
    return adapter


class Unauthorized(Exception):
    """The request's token does not prove it comes from the channel for this bot (HTTP 401)."""


class AuthUnavailable(Exception):
    """The keys that would check the token cannot be fetched now (HTTP 503)."""


async def authenticate(
    adapter: CloudAdapter, activity: Activity, header: str
) -> AuthenticateRequestResult:
    """botbuilder's own check of the request's token, its failures told apart.

    botbuilder signals a refused token with PermissionError, but a garbage, unsigned, wrongly
    signed or expired one escapes it as whatever PyJWT or its key lookup raised; a network error
    while fetching the OpenID metadata or its keys (requests' errors are OSErrors) is ours to
    report as unavailable, not as the caller's fault.
    """
    try:
        result: AuthenticateRequestResult = (
            await adapter.bot_framework_authentication.authenticate_request(activity, header)
        )
    except PermissionError as error:  # botbuilder's refusal (an OSError too: caught first)
        raise Unauthorized(str(error)[:200]) from None
    except OSError as error:
        raise AuthUnavailable(type(error).__name__) from None
    except Exception as error:  # every other failure means the token proves nothing
        raise Unauthorized(f"{type(error).__name__}: {str(error)[:200]}") from None
    return result

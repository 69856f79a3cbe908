"""`ftbot doctor`'s checks of the Bot Framework side (infra/doctor.py has the result type): the
bot gets its Bot Framework token, and the Teams package would validate."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from bot.adapter import bot_credentials, login
from bot.commands import build_router
from bot.package import package_files
from infra.doctor import Check, bounded, failed, ok, reason, skipped
from infra.errors import UserError
from infra.settings import Settings


async def bot_framework_check(settings: Settings, assertion: Callable[[], str] | None) -> Check:
    """The bot's app registration gets a token for the Bot Connector, as a reply needs."""
    name = "Bot Framework token"
    if settings.local_mode:
        return skipped(name, "local mode (no MicrosoftAppId): the Emulator and the Agents "
                       "Playground need no token, and nothing stands in for the Bot Framework "
                       "login")  # fmt: skip
    endpoint, scope = login(settings)
    try:
        factory = bot_credentials(settings, assertion)
        credentials = await factory.create_credentials(
            settings.app_id, scope, endpoint, settings.validate_authority
        )
        await bounded(lambda: asyncio.to_thread(credentials.get_access_token))
    except Exception as error:
        return failed(
            name,
            f"app {settings.app_id} got no token from {endpoint}: {_why(error)}.",
            "check MicrosoftAppId, MicrosoftAppType, MicrosoftAppTenantId and the app's "
            "credential (MicrosoftAppPassword, or FTBOT_FEDERATED_CLIENT_ID and the app's "
            "federated credential).",
        )
    return ok(name, f"app {settings.app_id} signed in at {endpoint}")


def _why(error: Exception) -> str:
    """botbuilder's refusal by its OAuth error code alone (the description is the login's text),
    anything else as infra.doctor.reason says it."""
    code = re.search(r"with error: ([\w-]+)", str(error))
    if isinstance(error, PermissionError) and code:
        return f"the login refused it ({code.group(1)})"
    return reason(error)


def package_check(settings: Settings) -> Check:
    """`make package` would build a valid Teams app package from these settings."""
    name = "Teams package"
    if not settings.app_id:
        return skipped(name, "no MicrosoftAppId: make package needs it and FTBOT_PUBLIC_HOST")
    try:
        package_files(build_router(), settings.app_id, settings.public_host)
    except UserError as error:
        return failed(name, error.message, "set FTBOT_PUBLIC_HOST to the bot's host name (like "
                      "bot.contoso.com: the azd output FTBOT_PUBLIC_HOST).")  # fmt: skip
    return ok(name, "the manifest (schema 1.29), its Korean localization and the icons validate")

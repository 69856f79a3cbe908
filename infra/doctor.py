"""`ftbot doctor`: one line per check of a configuration, and the checks of what infra/ owns (the
settings, the state store, Microsoft Graph). The other layers check theirs (skills/doctor.py: Azure
OpenAI and the bot identity's roles; bot/doctor.py: the Bot Framework token and the Teams
package); app.py runs them in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from infra.errors import UserError
from infra.files import private_dir
from infra.graph import Graph
from infra.settings import Settings, missing_for_production
from infra.state import open_state

Status = Literal["ok", "failed", "skipped"]
MARKS: dict[Status, str] = {"ok": "✓", "failed": "✗", "skipped": "skipped"}
SECONDS = 60.0
"""At most this long per check: an unreachable service is a failed check, not a hung doctor."""
T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    """The result of one check: what was checked, how it went, what was found, and the fix."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        """`✓ name: detail`, `✗ name: detail Fix: ...`, `skipped name: why`."""
        text = f"{MARKS[self.status]} {self.name}: {self.detail}"
        return f"{text} Fix: {self.fix}" if self.fix else text


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, "failed", detail, fix)


def skipped(name: str, why: str) -> Check:
    return Check(name, "skipped", why)


def reason(error: BaseException) -> str:
    """An exception as a short clause for a check's line (its type and first line)."""
    text = str(error).strip().splitlines()[0][:200].rstrip(".") if str(error).strip() else ""
    if isinstance(error, UserError):
        return error.message.rstrip(".")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def bounded(call: Callable[[], Awaitable[T]]) -> T:
    """`call()`, failing with TimeoutError after SECONDS."""
    return await asyncio.wait_for(call(), SECONDS)


def settings_check(settings: Settings) -> Check:
    """The production settings are all there (a bot Teams talks to, on Azure, shared state)."""
    name = "Settings"
    if settings.local_mode:
        return skipped(
            name,
            "local mode (no MicrosoftAppId): the production settings apply to a "
            "bot that Teams talks to",
        )
    if settings.sandbox_mode:
        return ok(
            name,
            "production on a sandbox stand-in for Azure (FTBOT_SANDBOX_URL or FTBOT_DEMO_SANDBOX)",
        )
    missing = missing_for_production(settings)
    if missing:
        return failed(
            name,
            f"missing {', '.join(missing)}.",
            'set them where the bot runs (deploy/bot.bicep sets them all; README "Deploy to '
            'Azure").',
        )
    return ok(name, "every production setting is there")


PROBE = "doctor/probe"
"""The record the state check writes, reads back and deletes."""


async def state_check(settings: Settings) -> Check:
    """The state store is reachable and writable; with Blob Storage, leases work too."""
    name = "State store"
    where = (
        f"SQLite in {settings.data_dir}"
        if settings.state == "sqlite"
        else f"Blob Storage, container {settings.state_container}"
    )
    fix = (
        "make FTBOT_DATA_DIR a folder this user can write."
        if settings.state == "sqlite"
        else "check AZURE_STORAGE_ACCOUNT_URL (or AZURE_STORAGE_CONNECTION_STRING) and that the "
        "bot's identity holds Storage Blob Data Contributor on the account "
        "(deploy/bot.bicep assigns it)."
    )
    try:
        if settings.state == "sqlite":
            private_dir(settings.data_dir)  # as the bot's start makes it
        state = open_state(settings, quick=True)  # an unreachable account: said in seconds
    except Exception as error:
        return failed(name, f"{where}: {reason(error)}.", fix)
    try:
        value = {"instance": settings.instance}
        if not await bounded(lambda: state.storage.create(PROBE, value)):
            await bounded(lambda: state.storage.delete([PROBE]))
            await bounded(lambda: state.storage.create(PROBE, value))
        found = await bounded(lambda: state.storage.read([PROBE]))
        await bounded(lambda: state.storage.delete([PROBE]))
        if PROBE not in found:
            return failed(name, f"{where}: a record written was not read back.", fix)
        if settings.state == "sqlite":
            return ok(name, f"{where}: written, read back and deleted")
        if not await bounded(lambda: state.owners.claim(PROBE)):
            return failed(name, f"{where}: a lease could not be taken.", fix)
        await bounded(lambda: state.owners.release(PROBE))
        return ok(name, f"{where}: written, read back, deleted; a lease taken and released")
    except Exception as error:
        return failed(name, f"{where}: {reason(error)}.", fix)
    finally:
        await state.close()


async def graph_check(settings: Settings, assertion: Callable[[], str] | None) -> Check:
    """The bot signs in to Microsoft Graph as its app (files in channels and group chats), or the
    fallback applies (the bot offers a personal chat)."""
    name = "Microsoft Graph"
    if not settings.app_id and settings.sandbox_mode:
        return skipped(
            name,
            "no MicrosoftAppId: files in channels and group chats are read through the "
            "sandbox's Graph stand-in (`ftbot sandbox post-file` puts one there)",
        )
    if not settings.app_id:
        return skipped(
            name,
            "no MicrosoftAppId: files in channels and group chats take the "
            "fallback (the bot offers a personal chat)",
        )
    if not settings.app_tenant_id:
        return skipped(
            name,
            "no MicrosoftAppTenantId: a multi-tenant bot signs in to each team's "
            "tenant when a file first arrives",
        )
    graph = Graph(
        settings.graph_url,
        settings.app_id,
        settings.app_password.get_secret_value(),
        settings.authority_host,
        assertion,
    )
    try:
        await bounded(lambda: graph.token(settings.app_tenant_id))
    except Exception as error:
        return failed(
            name,
            f"could not sign in as app {settings.app_id}: {reason(error)}; files in channels "
            "take the fallback (a personal chat).",
            "check MicrosoftAppTenantId and the app's credential (MicrosoftAppPassword, or "
            "FTBOT_FEDERATED_CLIENT_ID and the app's federated credential).",
        )
    finally:
        await graph.close()
    return ok(
        name,
        f"signed in as app {settings.app_id}; a team grants the files when it "
        "installs the app (resource-specific consent)",
    )

"""The 15-day rule: warn 48 hours before Azure deletes an idle deployment the bot created.

One background loop over the deployment records (state store). For each fine-tuned deployment
the bot created, the idle period starts at its creation or at the last completion the bot made;
13 days into it the conversation that deployed it gets a warning card with "Keep alive" and
"Delete now". The warning is a once-only key per deployment and idle period, claimed before it
is sent (and released if sending fails), so it comes once, across restarts. Time is the service's
clock (`ServiceClock`): sandbox time when SANDBOX_SPEEDUP runs it faster, so tests need no real
days; the loop sleeps until the next warning is due, in real seconds, and looks again at least
every service hour.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from adaptive_cards import deployment as cards
from bot.hosting import account_of, clients, clock_of
from bot.services import Services
from bot.turn import card_activity
from skills import deployment as hosting
from skills import deployment_records as records
from skills.deployment import Account
from skills.deployment_records import DeploymentRecord

log = logging.getLogger(__name__)

MAX_SLEEP = 30.0
"""Longest real pause between two looks (new deployments may come at any time)."""
MIN_SLEEP = 0.02
SYNC_SECONDS = 600.0
"""Real seconds between two readings of the service's clock."""


async def watch_idle(services: Services) -> None:
    """Run forever: send each due warning once, note deployments Azure removed."""
    synced = -math.inf
    while True:
        try:
            if time.monotonic() - synced >= SYNC_SECONDS:
                await sync_clock(services)
                synced = time.monotonic()
            due = await check_once(services)
        except Exception:  # Azure or the channel unreachable for now: look again later
            log.warning("idle watcher: check failed; trying again", exc_info=True)
            await asyncio.sleep(min(1.0, sleep_seconds(services, math.inf)))
            continue
        await asyncio.sleep(sleep_seconds(services, due))


async def sync_clock(services: Services) -> None:
    """Read the service's time from a cheap Resource Manager call (after a restart, the sandbox's
    clock may be far ahead of wall-clock time)."""
    azure = clients(services)
    await hosting.list_deployments(azure.cognitive, account_of(azure), clock_of(services).observe)


def sleep_seconds(services: Services, next_due: float) -> float:
    """Real seconds until the next look: the next due warning, at most a service hour away."""
    clock = clock_of(services)
    hour = clock.real_seconds(hosting.HOUR)
    wait = clock.real_seconds(next_due - clock.now()) if math.isfinite(next_due) else hour
    return max(MIN_SLEEP, min(MAX_SLEEP, hour, wait))


async def check_once(services: Services) -> float:
    """Send the warnings that are due; returns the service time the next one is due."""
    account = account_of(clients(services))
    clock = clock_of(services)
    next_due = math.inf
    for record in await records.all_records(services.storage, account):
        if not _watched(record):
            continue
        since = max(record.last_used, record.created_at)
        now = clock.now()
        warn_at = hosting.warning_at(since)
        if now < warn_at:
            next_due = min(next_due, warn_at)
            continue
        if now >= since + hosting.IDLE_LIMIT:
            await _expired(services, account, record)
            continue
        await _warn(services, account, record, since)
    return next_due


def _watched(record: DeploymentRecord) -> bool:
    return (
        record.fine_tuned
        and record.state == records.SUCCEEDED
        and bool(record.conversation_id)
        and bool(record.created_at or record.last_used)
    )


async def _warn(
    services: Services, account: Account, record: DeploymentRecord, since: float
) -> None:
    """Send this idle period's warning, once."""
    key = records.warning_key(account, record.name, since)
    if not await services.storage.create(key, {"deployment": record.name, "since": since}):
        return
    try:
        azure = clients(services)
        clock = clock_of(services)
        info = await hosting.get_deployment(azure.cognitive, account, record.name, clock.observe)
        if info is None or info.model != record.model:
            await records.change_record(
                services.storage,
                account,
                record.name,
                state=records.DELETED,
                reason="deleted outside the bot",
            )
            return
        now = clock.now()
        content = cards.idle_warning_card(
            record.name,
            record.model,
            hosting.span(now - since),
            hosting.span(since + hosting.IDLE_LIMIT - now),
        )
        summary = f"{record.name} will be deleted for inactivity"
        card_id = await services.notifier.send(
            record.conversation_id, card_activity(content, summary)
        )
    except Exception:
        await services.storage.delete([key])  # not sent: the next look tries again
        raise
    # Cancelled (shutdown) mid-send: the claim stays, as the card may have gone out already;
    # at most once is better than twice.
    await records.change_record(
        services.storage,
        account,
        record.name,
        warning_card=card_id,
        warning_conversation=record.conversation_id,
    )


async def _expired(services: Services, account: Account, record: DeploymentRecord) -> None:
    """15 idle days are over: if Azure removed it, say so once, with a way back."""
    azure, clock = clients(services), clock_of(services)
    info = await hosting.get_deployment(azure.cognitive, account, record.name, clock.observe)
    if info is not None and info.model == record.model:
        return  # Azure has not removed it (yet); a completion elsewhere may have kept it
    changed = await records.change_record(
        services.storage, account, record.name, state=records.DELETED, reason="inactivity"
    )
    content = cards.deleted_for_inactivity_card(record.name, record.model)
    await services.notifier.send(
        changed.conversation_id, card_activity(content, f"{record.name} was deleted")
    )

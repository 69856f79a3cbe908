"""Deployments being created or deleted, followed in the background: the card that asked for one
is updated in place (from a tracked task, resumed after a restart) until Azure says it succeeded,
failed or is gone.
"""

from __future__ import annotations

import asyncio
import logging
import time

from azure.core.exceptions import AzureError

from adaptive_cards import deployment as cards
from adaptive_cards.common import Card
from bot.hosting import account_of, clients, clock_of
from bot.services import Services
from bot.turn import card_activity
from infra.errors import UserError
from skills import deployment as hosting
from skills import deployment_records as records
from skills.deployment import Account, DeploymentInfo
from skills.deployment_records import DeploymentRecord
from skills.service_clock import ServiceClock

log = logging.getLogger(__name__)

POLL_SERVICE_SECONDS = 15.0
"""How often (service time) a deployment being created or deleted is checked."""
MAX_POLL_SECONDS = 10.0
MIN_POLL_SECONDS = 0.1
CARD_UPDATE_SECONDS = 5.0
"""At most one in-place update of a following card per this many real seconds."""
ELAPSED_UPDATE_SECONDS = 60.0
"""A following card whose state did not change is refreshed (elapsed time) this often."""
GIVE_UP_AFTER = 3 * hosting.HOUR
"""Service time after which a deployment still creating is left to `deployments`."""
GIVE_UP_REAL_SECONDS = 60.0
"""...and never sooner than this in real time (sandbox time may run very fast)."""


def poll_seconds(clock: ServiceClock) -> float:
    """Real seconds between two checks of a deployment in progress."""
    return min(MAX_POLL_SECONDS, max(MIN_POLL_SECONDS, clock.real_seconds(POLL_SERVICE_SECONDS)))


def follow_deployment(services: Services, name: str) -> None:
    """Start following a deployment being created or deleted (once per deployment)."""
    active = services.hosting.following
    if name.lower() in active:
        return
    active.add(name.lower())

    async def run() -> None:
        try:
            await _follow(services, name)
        finally:
            active.discard(name.lower())

    services.tasks.spawn(run(), f"follow deployment {name}")


async def resume_following(services: Services) -> None:
    """After a start: follow again every deployment left creating or deleting."""
    account = account_of(clients(services))
    for record in await records.all_records(services.storage, account):
        if record.state in (records.CREATING, records.DELETING):
            follow_deployment(services, record.name)


async def _follow(services: Services, name: str) -> None:
    azure, clock = clients(services), clock_of(services)
    account = account_of(azure)
    shown: str | None = None
    shown_at = time.monotonic()
    begun = time.monotonic()
    give_up = max(GIVE_UP_REAL_SECONDS, clock.real_seconds(GIVE_UP_AFTER))
    while True:
        record = await records.read_record(services.storage, account, name)
        if record is None or record.state not in (records.CREATING, records.DELETING):
            return
        try:
            info = await hosting.get_deployment(azure.cognitive, account, name, clock.observe)
        except (UserError, AzureError) as error:
            log.warning("following %s: %s", name, getattr(error, "message", error))
            await asyncio.sleep(poll_seconds(clock))
            continue
        if record.state == records.DELETING:
            if info is None:
                await _deleted(services, account, record)
                return
        elif info is None:
            await _finish(services, account, record, None, "Azure no longer shows it.")
            return
        elif info.ready or info.state.lower() == "failed":
            await _finish(services, account, record, info, "")
            return
        elif time.monotonic() - begun > give_up:
            reason = "It is still not ready after 3 hours; `deployments` shows its state."
            await _finish(services, account, record, info, reason)
            return
        elif shown is None:
            shown = info.state  # the card shows it already (or will within a minute)
        elif _refresh_due(info.state, shown, time.monotonic() - shown_at):
            plan = _record_plan(services, record)
            elapsed = hosting.span(clock.now() - record.started_at)
            progress = cards.progress_card(plan, info.state, elapsed)
            await _update(services, record, progress, f"Deploying {name}")
            shown, shown_at = info.state, time.monotonic()
        await asyncio.sleep(poll_seconds(clock))


def _refresh_due(state: str, shown: str, since_shown: float) -> bool:
    """A following card is updated for a new state (not more often than every few seconds),
    and once a minute for the elapsed time."""
    if state != shown:
        return since_shown >= CARD_UPDATE_SECONDS
    return since_shown >= ELAPSED_UPDATE_SECONDS


def _record_plan(services: Services, record: DeploymentRecord) -> cards.DeploymentPlan:
    return cards.DeploymentPlan(
        name=record.name,
        model=record.model,
        sku=record.sku,
        capacity=record.capacity,
        cost=hosting.cost_lines(record.sku, services.settings.hosting_prices, record.fine_tuned),
    )


async def _update(
    services: Services, record: DeploymentRecord, content: Card, summary: str
) -> None:
    """Update the record's card in its conversation; a new message when it has none."""
    if not record.conversation_id:
        return
    activity = card_activity(content, summary)
    if record.card_id:
        await services.notifier.update(record.conversation_id, record.card_id, activity)
    else:
        await services.notifier.send(record.conversation_id, activity)


async def _finish(
    services: Services,
    account: Account,
    record: DeploymentRecord,
    info: DeploymentInfo | None,
    reason: str,
) -> None:
    clock = clock_of(services)
    plan = _record_plan(services, record)
    elapsed = hosting.span(clock.now() - record.started_at)
    if info is not None and info.ready:
        created = info.created_at or record.created_at
        await records.change_record(
            services.storage,
            account,
            record.name,
            state=records.SUCCEEDED,
            created_at=created,
            last_used=max(record.last_used, created),
        )
        summary = f"{record.name} is deployed"
        await _update(services, record, cards.succeeded_card(plan, elapsed), summary)
        return
    if not reason:
        reason = (
            f"Azure reports the deployment as {info.state if info else 'gone'}. Check that the "
            "model is still there and that the resource has quota (5 fine-tuned deployments at "
            "most), then try again."
        )
    await records.change_record(
        services.storage, account, record.name, state=records.FAILED, reason=reason
    )
    retry_ref = record.ref or record.model
    content = cards.failed_card(plan, reason, retry_ref)
    await _update(services, record, content, f"Deployment of {record.name} failed")


async def _deleted(services: Services, account: Account, record: DeploymentRecord) -> None:
    await records.change_record(
        services.storage, account, record.name, state=records.DELETED, reason="user"
    )
    conversation = record.delete_conversation or record.conversation_id
    content = cards.deleting_card(record.name, "{name} is deleted")
    activity = card_activity(content, f"{record.name} is deleted")
    if conversation and record.delete_card:
        await services.notifier.update(conversation, record.delete_card, activity)
    elif conversation:
        await services.notifier.send(conversation, activity)

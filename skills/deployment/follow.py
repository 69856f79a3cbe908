"""Deployments being created or deleted, followed in the background: the card that asked for one
is updated in place (from a tracked task, resumed after a restart) until Azure says it succeeded,
failed or is gone. One owner follows a deployment (`infra.ownership`); it stops when it loses
that, and deployments in progress that nobody follows (a dead instance's) are picked up.

The follower also sends what its record asks for, so a crash never loses it: a deployment
recorded `requested` (before any request) gets its PUT here, unless Azure shows it already (a
PUT sent before a crash, or whose answer was lost: adopted); a record left `deleting` that Azure
still shows, not being deleted, gets its DELETE again. A card that the work never could post is
posted by its owner, here, and never by the turn that confirmed it (two instances would post
two).
"""

from __future__ import annotations

import asyncio
import logging
import time

from azure.core.exceptions import AzureError

from infra import i18n
from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import _
from skills.context import Context
from skills.deployment import arm
from skills.deployment.arm import DeploymentInfo
from skills.deployment.idle import HOUR
from skills.deployment.records import DeleteCard, DeploymentRecord
from skills.deployment.views import (
    DeploymentDeleted,
    DeploymentFailed,
    DeploymentProgress,
    DeploymentSucceeded,
    plan_of,
    state_label,
    state_said,
)
from skills.models import ModelChoice
from skills.notify import NotDelivered, View, show, try_show
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
GIVE_UP_AFTER = 3 * HOUR
"""Service time after which a deployment still creating is left to `deployments`."""
GIVE_UP_REAL_SECONDS = 60.0
"""...and never sooner than this in real time (sandbox time may run very fast)."""
IN_PROGRESS = ("requested", "creating", "deleting")
"""The states of a deployment that its follower carries on."""


def poll_seconds(clock: ServiceClock) -> float:
    """Real seconds between two checks of a deployment in progress."""
    return min(MAX_POLL_SECONDS, max(MIN_POLL_SECONDS, clock.real_seconds(POLL_SERVICE_SECONDS)))


def refresh_due(state: str, shown: str, since_shown: float) -> bool:
    """A following card is updated for a new state (not more often than every few seconds),
    and once a minute for the elapsed time."""
    if state != shown:
        return since_shown >= CARD_UPDATE_SECONDS
    return since_shown >= ELAPSED_UPDATE_SECONDS


def waiting_cards(record: DeploymentRecord) -> list[DeleteCard]:
    """The cards waiting for a record's deletion (one card, in records written before there
    could be several)."""
    cards = list(record.delete_cards)
    if not cards and (record.delete_conversation or record.conversation):
        conversation = record.delete_conversation or record.conversation
        cards.append(DeleteCard(conversation=conversation, card=record.delete_card))
    return cards


def deleted_view(record: DeploymentRecord, waiting: DeleteCard) -> DeploymentDeleted:
    """What the card `waiting` says once the deployment is gone: who deleted it, when that was
    not the card's own user (nobody here: it was deleted elsewhere)."""
    if not record.deleted_by:
        return DeploymentDeleted(record.name, elsewhere=True)
    if waiting.by and waiting.by == record.deleted_by:
        return DeploymentDeleted(record.name)
    return DeploymentDeleted(record.name, by=record.deleted_by)


def refuse_existing(existing: DeploymentInfo, model: str) -> None:
    """The sentence for a name that is taken (or being deleted)."""
    if existing.deleting:
        raise UserError(
            "`{name}` is being deleted; deploy again once `deployments` no longer lists it, or "
            "pick another name with `name=...`.",
            name=existing.name,
        )
    if existing.model == model:
        state = _("ready") if existing.ready else state_label(existing.state).lower()
        raise UserError(
            "`{name}` already serves this model ({state}); talk to it with `chat {name}`, or "
            "pick another name with `name=...`.",
            name=existing.name,
            state=state,
        )
    raise UserError(
        "The name `{name}` is taken by a deployment of `{model}`; choose another with `name=...`.",
        name=existing.name,
        model=existing.model,
    )


def owner_item(resource: Resource, name: str) -> str:
    """The ownership item of following a deployment."""
    return f"follow/{resource.subscription_id}/{resource.account}/{name.lower()}"


class Follower:
    """Follows deployments in progress, one task per deployment."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def follow(self, resource: Resource, name: str) -> None:
        """Start following a deployment being created or deleted (once per deployment)."""
        self.ctx.tasks.spawn(self._owned(resource, name), f"follow deployment {name}")

    async def resume(self) -> None:
        """Follow every deployment left requested, creating or deleting that nobody here
        follows, on every resource that has records."""
        for record in await self.ctx.records.all(DeploymentRecord):
            owned = self.ctx.owners.owns(owner_item(record.resource, record.name))
            if record.state in IN_PROGRESS and not owned:
                self.follow(record.resource, record.name)

    async def _owned(self, resource: Resource, name: str) -> None:
        item = owner_item(resource, name)
        if not await self.ctx.owners.claim(item):
            return  # followed already
        try:
            await self._follow(resource, name, item)
        finally:
            await self.ctx.owners.release(item)

    async def _follow(self, resource: Resource, name: str, item: str) -> None:
        clock = self.ctx.clock
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        shown: str | None = None
        shown_at = begun = time.monotonic()
        give_up = max(GIVE_UP_REAL_SECONDS, clock.real_seconds(GIVE_UP_AFTER))
        asked_delete = False
        while True:
            record = await self.ctx.records.get(DeploymentRecord.at(resource, name))
            if record is None or record.state not in IN_PROGRESS:
                return
            if not record.card and record.conversation and record.state != "deleting":
                await self.show(record, self._progress(record, "Accepted"))  # never posted yet
            try:
                info = await arm.get_deployment(cognitive, resource, name, clock.observe)
            except (UserError, AzureError) as error:
                log.warning("following %s: %s", name, getattr(error, "message", error))
                await asyncio.sleep(poll_seconds(clock))
                continue
            if not self.ctx.owners.owns(item):
                log.warning("deployment %s is no longer ours to follow", name)
                return
            with i18n.use(record.language):  # the card speaks its deployer's language
                if record.state == "requested":
                    if not await self._request(record, info):
                        return
                    shown = "Accepted"  # what the card shows until Azure says more
                elif record.state == "deleting":
                    if info is None:
                        await self._deleted(record)
                        return
                    if not info.deleting and not asked_delete:
                        asked_delete = True  # recorded before its DELETE, which a crash stopped
                        await self._ask_delete(record)
                elif info is None:
                    await self._finish(record, None, _("Azure no longer shows it."))
                    return
                elif info.ready or info.state.lower() == "failed":
                    await self._finish(record, info, "")
                    return
                elif time.monotonic() - begun > give_up:
                    reason = _(
                        "It is still not ready after 3 hours; `deployments` shows its state."
                    )
                    await self._finish(record, info, reason)
                    return
                elif shown is None:
                    shown = info.state  # the card shows it already (or will within a minute)
                elif refresh_due(info.state, shown, time.monotonic() - shown_at):
                    plan = plan_of(record, self.ctx.settings.hosting_prices)
                    elapsed = clock.now() - record.started_at
                    await self.show(record, DeploymentProgress(plan, info.state, elapsed))
                    shown, shown_at = info.state, time.monotonic()
            await asyncio.sleep(poll_seconds(clock))

    def _progress(self, record: DeploymentRecord, state: str) -> DeploymentProgress:
        plan = plan_of(record, self.ctx.settings.hosting_prices)
        elapsed = self.ctx.clock.now() - record.started_at if record.started_at else 0.0
        return DeploymentProgress(plan, state, elapsed)

    async def _request(self, record: DeploymentRecord, info: DeploymentInfo | None) -> bool:
        """Send the PUT of a deployment recorded as requested, or adopt the deployment Azure
        shows by that name already (this one's PUT, sent before a crash or answered with an
        error after all). False when Azure refused it (the card says why)."""
        resource, clock = record.resource, self.ctx.clock
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        choice = ModelChoice(record.model, record.version, record.fine_tuned, record.job)
        started = clock.now()
        try:
            if info is not None:
                if info.deleting or info.model != record.model:
                    refuse_existing(info, record.model)
            else:
                try:
                    info = await arm.start_deployment(
                        cognitive, resource, record.name, choice, record.sku, record.capacity
                    )
                except UserError:
                    info = await arm.get_deployment(cognitive, resource, record.name)
                    if info is None or info.model != record.model:
                        raise
        except AzureError as error:  # no answer at all: the next look sends it again
            log.warning("requesting deployment %s: %s", record.name, error)
            return True
        except UserError as error:
            await self._change(record, state="failed", reason=error.message)
            await self.ctx.audit.end(record.audit, "failed", error.said)
            plan = plan_of(record, self.ctx.settings.hosting_prices)
            retry = record.ref or record.model
            await self.show(record, DeploymentFailed(plan, error.message, retry))
            return False
        created = info.created_at or started
        accepted = {"state": "creating", "started_at": started, "created_at": created}

        def apply(found: DeploymentRecord | None) -> DeploymentRecord | None:
            if found is None or found.state != "requested":
                return None  # deleted meanwhile (teardown, delete): the loop carries that out
            return found.model_copy(update={**accepted, "last_used": created})

        await self.ctx.records.update(record.key(), apply)
        await self.ctx.audit.end(record.audit, "done", state_said(info.state))
        return True

    async def _ask_delete(self, record: DeploymentRecord) -> None:
        """Send the DELETE of a deployment recorded as being deleted (again: idempotent)."""
        cognitive = self.ctx.azure.cognitive(record.resource.subscription_id)
        try:
            await arm.begin_delete(cognitive, record.resource, record.name)
        except UserError as error:
            log.warning("deleting %s: %s", record.name, error.message)

    async def show(self, record: DeploymentRecord, view: View) -> None:
        """Update the record's card in its conversation, in the language of the person who
        deployed it; a card never posted is posted (its id kept), and one that could not be
        shown is shown at the next view."""
        if not record.conversation:
            return
        with i18n.use(record.language):
            card = await try_show(self.ctx.notify, record.conversation, record.card, view)
        if card != record.card:
            await self._change(record, card=card)

    async def _change(self, record: DeploymentRecord, **changes: object) -> None:
        def apply(found: DeploymentRecord | None) -> DeploymentRecord:
            return (found or record).model_copy(update=changes)

        await self.ctx.records.update(record.key(), apply)

    async def _finish(
        self, record: DeploymentRecord, info: DeploymentInfo | None, reason: str
    ) -> None:
        plan = plan_of(record, self.ctx.settings.hosting_prices)
        elapsed = self.ctx.clock.now() - record.started_at
        if info is not None and info.ready:
            created = info.created_at or record.created_at
            await self._change(
                record,
                state="succeeded",
                created_at=created,
                last_used=max(record.last_used, created),
            )
            await self.show(record, DeploymentSucceeded(plan, elapsed))
            return
        if not reason and info is None:
            reason = _(
                "Azure reports the deployment as gone. Check that the model is still there and "
                "that the resource has quota (5 fine-tuned deployments at most), then try again."
            )
        elif not reason:
            reason = _(
                "Azure reports the deployment as {state}. Check that the model is still there and "
                "that the resource has quota (5 fine-tuned deployments at most), then try again.",
                state=state_label(info.state) if info else "",
            )
        await self._change(record, state="failed", reason=reason)
        await self.show(record, DeploymentFailed(plan, reason, record.ref or record.model))

    async def _deleted(self, record: DeploymentRecord) -> None:
        """The deployment is gone: mark it deleted and tell every card that waited for it (the
        list is taken in the same write, so a card added later is answered by `Hosting.delete`)."""
        taken: list[DeleteCard] = []

        def apply(found: DeploymentRecord | None) -> DeploymentRecord:
            current = found or record
            taken[:] = waiting_cards(current)
            return current.model_copy(update={"state": "deleted", "reason": "user"})

        changed = await self.ctx.records.update(record.key(), apply)
        assert changed is not None
        for entry in {waiting.audit for waiting in taken if waiting.audit}:
            await self.ctx.audit.end(entry, "done")
        for waiting in taken:
            # the card speaks the language of whoever pressed Delete on it (the deployer's, in
            # records written before a waiting card carried its own)
            language = str(getattr(waiting, "language", "") or changed.language)
            try:
                with i18n.use(language):
                    await show(
                        self.ctx.notify,
                        waiting.conversation,
                        waiting.card,
                        deleted_view(changed, waiting),
                    )
            except NotDelivered as error:
                log.warning(
                    "could not tell %s that %s is gone: %s", waiting.card, record.name, error
                )

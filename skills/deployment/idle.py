"""The 15-day rule: Azure deletes a fine-tuned deployment after 15 days with no completion call
(the model stays); the bot warns 48 hours before.

`decide` is the rule for one deployment at one moment. `IdleWatcher` applies it in one background
loop over the deployment records of every resource: 13 days into an idle period the conversation
that deployed the model gets a warning card with "Keep alive" and "Delete now", at most once per
idle period (skills/claims.py); once Azure has removed it, that conversation is told so, with a way
back. Time is the service's clock (`ServiceClock`): sandbox time when SANDBOX_SPEEDUP runs it
faster, so tests need no real days; the loop sleeps until the next warning is due, in real seconds,
and looks again at least every service hour. One instance runs the check (`infra.ownership`,
item `idle`); the others wait to take it over.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from typing import Literal

from infra import i18n
from infra.azure import Resource
from infra.errors import UserError
from infra.retry import status_of
from skills.context import Context
from skills.deployment import arm
from skills.deployment.records import DeploymentRecord, idle_warning_claim
from skills.deployment.views import DeletedForInactivity, IdleWarning
from skills.records import Claim

log = logging.getLogger(__name__)

DAY = 86_400.0
HOUR = 3_600.0
IDLE_LIMIT = 15 * DAY
"""Azure deletes a fine-tuned deployment with no completion call for this long (the model stays)."""
WARN_AHEAD = 48 * HOUR
"""How long before that deletion the bot warns."""
MAX_SLEEP = 30.0
"""Longest real pause between two looks (new deployments may come at any time)."""
MIN_SLEEP = 0.02
SYNC_SECONDS = 600.0
"""Real seconds between two readings of the service's clock."""

RETRY_BASE = 1.0
RETRY_CAP = 300.0
"""After a failed look the watcher waits about 1, 2, 4 ... seconds, then 5 minutes at most."""

Decision = Literal["none", "wait", "warn", "expired"]


def failure_kind(error: BaseException) -> tuple[str, str]:
    """(what kind of failure it is: its type and HTTP status, or a UserError's sentence id; one
    line saying it)."""
    if isinstance(error, UserError):
        return f"UserError: {error.template}", error.message.rstrip(".")
    status = status_of(error)
    kind = type(error).__name__ + (f" (HTTP {status})" if status else "")
    first = (str(error).strip().splitlines() or [""])[0][:200]
    return kind, f"{kind}: {first}" if first else kind


def days_left(since: float, now: float) -> float:
    """Days until Azure deletes an idle fine-tuned deployment (0 when due)."""
    return max(0.0, (since + IDLE_LIMIT - now) / DAY)


def warning_at(since: float) -> float:
    """When the inactivity warning of the idle period that started at `since` is due."""
    return since + IDLE_LIMIT - WARN_AHEAD


def idle_expired(record: DeploymentRecord, now: float) -> bool:
    """Azure has (or is about to have) removed this deployment for inactivity."""
    since = record.idle_since
    return record.fine_tuned and bool(since) and now - since >= IDLE_LIMIT - HOUR


def decide(record: DeploymentRecord, now: float) -> tuple[Decision, float]:
    """What the rule says of a deployment now, and when it next matters (service time)."""
    if not (
        record.fine_tuned
        and record.state == "succeeded"
        and record.conversation
        and record.idle_since
    ):
        return "none", math.inf
    since = record.idle_since
    if now < warning_at(since):
        return "wait", warning_at(since)
    if now >= since + IDLE_LIMIT:
        return "expired", math.inf
    return "warn", math.inf


class IdleWatcher:
    """Sends each due inactivity warning once; notes the deployments Azure removed."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.retry_base = RETRY_BASE
        self.retry_cap = RETRY_CAP

    item = "idle"
    """The ownership item of the idle check (one check covers every resource)."""

    async def run(self) -> None:
        """Run until cancelled, the checks only while this instance owns them. A failing look
        (Azure or the channel out of reach, credentials refused) is tried again after an
        exponential backoff up to `retry_cap` seconds, and logged in one line per kind of failure,
        not once per try."""
        synced = -math.inf
        owners = self.ctx.owners
        failures = 0
        logged = ""
        while True:
            try:
                if not owners.owns(self.item) and not await owners.claim(self.item):
                    await asyncio.sleep(owners.retry_seconds or MAX_SLEEP)
                    continue
                if time.monotonic() - synced >= SYNC_SECONDS:
                    await self.sync_clock()
                    synced = time.monotonic()
                due = await self.check_once()
            except Exception as error:  # look again later
                kind, line = failure_kind(error)
                if kind != logged:
                    log.warning(
                        "idle watcher: %s; trying again with backoff (up to %g s)",
                        line,
                        self.retry_cap,
                    )
                    logged = kind
                step = min(self.retry_cap, self.retry_base * 2**failures)
                failures += 1
                await asyncio.sleep(step / 2 + random.uniform(0, step / 2))
                continue
            if failures:
                log.info("idle watcher: working again after %d failed look(s)", failures)
                failures, logged = 0, ""
            await asyncio.sleep(self.sleep_seconds(due))

    async def sync_clock(self) -> None:
        """Read a sandbox's time from a cheap Resource Manager call (after a restart, its clock
        may be far ahead of wall-clock time); Azure's is the wall clock."""
        if not self.ctx.settings.sandbox_mode:
            return
        resource: Resource = self.ctx.azure.default
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        await arm.list_deployments(cognitive, resource, self.ctx.clock.observe)

    def sleep_seconds(self, next_due: float) -> float:
        """Real seconds until the next look: the next due warning, at most a service hour away."""
        clock = self.ctx.clock
        hour = clock.real_seconds(HOUR)
        wait = clock.real_seconds(next_due - clock.now()) if math.isfinite(next_due) else hour
        return max(MIN_SLEEP, min(MAX_SLEEP, hour, wait))

    async def check_once(self) -> float:
        """Send the warnings that are due; returns the service time the next one is due."""
        records = await self.ctx.records.all(DeploymentRecord)
        next_due = math.inf
        for record in records:
            decision, due = decide(record, self.ctx.clock.now())
            if decision == "wait":
                next_due = min(next_due, due)
            elif decision == "warn":
                await self._warn(record)
            elif decision == "expired":
                await self._expired(record)
        return next_due

    async def _present(self, record: DeploymentRecord) -> bool:
        """Azure still serves the record's model under its name."""
        cognitive = self.ctx.azure.cognitive(record.resource.subscription_id)
        info = await arm.get_deployment(
            cognitive, record.resource, record.name, self.ctx.clock.observe
        )
        return info is not None and info.model == record.model

    async def _change(self, record: DeploymentRecord, **changes: object) -> DeploymentRecord:
        def apply(found: DeploymentRecord | None) -> DeploymentRecord:
            return (found or record).model_copy(update=changes)

        changed = await self.ctx.records.update(record.key(), apply)
        assert changed is not None
        return changed

    async def _warn(self, record: DeploymentRecord) -> None:
        """This idle period's warning, at most once."""
        since = record.idle_since
        claim = idle_warning_claim(record.resource, record.name, since)
        if await self.ctx.records.get(Claim.at_path(claim)) is not None:
            return  # warned already (no Azure call needed)
        if not await self._present(record):
            await self._change(record, state="deleted", reason="deleted outside the bot")
            return
        now = self.ctx.clock.now()
        view = IdleWarning(record.name, record.model, now - since, since + IDLE_LIMIT - now)
        card = ""

        async def send() -> str:
            nonlocal card
            with i18n.use(record.language):  # the deployer's language
                card = await self.ctx.notify.send(record.conversation, view)
            return card

        await self.ctx.claims.at_most_once(claim, send)
        if card:
            await self._change(record, warning_card=card, warning_conversation=record.conversation)

    async def _expired(self, record: DeploymentRecord) -> None:
        """15 idle days are over: if Azure removed it, say so once, with a way back."""
        if await self._present(record):
            return  # Azure has not removed it (yet); a completion elsewhere may have kept it
        changed = await self._change(record, state="deleted", reason="inactivity")
        with i18n.use(changed.language):  # the deployer's language
            await self.ctx.notify.send(
                changed.conversation, DeletedForInactivity(record.name, record.model)
            )

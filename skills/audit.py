"""The audit trail: every costly or destructive action (train, cancel, deploy, delete, provision,
roles, keys rotate, teardown, purge), who asked for it, when, and how it ended.

Writing the entry is part of the action, not best effort: `begin` stores the entry before the
action's first call to Azure, so an action whose entry cannot be written does not happen; `end`
records the outcome. Entries live in the state store (every instance sees them) and are kept
when `teardown` deletes the bot's own copies of a resource, for FTBOT_AUDIT_DAYS
(skills/retention.py).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Literal

from infra.azure import Resource
from infra.i18n import N_, Said
from infra.records import Key, Record, RecordStore

MAX_ENTRIES = 50
"""The most entries `audit N` shows."""

AuditOutcome = Literal["started", "done", "failed", "partly done"]
UNEXPECTED = N_("It stopped on an unexpected error; its card gives the reference for your admin.")
"""The detail of an action that broke unexpectedly (the reference is on its card and in the log)."""


class AuditEntry(Record):
    """One costly or destructive action: who, what, when, on what, and how it ended."""

    prefix = "audit/"

    id: str
    at: float
    user: str
    user_name: str
    action: str
    target: str
    resource: str = ""
    outcome: AuditOutcome = "started"
    detail: Said | str = ""  # how it ended, said in the reader's language (text: an entry
    # written before details were kept as message ids, shown as it was written)

    @classmethod
    def at_id(cls, entry: str) -> Key[AuditEntry]:
        """The key of an audit entry (ids sort by time)."""
        return Key(cls, f"{cls.prefix}{entry}")

    def key(self) -> Key[AuditEntry]:
        """Where this record is stored."""
        return self.at_id(self.id)


@dataclass(frozen=True)
class Actor:
    """Who asks for an action: the AAD object id (or channel id) and the display name."""

    id: str
    name: str


def resource_label(resource: Resource) -> str:
    """A resource as the audit trail names it."""
    return f"{resource.account} ({resource.resource_group})"


class Audit:
    """Writes and reads the audit trail."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records

    def entry(
        self,
        actor: Actor,
        action: str,
        target: str,
        resource: Resource | None = None,
        outcome: AuditOutcome = "started",
        detail: Said | None = None,
        *,
        at: float | None = None,
        ref: str = "",
    ) -> AuditEntry:
        """A new entry, not stored yet: store it in the same write as the action's own record.
        With `at` and `ref` (the answer that started the action: when, and its token) it is the
        same entry each time it is made, so the action's records can be made again from their
        question (skills/confirmations.py)."""
        now = time.time() if at is None else at
        return AuditEntry(
            id=f"{int(now * 1000):015d}-{(ref or uuid.uuid4().hex)[:8]}",
            at=now,
            user=actor.id,
            user_name=actor.name,
            action=action,
            target=target,
            resource=resource_label(resource) if resource else "",
            outcome=outcome,
            detail=detail or "",
        )

    async def begin(
        self, actor: Actor, action: str, target: str, resource: Resource | None = None
    ) -> AuditEntry:
        """Store the entry of an action about to happen (raises when it cannot be stored)."""
        entry = self.entry(actor, action, target, resource)
        await self.records.put(entry)
        return entry

    async def end(self, entry: str, outcome: AuditOutcome, detail: Said | None = None) -> None:
        """Record how an action ended (`detail`: what Azure said, or why it failed)."""

        def change(found: AuditEntry | None) -> AuditEntry | None:
            if found is None:
                return None
            return found.model_copy(update={"outcome": outcome, "detail": detail or ""})

        await self.records.update(AuditEntry.at_id(entry), change)

    async def done(
        self,
        actor: Actor,
        action: str,
        target: str,
        resource: Resource | None = None,
        detail: Said | None = None,
    ) -> AuditEntry:
        """Store an action that is one step (it happened when this returns)."""
        entry = await self.begin(actor, action, target, resource)
        await self.end(entry.id, "done", detail)
        return entry.model_copy(update={"outcome": "done", "detail": detail or ""})

    async def prune(self, before: float) -> int:
        """Delete the entries of actions started before `before` (the retention of
        FTBOT_AUDIT_DAYS); how many went."""
        old = [e.key() for e in await self.records.all(AuditEntry) if e.at < before]
        await self.records.delete(*old)
        return len(old)

    async def last(self, count: int) -> list[AuditEntry]:
        """The latest `count` entries, newest first."""
        entries = await self.records.all(AuditEntry)
        return list(reversed(entries))[: max(1, min(MAX_ENTRIES, count))]

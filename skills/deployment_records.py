"""What the bot remembers about deployments, in the state store so it survives restarts.

One record per deployment the bot created or used: model, sku, who deployed it from which
conversation and which card follows it, its state as last seen, and the time of the last
completion the bot made on it (on the service's clock). Inactivity warnings are once-only keys:
one per deployment per idle period (the period is named by the time its idleness started).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from infra.storage import JsonObject, SqliteStorage, update
from skills.deployment import Account, is_fine_tuned

CREATING = "creating"
SUCCEEDED = "succeeded"
FAILED = "failed"
DELETING = "deleting"
DELETED = "deleted"
LIVE_STATES = (CREATING, SUCCEEDED, DELETING)

_KEY_SAFE = re.compile(r"[^a-z0-9_.-]")


@dataclass
class DeploymentRecord:
    """The bot's memory of one deployment."""

    name: str
    model: str
    version: str = "1"
    sku: str = "standard"
    capacity: int = 1
    fine_tuned: bool = True
    state: str = CREATING
    conversation_id: str = ""
    user_id: str = ""
    card_id: str = ""
    job: str = ""
    ref: str = ""  # what the user asked to deploy (job, model or checkpoint), for "Try again"
    started_at: float = 0.0
    created_at: float = 0.0
    last_used: float = 0.0
    reason: str = ""
    warning_card: str = ""
    warning_conversation: str = ""
    delete_card: str = ""
    delete_conversation: str = ""

    def to_json(self) -> JsonObject:
        """The record as a storage item."""
        return asdict(self)

    @classmethod
    def from_json(cls, item: JsonObject) -> DeploymentRecord:
        """A record from a storage item (unknown fields, such as `e_tag`, are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in item.items() if k in known})


def account_prefix(account: Account) -> str:
    """The key prefix of an account's records."""
    return f"deployment/{_part(account.resource_group)}/{_part(account.name)}/"


def record_key(account: Account, name: str) -> str:
    """The storage key of a deployment's record (deployment names are case-insensitive)."""
    return account_prefix(account) + _part(name)


def warning_key(account: Account, name: str, idle_since: float) -> str:
    """The once-only key of the inactivity warning for one idle period."""
    return f"idle-warning/{_part(account.resource_group)}/{_part(account.name)}/{_part(name)}/" + (
        f"{int(idle_since)}"
    )


def _part(value: str) -> str:
    return _KEY_SAFE.sub("_", value.lower())


async def read_record(
    storage: SqliteStorage, account: Account, name: str
) -> DeploymentRecord | None:
    """The record of a deployment, if the bot has one."""
    key = record_key(account, name)
    item = (await storage.read([key])).get(key)
    return DeploymentRecord.from_json(item) if item is not None else None


async def all_records(storage: SqliteStorage, account: Account) -> list[DeploymentRecord]:
    """Every record of the account."""
    keys = await storage.keys(account_prefix(account))
    items = await storage.read(keys)
    return [DeploymentRecord.from_json(items[k]) for k in keys if k in items]


async def save_record(storage: SqliteStorage, account: Account, record: DeploymentRecord) -> None:
    """Store a whole record (last writer wins)."""
    await storage.write({record_key(account, record.name): record.to_json()})


async def change_record(
    storage: SqliteStorage, account: Account, name: str, **changes: Any
) -> DeploymentRecord:
    """Set fields of a record under e-tag concurrency; creates a bare record when missing."""

    def apply(item: JsonObject) -> None:
        if "name" not in item:
            item.update(DeploymentRecord(name=name, model="").to_json())
        item.update(changes)

    return DeploymentRecord.from_json(await update(storage, record_key(account, name), apply))


async def record_use(
    storage: SqliteStorage, account: Account, name: str, model: str, at: float
) -> DeploymentRecord:
    """Remember a completion on a deployment at service time `at` (never moves back)."""

    def apply(item: JsonObject) -> None:
        if "name" not in item:
            item.update(
                DeploymentRecord(
                    name=name,
                    model=model,
                    fine_tuned=is_fine_tuned(model),
                    state=SUCCEEDED,
                    created_at=at,
                ).to_json()
            )
        item["last_used"] = max(float(item.get("last_used") or 0.0), at)

    return DeploymentRecord.from_json(await update(storage, record_key(account, name), apply))

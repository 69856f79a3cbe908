"""The sandbox's state and background work, shared by the data plane and Resource Manager."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tiktoken
from aiohttp import web

from infra.files import private_dir
from infra.sandbox.clock import SandboxClock
from infra.sandbox.faults import Faults
from infra.sandbox.ids import hex32, new_key
from infra.sandbox.store import Doc, Store
from infra.settings import SANDBOX_ACCOUNT, SANDBOX_RESOURCE_GROUP, SANDBOX_SUBSCRIPTION
from infra.tasks import Tasks

log = logging.getLogger(__name__)

ACCOUNT_TYPE = "Microsoft.CognitiveServices/accounts"
DEFAULT_LOCATION = "northcentralus"
ACCOUNT_READY_SECONDS = 20.0
"""Sandbox seconds an account stays in `Creating` (Azure takes about a minute)."""


@dataclass(frozen=True)
class SandboxConfig:
    """How one sandbox runs: its data folder, time factor, injected faults and ARM token."""

    data_dir: Path
    speedup: float = 1.0
    faults: Faults = field(default_factory=Faults)
    arm_token: str = ""


def account_id(subscription: str, group: str, name: str) -> str:
    """The ARM id of an account, as ARM spells it."""
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.CognitiveServices/accounts/{name}"
    )


def arm_key(resource_id: str) -> str:
    """The store key of an ARM resource: its id, lower-cased (ARM ids are case-insensitive)."""
    return resource_id.lower()


class Sandbox:
    """State (SQLite store, files on disk, sandbox clock) and tracked background tasks."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir
        self.files_dir = config.data_dir / "files"
        self.models_dir = config.data_dir / "models"
        for folder in (self.files_dir, self.models_dir):
            private_dir(folder)  # uploaded files and models are the owner's alone
        self.store = Store(config.data_dir / "sandbox.sqlite3")
        saved = self.store.meta("clock")
        self.clock = SandboxClock(config.speedup, float(saved) if saved else None)
        self.fault_rng = config.faults.rng()
        self.wake = asyncio.Event()
        self._tasks = Tasks()
        self._encoding: tiktoken.Encoding | None = None

    @property
    def encoding(self) -> tiktoken.Encoding:
        """o200k_base, loaded offline on first use."""
        if self._encoding is None:
            from infra.tokens import get_encoding

            self._encoding = get_encoding("o200k_base")
        return self._encoding

    # -- background tasks -------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run `work` as a tracked task; its failure is logged, never lost."""
        return self._tasks.spawn(work, f"sandbox {name}")

    async def stop(self) -> None:
        """Cancel background work, save the clock and close the store."""
        await self._tasks.close()
        self.save_clock()
        self.store.close()

    def save_clock(self) -> None:
        """Persist sandbox time so that it carries on after a restart."""
        self.store.set_meta("clock", repr(self.clock.now()))

    # -- accounts ---------------------------------------------------------------------------

    def account_by_subdomain(self, subdomain: str) -> Doc | None:
        """The account whose data plane answers at `subdomain`, if it exists."""
        key = self.store.get("subdomain", subdomain.lower())
        return None if key is None else self.store.get("account", key["account"])

    def new_account(
        self, subscription: str, group: str, name: str, body: dict[str, Any], *, ready: bool
    ) -> Doc:
        """Create an account document (keys, subdomain, provisioning state) and store it."""
        rid = account_id(subscription, group, name)
        props = body.get("properties") or {}
        subdomain = str(props.get("customSubDomainName") or name).lower()
        now = self.clock.now()
        doc: Doc = {
            "id": rid,
            "name": name,
            "type": ACCOUNT_TYPE,
            "location": str(body.get("location") or DEFAULT_LOCATION),
            "kind": str(body.get("kind") or "OpenAI"),
            "sku": body.get("sku") or {"name": "S0"},
            "tags": body.get("tags") or {},
            "etag": f'"{hex32()}"',
            "systemData": {
                "createdAt": self.clock.iso(now),
                "createdBy": "sandbox",
                "createdByType": "User",
                "lastModifiedAt": self.clock.iso(now),
            },
            "properties": {
                "customSubDomainName": subdomain,
                "internalId": hex32(),
                "dateCreated": self.clock.iso(now),
                "publicNetworkAccess": props.get("publicNetworkAccess", "Enabled"),
                "isMigrated": False,
                "capabilities": [
                    {"name": "CustomDeployment"},
                    {"name": "FineTune"},
                    {"name": "ChatCompletion"},
                ],
            },
            "_keys": {"key1": new_key(), "key2": new_key()},
            "_ready_at": now if ready else now + ACCOUNT_READY_SECONDS,
            "_subdomain": subdomain,
        }
        key = arm_key(rid)
        self.store.put("account", key, doc, parent=arm_key(rid.rsplit("/providers/", 1)[0]))
        self.store.put("subdomain", subdomain, {"account": key})
        return doc

    def ensure_default_account(self) -> Doc:
        """The well-known account (created, ready, on first start)."""
        rid = account_id(SANDBOX_SUBSCRIPTION, SANDBOX_RESOURCE_GROUP, SANDBOX_ACCOUNT)
        doc = self.store.get("account", arm_key(rid))
        if doc is None:
            body = {"location": DEFAULT_LOCATION, "kind": "OpenAI", "sku": {"name": "S0"}}
            doc = self.new_account(
                SANDBOX_SUBSCRIPTION, SANDBOX_RESOURCE_GROUP, SANDBOX_ACCOUNT, body, ready=True
            )
        return doc

    def default_keys(self) -> tuple[str, str]:
        """KEY1 and KEY2 of the well-known account."""
        keys = self.ensure_default_account()["_keys"]
        return str(keys["key1"]), str(keys["key2"])

    def delete_account(self, key: str) -> None:
        """Remove an account with its deployments and data-plane objects."""
        doc = self.store.delete("account", key)
        if doc is None:
            return
        subdomain = str(doc["_subdomain"])
        self.store.delete("subdomain", subdomain)
        for name, _ in list(self.store.items("deployment", key)):
            self.store.delete("deployment", name)
        for kind in ("file", "job", "model"):
            for item, _ in list(self.store.items(kind, subdomain)):
                self.store.delete(kind, item)


SANDBOX = web.AppKey("sandbox", Sandbox)
"""Where the sandbox app keeps its `Sandbox`."""

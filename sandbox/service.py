"""The sandbox's state and background work, shared by the data plane and Resource Manager."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import multiprocessing
import os
import secrets
import shutil
from collections.abc import Coroutine
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tiktoken
from aiohttp import web

from sandbox.barriers import Barriers
from sandbox.clock import SandboxClock
from sandbox.contract import ACCOUNT, BOT_PRINCIPAL, RESOURCE_GROUP, SUBSCRIPTION
from sandbox.faults import Faults
from sandbox.files import private_dir
from sandbox.ids import assignment_name, hex32, new_key
from sandbox.store import Doc, Store
from sandbox.tokens import o200k

log = logging.getLogger(__name__)

ACCOUNT_TYPE = "Microsoft.CognitiveServices/accounts"
DEFAULT_LOCATION = "northcentralus"
ACCOUNT_READY_SECONDS = 20.0
"""Sandbox seconds an account stays in `Creating` (Azure takes about a minute)."""
ACCOUNT_DELETE_SECONDS = 10.0
"""Sandbox seconds an account stays in `Deleting` before it is soft-deleted."""
SOFT_DELETE_SECONDS = 48 * 3600.0
"""How long a deleted account is kept (and its name and subdomain held) before it is purged."""
OPENAI_CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"
COST_MANAGEMENT_READER = "72fafb9e-0641-4937-9268-a91bfd8191a3"


@dataclass(frozen=True)
class SandboxConfig:
    """How one sandbox runs: its data folder, time factor, injected faults, access secret, and
    whether it answers only callers on this machine."""

    data_dir: Path
    speedup: float = 1.0
    faults: Faults = field(default_factory=Faults)
    arm_token: str = ""
    """The access secret (docs/sandbox.md, "Auth"); a fresh one is generated when empty."""
    loopback_only: bool = False
    cost_delay: float = 8 * 3600.0
    """Cost Management's reporting delay in sandbox seconds: costs younger than this are not
    reported yet (billing.py; Azure reports within 8 to 24 hours)."""


@dataclass
class Backoff:
    """How a worker of the sandbox waits after it failed: 1 s, doubling up to 5 minutes, and
    one error line per kind of failure (the first of a kind with its traceback; repeats at debug
    level), so a lasting fault (a full disk) never floods the log or spins."""

    what: str
    failures: int = 0
    kind: str = ""

    def failed(self, error: BaseException) -> float:
        """Note a failure; the seconds to wait before trying again."""
        self.failures += 1
        delay = min(300.0, 2.0 ** (self.failures - 1))
        kind = f"{type(error).__name__}{getattr(error, 'errno', '') or ''}"
        if kind != self.kind:
            self.kind = kind
            log.error(
                "%s failed (%s); trying again in %.0f s, then less often while it fails",
                self.what,
                error,
                delay,
                exc_info=error,
            )
        else:
            log.debug(
                "%s failed again (%d times); next try in %.0f s", self.what, self.failures, delay
            )
        return delay

    def succeeded(self) -> None:
        """It works again: the next failure starts from 1 s."""
        if self.failures:
            log.info("%s works again after %d failure(s)", self.what, self.failures)
        self.failures, self.kind = 0, ""


def new_secret() -> str:
    """A fresh access secret (no ':' in it, so `<secret>:<object id>` stays unambiguous)."""
    return secrets.token_urlsafe(32)


def account_id(subscription: str, group: str, name: str) -> str:
    """The ARM id of an account, as ARM spells it."""
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.CognitiveServices/accounts/{name}"
    )


def arm_key(resource_id: str) -> str:
    """The store key of an ARM resource: its id, lower-cased (ARM ids are case-insensitive)."""
    return resource_id.lower()


def group_key(subscription: str, group: str) -> str:
    """The store key of a resource group."""
    return arm_key(f"/subscriptions/{subscription}/resourceGroups/{group}")


class Sandbox:
    """State (SQLite store, files on disk, sandbox clock) and tracked background tasks."""

    def __init__(self, config: SandboxConfig) -> None:
        if not config.arm_token:
            config = dataclasses.replace(config, arm_token=new_secret())
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
        self.barriers = Barriers()
        """The holds and refusals of a fault test (sandbox/barriers.py)."""
        self.wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._processes: ProcessPoolExecutor | None = None

    def processes(self) -> ProcessPoolExecutor:
        """One worker process for CPU-heavy work on big files (started on first use)."""
        if self._processes is None:
            context = multiprocessing.get_context("spawn")
            self._processes = ProcessPoolExecutor(max_workers=1, mp_context=context)
        return self._processes

    # -- files ------------------------------------------------------------------------------

    def room(self, size: int) -> None:
        """Raise what a full disk raises (OSError ENOSPC) when `size` more bytes do not fit: only
        with the `disk` fault, which gives the files and models a small disk of their own."""
        limit = self.config.faults.disk
        if limit is None:
            return
        used = sum(
            path.stat().st_size
            for folder in (self.files_dir, self.models_dir)
            for path in folder.iterdir()
            if path.is_file()
        )
        if used + size > limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def write_file(self, path: Path, data: bytes | Path) -> None:
        """Write a whole file (`data`: its bytes, or a file to copy), or nothing: it goes to a
        partial file renamed into place, and a failed write (a full disk) removes that, so no
        empty or cut file is ever left."""
        partial = path.with_name(f"{path.name}.partial")
        try:
            if isinstance(data, Path):
                self.room(data.stat().st_size)
                shutil.copyfile(data, partial)
            else:
                self.room(len(data))
                partial.write_bytes(data)
            os.replace(partial, path)
        except OSError:
            partial.unlink(missing_ok=True)
            raise

    @property
    def encoding(self) -> tiktoken.Encoding:
        """o200k_base, loaded offline on first use."""
        return o200k()

    # -- background tasks -------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run `work` as a tracked task; its failure is logged, never lost."""
        task = asyncio.create_task(work, name=f"sandbox {name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("%s failed", task.get_name(), exc_info=error)

    async def wait_awake(self, seconds: float) -> None:
        """Wait until `wake` is set or `seconds` pass, whichever comes first.

        Not `asyncio.wait_for(wake.wait(), ...)`: on Python 3.11 that swallows a cancel arriving
        just after the event is set, and a loop built on it then never stops.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.wake.wait()

    async def stop(self) -> None:
        """Cancel background work, save the clock and close the store."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:  # a task that ignores its cancel is logged and left: a stop never hangs
            _, stuck = await asyncio.wait(tasks, timeout=10.0)
            for task in stuck:
                log.error("%s did not stop when cancelled", task.get_name())
        if self._processes is not None:
            self._processes.shutdown(wait=False, cancel_futures=True)
        self.save_clock()
        self.store.close()

    def save_clock(self) -> None:
        """Persist sandbox time so that it carries on after a restart."""
        self.store.set_meta("clock", repr(self.clock.now()))

    # -- accounts ---------------------------------------------------------------------------

    @property
    def secret(self) -> str:
        """The access secret: bare, it acts as the bot's principal (auth.py)."""
        return self.config.arm_token

    def account_by_subdomain(self, subdomain: str) -> Doc | None:
        """The account whose data plane answers at `subdomain`, if it exists (not deleted)."""
        key = self.store.get("subdomain", subdomain.lower())
        return None if key is None else self.store.get("account", key["account"])

    # -- resource groups --------------------------------------------------------------------

    def group(self, subscription: str, group: str) -> Doc | None:
        """A resource group, if it exists."""
        return self.store.get("group", group_key(subscription, group))

    def put_group(self, subscription: str, group: str, location: str, tags: Any) -> Doc:
        """Create a resource group (or update its tags)."""
        key = group_key(subscription, group)
        doc = self.store.get("group", key) or {
            "id": f"/subscriptions/{subscription}/resourceGroups/{group}",
            "name": group,
            "type": "Microsoft.Resources/resourceGroups",
            "location": location,
            "properties": {"provisioningState": "Succeeded"},
        }
        doc["tags"] = tags if isinstance(tags, dict) else doc.get("tags") or {}
        self.store.put("group", key, doc, parent=arm_key(f"/subscriptions/{subscription}"))
        return doc

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
        """The well-known group and account (created, ready, on first start), on which the
        bot's own principal holds Cognitive Services OpenAI Contributor (and Cost Management
        Reader on the group, so that `spend` reads costs: granted once per data folder, also to
        one an earlier version made; removed, it stays removed)."""
        if self.group(SUBSCRIPTION, RESOURCE_GROUP) is None:
            self.put_group(SUBSCRIPTION, RESOURCE_GROUP, DEFAULT_LOCATION, {})
        rid = account_id(SUBSCRIPTION, RESOURCE_GROUP, ACCOUNT)
        doc = self.store.get("account", arm_key(rid))
        if doc is None:
            body = {"location": DEFAULT_LOCATION, "kind": "OpenAI", "sku": {"name": "S0"}}
            doc = self.new_account(SUBSCRIPTION, RESOURCE_GROUP, ACCOUNT, body, ready=True)
            self.grant(rid, BOT_PRINCIPAL, OPENAI_CONTRIBUTOR, "ServicePrincipal")
        if self.store.meta("cost-reader") is None:  # once per data folder, older ones too
            group = rid.split("/providers/", 1)[0]
            self.grant(group, BOT_PRINCIPAL, COST_MANAGEMENT_READER, "ServicePrincipal")
            self.store.set_meta("cost-reader", "granted")
        return doc

    def grant(self, scope: str, principal: str, role: str, principal_type: str) -> None:
        """A role assignment made by the sandbox itself (the default account's, for the bot)."""
        name = assignment_name(scope, principal, role)
        now = self.clock.iso()
        provider = "/providers/Microsoft.Authorization"
        sub = scope.split("/resourceGroups/")[0] if "/resourceGroups/" in scope else scope
        doc: Doc = {
            "id": f"{scope}{provider}/roleAssignments/{name}",
            "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": f"{sub}{provider}/roleDefinitions/{role}",
                "principalId": principal,
                "principalType": principal_type,
                "scope": scope,
                "createdOn": now,
                "updatedOn": now,
                "createdBy": "sandbox",
                "updatedBy": "sandbox",
            },
        }
        self.store.put("role", doc["id"].lower(), doc, parent=scope.lower())

    def default_keys(self) -> tuple[str, str]:
        """KEY1 and KEY2 of the well-known account."""
        keys = self.ensure_default_account()["_keys"]
        return str(keys["key1"]), str(keys["key2"])

    def soft_delete(self, key: str) -> None:
        """Delete an account as Azure does: its deployments and role assignments go, the rest
        (keys, files, jobs, models, the name and the subdomain) is kept as a deleted account
        for SOFT_DELETE_SECONDS, until it is restored or purged."""
        doc = self.store.delete("account", key)
        if doc is None:
            return
        for name, _ in list(self.store.items("deployment", key)):
            self.store.delete("deployment", name)
        for role_key, role in list(self.store.items("role")):
            scope = str(role["properties"]["scope"]).lower()
            if scope == key or scope.startswith(key + "/"):
                self.store.delete("role", role_key)
        now = self.clock.now()
        doc["properties"]["provisioningState"] = "Succeeded"
        doc["properties"]["deletionDate"] = self.clock.iso(now)
        doc["properties"]["scheduledPurgeDate"] = self.clock.iso(now + SOFT_DELETE_SECONDS)
        doc["_purge_at"] = now + SOFT_DELETE_SECONDS
        doc.pop("_gone_at", None)
        self.store.put("deleted", key, doc)

    def restore(self, key: str) -> Doc | None:
        """Bring a soft-deleted account back (keys and data kept), Creating for a while."""
        doc = self.store.delete("deleted", key)
        if doc is None:
            return None
        for name in ("deletionDate", "scheduledPurgeDate"):
            doc["properties"].pop(name, None)
        doc.pop("_purge_at", None)
        doc["properties"]["provisioningState"] = "Creating"
        doc["_ready_at"] = self.clock.now() + ACCOUNT_READY_SECONDS
        parent = arm_key(str(doc["id"]).rsplit("/providers/", 1)[0])
        self.store.put("account", key, doc, parent=parent)
        return doc

    def purge(self, key: str) -> bool:
        """Remove a soft-deleted account for good: its data, and its name and subdomain."""
        doc = self.store.delete("deleted", key)
        if doc is None:
            return False
        subdomain = str(doc["_subdomain"])
        self.store.delete("subdomain", subdomain)
        for kind in ("file", "job", "model"):
            for item, _ in list(self.store.items(kind, subdomain)):
                self.store.delete(kind, item)
                if kind == "file":
                    (self.files_dir / item).unlink(missing_ok=True)
                if kind == "model":
                    (self.models_dir / f"{item}.jsonl").unlink(missing_ok=True)
        return True


SANDBOX = web.AppKey("sandbox", Sandbox)
"""Where the sandbox app keeps its `Sandbox`."""

"""Who does a piece of background work: one owner at a time per item (a job being watched, a
deployment being followed, a launch, the idle check).

`Ownership` is the small interface the workflows use: `claim(item)` before working on an item,
`release(item)` after, `owns(item)` to check on the way (where the work loops, and before anything
it sends), and `retry_seconds`: how often work that nobody here owns is looked at again.

- `LocalOwnership`: one instance owns everything (SQLite state); it only keeps two tasks of this
  process off the same item, and unowned work needs no second look (`retry_seconds` None).
- `LeaseOwnership`: several instances on one storage account. An item is owned through a blob
  lease on a lock blob of its own (container `<FTBOT_STATE_CONTAINER>-leases`), never on the
  record the work writes: a leased blob refuses every writer without the lease id, so leasing a
  record would lock the other instances out of a turn that only wants to read-modify-write it.
  A lease lasts `FTBOT_LEASE_SECONDS` (15 s by default, the shortest Blob allows, so a dead
  instance's work waits the least) and is renewed every third of that (5 s): two renewals in a
  row may fail (a storage hiccup) before it lapses. `owns` turns False as soon as the lease may
  have lapsed (a second early), whether or not a renewal said so, and a lease found taken by
  someone else is dropped at once: the work stops at its next check. An instance that dies stops
  renewing; its leases lapse within one lease period, and the other instances, which try
  unowned work every `retry_seconds` (a third of the lease), pick it up: within one lease period
  and one retry (20 s by default) of the last renewal. A stop releases every lease at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob.aio import BlobLeaseClient, ContainerClient

from infra.blob import blob_name

log = logging.getLogger(__name__)

SAFETY_SECONDS = 1.0
"""`owns` turns False this long before a lease not renewed since would lapse on the server."""


class NotOwned(Exception):
    """This instance no longer owns the item it was working on: stop, someone else carries on."""


class Ownership(Protocol):
    """One owner at a time per item of background work."""

    retry_seconds: float | None
    """How often work nobody here owns is tried again (None: never, this instance owns all)."""

    async def claim(self, item: str) -> bool:
        """Become the owner of `item`; False when someone else owns it now."""
        ...

    async def release(self, item: str) -> None:
        """Stop owning `item` (nothing happens when it was not owned)."""
        ...

    def owns(self, item: str) -> bool:
        """True while this process owns `item`."""
        ...

    async def close(self) -> None:
        """Let every item go (at a stop)."""
        ...


def require(owners: Ownership, item: str) -> None:
    """Raise `NotOwned` unless this instance still owns `item` (a check on the way)."""
    if not owners.owns(item):
        raise NotOwned(item)


class LocalOwnership:
    """Every item belongs to this process; a second claim of an owned item is refused."""

    retry_seconds: float | None = None

    def __init__(self) -> None:
        self._owned: set[str] = set()

    async def claim(self, item: str) -> bool:
        """Own `item` unless already owned here."""
        if item in self._owned:
            return False
        self._owned.add(item)
        return True

    async def release(self, item: str) -> None:
        """Let `item` go."""
        self._owned.discard(item)

    def owns(self, item: str) -> bool:
        """True while owned."""
        return item in self._owned

    async def close(self) -> None:
        """Let everything go."""
        self._owned.clear()


def _code(error: HttpResponseError) -> str:
    return str(getattr(error, "error_code", None) or error.status_code)


@dataclass
class _Lease:
    client: BlobLeaseClient
    valid_until: float


def lock_name(item: str) -> str:
    """The lock blob of an item (e.g. `watch/ftjob-1` -> `watch/ftjob-1.lock`)."""
    return blob_name(item).removesuffix(".json") + ".lock"


class LeaseOwnership:
    """Ownership through blob leases, one lock blob per item (see the module's docstring)."""

    def __init__(self, container: ContainerClient, *, seconds: int = 15, owner: str = "") -> None:
        if not 15 <= seconds <= 60:
            raise ValueError("a blob lease lasts 15 to 60 seconds")
        self._container = container
        self.seconds = seconds
        self.renew_seconds = seconds / 3
        self.retry_seconds: float | None = seconds / 3
        self.owner = owner
        self._leases: dict[str, _Lease] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._ready = False

    async def _ensure_container(self) -> None:
        if not self._ready:
            with contextlib.suppress(ResourceExistsError):
                await self._container.create_container()
            self._ready = True

    async def claim(self, item: str) -> bool:
        """Take the item's lease; False when another owner (or this one already) holds it."""
        if item in self._leases:
            return False
        await self._ensure_container()
        blob = self._container.get_blob_client(lock_name(item))
        with contextlib.suppress(ResourceExistsError):  # there already (maybe leased): fine
            await blob.upload_blob(b"", overwrite=False, metadata={"item": item[:200]})
        lease = BlobLeaseClient(blob)
        sent = time.monotonic()
        try:
            await lease.acquire(lease_duration=self.seconds)
        except HttpResponseError as error:
            if error.status_code == 409:  # LeaseAlreadyPresent: another owner has it
                return False
            raise
        self._leases[item] = _Lease(lease, sent + self.seconds - SAFETY_SECONDS)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_all(), name="lease renewal")
        log.info("%s owns %s", self.owner, item)
        return True

    def owns(self, item: str) -> bool:
        """True while this instance's lease on `item` certainly holds."""
        lease = self._leases.get(item)
        return lease is not None and time.monotonic() < lease.valid_until

    async def release(self, item: str) -> None:
        """Give the lease back, so another instance may take the item at once."""
        lease = self._leases.pop(item, None)
        if lease is None:
            return
        try:
            await lease.client.release()
        except HttpResponseError as error:  # lapsed or taken meanwhile: nothing to give back
            log.info("releasing %s: %s", item, _code(error))

    async def _renew(self, item: str, lease: _Lease) -> None:
        if time.monotonic() >= lease.valid_until:
            self._lost(item, lease, "not renewed in time")
            return
        sent = time.monotonic()
        try:
            async with asyncio.timeout(self.renew_seconds):  # one slow call holds no other up
                await lease.client.renew()
        except HttpResponseError as error:
            if error.status_code in (409, 412):  # another owner holds it now
                self._lost(item, lease, _code(error))
            else:
                log.warning("renewing the lease of %s failed (%s)", item, error.status_code)
            return
        except Exception as error:  # unreachable for now: the lease may still hold
            log.warning("renewing the lease of %s failed (%s)", item, error)
            return
        if self._leases.get(item) is lease:
            lease.valid_until = sent + self.seconds - SAFETY_SECONDS

    def _lost(self, item: str, lease: _Lease, why: str) -> None:
        if self._leases.get(item) is lease:
            del self._leases[item]
            log.warning("%s lost the lease of %s (%s); its work stops here", self.owner, item, why)

    async def _renew_all(self) -> None:
        while self._leases:
            await asyncio.sleep(self.renew_seconds)
            leases = list(self._leases.items())
            await asyncio.gather(*(self._renew(item, lease) for item, lease in leases))

    async def close(self) -> None:
        """Stop renewing and release every lease held."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await asyncio.gather(*(self.release(item) for item in list(self._leases)))


async def every_retry(owners: Ownership, look: Callable[[], Awaitable[None]], what: str) -> None:
    """Run `look` every `owners.retry_seconds` until cancelled, to pick up work nobody owns (a
    dead instance's); returns at once when there is no one else to pick up after. A failure
    (storage unreachable, say) is logged and tried again next time."""
    every = owners.retry_seconds
    if every is None:
        return
    while True:
        await asyncio.sleep(every)
        try:
            await look()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("looking for unowned %s failed; trying again", what, exc_info=True)

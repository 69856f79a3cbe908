"""Ownership of background work: the protocol on both implementations, and the blob leases'
own rules (another instance is refused, a lost lease stops the owner, a stop lets go at once)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from azure.storage.blob.aio import BlobLeaseClient, ContainerClient

from infra.blob import BlobAccount
from infra.ownership import LeaseOwnership, LocalOwnership, Ownership, lock_name
from tests.harness import bot_settings
from tests.training_flow import wait_until

Opener = Callable[[str], Ownership]


@pytest.fixture
async def account(azurite: str, tmp_path: Path) -> AsyncIterator[BlobAccount]:
    settings = bot_settings(tmp_path, state="blob", storage_connection_string=azurite)
    blob_account = BlobAccount(settings)
    yield blob_account
    await blob_account.close()


@pytest.fixture
def container(account: BlobAccount) -> ContainerClient:
    return account.container(f"leases-{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["local", "lease"])
async def owners(
    request: pytest.FixtureRequest, container: ContainerClient
) -> AsyncIterator[Ownership]:
    if request.param == "local":
        found: Ownership = LocalOwnership()
    else:
        found = LeaseOwnership(container, owner="a")
    yield found
    await found.close()


async def test_claim_owns_release(owners: Ownership) -> None:
    assert not owners.owns("watch/j1")
    assert await owners.claim("watch/j1")
    assert owners.owns("watch/j1")
    assert not await owners.claim("watch/j1")  # a second task of the same instance
    await owners.release("watch/j1")
    assert not owners.owns("watch/j1")
    assert await owners.claim("watch/j1")
    await owners.release("unknown/item")  # nothing happens


async def test_another_instance_is_refused_until_the_owner_lets_go(
    container: ContainerClient,
) -> None:
    a, b = LeaseOwnership(container, owner="a"), LeaseOwnership(container, owner="b")
    assert await a.claim("follow/s/acct/dep")
    assert not await b.claim("follow/s/acct/dep")
    assert not b.owns("follow/s/acct/dep")
    await a.close()  # a stop releases every lease: b need not wait for it to lapse
    assert not a.owns("follow/s/acct/dep")
    assert await b.claim("follow/s/acct/dep")
    await b.close()


async def test_the_lock_is_a_blob_of_its_own_and_the_record_stays_writable(
    container: ContainerClient,
) -> None:
    a = LeaseOwnership(container, owner="a")
    assert await a.claim("watch/ftjob-1")
    names = [b.name async for b in container.list_blobs()]
    assert names == [lock_name("watch/ftjob-1")] == ["watch/ftjob-1.lock"]
    await a.close()


@pytest.mark.slow  # waits out a renewal (5 s)
async def test_a_lease_taken_away_stops_the_owner_within_a_renewal(
    container: ContainerClient,
) -> None:
    a, b = LeaseOwnership(container, owner="a"), LeaseOwnership(container, owner="b")
    assert await a.claim("watch/j")
    blob = container.get_blob_client(lock_name("watch/j"))
    await BlobLeaseClient(blob).break_lease(lease_break_period=0)  # someone breaks it
    assert await b.claim("watch/j")
    assert a.owns("watch/j")  # a does not know yet...
    await wait_until(lambda: not a.owns("watch/j"), a.renew_seconds + 5)  # ...until it renews
    assert b.owns("watch/j")
    await a.close()
    await b.close()


@pytest.mark.slow  # waits out a lease (15 s)
async def test_an_owner_that_stops_renewing_loses_it_before_the_lease_lapses(
    container: ContainerClient,
) -> None:
    """A dead (or frozen) instance: `owns` turns False before Blob Storage lets anyone else in,
    and another instance gets the item within one lease period."""
    a, b = LeaseOwnership(container, owner="a"), LeaseOwnership(container, owner="b")
    began = time.monotonic()  # before the lease is taken: it lapses no sooner than a.seconds on
    assert await a.claim("launch/t")
    assert a._renewer is not None
    a._renewer.cancel()  # a stops renewing, as a killed process does

    async def taken_by_b() -> bool:
        return await b.claim("launch/t")

    # within a lease period, with as much again for a loaded machine
    await wait_until(taken_by_b, 2 * a.seconds)
    taken = time.monotonic() - began
    assert not a.owns("launch/t")  # a had let go before anyone else could take it
    assert taken >= a.seconds - 1  # Blob Storage kept it a's for the lease period
    await b.close()


def test_lease_length_is_what_blob_storage_allows(container: ContainerClient) -> None:
    for seconds in (14, 61):
        with pytest.raises(ValueError, match="15 to 60"):
            LeaseOwnership(container, seconds=seconds)
    lease = LeaseOwnership(container, seconds=15)
    assert (lease.renew_seconds, lease.retry_seconds) == (5.0, 5.0)

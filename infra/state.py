"""Where an instance keeps what must outlive it, chosen by `FTBOT_STATE`: the state store, the
owners of background work and the validated files.

- `sqlite` (the embedded default, one instance): SQLite and the files under the data folder;
  this process owns all background work.
- `blob` (several instances behind one Azure Bot): one storage account, `AZURE_STORAGE_*`, with
  the records in `FTBOT_STATE_CONTAINER`, the validated files in `<it>-datasets` (cached under
  the data folder) and the lock blobs of background work in `<it>-leases`.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.blob import BlobAccount, BlobStorage
from infra.datasets import BlobDatasets, DatasetStore, FileDatasets
from infra.ownership import LeaseOwnership, LocalOwnership, Ownership
from infra.settings import Settings
from infra.storage import SqliteStorage, Storage


@dataclass
class State:
    """The state store, the owners of background work and the dataset store of one instance."""

    storage: Storage
    owners: Ownership
    datasets: DatasetStore
    account: BlobAccount | None = None

    async def close(self) -> None:
        """Release the leases, then close the store and the account."""
        await self.owners.close()
        await self.storage.close()
        if self.account is not None:
            await self.account.close()


def open_state(settings: Settings, *, quick: bool = False) -> State:
    """The state of `settings.state` (nothing is contacted until first use; `quick`: Blob
    Storage retries once, soon, see `BlobAccount`)."""
    if settings.state == "sqlite":
        return State(
            SqliteStorage(settings.data_dir / "state.sqlite3"),
            LocalOwnership(),
            FileDatasets(settings.data_dir / "datasets"),
        )
    account = BlobAccount(settings, quick=quick)
    return State(
        BlobStorage(account, settings.state_container),
        LeaseOwnership(
            account.container(settings.leases_container),
            seconds=settings.lease_seconds,
            owner=settings.instance,
        ),
        BlobDatasets(
            account.container(settings.datasets_container), settings.data_dir / "datasets-cache"
        ),
        account,
    )

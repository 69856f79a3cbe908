"""Azure Blob Storage: the account of the bot's shared state, and the `Storage` protocol on it.

`BlobAccount` is the one client of the storage account (a connection string, or the account URL
signed in with DefaultAzureCredential), with transfer sizes set so that no call holds more than one
block (`BLOCK_BYTES`) in memory. `BlobStorage` implements `infra.storage.Storage` with one blob per
key (its JSON value) and the blob's e-tag as the item's e-tag: `write` with an e-tag is a PUT with
If-Match, `create` a PUT with If-None-Match: *. Every write tags the blob with a write id of its
own (metadata), so a PUT that the SDK retried after a lost answer is recognised as ours instead of
being reported as a conflict.

A key becomes a blob name through `blob_name` (letters, digits, `-`, `_` and `/` as they are,
every other character `~XX` per UTF-8 byte, and a `.json` suffix); the mapping keeps prefixes, so
`scan(prefix)` lists the blobs whose names start with the encoded prefix.
"""

from __future__ import annotations

import asyncio
import io
import json
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobClient, BlobServiceClient, ContainerClient

from infra.settings import Settings
from infra.storage import JsonObject, StorageConflict, StoredItem, Write, stored_item

T = TypeVar("T")

BLOCK_BYTES = 4 * 1024 * 1024
"""The size of one block moved to or from Blob Storage: the most any transfer holds in memory."""
PARALLEL = 16
"""Blob calls one store runs at once (a `read` or `scan` of many keys)."""
KEPT_CLIENTS = 1024
"""Blob clients a store keeps for keys it reads or writes again (a user's language is read on
every turn): making one, with the wait on the container, was a third of a small read's client
CPU."""
_WRITE_ID = "ftbotwrite"
_SUFFIX = ".json"
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_/")


def blob_name(key: str) -> str:
    """The blob name of a storage key; a key's prefix maps to a prefix of its blob name.

    A `/` at the start or right after another `/` is escaped too (Blob Storage would fold an
    empty path segment), and `.` always is (no `.` or `..` segment reaches a URL)."""
    out: list[str] = []
    previous = "/"
    for char in key:
        if char in _SAFE and not (char == "/" and previous == "/"):
            out.append(char)
        else:
            out.extend(f"~{byte:02X}" for byte in char.encode("utf-8"))
        previous = char
    return "".join(out) + _SUFFIX


def key_of(name: str) -> str:
    """The storage key of a blob name made by `blob_name`."""
    text = name.removesuffix(_SUFFIX)
    out = bytearray()
    index = 0
    while index < len(text):
        if text[index] == "~":
            out.append(int(text[index + 1 : index + 3], 16))
            index += 3
        else:
            out.extend(text[index].encode())
            index += 1
    return out.decode("utf-8")


class BlobAccount:
    """The storage account's client, shared by the state store, the leases and the datasets."""

    def __init__(self, settings: Settings, *, quick: bool = False) -> None:
        """`quick`: one retry after a second instead of the SDK's three over about a minute (a
        check that should answer soon: `ftbot doctor`)."""
        options: dict[str, Any] = {
            "max_single_put_size": BLOCK_BYTES,
            "max_block_size": BLOCK_BYTES,
            "max_single_get_size": BLOCK_BYTES,
            "max_chunk_get_size": BLOCK_BYTES,
        }
        if quick:  # azure-storage-blob's ExponentialRetry takes these from the client's options
            options |= {"retry_total": 1, "initial_backoff": 1, "increment_base": 1}
        if not urllib.request.getproxies():
            # With the environment's settings on, aiohttp looks up the proxy variables and
            # ~/.netrc in a thread on every request: a third of a state call's client time here.
            # With no proxy set they hold nothing for Blob Storage (a netrc login would clash
            # with the SDK's own Authorization header).
            options["use_env_settings"] = False
        self._credential: Any = None
        connection = settings.storage_connection_string.get_secret_value()
        if connection:
            self.service = BlobServiceClient.from_connection_string(connection, **options)
        else:
            from azure.identity.aio import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
            self.service = BlobServiceClient(
                settings.storage_account_url, credential=self._credential, **options
            )
        self._ready: dict[str, asyncio.Task[None]] = {}
        self._containers: dict[str, ContainerClient] = {}

    def container(self, name: str) -> ContainerClient:
        """The client of one container (made once: the state store asks on every call)."""
        client = self._containers.get(name)
        if client is None:
            client = self._containers[name] = self.service.get_container_client(name)
        return client

    async def ensure(self, name: str) -> ContainerClient:
        """The client of a container, created first if the account has none of that name."""
        task = self._ready.get(name)
        if task is not None and task.done() and task.exception() is None:
            return self.container(name)  # ready: no shielded wait on every state call
        if task is None or task.done():  # not asked yet, or the last try failed
            task = asyncio.ensure_future(self._create(name))
            self._ready[name] = task
        await asyncio.shield(task)
        return self.container(name)

    async def _create(self, name: str) -> None:
        try:
            await self.container(name).create_container()
        except ResourceExistsError:
            pass

    async def close(self) -> None:
        """Close the client, then the credential."""
        await self.service.close()
        if self._credential is not None:
            await self._credential.close()


def _conditions(e_tag: str | None) -> dict[str, Any]:
    if e_tag is None:
        return {}
    return {"etag": e_tag, "match_condition": MatchConditions.IfNotModified}


class BlobStorage:
    """The state store as one blob per key in one container (see the module's docstring)."""

    def __init__(self, account: BlobAccount, container: str, *, own_account: bool = False) -> None:
        """`own_account`: `close` closes the account too (a store opened on its own)."""
        self._account = account
        self._own_account = own_account
        self._container_name = container
        self._gate = asyncio.Semaphore(PARALLEL)
        self._clients: dict[str, BlobClient] = {}  # least recently used first

    @property
    def name(self) -> str:
        """The container and its account."""
        return f"container {self._container_name} of {self._account.service.account_name}"

    async def _container(self) -> ContainerClient:
        return await self._account.ensure(self._container_name)

    async def _blob(self, key: str, *, keep: bool = True) -> BlobClient:
        """The client of a key's blob; `keep`: kept for the next call on the same key (not for
        a key written once, a delivery claim)."""
        client = self._clients.pop(key, None)
        if client is None:
            client = (await self._container()).get_blob_client(blob_name(key))
        if keep:
            self._clients[key] = client
            if len(self._clients) > KEPT_CLIENTS:
                del self._clients[next(iter(self._clients))]
        return client

    async def _gated(self, work: Callable[..., Awaitable[T]], *args: Any) -> T:
        async with self._gate:
            return await work(*args)

    async def _get(self, key: str) -> StoredItem | None:
        blob = await self._blob(key)
        try:
            download = await blob.download_blob()
            body = await download.readall()
        except ResourceNotFoundError:
            return None
        return stored_item(body, str(download.properties.etag))

    async def _put(
        self, key: str, value: JsonObject, *, overwrite: bool = True, **conditions: Any
    ) -> str:
        """Store one blob under `conditions` (`overwrite=False`: only if absent, a key most
        often written once); returns its new e-tag. A refusal of a PUT that was in fact ours
        (the SDK retried it after its answer was lost) counts as done."""
        blob = await self._blob(key, keep=overwrite)
        write = uuid.uuid4().hex
        body = json.dumps(value).encode("utf-8")
        try:
            result = await blob.upload_blob(
                io.BytesIO(body),  # aiohttp streams a file-like; big raw bytes would block
                length=len(body),
                overwrite=overwrite,
                metadata={_WRITE_ID: write},
                content_settings=ContentSettings(content_type="application/json"),
                **conditions,
            )
        except (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError):
            try:
                properties = await blob.get_blob_properties()
            except ResourceNotFoundError:
                raise StorageConflict(f"e-tag conflict on {key}") from None
            if properties.metadata.get(_WRITE_ID) == write:
                return str(properties.etag)
            raise StorageConflict(f"e-tag conflict on {key}") from None
        return str(result["etag"])

    async def read(self, keys: Sequence[str]) -> dict[str, StoredItem]:
        """The stored items among `keys`."""
        unique = list(dict.fromkeys(keys))
        found = await asyncio.gather(*(self._gated(self._get, k) for k in unique))
        return {k: item for k, item in zip(unique, found, strict=True) if item is not None}

    async def write(self, changes: Mapping[str, Write]) -> None:
        """Store all `changes`, or none of them on an e-tag conflict.

        Blob Storage has no transaction over several blobs: the items with an e-tag are written
        first, one by one, and the others only once all of those went through. A batch with one
        e-tag (every batch `RecordStore` makes) is therefore all or nothing; with several, the
        ones written before a conflict are put back as they were."""
        checked = [(k, w) for k, w in changes.items() if w.if_match is not None]
        free = [(k, w) for k, w in changes.items() if w.if_match is None]
        before = await self.read([k for k, _ in checked]) if len(checked) > 1 else {}
        done: list[tuple[str, str]] = []
        try:
            for key, change in checked:
                e_tag = await self._put(key, change.value, **_conditions(change.if_match))
                done.append((key, e_tag))
        except StorageConflict:
            for key, e_tag in done:  # put back what this batch wrote, unless changed since
                old = before.get(key)
                if old is not None:
                    try:
                        await self._put(key, old.value, **_conditions(e_tag))
                    except StorageConflict:
                        pass
            raise
        await asyncio.gather(*(self._gated(self._put, k, w.value) for k, w in free))

    async def create(self, key: str, value: JsonObject) -> bool:
        """Store `value` only if `key` is absent; False when it exists."""
        try:
            await self._put(key, value, overwrite=False)  # If-None-Match: *
        except StorageConflict:
            return False
        return True

    async def _remove(self, key: str) -> None:
        blob = await self._blob(key)
        try:
            await blob.delete_blob()
        except ResourceNotFoundError:
            pass

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove `keys` (missing ones are ignored)."""
        unique = list(dict.fromkeys(keys))
        await asyncio.gather(*(self._gated(self._remove, k) for k in unique))

    async def scan(self, prefix: str) -> dict[str, StoredItem]:
        """Every item whose key starts with `prefix`, by key (in key order)."""
        container = await self._container()
        start = blob_name(prefix).removesuffix(_SUFFIX)
        keys = [key_of(b.name) async for b in container.list_blobs(name_starts_with=start)]
        found = await self.read(sorted(k for k in keys if k.startswith(prefix)))
        return dict(sorted(found.items()))

    async def close(self) -> None:
        """Close the account if this store owns it (else whoever opened it closes it)."""
        if self._own_account:
            await self._account.close()

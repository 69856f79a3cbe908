"""Typed records over a `Storage`: each kind of record is a pydantic model that names its own key.

Record kinds live beside the skills that own them (skills/records.py says where), each with its
key prefix; this module is the generic part: `Key[R]` says where a record of kind `R` lives, and
`RecordStore` reads and writes records by key, with `update` as the one read-modify-write (e-tag
checked, retried on conflict).
An item that no longer parses as its kind (an older layout) is logged and treated as absent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from infra.retry import backoff_delay
from infra.storage import Storage, StorageConflict, StoredItem, Write

log = logging.getLogger(__name__)


class Record(BaseModel):
    """One item of the state store. A kind names its key prefix and defines `key()` from its own
    fields."""

    model_config = ConfigDict(extra="ignore")

    prefix: ClassVar[str]
    """The start of every key of this kind (a kind keyed otherwise, a `Claim`, has none)."""

    def key(self) -> Key[Any]:
        """Where this record is stored."""
        raise NotImplementedError


R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class Key(Generic[R]):
    """The storage key of one record of kind `kind`."""

    kind: type[R]
    path: str


class RecordStore:
    """Reads and writes typed records."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def _parse(self, kind: type[R], path: str, item: StoredItem) -> R | None:
        try:
            return kind.model_validate(item.value)
        except ValidationError as error:
            log.warning("stored %s is not a %s (%s); ignoring it", path, kind.__name__, error)
            return None

    async def get(self, key: Key[R]) -> R | None:
        """The record at `key`, or None."""
        found = (await self.storage.read([key.path])).get(key.path)
        return self._parse(key.kind, key.path, found) if found is not None else None

    async def all(self, kind: type[R], prefix: str | None = None) -> list[R]:
        """Every record of `kind` whose key starts with `prefix` (by default the kind's own: all
        of them), in key order."""
        found = await self.storage.scan(kind.prefix if prefix is None else prefix)
        parsed = (self._parse(kind, path, item) for path, item in found.items())
        return [record for record in parsed if record is not None]

    async def put(self, *records: Record) -> None:
        """Store whole records at once (last writer wins)."""
        await self.storage.write({r.key().path: Write(r.model_dump(mode="json")) for r in records})

    async def create(self, record: Record) -> bool:
        """Store `record` only where its key is free; False when something is there."""
        return await self.storage.create(record.key().path, record.model_dump(mode="json"))

    async def update(
        self,
        key: Key[R],
        change: Callable[[R | None], R | None],
        *,
        attempts: int = 20,
        together: Callable[[R], Sequence[Record]] | None = None,
    ) -> R | None:
        """Read-modify-write one record under e-tag concurrency, retried on conflict.

        `change` gets the stored record (None when absent) and returns the record to store, or
        None to leave it as it is; it may run more than once, so it must not have side effects.
        Returns what is stored afterwards. Conflicting writers back off with jitter.

        `together` names the records to store in the same write as a change of an existing
        record (what the change starts: its own records, last writer wins): all or nothing on
        SQLite; on Blob Storage, which writes one blob at a time, they follow the changed record
        (infra/blob.py), so a crash can come between them.
        """
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(backoff_delay(attempt, base=0.005, cap=0.2, retry_after=None))
            found = (await self.storage.read([key.path])).get(key.path)
            current = self._parse(key.kind, key.path, found) if found is not None else None
            changed = change(current.model_copy(deep=True) if current is not None else None)
            if changed is None:
                return current
            value = changed.model_dump(mode="json")
            if found is None:
                if await self.storage.create(key.path, value):
                    if together is not None:
                        await self.put(*together(changed))
                    return changed
                continue
            writes = {key.path: Write(value, if_match=found.e_tag)}
            for record in together(changed) if together is not None else ():
                writes[record.key().path] = Write(record.model_dump(mode="json"))
            try:
                await self.storage.write(writes)
            except StorageConflict:
                continue
            return changed
        raise StorageConflict(f"gave up on {key.path} after {attempts} conflicting writes")

    async def delete(self, *keys: Key[Any] | str) -> None:
        """Remove records (missing ones are ignored)."""
        await self.storage.delete([k if isinstance(k, str) else k.path for k in keys])

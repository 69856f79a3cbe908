"""Typed records over a `Storage`: each kind of record is a pydantic model that names its own key.

Record kinds live beside the skills that own them (skills/records.py says where), each with its
key prefix; this module is the generic part: `Key[R]` says where a record of kind `R` lives, and
`RecordStore` reads and writes records by key, with `update` as the one read-modify-write (e-tag
checked, retried on conflict).

Every record is stored with the version of its kind's layout (`_schema`, the kind's
`schema_version`; records written before versions existed have none and are version 1). A newer
version of the code reads an older record through the kind's `migrations`, one version at a time.
A record that cannot be read (not JSON, or not the layout of any version) never stops a read: it
is moved aside (an `Aside` under `damaged/`, with the text as it was stored), one log line names
the store and the key, and the reader finds what the kind puts in its place
(`Record.in_place_of_damaged`: nothing, unless the kind must not be taken as absent).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from infra.retry import backoff_delay
from infra.storage import JsonObject, Storage, StorageConflict, StoredItem, Write

log = logging.getLogger(__name__)

SCHEMA = "_schema"
"""The stored field that holds a record's layout version (absent: version 1)."""


class Record(BaseModel):
    """One item of the state store. A kind names its key prefix and defines `key()` from its own
    fields."""

    model_config = ConfigDict(extra="ignore")

    prefix: ClassVar[str]
    """The start of every key of this kind (a kind keyed otherwise, a `Claim`, has none)."""
    schema_version: ClassVar[int] = 1
    """The version of this kind's stored layout: raise it with each change older records do not
    fit, and add the step from the version before to `migrations`."""
    migrations: ClassVar[Mapping[int, Callable[[JsonObject], JsonObject]]] = {}
    """Version n -> the change of a stored value of version n into version n + 1."""

    def key(self) -> Key[Any]:
        """Where this record is stored."""
        raise NotImplementedError

    @classmethod
    def in_place_of_damaged(cls, path: str, aside: str) -> Self | None:
        """What stays at `path` when its record could not be read and was moved to `aside`:
        None (the default) frees the key; a kind whose absence means something else (the
        resource a team works on) leaves a record that says it was damaged."""
        return None

    def stored(self) -> JsonObject:
        """The JSON this record is stored as, with its layout version."""
        return {**self.model_dump(mode="json"), SCHEMA: self.schema_version}


class Aside(Record):
    """A record that could not be read, moved out of its kind's way: where it was, why, when, and
    the text as it was stored (to repair it by hand)."""

    prefix = "damaged/"

    path: str
    aside: str
    reason: str
    at: float
    text: str

    def key(self) -> Key[Aside]:
        """Where this record is stored."""
        return Key(Aside, self.aside)


@dataclass(frozen=True)
class _Unreadable:
    """Why a stored item is not a record of its kind; `newer`: it is a later version's layout,
    left alone for the code that wrote it."""

    reason: str
    newer: bool = False


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

    def _decode(self, kind: type[R], item: StoredItem) -> R | _Unreadable:
        """The record an item holds, migrated to the kind's current layout."""
        if item.damage:
            return _Unreadable(item.damage)
        value = dict(item.value)
        version = value.pop(SCHEMA, 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            return _Unreadable(f"{SCHEMA} {version!r} is no layout version")
        while version < kind.schema_version:
            step = kind.migrations[version]  # every step exists (tests/skills/test_records.py)
            try:
                value = step(value)
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                reason = f"layout {version} of {kind.__name__} that does not migrate ({error!r})"
                return _Unreadable(reason)
            version += 1
        try:
            return kind.model_validate(value)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in e['loc']) or 'value'}: {e['msg']}"
                for e in error.errors()[:3]
            )
            reason = f"not a {kind.__name__} of layout {version} ({problems})"
            return _Unreadable(reason, newer=version > kind.schema_version)

    async def _read(self, kind: type[R], path: str, item: StoredItem) -> R | None:
        """The record of an item: an unreadable one is moved aside, and the reader gets what its
        kind leaves in its place (None: absent)."""
        found = self._decode(kind, item)
        if not isinstance(found, _Unreadable):
            return found
        if found.newer:
            log.warning(
                "state store %s: %s is %s, written by a newer version of the bot; left as it is",
                self.storage.name,
                path,
                found.reason,
            )
            return None
        return await self._move_aside(kind, path, item, found.reason)

    async def _move_aside(
        self, kind: type[R], path: str, item: StoredItem, reason: str
    ) -> R | None:
        now = time.time()
        aside = Aside(
            path=path,
            aside=f"{Aside.prefix}{path}@{int(now * 1000)}",
            reason=reason,
            at=now,
            text=item.raw or json.dumps(item.value),
        )
        await self.storage.write({aside.aside: Write(aside.stored())})
        instead = kind.in_place_of_damaged(path, aside.aside)
        try:
            if instead is None:
                await self.storage.delete([path])
            else:
                await self.storage.write({path: Write(instead.stored(), if_match=item.e_tag)})
        except StorageConflict:
            pass  # rewritten meanwhile: the new record stands
        log.warning(
            "state store %s: %s could not be read (%s); moved it aside to %s",
            self.storage.name,
            path,
            reason,
            aside.aside,
        )
        return instead

    async def get(self, key: Key[R]) -> R | None:
        """The record at `key`, or None."""
        found = (await self.storage.read([key.path])).get(key.path)
        return await self._read(key.kind, key.path, found) if found is not None else None

    async def all(self, kind: type[R], prefix: str | None = None) -> list[R]:
        """Every record of `kind` whose key starts with `prefix` (by default the kind's own: all
        of them), in key order."""
        found = await self.storage.scan(kind.prefix if prefix is None else prefix)
        parsed = [await self._read(kind, path, item) for path, item in found.items()]
        return [record for record in parsed if record is not None]

    async def put(self, *records: Record) -> None:
        """Store whole records at once (last writer wins)."""
        await self.storage.write({r.key().path: Write(r.stored()) for r in records})

    async def create(self, record: Record) -> bool:
        """Store `record` only where its key is free; False when something is there."""
        return await self.storage.create(record.key().path, record.stored())

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
        Returns what is stored afterwards. Conflicting writers back off with jitter. A record of a
        newer layout is not overwritten (StorageConflict).

        `together` names the records to store in the same write as a change of an existing
        record (what the change starts: its own records, last writer wins): all or nothing on
        SQLite; on Blob Storage, which writes one blob at a time, they follow the changed record
        (infra/blob.py), so a crash can come between them.
        """
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(backoff_delay(attempt, base=0.005, cap=0.2, retry_after=None))
            found = (await self.storage.read([key.path])).get(key.path)
            current = None
            if found is not None:
                decoded = self._decode(key.kind, found)
                if isinstance(decoded, _Unreadable):
                    if decoded.newer:
                        raise StorageConflict(f"{key.path} is {decoded.reason}: a newer layout")
                    await self._move_aside(key.kind, key.path, found, decoded.reason)
                    continue  # read again what was left in its place
                current = decoded
            changed = change(current.model_copy(deep=True) if current is not None else None)
            if changed is None:
                return current
            value = changed.stored()
            if found is None:
                if await self.storage.create(key.path, value):
                    if together is not None:
                        await self.put(*together(changed))
                    return changed
                continue
            writes = {key.path: Write(value, if_match=found.e_tag)}
            for record in together(changed) if together is not None else ():
                writes[record.key().path] = Write(record.stored())
            try:
                await self.storage.write(writes)
            except StorageConflict:
                continue
            return changed
        raise StorageConflict(f"gave up on {key.path} after {attempts} conflicting writes")

    async def delete(self, *keys: Key[Any] | str) -> None:
        """Remove records (missing ones are ignored)."""
        await self.storage.delete([k if isinstance(k, str) else k.path for k in keys])

"""The records of provisioning, access and teardown: the questions (create? purge? rotate? delete
all?), a provisioning and a teardown on their way (each resumed after a restart), the keys each
resource uses, and the names of the people the `roles` card lists."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from infra.azure import Resource
from infra.records import Key, Record
from skills.records import Confirmation, Spoken, lower_segment, resource_segment

# -- provisioning (service.py) --------------------------------------------------------------------


class ProvisionRequest(Confirmation):
    """An account to create (or adopt), waiting for "Create"."""

    prefix = "provision/request/"

    scope: str
    user_name: str
    resource: Resource
    location: str

    @classmethod
    def at(cls, token: str) -> Key[ProvisionRequest]:
        """The key of a pending provisioning."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[ProvisionRequest]:
        """Where this record is stored."""
        return self.at(self.token)


ProvisionStage = Literal["confirmed", "creating", "roles", "waiting", "succeeded", "failed"]


class ProvisionRecord(Record, Spoken):
    """A confirmed provisioning on its way: group -> account (a long-running operation) -> the
    bot's role -> a data-plane call that works. Each stage kept, so a restart resumes it."""

    prefix = "provision/run/"

    token: str
    scope: str
    conversation: str
    user: str
    user_name: str
    resource: Resource
    location: str
    audit: str
    card: str = ""
    stage: ProvisionStage = "confirmed"
    adopted: bool = False
    created_group: bool = False
    started_at: float = 0.0
    state: str = ""
    error: str = ""

    @classmethod
    def at(cls, token: str) -> Key[ProvisionRecord]:
        """The key of a provisioning run."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[ProvisionRecord]:
        """Where this record is stored."""
        return self.at(self.token)

    @property
    def finished(self) -> bool:
        """It succeeded or gave up."""
        return self.stage in ("succeeded", "failed")


class PurgeRequest(Confirmation):
    """A soft-deleted account to purge, waiting for "Purge"."""

    prefix = "purge-request/"

    user_name: str
    resource: Resource
    location: str

    @classmethod
    def at(cls, token: str) -> Key[PurgeRequest]:
        """The key of a pending purge."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[PurgeRequest]:
        """Where this record is stored."""
        return self.at(self.token)


# -- roles and keys (access.py) -------------------------------------------------------------------


class PrincipalName(Record):
    """The display name of a person the bot met (an AAD object id), for the `roles` card."""

    prefix = "principal/"

    object_id: str
    name: str

    @classmethod
    def at(cls, object_id: str) -> Key[PrincipalName]:
        """The key of a principal's name."""
        return Key(cls, f"{cls.prefix}{lower_segment(object_id)}")

    def key(self) -> Key[PrincipalName]:
        """Where this record is stored."""
        return self.at(self.object_id)


KeyName = Literal["key1", "key2"]


class KeysRequest(Confirmation):
    """A key to regenerate, waiting for "Rotate"."""

    prefix = "keys-request/"

    user_name: str
    resource: Resource
    key_name: KeyName

    @classmethod
    def at(cls, token: str) -> Key[KeysRequest]:
        """The key of a pending rotation."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[KeysRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class KeyState(Record):
    """A resource's keys as the bot knows them: which one it uses (key auth), and when it last
    regenerated each (Azure does not report rotations). Never a key's value."""

    prefix = "keys/state/"
    schema_version = 2
    migrations = {1: lambda value: {**value, "version": 0}}  # 2: `version`

    resource: Resource
    in_use: KeyName | None = None
    """Set once the bot switched keys; every instance then uses this one."""
    version: int = 0
    """Raised with each switch: an instance that applied this version has nothing to look up."""
    switched_at: float = 0.0
    rotated_at: dict[str, float] = {}
    rotated_by: dict[str, str] = {}

    @classmethod
    def of(cls, resource: Resource) -> Key[KeyState]:
        """The key of a resource's key state."""
        return Key(cls, f"{cls.prefix}{resource_segment(resource)}")

    def key(self) -> Key[KeyState]:
        """Where this record is stored."""
        return self.of(self.resource)


# -- teardown (teardown.py) -----------------------------------------------------------------------

TeardownKind = Literal["deployment", "job", "file", "account"]


class TeardownItem(BaseModel):
    """One thing teardown deletes, and how that went."""

    kind: TeardownKind
    id: str
    label: str
    state: Literal["pending", "deleting", "done", "failed"] = "pending"
    reason: str = ""


class TeardownRequest(Confirmation):
    """Everything the bot created on a resource, waiting for "Delete all of it"."""

    prefix = "teardown/request/"

    user_name: str
    resource: Resource
    items: list[TeardownItem]

    @classmethod
    def at(cls, token: str) -> Key[TeardownRequest]:
        """The key of a pending teardown."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[TeardownRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class TeardownRecord(Record, Spoken):
    """A confirmed teardown on its way, item by item (resumed after a restart)."""

    prefix = "teardown/run/"

    token: str
    conversation: str
    user: str
    user_name: str
    resource: Resource
    items: list[TeardownItem]
    audit: str
    card: str = ""
    started_at: float = 0.0
    local_done: bool = False
    finished: bool = False

    @classmethod
    def at(cls, token: str) -> Key[TeardownRecord]:
        """The key of a teardown run."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[TeardownRecord]:
        """Where this record is stored."""
        return self.at(self.token)

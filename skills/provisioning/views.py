"""What provisioning, access, keys, teardown and the audit trail show, as data
(adaptive_cards/provisioning.py draws it; bot/render.py maps the views sent through Notify).

A view's texts (a step, a state, a reason, a note, what a role allows, a teardown item's label)
are the workflow's words, already said in the language of the person who started it (the
record's `language`); names and ids are kept as they are, and the card decides how to show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skills.audit import AuditEntry
from skills.notify import View
from skills.provisioning.records import TeardownItem


@dataclass(frozen=True)
class ProvisionPlan:
    """What `provision` will create (or adopt), shown before anything is done."""

    account: str
    group: str
    subscription: str
    location: str
    region: str
    group_exists: bool
    exists: bool
    """An account of that name is in that group already: it is adopted, not created."""
    token: str = ""
    expires_hours: int = 0


@dataclass(frozen=True)
class ProvisionProgress(View):
    """The account is on its way (Creating, then the bot's role, then a data-plane call)."""

    plan: ProvisionPlan
    step: str
    state: str
    elapsed: float


@dataclass(frozen=True)
class ProvisionSucceeded(View):
    """The account is ready and is now this team's or conversation's resource."""

    plan: ProvisionPlan
    endpoint: str
    elapsed: float
    adopted: bool
    note: str = ""


@dataclass(frozen=True)
class ProvisionFailed(View):
    """Provisioning stopped; `reason` says why in plain words."""

    plan: ProvisionPlan
    reason: str


@dataclass(frozen=True)
class ResourceView:
    """`resource`: the current resource and how the bot reaches it."""

    subscription: str
    group: str
    account: str
    location: str
    sku: str
    endpoint: str
    auth: str
    origin: str
    """Who provisioned or adopted it when, or that it comes from the settings."""
    state: str = ""


@dataclass(frozen=True)
class RoleLine:
    """One of the lab's four roles: what it allows and who holds it."""

    name: str
    allows: str
    scope: str
    holders: tuple[str, ...] = ()
    held: bool | None = None
    """For `roles <who>`: whether that principal holds it now."""
    note: str = ""


@dataclass(frozen=True)
class RolesView:
    """`roles`: the four roles on the current resource (and what changed for whom)."""

    account: str
    lines: tuple[RoleLine, ...]
    principal: str = ""
    action: str = "list"
    """list, assigned or removed."""


@dataclass(frozen=True)
class KeysView:
    """`keys`: the endpoint, masked keys, which one the bot uses, when each was rotated."""

    account: str
    endpoint: str
    auth: str
    masked: dict[str, str]
    in_use: str | None
    rotated: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RotatePlan:
    """Asked before regenerating a key."""

    account: str
    key_name: str
    in_use: str | None
    token: str
    expires_hours: int


@dataclass(frozen=True)
class KeyRotated:
    """A key was regenerated; `valid` is the key people who copied one may keep using, unless
    `also` says when and by whom it was regenerated too since the question was asked."""

    account: str
    key_name: str
    valid: str
    switched: bool
    masked: dict[str, str]
    also: str = ""


@dataclass(frozen=True)
class TeardownPlan:
    """Everything teardown would delete, read before the destructive button."""

    account: str
    group: str
    items: tuple[TeardownItem, ...]
    token: str
    expires_hours: int


@dataclass(frozen=True)
class TeardownProgress(View):
    """The card that follows a teardown, item by item."""

    account: str
    items: tuple[TeardownItem, ...]
    finished: bool
    local_done: bool


@dataclass(frozen=True)
class PurgePlan:
    """Asked before purging a soft-deleted account."""

    account: str
    group: str
    location: str
    purge_date: str
    token: str
    expires_hours: int


@dataclass(frozen=True)
class AuditView:
    """`audit`: the latest costly or destructive actions."""

    entries: tuple[AuditEntry, ...]

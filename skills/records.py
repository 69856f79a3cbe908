"""What the record kinds share, and the records of conversations, claims and questions.

Every kind of record lives beside the workflow that owns it: a skill that is a package keeps its
kinds in its `records.py` (skills/training/, skills/deployment/, skills/provisioning/), a skill of
one module in that module (audit.py, chat.py, checks.py, datasets.py, languages.py, resources.py).
Each kind spells its key prefix once, as `prefix`, and builds its keys from it; a kind of claim is
a `ClaimKind`. tests/skills/test_records.py checks that no two kinds share a prefix, that none
starts another, and that no prefix is spelled a second time in skills/ or bot/.

Here: the key segments; `Spoken`, work that speaks later in the language of the person who
started it; the conversations' references; `Claim`, the record of a once-only step (its rule in
skills/claims.py) and the claims of the transport's steps; `Confirmation`, the base of every
question on a card (skills/confirmations.py answers them). Records of work on Azure carry the
`Resource` they live on, so a watcher follows each on its own resource.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from infra import i18n
from infra.azure import Resource
from infra.records import Key, Record

_KEY_SAFE = re.compile(r"[^A-Za-z0-9_.:;@=-]")
_LOWER_SAFE = re.compile(r"[^a-z0-9_.-]")


def segment(value: str) -> str:
    """A key segment: no slashes or other characters that would make keys ambiguous."""
    return _KEY_SAFE.sub("_", value)


def lower_segment(value: str) -> str:
    """A case-insensitive key segment (Azure names that ignore case)."""
    return _LOWER_SAFE.sub("_", value.lower())


def resource_segment(resource: Resource) -> str:
    """The key segments of a resource: subscription/group/account, case-insensitive."""
    return "/".join(
        lower_segment(v)
        for v in (resource.subscription_id, resource.resource_group, resource.account)
    )


class Spoken(BaseModel):
    """Work that speaks later (a notice, a card updated when someone presses its button): it
    speaks the language of the person who started it, taken when the record is made."""

    language: str = Field(default_factory=i18n.current)


# -- conversations (bot/) ----------------------------------------------------------------------


class ConversationRef(Record):
    """How to reach a conversation proactively: its Bot Framework conversation reference."""

    prefix = "ref/"

    conversation: str
    reference: dict[str, Any]

    @classmethod
    def at(cls, conversation: str) -> Key[ConversationRef]:
        """The key of a conversation's reference."""
        return Key(cls, f"{cls.prefix}{conversation}")

    def key(self) -> Key[ConversationRef]:
        """Where this record is stored."""
        return self.at(self.conversation)


# -- claims (skills/claims.py) -------------------------------------------------------------------


class Claim(Record):
    """A once-only step: who took it, when, and whether it is done. Its key is the step's path,
    made by its `ClaimKind`."""

    path: str
    state: Literal["sending", "done"] = "sending"
    owner: str = ""
    at: float = 0.0
    result: str = ""

    @classmethod
    def at_path(cls, path: str) -> Key[Claim]:
        """The key of a claim."""
        return Key(cls, path)

    def key(self) -> Key[Claim]:
        """Where this record is stored."""
        return self.at_path(self.path)


@dataclass(frozen=True)
class ClaimKind:
    """A kind of once-only step: the key of each of its claims is `prefix` and the step's parts."""

    prefix: str

    def path(self, *parts: str) -> str:
        """The claim of one step."""
        return self.prefix + "/".join(parts)


DELIVERY_CLAIMS = ClaimKind("seen/")
"""Incoming activities, each handled once however often the channel delivers it."""
GREETING_CLAIMS = ClaimKind("greeted/")
"""The greeting of each conversation, sent once."""


def delivery_claim(conversation: str, activity: str) -> str:
    """An incoming activity, handled once however often the channel delivers it."""
    return DELIVERY_CLAIMS.path(conversation, activity)


def greeting_claim(conversation: str) -> str:
    """The greeting of a conversation, sent once."""
    return GREETING_CLAIMS.path(conversation)


# -- questions (skills/confirmations.py) ---------------------------------------------------------


class Confirmation(Record, Spoken):
    """A question on a card (train? deploy? delete?), answered once, before it expires. Each kind
    of question is a subclass, with its own `prefix`."""

    token: str
    conversation: str
    user: str
    created_at: float
    expires_at: float
    state: Literal["pending", "confirmed", "cancelled"] = "pending"
    card: str = ""
    by_name: str = ""
    """Who confirmed it (display name), for the audit entry of the work it starts."""
    answered_at: float = 0.0
    """When it was confirmed (`Confirmations.confirm`): the work it starts is dated by it."""

    @classmethod
    def kinds(cls) -> list[type[Confirmation]]:
        """Every kind of question defined: each skill's records define theirs, and the app
        imports every skill before it sweeps them."""
        found: list[type[Confirmation]] = []
        for kind in cls.__subclasses__():
            found += [kind, *kind.kinds()]
        return [kind for kind in found if "prefix" in vars(kind)]

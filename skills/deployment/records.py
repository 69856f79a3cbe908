"""Hosting's records: the questions (deploy? delete?), each deployment the bot created or used,
and the claims of the idle warnings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from infra.azure import Resource
from infra.records import Key, Record
from skills.records import ClaimKind, Confirmation, Spoken, lower_segment, resource_segment


class DeployRequest(Confirmation):
    """A deployment waiting for "Deploy"."""

    prefix = "deploy-request/"

    resource: Resource
    ref: str
    model: str
    version: str
    fine_tuned: bool
    job: str
    name: str
    sku: str
    capacity: int

    @classmethod
    def at(cls, token: str) -> Key[DeployRequest]:
        """The key of a pending deployment."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[DeployRequest]:
        """Where this record is stored."""
        return self.at(self.token)


class DeleteRequest(Confirmation):
    """A deletion waiting for "Delete"."""

    prefix = "delete-request/"

    resource: Resource
    name: str
    model: str
    deployed_at: float = 0.0
    """When Azure created the deployment asked about (its `systemData.createdAt`): a deletion
    recovered after a crash deletes that deployment, never a later one of the same name."""

    @classmethod
    def at(cls, token: str) -> Key[DeleteRequest]:
        """The key of a pending deletion."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[DeleteRequest]:
        """Where this record is stored."""
        return self.at(self.token)


DeploymentState = Literal["requested", "creating", "succeeded", "failed", "deleting", "deleted"]
"""`requested`: recorded before its PUT, which the follower sends (skills/deployment/follow.py)."""


class DeleteCard(BaseModel):
    """A card waiting for a deletion to end, in its conversation, who pressed Delete there, the
    question answered and its audit entry."""

    conversation: str
    card: str
    by: str = ""
    token: str = ""
    audit: str = ""


class DeploymentRecord(Record, Spoken):
    """The bot's memory of one deployment it created or used."""

    prefix = "deployment/"

    resource: Resource
    name: str
    model: str
    version: str = "1"
    sku: str = "standard"
    capacity: int = 1
    fine_tuned: bool = True
    state: DeploymentState = "creating"
    conversation: str = ""
    user: str = ""
    card: str = ""
    job: str = ""
    ref: str = ""
    """What the user asked to deploy (job, model or checkpoint), for "Try again"."""
    token: str = ""
    """The question whose "Deploy" made this record."""
    audit: str = ""
    """The audit entry of the deployment, ended when Azure accepts or refuses its PUT."""
    started_at: float = 0.0
    created_at: float = 0.0
    last_used: float = 0.0
    reason: str = ""
    warning_card: str = ""
    warning_conversation: str = ""
    delete_card: str = ""
    delete_conversation: str = ""
    delete_cards: list[DeleteCard] = []
    """Every card that waits for the deletion (two people may delete the same deployment)."""
    deleted_by: str = ""
    """Who asked first for the deletion that is under way (or done), by display name."""

    @classmethod
    def at(cls, resource: Resource, name: str) -> Key[DeploymentRecord]:
        """The key of a deployment's record (deployment names ignore case)."""
        return Key(cls, f"{cls.under(resource)}{lower_segment(name)}")

    @classmethod
    def under(cls, resource: Resource) -> str:
        """The key prefix of the deployment records under one resource."""
        return f"{cls.prefix}{resource_segment(resource)}/"

    def key(self) -> Key[DeploymentRecord]:
        """Where this record is stored."""
        return self.at(self.resource, self.name)

    @property
    def idle_since(self) -> float:
        """When the current idle period started: the last completion seen, or the creation."""
        return max(self.last_used, self.created_at)


IDLE_WARNING_CLAIMS = ClaimKind("idle-warning/")
"""The inactivity warning of each idle period of a deployment (at most once)."""


def idle_warning_claim(resource: Resource, deployment: str, idle_since: float) -> str:
    """The inactivity warning of one idle period of a deployment (at most once)."""
    return IDLE_WARNING_CLAIMS.path(
        resource_segment(resource), lower_segment(deployment), str(int(idle_since))
    )

"""Which Azure OpenAI resource a conversation works on.

The current resource belongs to a team (the Teams team of a channel conversation) or, outside a
team, to the conversation: a personal chat is one user's, as in the lab where each participant
makes their own `AzureOpenAI-FinetuneXX`. `provision` makes the new account the current resource
of its scope; with none chosen, the settings' resource is the default for all. Records of work
carry their own resource, so switching never orphans running work.
"""

from __future__ import annotations

from infra.azure import Resource
from infra.errors import UserError
from infra.records import Key, Record
from infra.text import echo
from skills.context import Context
from skills.records import resource_segment, segment


class CurrentResource(Record):
    """The resource a team (or, outside a team, a conversation) works on. A record that could not
    be read leaves one with no resource and where it went (`damaged`): the scope then works on
    nothing until an admin chooses again, never silently on the default."""

    prefix = "resource/current/"
    schema_version = 2
    migrations = {1: lambda value: {**value, "damaged": ""}}  # 2: `damaged`

    scope: str
    resource: Resource | None
    damaged: str = ""

    @classmethod
    def in_place_of_damaged(cls, path: str, aside: str) -> CurrentResource:
        """The scope's choice is unknown: say so, instead of falling back to the default."""
        return cls(scope=path.removeprefix(cls.prefix), resource=None, damaged=aside)

    @classmethod
    def at(cls, scope: str) -> Key[CurrentResource]:
        """The key of a scope's current resource."""
        return Key(cls, f"{cls.prefix}{segment(scope)}")

    def key(self) -> Key[CurrentResource]:
        """Where this record is stored."""
        return self.at(self.scope)


class ResourceRecord(Record):
    """What the bot knows of a resource it provisioned or adopted: where, who, when."""

    prefix = "resource/known/"

    resource: Resource
    location: str = ""
    sku: str = ""
    provisioned: bool = False
    """The bot created the account (so `teardown` deletes it); False: adopted."""
    by: str = ""
    by_name: str = ""
    at: float = 0.0
    deleted: bool = False

    @classmethod
    def of(cls, resource: Resource) -> Key[ResourceRecord]:
        """The key of a resource's record."""
        return Key(cls, f"{cls.prefix}{resource_segment(resource)}")

    def key(self) -> Key[ResourceRecord]:
        """Where this record is stored."""
        return self.of(self.resource)


def scope_of(conversation: str, team: str | None) -> str:
    """The scope whose current resource a conversation uses: its team, else itself."""
    return f"team:{team}" if team else f"conversation:{conversation}"


class Resources:
    """The current resource of each scope, and what the bot knows of each resource."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def current(self, scope: str) -> Resource:
        """The scope's resource, else the settings' resource."""
        chosen = await self.ctx.records.get(CurrentResource.at(scope))
        if chosen is None:
            return self.ctx.azure.default
        if chosen.resource is None:
            raise UserError(
                "I could not read which Azure OpenAI resource this team or conversation works on "
                "(the record was damaged; I moved it aside as {aside}), so I will not guess. An "
                "admin can choose it again: `provision name=<account>` adopts an existing account.",
                aside=echo(chosen.damaged, cap=200),
            )
        return chosen.resource

    async def choose(self, scope: str, resource: Resource) -> None:
        """Make `resource` the scope's current resource."""
        await self.ctx.records.put(CurrentResource(scope=scope, resource=resource))

    async def forget(self, resource: Resource) -> None:
        """No scope works on `resource` any more (it was deleted): they fall back to the default."""
        stale = [
            c.key() for c in await self.ctx.records.all(CurrentResource) if c.resource == resource
        ]
        await self.ctx.records.delete(*stale)

    async def known(self, resource: Resource) -> ResourceRecord | None:
        """What the bot recorded when it provisioned or adopted `resource`."""
        return await self.ctx.records.get(ResourceRecord.of(resource))

    def require_resource_manager(self) -> None:
        """The one sentence for resource commands when there is no subscription to work in."""
        if not self.ctx.settings.resource_manager:
            raise UserError(
                "Resource commands need Azure Resource Manager: set AZURE_SUBSCRIPTION_ID (with "
                "AZURE_RESOURCE_GROUP and AZURE_OPENAI_ACCOUNT for an existing resource); the "
                "endpoint and key alone serve validation, training and chat."
            )

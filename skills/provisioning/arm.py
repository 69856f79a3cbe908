"""Accounts, resource groups, deleted accounts and keys on Resource Manager, through
`azure-mgmt-cognitiveservices` and `azure-mgmt-resource` (the lab's portal steps 1 and 3).

Long-running operations are started with `polling=False` and followed by reading the account
(skills/provisioning/service.py), so a restart can pick them up where they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.cognitiveservices.aio import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import Account, AccountProperties
from azure.mgmt.cognitiveservices.models import Sku as AccountSku
from azure.mgmt.resource.resources.aio import ResourceManagementClient
from azure.mgmt.resource.resources.models import ResourceGroup

from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import N_, _
from skills.azure_errors import arm_detail, arm_error

KIND = "OpenAI"
SKU = "S0"


STATES = {
    "Accepted": N_("Accepted"),
    "Creating": N_("Creating"),
    "ResolvingDNS": N_("ResolvingDNS"),
    "Moving": N_("Moving"),
    "Deleting": N_("Deleting"),
    "Succeeded": N_("Succeeded"),
    "Failed": N_("Failed"),
    "Canceled": N_("Canceled"),
    "Unknown": N_("Unknown"),
}
"""Resource Manager's provisioning states, as a card shows them (`state_name`)."""


def state_name(state: str) -> str:
    """An account's provisioning state in the current language (as it is when not a known one)."""
    known = next((label for name, label in STATES.items() if name.lower() == state.lower()), None)
    return _(known) if known else state


@dataclass(frozen=True)
class AccountInfo:
    """An account as Resource Manager reports it."""

    id: str
    name: str
    location: str
    kind: str
    sku: str
    state: str
    endpoint: str
    subdomain: str

    @property
    def ready(self) -> bool:
        """Created and usable."""
        return self.state.lower() == "succeeded"

    @property
    def failed(self) -> bool:
        """Azure gave up creating it."""
        return self.state.lower() in ("failed", "canceled")


@dataclass(frozen=True)
class DeletedAccount:
    """A soft-deleted account: where it was, and when Azure purges it."""

    name: str
    group: str
    location: str
    purge_date: str


def info_of(account: Account) -> AccountInfo:
    """The parts of an account the bot shows and reasons about."""
    props = account.properties
    return AccountInfo(
        id=str(account.id or ""),
        name=str(account.name or ""),
        location=str(account.location or ""),
        kind=str(account.kind or ""),
        sku=str(getattr(account.sku, "name", "") or ""),
        state=str(getattr(props, "provisioning_state", "") or "Unknown"),
        endpoint=str(getattr(props, "endpoint", "") or ""),
        subdomain=str(getattr(props, "custom_sub_domain_name", "") or ""),
    )


async def ensure_group(client: ResourceManagementClient, group: str, location: str) -> bool:
    """The resource group exists afterwards; True when this call created it."""
    try:
        if await client.resource_groups.check_existence(group):
            return False
        await client.resource_groups.create_or_update(group, ResourceGroup(location=location))
    except HttpResponseError as error:
        raise arm_error(error, _("create resource group `{group}`", group=group)) from None
    return True


async def group_exists(client: ResourceManagementClient, group: str) -> bool:
    """True when the resource group exists."""
    try:
        return bool(await client.resource_groups.check_existence(group))
    except HttpResponseError as error:
        raise arm_error(error, _("read resource group `{group}`", group=group)) from None


async def get_account(
    client: CognitiveServicesManagementClient, group: str, name: str
) -> AccountInfo | None:
    """The account, or None when there is none (or its group does not exist)."""
    try:
        return info_of(await client.accounts.get(group, name))
    except ResourceNotFoundError:
        return None
    except HttpResponseError as error:
        if error.status_code == 404:
            return None
        raise arm_error(error, _("read account `{name}`", name=name)) from None


def _create_error(error: HttpResponseError, name: str, group: str) -> UserError:
    code, message = arm_detail(error)
    if code == "CustomDomainInUse":
        return UserError(
            "The name `{name}` is taken: it is also the endpoint's subdomain, and another "
            "Azure resource (anyone's, anywhere) already uses it. Choose another name.",
            name=name,
        )
    if code == "FlagMustBeSetForRestore":
        return UserError(
            "`{name}` was deleted less than 48 hours ago and Azure still keeps it (soft-deleted) "
            "in group `{group}`: say `purge {name}` to remove it for good, then `provision` "
            "again.",
            name=name,
            group=group,
        )
    return arm_error(error, _("create account `{name}`", name=name))


async def begin_create(
    client: CognitiveServicesManagementClient, group: str, name: str, location: str
) -> AccountInfo:
    """PUT the account (kind OpenAI, S0, custom subdomain = its name); it is then Creating."""
    body = Account(
        kind=KIND,
        sku=AccountSku(name=SKU),
        location=location,
        properties=AccountProperties(custom_sub_domain_name=name.lower()),
    )
    try:
        poller = await client.accounts.begin_create(group, name, body, polling=False)
        created = await poller.result()
    except HttpResponseError as error:
        raise _create_error(error, name, group) from None
    if created is None:
        found = await get_account(client, group, name)
        if found is None:
            raise UserError("Azure accepted account `{name}` but does not show it yet.", name=name)
        return found
    return info_of(created)


async def begin_delete(client: CognitiveServicesManagementClient, group: str, name: str) -> None:
    """Ask Resource Manager to delete an account (it is then soft-deleted for 48 hours)."""
    try:
        await client.accounts.begin_delete(group, name, polling=False)
    except ResourceNotFoundError:
        return
    except HttpResponseError as error:
        raise arm_error(error, _("delete account `{name}`", name=name)) from None


def _deleted_of(account: Account) -> DeletedAccount:
    rid = str(account.id or "")
    group = (
        rid.split("/resourceGroups/", 1)[1].split("/", 1)[0] if "/resourceGroups/" in rid else ""
    )
    props = account.properties
    return DeletedAccount(
        name=str(account.name or ""),
        group=group,
        location=str(account.location or ""),
        purge_date=str(getattr(props, "scheduled_purge_date", "") or ""),
    )


async def find_deleted(
    client: CognitiveServicesManagementClient, name: str, group: str | None = None
) -> DeletedAccount | None:
    """The soft-deleted account of that name in the subscription (in `group`, when given)."""
    try:
        found = [_deleted_of(a) async for a in client.deleted_accounts.list()]
    except HttpResponseError as error:
        raise arm_error(error, _("list the deleted accounts")) from None
    for deleted in found:
        if deleted.name.lower() == name.lower() and (
            group is None or deleted.group.lower() == group.lower()
        ):
            return deleted
    return None


async def purge(client: CognitiveServicesManagementClient, deleted: DeletedAccount) -> None:
    """Remove a soft-deleted account for good (its name and subdomain are free again)."""
    try:
        poller = await client.deleted_accounts.begin_purge(
            deleted.location, deleted.group, deleted.name
        )
        await poller.result()
    except ResourceNotFoundError:
        return
    except HttpResponseError as error:
        raise arm_error(error, _("purge account `{name}`", name=deleted.name)) from None


async def list_keys(
    client: CognitiveServicesManagementClient, resource: Resource
) -> dict[str, str]:
    """{"key1": ..., "key2": ...}: secrets, never to be shown or logged whole."""
    try:
        keys: Any = await client.accounts.list_keys(resource.resource_group, resource.account)
    except HttpResponseError as error:
        raise arm_error(
            error, _("read the keys of `{account}`", account=resource.account)
        ) from None
    return {"key1": str(keys.key1 or ""), "key2": str(keys.key2 or "")}


async def regenerate_key(
    client: CognitiveServicesManagementClient, resource: Resource, name: str
) -> dict[str, str]:
    """Regenerate KEY1 or KEY2 (the old value stops working at once); the keys afterwards."""
    try:
        keys: Any = await client.accounts.regenerate_key(
            resource.resource_group,
            resource.account,
            key_name="Key1" if name == "key1" else "Key2",
        )
    except HttpResponseError as error:
        doing = _("regenerate {key} of `{account}`", key=name.upper(), account=resource.account)
        raise arm_error(error, doing) from None
    return {"key1": str(keys.key1 or ""), "key2": str(keys.key2 or "")}

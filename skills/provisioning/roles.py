"""The lab's four role assignments (step 2), through `azure-mgmt-authorization`: the only roles
the bot ever assigns or removes (GUIDs: ../shared/specs/README.md).

Assignments are named by a stable GUID per (scope, principal, role), so asking again PUTs the
same assignment instead of a duplicate; an assignment made another way is reported as held
(409 `RoleAssignmentExists` is not an error).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.authorization.aio import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

from infra.azure import Resource
from infra.i18n import N_, _
from skills.azure_errors import arm_detail, arm_error

_NAMES = uuid.UUID("2c7f9a64-9b8e-4d1e-8c55-6f4f3b1d0a27")

PrincipalType = Literal["User", "ServicePrincipal", "Group"]


@dataclass(frozen=True)
class LabRole:
    """A built-in role the lab assigns: its GUID, name, what it allows (a message id: `_()` it
    where it is shown), where it is assigned."""

    guid: str
    name: str
    allows: str
    at_subscription: bool = False


OPENAI_CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"
LAB_ROLES = (
    LabRole(
        OPENAI_CONTRIBUTOR,
        "Cognitive Services OpenAI Contributor",
        N_("Upload files, fine-tune, deploy and call the models (data plane, Entra ID)."),
    ),
    LabRole(
        "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
        "Cognitive Services OpenAI User",
        N_("Read files, jobs and models, and chat with the deployments (data plane, Entra ID)."),
    ),
    LabRole(
        "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68",
        "Cognitive Services Contributor",
        N_("Manage the resource on Azure: deployments, keys and settings (no data access)."),
    ),
    LabRole(
        "bba48692-92b0-4667-a9ad-c31c7b334ac2",
        "Cognitive Services Usages Reader",
        N_("See the subscription's Cognitive Services quota and usage."),
        at_subscription=True,
    ),
)


def account_id(resource: Resource) -> str:
    """The Resource Manager id of the resource's account."""
    return (
        f"/subscriptions/{resource.subscription_id}/resourceGroups/{resource.resource_group}"
        f"/providers/Microsoft.CognitiveServices/accounts/{resource.account}"
    )


def scope_of(resource: Resource, role: LabRole) -> str:
    """Where the lab assigns a role: the account, or the subscription (Usages Reader)."""
    return (
        f"/subscriptions/{resource.subscription_id}"
        if role.at_subscription
        else account_id(resource)
    )


def _definition(resource: Resource, role: LabRole) -> str:
    return (
        f"/subscriptions/{resource.subscription_id}/providers/Microsoft.Authorization"
        f"/roleDefinitions/{role.guid}"
    )


def _name(scope: str, principal: str, role: LabRole) -> str:
    return str(uuid.uuid5(_NAMES, f"{scope.lower()}|{principal.lower()}|{role.guid}"))


def _role_of(definition: str) -> str:
    return definition.rstrip("/").rsplit("/", 1)[-1].lower()


def _same_scope(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


async def holders(
    client: AuthorizationManagementClient, resource: Resource
) -> dict[str, list[str]]:
    """Role GUID -> the principals holding it where the lab assigns it."""
    found: dict[str, list[str]] = {role.guid: [] for role in LAB_ROLES}
    for at_subscription in (False, True):
        roles = [r for r in LAB_ROLES if r.at_subscription == at_subscription]
        scope = scope_of(resource, roles[0])
        try:
            async for assignment in client.role_assignments.list_for_scope(
                scope, filter="atScope()"
            ):
                guid = _role_of(str(assignment.role_definition_id or ""))
                principal = str(assignment.principal_id or "")
                if guid in found and any(r.guid == guid for r in roles) and principal:
                    if principal not in found[guid]:
                        found[guid].append(principal)
        except HttpResponseError as error:
            raise arm_error(error, _("list the role assignments")) from None
    return found


async def assign(
    client: AuthorizationManagementClient,
    resource: Resource,
    principal: str,
    principal_type: PrincipalType | None,
    roles: tuple[LabRole, ...] = LAB_ROLES,
) -> dict[str, str]:
    """Give `principal` the lab's roles; role GUID -> "assigned" or "held" (it had it)."""
    held = await holders(client, resource)
    result: dict[str, str] = {}
    for role in roles:
        if principal in held.get(role.guid, []):
            result[role.guid] = "held"
            continue
        scope = scope_of(resource, role)
        parameters = RoleAssignmentCreateParameters(
            role_definition_id=_definition(resource, role), principal_id=principal
        )
        if principal_type is not None:
            parameters.principal_type = principal_type
        try:
            await client.role_assignments.create(scope, _name(scope, principal, role), parameters)
            result[role.guid] = "assigned"
        except ResourceExistsError as error:
            code = arm_detail(error)[0]
            if code and code != "RoleAssignmentExists":
                raise arm_error(error, _("assign {role}", role=role.name)) from None
            result[role.guid] = "held"
        except HttpResponseError as error:
            if arm_detail(error)[0] == "RoleAssignmentExists":
                result[role.guid] = "held"
                continue
            raise arm_error(error, _("assign {role}", role=role.name)) from None
    return result


async def remove(
    client: AuthorizationManagementClient, resource: Resource, principal: str
) -> dict[str, str]:
    """Remove exactly the lab's four roles of `principal`; role GUID -> "removed" or "absent"."""
    result = {role.guid: "absent" for role in LAB_ROLES}
    for role in LAB_ROLES:
        scope = scope_of(resource, role)
        try:
            async for assignment in client.role_assignments.list_for_scope(
                scope, filter=f"principalId eq '{principal}'"
            ):
                same_role = _role_of(str(assignment.role_definition_id or "")) == role.guid
                if not same_role or not _same_scope(str(assignment.scope or ""), scope):
                    continue
                try:
                    await client.role_assignments.delete(scope, str(assignment.name))
                except ResourceNotFoundError:
                    pass
                result[role.guid] = "removed"
        except HttpResponseError as error:
            raise arm_error(error, _("remove {role}", role=role.name)) from None
    return result

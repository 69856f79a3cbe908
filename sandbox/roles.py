"""Role assignments at any scope, and the built-in role definitions the lab uses."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from sandbox.arm import Router
from sandbox.dataplane import json_body
from sandbox.errors import AzureError, bad_request
from sandbox.ids import is_guid
from sandbox.service import Sandbox, account_id, arm_key
from sandbox.store import Doc

BUILT_IN_ROLES = {
    "a001fd3d-188f-4b5d-821b-7da978bf7442": (
        "Cognitive Services OpenAI Contributor",
        "Full access including the ability to fine-tune, deploy and generate text",
    ),
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": (
        "Cognitive Services OpenAI User",
        "Read access to view files, models, deployments. "
        "The ability to create completion and embedding calls.",
    ),
    "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68": (
        "Cognitive Services Contributor",
        "Lets you create, read, update, delete and manage keys of Cognitive Services.",
    ),
    "bba48692-92b0-4667-a9ad-c31c7b334ac2": (
        "Cognitive Services Usages Reader",
        "Minimal permission to view Cognitive Services usages.",
    ),
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": (
        "Owner",
        "Grants full access to manage all resources.",
    ),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": (
        "Contributor",
        "Grants full access to manage all resources, but not access.",
    ),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": (
        "Reader",
        "View all resources, but does not allow you to make any changes.",
    ),
    "72fafb9e-0641-4937-9268-a91bfd8191a3": (
        "Cost Management Reader",
        "Can view cost data and configuration (e.g. budgets, exports)",
    ),
}
_PROVIDER = "/providers/Microsoft.Authorization"


def _scope(m: dict[str, str]) -> str:
    return "/" + m.get("scope", "").strip("/")


def _definition(scope: str, guid: str) -> Doc:
    sub = re.match(r"^/subscriptions/[^/]+", scope, re.IGNORECASE)
    prefix = sub.group(0) if sub else ""
    name, description = BUILT_IN_ROLES[guid]
    return {
        "id": f"{prefix}{_PROVIDER}/roleDefinitions/{guid}",
        "name": guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": name,
            "type": "BuiltInRole",
            "description": description,
            "assignableScopes": ["/"],
            "permissions": [
                {"actions": [], "notActions": [], "dataActions": [], "notDataActions": []}
            ],
        },
    }


async def get_definition(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET a built-in role definition by GUID."""
    guid = m["guid"].lower()
    if guid not in BUILT_IN_ROLES:
        raise AzureError(
            404, "RoleDefinitionDoesNotExist", "The specified role definition does not exist."
        )
    return web.json_response(_definition(_scope(m), guid))


async def list_definitions(
    request: web.Request, sandbox: Sandbox, m: dict[str, str]
) -> web.Response:
    """GET role definitions, optionally `$filter=roleName eq '...'`."""
    wanted = re.search(r"roleName\s+eq\s+'([^']*)'", request.query.get("$filter", ""))
    docs = [
        _definition(_scope(m), guid)
        for guid, (name, _) in BUILT_IN_ROLES.items()
        if wanted is None or name.lower() == wanted.group(1).lower()
    ]
    return web.json_response({"value": docs})


_SCOPE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)(?:/resourcegroups/(?P<rg>[^/]+)"
    r"(?:/providers/(?P<provider>[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)(?P<rest>/.*)?)?)?$",
    re.IGNORECASE,
)


def _check_scope(sandbox: Sandbox, scope: str) -> None:
    """Refuse an assignment at a scope that does not exist (ARM's 404s)."""
    found = _SCOPE.match(scope.rstrip("/"))
    if found is None:
        raise bad_request(
            "InvalidRoleAssignmentScope", f"The scope '{scope}' is not a valid scope here."
        )
    sub, group, kind = found.group("sub"), found.group("rg"), found.group("type")
    if group is None:
        return
    if sandbox.group(sub, group) is None:
        raise AzureError(
            404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found."
        )
    if kind is None:
        return
    resource = f"{found.group('provider')}/{kind}".lower()
    account = account_id(sub, group, found.group("name"))
    if resource != "microsoft.cognitiveservices/accounts" or (
        sandbox.store.get("account", arm_key(account)) is None
    ):
        raise AzureError(
            404,
            "ResourceNotFound",
            f"The Resource '{found.group('provider')}/{kind}/{found.group('name')}' under "
            f"resource group '{group}' was not found.",
        )


def _assignment_key(scope: str, name: str) -> str:
    return f"{scope}{_PROVIDER}/roleAssignments/{name}".lower()


async def put_assignment(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """PUT a role assignment (201); 409 when the principal already has that role at that scope."""
    scope, name = _scope(m), m["name"]
    if not is_guid(name):
        raise bad_request(
            "InvalidRoleAssignmentId",
            f"The role assignment ID '{name}' is not valid. It must be a GUID.",
        )
    body = await json_body(request)
    props = body.get("properties") or {}
    definition = str(props.get("roleDefinitionId", ""))
    principal = str(props.get("principalId", ""))
    guid = definition.rstrip("/").rsplit("/", 1)[-1].lower()
    if guid not in BUILT_IN_ROLES:
        raise bad_request(
            "RoleDefinitionDoesNotExist", "The specified role definition does not exist."
        )
    if not is_guid(principal):
        raise bad_request(
            "InvalidPrincipalId", "A valid principal ID must be provided for role assignment."
        )
    _check_scope(sandbox, scope)
    key = _assignment_key(scope, name)
    existing = sandbox.store.get("role", key)
    if existing is not None:
        p = existing["properties"]
        if p["principalId"] != principal or not p["roleDefinitionId"].lower().endswith(guid):
            raise AzureError(
                409,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
    for other_key, other in sandbox.store.items("role", scope.lower()):
        p = other["properties"]
        same = p["principalId"] == principal and p["roleDefinitionId"].lower().endswith(guid)
        if same and other_key != key:
            raise AzureError(409, "RoleAssignmentExists", "The role assignment already exists.")
    now = sandbox.clock.iso()
    doc: Doc = {
        "id": f"{scope}{_PROVIDER}/roleAssignments/{name}",
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": definition,
            "principalId": principal,
            "principalType": props.get("principalType", "User"),
            "scope": scope,
            "createdOn": existing["properties"]["createdOn"] if existing else now,
            "updatedOn": now,
            "createdBy": "sandbox",
            "updatedBy": "sandbox",
        },
    }
    # What the caller set, and nothing it did not: the 2022-04-01 spec types these as strings
    # (no x-nullable), so an unset one is absent rather than null.
    for optional in ("condition", "conditionVersion", "description"):
        if props.get(optional) is not None:
            doc["properties"][optional] = props[optional]
    sandbox.store.put("role", key, doc, parent=scope.lower())
    return web.json_response(doc, status=200 if existing else 201)


async def get_assignment(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET a role assignment."""
    doc = sandbox.store.get("role", _assignment_key(_scope(m), m["name"]))
    if doc is None:
        raise AzureError(404, "RoleAssignmentNotFound", "The role assignment was not found.")
    return web.json_response(doc)


async def delete_assignment(
    request: web.Request, sandbox: Sandbox, m: dict[str, str]
) -> web.Response:
    """DELETE a role assignment (200 with it; 204 when there was none)."""
    doc = sandbox.store.delete("role", _assignment_key(_scope(m), m["name"]))
    return web.Response(status=204) if doc is None else web.json_response(doc)


def _within(scope: str, other: str) -> bool:
    """True when `other` is `scope` or below it."""
    return other == scope or other.startswith(scope.rstrip("/") + "/")


async def list_assignments(
    request: web.Request, sandbox: Sandbox, m: dict[str, str]
) -> web.Response:
    """GET role assignments for a scope: at, above and below it (`atScope()`: at and above;
    `principalId eq '...'` filters)."""
    scope = _scope(m).lower()
    query = request.query.get("$filter", "")
    principal = re.search(r"principalId\s+eq\s+'([^']*)'", query)
    docs: list[Any] = []
    for _, doc in sandbox.store.items("role"):
        other = str(doc["properties"]["scope"]).lower()
        above = _within(other, scope)
        if not (above or (_within(scope, other) and "atscope()" not in query.lower())):
            continue
        if principal and doc["properties"]["principalId"] != principal.group(1):
            continue
        docs.append(doc)
    return web.json_response({"value": docs})


def add_roles(router: Router) -> None:
    """Role assignments and definitions at any scope."""
    auth = r"(?P<scope>.*)/providers/microsoft\.authorization"
    router.add("GET", f"{auth}/roledefinitions/(?P<guid>[^/]+)", get_definition)
    router.add("GET", f"{auth}/roledefinitions", list_definitions)
    router.add("PUT", f"{auth}/roleassignments/(?P<name>[^/]+)", put_assignment)
    router.add("GET", f"{auth}/roleassignments/(?P<name>[^/]+)", get_assignment)
    router.add("DELETE", f"{auth}/roleassignments/(?P<name>[^/]+)", delete_assignment)
    router.add("GET", f"{auth}/roleassignments", list_assignments)

"""Accounts on Resource Manager, as Azure runs them: create and delete are long-running
operations, a deleted account is soft-deleted for 48 hours (`deletedAccounts`: get, list,
purge), and resource groups must exist (`groups.py`).

- PUT: 201 `Creating` with an `Azure-AsyncOperation` status URL and a whole-second
  `Retry-After`, `Succeeded` after ACCOUNT_READY_SECONDS; a second PUT updates tags and sku but is
  refused when it changes the location (409 `InvalidResourceLocation`), the kind (409
  `UpdateKindNotAllowed`) or the custom subdomain (400 `CustomSubDomainNameUpdateNotAllowed`);
  a name held by a soft-deleted account gives 409 `FlagMustBeSetForRestore` unless
  `properties.restore` is true; a subdomain in use anywhere gives 409 `CustomDomainInUse`.
- PATCH: tags and sku, 200.
- DELETE: 202 `Deleting` with an operation to poll, then soft-deleted (deployments and role
  assignments go with it); 204 when there is none.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from sandbox.arm import (
    Router,
    account_view,
    check_group,
    find_account,
    operation_url,
    whole_seconds,
)
from sandbox.dataplane import json_body
from sandbox.errors import AzureError, bad_request
from sandbox.ids import new_guid
from sandbox.lifecycle import settle
from sandbox.service import (
    ACCOUNT_DELETE_SECONDS,
    ACCOUNT_READY_SECONDS,
    Sandbox,
    account_id,
    arm_key,
)
from sandbox.store import Doc

_ACCOUNT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{1,63}$")
_ACCOUNT = (
    r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
    r"/providers/microsoft\.cognitiveservices/accounts/(?P<name>[^/]+)"
)
_DELETED = (
    r"/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.cognitiveservices/locations/(?P<loc>[^/]+)"
    r"/resourcegroups/(?P<rg>[^/]+)/deletedaccounts/(?P<name>[^/]+)"
)
OPENAI_REGIONS = (
    "australiaeast brazilsouth canadacentral canadaeast eastus eastus2 francecentral "
    "germanywestcentral italynorth japaneast koreacentral northcentralus norwayeast polandcentral "
    "southafricanorth southcentralus southindia spaincentral swedencentral switzerlandnorth "
    "switzerlandwest uaenorth uksouth westeurope westus westus3"
).split()
"""Regions where the sandbox offers Azure OpenAI accounts (Azure's list, not every region)."""
SKUS = ("S0",)
"""Azure OpenAI accounts come in one tier, Standard S0."""


def region(location: object) -> str:
    """A location as ARM normalizes it: `North Central US` -> `northcentralus`."""
    return str(location or "").replace(" ", "").lower()


def _operation(sandbox: Sandbox, action: str, key: str, done_at: float) -> str:
    operation = new_guid()
    doc: Doc = {
        "_action": action,
        "_account": key,
        "_started": sandbox.clock.now(),
        "_gone_at": done_at,
    }
    sandbox.store.put("operation", operation, doc)
    return operation


def _in_progress(request: web.Request, sandbox: Sandbox, m: dict[str, str], doc: Doc) -> Doc:
    """The headers of an account answer while a create or delete runs."""
    until = float(doc.get("_gone_at") or doc["_ready_at"])
    headers = whole_seconds(sandbox, until)
    if doc.get("_operation"):
        location = str(doc["location"])
        headers["Azure-AsyncOperation"] = operation_url(
            request, m["sub"], location, doc["_operation"]
        )
    return headers


def _answer(
    request: web.Request, sandbox: Sandbox, m: dict[str, str], doc: Doc, status: int = 200
) -> web.Response:
    state = doc["properties"].get("provisioningState")
    headers = _in_progress(request, sandbox, m, doc) if state != "Succeeded" else {}
    return web.json_response(account_view(request, doc), status=status, headers=headers)


def _check_body(body: dict[str, Any], name: str) -> tuple[str, str, str]:
    """(location, kind, sku) of a valid account body."""
    if not _ACCOUNT_NAME.match(name):
        raise bad_request(
            "InvalidResourceName",
            f"The account name '{name}' is not valid: use 2-64 letters, digits or hyphens, "
            "starting with a letter or digit.",
        )
    location = region(body.get("location"))
    if not location:
        raise bad_request(
            "LocationRequired", "The location property is required for this definition."
        )
    if location not in OPENAI_REGIONS:
        raise bad_request(
            "LocationNotAvailableForResourceType",
            f"The provided location '{location}' is not available for resource type "
            "'Microsoft.CognitiveServices/accounts'. List of available regions for the resource "
            f"type is '{','.join(OPENAI_REGIONS)}'.",
        )
    sku = body.get("sku")
    if not isinstance(sku, dict) or not sku.get("name"):
        raise bad_request("SkuRequired", "The sku property is required.")
    kind = str(body.get("kind", ""))
    if kind.lower() not in ("openai", "aiservices"):
        raise bad_request(
            "InvalidKind", f"The kind '{body.get('kind')}' is not supported here; use 'OpenAI'."
        )
    if str(sku["name"]).upper() not in SKUS:
        raise bad_request(
            "InvalidSkuId",
            f"The SKU '{sku['name']}' is not valid for kind '{kind}' in location '{location}'; "
            "Azure OpenAI offers S0.",
        )
    return location, kind, str(sku["name"]).upper()


def _refuse_changes(existing: Doc, location: str, kind: str, subdomain: str, rg: str) -> None:
    name = str(existing["name"])
    if region(existing["location"]) != location:
        raise AzureError(
            409,
            "InvalidResourceLocation",
            f"The resource '{name}' already exists in location '{existing['location']}' in "
            f"resource group '{rg}'. A resource with the same name cannot be created in location "
            f"'{location}'. Please select a new resource name.",
        )
    if str(existing["kind"]).lower() != kind.lower():
        raise AzureError(
            409, "UpdateKindNotAllowed", "It's not allowed to update kind of API account."
        )
    if subdomain and subdomain != existing["_subdomain"]:
        raise bad_request(
            "CustomSubDomainNameUpdateNotAllowed",
            "The custom subdomain name of an account cannot be changed once it is set.",
        )


async def put_account(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """PUT an account: create (201, Creating), restore, or update (200)."""
    check_group(sandbox, m)
    body = await json_body(request)
    location, kind, _ = _check_body(body, m["name"])
    props = body.get("properties") or {}
    asked = str(props.get("customSubDomainName") or "").lower()
    key = arm_key(account_id(m["sub"], m["rg"], m["name"]))
    settle(sandbox)
    existing = sandbox.store.get("account", key)
    if existing is not None:
        if existing["properties"].get("provisioningState") == "Deleting":
            raise AzureError(
                409,
                "RequestConflict",
                f"Cannot modify resource with id '{existing['id']}' because the resource entity "
                "provisioning state is not terminal. Please wait for the provisioning state to "
                "become terminal and then retry the request.",
            )
        _refuse_changes(existing, location, kind, asked, m["rg"])
        existing["tags"] = body.get("tags") or existing["tags"]
        existing["sku"] = {"name": body["sku"]["name"]}
        existing["systemData"]["lastModifiedAt"] = sandbox.clock.iso()
        sandbox.store.put("account", key, existing)
        return _answer(request, sandbox, m, existing)
    deleted = sandbox.store.get("deleted", key)
    if deleted is not None:
        if props.get("restore") is not True:
            raise AzureError(
                409,
                "FlagMustBeSetForRestore",
                f"An existing resource with ID '{deleted['id']}' has been soft-deleted. To "
                "restore the resource, you must specify 'restore' to be 'true' in the property. "
                "If you don't want to restore existing resource, please purge it first.",
            )
        _refuse_changes(deleted, location, kind, asked, m["rg"])
        restored = sandbox.restore(key)
        assert restored is not None
        return _created(request, sandbox, m, key, restored)
    subdomain = asked or m["name"].lower()
    if sandbox.store.get("subdomain", subdomain) is not None:
        raise AzureError(
            409,
            "CustomDomainInUse",
            f"Please pick a different name. The subdomain name '{subdomain}' is not available "
            "as it's already used by a resource. If the resource using the name was deleted in "
            "the last 48 hours, you may need to purge the deleted resource.",
        )
    doc = sandbox.new_account(
        m["sub"], m["rg"], m["name"], {**body, "location": location, "kind": kind}, ready=False
    )
    return _created(request, sandbox, m, key, doc)


def _created(
    request: web.Request, sandbox: Sandbox, m: dict[str, str], key: str, doc: Doc
) -> web.Response:
    doc["properties"]["provisioningState"] = "Creating"
    doc["_ready_at"] = sandbox.clock.now() + ACCOUNT_READY_SECONDS
    doc["_operation"] = _operation(sandbox, "create", key, doc["_ready_at"])
    sandbox.store.put("account", key, doc)
    return _answer(request, sandbox, m, doc, status=201)


async def get_account(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET an account (Retry-After while it is created or deleted)."""
    settle(sandbox)
    _, doc = find_account(sandbox, m)
    return _answer(request, sandbox, m, doc)


async def patch_account(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """PATCH an account's tags or sku (200)."""
    settle(sandbox)
    key, doc = find_account(sandbox, m)
    body = await json_body(request)
    if "tags" in body:
        doc["tags"] = body.get("tags") or {}
    if isinstance(body.get("sku"), dict):
        name = str(body["sku"].get("name", "")).upper()
        if name not in SKUS:
            raise bad_request("InvalidSkuId", f"The SKU '{name}' is not valid; use S0.")
        doc["sku"] = {"name": name}
    if "kind" in body and str(body["kind"]).lower() != str(doc["kind"]).lower():
        raise AzureError(
            409, "UpdateKindNotAllowed", "It's not allowed to update kind of API account."
        )
    doc["systemData"]["lastModifiedAt"] = sandbox.clock.iso()
    sandbox.store.put("account", key, doc)
    return _answer(request, sandbox, m, doc)


async def delete_account(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """DELETE an account: 202 and an operation while it is Deleting; 204 when there is none."""
    check_group(sandbox, m)
    settle(sandbox)
    key = arm_key(account_id(m["sub"], m["rg"], m["name"]))
    doc = sandbox.store.get("account", key)
    if doc is None:
        return web.Response(status=204)
    if doc["properties"].get("provisioningState") != "Deleting":
        doc["properties"]["provisioningState"] = "Deleting"
        doc["_gone_at"] = sandbox.clock.now() + ACCOUNT_DELETE_SECONDS
        doc["_operation"] = _operation(sandbox, "delete", key, doc["_gone_at"])
        sandbox.store.put("account", key, doc)
    return web.Response(status=202, headers=_in_progress(request, sandbox, m, doc))


async def list_accounts(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET the accounts of a resource group or a subscription."""
    prefix = f"/subscriptions/{m['sub']}/".lower()
    if m.get("rg"):
        check_group(sandbox, m)
        prefix += f"resourcegroups/{m['rg']}/".lower()
    settle(sandbox)
    docs = [d for k, d in sandbox.store.items("account") if k.startswith(prefix)]
    return web.json_response({"value": [account_view(request, d) for d in docs]})


# -- deleted accounts --------------------------------------------------------------------------


def _deleted_view(request: web.Request, doc: Doc) -> Doc:
    body = account_view(request, doc)
    sub, rest = str(doc["id"]).split("/resourceGroups/", 1)
    group = rest.split("/", 1)[0]
    body["id"] = (
        f"{sub}/providers/Microsoft.CognitiveServices/locations/{doc['location']}"
        f"/resourceGroups/{group}/deletedAccounts/{doc['name']}"
    )
    return body


def _find_deleted(sandbox: Sandbox, m: dict[str, str]) -> tuple[str, Doc]:
    settle(sandbox)
    key = arm_key(account_id(m["sub"], m["rg"], m["name"]))
    doc = sandbox.store.get("deleted", key)
    if doc is None or region(doc["location"]) != region(m["loc"]):
        raise AzureError(
            404,
            "ResourceNotFound",
            f"The deleted account '{m['name']}' was not found in location '{m['loc']}' and "
            f"resource group '{m['rg']}'.",
        )
    return key, doc


async def get_deleted(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET a soft-deleted account."""
    return web.json_response(_deleted_view(request, _find_deleted(sandbox, m)[1]))


async def list_deleted(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET the soft-deleted accounts of a subscription."""
    settle(sandbox)
    prefix = f"/subscriptions/{m['sub']}/".lower()
    docs = [d for k, d in sandbox.store.items("deleted") if k.startswith(prefix)]
    return web.json_response({"value": [_deleted_view(request, d) for d in docs]})


async def purge_deleted(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """DELETE a soft-deleted account for good (200): its name and subdomain are free again."""
    settle(sandbox)
    key = arm_key(account_id(m["sub"], m["rg"], m["name"]))
    if sandbox.store.get("deleted", key) is None:
        return web.Response(status=204)
    _find_deleted(sandbox, m)
    sandbox.purge(key)
    return web.Response(status=200)


def add_accounts(router: Router) -> None:
    """The routes of accounts and deleted accounts."""
    sub = r"/subscriptions/(?P<sub>[^/]+)"
    router.add("GET", f"{sub}/providers/microsoft\\.cognitiveservices/accounts", list_accounts)
    router.add(
        "GET",
        f"{sub}/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\\.cognitiveservices/accounts",
        list_accounts,
    )
    router.add("PUT", _ACCOUNT, put_account)
    router.add("GET", _ACCOUNT, get_account)
    router.add("PATCH", _ACCOUNT, patch_account)
    router.add("DELETE", _ACCOUNT, delete_account)
    router.add(
        "GET", f"{sub}/providers/microsoft\\.cognitiveservices/deletedaccounts", list_deleted
    )
    router.add("GET", _DELETED, get_deleted)
    router.add("DELETE", _DELETED, purge_deleted)

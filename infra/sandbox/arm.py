"""Azure Resource Manager, as at `https://management.azure.com`: accounts, keys, deployments.

Paths answer at the sandbox's root and match case-insensitively, as ARM's do. Any bearer token
is accepted unless the sandbox has an ARM token, then only that one. Role assignments are in
`roles.py`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from infra.sandbox.catalog import find_base
from infra.sandbox.chat import resolve_model
from infra.sandbox.dataplane import json_body
from infra.sandbox.errors import AzureError, bad_request
from infra.sandbox.ids import hex32, new_guid, new_key
from infra.sandbox.lifecycle import (
    BASE_DEPLOY_SECONDS,
    DELETE_SECONDS,
    FINE_TUNED_DEPLOY_SECONDS,
    settle,
)
from infra.sandbox.service import SANDBOX, Sandbox, account_id, arm_key
from infra.sandbox.store import Doc, wire

Handler = Callable[[web.Request, Sandbox, dict[str, str]], Awaitable[web.Response]]

MAX_FINE_TUNED_DEPLOYMENTS = 5
SKUS = {"standard": "Standard", "globalstandard": "GlobalStandard", "developer": "Developer"}
_ACCOUNT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{1,62}$")
_DEPLOYMENT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,63}$")
_ACCOUNT = (
    r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
    r"/providers/microsoft\.cognitiveservices/accounts/(?P<name>[^/]+)"
)
DATAPLANE_ROUTE = "sandbox-dataplane"


def check_token(request: web.Request, sandbox: Sandbox) -> None:
    """ARM's bearer check: any token, or the configured one."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        raise AzureError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            headers={
                "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common"'
            },
        )
    token = sandbox.config.arm_token
    if token and header[7:].strip() != token:
        raise AzureError(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )


def endpoint_of(request: web.Request, subdomain: str) -> str:
    """The absolute URL of an account's data plane on this server, e.g. `http://h/sandbox/openai-accounts/x/`."""
    path = request.app.router[DATAPLANE_ROUTE].url_for(account=subdomain)
    return str(request.url.origin().join(path))


def account_view(request: web.Request, doc: Doc) -> Doc:
    """An account as ARM shows it, with its endpoint on this server."""
    body = wire(doc)
    endpoint = endpoint_of(request, str(doc["_subdomain"]))
    body["properties"] = {
        **body["properties"],
        "endpoint": endpoint,
        "endpoints": {
            "OpenAI Language Model Instance API": endpoint,
            "OpenAI Fine-Tuning API": endpoint,
            "OpenAI Model Scaleset API": endpoint,
        },
    }
    return body


def _retry_after(sandbox: Sandbox, ready_at: float) -> dict[str, str]:
    wait = min(10.0, max(0.05, sandbox.clock.real_seconds(ready_at - sandbox.clock.now())))
    return {"Retry-After": f"{wait:.2f}".rstrip("0").rstrip(".")}


def _find_account(sandbox: Sandbox, m: dict[str, str]) -> tuple[str, Doc]:
    key = arm_key(account_id(m["sub"], m["rg"], m["name"]))
    doc = sandbox.store.get("account", key)
    if doc is None:
        raise AzureError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.CognitiveServices/accounts/{m['name']}' under resource group "
            f"'{m['rg']}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        )
    return key, doc


def _account_response(
    request: web.Request, sandbox: Sandbox, doc: Doc, status: int = 200
) -> web.Response:
    headers = {}
    if doc["properties"].get("provisioningState") != "Succeeded":
        headers = _retry_after(sandbox, float(doc["_ready_at"]))
    return web.json_response(account_view(request, doc), status=status, headers=headers)


# -- accounts ----------------------------------------------------------------------------------


async def put_account(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """PUT an account: create (201, Creating until ready) or update (200)."""
    body = await json_body(request)
    if not _ACCOUNT_NAME.match(m["name"]):
        raise bad_request("InvalidResourceName", f"The account name '{m['name']}' is not valid.")
    if not body.get("location"):
        raise bad_request(
            "LocationRequired", "The location property is required for this definition."
        )
    if not isinstance(body.get("sku"), dict) or not body["sku"].get("name"):
        raise bad_request("SkuRequired", "The sku property is required.")
    if str(body.get("kind", "")).lower() not in ("openai", "aiservices"):
        raise bad_request(
            "InvalidKind", f"The kind '{body.get('kind')}' is not supported here; use 'OpenAI'."
        )
    key = arm_key(account_id(m["sub"], m["rg"], m["name"]))
    existing = sandbox.store.get("account", key)
    if existing is not None:
        existing["tags"] = body.get("tags") or existing["tags"]
        existing["sku"] = body["sku"]
        existing["systemData"]["lastModifiedAt"] = sandbox.clock.iso()
        sandbox.store.put("account", key, existing)
        return _account_response(request, sandbox, existing)
    props = body.get("properties") or {}
    subdomain = str(props.get("customSubDomainName") or m["name"]).lower()
    if sandbox.store.get("subdomain", subdomain) is not None:
        raise AzureError(
            409,
            "CustomDomainInUse",
            f"Please pick a different name. The subdomain name '{subdomain}' is not available "
            "as it's already used by a resource.",
        )
    doc = sandbox.new_account(m["sub"], m["rg"], m["name"], body, ready=False)
    doc["properties"]["provisioningState"] = "Creating"
    sandbox.store.put("account", key, doc)
    return _account_response(request, sandbox, doc, status=201)


async def get_account(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET an account."""
    _, doc = _find_account(sandbox, m)
    return _account_response(request, sandbox, doc)


async def delete_account(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """DELETE an account and what it holds (200; 204 when there was none)."""
    key = arm_key(account_id(m["sub"], m["rg"], m["name"]))
    if sandbox.store.get("account", key) is None:
        return web.Response(status=204)
    sandbox.delete_account(key)
    return web.Response(status=200)


async def list_accounts(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET accounts of a resource group or a subscription."""
    prefix = f"/subscriptions/{m['sub']}/".lower()
    if m.get("rg"):
        prefix += f"resourcegroups/{m['rg']}/".lower()
    docs = [d for k, d in sandbox.store.items("account") if k.startswith(prefix)]
    return web.json_response({"value": [account_view(request, d) for d in docs]})


def _keys(doc: Doc) -> web.Response:
    return web.json_response({"key1": doc["_keys"]["key1"], "key2": doc["_keys"]["key2"]})


async def list_keys(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """POST .../listKeys."""
    return _keys(_find_account(sandbox, m)[1])


async def regenerate_key(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """POST .../regenerateKey {keyName: Key1|Key2}: the old key stops working at once."""
    key, doc = _find_account(sandbox, m)
    body = await json_body(request)
    name = str(body.get("keyName", "")).lower()
    if name not in ("key1", "key2"):
        raise bad_request("InvalidKeyName", "keyName must be 'Key1' or 'Key2'.")
    doc["_keys"][name] = new_key()
    sandbox.store.put("account", key, doc)
    return _keys(doc)


# -- deployments -------------------------------------------------------------------------------


def _deployment_key(account_key: str, name: str) -> str:
    return f"{account_key}/deployments/{name.lower()}"


def _deployment_view(sandbox: Sandbox, doc: Doc) -> tuple[Doc, dict[str, str]]:
    state = doc["properties"].get("provisioningState")
    headers = _retry_after(sandbox, float(doc["_ready_at"])) if state != "Succeeded" else {}
    return wire(doc), headers


async def put_deployment(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """PUT a deployment: 201 Accepted, Creating, then Succeeded; 200 when it already exists."""
    account_key, account = _find_account(sandbox, m)
    name = m["deployment"]
    if not _DEPLOYMENT_NAME.match(name):
        raise bad_request(
            "InvalidResourceName",
            f"The deployment name '{name}' is not valid: "
            "use 2-64 letters, digits, '.', '_' or '-'.",
        )
    body = await json_body(request)
    sku = body.get("sku") or {}
    sku_name = SKUS.get(str(sku.get("name", "")).lower())
    if sku_name is None:
        raise bad_request(
            "InvalidSkuName",
            f"The sku '{sku.get('name')}' is not supported; "
            "use Standard, GlobalStandard or Developer.",
        )
    capacity = sku.get("capacity", 1)
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
        raise bad_request("InvalidCapacity", "The sku capacity must be a positive integer.")
    model = ((body.get("properties") or {}).get("model")) or {}
    if str(model.get("format", "")) != "OpenAI":
        raise bad_request("InvalidResourceProperties", "properties.model.format must be 'OpenAI'.")
    model_name, version = str(model.get("name", "")), str(model.get("version", ""))
    subdomain = str(account["_subdomain"])
    fine_tuned, _ = resolve_model(sandbox, subdomain, model_name)
    base = find_base(model_name, version)
    if fine_tuned is None and base is None:
        raise bad_request(
            "DeploymentModelNotSupported",
            f"The model 'Format:OpenAI,Name:{model_name},Version:{version}' "
            "of account deployment is not supported.",
        )
    settle(sandbox)
    key = _deployment_key(account_key, name)
    existing = sandbox.store.get("deployment", key)
    if existing is not None and existing["properties"]["provisioningState"] == "Deleting":
        raise AzureError(
            409,
            "RequestConflict",
            f"Deployment '{name}' is being deleted; create it again once it is gone.",
        )
    if existing is None and fine_tuned is not None:
        count = sum(1 for d in sandbox.store.docs("deployment", account_key) if d["_fine_tuned"])
        if count >= MAX_FINE_TUNED_DEPLOYMENTS:
            raise bad_request(
                "InsufficientQuota",
                f"This resource already has {MAX_FINE_TUNED_DEPLOYMENTS} fine-tuned "
                "deployments, the most allowed.",
            )
    now = sandbox.clock.now()
    delay = FINE_TUNED_DEPLOY_SECONDS if fine_tuned is not None else BASE_DEPLOY_SECONDS
    doc: Doc = {
        "id": f"{account['id']}/deployments/{name}",
        "name": name,
        "type": "Microsoft.CognitiveServices/accounts/deployments",
        "sku": {"name": sku.get("name"), "capacity": capacity},
        "etag": f'"{hex32()}"',
        "systemData": {
            "createdAt": sandbox.clock.iso(now),
            "createdBy": "sandbox",
            "createdByType": "User",
            "lastModifiedAt": sandbox.clock.iso(now),
        },
        "properties": {
            "model": {"format": "OpenAI", "name": model_name, "version": version or "1"},
            "provisioningState": "Accepted",
            "capabilities": {"chatCompletion": "true"},
            "rateLimits": [
                {"key": "request", "renewalPeriod": 10, "count": capacity},
                {"key": "token", "renewalPeriod": 60, "count": capacity * 1000},
            ],
            "raiPolicyName": "Microsoft.DefaultV2",
            "versionUpgradeOption": "NoAutoUpgrade",
        },
        "_subdomain": subdomain,
        "_fine_tuned": fine_tuned is not None,
        "_created": now,
        "_last_used": now + delay,
        "_ready_at": now + delay,
    }
    status = 201
    if existing is not None:
        status = 200
        doc["systemData"]["createdAt"] = existing["systemData"]["createdAt"]
        doc["_created"] = existing["_created"]
        if existing["properties"]["model"]["name"] == model_name:
            doc["_ready_at"] = min(existing["_ready_at"], now)
            doc["_last_used"] = existing["_last_used"]
            doc["properties"]["provisioningState"] = existing["properties"]["provisioningState"]
    sandbox.store.put("deployment", key, doc, parent=account_key)
    view, headers = _deployment_view(sandbox, doc)
    return web.json_response(view, status=status, headers=headers)


def _find_deployment(sandbox: Sandbox, m: dict[str, str]) -> tuple[str, Doc]:
    account_key, _ = _find_account(sandbox, m)
    settle(sandbox)
    key = _deployment_key(account_key, m["deployment"])
    doc = sandbox.store.get("deployment", key)
    if doc is None:
        raise AzureError(
            404,
            "DeploymentNotFound",
            f"Deployment '{m['deployment']}' not found under account '{m['name']}'.",
        )
    return key, doc


async def get_deployment(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET a deployment (Retry-After while it is being created)."""
    _, doc = _find_deployment(sandbox, m)
    view, headers = _deployment_view(sandbox, doc)
    return web.json_response(view, headers=headers)


async def delete_deployment(
    request: web.Request, sandbox: Sandbox, m: dict[str, str]
) -> web.Response:
    """DELETE a deployment: 202 and an operation to poll while it is Deleting (204 when there
    was none). The model stays."""
    account_key, account = _find_account(sandbox, m)
    settle(sandbox)
    key = _deployment_key(account_key, m["deployment"])
    doc = sandbox.store.get("deployment", key)
    if doc is None:
        return web.Response(status=204)
    now = sandbox.clock.now()
    if doc["properties"]["provisioningState"] != "Deleting":
        doc["properties"]["provisioningState"] = "Deleting"
        doc["_gone_at"] = now + DELETE_SECONDS
        doc["_operation"] = new_guid()
        sandbox.store.put("deployment", key, doc, parent=account_key)
        operation: Doc = {"_deployment": key, "_started": now, "_gone_at": doc["_gone_at"]}
        sandbox.store.put("operation", doc["_operation"], operation)
    prefix = request.path[: request.path.lower().index("/subscriptions/")]
    status_path = (
        f"{prefix}/subscriptions/{m['sub']}/providers/Microsoft.CognitiveServices/locations/"
        f"{account['location']}/operationsStatus/{doc['_operation']}"
    )
    status_url = request.url.with_path(status_path).with_query(request.query)
    headers = {
        "Azure-AsyncOperation": str(status_url),
        **_retry_after(sandbox, float(doc["_gone_at"])),
    }
    return web.Response(status=202, headers=headers)


async def operation_status(
    request: web.Request, sandbox: Sandbox, m: dict[str, str]
) -> web.Response:
    """GET the status of a deployment's deletion: InProgress, then Succeeded."""
    operation = sandbox.store.get("operation", m["operation"])
    if operation is None:
        raise AzureError(404, "NotFound", f"The operation '{m['operation']}' was not found.")
    settle(sandbox)
    done = sandbox.store.get("deployment", operation["_deployment"]) is None
    body: Doc = {
        "id": request.path,
        "name": m["operation"],
        "status": "Succeeded" if done else "InProgress",
        "startTime": sandbox.clock.iso(float(operation["_started"])),
    }
    if done:
        body["endTime"] = sandbox.clock.iso(float(operation["_gone_at"]))
        return web.json_response(body)
    return web.json_response(body, headers=_retry_after(sandbox, float(operation["_gone_at"])))


async def list_deployments(
    request: web.Request, sandbox: Sandbox, m: dict[str, str]
) -> web.Response:
    """GET an account's deployments."""
    account_key, _ = _find_account(sandbox, m)
    settle(sandbox)
    return web.json_response(
        {"value": [wire(d) for d in sandbox.store.docs("deployment", account_key)]}
    )


# -- routing -----------------------------------------------------------------------------------


class Router:
    """(method, case-insensitive path pattern, handler) rows, tried in order."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Add a row; `pattern` is a regex of the whole path."""
        self.rows.append((method, re.compile(f"^{pattern}$", re.IGNORECASE), handler))

    async def dispatch(self, request: web.Request) -> web.Response:
        """Answer an ARM request (auth, api-version, route, 404/405 in ARM's shape)."""
        sandbox = request.config_dict[SANDBOX]
        check_token(request, sandbox)
        if "api-version" not in request.query:
            raise bad_request(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        path = "/" + request.match_info["tail"].lstrip("/")
        path = re.sub(r"/+", "/", path).rstrip("/")
        allowed = False
        for method, pattern, handler in self.rows:
            found = pattern.match(path)
            if found is None:
                continue
            allowed = True
            if method == request.method:
                groups: dict[str, Any] = found.groupdict()
                return await handler(
                    request, sandbox, {k: v for k, v in groups.items() if v is not None}
                )
        if allowed:
            raise AzureError(
                405, "MethodNotAllowed", f"The method {request.method} is not allowed here."
            )
        raise AzureError(
            404,
            "InvalidResourceType",
            f"The resource type for '{path}' could not be found in the sandbox.",
        )


def build_router() -> Router:
    """The ARM routes of accounts, keys and deployments (roles are added by `roles.py`)."""
    router = Router()
    sub = r"/subscriptions/(?P<sub>[^/]+)"
    router.add("GET", f"{sub}/providers/microsoft\\.cognitiveservices/accounts", list_accounts)
    router.add(
        "GET",
        f"{sub}/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\\.cognitiveservices/accounts",
        list_accounts,
    )
    router.add("PUT", _ACCOUNT, put_account)
    router.add("GET", _ACCOUNT, get_account)
    router.add("DELETE", _ACCOUNT, delete_account)
    router.add("POST", f"{_ACCOUNT}/listkeys", list_keys)
    router.add("POST", f"{_ACCOUNT}/regeneratekey", regenerate_key)
    router.add("GET", f"{_ACCOUNT}/deployments", list_deployments)
    router.add("PUT", f"{_ACCOUNT}/deployments/(?P<deployment>[^/]+)", put_deployment)
    router.add("GET", f"{_ACCOUNT}/deployments/(?P<deployment>[^/]+)", get_deployment)
    router.add("DELETE", f"{_ACCOUNT}/deployments/(?P<deployment>[^/]+)", delete_deployment)
    router.add(
        "GET",
        f"{sub}/providers/microsoft\\.cognitiveservices/locations/[^/]+"
        "/operationsstatus/(?P<operation>[^/]+)",
        operation_status,
    )
    return router

"""Azure Resource Manager, as at `https://management.azure.com`: keys and deployments here;
accounts in `accounts.py`, resource groups in `groups.py`, role assignments in `roles.py`.

Paths answer at the sandbox's root and match case-insensitively, as ARM's do. A bearer token in
the sandbox's format (auth.py) is required.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.auth import bearer, principal_of
from sandbox.catalog import BASE_MODELS, find_base
from sandbox.chat import resolve_model
from sandbox.dataplane import json_body
from sandbox.errors import AzureError, bad_request
from sandbox.ids import hex32, new_guid, new_key
from sandbox.lifecycle import (
    BASE_DEPLOY_SECONDS,
    DELETE_SECONDS,
    FINE_TUNED_DEPLOY_SECONDS,
    settle,
)
from sandbox.service import SANDBOX, Sandbox, account_id, arm_key
from sandbox.store import Doc, wire

Handler = Callable[[web.Request, Sandbox, dict[str, str]], Awaitable[web.Response]]

MAX_FINE_TUNED_DEPLOYMENTS = 5
SKUS = {
    "standard": "Standard",
    "globalstandard": "GlobalStandard",
    "developertier": "DeveloperTier",
}
"""The deployment sku names of fine-tuned models, as the account's model list offers them
(Microsoft's fine-tuning docs deploy the developer tier with `DeveloperTier`)."""
_DEPLOYMENT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,63}$")
_ACCOUNT = (
    r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
    r"/providers/microsoft\.cognitiveservices/accounts/(?P<name>[^/]+)"
)
DATAPLANE_ROUTE = "sandbox-dataplane"


def check_token(request: web.Request, sandbox: Sandbox) -> str:
    """ARM's bearer check: the sandbox's secret, alone or with an object id (auth.py); returns
    the principal the caller acts as."""
    token = bearer(request)
    if not token:
        raise AzureError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            headers={
                "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common"'
            },
        )
    principal = principal_of(token, sandbox.secret)
    if principal is None:
        raise AzureError(401, "InvalidAuthenticationToken", "The access token is invalid.")
    return principal


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


def whole_seconds(sandbox: Sandbox, until: float) -> dict[str, str]:
    """A `Retry-After` in whole seconds (as Azure sends it) until sandbox time `until`."""
    wait = sandbox.clock.real_seconds(until - sandbox.clock.now())
    return {"Retry-After": str(max(1, min(60, math.ceil(wait))))}


def _retry_after(sandbox: Sandbox, ready_at: float) -> dict[str, str]:
    wait = min(10.0, max(0.05, sandbox.clock.real_seconds(ready_at - sandbox.clock.now())))
    return {"Retry-After": f"{wait:.2f}".rstrip("0").rstrip(".")}


def check_group(sandbox: Sandbox, m: dict[str, str]) -> None:
    """404 `ResourceGroupNotFound` for a call under a resource group that does not exist."""
    if m.get("rg") and sandbox.group(m["sub"], m["rg"]) is None:
        raise AzureError(
            404, "ResourceGroupNotFound", f"Resource group '{m['rg']}' could not be found."
        )


def find_account(sandbox: Sandbox, m: dict[str, str]) -> tuple[str, Doc]:
    """(store key, document) of the account a path names (404s in ARM's words)."""
    check_group(sandbox, m)
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


def operation_url(request: web.Request, sub: str, location: str, operation: str) -> str:
    """The absolute `Azure-AsyncOperation` URL of an operation, with the request's query."""
    prefix = request.path[: request.path.lower().index("/subscriptions/")]
    path = (
        f"{prefix}/subscriptions/{sub}/providers/Microsoft.CognitiveServices/locations/"
        f"{location}/operationsStatus/{operation}"
    )
    return str(request.url.with_path(path).with_query(request.query))


def _keys(doc: Doc) -> web.Response:
    return web.json_response({"key1": doc["_keys"]["key1"], "key2": doc["_keys"]["key2"]})


async def list_keys(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """POST .../listKeys."""
    return _keys(find_account(sandbox, m)[1])


async def list_models(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET .../accounts/{name}/models (Accounts_ListModels): the models the account can deploy,
    each with the deployment skus it offers (`skus[].name`, the names a deployment PUT takes)."""
    find_account(sandbox, m)
    models = [
        {
            "format": "OpenAI",
            "name": base.name,
            "version": base.version,
            "isDefaultVersion": True,
            "maxCapacity": 1000,
            "capabilities": {"chatCompletion": "true"},
            "finetuneCapabilities": {"chatCompletion": "true"} if base.fine_tune else {},
            "skus": [
                {"name": name, "usageName": f"OpenAI.{name}.{base.name}"} for name in SKUS.values()
            ],
        }
        for base in BASE_MODELS.values()
    ]
    return web.json_response({"value": models})


async def regenerate_key(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """POST .../regenerateKey {keyName: Key1|Key2}: the old key stops working at once."""
    key, doc = find_account(sandbox, m)
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
    account_key, account = find_account(sandbox, m)
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
            "use Standard, GlobalStandard or DeveloperTier.",
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
    account_key, _ = find_account(sandbox, m)
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
    account_key, account = find_account(sandbox, m)
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
    headers = {
        "Azure-AsyncOperation": operation_url(
            request, m["sub"], str(account["location"]), doc["_operation"]
        ),
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
    if "_account" in operation:  # an account's create or delete
        account = sandbox.store.get("account", operation["_account"])
        if operation["_action"] == "create":
            state = None if account is None else account["properties"].get("provisioningState")
            done = state == "Succeeded"
        else:
            done = account is None
    else:
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
    until = float(operation["_gone_at"])
    if "_account" in operation:
        return web.json_response(body, headers=whole_seconds(sandbox, until))
    return web.json_response(body, headers=_retry_after(sandbox, until))


async def list_deployments(
    request: web.Request, sandbox: Sandbox, m: dict[str, str]
) -> web.Response:
    """GET an account's deployments."""
    account_key, _ = find_account(sandbox, m)
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
    """The ARM routes of keys and deployments (accounts.py, groups.py and roles.py add theirs)."""
    router = Router()
    sub = r"/subscriptions/(?P<sub>[^/]+)"
    router.add("POST", f"{_ACCOUNT}/listkeys", list_keys)
    router.add("POST", f"{_ACCOUNT}/regeneratekey", regenerate_key)
    router.add("GET", f"{_ACCOUNT}/models", list_models)
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

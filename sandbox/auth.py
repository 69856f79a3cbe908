"""Who a request to the sandbox comes from, and what that principal may do.

One token format for the whole sandbox (sandbox/contract.py, docs/sandbox.md "Auth"):
`Authorization: Bearer <secret>` acts as the bot's own principal (`BOT_PRINCIPAL`), and `Bearer
<secret>:<object id>` acts as the principal with that object id. The secret is `SANDBOX_ARM_TOKEN`,
or the one the sandbox generates at start. Anything else is refused.

On the data plane, a principal may do only what its role assignments grant (as Azure's RBAC
does): Cognitive Services OpenAI User reads and calls inference, Cognitive Services OpenAI
Contributor also writes files, fine-tuning jobs and models; other roles grant no data action. A
refusal is Azure's 401 `PermissionDenied`. An `api-key` (KEY1 or KEY2) allows everything, as on
Azure. Resource Manager checks the token, not roles.
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web

from sandbox.contract import BOT_PRINCIPAL
from sandbox.errors import AzureError
from sandbox.ids import is_guid
from sandbox.service import Sandbox

OPENAI_CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"
OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
DATA_ACTION = "Microsoft.CognitiveServices/accounts/OpenAI"
INFERENCE = f"{DATA_ACTION}/deployments/chat/completions/action"


def principal_of(token: str, secret: str) -> str | None:
    """The object id a bearer token acts as, or None when it is not valid here."""
    if not secret or not token:
        return None
    if hmac.compare_digest(token.encode(), secret.encode()):
        return BOT_PRINCIPAL
    head, sep, tail = token.rpartition(":")
    if sep and hmac.compare_digest(head.encode(), secret.encode()) and is_guid(tail):
        return tail.lower()
    return None


def bearer(request: web.Request) -> str:
    """The bearer token of a request ('' when there is none)."""
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def from_loopback(request: web.Request) -> bool:
    """True when the caller is on this machine."""
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def data_action(request: web.Request) -> str:
    """The Azure data action a data-plane request needs, e.g. `.../OpenAI/files/write`."""
    path = request.path.lower()
    if path.endswith("/chat/completions"):
        return INFERENCE
    kind = "models"
    for part, name in (("/files", "files"), ("/fine_tuning/", "fine-tunes")):
        if part in path:
            kind = name
    verb = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(request.method, "write")
    if path.endswith("/cancel"):
        verb = "write"
    return f"{DATA_ACTION}/{kind}/{verb}"


def _grants(role: str, action: str) -> bool:
    if role == OPENAI_CONTRIBUTOR:
        return action.startswith(DATA_ACTION + "/")
    if role == OPENAI_USER:
        return action == INFERENCE or action.endswith("/read")
    return False


def _within(scope: str, resource: str) -> bool:
    scope = scope.lower().rstrip("/")
    return not scope or resource == scope or resource.startswith(scope + "/")


def allowed(sandbox: Sandbox, principal: str, account_id: str, action: str) -> bool:
    """True when an assignment at or above the account grants `principal` the data action."""
    resource = account_id.lower()
    for _, doc in sandbox.store.items("role"):
        props = doc["properties"]
        if str(props["principalId"]).lower() != principal or not _within(props["scope"], resource):
            continue
        role = str(props["roleDefinitionId"]).rstrip("/").rsplit("/", 1)[-1].lower()
        if _grants(role, action):
            return True
    return False


def require(request: web.Request, sandbox: Sandbox, principal: str, account_id: str) -> None:
    """Refuse a data-plane call its principal's roles do not allow (Azure's 401 body)."""
    action = data_action(request)
    if allowed(sandbox, principal, account_id, action):
        return
    info = request.match_info.route.resource
    route = info.canonical if info is not None else request.path
    route = "/openai" + route.split("/openai", 1)[-1] if "/openai" in route else route
    route = route.replace("{deployment}", "{deployment-id}")
    raise AzureError(
        401,
        "PermissionDenied",
        f"The principal `{principal}` lacks the required data action `{action}` to perform "
        f"`{request.method} {route}` operation.",
    )

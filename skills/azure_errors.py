"""Azure's failures in plain words: the one reader of Azure error bodies, for both planes.

The data plane (`openai`) answers `{"error": {"code", "message", ...}}`; Resource Manager
(azure-core's `HttpResponseError`) carries an OData error with `code` and `message`. Each becomes
one sentence for the user (`UserError`) that says what failed and, where it helps, what to do.
`what` and `doing` are noun phrases the caller translates (`_("read account `{name}`", ...)`);
Azure's own words go in as they are (the Korean sentence quotes them).
"""

from __future__ import annotations

import re
from typing import Any

import openai
from azure.core.exceptions import HttpResponseError

from infra.errors import UserError


def error_body(error: openai.APIError) -> dict[str, Any]:
    """The inner error object of an Azure OpenAI answer (`{}` when there is none)."""
    body: Any = error.body
    if not isinstance(body, dict):
        return {}
    inner = body.get("error", body)
    return inner if isinstance(inner, dict) else {}


def openai_message(error: openai.APIError) -> str:
    """Azure's own message for a data-plane failure, else the SDK's, ending with a full stop."""
    message = error_body(error).get("message")
    text = message if isinstance(message, str) and message else str(error.message)
    return _quotable(text.rstrip(".") + ".")


def _quotable(text: str) -> str:
    """Azure's text, safe inside an inline code span (a translation quotes it so)."""
    return " ".join(text.replace("`", "'").split())


def openai_error(error: openai.APIError, what: str) -> UserError:
    """One sentence for a data-plane failure that retries did not cure; `what` names the thing."""
    if not isinstance(error, openai.APIStatusError):
        return UserError("I cannot reach Azure OpenAI right now; try again shortly.")
    status, reason = error.status_code, openai_message(error)
    if status == 404:
        return UserError("Azure OpenAI has no {what}.", what=what)
    if status in (401, 403):
        return UserError(
            "Azure OpenAI refused access ({status}): {reason} Ask your admin to check the key "
            "or the role assignments.",
            status=status,
            reason=reason,
        )
    if status == 429:
        return UserError(
            "Azure OpenAI is busy (rate limited); try again in a minute. {reason}", reason=reason
        )
    if status >= 500:
        return UserError(
            "Azure OpenAI had a server error ({status}); try again shortly.", status=status
        )
    return UserError("Azure OpenAI refused it ({status}): {reason}", status=status, reason=reason)


def arm_detail(error: HttpResponseError) -> tuple[str, str]:
    """(code, message) of a Resource Manager failure."""
    odata = getattr(error, "error", None)
    code = str(getattr(odata, "code", "") or "")
    message = str(getattr(odata, "message", "") or "")
    if not message:
        message = str(error.message or "").split("\n")[0]
        message = re.sub(r"^\(\w+\)\s*", "", message)
    return code, _quotable(message) if message else message


def arm_error(error: HttpResponseError, doing: str) -> UserError:
    """One sentence for a Resource Manager failure; `doing` says what the bot tried."""
    status = error.status_code
    code, message = arm_detail(error)
    if status == 429:
        return UserError("Azure is busy and could not {doing}; try again in a minute.", doing=doing)
    if status in (401, 403):
        return UserError(
            "Azure refused to {doing}: the bot's identity lacks a role on the resource (an admin "
            "can fix it with `roles`).",
            doing=doing,
        )
    if status == 404:
        return UserError(
            "Azure could not {doing}: the resource or deployment does not exist.", doing=doing
        )
    if code == "InsufficientQuota" or "quota" in message.lower():
        return UserError(
            "Azure could not {doing}: the resource is out of quota ({detail}).",
            doing=doing,
            detail=message.rstrip("."),
        )
    detail = message.rstrip(".") or (code or f"HTTP {status}")
    return UserError("Azure could not {doing}: {detail}.", doing=doing, detail=detail)

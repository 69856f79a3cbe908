"""Graph's error shape and the errors the stand-in answers with.

Graph's error body is `{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}` ("Microsoft Graph error responses and resource types",
https://learn.microsoft.com/graph/errors); the answers to a request without a token, with a bad
one, or without the permission an operation needs are the ones Graph gives (their sources are
named where they are made).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sandbox.errors import AzureError
from sandbox.ids import new_guid


class GraphError(AzureError):
    """An error answered in Graph's shape, with its `innerError`."""

    def body(self) -> dict[str, Any]:
        """The JSON body Graph sends."""
        request_id = new_guid()
        stamp = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "")
        inner = {"date": stamp, "request-id": request_id, "client-request-id": request_id}
        return {"error": {"code": self.code, "message": self.message, "innerError": inner}}

    def response(self) -> web.Response:
        """This error as an HTTP response."""
        return web.json_response(
            self.body(), status=self.status, headers=self.headers, dumps=json.dumps
        )


def unauthenticated(token: str) -> GraphError:
    """401 for a request without a token (Graph: "Access token is empty.", as quoted in
    microsoftgraph/msgraph-sample-reactspa#54) or with one it does not accept ("Access token
    validation failure.", microsoftgraph/console-java-connect-sample#1)."""
    message = "Access token validation failure." if token else "Access token is empty."
    return GraphError(401, "InvalidAuthenticationToken", message)


def forbidden(required: str) -> GraphError:
    """403 for a token without the permission an operation needs, in the words Teams' Graph
    uses ("Missing role permissions on the request. API requires one of 'Teamwork.Migrate.All'.
    Roles on the request 'Group.Selected'.", quoted in MicrosoftDocs/msteams-docs#14043)."""
    return GraphError(
        403,
        "Forbidden",
        f"Missing role permissions on the request. API requires one of '{required}'. "
        "Roles on the request ''.",
    )


def access_denied(message: str) -> GraphError:
    """403 `accessDenied` ("The caller doesn't have permission to perform the action.")."""
    return GraphError(403, "accessDenied", message)


def not_found(code: str, message: str) -> GraphError:
    """404: `NotFound` for Teams' objects ("No team found with Group Id {id}", quoted in
    microsoftgraph/microsoft-graph-docs#17077), `itemNotFound` for drive items."""
    return GraphError(404, code, message)


def bad_request(message: str, code: str = "invalidRequest") -> GraphError:
    """400: the request is malformed or incorrect."""
    return GraphError(400, code, message)

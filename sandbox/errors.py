"""Azure's error shape, `{"error": {"code", "message", ...}}`, raised by handlers."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class AzureError(Exception):
    """An error answered in Azure's shape with Azure's status code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        inner: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers or {}
        self.inner = inner

    def body(self) -> dict[str, Any]:
        """The JSON body Azure sends."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.inner is not None:
            error["status"] = self.status
            error["innererror"] = self.inner
        return {"error": error}

    def response(self) -> web.Response:
        """This error as an HTTP response."""
        return web.json_response(
            self.body(), status=self.status, headers=self.headers, dumps=json.dumps
        )


def not_found(code: str, message: str) -> AzureError:
    """A 404 in Azure's shape."""
    return AzureError(404, code, message)


def bad_request(code: str, message: str, *, param: str | None = None) -> AzureError:
    """A 400 in Azure's shape."""
    return AzureError(400, code, message, param=param)

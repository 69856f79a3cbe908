"""A Graph request's JSON body: read up to a limit, an object or a 400 in Graph's words."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sandbox.graph.errors import bad_request

MAX_BYTES = 1 << 20
"""The largest JSON body the stand-in reads (Teams takes messages of about 28 KB)."""


async def json_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object, read up to `MAX_BYTES` whatever its Content-Length says; an
    empty body is `{}` where the body is `optional`."""
    if (request.content_length or 0) > MAX_BYTES:
        raise bad_request("The request body must be under 1 MB.", "RequestEntityTooLarge")
    raw = bytearray()
    while chunk := await request.content.read(1 << 16):
        raw += chunk
        if len(raw) > MAX_BYTES:
            raise bad_request("The request body must be under 1 MB.", "RequestEntityTooLarge")
    if optional and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_request("Unable to read JSON request payload.", "BadRequest") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "BadRequest")
    return body

"""Resource groups (Microsoft.Resources): PUT, GET, HEAD and list, as `azure-mgmt-resource`
calls them. An account call under a group that does not exist is answered 404
`ResourceGroupNotFound` (arm.py `check_group`). Groups are never deleted here.
"""

from __future__ import annotations

import re

from aiohttp import web

from sandbox.accounts import region
from sandbox.arm import Router
from sandbox.dataplane import json_body
from sandbox.errors import AzureError, bad_request
from sandbox.service import Sandbox, arm_key

_GROUP = r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
_NAME = re.compile(r"^[-\w._()]{0,89}[-\w_()]$")


def _missing(m: dict[str, str]) -> AzureError:
    return AzureError(
        404, "ResourceGroupNotFound", f"Resource group '{m['rg']}' could not be found."
    )


async def put_group(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """Create a group (201) or update its tags (200); its location cannot change (409)."""
    if not _NAME.match(m["rg"]):
        raise bad_request(
            "InvalidResourceGroup",
            f"The provided resource group name '{m['rg']}' has these invalid characters. The "
            "name can only be a letter, digit, '-', '.', '(', ')' or '_'.",
        )
    body = await json_body(request)
    location = region(body.get("location"))
    if not location:
        raise bad_request("LocationRequired", "The location property is required.")
    existing = sandbox.group(m["sub"], m["rg"])
    if existing is not None and region(existing["location"]) != location:
        raise AzureError(
            409,
            "InvalidResourceGroupLocation",
            f"Invalid resource group location '{location}'. The Resource group already exists "
            f"in location '{existing['location']}'.",
        )
    doc = sandbox.put_group(m["sub"], m["rg"], location, body.get("tags"))
    return web.json_response(doc, status=200 if existing else 201)


async def get_group(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET a group."""
    doc = sandbox.group(m["sub"], m["rg"])
    if doc is None:
        raise _missing(m)
    return web.json_response(doc)


async def head_group(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """HEAD a group: 204 when it exists, else 404 (`check_existence`)."""
    return web.Response(status=204 if sandbox.group(m["sub"], m["rg"]) else 404)


async def list_groups(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """GET the groups of a subscription."""
    parent = arm_key(f"/subscriptions/{m['sub']}")
    return web.json_response({"value": sandbox.store.docs("group", parent)})


def add_groups(router: Router) -> None:
    """The routes of resource groups."""
    router.add("GET", r"/subscriptions/(?P<sub>[^/]+)/resourcegroups", list_groups)
    router.add("PUT", _GROUP, put_group)
    router.add("GET", _GROUP, get_group)
    router.add("HEAD", _GROUP, head_group)

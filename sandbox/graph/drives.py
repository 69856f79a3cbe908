"""OneDrive and SharePoint through Graph: drives and their items, uploads (in one request, or in
an upload session) and downloads.

Shapes and rules, from Microsoft's Graph documentation: a driveItem
(https://learn.microsoft.com/graph/api/resources/driveitem), a channel's `filesFolder`
(channel-get-filesfolder), a drive (drive-get), a simple upload of up to 250 MB
(driveitem-put-content: 201 with the new item, 200 when it replaces one), an upload session
(driveitem-createuploadsession: the upload URL takes no Authorization header, fragments in
order, each under 60 MiB and, but for the last, a multiple of 320 KiB; 202 with
`nextExpectedRanges`, then 201 with the item), a download (driveitem-get-content: 302 to a
pre-authenticated URL, valid for a short time), a shared file by its sharing URL (shares-get: `u!`
and the URL in unpadded base64url). A team's files are in its SharePoint document library, one
folder per channel; a person's own in their OneDrive (group chats keep their files there).

The bytes live under `<data>/graph/` (owner-only), an upload in one request or fragment is
written in 1 MB pieces in a worker thread, and a download streams from disk.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

from aiohttp import web

from sandbox.contract import GRAPH
from sandbox.files import private_dir
from sandbox.graph import tenant
from sandbox.graph.bodies import json_body
from sandbox.graph.callers import Caller, caller, me
from sandbox.graph.errors import GraphError, access_denied, bad_request, forbidden, not_found
from sandbox.ids import new_guid
from sandbox.service import SANDBOX, Sandbox
from sandbox.store import Doc, wire

DRIVE = "graph-drive"
ITEM = "graph-item"
UPLOAD = "graph-upload"
SHAREPOINT = "https://sandbox.sharepoint.com"
ONEDRIVE = "https://sandbox-my.sharepoint.com"
SIMPLE_UPLOAD_BYTES = 250 * 1024 * 1024
"""The largest file a simple upload takes (driveitem-put-content)."""
FRAGMENT_UNIT = 320 * 1024
"""An upload session's fragments, but the last, are multiples of 320 KiB (327,680 bytes)."""
FRAGMENT_BYTES = 60 * 1024 * 1024
"""Each fragment of an upload session is under 60 MiB."""
FILE_BYTES = 1024**3
"""The sandbox's quota per file (1 GiB): a larger upload session is 507 `quotaLimitReached`."""
SESSION_SECONDS = 3600.0
"""How long an upload session lasts without a fragment (the sandbox's choice)."""
DOWNLOAD_SECONDS = 3600.0
"""How long a pre-authenticated download URL works (driveItem: `@microsoft.graph.downloadUrl`
is "available for a short period of time (1 hour)")."""
WRITE_BYTES = 1 << 20
WRITE_ROLE = "Files.ReadWrite.All, Sites.ReadWrite.All"
DOWNLOAD_ROUTE = "graph-download"
UPLOAD_ROUTE = "graph-upload"
UPLOADING = web.AppKey("graph_uploading", set[str])
"""Upload sessions a fragment is being written to right now (one fragment at a time)."""
_NAME = re.compile(r'^[^"*:<>?/\\|]+$')
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


def now_iso() -> str:
    """This instant as Graph writes a driveItem's dates (whole seconds, UTC)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _folder_of(sandbox: Sandbox) -> Path:
    return private_dir(sandbox.data_dir / "graph")


def content_path(sandbox: Sandbox, item_id: str) -> Path:
    """Where a file's bytes are kept."""
    return private_dir(_folder_of(sandbox) / "items") / item_id


def _upload_path(sandbox: Sandbox, session: str) -> Path:
    return private_dir(_folder_of(sandbox) / "uploads") / session


def _new_item_id() -> str:
    """A driveItem id as SharePoint's look: `01` and 32 base32 characters."""
    return "01" + base64.b32encode(secrets.token_bytes(20)).decode()


def _drive_id(seed: str) -> str:
    """A drive id as SharePoint's look (`b!` and 64 base64url characters), stable for its owner."""
    digest = hashlib.sha512(seed.encode()).digest()
    return "b!" + base64.urlsafe_b64encode(digest).decode()[:64]


# -- drives and items ----------------------------------------------------------------------------


def _new_drive(sandbox: Sandbox, drive_id: str, drive: Doc, web_url: str) -> Doc:
    """Store a drive and its root folder."""
    root = _new_item_id()
    stamp = now_iso()
    drive.update(
        {
            "id": drive_id,
            "createdDateTime": stamp,
            "lastModifiedDateTime": stamp,
            "webUrl": web_url,
            "quota": {
                "deleted": 0,
                "remaining": 1099511627776,
                "state": "normal",
                "total": 1099511627776,
            },
            "_root": root,
        }
    )
    sandbox.store.put(DRIVE, drive_id, drive)
    sandbox.store.put(
        ITEM,
        root,
        _item_doc(drive, root, "root", web_url, None, "", folder=True),
        parent="",
    )
    return drive


def team_drive(sandbox: Sandbox, group: str, site: str) -> Doc:
    """A team's document library (created with the team)."""
    drive_id = _drive_id(f"team:{group.lower()}")
    found = sandbox.store.get(DRIVE, drive_id)
    if found is not None:
        return found
    drive: Doc = {"driveType": "documentLibrary", "name": "Documents", "_team": group.lower()}
    return _new_drive(sandbox, drive_id, drive, f"{SHAREPOINT}/sites/{site}/Shared%20Documents")


def user_drive(sandbox: Sandbox, user: str) -> Doc:
    """A person's OneDrive, provisioned on first use (as `GET /me/drive` does)."""
    drive_id = _drive_id(f"user:{user}")
    found = sandbox.store.get(DRIVE, drive_id)
    if found is not None:
        return found
    drive: Doc = {
        "driveType": "business",
        "name": "OneDrive",
        "owner": {"user": {"id": user, "displayName": tenant.display_name(sandbox, user)}},
        "_user": user,
    }
    web_url = f"{ONEDRIVE}/personal/{user.replace('-', '_')}/Documents"
    return _new_drive(sandbox, drive_id, drive, web_url)


def _item_doc(
    drive: Doc,
    item_id: str,
    name: str,
    web_url: str,
    parent: Doc | None,
    user: str,
    *,
    folder: bool,
) -> Doc:
    stamp = now_iso()
    who = {"user": {"id": user}} if user else {"application": {"id": "sandbox"}}
    reference: Doc = {"driveId": drive["id"], "driveType": drive["driveType"]}
    if parent is not None:
        reference["id"] = parent["id"]
    doc: Doc = {
        "id": item_id,
        "name": name,
        "webUrl": web_url,
        "size": 0,
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "createdBy": who,
        "lastModifiedBy": who,
        "parentReference": reference,
        "fileSystemInfo": {"createdDateTime": stamp, "lastModifiedDateTime": stamp},
        "_guid": new_guid().upper(),
        "_version": 1,
        "_drive": drive["id"],
        "_shared": [],
    }
    if folder:
        doc["folder"] = {"childCount": 0}
    else:
        doc["file"] = {"mimeType": "application/octet-stream"}
    return _tagged(doc)


def _tagged(doc: Doc) -> Doc:
    doc["eTag"] = f'"{{{doc["_guid"]}}},{doc["_version"]}"'
    if "file" in doc:
        doc["cTag"] = f'"c:{{{doc["_guid"]}}},{doc["_version"]}"'
    return doc


def children(sandbox: Sandbox, parent_id: str) -> Iterator[Doc]:
    """The items in a folder, oldest first."""
    yield from sandbox.store.docs(ITEM, parent_id)


def child_named(sandbox: Sandbox, parent_id: str, name: str) -> Doc | None:
    """The item called `name` in a folder (names are not case-sensitive), if any."""
    return next(
        (c for c in children(sandbox, parent_id) if c["name"].lower() == name.lower()), None
    )


def folder(sandbox: Sandbox, drive: Doc, parent_id: str, name: str) -> Doc:
    """The folder `name` in a folder, created when missing (a channel's files folder)."""
    found = child_named(sandbox, parent_id, name)
    if found is not None:
        return found
    parent = item(sandbox, drive, parent_id)
    doc = _item_doc(
        drive, _new_item_id(), name, f"{parent['webUrl']}/{quote(name)}", parent, "", folder=True
    )
    sandbox.store.put(ITEM, doc["id"], doc, parent=parent_id)
    return doc


def item(sandbox: Sandbox, drive: Doc, item_id: str) -> Doc:
    """An item of a drive (`root` names its root folder); 404 `itemNotFound` otherwise."""
    key = drive["_root"] if item_id == "root" else item_id
    doc = sandbox.store.get(ITEM, key)
    if doc is None or doc["_drive"] != drive["id"]:
        raise not_found("itemNotFound", "The resource could not be found.")
    return doc


def drive_of(sandbox: Sandbox, drive_id: str) -> Doc:
    """A drive by its id; 404 `itemNotFound` otherwise."""
    doc = sandbox.store.get(DRIVE, drive_id)
    if doc is None:
        raise not_found("itemNotFound", "The resource could not be found.")
    return doc


def view(sandbox: Sandbox, doc: Doc) -> Doc:
    """An item as Graph shows it (a folder with its `childCount`)."""
    shown = wire(doc)
    if "folder" in doc:
        shown["folder"] = {"childCount": sum(1 for _ in children(sandbox, doc["id"]))}
    return shown


def by_web_url(sandbox: Sandbox, url: str) -> Doc | None:
    """The file at a sharing URL (its `webUrl`), if any."""
    wanted = unquote(url)
    for doc in sandbox.store.docs(ITEM):
        if "file" in doc and (doc["webUrl"] == url or unquote(doc["webUrl"]) == wanted):
            return doc
    return None


def share(doc: Doc, users: list[str]) -> None:
    """Let these people read a file (a chat's members, when it is posted there)."""
    doc["_shared"] = sorted({*doc["_shared"], *users})


# -- who may do what -----------------------------------------------------------------------------


def _may(sandbox: Sandbox, who: Caller, drive: Doc, target: Doc | None, *, write: bool) -> None:
    """Refuse what the caller may not do in a drive: the app only reads (`Files.Read.All`); a
    person writes to their OneDrive and to their teams' libraries, and reads those and the files
    shared with them."""
    if who.app:
        if write:
            raise forbidden(WRITE_ROLE)
        return
    if "_team" in drive:
        tenant.require_member(tenant.team(sandbox, drive["_team"]), who.user)
        return
    if drive["_user"] == who.user:
        return
    if not write and target is not None and who.user in target["_shared"]:
        return
    raise access_denied("Access denied")


# -- handlers ------------------------------------------------------------------------------------


def context(request: web.Request, entity: str) -> str:
    """The `@odata.context` of an answer: this Graph's `$metadata` and the entity set."""
    path = request.path
    base = path[: path.index(GRAPH) + len(GRAPH)]
    return f"{request.url.origin()}{base}/$metadata#{entity}"


async def files_folder(request: web.Request) -> web.Response:
    """GET /teams/{team-id}/channels/{channel-id}/filesFolder: the channel's folder."""
    sandbox, who = caller(request)
    group, channel_id = request.match_info["team"], request.match_info["channel"]
    team, channel = tenant.channel(sandbox, group, channel_id)
    if not who.app:
        tenant.require_member(team, who.user)
    doc = sandbox.store.get(ITEM, channel["folder"])
    assert doc is not None
    entity = f"teams('{team['id']}')/channels('{quote(channel_id, safe='')}')/filesFolder"
    return web.json_response(
        {"@odata.context": context(request, f"{entity}/$entity"), **view(sandbox, doc)}
    )


async def my_drive(request: web.Request) -> web.Response:
    """GET /me/drive: the caller's OneDrive (provisioned on first use)."""
    sandbox, who = caller(request)
    drive = user_drive(sandbox, me(who))
    return web.json_response({"@odata.context": context(request, "drives/$entity"), **wire(drive)})


async def drive_items(request: web.Request) -> web.StreamResponse:
    """`/drives/{drive-id}/items/...`: an item's content (GET), a simple upload (PUT
    `{parent-id}:/{filename}:/content`) or an upload session (POST
    `{parent-id}:/{filename}:/createUploadSession`)."""
    sandbox, who = caller(request)
    drive = drive_of(sandbox, request.match_info["drive"])
    tail = request.match_info["tail"]
    if request.method == "GET" and tail.endswith("/content") and ":" not in tail:
        target = item(sandbox, drive, tail.removesuffix("/content"))
        _may(sandbox, who, drive, target, write=False)
        return _redirect_to_content(request, sandbox, target)
    found = re.fullmatch(r"([^/:]+):/([^/]+):/(content|createUploadSession)", tail)
    if found is None or (request.method, found[3]) not in (
        ("PUT", "content"),
        ("POST", "createUploadSession"),
    ):
        raise bad_request(
            f"Resource not found for the segment '{tail.split('/')[0]}'.", "BadRequest"
        )
    parent = item(sandbox, drive, found[1])
    if "folder" not in parent:
        raise bad_request("The parent item is not a folder.")
    name = _valid_name(found[2])
    _may(sandbox, who, drive, None, write=True)
    if found[3] == "content":
        return await _simple_upload(request, sandbox, who, drive, parent, name)
    return await _create_session(request, sandbox, who, drive, parent, name)


def _valid_name(name: str) -> str:
    if not name.strip() or name != name.strip() or not _NAME.match(name):
        raise bad_request("Name contains invalid characters.", "invalidRequest")
    return name


async def _receive(request: web.Request, target: Path, size: int) -> None:
    """Write exactly `size` bytes of the request body to `target` (400 when they differ)."""
    written = 0
    with target.open("ab") as out:
        buffer = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            written += len(chunk)
            if written > size:
                raise bad_request("The body is longer than its Content-Length.")
            buffer += chunk
            if len(buffer) >= WRITE_BYTES:
                await asyncio.to_thread(out.write, bytes(buffer))  # off the event loop
                buffer.clear()
        await asyncio.to_thread(out.write, bytes(buffer))
    if written != size:
        raise bad_request("The body is shorter than its Content-Length.")


async def _simple_upload(
    request: web.Request, sandbox: Sandbox, who: Caller, drive: Doc, parent: Doc, name: str
) -> web.Response:
    size = request.content_length
    if size is None:
        raise GraphError(
            411, "invalidRequest", "A Content-Length header is required on the request."
        )
    if size > SIMPLE_UPLOAD_BYTES:
        raise GraphError(
            413,
            "invalidRequest",
            "A simple upload takes files up to 250 MB; upload a larger file in an upload session.",
        )
    temp = _upload_path(sandbox, f"put-{secrets.token_hex(8)}")
    try:
        await _receive(request, temp, size)
        doc, created = _store_file(sandbox, who.user, drive, parent, name, temp, size, "replace")
    finally:
        temp.unlink(missing_ok=True)
    return web.json_response(view(sandbox, doc), status=201 if created else 200)


def _store_file(
    sandbox: Sandbox,
    user: str,
    drive: Doc,
    parent: Doc,
    name: str,
    source: Path,
    size: int,
    conflict: str,
) -> tuple[Doc, bool]:
    """Keep an uploaded file in a folder: a new item (True), or the item of that name replaced
    (`conflict` replace) or a new name (rename); 409 `nameAlreadyExists` for `fail`."""
    existing = child_named(sandbox, parent["id"], name)
    if existing is not None and conflict == "rename":
        stem, dot, suffix = name.rpartition(".")
        number = 1
        while existing is not None:
            name = f"{stem} {number}.{suffix}" if dot else f"{name} {number}"
            existing = child_named(sandbox, parent["id"], name)
            number += 1
    if existing is not None and (conflict == "fail" or "folder" in existing):
        raise GraphError(409, "nameAlreadyExists", "The specified item name already exists.")
    if existing is None:
        doc = _item_doc(
            drive,
            _new_item_id(),
            name,
            f"{parent['webUrl']}/{quote(name)}",
            parent,
            user,
            folder=False,
        )
    else:
        doc = existing
        doc["_version"] += 1
        stamp = now_iso()
        doc["lastModifiedDateTime"] = doc["fileSystemInfo"]["lastModifiedDateTime"] = stamp
        doc["lastModifiedBy"] = {"user": {"id": user}}
        _tagged(doc)
    doc["size"] = size
    os.replace(source, content_path(sandbox, doc["id"]))
    sandbox.store.put(ITEM, doc["id"], doc, parent=parent["id"])
    return doc, existing is None


# -- upload sessions -----------------------------------------------------------------------------


def _expiry(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _create_session(
    request: web.Request, sandbox: Sandbox, who: Caller, drive: Doc, parent: Doc, name: str
) -> web.Response:
    body = await json_body(request, optional=True)
    described = body.get("item") or {}
    if not isinstance(described, dict):
        raise bad_request("`item` must be an object.")
    if body.get("deferCommit"):
        raise GraphError(501, "notSupported", "The sandbox does not defer committing an upload.")
    if "name" in described and described["name"] != name:
        raise bad_request("The item's name must be the name in the request's path.")
    conflict = described.get("@microsoft.graph.conflictBehavior", "fail")
    if conflict not in ("fail", "replace", "rename"):
        raise bad_request("@microsoft.graph.conflictBehavior is fail, replace or rename.")
    size = described.get("fileSize")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise bad_request("fileSize is a whole number of bytes.")
    if size is not None and size > FILE_BYTES:
        raise GraphError(507, "quotaLimitReached", "The user has reached their quota limit.")
    session = secrets.token_hex(16)
    expires = time.time() + SESSION_SECONDS
    doc: Doc = {
        "_drive": drive["id"],
        "_parent": parent["id"],
        "name": name,
        "conflict": conflict,
        "size": size,
        "received": 0,
        "expires": expires,
        "user": who.user,
    }
    sandbox.store.put(UPLOAD, session, doc)
    _upload_path(sandbox, session).touch(mode=0o600)
    url = request.url.origin().join(request.app.router[UPLOAD_ROUTE].url_for(session=session))
    return web.json_response(
        {
            "uploadUrl": str(url),
            "expirationDateTime": _expiry(expires),
            "nextExpectedRanges": ["0-"],
        }
    )


def _session(sandbox: Sandbox, session: str) -> Doc:
    doc = sandbox.store.get(UPLOAD, session)
    if doc is None or doc["expires"] < time.time():
        if doc is not None:
            _drop_session(sandbox, session)
        raise not_found("itemNotFound", "The upload session was not found.")
    return doc


def _drop_session(sandbox: Sandbox, session: str) -> None:
    sandbox.store.delete(UPLOAD, session)
    _upload_path(sandbox, session).unlink(missing_ok=True)


def _status(doc: Doc) -> Doc:
    return {
        "expirationDateTime": _expiry(doc["expires"]),
        "nextExpectedRanges": [f"{doc['received']}-"],
    }


async def upload_status(request: web.Request) -> web.Response:
    """GET {uploadUrl}: what the session still needs."""
    sandbox = request.config_dict[SANDBOX]
    return web.json_response(_status(_session(sandbox, request.match_info["session"])))


async def cancel_upload(request: web.Request) -> web.Response:
    """DELETE {uploadUrl}: the session and its bytes go."""
    sandbox = request.config_dict[SANDBOX]
    _session(sandbox, request.match_info["session"])
    _drop_session(sandbox, request.match_info["session"])
    return web.Response(status=204)


async def upload_fragment(request: web.Request) -> web.Response:
    """PUT {uploadUrl}: the next fragment, `Content-Range: bytes a-b/total`."""
    sandbox = request.config_dict[SANDBOX]
    if "Authorization" in request.headers:  # driveitem-createuploadsession, "Remarks"
        raise GraphError(
            401,
            "unauthenticated",
            "An upload URL is pre-authenticated: send no Authorization header.",
        )
    session = request.match_info["session"]
    doc = _session(sandbox, session)
    busy = request.app[UPLOADING]
    if session in busy:
        raise GraphError(409, "invalidRange", "Another fragment of this session is being uploaded.")
    found = _RANGE.match(request.headers.get("Content-Range", ""))
    if found is None:
        raise bad_request("A fragment needs Content-Range: bytes {first}-{last}/{total}.")
    first, last, total = (int(part) for part in found.groups())
    length = last - first + 1
    if doc["size"] is not None and total != doc["size"]:
        raise bad_request(
            "Declared total size for this fragment is different from that of the upload session.",
            "invalidRange",
        )
    if total > FILE_BYTES:
        raise GraphError(507, "quotaLimitReached", "The user has reached their quota limit.")
    if first < doc["received"]:
        raise GraphError(416, "invalidRange", "Uploaded fragment overlaps with existing data.")
    if first > doc["received"]:
        raise GraphError(416, "invalidRange", "Uploaded fragment is out of order.")
    if length <= 0 or last >= total or request.content_length != length:
        raise bad_request(
            "The fragment's Content-Range and Content-Length do not agree.", "invalidRange"
        )
    if length >= FRAGMENT_BYTES:
        raise GraphError(413, "invalidRequest", "A fragment must be smaller than 60 MiB.")
    if last + 1 < total and length % FRAGMENT_UNIT:
        raise bad_request(
            "A fragment other than the last must be a multiple of 320 KiB (327,680 bytes)."
        )
    busy.add(session)
    try:
        await _receive(request, _upload_path(sandbox, session), length)
    except GraphError:
        with _upload_path(sandbox, session).open("r+b") as partial:  # drop what came of it
            partial.truncate(doc["received"])
        raise
    finally:
        busy.discard(session)
    doc.update({"size": total, "received": last + 1, "expires": time.time() + SESSION_SECONDS})
    sandbox.store.put(UPLOAD, session, doc)
    if doc["received"] < total:
        return web.json_response(_status(doc), status=202)
    drive = drive_of(sandbox, doc["_drive"])
    parent = item(sandbox, drive, doc["_parent"])
    stored, created = _store_file(
        sandbox,
        doc["user"],
        drive,
        parent,
        doc["name"],
        _upload_path(sandbox, session),
        total,
        doc["conflict"],
    )
    sandbox.store.delete(UPLOAD, session)
    return web.json_response(view(sandbox, stored), status=201 if created else 200)


# -- downloads -----------------------------------------------------------------------------------


def _signature(sandbox: Sandbox, item_id: str, expires: int) -> str:
    return hmac.new(sandbox.secret.encode(), f"{item_id}:{expires}".encode(), "sha256").hexdigest()


def _redirect_to_content(request: web.Request, sandbox: Sandbox, target: Doc) -> web.Response:
    """302 to the file's pre-authenticated download URL (driveitem-get-content)."""
    if "file" not in target:
        raise bad_request("Only a file can be downloaded.")
    expires = int(time.time() + DOWNLOAD_SECONDS)
    path = request.app.router[DOWNLOAD_ROUTE].url_for(item=target["id"])
    tempauth = f"{expires}.{_signature(sandbox, target['id'], expires)}"
    location = request.url.origin().join(path.with_query(tempauth=tempauth))
    return web.Response(status=302, headers={"Location": str(location)})


async def shared_content(request: web.Request) -> web.Response:
    """GET /shares/{encoded sharing URL}/driveItem/content: 302 to the shared file's bytes."""
    sandbox, who = caller(request)
    encoded = request.match_info["share"]
    if not encoded.startswith("u!"):
        raise not_found("itemNotFound", "The resource could not be found.")
    try:
        padded = encoded[2:] + "=" * (-len(encoded[2:]) % 4)
        url = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request("The sharing URL is not encoded as u! and unpadded base64url.") from None
    target = by_web_url(sandbox, url)
    if target is None:
        raise not_found("itemNotFound", "The resource could not be found.")
    _may(sandbox, who, drive_of(sandbox, target["_drive"]), target, write=False)
    return _redirect_to_content(request, sandbox, target)


async def download(request: web.Request) -> web.StreamResponse:
    """The pre-authenticated download URL: the file's bytes, no Authorization needed."""
    sandbox = request.config_dict[SANDBOX]
    item_id = request.match_info["item"]
    expires_text, _, signature = request.query.get("tempauth", "").partition(".")
    valid = expires_text.isdigit() and hmac.compare_digest(
        signature, _signature(sandbox, item_id, int(expires_text))
    )
    if not valid or int(expires_text) < time.time():
        raise GraphError(401, "unauthenticated", "The download URL is not valid or has expired.")
    path = content_path(sandbox, item_id)
    if sandbox.store.get(ITEM, item_id) is None or not path.exists():
        raise not_found("itemNotFound", "The resource could not be found.")
    return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})

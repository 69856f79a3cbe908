"""The Microsoft Graph stand-in: its answers against Microsoft's Graph examples (copied with their
source into tests/data/graph_examples/, listed in tests/data/README.md), and Graph's errors.

An answer has an example's shape when it has every field of the example, each with the example's
JSON type (a null in the example takes any value; examples are marked "truncated", so an answer
may have more).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from sandbox import contracts
from sandbox.contract import GRAPH, token
from sandbox.post_file import Channel, GraphClient, Person, file_message, post_in_channel
from tests.harness import HTTP_TIMEOUT, SANDBOX_TOKEN
from tests.sandbox_server import running_sandbox

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "graph_examples"
ANA = Person("0a11ce00-0000-4000-8000-000000000001", "Ana")
BEN = Person("0b0b0000-0000-4000-8000-000000000002", "Ben")
CY = Person("0c0c0000-0000-4000-8000-000000000003", "Cy")
BOT = Person("28:00000000-0000-0000-0000-00000000b075", "FineTuneBot")
LAB = Channel(
    "19:lab@thread.tacv2",
    "0f5b5b8e-7a55-4c0c-9a4d-2f6a2b0c1d11",
    "19:general@thread.tacv2",
    "General",
    "Lab",
)
CHAT = "19:3f2e1d0c9b8a4f6e@thread.v2"
UNIT = 320 * 1024


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def unlike(example_: Any, answer: Any, where: str = "$") -> list[str]:
    """Where `answer` lacks a field of the example or has another JSON type ([] when none)."""
    if example_ is None:
        return []
    if isinstance(example_, dict):
        if not isinstance(answer, dict):
            return [f"{where}: an object expected, got {answer!r}"]
        found = []
        for key, value in example_.items():
            if key not in answer:
                found.append(f"{where}.{key}: missing")
            else:
                found += unlike(value, answer[key], f"{where}.{key}")
        return found
    if isinstance(example_, list):
        if not isinstance(answer, list):
            return [f"{where}: a list expected, got {answer!r}"]
        if not example_:
            return []
        return [
            p for i, item in enumerate(answer) for p in unlike(example_[0], item, f"{where}[{i}]")
        ]
    kind = (
        bool if isinstance(example_, bool) else int if isinstance(example_, int) else type(example_)
    )
    ok = isinstance(answer, kind) and not (kind is int and isinstance(answer, bool))
    return [] if ok else [f"{where}: {kind.__name__} expected, got {answer!r}"]


def test_the_shape_check_can_fail() -> None:
    assert unlike({"a": {"b": 1}, "c": []}, {"a": {"b": 2}, "c": [1]}) == []
    assert unlike({"a": {"b": 1}}, {"a": {"b": "1"}}) == ["$.a.b: int expected, got '1'"]
    assert unlike({"a": [{"b": None}]}, {"a": [{}]}) == ["$.a[0].b: missing"]


@pytest.fixture
async def graph(tmp_path: Path) -> AsyncIterator[GraphClient]:
    """A sandbox with the team Lab (Ana and Ben, consent granted) and a chat (Ana and Ben)."""
    async with (
        running_sandbox(tmp_path / "sandbox") as url,
        aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session,
    ):
        client = GraphClient(session, url, SANDBOX_TOKEN)
        await client.declare_team(LAB, [ANA, BEN])
        await client.declare_chat(CHAT, [ANA, BEN])
        yield client


async def call(
    graph: GraphClient, method: str, path: str, user: str | None = "", **kw: Any
) -> tuple[int, Any, CIMultiDictProxy[str]]:
    """A raw request to the sandbox's Graph: (status, JSON body or bytes, headers); `user` None
    sends no token."""
    headers = dict(kw.pop("headers", {}))
    if user is not None:
        headers["Authorization"] = f"Bearer {token(SANDBOX_TOKEN, user)}"
    url = path if path.startswith("http") else f"{graph.root}{GRAPH}{path}"
    async with graph.session.request(
        method, url, headers=headers, allow_redirects=False, **kw
    ) as response:
        raw = await response.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        return response.status, body, response.headers


CHANNEL = f"/teams/{LAB.group}/channels/{quote(LAB.id, safe='')}"


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


async def test_a_channel_file_and_message_have_graphs_shapes(
    graph: GraphClient, tmp_path: Path
) -> None:
    status, folder, _ = await call(graph, "GET", f"{CHANNEL}/filesFolder", ANA.id)
    assert status == 200 and unlike(example("channel-get-filesfolder.json"), folder) == []
    assert folder["name"] == "General" and folder["folder"]["childCount"] == 0

    drive, parent = folder["parentReference"]["driveId"], folder["id"]
    put = f"/drives/{drive}/items/{parent}:/training%20set.jsonl:/content"
    status, item, _ = await call(graph, "PUT", put, ANA.id, data=b'{"a": 1}\n')
    assert status == 201 and unlike(example("driveitem-put-content.json"), item) == []
    assert (item["name"], item["size"]) == ("training set.jsonl", 9)
    assert item["webUrl"] == (
        "https://sandbox.sharepoint.com/sites/Lab/Shared%20Documents/General/training%20set.jsonl"
    )
    status, again, _ = await call(graph, "PUT", put, BEN.id, data=b'{"a": 2}\n{"b": 3}\n')
    assert status == 200 and again["id"] == item["id"] and again["size"] == 18  # replaced
    assert again["eTag"] != item["eTag"]

    # Example 4's request, naming this file
    request = example("chatmessage-post-4-request.json")
    request["attachments"][0].update(contentUrl=again["webUrl"], name=again["name"])
    status, posted, _ = await call(graph, "POST", f"{CHANNEL}/messages", ANA.id, json=request)
    assert status == 201 and unlike(example("chatmessage-post-4-response.json"), posted) == []
    assert posted["from"]["user"] == {
        "@odata.type": "#microsoft.graph.teamworkUserIdentity",
        "id": ANA.id,
        "displayName": "Ana",
        "userIdentityType": "aadUser",
        "tenantId": posted["from"]["user"]["tenantId"],
    }
    assert posted["channelIdentity"] == {"teamId": LAB.group, "channelId": LAB.id}
    assert posted["attachments"] == [
        {**request["attachments"][0], "content": None, "thumbnailUrl": None}
    ]

    # read back with the bot's app-only token (its resource-specific consent)
    message = f"{CHANNEL}/messages/{posted['id']}"
    status, read, _ = await call(graph, "GET", message)
    assert status == 200 and unlike(example("chatmessage-get-2-channel.json"), read) == []
    assert read == posted

    status, reply, _ = await call(
        graph, "POST", f"{message}/replies", BEN.id, json={"body": {"content": "thanks"}}
    )
    assert status == 201 and reply["replyToId"] == posted["id"]
    status, read, _ = await call(graph, "GET", f"{message}/replies/{reply['id']}")
    assert status == 200 and unlike(example("chatmessage-get-3-reply.json"), read) == []
    assert read["body"] == {"contentType": "text", "content": "thanks"}
    assert read["@odata.context"].endswith(f"/messages('{posted['id']}')/replies/$entity")

    # the file, by its sharing URL and by its drive item: 302 to bytes that need no token
    for path in (
        f"/shares/u!{_share(again['webUrl'])}/driveItem/content",
        f"/drives/{drive}/items/{again['id']}/content",
    ):
        status, _, headers = await call(graph, "GET", path)
        assert status == 302, path
        status, content, _ = await call(graph, "GET", headers["Location"], None)
        assert status == 200 and content == b'{"a": 2}\n{"b": 3}\n'


def _share(url: str) -> str:
    return base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


async def test_a_chat_file_is_in_the_senders_onedrive_and_shared_with_the_chat(
    graph: GraphClient, tmp_path: Path
) -> None:
    status, drive, _ = await call(graph, "GET", "/me/drive", ANA.id)
    assert status == 200 and unlike(example("drive-get.json"), drive) == []
    assert drive["owner"]["user"] == {"id": ANA.id, "displayName": "Ana"}
    item = await graph.upload(ANA.id, drive["id"], "root", write(tmp_path, "notes.jsonl", b"{}\n"))
    assert item["webUrl"].startswith("https://sandbox-my.sharepoint.com/personal/")
    share = f"/shares/u!{_share(item['webUrl'])}/driveItem/content"
    assert (await call(graph, "GET", share, BEN.id))[0] == 403  # not shared yet

    body, _ = file_message([item], BOT, "validate")
    chat = f"/chats/{quote(CHAT, safe='')}/messages"
    status, posted, _ = await call(graph, "POST", chat, ANA.id, json=body)
    assert status == 201 and posted["chatId"] == CHAT and posted["channelIdentity"] is None
    status, read, _ = await call(graph, "GET", f"{chat}/{posted['id']}")  # the app, consented
    assert status == 200 and unlike(example("chatmessage-get-1-chat.json"), read) == []
    assert read["mentions"][0]["mentioned"]["application"]["id"] == BOT.id

    assert (await call(graph, "GET", share, BEN.id))[0] == 302  # a member of the chat now
    assert (await call(graph, "GET", share, CY.id))[0] == 403  # not in the chat
    assert (await call(graph, "GET", share))[0] == 302  # the app: Files.Read.All


async def test_graphs_errors(graph: GraphClient, tmp_path: Path) -> None:
    shape = example("errors.json")
    status, body, _ = await call(graph, "GET", f"{CHANNEL}/filesFolder", None)
    assert status == 401 and unlike(example("error-401-empty-token.json"), body) == []
    assert body["error"]["message"] == "Access token is empty."
    status, body, _ = await call(
        graph, "GET", f"{CHANNEL}/filesFolder", None, headers={"Authorization": "Bearer nope"}
    )
    assert (status, body["error"]["code"]) == (401, "InvalidAuthenticationToken")

    posted = await post_in_channel(graph, ANA, LAB, [write(tmp_path, "a.jsonl", b"{}\n")], BOT)
    # posting takes a person's token: the app's gets Graph's 403
    status, body, _ = await call(
        graph, "POST", f"{CHANNEL}/messages", json={"body": {"content": "hi"}}
    )
    assert status == 403 and unlike(shape, body) == []
    assert "API requires one of 'Teamwork.Migrate.All'" in body["error"]["message"]

    # a message's JSON is read up to 1 MB, also when no Content-Length announces it
    async def streamed() -> AsyncIterator[bytes]:
        for _ in range(17):
            yield b" " * (1 << 16)

    status, body, _ = await call(graph, "POST", f"{CHANNEL}/messages", ANA.id, data=streamed())
    assert (status, body["error"]["code"]) == (400, "RequestEntityTooLarge")
    # a non-member may not post or read
    status, body, _ = await call(
        graph, "POST", f"{CHANNEL}/messages", CY.id, json={"body": {"content": "hi"}}
    )
    assert (status, body["error"]["code"]) == (403, "accessDenied")

    # without the team's resource-specific consent the app reads no message; members still do
    await graph.declare_team(LAB, [ANA, BEN], consent=False)
    message = f"{CHANNEL}/messages/{posted.message}"
    status, body, _ = await call(graph, "GET", message)
    assert status == 403 and unlike(shape, body) == []
    assert "ChannelMessage.Read.Group" in body["error"]["message"]
    assert (await call(graph, "GET", message, BEN.id))[0] == 200

    unknown_team = "/teams/11111111-2222-4333-8444-555555555555/channels/x/messages/1"
    cases = {
        unknown_team: (
            "NotFound",
            "No team found with Group Id 11111111-2222-4333-8444-555555555555",
        ),
        f"/teams/{LAB.group}/channels/19%3Anone%40thread.tacv2/filesFolder": ("NotFound", None),
        "/chats/19%3Anone%40thread.v2/messages/1": ("NotFound", None),
        f"{CHANNEL}/messages/1": ("NotFound", None),
        f"{message}/replies/1": ("NotFound", None),
        f"/shares/u!{_share('https://sandbox.sharepoint.com/none.jsonl')}/driveItem/content": (
            "itemNotFound",
            "The resource could not be found.",
        ),
        f"/drives/{posted.files[0]['parentReference']['driveId']}/items/01NONE/content": (
            "itemNotFound",
            None,
        ),
    }
    for path, (code, text) in cases.items():
        status, body, _ = await call(graph, "GET", path, ANA.id)
        assert status == 404 and unlike(shape, body) == [], path
        assert body["error"]["code"] == code, path
        assert text is None or body["error"]["message"] == text, path

    status, body, _ = await call(graph, "GET", "/me/drive")  # the app has no "me"
    assert (status, body["error"]["message"]) == (
        400,
        "/me request is only valid with delegated authentication flow.",
    )


async def test_an_upload_session_takes_ordered_ranges_of_320_kib(graph: GraphClient) -> None:
    _, folder, _ = await call(graph, "GET", f"{CHANNEL}/filesFolder", ANA.id)
    drive = folder["parentReference"]["driveId"]
    create = f"/drives/{drive}/items/{folder['id']}:/big.jsonl:/createUploadSession"
    status, session, _ = await call(
        graph, "POST", create, ANA.id, json={"item": {"name": "big.jsonl"}}
    )
    assert status == 200 and unlike(example("driveitem-createuploadsession.json"), session) == []
    url, size = session["uploadUrl"], 2 * UNIT + 100
    content = bytes(range(256)) * (size // 256) + bytes(size % 256)

    async def put(first: int, last: int, **kw: Any) -> tuple[int, Any]:
        headers = {"Content-Range": f"bytes {first}-{last}/{size}", **kw.pop("headers", {})}
        status, body, _ = await call(
            graph, "PUT", url, None, data=content[first : last + 1], headers=headers
        )
        return status, body

    status, body = await put(0, UNIT - 1, headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"})
    assert status == 401  # an upload URL takes no Authorization header
    status, body = await put(0, UNIT - 2)  # not a multiple of 320 KiB, and not the last
    assert status == 400 and "multiple of 320 KiB" in body["error"]["message"]
    status, body = await put(0, UNIT - 1)
    assert (
        status == 202 and unlike(example("driveitem-createuploadsession-fragment.json"), body) == []
    )
    assert body["nextExpectedRanges"] == [f"{UNIT}-"]
    status, body = await put(0, UNIT - 1)  # again: the errors page's own example
    assert status == 416 and body["error"] | {"innerError": {}} == {
        **example("errors.json")["error"],
        "innerError": {},
    }
    status, body = await put(2 * UNIT, size - 1)
    assert (status, body["error"]["message"]) == (416, "Uploaded fragment is out of order.")
    status, body, _ = await call(graph, "GET", url, None)
    assert status == 200 and body["nextExpectedRanges"] == [f"{UNIT}-"]
    assert (await put(UNIT, 2 * UNIT - 1))[0] == 202
    status, item = await put(2 * UNIT, size - 1)
    assert status == 201
    assert unlike(example("driveitem-createuploadsession-completed.json"), item) == []
    assert (item["name"], item["size"]) == ("big.jsonl", size)
    assert (await call(graph, "GET", url, None))[0] == 404  # the session is over

    status, _, headers = await call(graph, "GET", f"/drives/{drive}/items/{item['id']}/content")
    assert status == 302
    assert (await call(graph, "GET", headers["Location"], None))[1] == content

    # a name taken fails by default (conflictBehavior fail), at the last fragment
    status, session, _ = await call(graph, "POST", create, ANA.id)
    status, body, _ = await call(
        graph,
        "PUT",
        session["uploadUrl"],
        None,
        data=b"x",
        headers={"Content-Range": "bytes 0-0/1"},
    )
    assert (status, body["error"]["code"]) == (409, "nameAlreadyExists")


async def test_a_simple_upload_takes_up_to_250_mb(graph: GraphClient) -> None:
    _, folder, _ = await call(graph, "GET", f"{CHANNEL}/filesFolder", ANA.id)
    drive = folder["parentReference"]["driveId"]
    path = f"{GRAPH}/drives/{drive}/items/{folder['id']}:/x.jsonl:/content"
    parts = urlsplit(graph.root)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = (
        f"PUT {parts.path}{quote(path, safe='/:!')} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token(SANDBOX_TOKEN, ANA.id)}\r\n"
        f"Content-Length: {250 * 1024 * 1024 + 1}\r\n\r\n"
    )
    writer.write(head.encode())  # the body never comes: the answer must not wait for it
    status_line = await asyncio.wait_for(reader.readline(), 30)
    writer.close()
    assert status_line.split()[1] == b"413"


def test_the_checker_declares_graphs_operations_and_nothing_else() -> None:
    for operation in contracts.GRAPH_OPERATIONS:
        path = "/sandbox" + GRAPH + operation.template.replace("{", "").replace("}", "")
        found = contracts.find(operation.method, path)
        assert found is not None and found.operation_id == operation.name, operation
        assert found.area == "graph" and operation.source.startswith("https://learn.microsoft.com/")
        report = contracts.check_request(contracts.Call(operation.method, path, {}, {}))
        assert report.violations == []
    stray = contracts.check_request(contracts.Call("GET", f"/sandbox{GRAPH}/me/messages", {}, {}))
    assert stray.operation is None and "in no specification" in str(stray.violations[0])
    for own in (
        "/sandbox/graph/tenant/teams/x",
        "/sandbox/graph/uploads/x",
        "/sandbox/graph/downloads/x",
    ):
        assert contracts.route("PUT", own) is None  # the sandbox's own and SharePoint's URLs

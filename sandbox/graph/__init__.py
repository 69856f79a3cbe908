"""The Microsoft Graph stand-in: the few Graph operations a bot needs for a file attached in a
Teams channel or group chat, with Graph's shapes and errors, under `{sandbox}/graph/v1.0`.

What a person does in Teams (upload a file to a channel's folder or their OneDrive, post a message
that refers to it) and what the bot then does (read the message with its app-only token and its
resource-specific consent, fetch the file through its sharing URL) go through the same store:
tenant.py (teams, channels, chats, members, consent), drives.py (drives, items, uploads,
downloads), messages.py (channel and chat messages), callers.py (whose token), bodies.py (a
request's JSON), errors.py (Graph's error body). setup.py is the sandbox's own surface that
declares teams and chats. docs/sandbox.md ("Microsoft Graph") lists the operations and where each
shape comes from; tests/sandbox/test_graph.py checks the answers against Microsoft's examples.
"""

from __future__ import annotations

from aiohttp import web

from sandbox.contract import GRAPH
from sandbox.graph import drives, messages, setup


def add_routes(app: web.Application) -> None:
    """Register Graph under `/graph/v1.0`, the upload and download URLs Graph hands out, and the
    tenant surface under `/graph/tenant`."""
    app[drives.UPLOADING] = set()
    channel = f"{GRAPH}/teams/{{team}}/channels/{{channel}}"
    routes = app.router
    routes.add_get(f"{channel}/filesFolder", drives.files_folder)
    routes.add_post(f"{channel}/messages", messages.post_channel_message)
    routes.add_get(f"{channel}/messages/{{message}}", messages.get_channel_message)
    routes.add_post(f"{channel}/messages/{{message}}/replies", messages.post_channel_message)
    routes.add_get(
        f"{channel}/messages/{{message}}/replies/{{reply}}", messages.get_channel_message
    )
    routes.add_post(f"{GRAPH}/chats/{{chat}}/messages", messages.post_chat_message)
    routes.add_get(f"{GRAPH}/chats/{{chat}}/messages/{{message}}", messages.get_chat_message)
    routes.add_get(f"{GRAPH}/me/drive", drives.my_drive)
    for method in ("GET", "PUT", "POST"):
        routes.add_route(method, f"{GRAPH}/drives/{{drive}}/items/{{tail:.+}}", drives.drive_items)
    routes.add_get(f"{GRAPH}/shares/{{share}}/driveItem/content", drives.shared_content)
    uploads = "/graph/uploads/{session}"
    routes.add_put(uploads, drives.upload_fragment, name=drives.UPLOAD_ROUTE)
    routes.add_get(uploads, drives.upload_status)
    routes.add_delete(uploads, drives.cancel_upload)
    routes.add_get("/graph/downloads/{item}", drives.download, name=drives.DOWNLOAD_ROUTE)
    routes.add_put("/graph/tenant/teams/{team}", setup.put_team)
    routes.add_put("/graph/tenant/chats/{chat}", setup.put_chat)
    routes.add_put(
        "/graph/tenant/teams/{team}/channels/{channel}/messages/{message}",
        setup.put_channel_message,
    )

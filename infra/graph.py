"""Microsoft Graph as the bot's own app: the files a Teams channel or group-chat message refers to.

In a channel or a group chat Teams gives a bot only the message's HTML (an `<attachment id=..>`
tag per file); the files themselves are on SharePoint or OneDrive, reached through Graph
("Send and receive files using bot", Teams platform docs). `Graph` reads the message
(`/teams/{team}/channels/{channel}/messages/{id}`, its thread's `/replies/{id}`, or
`/chats/{chat}/messages/{id}`), takes its `reference` attachments, and names each file's content
URL (`/shares/{u!sharing URL}/driveItem/content`, which answers with a redirect to a
pre-authenticated download). The download itself streams through the bot's attachment checks.

The token is the bot's own: client credentials of its app registration (azure-identity's
`ClientSecretCredential`, or `ClientAssertionCredential` with its managed identity's token where
the app trusts it: infra/identity.py; one per tenant of the conversations it serves, which
caches and refreshes it), for the `.default` scope of the Graph origin. It is never logged. On a
sandbox without an app registration (the Emulator, the Agents Playground) the bot reads the
sandbox's Graph stand-in instead, whose app-only token is the sandbox's access secret (`token`):
no sign-in, as for the bot's other calls to the sandbox.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientAssertionCredential, ClientSecretCredential
from yarl import URL

from infra.errors import UserError

GRAPH_URL = "https://graph.microsoft.com/v1.0"
SECONDS = 30.0


class GraphRefused(UserError):
    """Graph (or the bot's sign-in to it) refused: access has not been granted."""


@dataclass(frozen=True)
class FileReference:
    """A file a Teams message refers to: its name and its SharePoint/OneDrive sharing URL."""

    name: str
    url: str


def _id(value: str) -> str:
    """A Teams id (`19:...@thread.tacv2`) as one URL path segment."""
    return quote(value, safe="")


def channel_message_path(team: str, channel: str, message: str, thread: str = "") -> str:
    """The Graph path of a channel message, or of a reply in the thread of message `thread`."""
    base = f"/teams/{_id(team)}/channels/{_id(channel)}/messages"
    if thread and thread != message:
        return f"{base}/{_id(thread)}/replies/{_id(message)}"
    return f"{base}/{_id(message)}"


def chat_message_path(chat: str, message: str) -> str:
    """The Graph path of a message in a (group) chat."""
    return f"/chats/{_id(chat)}/messages/{_id(message)}"


def share_id(sharing_url: str) -> str:
    """Graph's id for a sharing URL: `u!` and the URL in unpadded base64url."""
    encoded = base64.urlsafe_b64encode(sharing_url.encode()).decode().rstrip("=")
    return f"u!{encoded}"


def references(message: dict[str, Any]) -> list[FileReference]:
    """The files among a Graph chatMessage's attachments (cards and other kinds are not)."""
    found: list[FileReference] = []
    for attachment in message.get("attachments") or []:
        if not isinstance(attachment, dict) or attachment.get("contentType") != "reference":
            continue
        url = attachment.get("contentUrl")
        if isinstance(url, str) and url:
            found.append(FileReference(str(attachment.get("name") or "file"), url))
    return found


class Graph:
    """The bot's Microsoft Graph client (app-only): one per process."""

    def __init__(
        self,
        base_url: str,
        app_id: str = "",
        app_password: str = "",
        authority_host: str = "",
        assertion: Callable[[], str] | None = None,
        *,
        token: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._fixed = token  # a sandbox's access secret, taken as the app's token: no sign-in
        self._app_id = app_id
        self._password = app_password
        self._assertion = assertion  # instead of the password: infra/identity.py
        self._authority = authority_host
        origin = URL(self.base_url).origin()
        self._scope = f"{origin}/.default"
        self._credentials: dict[str, ClientSecretCredential | ClientAssertionCredential] = {}
        self._session: aiohttp.ClientSession | None = None

    @property
    def origin(self) -> URL:
        """Where Graph answers: only requests there carry the bot's Graph token."""
        return URL(self.base_url).origin()

    async def token(self, tenant: str) -> str:
        """The bot's Graph access token in `tenant` (cached and refreshed by azure-identity)."""
        if self._fixed:
            return self._fixed
        credential = self._credentials.get(tenant)
        if credential is None:
            options: dict[str, Any] = {"disable_instance_discovery": bool(self._authority)}
            if self._authority:
                options["authority"] = self._authority
            if self._assertion is not None:
                credential = ClientAssertionCredential(
                    tenant, self._app_id, self._assertion, **options
                )
            else:
                credential = ClientSecretCredential(tenant, self._app_id, self._password, **options)
            self._credentials[tenant] = credential
        try:
            found = await asyncio.to_thread(credential.get_token, self._scope)
        except ClientAuthenticationError:
            raise GraphRefused(
                "I could not sign in to Microsoft Graph as this bot's app registration."
            ) from None
        return found.token

    def content_url(self, sharing_url: str) -> str:
        """The URL of a shared file's content (Graph answers with a redirect to the bytes)."""
        return f"{self.base_url}/shares/{share_id(sharing_url)}/driveItem/content"

    async def files(self, tenant: str, path: str) -> list[FileReference]:
        """The files the message at `path` (channel_message_path, chat_message_path) refers to."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SECONDS))
        headers = {"Authorization": f"Bearer {await self.token(tenant)}"}
        try:
            async with self._session.get(
                f"{self.base_url}{path}", headers=headers, allow_redirects=False
            ) as response:
                if response.status in (401, 403):
                    raise GraphRefused("Microsoft Graph did not let me read that message.")
                if response.status == 404:
                    raise UserError("Microsoft Graph does not know that message; send it again.")
                if response.status != 200:
                    raise UserError(
                        "Microsoft Graph answered {status} when I read your message; try again.",
                        status=response.status,
                    )
                message = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            raise UserError("I could not reach Microsoft Graph to read your message.") from None
        return references(message if isinstance(message, dict) else {})

    async def close(self) -> None:
        """Close the HTTP session and the credentials."""
        if self._session is not None:
            await self._session.close()
        for credential in self._credentials.values():
            await asyncio.to_thread(credential.close)

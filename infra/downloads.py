"""Files fetched from URLs, and sent to one, only where they may go: the bot's HTTP client for
attachments.

Teams personal chat hands a bot a pre-authenticated `downloadUrl`; the Emulator and the Agents
Playground a `contentUrl` (a URL or a `data:` URL); a channel or group-chat file is a Microsoft
Graph content URL (bot/attachments.py reads those shapes). `file_chunks` refuses an announced size
over the limit before reading, and an HTML page served in place of the file; the dataset store
stops a stream that passes the limit.

Where a file may be fetched from is a `Fetching` policy, checked on every redirect hop (followed
here, never by aiohttp) and on the address each socket actually connects to (aiohttp's socket
factory sees it after the name is resolved), so a name that resolves elsewhere the second time
(DNS rebinding) gets nowhere. In local mode (no app id) only
the origin of the activity's `serviceUrl` is fetched, where the Emulator and the Playground serve
files; in production only https to public addresses (docs/security.md lists Teams' file hosts).
Credentials (the bot's Graph token) go only to the Graph origin of the settings. The one upload
(a sample to a Teams upload session) follows the same rules. A refusal is one sentence that says
nothing about the target.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver
from yarl import URL

from infra.datasets import too_large
from infra.errors import UserError
from infra.graph import Graph, GraphRefused

CHUNK = 1 << 20
DOWNLOAD_SECONDS = 300.0
STALL_SECONDS = 60.0
"""A download that sends nothing for this long is given up."""
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _plain(address: Address) -> Address:
    """An IPv4-mapped IPv6 address as the IPv4 address it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: Address) -> bool:
    """A globally routable unicast address (not loopback, private, link-local, metadata...)."""
    plain = _plain(address)
    return plain.is_global and not plain.is_multicast


def is_loopback_address(address: Address) -> bool:
    """An address of this machine."""
    return _plain(address).is_loopback


@dataclass(frozen=True)
class Fetching:
    """Where attachments may be fetched from: URL schemes, an origin (scheme, host, port) every
    hop must keep when set, and the addresses a connection may reach."""

    schemes: Collection[str]
    address_ok: Callable[[Address], bool]
    origin: tuple[str, str, int] | None = None
    host_ok: Callable[[str], bool] | None = None
    """When set, the names a URL may have (an IP literal never passes)."""
    resolver: AbstractResolver | None = field(default=None, compare=False)
    """Where names are looked up (None: the system's); what they resolve to is checked."""
    trusted: tuple[str, str, int] | None = None
    """An origin from the settings (Microsoft Graph) that is always allowed, and the only one a
    download's credentials are sent to."""

    def allows_url(self, url: URL) -> bool:
        """The URL itself may be fetched (its addresses are checked on connecting)."""
        if self.trusted is not None and url.host and _origin(url) == self.trusted:
            return True
        if url.scheme not in self.schemes or not url.host:
            return False
        if self.origin is not None and _origin(url) != self.origin:
            return False
        try:
            literal = ipaddress.ip_address(url.host)
        except ValueError:
            if self.host_ok is not None and not self.host_ok(url.host.lower()):
                return False
            return not _legacy_ipv4(url.host)  # a name: its addresses are checked on connecting
        return self.host_ok is None and self.address_ok(literal)


def _legacy_ipv4(host: str) -> bool:
    """A host written as an IPv4 address in a legacy form (2130706433, 127.1, 0x7f.0.0.1)."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def _origin(url: URL) -> tuple[str, str, int]:
    return (url.scheme, (url.host or "").lower(), url.port or 0)


def local_fetching(service_url: str) -> Fetching:
    """Local mode: only the origin of the activity's serviceUrl (a loopback address)."""
    return Fetching(("http", "https"), is_loopback_address, origin=_origin(URL(service_url)))


def production_fetching() -> Fetching:
    """Production: https to public addresses only."""
    return Fetching(("https",), is_public)


def graph_fetching(graph: URL) -> Fetching:
    """A file through Microsoft Graph: the Graph origin of the settings (with the bot's token),
    then, where Graph redirects to the bytes, https on Microsoft's file hosts at public
    addresses (no token). A Graph on loopback (a test's) may be reached on loopback."""
    local = graph.host is not None and _is_loopback_host(graph.host)

    def address_ok(address: Address) -> bool:
        return is_public(address) or (local and is_loopback_address(address))

    return Fetching(("https",), address_ok, host_ok=is_microsoft_file_host, trusted=_origin(graph))


def _is_loopback_host(host: str) -> bool:
    try:
        return is_loopback_address(ipaddress.ip_address(host))
    except ValueError:
        return False


def fetching_for(local: bool, service_url: str) -> Fetching:
    """The policy for an activity from `service_url`, in local mode or not."""
    return local_fetching(service_url) if local else production_fetching()


MICROSOFT_FILE_HOSTS = (
    ".sharepoint.com",
    ".sharepoint.us",
    ".sharepoint-mil.us",
    ".sharepoint.cn",
    ".1drv.com",
    "api.onedrive.com",
    "onedrive.live.com",
)
"""Where Teams keeps the files of personal chats: OneDrive for Business (SharePoint) in each
cloud, and consumer OneDrive. A file consent answer's upload and content URLs must be here."""


def is_microsoft_file_host(host: str) -> bool:
    """A OneDrive or SharePoint host name."""
    host = host.lower().rstrip(".")
    return any(
        host.endswith(suffix) if suffix.startswith(".") else host == suffix
        for suffix in MICROSOFT_FILE_HOSTS
    )


def consent_upload_policy(local: bool, service_url: str) -> Fetching:
    """Where a file consent answer may have the bot upload: https on Microsoft's OneDrive and
    SharePoint hosts at public addresses (in local mode: the serviceUrl's origin instead)."""
    if local:
        return local_fetching(service_url)
    return Fetching(("https",), is_public, host_ok=is_microsoft_file_host)


def is_file_link(url: str, local: bool, service_url: str) -> bool:
    """A link a file card may carry: https on a OneDrive or SharePoint host (in local mode also
    the serviceUrl's origin); never javascript:, data: or any other scheme."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return False
    if Fetching(("https",), is_public, host_ok=is_microsoft_file_host).allows_url(parsed):
        return True
    return local and local_fetching(service_url).allows_url(parsed)


async def upload(url: str, content: bytes, policy: Fetching, *, seconds: float = 60.0) -> bool:
    """PUT `content` to `url` in one range (a Teams upload session), where the policy allows it;
    True when the server took it. No redirect is followed."""
    try:
        target = URL(url)
    except (ValueError, TypeError):
        return False
    if not policy.allows_url(target):
        return False
    headers = {
        "Content-Length": str(len(content)),
        "Content-Range": f"bytes 0-{len(content) - 1}/{len(content)}",
    }
    connector = aiohttp.TCPConnector(
        resolver=policy.resolver, use_dns_cache=False, socket_factory=_Guard(policy)
    )
    timeout = aiohttp.ClientTimeout(total=seconds)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, connector=connector) as session,
            session.put(target, data=content, headers=headers, allow_redirects=False) as response,
        ):
            return response.status in (200, 201)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return False


class _Refused(Exception):
    """The policy does not allow what a download was about to reach."""


class _Guard:
    """Creates the sockets of a download: each for an address the policy allows, else none.

    aiohttp hands every address it is about to connect to (resolved, or an IP literal) to this
    factory, so the check is on the address the connection actually reaches.
    """

    def __init__(self, policy: Fetching) -> None:
        self._policy = policy
        self.refused = False

    def __call__(self, addr_info: AddrInfoType) -> socket.socket:
        family, kind, proto, _, address = addr_info
        try:
            allowed = self._policy.address_ok(ipaddress.ip_address(address[0]))
        except ValueError:
            allowed = False
        if not allowed:
            self.refused = True
            raise OSError("address not allowed")
        return socket.socket(family=family, type=kind, proto=proto)


@dataclass(frozen=True)
class IncomingFile:
    """An attached file: its name and where to fetch it."""

    name: str
    url: str


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def _not_a_file(name: str) -> UserError:
    return UserError(
        "{name} came back as a web page, not the file; attach the .jsonl file itself.", name=name
    )


def refused(name: str) -> UserError:
    """The one sentence for a file whose address the policy does not allow."""
    return UserError(
        "I did not download {name}: its address is not one I fetch attachments from; attach "
        "the file itself to your message in this chat.",
        name=name,
    )


def data_url_bytes(url: str, name: str) -> bytes:
    """The content of a `data:` URL (base64 or percent-encoded); damaged base64 is refused."""
    header, comma, payload = url.partition(",")
    if not comma:
        raise UserError("I could not read {name}: its content is damaged.", name=name)
    if header.endswith(";base64"):
        try:
            return base64.b64decode(unquote_to_bytes(payload), validate=True)
        except (binascii.Error, ValueError):
            raise UserError("I could not read {name}: its content is damaged.", name=name) from None
    return unquote_to_bytes(payload)


async def _open(
    session: aiohttp.ClientSession,
    file: IncomingFile,
    policy: Fetching,
    headers: Mapping[str, str] | None = None,
) -> aiohttp.ClientResponse:
    """The response for the file after the redirects, each hop checked against the policy;
    `headers` go only to the policy's trusted origin."""
    try:
        url = URL(file.url)
    except (ValueError, TypeError):
        raise _Refused from None
    for _ in range(MAX_REDIRECTS + 1):
        if not policy.allows_url(url):
            raise _Refused
        trusted = policy.trusted is not None and _origin(url) == policy.trusted
        response = await session.get(
            url, allow_redirects=False, headers=headers if trusted else None
        )
        location = response.headers.get("Location")
        if response.status not in REDIRECTS or not location:
            return response
        response.release()
        try:
            url = url.join(URL(location))
        except (ValueError, TypeError):
            raise _Refused from None
    raise UserError("I could not download {name}: it redirects too often.", name=file.name)


async def file_chunks(
    file: IncomingFile,
    max_bytes: int,
    policy: Fetching,
    *,
    seconds: float = DOWNLOAD_SECONDS,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[bytes]:
    """The bytes of an attached file, chunk by chunk; failures are one sentence (UserError).
    `headers` (credentials) are sent only to the policy's trusted origin."""
    if file.url.startswith("data:"):
        data = data_url_bytes(file.url, file.name)
        if _looks_like_html(data[:64]):
            raise _not_a_file(file.name)
        yield data
        return
    timeout = aiohttp.ClientTimeout(total=seconds, sock_read=STALL_SECONDS)
    guard = _Guard(policy)
    connector = aiohttp.TCPConnector(
        resolver=policy.resolver, use_dns_cache=False, socket_factory=guard
    )
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            response = await _open(session, file, policy, headers)
            async with response:
                if response.status in (401, 403) and policy.trusted is not None:
                    raise GraphRefused(
                        "Microsoft Graph did not let me read {name}.", name=file.name
                    )
                if response.status != 200:
                    raise UserError(
                        "I could not download {name} (the server answered {status}); attach "
                        "it again.",
                        name=file.name,
                        status=response.status,
                    )
                if (response.content_length or 0) > max_bytes:
                    raise too_large(file.name, max_bytes)
                first = True
                async for chunk in response.content.iter_chunked(CHUNK):
                    if first and (response.content_type == "text/html" or _looks_like_html(chunk)):
                        raise _not_a_file(file.name)
                    first = False
                    yield chunk
    except _Refused:
        raise refused(file.name) from None
    except TimeoutError:
        raise UserError("Downloading {name} took too long; try again.", name=file.name) from None
    except (aiohttp.ClientError, OSError):
        if guard.refused:
            raise refused(file.name) from None
        raise UserError("I could not download {name}; attach it again.", name=file.name) from None


class Downloader:
    """The skills' `Download` (skills/checks.py): a file fetched under the policy of this mode
    and of the serviceUrl its activity came from; with `graph_tenant`, a Microsoft Graph content
    URL (a file of a channel or group-chat message) read with the bot's token for that tenant."""

    def __init__(self, local: bool, graph: Graph | None = None) -> None:
        self.local = local
        self.graph = graph

    def __call__(
        self, file: IncomingFile, service_url: str, max_bytes: int, graph_tenant: str | None = None
    ) -> AsyncIterator[bytes]:
        """The file's bytes, chunk by chunk (UserError with the one sentence why not)."""
        if graph_tenant is not None:
            return self._through_graph(file, graph_tenant, max_bytes)
        return file_chunks(file, max_bytes, fetching_for(self.local, service_url))

    async def _through_graph(
        self, file: IncomingFile, tenant: str, max_bytes: int
    ) -> AsyncIterator[bytes]:
        if self.graph is None:
            raise GraphRefused(
                "I cannot read {name}: I have no Microsoft Graph access.", name=file.name
            )
        headers = {"Authorization": f"Bearer {await self.graph.token(tenant)}"}
        policy = graph_fetching(self.graph.origin)
        async for chunk in file_chunks(file, max_bytes, policy, headers=headers):
            yield chunk

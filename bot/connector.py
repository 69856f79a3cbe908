"""Bot Connector clients built once and shared, replies sent with aiohttp on the event loop.

Checked against botbuilder-python 4.17.1 (botframework-connector 4.17.1, msrest 0.7.1). What it
replaces, and why (py-spy, the bot under 100 conversations x 20 messages, benchmarks/turns.py):

- CloudAdapter asks its `ConnectorFactory` for a new `ConnectorClient` on every incoming activity
  and every proactive send; each one builds an msrest `Configuration` (`ClientRetryPolicy`'s list
  comprehension), a requests session (a new TCP connection) and new credentials (a new MSAL app,
  so a new token request when an app id is set): 45% of the bot's CPU. `SharedConnectors` keeps
  one client per (service URL, app id, audience), one credentials object per app and audience.
- It builds a user-token client (`TokenApiClient`, another `Configuration`) per turn, which only
  OAuth prompts use and this bot has none of: 22%. Here it is built when a turn first calls it.
- msrest sends with `requests` in a thread pool: 22%. Here an msrest pipeline whose sender is one
  aiohttp session, on the event loop; bearer tokens come from the credentials (MSAL, in a worker
  thread) at most once a minute. Retries as msrest's urllib3 policy made them: connection
  failures, and 408/5xx of idempotent calls (card updates); the notifier owns the rest.
- msrest's `Serializer.body` walks an Adaptive Card three times in Python (rebuild, validate,
  serialize): 13%. Cards are plain JSON: `json` serializes them once, in C.

The composition uses botbuilder's extension points only: a `BotFrameworkAuthentication` (wrapping
the configuration one), a `ConnectorFactory`, a `ServiceClientCredentialsFactory`, a
`UserTokenClient`, and msrest's pipeline (`pipeline_type`), sender and serializer classes.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import Activity
from botframework.connector import BotFrameworkConnectorConfiguration
from botframework.connector.about import __version__ as connector_version
from botframework.connector.aio import ConnectorClient
from botframework.connector.aio.operations_async import (
    AttachmentsOperations,
    ConversationsOperations,
)
from botframework.connector.auth import (
    AppCredentials,
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from botframework.connector.teams import TeamsConnectorClient
from msal import ConfidentialClientApplication  # type: ignore[import-untyped]
from msrest import Serializer
from msrest.exceptions import ClientRequestError, HttpOperationError
from msrest.pipeline import Request, Response
from msrest.pipeline.async_abc import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http import ClientRequest
from msrest.universal_http.async_abc import AsyncClientResponse

from infra.retry import retry, retry_after

log = logging.getLogger(__name__)

USER_AGENT = f"Microsoft-BotFramework/3.1 (BotBuilder Python/{connector_version})"
"""What botbuilder's own connector factory adds to the user agent."""
TIMEOUT = aiohttp.ClientTimeout(total=100)
"""msrest's default connection timeout."""
TOKEN_SECONDS = 60.0
"""How long a bearer token is reused before asking the credentials again (MSAL answers from its
cache until the token is within 5 minutes of its end; tokens last an hour or more)."""
MAX_CLIENTS = 64
"""Connector clients kept (least recently used out): Teams has a few service URLs per region."""
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({408, 500, *range(502, 505), *range(506, 600)})
"""msrest's `ClientRetryPolicy`: every status that is not 'safe' (4xx but 408, 501, 505)."""
ATTEMPTS = 4
"""msrest's policy: 3 retries, backoff factor 0.8."""


# -- tokens and credentials -------------------------------------------------------------------


class _Token:
    """One credentials object's bearer token, asked for in a worker thread, reused a minute."""

    def __init__(self, credentials: AppCredentials) -> None:
        self._credentials = credentials
        self._value = ""
        self._until = 0.0
        self._lock = asyncio.Lock()
        app_id = credentials.microsoft_app_id
        self.anonymous = not app_id or app_id == AuthenticationConstants.ANONYMOUS_SKILL_APP_ID

    async def get(self) -> str:
        """The token (MSAL may call the login endpoint: never on the event loop)."""
        if time.monotonic() >= self._until:
            async with self._lock:
                if time.monotonic() >= self._until:
                    self._value = await asyncio.to_thread(self._credentials.get_access_token)
                    self._until = time.monotonic() + TOKEN_SECONDS
        return self._value


class SharedCredentials(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """A credentials factory that makes each app's credentials once (one MSAL app, one token
    cache), and honours VALIDATE_AUTHORITY, which botbuilder 4.17.1's credentials ignore."""

    def __init__(
        self, inner: ServiceClientCredentialsFactory, assertion: Callable[[], str] | None = None
    ) -> None:
        self._inner = inner
        self._assertion = assertion  # the app's credential instead of a password (infra/identity)
        self._made: dict[tuple[str, str, str, bool], AppCredentials] = {}
        self._lock = asyncio.Lock()

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(await self._inner.is_valid_app_id(app_id))

    async def is_authentication_disabled(self) -> bool:
        return bool(await self._inner.is_authentication_disabled())

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> AppCredentials:
        key = (app_id, oauth_scope, login_endpoint, validate_authority)
        async with self._lock:
            if key not in self._made:
                made = await self._inner.create_credentials(
                    app_id, oauth_scope, login_endpoint, validate_authority
                )
                custom = not validate_authority or self._assertion is not None
                if custom and isinstance(made, MicrosoftAppCredentials):
                    if made.microsoft_app_id:  # MSAL reads the login endpoint: in a thread
                        made.app = await asyncio.to_thread(
                            _msal, made, validate_authority, self._assertion
                        )
                self._made[key] = made
            return self._made[key]


def _msal(
    credentials: MicrosoftAppCredentials,
    validate_authority: bool,
    assertion: Callable[[], str] | None,
) -> Any:
    """The MSAL app botbuilder would make, with authority validation as asked and, where the app
    registration trusts a managed identity, that identity's token as its client assertion (MSAL
    calls `assertion` whenever it needs a new token)."""
    secret: Any = credentials.microsoft_app_password
    if assertion is not None:
        secret = {"client_assertion": assertion}
    return ConfidentialClientApplication(
        client_id=credentials.microsoft_app_id,
        client_credential=secret,
        authority=credentials.oauth_endpoint,
        validate_authority=validate_authority,
    )


# -- the msrest pipeline: bearer token, aiohttp ----------------------------------------------


Sent = Response[ClientRequest, AsyncClientResponse]
"""What a pipeline step returns."""


class _Bearer(AsyncHTTPPolicy[ClientRequest, AsyncClientResponse]):
    """Sets `Authorization: Bearer <token>` (none in local mode), as `signed_session` did."""

    def __init__(self, token: _Token) -> None:
        super().__init__()
        self._token = token

    async def send(self, request: Request[ClientRequest], **kwargs: Any) -> Sent:
        headers = request.http_request.headers
        if self._token.anonymous:
            headers.pop("Authorization", None)
        else:
            headers["Authorization"] = f"Bearer {await self._token.get()}"
        assert self.next is not None
        return await self.next.send(request, **kwargs)


class _Answer(AsyncClientResponse):
    """A whole HTTP answer. It is also its own `internal_response`: msrest errors expose that
    as `error.response`, and `status_code` and `headers` there are what callers read."""

    def __init__(self, request: ClientRequest, response: aiohttp.ClientResponse, body: bytes):
        super().__init__(request, None)
        self.internal_response = self
        self.status_code = response.status
        self.headers: Any = response.headers  # case-insensitive, as msrest's
        self.reason = response.reason
        self._body = body

    def body(self) -> bytes:
        return self._body


class _Again(Exception):
    """An answer worth another try (a retry status on an idempotent call)."""

    def __init__(self, answer: _Answer) -> None:
        super().__init__(answer.status_code)
        self.response = answer  # for retry_after()


def _verdict(method: str) -> Callable[[Exception], float | bool]:
    def classify(error: Exception) -> float | bool:
        if isinstance(error, _Again):
            return retry_after(error) or True
        if isinstance(error, aiohttp.ClientConnectorError):
            return True  # no connection, nothing sent
        return method in IDEMPOTENT and isinstance(error, aiohttp.ClientConnectionError)

    return classify


@functools.cache
def _proxy(scheme: str, host: str) -> str | None:
    """The proxy requests would take from HTTP(S)_PROXY and NO_PROXY, looked up once per host
    (aiohttp's trust_env looks it up, and netrc, in a thread on every request)."""
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(scheme)


class _AiohttpSender(AsyncHTTPSender[ClientRequest, AsyncClientResponse]):
    """msrest's last pipeline step: the request on the shared aiohttp session."""

    def __init__(self, session: Callable[[], aiohttp.ClientSession]) -> None:
        self._session = session

    async def __aenter__(self) -> _AiohttpSender:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None  # the session belongs to SharedConnectors

    def build_context(self) -> None:
        return None

    async def send(self, request: Request[ClientRequest], **config: Any) -> Sent:
        http = request.http_request
        headers = {k: v for k, v in http.headers.items() if k.lower() != "content-length"}
        data = http.data.encode() if isinstance(http.data, str) else http.data
        if http.files:
            raise ClientRequestError("form uploads are not supported by this sender")
        method = http.method.upper()
        url = urlsplit(http.url)
        proxy = _proxy(url.scheme, url.hostname or "")

        async def attempt() -> _Answer:
            async with self._session().request(
                method, http.url, headers=headers, data=data, proxy=proxy
            ) as response:
                answer = _Answer(http, response, await response.read())
            if method in IDEMPOTENT and answer.status_code in RETRY_STATUSES:
                raise _Again(answer)
            return answer

        try:
            answer = await retry(attempt, classify=_verdict(method), attempts=ATTEMPTS, base=0.8)
        except _Again as again:
            answer = again.response
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ClientRequestError(f"Error occurred in request: {error!r}") from error
        return Response(request, answer)


Pipeline = AsyncPipeline[ClientRequest, AsyncClientResponse]


def _pipeline(token: _Token, sender: _AiohttpSender) -> Callable[[Any], Pipeline]:
    """msrest's default policies with our credentials policy and sender."""

    def build(config: Any) -> Pipeline:
        policies = [config.user_agent_policy, _Bearer(token), RawDeserializer()]
        return AsyncPipeline([*policies, config.http_logger_policy], sender)

    return build


# -- cards serialized once --------------------------------------------------------------------


def _plain_json(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class CardSerializer(Serializer):
    """msrest's serializer, but an activity's attachment contents that are plain JSON (Adaptive
    Cards are) go to `json` as they are, instead of through msrest's model walk."""

    def __init__(self, classes: dict[str, type]) -> None:
        super().__init__(classes)  # type: ignore[no-untyped-call]

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        msrest: Any = super()
        attachments = getattr(data, "attachments", None)
        if data_type != "Activity" or not isinstance(data, Activity) or not attachments:
            return msrest.body(data, data_type, **kwargs)
        contents = [attachment.content for attachment in attachments]
        if not all(isinstance(c, dict | list) and _plain_json(c) for c in contents):
            return msrest.body(data, data_type, **kwargs)
        bare = copy.copy(data)
        bare.attachments = [copy.copy(attachment) for attachment in attachments]
        for attachment in bare.attachments:
            attachment.content = None
        body = msrest.body(bare, data_type, **kwargs)
        for serialized, content in zip(body["attachments"], contents, strict=True):
            serialized["content"] = content
        return body


class _Connector(ConnectorClient):  # type: ignore[misc]
    """A ConnectorClient on our pipeline, with the card serializer."""

    def __init__(self, config: BotFrameworkConnectorConfiguration) -> None:
        super().__init__(None, custom_configuration=config)
        classes: dict[str, type] = self._serialize.dependencies
        self._serialize: Serializer = CardSerializer(classes)
        args = (self._client, self.config, self._serialize, self._deserialize)
        self.attachments = AttachmentsOperations(*args)
        self.conversations = ConversationsOperations(*args)


# -- the factory and the authentication -------------------------------------------------------


def _app_id(claims: ClaimsIdentity) -> str | None:
    """The bot's app id for outbound calls, as botbuilder's built-in authentication reads it."""
    found = claims.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if found is None:
        found = claims.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return None if found is None else str(found)


class _SharedFactory(ConnectorFactory):  # type: ignore[misc]
    """Hands out the shared client; the first time, botbuilder's own factory makes the
    credentials (its audience and login endpoint rules stay botbuilder's)."""

    def __init__(self, connectors: SharedConnectors, inner: ConnectorFactory, app_id: str | None):
        self._connectors = connectors
        self._inner = inner
        self._app_id = app_id

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        return await self._connectors.client(self._inner, self._app_id, service_url, audience)


class _LazyUserTokenClient(UserTokenClient):  # type: ignore[misc]
    """The user-token client, built on its first call (OAuth prompts only)."""

    def __init__(self, build: Callable[[], Awaitable[UserTokenClient]]) -> None:
        self._build = build
        self._client: UserTokenClient | None = None

    async def _real(self) -> UserTokenClient:
        if self._client is None:
            self._client = await self._build()
        return self._client

    async def get_user_token(self, *args: Any) -> Any:
        return await (await self._real()).get_user_token(*args)

    async def get_sign_in_resource(self, *args: Any) -> Any:
        return await (await self._real()).get_sign_in_resource(*args)

    async def sign_out_user(self, *args: Any) -> Any:
        return await (await self._real()).sign_out_user(*args)

    async def get_token_status(self, *args: Any) -> Any:
        return await (await self._real()).get_token_status(*args)

    async def get_aad_tokens(self, *args: Any) -> Any:
        return await (await self._real()).get_aad_tokens(*args)

    async def exchange_token(self, *args: Any) -> Any:
        return await (await self._real()).exchange_token(*args)


class SharedConnectors(BotFrameworkAuthentication):  # type: ignore[misc]
    """`inner` (ConfigurationBotFrameworkAuthentication) for authentication, with connector
    clients shared per (service URL, app id, audience) and sent through one aiohttp session.

    `close()` releases the session (app cleanup). Safe to share: the clients keep no per-call
    state; msrest builds each request from its arguments.
    """

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner
        self._clients: OrderedDict[tuple[str, str | None, str | None], ConnectorClient] = (
            OrderedDict()
        )
        self._tokens: dict[AppCredentials, _Token] = {}  # by identity
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._sender = _AiohttpSender(self.session)

    def session(self) -> aiohttp.ClientSession:
        """The one HTTP session of every connector client (made on first use, on the loop)."""
        if self._closed:
            raise ClientRequestError("the connectors are closed (the bot is stopping)")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (its connections); no request goes out after this."""
        self._closed = True
        if self._session is not None:
            await self._session.close()

    async def client(
        self, inner: ConnectorFactory, app_id: str | None, service_url: str, audience: str | None
    ) -> ConnectorClient:
        """The shared client for a service URL, app id and audience (made once)."""
        key = (service_url, app_id, audience)
        found = self._clients.get(key)
        if found is not None:
            self._clients.move_to_end(key)
            return found
        # botbuilder's factory picks the credentials (SharedCredentials makes them once).
        credentials = (await inner.create(service_url, audience)).config.credentials
        if credentials not in self._tokens:
            self._tokens[credentials] = _Token(credentials)
        token = self._tokens[credentials]
        config = BotFrameworkConnectorConfiguration(
            credentials, service_url, pipeline_type=_pipeline(token, self._sender)
        )
        config.add_user_agent(USER_AGENT)
        made = self._clients.setdefault(key, _Connector(config))
        while len(self._clients) > MAX_CLIENTS:
            self._clients.popitem(last=False)
        return made

    def _factory(self, inner: ConnectorFactory, claims: ClaimsIdentity) -> ConnectorFactory:
        return _SharedFactory(self, inner, _app_id(claims))

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        # No header is None: botbuilder's parameterized (private cloud) path checks `is None`,
        # and an empty header gave an AttributeError there (500 instead of 401).
        result = await self._inner.authenticate_request(activity, auth_header or None)
        if result.connector_factory is not None:
            result.connector_factory = self._factory(
                result.connector_factory, result.claims_identity
            )
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        inner = self._inner.create_connector_factory(claims_identity)
        return self._factory(inner, claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        return _LazyUserTokenClient(lambda: self._inner.create_user_token_client(claims_identity))

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)


async def team_group_id(context: TurnContext, team_id: str) -> str:
    """The Microsoft 365 group id of a Teams team (what Graph calls the team's id), from Teams'
    team details. botbuilder's Teams operations are synchronous (`requests`, and TeamsInfo runs
    them on the event loop), so here they run in a thread, with the turn's credentials."""
    connector = context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    client = TeamsConnectorClient(connector.config.credentials, context.activity.service_url)
    try:
        details = await asyncio.to_thread(client.teams.get_team_details, team_id)
    except (HttpOperationError, ClientRequestError) as error:
        log.warning("Teams did not give the details of a team: %s", type(error).__name__)
        return ""
    return str(getattr(details, "aad_group_id", "") or "")

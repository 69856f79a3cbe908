"""The one place that builds the Azure clients the skills use, for real Azure or a sandbox.

`Resource` names an Azure OpenAI resource (subscription, group, account, data-plane endpoint);
every record of work on Azure carries the one it lives on. `Azure` hands out the clients of any
resource, built once and kept: the data plane (`openai`) per endpoint, Resource Manager
(accounts, role assignments, resource groups) per subscription, and Cost Management.

Data-plane auth per resource: the settings' own resource uses its key when the settings ask for
key auth (`AZURE_OPENAI_API_KEY`), through a key the bot can switch at run time (`use_key`, for a
rotation without downtime); every other resource, and every resource without a key, is reached
with the bot's own identity: an Entra ID token from DefaultAzureCredential on Azure, the sandbox's
access secret on a sandbox. Resource Manager always uses the bot's identity. A sandbox is plain
http, so bearer auth is allowed over http for it (`_SandboxBearerPolicy`) and nowhere else.

A key-auth client answered 401 (another instance rotated the key it used) asks the `rekey` hook
which key is in use now and, when that is another key, sends the request once more with it
(`_Rekeying`): a rotation elsewhere never reaches a user as an error.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx2
from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import AsyncBearerTokenCredentialPolicy
from azure.mgmt.authorization.aio import AuthorizationManagementClient
from azure.mgmt.cognitiveservices.aio import CognitiveServicesManagementClient
from azure.mgmt.costmanagement.aio import CostManagementClient
from azure.mgmt.resource.resources.aio import ResourceManagementClient
from openai import AsyncOpenAI, DefaultAsyncHttpxClient, Omit

from infra.errors import UserError
from infra.settings import Settings

ARM_SCOPE = "https://management.azure.com/.default"
OPENAI_SCOPE = "https://cognitiveservices.azure.com/.default"
DATED_API_VERSION = "2024-10-21"
"""The dated data-plane API, kept for the one operation v1 lacks: deleting a fine-tuning job
(`FineTuning_Delete`, `DELETE {endpoint}/openai/fine_tuning/jobs/{id}?api-version=2024-10-21`)."""


@dataclass(frozen=True)
class Resource:
    """An Azure OpenAI resource: where it is on Resource Manager and its data-plane endpoint."""

    subscription_id: str
    resource_group: str
    account: str
    endpoint: str


class SandboxCredential:
    """An async token credential with one fixed token, for the sandbox."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """The fixed token, valid for a day."""
        return AccessToken(self._token, int(time.time()) + 86_400)

    async def close(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> SandboxCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None


class _SandboxBearerPolicy(AsyncBearerTokenCredentialPolicy[Any, Any]):
    """Bearer auth that may travel over plain http: only ever used for the loopback sandbox."""

    async def on_request(self, request: PipelineRequest[Any]) -> None:
        request.context.options["enforce_https"] = False
        await super().on_request(request)


def sandbox_endpoint(sandbox_url: str, account: str) -> str:
    """The data-plane endpoint of a sandbox account, e.g. `http://h/sandbox/openai-accounts/x/`."""
    return f"{sandbox_url.rstrip('/')}/openai-accounts/{account.lower()}/"


def azure_endpoint(subdomain: str) -> str:
    """The data-plane endpoint of an Azure OpenAI account with that custom subdomain."""
    return f"https://{subdomain.lower()}.openai.azure.com/"


Rekey = Callable[["Resource"], Awaitable[None]]
"""Make a key-auth resource use the key the bot's state names now (`Azure.rekey`)."""


@cache
def _tls() -> ssl.SSLContext:
    """The TLS context of every data-plane client of this process (httpx's default one): making
    one loads the system's CA certificates, about 30 ms of CPU, and one serves any number of
    connections."""
    return httpx2.create_ssl_context()


class _Rekeying(httpx2.AsyncBaseTransport):
    """The transport of a key-auth data-plane client: on a 401 it has `rekey` look up the key in
    use now (once for all requests that failed with the same key) and, when the key changed,
    sends the request once more with the new one. Only a body that can be sent again (bytes, a
    form, files) is resent; another 401 is returned as it is."""

    def __init__(self, key: Callable[[], str], rekey: Callable[[], Awaitable[None]]) -> None:
        self._key = key
        self._rekey = rekey
        self._lock = asyncio.Lock()
        self._sent = httpx2.AsyncHTTPTransport(verify=_tls())

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._sent.handle_async_request(request)
        if response.status_code != 401 or not isinstance(request.stream, httpx2.SyncByteStream):
            return response
        used = request.headers.get("api-key") or request.headers.get("Authorization") or ""
        used = used.removeprefix("Bearer ")
        async with self._lock:
            if self._key() == used:
                await self._rekey()
        key = self._key()
        if key == used:
            return response
        await response.aclose()
        if "api-key" in request.headers:
            request.headers["api-key"] = key
        else:
            request.headers["Authorization"] = f"Bearer {key}"
        return await self._sent.handle_async_request(request)

    async def aclose(self) -> None:
        await self._sent.aclose()


@dataclass(frozen=True)
class AzureClients:
    """The clients of one resource: its data plane, and Resource Manager for its subscription."""

    openai: AsyncOpenAI
    cognitive: CognitiveServicesManagementClient
    authorization: AuthorizationManagementClient
    groups: ResourceManagementClient
    resource: Resource

    @property
    def resource_group(self) -> str:
        """The resource's group."""
        return self.resource.resource_group

    @property
    def account(self) -> str:
        """The resource's account name."""
        return self.resource.account


class Azure:
    """The Azure clients of one backend (real Azure or a sandbox), built on first use and kept."""

    def __init__(
        self, settings: Settings, *, sandbox_url: str | None = None, sandbox_token: str = ""
    ) -> None:
        """`sandbox_url` is where a sandbox answers (by default FTBOT_SANDBOX_URL, else the
        bot's own `/sandbox` mount); `sandbox_token` its access secret (by default
        SANDBOX_ARM_TOKEN)."""
        self.settings = settings
        self.sandbox = settings.sandbox_mode
        self._credential: Any
        if self.sandbox:
            url = sandbox_url or settings.sandbox_root
            self._url: str | None = url.rstrip("/")
            self._token = sandbox_token or settings.sandbox_arm_token.get_secret_value()
            if not self._token:
                raise ValueError("a sandbox needs its access secret (SANDBOX_ARM_TOKEN)")
            self._credential = SandboxCredential(self._token)
            ids = settings.sandbox_ids
            if ids is None:
                raise ValueError("a sandbox needs its ids in the settings (app.py hands them in)")
            account = settings.azure_openai_account or ids.account
            self.default = Resource(
                settings.azure_subscription_id or ids.subscription,
                settings.azure_resource_group or ids.resource_group,
                account,
                settings.azure_openai_endpoint or sandbox_endpoint(self._url, account),
            )
        else:
            from azure.identity.aio import DefaultAzureCredential

            self._url = None
            self._token = ""
            self._credential = DefaultAzureCredential()
            account = settings.azure_openai_account
            endpoint = settings.azure_openai_endpoint or (
                azure_endpoint(account) if account else ""
            )
            self.default = Resource(
                settings.azure_subscription_id,
                settings.azure_resource_group,
                account,
                endpoint,
            )
        self._keys: dict[str, str] = {}
        configured = settings.azure_openai_api_key.get_secret_value()
        if configured and self.default.endpoint:
            self._keys[self.default.endpoint] = configured
        self.rekey: Rekey | None = None
        """Set by the key rotation (skills/provisioning/access.py); called after a key's 401."""
        self._openai: dict[str, AsyncOpenAI] = {}
        self._cognitive: dict[str, CognitiveServicesManagementClient] = {}
        self._authorization: dict[str, AuthorizationManagementClient] = {}
        self._groups: dict[str, ResourceManagementClient] = {}
        self._costs: CostManagementClient | None = None

    def endpoint_of(self, subdomain: str) -> str:
        """The data-plane endpoint of an account with that custom subdomain, on this backend."""
        if self._url is not None:
            return sandbox_endpoint(self._url, subdomain)
        return azure_endpoint(subdomain)

    def key_auth(self, resource: Resource) -> bool:
        """True when the bot reaches this resource's data plane with a key (the settings ask for
        key auth on their own resource); False: with its own identity (Entra ID)."""
        return resource.endpoint in self._keys

    def use_key(self, resource: Resource, key: str) -> None:
        """Switch the key of a key-auth resource: every later call uses `key`."""
        if not self.key_auth(resource):
            raise ValueError("this resource is not reached with a key")
        self._keys[resource.endpoint] = key

    def key_in_use(self, resource: Resource) -> str | None:
        """The key the bot uses on a resource now, or None (Entra ID). Never log or show it."""
        return self._keys.get(resource.endpoint)

    def _arm_options(self) -> dict[str, Any]:
        if self._url is None:
            return {}
        return {
            "base_url": self._url,
            "authentication_policy": _SandboxBearerPolicy(self._credential, ARM_SCOPE),
        }

    def openai(self, resource: Resource) -> AsyncOpenAI:
        """The data-plane client of a resource: the plain `openai` client on Azure's v1 API
        (`{endpoint}openai/v1/`, no api-version), as Microsoft documents it. A key, the sandbox's
        token and an Entra ID token alike travel as `Authorization: Bearer`."""
        endpoint = resource.endpoint
        client = self._openai.get(endpoint)
        if client is None:
            if not endpoint:
                raise UserError(
                    "There is no Azure OpenAI resource here yet: an admin can create one with "
                    "`provision name=<account>`."
                )
            base_url = f"{endpoint.rstrip('/')}/openai/v1/"
            if endpoint in self._keys:

                async def key() -> str:
                    return self._keys[endpoint]

                async def rekey() -> None:
                    if self.rekey is not None:
                        await self.rekey(resource)

                transport = _Rekeying(lambda: self._keys[endpoint], rekey)
                client = AsyncOpenAI(
                    base_url=base_url,
                    api_key=key,
                    http_client=DefaultAsyncHttpxClient(transport=transport),
                )
            elif self.sandbox:
                client = AsyncOpenAI(
                    base_url=base_url,
                    api_key=self._token,
                    http_client=DefaultAsyncHttpxClient(verify=_tls()),
                )
            else:
                from azure.identity.aio import get_bearer_token_provider

                client = AsyncOpenAI(
                    base_url=base_url,
                    api_key=get_bearer_token_provider(self._credential, OPENAI_SCOPE),
                    http_client=DefaultAsyncHttpxClient(verify=_tls()),
                )
            self._openai[endpoint] = client
        return client

    async def delete_job(self, resource: Resource, job_id: str) -> None:
        """Delete a fine-tuning job and its model: the v1 API has no such operation, so this one
        call goes to the dated API (`FineTuning_Delete`), with the key as `api-key` when the
        resource is reached with a key and the bearer token otherwise."""
        client = self.openai(resource)
        headers: dict[str, Any] = {}
        key = self.key_in_use(resource)
        if key is not None:
            headers = {"api-key": key, "Authorization": Omit()}
        await client.delete(
            f"{resource.endpoint.rstrip('/')}/openai/fine_tuning/jobs/{job_id}",
            cast_to=type(None),
            options={"params": {"api-version": DATED_API_VERSION}, "headers": headers},
        )

    def cognitive(self, subscription_id: str) -> CognitiveServicesManagementClient:
        """The Cognitive Services Resource Manager client of a subscription."""
        client = self._cognitive.get(subscription_id)
        if client is None:
            client = CognitiveServicesManagementClient(
                self._credential, subscription_id, **self._arm_options()
            )
            self._cognitive[subscription_id] = client
        return client

    def authorization(self, subscription_id: str) -> AuthorizationManagementClient:
        """The role-assignment client of a subscription."""
        client = self._authorization.get(subscription_id)
        if client is None:
            client = AuthorizationManagementClient(
                self._credential, subscription_id, **self._arm_options()
            )
            self._authorization[subscription_id] = client
        return client

    def groups(self, subscription_id: str) -> ResourceManagementClient:
        """The resource-group client (Microsoft.Resources) of a subscription."""
        client = self._groups.get(subscription_id)
        if client is None:
            client = ResourceManagementClient(
                self._credential, subscription_id, **self._arm_options()
            )
            self._groups[subscription_id] = client
        return client

    def costs(self) -> CostManagementClient:
        """The Cost Management client (Query API, api-version 2022-10-01); it has no
        subscription of its own: each query names its scope. It retries once: Cost Management
        throttles by the minute, and a turn answers with the wait instead (skills/spend.py)."""
        if self._costs is None:
            self._costs = CostManagementClient(
                self._credential, retry_total=1, **self._arm_options()
            )
        return self._costs

    def clients(self, resource: Resource | None = None) -> AzureClients:
        """Every client of `resource` (the default resource when None)."""
        resource = resource or self.default
        return AzureClients(
            openai=self.openai(resource),
            cognitive=self.cognitive(resource.subscription_id),
            authorization=self.authorization(resource.subscription_id),
            groups=self.groups(resource.subscription_id),
            resource=resource,
        )

    async def close(self) -> None:
        """Close every client built, then the credential."""
        for client in self._openai.values():
            await client.close()
        for cognitive in self._cognitive.values():
            await cognitive.close()
        for authorization in self._authorization.values():
            await authorization.close()  # type: ignore[no-untyped-call]  # azure-mgmt-authorization
        for groups in self._groups.values():
            await groups.close()
        if self._costs is not None:
            await self._costs.close()
            self._costs = None
        await self._credential.close()
        self._openai.clear()
        self._cognitive.clear()
        self._authorization.clear()
        self._groups.clear()


@asynccontextmanager
async def azure_clients(
    settings: Settings, *, sandbox_url: str | None = None, sandbox_token: str = ""
) -> AsyncIterator[AzureClients]:
    """The default resource's clients for `settings`, closed after the block (tools and tests)."""
    azure = Azure(settings, sandbox_url=sandbox_url, sandbox_token=sandbox_token)
    try:
        yield azure.clients()
    finally:
        await azure.close()

"""The one place that builds the Azure clients the skills use, for real Azure or the sandbox.

`Resource` names an Azure OpenAI resource (subscription, group, account, data-plane endpoint);
every record of work on Azure carries the one it lives on. `Azure` hands out the clients of any
resource, built once and kept: the data plane (`openai`) per endpoint, Resource Manager per
subscription. Real Azure: the data plane with `AZURE_OPENAI_API_KEY`, else an Entra ID token from
DefaultAzureCredential; Resource Manager with DefaultAzureCredential. Sandbox: the same official
clients pointed at the sandbox's URL with a fixed bearer token; the sandbox is plain http on
loopback, so bearer auth is allowed over http here (`_SandboxBearerPolicy`) and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import AsyncBearerTokenCredentialPolicy
from azure.mgmt.authorization.aio import AuthorizationManagementClient
from azure.mgmt.cognitiveservices.aio import CognitiveServicesManagementClient
from openai import AsyncAzureOpenAI

from infra.settings import (
    SANDBOX_ACCOUNT,
    SANDBOX_RESOURCE_GROUP,
    SANDBOX_SUBSCRIPTION,
    Settings,
)

ARM_SCOPE = "https://management.azure.com/.default"
OPENAI_SCOPE = "https://cognitiveservices.azure.com/.default"
SANDBOX_TOKEN = "sandbox"
"""The bearer token sent to a sandbox that has no SANDBOX_ARM_TOKEN (it accepts any)."""


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


def sandbox_endpoint(sandbox_url: str, account: str = SANDBOX_ACCOUNT) -> str:
    """The data-plane endpoint of a sandbox account, e.g. `http://h/sandbox/openai-accounts/x/`."""
    return f"{sandbox_url.rstrip('/')}/openai-accounts/{account}/"


@dataclass(frozen=True)
class AzureClients:
    """The clients of one resource: its data plane, and Resource Manager for its subscription."""

    openai: AsyncAzureOpenAI
    cognitive: CognitiveServicesManagementClient
    authorization: AuthorizationManagementClient
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

    def __init__(self, settings: Settings, *, sandbox_url: str | None = None) -> None:
        """`sandbox_url` is where a sandbox answers; by default FTBOT_SANDBOX_URL, else the bot's
        own `/sandbox` mount."""
        self.settings = settings
        self.sandbox = settings.sandbox_mode
        self._credential: Any
        if self.sandbox:
            url = sandbox_url or settings.sandbox_url or settings.base_url + "/sandbox"
            self._url: str | None = url.rstrip("/")
            self._token = settings.sandbox_arm_token.get_secret_value() or SANDBOX_TOKEN
            self._credential = SandboxCredential(self._token)
            account = settings.azure_openai_account or SANDBOX_ACCOUNT
            self.default = Resource(
                settings.azure_subscription_id or SANDBOX_SUBSCRIPTION,
                settings.azure_resource_group or SANDBOX_RESOURCE_GROUP,
                account,
                sandbox_endpoint(self._url, account),
            )
        else:
            from azure.identity.aio import DefaultAzureCredential

            self._url = None
            self._credential = DefaultAzureCredential()
            self.default = Resource(
                settings.azure_subscription_id,
                settings.azure_resource_group,
                settings.azure_openai_account,
                settings.azure_openai_endpoint,
            )
        self._openai: dict[str, AsyncAzureOpenAI] = {}
        self._cognitive: dict[str, CognitiveServicesManagementClient] = {}
        self._authorization: dict[str, AuthorizationManagementClient] = {}

    def _arm_options(self) -> dict[str, Any]:
        if self._url is None:
            return {}
        return {
            "base_url": self._url,
            "authentication_policy": _SandboxBearerPolicy(self._credential, ARM_SCOPE),
        }

    def openai(self, resource: Resource) -> AsyncAzureOpenAI:
        """The data-plane client of a resource."""
        client = self._openai.get(resource.endpoint)
        if client is None:
            version = self.settings.azure_openai_api_version
            key = self.settings.azure_openai_api_key.get_secret_value()
            if self.sandbox:
                client = AsyncAzureOpenAI(
                    azure_endpoint=resource.endpoint,
                    azure_ad_token=self._token,
                    api_version=version,
                )
            elif key:
                client = AsyncAzureOpenAI(
                    azure_endpoint=resource.endpoint, api_key=key, api_version=version
                )
            else:
                from azure.identity.aio import get_bearer_token_provider

                client = AsyncAzureOpenAI(
                    azure_endpoint=resource.endpoint,
                    azure_ad_token_provider=get_bearer_token_provider(
                        self._credential, OPENAI_SCOPE
                    ),
                    api_version=version,
                )
            self._openai[resource.endpoint] = client
        return client

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

    def clients(self, resource: Resource | None = None) -> AzureClients:
        """Every client of `resource` (the default resource when None)."""
        resource = resource or self.default
        return AzureClients(
            openai=self.openai(resource),
            cognitive=self.cognitive(resource.subscription_id),
            authorization=self.authorization(resource.subscription_id),
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
        await self._credential.close()
        self._openai.clear()
        self._cognitive.clear()
        self._authorization.clear()


@asynccontextmanager
async def azure_clients(
    settings: Settings, *, sandbox_url: str | None = None
) -> AsyncIterator[AzureClients]:
    """The default resource's clients for `settings`, closed after the block (tools and tests)."""
    azure = Azure(settings, sandbox_url=sandbox_url)
    try:
        yield azure.clients()
    finally:
        await azure.close()

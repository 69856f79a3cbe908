"""The one place that builds the Azure clients the skills use, for real Azure or the sandbox.

Real Azure: the data plane with `AZURE_OPENAI_API_KEY`, else an Entra ID token from
DefaultAzureCredential; Resource Manager with DefaultAzureCredential. Sandbox: the same official
clients pointed at the sandbox's URL with a fixed bearer token; the sandbox is plain http on
loopback, so bearer auth is allowed over http here (`_SandboxBearerPolicy`) and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
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


@dataclass
class AzureClients:
    """The Azure clients of one backend, and the names of the resource they act on."""

    openai: AsyncAzureOpenAI
    cognitive: CognitiveServicesManagementClient
    authorization: AuthorizationManagementClient
    subscription_id: str
    resource_group: str
    account: str
    sandbox: bool


@asynccontextmanager
async def azure_clients(
    settings: Settings, *, sandbox_url: str | None = None
) -> AsyncIterator[AzureClients]:
    """Build the clients for `settings` (the sandbox when no endpoint is set) and close them after.

    `sandbox_url` is where the sandbox answers; by default the bot's own `/sandbox` mount.
    """
    async with AsyncExitStack() as stack:
        if settings.sandbox_mode:
            url = (sandbox_url or settings.base_url + "/sandbox").rstrip("/")
            token = settings.sandbox_arm_token.get_secret_value() or SANDBOX_TOKEN
            credential: Any = SandboxCredential(token)
            extra: dict[str, Any] = {
                "base_url": url,
                "authentication_policy": _SandboxBearerPolicy(credential, ARM_SCOPE),
            }
            subscription = settings.azure_subscription_id or SANDBOX_SUBSCRIPTION
            group = settings.azure_resource_group or SANDBOX_RESOURCE_GROUP
            account = settings.azure_openai_account or SANDBOX_ACCOUNT
            openai = AsyncAzureOpenAI(
                azure_endpoint=sandbox_endpoint(url, account),
                azure_ad_token=token,
                api_version=settings.azure_openai_api_version,
            )
        else:
            from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

            credential = await stack.enter_async_context(DefaultAzureCredential())
            extra = {}
            subscription = settings.azure_subscription_id
            group = settings.azure_resource_group
            account = settings.azure_openai_account
            key = settings.azure_openai_api_key.get_secret_value()
            if key:
                openai = AsyncAzureOpenAI(
                    azure_endpoint=settings.azure_openai_endpoint,
                    api_key=key,
                    api_version=settings.azure_openai_api_version,
                )
            else:
                openai = AsyncAzureOpenAI(
                    azure_endpoint=settings.azure_openai_endpoint,
                    azure_ad_token_provider=get_bearer_token_provider(credential, OPENAI_SCOPE),
                    api_version=settings.azure_openai_api_version,
                )
        stack.push_async_callback(openai.close)
        cognitive = CognitiveServicesManagementClient(credential, subscription, **extra)
        stack.push_async_callback(cognitive.close)
        authorization = AuthorizationManagementClient(credential, subscription, **extra)
        stack.push_async_callback(authorization.close)
        yield AzureClients(
            openai=openai,
            cognitive=cognitive,
            authorization=authorization,
            subscription_id=subscription,
            resource_group=group,
            account=account,
            sandbox=settings.sandbox_mode,
        )

"""The bot's app registration without a secret: a federated identity credential on its managed
identity (deploy/app-registration.bicep).

Entra ID accepts, instead of the app's client secret, a client assertion that is a token the
managed identity got for `api://AzureADTokenExchange`, when the app registration trusts that
identity ("Provision agent resources in Azure Bot Service using federated credentials", Microsoft
365 Agents SDK docs; botframework-connector for JavaScript 4.23 does the same in
FederatedAppCredentials). The bot hands this assertion to MSAL for its Bot Framework token
(bot/connector.py) and to azure-identity for its Graph token (infra/graph.py).
"""

from __future__ import annotations

from azure.core.credentials import TokenCredential
from azure.identity import ManagedIdentityCredential

from infra.settings import Settings

EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default"
"""The audience a federated identity credential trusts in the public cloud."""


class FederatedAssertion:
    """A callable that returns the managed identity's token for the token exchange: the client
    assertion of the app registration (azure-identity caches and refreshes the token)."""

    def __init__(self, credential: TokenCredential) -> None:
        self._credential = credential

    def __call__(self) -> str:
        return self._credential.get_token(EXCHANGE_SCOPE).token

    def close(self) -> None:
        """Close the managed identity credential."""
        close = getattr(self._credential, "close", None)
        if close is not None:
            close()


def federated_assertion(settings: Settings) -> FederatedAssertion | None:
    """The app registration's assertion when FTBOT_FEDERATED_CLIENT_ID names the managed identity
    it trusts; None when the app signs in with MicrosoftAppPassword (or there is no app)."""
    if not settings.federated_client_id:
        return None
    return FederatedAssertion(ManagedIdentityCredential(client_id=settings.federated_client_id))

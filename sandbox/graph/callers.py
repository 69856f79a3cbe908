"""Who calls the Graph stand-in: the bot's app (app-only) or a person (delegated).

The sandbox's one token format (sandbox/contract.py) plays both of Graph's token kinds: the bare
access secret is the bot's app-only token, `<secret>:<object id>` a delegated token of the person
with that object id. What each kind may do is Graph's: a person reads and writes what the teams,
chats and drives they belong to hold, and posts messages (Graph takes posts only with a
delegated token); the app reads a team's or chat's messages only where it was granted
resource-specific consent (`ChannelMessage.Read.Group`, `ChatMessage.Read.Chat`, a sandbox
setting per team and chat: sandbox/graph/tenant.py), and reads files with the application
permission `Files.Read.All` the sandbox's tenant grants it (docs/security.md says why the bot
needs it for group chats); it never writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from sandbox.auth import bearer, principal_of
from sandbox.contract import BOT_PRINCIPAL
from sandbox.graph.errors import GraphError, forbidden, unauthenticated
from sandbox.service import SANDBOX, Sandbox


@dataclass(frozen=True)
class Caller:
    """The bot's app (`user` empty) or a signed-in person (their object id)."""

    user: str = ""

    @property
    def app(self) -> bool:
        """An app-only token: the bot's own."""
        return not self.user


def caller(request: web.Request) -> tuple[Sandbox, Caller]:
    """The sandbox and who calls it; 401 in Graph's words without a token or with a bad one."""
    sandbox: Sandbox = request.config_dict[SANDBOX]
    token = bearer(request)
    principal = principal_of(token, sandbox.secret)
    if principal is None:
        raise unauthenticated(token)
    if principal == BOT_PRINCIPAL and ":" not in token:
        return sandbox, Caller()
    return sandbox, Caller(principal)


def person(caller_: Caller, required: str) -> str:
    """The person calling: an operation Graph allows only with a delegated token is 403 for the
    app (posting a message: "API requires one of 'Teamwork.Migrate.All'", the migration-only
    application permission)."""
    if caller_.app:
        raise forbidden(required)
    return caller_.user


def me(caller_: Caller) -> str:
    """The person `/me` names; the app has none (Graph's 400, quoted in
    microsoftgraph/msgraph-sdk-php#1163)."""
    if caller_.app:
        raise GraphError(
            400, "BadRequest", "/me request is only valid with delegated authentication flow."
        )
    return caller_.user

"""What a client of the sandbox must agree on with it: the account it serves from its first start,
the principal its access secret acts as, and the token format.

Every sandbox starts with one resource group and one ready account in a well-known subscription
(`SUBSCRIPTION`, `RESOURCE_GROUP`, `ACCOUNT`), on which `BOT_PRINCIPAL` holds Cognitive Services
OpenAI Contributor (and Cost Management Reader on the group). A request authenticates with
`Authorization: Bearer <token>`: the bare access secret acts as `BOT_PRINCIPAL`,
`<secret>:<object id>` as the principal with that object id (`token`); the same tokens reach the
Microsoft Graph stand-in (`GRAPH`). The bot's wiring (app.py) hands these ids to the bot's
settings; nothing else of the bot knows them.
"""

from __future__ import annotations

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "sandbox"
ACCOUNT = "aoai-sandbox"
BOT_PRINCIPAL = "00000000-0000-0000-0000-00000000b075"
"""The object id the sandbox gives the bot's own identity (its bare access secret acts as it)."""


GRAPH = "/graph/v1.0"
"""Where the Microsoft Graph stand-in answers under a sandbox's URL (`{sandbox}/graph/v1.0`). The
bare access secret is the bot's app-only token there, `<secret>:<object id>` that person's
delegated token; its teams and chats are declared under `{sandbox}/graph/tenant`
(docs/sandbox.md, "Microsoft Graph")."""


def token(secret: str, principal: str = "") -> str:
    """The bearer token that acts as `principal` (an object id), or as `BOT_PRINCIPAL` without."""
    return f"{secret}:{principal}" if principal else secret

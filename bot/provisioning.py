"""Resource commands: `provision` (and its confirmation), `resource`, `teardown`, `purge`.

Parsers for the command table, and handlers over skills/provisioning/ that answer with cards from
adaptive_cards/provisioning.py. Each long workflow is confirmed on a card, then followed by one
card, updated in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adaptive_cards import provisioning as cards
from bot.arguments import key_values
from bot.turn import Turn
from infra.errors import UserError
from infra.i18n import _
from infra.text import echo
from skills.provisioning.records import ProvisionRequest, PurgeRequest, TeardownRequest
from skills.provisioning.regions import DEFAULT_REGION


@dataclass(frozen=True)
class ProvisionArgs:
    """`provision name=<account> [region=<region>] [group=<resource group>]`."""

    name: str
    region: str
    group: str


def parse_provision(text: str, data: Mapping[str, Any]) -> ProvisionArgs:
    """`provision name=.. [region=..] [group=..]` (a bare first word is the name)."""
    words, options = key_values(text, {"name", "region", "group"})
    if len(words) > 1:
        raise UserError(
            "`provision` takes `name=`, `region=` and `group=`, not {words}.",
            words=echo(" ".join(words)),
        )
    name = options.get("name") or (words[0] if words else "")
    if not name:
        raise UserError(
            "Name the account: `provision name=<account> [region=northcentralus] "
            "[group=<resource group>]` (the name becomes its endpoint, as in the lab's "
            "AzureOpenAI-FinetuneXX)."
        )
    return ProvisionArgs(name, options.get("region") or DEFAULT_REGION, options.get("group", ""))


def parse_account(text: str, data: Mapping[str, Any]) -> str:
    """One account name (text, or a card's `account`)."""
    value = text.strip() or str(data.get("account") or "")
    if not value or len(value.split()) > 1:
        raise UserError("Say `purge <account>`: the name of one deleted account.")
    return value


# -- provision ---------------------------------------------------------------------------------


async def provision(turn: Turn, args: ProvisionArgs) -> None:
    """Check and ask: a card says what will be created."""
    provisioning = turn.services.provisioning
    plan = await provisioning.ask(
        turn.scope, turn.conversation_id, turn.actor, args.name, args.region, args.group
    )
    card = await turn.show(
        cards.provision_confirm_card(plan), _("Create {account}?", account=plan.account)
    )
    await turn.services.confirmations.shown(ProvisionRequest.at(plan.token), card)


async def provision_confirm(turn: Turn, token: str) -> None:
    """Start the confirmed provisioning, followed on the card that asked."""
    card = await turn.question_card(ProvisionRequest.at(token))
    await turn.services.provisioning.start(token, turn.conversation_id, turn.actor, card)


async def provision_cancel(turn: Turn, token: str) -> None:
    """Drop a provisioning that was not confirmed."""
    provisioning = turn.services.provisioning
    request = await provisioning.cancel(token, turn.conversation_id, turn.user_id)
    plan = provisioning.plan(request, group_exists=True, exists=False)
    card = await turn.question_card(request.key())
    await turn.show(cards.provision_cancelled_card(plan), card_id=card)


async def resource(turn: Turn, __: None) -> None:
    """The current resource."""
    view = await turn.services.provisioning.describe(turn.scope)
    await turn.show(cards.resource_card(view), _("Resource {account}", account=view.account))


# -- purge -------------------------------------------------------------------------------------


async def purge(turn: Turn, account: str) -> None:
    """Ask before purging a soft-deleted account."""
    plan = await turn.services.provisioning.ask_purge(turn.conversation_id, turn.actor, account)
    card = await turn.show(
        cards.purge_confirm_card(plan), _("Purge {account}?", account=plan.account)
    )
    await turn.services.confirmations.shown(PurgeRequest.at(plan.token), card)


async def purge_confirm(turn: Turn, token: str) -> None:
    """Purge it for good."""
    request = await turn.services.provisioning.purge(token, turn.conversation_id, turn.actor)
    account = request.resource.account
    await turn.show(
        cards.purged_card(account, True),
        _("{account} is purged", account=account),
        card_id=await turn.question_card(request.key()),
    )


async def purge_keep(turn: Turn, token: str) -> None:
    """Do not purge."""
    provisioning = turn.services.provisioning
    request = await provisioning.keep_deleted(token, turn.conversation_id, turn.user_id)
    card = await turn.question_card(request.key())
    await turn.show(cards.purged_card(request.resource.account, False), card_id=card)


# -- teardown ----------------------------------------------------------------------------------


async def teardown(turn: Turn, __: None) -> None:
    """List what the bot created here, behind a destructive button."""
    teardown = turn.services.teardown
    plan = await teardown.ask(await turn.resource(), turn.conversation_id, turn.actor)
    card = await turn.show(
        cards.teardown_confirm_card(plan),
        _("Delete everything on {account}?", account=plan.account),
    )
    await turn.services.confirmations.shown(TeardownRequest.at(plan.token), card)


async def teardown_confirm(turn: Turn, token: str) -> None:
    """Start the confirmed teardown, followed on the card that asked."""
    card = await turn.question_card(TeardownRequest.at(token))
    await turn.services.teardown.start(token, turn.conversation_id, turn.actor, card)


async def teardown_keep(turn: Turn, token: str) -> None:
    """Delete nothing."""
    request = await turn.services.teardown.keep(token, turn.conversation_id, turn.user_id)
    card = await turn.question_card(request.key())
    await turn.show(cards.teardown_kept_card(request.resource.account), card_id=card)

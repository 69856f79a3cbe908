"""`spend [month | last 30 days]` and `budget [<amount>/month]`: parsers and handlers over
skills/spend.py."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adaptive_cards.spend import approval_card, budget_card, spend_card
from bot.turn import Role, Turn
from infra.errors import UserError
from infra.i18n import _, number
from infra.text import echo
from skills.audit import Actor
from skills.spend import Period

_AMOUNT = re.compile(r"^\s*(\d{1,9}(?:[.,]\d{1,2})?)\s*(?:/\s*(?:month|mo|월))?\s*$", re.IGNORECASE)


def parse_period(text: str, data: Mapping[str, Any]) -> Period:
    """`spend`, `spend month`, `spend last 30 days` (or `spend 30`)."""
    words = " ".join(text.lower().split())
    if words in ("", "month", "this month", "이번 달"):
        return "month"
    if words in ("last 30 days", "30 days", "30", "30days", "최근 30일"):
        return "30days"
    raise UserError("Say `spend` (this month) or `spend last 30 days`.")


def parse_budget(text: str, data: Mapping[str, Any]) -> float | None:
    """`budget` (show it) or `budget <amount>/month` (set it): a positive amount."""
    if not text.strip():
        return None
    found = _AMOUNT.match(text)
    amount = float(found.group(1).replace(",", ".")) if found else 0.0
    if amount <= 0:
        raise UserError(
            "A budget is a positive amount a month, as in `budget 500/month`; {text} is not.",
            text=echo(text.strip()),
        )
    return amount


async def spend(turn: Turn, period: Period) -> None:
    """The actual cost of the current resource."""
    resource = await turn.resource()
    view = await turn.services.spend.report(resource, period, turn.scope)
    await turn.show(spend_card(view), _("Spend on {account}", account=resource.account))


async def budget(turn: Turn, amount: float | None) -> None:
    """Show the budget; an admin sets it."""
    costs = turn.services.spend
    if amount is None:
        await turn.show(budget_card(await costs.budget(turn.scope)), _("Budget"))
        return
    if turn.role < Role.ADMIN:
        raise UserError("Only an admin can set the budget; `budget` shows it.")
    record = await costs.set_budget(turn.scope, amount, turn.actor, turn.conversation_id)
    await turn.show(budget_card(record), _("Budget set to {amount}", amount=number(amount, 2)))


async def approve(turn: Turn, token: str) -> None:
    """An admin approves a training or deployment over the budget: it starts as its asker asked
    it (a deployment's progress then takes over this card)."""
    approval = await turn.services.spend.decide(token, True, turn.actor)
    asker = Actor(approval.asker, approval.asker_name)
    if approval.kind == "deploy":
        await turn.show(approval_card(approval), _("Approved"), card_id=turn.pressed_card)
        card = turn.pressed_card
        await turn.services.hosting.deploy(token, approval.conversation, asker, card)
    else:
        await turn.services.training.launch(token, approval.conversation, asker)
        await turn.show(approval_card(approval), _("Approved"), card_id=turn.pressed_card)


async def refuse(turn: Turn, token: str) -> None:
    """An admin refuses a training or deployment over the budget: it is dropped."""
    approval = await turn.services.spend.decide(token, False, turn.actor)
    if approval.kind == "deploy":
        await turn.services.hosting.cancel_deploy(token, approval.conversation, approval.asker)
    else:
        await turn.services.training.abort(token, approval.conversation, approval.asker)
    await turn.show(approval_card(approval), _("Refused"), card_id=turn.pressed_card)

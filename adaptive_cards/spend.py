"""The `spend` and `budget` cards: actual cost by part, the estimate of what Azure has not
reported yet (labelled), the budget, and the last days as a list of small bars (Teams draws no
chart in card text)."""

from __future__ import annotations

from adaptive_cards.common import Card, Element, card, facts, heading, text
from infra.i18n import _, moment, number, percent, price
from skills.spend import Budget, SpendView

DAYS_SHOWN = 7
"""How many of the latest days the card lists."""


def _bar(share: float) -> str:
    """A day's cost as a bar of up to ten blocks, relative to the costliest day."""
    return "▇" * max(1, round(share * 10)) if share > 0 else ""


def spend_card(view: SpendView) -> Card:
    """`spend`: what the current resource cost, reported and estimated."""
    costs, money = view.costs, view.costs.currency
    if view.period == "month":
        title = _("Spend on {account} this month", account=view.account)
    else:
        title = _("Spend on {account} in the last 30 days", account=view.account)
    body: list[Element] = [heading(title)]
    pairs = [
        (_("Training jobs"), price(costs.total("training"), money)),
        (_("Hosting"), price(costs.total("hosting"), money)),
        (_("Inference"), price(costs.total("inference"), money)),
    ]
    if view.estimated:
        pairs.append(
            (_("Not reported by Azure yet (estimate)"), price(view.estimate, money)),
        )
    pairs.append((_("Total"), price(view.total, money)))
    if view.budget is not None:
        pairs.append(
            (
                _("Budget this month"),
                _(
                    "{spent} of {budget} ({share})",
                    spent=price(view.total, money),
                    budget=price(view.budget, money),
                    share=percent(view.total / view.budget if view.budget else 0.0),
                ),
            )
        )
    body.append(facts(pairs))
    latest = costs.latest
    if latest is None:
        body.append(text(_("Azure Cost Management has reported no cost yet."), isSubtle=True))
    else:
        body.append(
            text(
                _("Azure's latest data is for {day} (UTC).", day=latest.isoformat()),
                isSubtle=True,
            )
        )
    if view.estimated:
        body.append(
            text(
                _(
                    "Azure reports costs hours late: the estimate counts training and hosting "
                    "since {since} at list prices.",
                    since=moment(view.since),
                ),
                isSubtle=True,
            )
        )
    else:
        body.append(
            text(
                _(
                    "Azure bills this subscription in {currency}, so I show no estimate of "
                    "what it has not reported yet.",
                    currency=money,
                ),
                isSubtle=True,
            )
        )
    days = [d for d in costs.days if d.total > 0][-DAYS_SHOWN:]
    if days:
        top = max(d.total for d in days)
        lines = [
            f"- {d.day.isoformat()} {_bar(d.total / top)} {price(d.total, money)}" for d in days
        ]
        body.append(text(_("By day:")))
        body.append(text("\n".join(lines)))
    return card(body)


def budget_card(budget: Budget | None) -> Card:
    """`budget`: the team's monthly budget, or how to set one."""
    if budget is None:
        return card(
            [
                heading(_("Budget")),
                text(_("No budget is set here. An admin can set one: **budget 500/month**.")),
            ]
        )
    return card(
        [
            heading(_("Budget")),
            text(
                _(
                    "{amount} a month, in the currency Azure bills this subscription in.",
                    amount=number(budget.amount, 2),
                )
            ),
        ]
    )

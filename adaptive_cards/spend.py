"""The `spend` and `budget` cards: actual cost by part, the estimate of what Azure has not
reported yet (labelled), the budget, and the last days as a list of small bars (Teams draws no
chart in card text)."""

from __future__ import annotations

import datetime as dt

from adaptive_cards import verbs
from adaptive_cards.common import (
    Card,
    Element,
    card,
    facts,
    heading,
    quoted,
    sentence,
    submit,
    text,
    titled,
    when,
)
from infra.i18n import N_, _, day, number, percent, price
from skills.spend import Approval, Budget, BudgetCheck, BudgetNotice, SpendView

DAYS_SHOWN = 7
"""How many of the latest days the card lists."""


def _bar(share: float) -> str:
    """A day's cost as a bar of up to ten blocks, relative to the costliest day."""
    return "▇" * max(1, round(share * 10)) if share > 0 else ""


def spend_card(view: SpendView) -> Card:
    """`spend`: what the current resource cost, reported and estimated."""
    costs, money = view.costs, view.costs.currency
    if view.period == "month":
        title = N_("Spend on {account} this month")
    else:
        title = N_("Spend on {account} in the last 30 days")
    body: list[Element] = [titled(title, {"account": view.account})]
    pairs: list[tuple[str, str | Element]] = [
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
                _("Azure's latest data is for {day} (UTC).", day=day(latest)),
                isSubtle=True,
            )
        )
    if view.estimated:
        body.append(
            text(
                _(
                    "Azure reports costs hours late: the estimate counts training and hosting "
                    "since {since} at list prices.",
                    since=when(dt.datetime.fromtimestamp(view.since, dt.UTC)),
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
            f"- {day(d.day, year=False)} {_bar(d.total / top)} {price(d.total, money)}"
            for d in days
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


def budget_line(check: BudgetCheck) -> Element:
    """A confirmation card's line: spent so far plus this action's estimate, against the
    budget; passing it waits for an admin."""
    money = check.currency
    if check.spent is None:
        return text(
            _(
                "Budget: {budget} a month; I could not read this month's costs, so an admin "
                "approves this.",
                budget=price(check.budget, money),
            ),
            weight="Bolder",
        )
    line = _(
        "Budget: {spent} spent this month + about {estimate} for this = {total} of {budget}.",
        spent=price(check.spent, money),
        estimate=price(check.estimate or 0.0, money),
        total=price(check.spent + (check.estimate or 0.0), money),
        budget=price(check.budget, money),
    )
    if check.over:
        line += " " + _("That is over the budget: an admin must approve it.")
    return text(line, weight="Bolder" if check.over else "Default")


def approval_card(approval: Approval) -> Card:
    """A training or deployment over the budget: who asked, what, how much; an admin approves
    or refuses."""
    check = approval.check
    money = check.currency
    spent = _("unknown") if check.spent is None else price(check.spent, money)
    if approval.kind == "deploy":
        title, subject = _("Approve a deployment over the budget?"), _("Deployment")
        started = N_("Approved by {name}; the deployment starts.")
    else:
        title, subject = _("Approve a training over the budget?"), _("Training plan")
        started = N_("Approved by {name}; the training starts.")
    estimate = _("unknown") if check.estimate is None else price(check.estimate, money)
    body = [
        heading(title),
        facts(
            [
                (_("Asked by"), quoted(approval.asker_name or approval.asker)),
                (subject, quoted(approval.what)),
                (_("Estimate"), estimate),
                (_("Spent this month"), spent),
                (_("Budget this month"), price(check.budget, money)),
            ]
        ),
    ]
    if approval.state != "waiting":
        said = (
            started
            if approval.state == "approved"
            else N_("Refused by {name}; nothing was started.")
        )
        return card([*body, sentence(said, {"name": approval.by}, {"weight": "Bolder"})])
    data = {"token": approval.token}
    return card(
        [*body, text(_("An admin approves or refuses it."), isSubtle=True)],
        [
            submit(_("Approve"), verbs.SPEND_APPROVE, data, "positive"),
            submit(_("Refuse"), verbs.SPEND_REFUSE, data),
        ],
    )


def budget_notice_card(view: BudgetNotice) -> Card:
    """The month's spend reached 80% or 100% of the budget."""
    words = {"account": view.account}
    if view.share >= 1:
        title = titled(N_("{account} has used its whole budget this month"), words, "attention")
    else:
        title = titled(
            N_("{account} has used {share} of its budget this month"),
            words,
            "warning",
            share=percent(view.share, 0),
        )
    return card(
        [
            title,
            facts(
                [
                    (_("Spent this month"), price(view.spent, view.currency)),
                    (_("Budget this month"), price(view.budget, view.currency)),
                ]
            ),
            text(
                _(
                    "Say **spend** for the details and **deployments** for what is billed by the "
                    "hour."
                ),
                isSubtle=True,
            ),
        ]
    )

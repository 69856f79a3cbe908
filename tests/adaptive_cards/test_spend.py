"""The budget line of a confirmation card: spent plus the action's estimate against the budget,
and that passing it waits for an admin."""

from __future__ import annotations

import datetime as dt

from adaptive_cards.spend import approval_card, budget_line, spend_card
from infra import i18n
from skills.spend import Approval, BudgetCheck, Costs, DayCost, SpendView


def test_the_budget_line_adds_the_estimate_to_what_is_spent() -> None:
    within = budget_line(BudgetCheck(100.0, 40.0, 10.0))
    assert (
        within["text"]
        == "Budget: $40.00 spent this month + about $10.00 for this = $50.00 of $100.00."
    )
    over = budget_line(BudgetCheck(100.0, 95.0, 10.0))["text"]
    assert over.endswith("That is over the budget: an admin must approve it.")
    unknown = budget_line(BudgetCheck(100.0, None, 10.0))["text"]
    assert "could not read this month's costs" in unknown


def test_the_spend_card_says_days_in_words_and_approval_is_the_positive_button() -> None:
    costs = Costs("USD", (DayCost(dt.date(2026, 12, 4), hosting=13.6),))
    view = SpendView("aoai-lab2", "month", costs, 0.5, 1.7, since=1_796_000_000.0)
    shown = [b.get("text", "") for b in spend_card(view)["body"]]
    assert "Azure's latest data is for Dec 4, 2026 (UTC)." in shown
    assert "- Dec 4 ▇▇▇▇▇▇▇▇▇▇ $13.60" in shown  # a list meant as one: every line an item
    with i18n.use("ko"):
        korean = [b.get("text", "") for b in spend_card(view)["body"]]
    assert "- 12월 4일 ▇▇▇▇▇▇▇▇▇▇ US$13.60" in korean  # never "2026. 12. 4.", a numbered list
    since = "{{DATE(2026-11-30T00:53:20Z,SHORT)}} {{TIME(2026-11-30T00:53:20Z)}}"
    assert any(since in line for line in shown)  # each reader's own zone
    approval = Approval(
        token="t",
        conversation="c",
        asker="u",
        asker_name="Tom",
        what="a.jsonl",
        check=BudgetCheck(50.0, 48.0, 3.3),
    )
    buttons = [(a["title"], a.get("style")) for a in approval_card(approval)["actions"]]
    assert buttons == [("Approve", "positive"), ("Refuse", None)]

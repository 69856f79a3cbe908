"""The budget line of a confirmation card: spent plus the action's estimate against the budget,
and that passing it waits for an admin."""

from __future__ import annotations

from adaptive_cards.spend import budget_line
from skills.spend import BudgetCheck


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
